// A minimal ADS client (gRPC over node:http2, protobuf written by hand) that connects to real istiod as a gateway
// Pod's proxy would, so that istiod's /debug/config_dump?proxyID=<pod>.<ns> returns the Envoy configuration it
// generates for that gateway: its RBAC filters (AuthorizationPolicies) and its clusters' TLS settings. istiod answers
// config_dump only for a connected proxy (istiod-lane.md section 5). Nothing is decoded from the stream: the dump is
// JSON. The node id and metadata are what pilot-agent sends (pkg/bootstrap/config.go GetNodeMetaData; envoy-lane.md).

import { connect, type ClientHttp2Session, type ClientHttp2Stream } from 'node:http2';

// ---- protobuf, the few wire types needed ----
function varint(n: number): Buffer {
  const out: number[] = [];
  let v = n >>> 0;
  while (v > 0x7f) {
    out.push((v & 0x7f) | 0x80);
    v >>>= 7;
  }
  out.push(v);
  return Buffer.from(out);
}
const bytesField = (field: number, b: Buffer) => Buffer.concat([varint((field << 3) | 2), varint(b.length), b]);
const strField = (field: number, s: string) => bytesField(field, Buffer.from(s, 'utf8'));

type Json = string | { [k: string]: Json };
/** google.protobuf.Value: string_value = 3, struct_value = 5. */
const value = (v: Json): Buffer => (typeof v === 'string' ? strField(3, v) : bytesField(5, struct(v)));
/** google.protobuf.Struct: map<string, Value> fields = 1. */
function struct(o: { [k: string]: Json }): Buffer {
  return Buffer.concat(
    Object.entries(o).map(([k, v]) => bytesField(1, Buffer.concat([strField(1, k), bytesField(2, value(v))]))),
  );
}

/** envoy.service.discovery.v3.DiscoveryRequest {node = 2 {id = 1, cluster = 2, metadata = 3}, type_url = 4}. */
function discoveryRequest(
  node: { id: string; cluster: string; metadata: { [k: string]: Json } },
  typeUrl: string,
  withNode: boolean,
): Buffer {
  const n = Buffer.concat([strField(1, node.id), strField(2, node.cluster), bytesField(3, struct(node.metadata))]);
  return Buffer.concat([...(withNode ? [bytesField(2, n)] : []), strField(4, typeUrl)]);
}
/** A gRPC message: uncompressed flag, 4-byte big-endian length, the message. */
function grpcFrame(msg: Buffer): Buffer {
  const head = Buffer.alloc(5);
  head.writeUInt32BE(msg.length, 1);
  return Buffer.concat([head, msg]);
}

export interface GatewayPod {
  name: string;
  namespace: string;
  ip: string;
  serviceAccount: string;
  labels: Record<string, string>;
}

export interface XdsConnection {
  /** The proxyID istiod's debug endpoints take: <pod>.<namespace>. */
  proxyId: string;
  close(): void;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Connect as the gateway Pod's proxy and wait (within `timeoutMs`) until istiod has pushed a first response. */
export async function connectGatewayProxy(
  grpcAddr: string,
  pod: GatewayPod,
  timeoutMs = 30_000,
  token?: string,
): Promise<XdsConnection> {
  return connectProxy(grpcAddr, pod, { type: 'router', timeoutMs, ...(token ? { token } : {}) });
}

/**
 * Connect as any proxy istiod serves: `router` (a gateway), `waypoint` (a waypoint's Envoy: istiod gives it the policies
 * attached to the waypoint), `sidecar`, or `ztunnel` (subscribes to the WDS authorization resources,
 * type.googleapis.com/istio.security.Authorization). The node type is the first field of the node id
 * (pkg/model/proxy.go NodeType).
 */
export async function connectProxy(
  grpcAddr: string,
  pod: GatewayPod,
  o: { type: 'router' | 'waypoint' | 'sidecar' | 'ztunnel'; timeoutMs?: number; token?: string },
): Promise<XdsConnection> {
  const timeoutMs = o.timeoutMs ?? 30_000;
  const token = o.token;
  const session: ClientHttp2Session = connect(`http://${grpcAddr}`);
  session.on('error', () => undefined);
  const stream: ClientHttp2Stream = session.request({
    ':method': 'POST',
    ':path': '/envoy.service.discovery.v3.AggregatedDiscoveryService/StreamAggregatedResources',
    'content-type': 'application/grpc',
    te: 'trailers',
    // istiod with XDS_AUTH_PLAINTEXT (the Envoy lane) serves only an authenticated proxy: a token for its ServiceAccount.
    ...(token ? { authorization: `Bearer ${token}` } : {}),
  });
  stream.on('error', () => undefined);
  let received = 0;
  stream.on('data', (d: Buffer) => {
    received += d.length;
  });
  const labels = Object.fromEntries(Object.entries(pod.labels).filter(([k]) => k !== 'pod-template-hash'));
  const canonical =
    labels['service.istio.io/canonical-name'] ?? labels['gateway.networking.k8s.io/gateway-name'] ?? pod.name;
  const node = {
    id: `${o.type}~${pod.ip}~${pod.name}.${pod.namespace}~${pod.namespace}.svc.cluster.local`,
    cluster: `${canonical}.${pod.namespace}`,
    metadata: {
      ISTIO_VERSION: '1.31.0',
      NAMESPACE: pod.namespace,
      NAME: pod.name,
      SERVICE_ACCOUNT: pod.serviceAccount,
      INSTANCE_IPS: pod.ip,
      CLUSTER_ID: 'Kubernetes',
      LABELS: labels,
      WORKLOAD_NAME: canonical,
    },
  };
  if (o.type === 'ztunnel') {
    stream.write(grpcFrame(discoveryRequest(node, 'type.googleapis.com/istio.security.Authorization', true)));
    stream.write(grpcFrame(discoveryRequest(node, 'type.googleapis.com/istio.workload.Address', false)));
  } else {
    stream.write(grpcFrame(discoveryRequest(node, 'type.googleapis.com/envoy.config.cluster.v3.Cluster', true)));
    stream.write(grpcFrame(discoveryRequest(node, 'type.googleapis.com/envoy.config.listener.v3.Listener', false)));
  }
  const close = () => {
    stream.close();
    session.close();
    session.destroy();
  };
  const until = Date.now() + timeoutMs;
  while (received === 0) {
    if (stream.closed || Date.now() > until) {
      close();
      throw new Error(`istiod sent nothing on the ADS stream for ${node.id} within ${timeoutMs} ms`);
    }
    await sleep(20);
  }
  return { proxyId: `${pod.name}.${pod.namespace}`, close };
}

/**
 * istiod's /debug/config_dump for a connected proxy (404 while it is not connected). `types`: short resource types
 * (pkg/model/xds.go GetResourceType: WADS = istio.security.Authorization, WDS = addresses), as JSON.
 */
export async function configDump(httpUrl: string, proxyId: string, types?: string): Promise<unknown> {
  const r = await fetch(
    `${httpUrl}/debug/config_dump?proxyID=${encodeURIComponent(proxyId)}${types ? `&types=${types}` : ''}`,
  );
  if (!r.ok)
    throw new Error(`GET /debug/config_dump?proxyID=${proxyId}: ${r.status} ${(await r.text()).slice(0, 200)}`);
  return r.json();
}

/**
 * The Envoy RBAC policies istiod generated for the proxy, as "ACTION policy-name" (enforced rules only: shadow rules are
 * dry-run). The protobuf JSON leaves a default enum out: an RBAC without `action` is ALLOW.
 */
export function rbacPolicies(dump: unknown): { enforced: string[]; shadow: string[] } {
  const enforced = new Set<string>();
  const shadow = new Set<string>();
  const walk = (v: unknown, key: string) => {
    if (Array.isArray(v)) {
      for (const x of v) walk(x, key);
      return;
    }
    if (!v || typeof v !== 'object') return;
    const o = v as Record<string, unknown>;
    if (
      o['policies'] &&
      typeof o['policies'] === 'object' &&
      (key === 'rules' || key === 'shadowRules' || key === 'shadow_rules')
    ) {
      const action = typeof o['action'] === 'string' ? (o['action'] as string) : 'ALLOW';
      for (const name of Object.keys(o['policies'] as object))
        (key === 'rules' ? enforced : shadow).add(`${action} ${name}`);
    }
    for (const [k, x] of Object.entries(o)) walk(x, k);
  };
  walk(dump, '');
  return { enforced: [...enforced].sort(), shadow: [...shadow].sort() };
}

/**
 * How the proxy connects to a cluster ("outbound|<port>||<host>"), in the mesh layer's words: "tls" (an upstream TLS
 * context without Istio's SDS certificate: SIMPLE/MUTUAL), "istio-mutual" (SDS secret "default": ISTIO_MUTUAL),
 * "auto" (transport_socket_matches on the endpoint's tlsMode), "plaintext" (none); null when istiod sent no such
 * cluster (cluster_tls.go, cluster_builder.go).
 */
export function clusterUpstream(dump: unknown, name: string): 'tls' | 'istio-mutual' | 'auto' | 'plaintext' | null {
  let found: Record<string, unknown> | null = null;
  const walk = (v: unknown) => {
    if (found || !v || typeof v !== 'object') return;
    if (Array.isArray(v)) {
      for (const x of v) walk(x);
      return;
    }
    const o = v as Record<string, unknown>;
    if (
      o['name'] === name &&
      ('type' in o ||
        'edsClusterConfig' in o ||
        'eds_cluster_config' in o ||
        'connectTimeout' in o ||
        'connect_timeout' in o)
    ) {
      found = o;
      return;
    }
    for (const x of Object.values(o)) walk(x);
  };
  walk(dump);
  if (!found) return null;
  const c = found as Record<string, unknown>;
  const matches = c['transportSocketMatches'] ?? c['transport_socket_matches'];
  const socket = c['transportSocket'] ?? c['transport_socket'];
  if (Array.isArray(matches) && matches.length > 0) return 'auto';
  if (!socket) return 'plaintext';
  return JSON.stringify(socket).includes('"default"') ? 'istio-mutual' : 'tls';
}
