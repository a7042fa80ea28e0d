// Layer 8 (live only): the gateway's Envoy serves what the cluster says. Every layer before judges objects and
// their status; this one asks the data plane itself, for the gateway Pods behind the resolved Gateway:
// - istiod's view of each proxy (its `/debug/syncz`, read once per run from EVERY running istiod Pod through the API
//   server's pods/portforward to its monitoring port, as `istioctl proxy-status` reads it: istio pkg/kube/client.go
//   AllDiscoveryDo, Pods `app=istiod` in phase Running, port from the `prometheus.io/port` annotation else 15014,
//   FindIstiodMonitoringPort; opt-in deploy/rbac-dataplane.yaml): connected at all, and per xDS type the nonce sent and
//   acked and the NACK's error text, classified as istiod classifies them (pilot/pkg/xds/statusgen.go debugSyncStatus:
//   lastError -> ERROR, nothing sent -> NOT_SENT, acked == sent -> SYNCED, else STALE). Each replica lists only the
//   proxies connected to it, so the answers are merged.
//   Not services/proxy to istiod's Service, not even as a fallback: istiod wraps every /debug handler in
//   allowAuthenticatedOrLocalhost (pilot/pkg/xds/debug.go): a loopback caller, or one whose request carries a
//   credential istiod's authenticators accept. The API server dials the endpoint from its own address (never
//   loopback: it refuses to proxy to loopback endpoints) and drops the user's Authorization header after
//   authenticating it, so that read is always 401 on this Istio (seen against the real istiod: test/controlplane/
//   README.md), and it would reach one random replica. A port-forward lands on the istiod Pod's loopback.
// - the Envoy's own state, read from each gateway Pod's admin port through pods/portforward the way `istioctl
//   proxy-config` reads it (src/dataplane/envoy-*.ts; opt-in deploy/rbac-envoy-admin.yaml): the listener, virtual host,
//   route and cluster it uses for this request against gwdoctor's prediction, pushes it rejected (its own error text),
//   the route's hosts it ejected while the EndpointSlices call them ready, and gateway Pods whose Envoys disagree.
// With --manifests there is no data plane to ask: "not checked".

import type { Gateway, Pod, Service } from '../src/cluster/objects.js';
import type { AdminAnswer } from '../src/dataplane/envoy-admin.js';
import { controllerOf } from '../src/dataplane/controller.js';
import { nsName } from '../src/cluster/objects.js';
import { ClusterAccessError } from '../src/errors.js';
import { about } from '../src/evidence.js';
import { emit, pass, skip, type Draft } from '../src/findings.js';
import { manual, refOf } from '../src/fix/build.js';
import type { PathResolver } from '../src/gatewayapi/resolver.js';
import type { RouteStage } from '../src/gatewayapi/path.js';
import { layerMeta } from '../src/registry.js';
import { judgeEnvoys } from '../src/dataplane/envoy-judge.js';
import { resolveEnvoys, type EnvoyStage } from '../src/dataplane/envoy-stage.js';
import { clusterLayer } from '../src/layer.js';
import type {
  DataplaneScopeFact,
  Evidence,
  Facts,
  GeneratedRouteFact,
  NodesSeen,
  Probes,
  XdsTypeFact,
} from '../src/types.js';

type Matched = Extract<RouteStage, { kind: 'matched' }>;

const GATEWAY_NAME_LABEL = 'gateway.networking.k8s.io/gateway-name';
/**
 * istiod's namespace, the label of its Pods and its monitoring port, where the pinned istiod serves /debug/*
 * (bootstrap/server.go monitoringMux); istioctl's defaults (pkg/kube/client.go AllDiscoveryDo, FindIstiodMonitoringPort).
 */
export const ISTIOD = { namespace: 'istio-system', name: 'istiod', label: { app: 'istiod' }, port: 15014 } as const;
const PROMETHEUS_PORT = 'prometheus.io/port';

/** One entry of istiod's /debug/syncz (pilot/pkg/xds/debug.go SyncStatus; only the fields read here). */
export interface SyncStatus {
  proxy?: string;
  proxy_type?: string;
  cluster_id?: string;
  istio_version?: string;
  resources?: Record<string, { sent?: string; acked?: string; lastError?: string }>;
}

/** One istiod Pod's answer to GET /debug/syncz through the port-forward. */
export interface IstiodRead {
  pod: Pod;
  port: number;
  answer: AdminAnswer;
}

/** A /debug/syncz entry with the istiod Pod that listed it (the replica the proxy is connected to). */
export type SyncEntry = SyncStatus & { istiod: string };

/** istiod's debug state as read for this run, from every running istiod Pod. */
export type IstiodView =
  /** At least one replica answered: their proxies, merged; `unread`: the replicas that did not (a proxy may be there). */
  | { kind: 'ok'; reads: IstiodRead[]; syncz: SyncEntry[]; unread: IstiodRead[] }
  /** RBAC refused the port-forward (or listing istiod's Pods): the verbs, resource and namespace. */
  | { kind: 'forbidden'; reads: IstiodRead[]; why: string }
  /** istiod answered, but not 200 JSON. */
  | { kind: 'refused'; reads: IstiodRead[] }
  /** No istiod could be reached (the API server or the kubelet could not forward, or istiod did not answer). */
  | { kind: 'unreachable'; reads: IstiodRead[] };

export interface GatewayProxy {
  pod: Pod;
  /** istiod's proxy id for the Pod: POD.NAMESPACE (the `proxy` of /debug/syncz, `proxyID` of /debug/config_dump). */
  proxyId: string;
  node: string | null;
}

/** What gwdoctor predicts Envoy does with GET host/path: the clusters of the winning rule, or its redirect. */
export interface Prediction {
  host: string;
  path: string;
  /** Envoy cluster names without the DNS suffix: `outbound|PORT||NAME.NS.svc.` (null: a redirect, no cluster). */
  clusters: string[] | null;
}

/** istiod's generated route for the request, for one proxy (its /debug/config_dump?proxyID=...). */
export type Generated =
  | { kind: 'route'; routeConfig: string; vhost: string; route: string; clusters: string[] | null }
  | { kind: 'no-vhost'; routeConfigs: string[] }
  | { kind: 'no-route'; routeConfig: string; vhost: string }
  | { kind: 'unread'; why: string };

/**
 * Which gateway Pods answer this proxy, and so are judged. With the gateway Service's externalTrafficPolicy Local, a
 * node's nodePort sends a client from outside the node only to the gateway Pods on it; but kube-proxy sends a
 * connection that starts on the node itself, or in any Pod, to every ready endpoint whatever the policy (kubernetes
 * pkg/proxy/nftables/proxier.go: "short-circuit local traffic" (fib saddr type local) and "short-circuit pod traffic"
 * go to the cluster policy chain; pkg/proxy/iptables/proxier.go the same with --src-type LOCAL, "route LOCAL traffic
 * for ... external destinations"). The evidence gwdoctor has of the node the proxy uses (the proxy layer's every-node
 * probe: the proxy's address, its DNS answer or --expect-ip, is the node's InternalIP) means the proxy RUNS on that
 * node: its connections to that node's nodePort are node-local, and any gateway Pod answers them. A proxy that
 * forwards from elsewhere reaches the Pods of the node it forwards to, which no evidence names. So every gateway Pod
 * is judged; the scope says why (as data), never narrowing to the Pods of one node on evidence that does not show it.
 */
export interface Scope {
  policy: string | null;
  /** The gateway Service ("namespace/name"). */
  service: string | null;
  /** The nodes the proxy runs on (its address is their InternalIP), null: no evidence names one. */
  proxyNodes: string[] | null;
  why: DataplaneScopeFact['why'];
  judged: GatewayProxy[];
}

export type DataplaneStage =
  | { kind: 'not-live' }
  /** No running istiod Pod in istio-system (or they could not be listed: `why`). */
  | { kind: 'no-istiod'; gateway: Gateway; why?: string }
  | { kind: 'no-pods'; gateway: Gateway; service: Service | undefined }
  | {
      kind: 'ok';
      gateway: Gateway;
      scope: Scope;
      /** The gateway Pods judged (scope.judged: every running one). */
      proxies: GatewayProxy[];
      istiod: IstiodView;
      prediction?: Prediction;
      generated?: Map<string, Generated>;
      envoy?: EnvoyStage;
    };

const SHORT: Record<string, string> = {
  'type.googleapis.com/envoy.config.listener.v3.Listener': 'LDS',
  'type.googleapis.com/envoy.config.route.v3.RouteConfiguration': 'RDS',
  'type.googleapis.com/envoy.config.cluster.v3.Cluster': 'CDS',
  'type.googleapis.com/envoy.config.endpoint.v3.ClusterLoadAssignment': 'EDS',
  'type.googleapis.com/envoy.config.core.v3.TypedExtensionConfig': 'ECDS',
};

/** istiod's own classification of one watched type (pilot/pkg/xds/statusgen.go debugSyncStatus). */
export function syncStatus(r: { sent?: string; acked?: string; lastError?: string }): XdsTypeFact['status'] {
  if (r.lastError) return 'ERROR';
  if (!r.sent) return 'NOT_SENT';
  if (r.acked === r.sent) return 'SYNCED';
  return 'STALE';
}

export function xdsTypes(s: SyncStatus): XdsTypeFact[] {
  return Object.entries(s.resources ?? {})
    .map(([url, r]) => ({
      type: SHORT[url] ?? url,
      status: syncStatus(r),
      sent: r.sent ?? '',
      acked: r.acked ?? '',
      error: r.lastError ? r.lastError : null,
    }))
    .sort((a, b) => a.type.localeCompare(b.type));
}

/** istiod's monitoring port of one Pod, as istioctl finds it (FindIstiodMonitoringPort). */
export function istiodPort(pod: Pod): number {
  const v = (pod.metadata.annotations ?? {})[PROMETHEUS_PORT];
  const n = v !== undefined && /^\d+$/.test(v) ? Number(v) : NaN;
  return Number.isInteger(n) && n > 0 && n < 65536 ? n : ISTIOD.port;
}

const podRef = (pod: Pod, port: number) =>
  `Pod ${pod.metadata.namespace ?? ISTIOD.namespace}/${pod.metadata.name}:${port}`;

async function readIstiod(p: PathResolver, pods: Pod[]): Promise<IstiodView> {
  const get = p.source.podPortGet?.bind(p.source);
  if (!get) throw new Error('dataplane: a live reader without pods/portforward');
  const reads: IstiodRead[] = [];
  for (const pod of pods) {
    const port = istiodPort(pod);
    reads.push({ pod, port, answer: await get(ISTIOD.namespace, pod.metadata.name, port, '/debug/syncz') });
  }
  const forbidden = reads.find((r) => r.answer.kind === 'forbidden');
  if (forbidden && forbidden.answer.kind === 'forbidden')
    return {
      kind: 'forbidden',
      reads,
      why: `forbidden: cannot ${forbidden.answer.verbs.join('+')} ${forbidden.answer.resource} in namespace ${forbidden.answer.namespace}`,
    };
  const syncz: SyncEntry[] = [];
  const answered: IstiodRead[] = [];
  for (const r of reads) {
    if (r.answer.kind !== 'ok' || r.answer.status !== 200) continue;
    let list: unknown;
    try {
      list = JSON.parse(r.answer.body);
    } catch {
      continue;
    }
    if (!Array.isArray(list)) continue;
    answered.push(r);
    for (const e of list as SyncStatus[]) syncz.push({ ...e, istiod: r.pod.metadata.name });
  }
  if (answered.length > 0) return { kind: 'ok', reads, syncz, unread: reads.filter((r) => !answered.includes(r)) };
  return reads.some((r) => r.answer.kind === 'ok') ? { kind: 'refused', reads } : { kind: 'unreachable', reads };
}

interface RouteEntry {
  name?: string;
  match?: {
    prefix?: string;
    path?: string;
    pathSeparatedPrefix?: string;
    safeRegex?: { regex?: string };
    headers?: unknown[];
    queryParameters?: unknown[];
  };
  route?: { cluster?: string; weightedClusters?: { clusters?: { name?: string; weight?: number }[] } };
}
interface VirtualHost {
  name?: string;
  domains?: string[];
  routes?: RouteEntry[];
}

/**
 * istiod writes its config dump as protobuf JSON (camelCase: pkg/config ToJSON -> jsonpb); Envoy's own admin uses the
 * proto names (snake_case). Read either: every key in camelCase.
 */
function camel(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(camel);
  if (v && typeof v === 'object')
    return Object.fromEntries(
      Object.entries(v).map(([k, x]) => [
        k.startsWith('@') ? k : k.replace(/_([a-z])/g, (_, c: string) => c.toUpperCase()),
        camel(x),
      ]),
    );
  return v;
}

function domainMatches(domain: string, host: string): boolean {
  const d = domain.toLowerCase().replace(/:\*$/, '');
  if (d === '*') return true;
  if (d.startsWith('*.')) return host.endsWith(d.slice(1)) && host.length > d.length - 1;
  return d === host;
}

/** Envoy's route match for a plain GET of `path` (no headers, no query parameters: a route that needs them does not match). */
function routeMatches(m: NonNullable<RouteEntry['match']>, path: string): boolean {
  if ((m.headers?.length ?? 0) > 0 || (m.queryParameters?.length ?? 0) > 0) return false;
  if (m.path !== undefined) return path === m.path;
  if (m.pathSeparatedPrefix !== undefined)
    return path === m.pathSeparatedPrefix || path.startsWith(`${m.pathSeparatedPrefix.replace(/\/$/, '')}/`);
  if (m.prefix !== undefined) return path.startsWith(m.prefix);
  if (m.safeRegex?.regex !== undefined) {
    try {
      return new RegExp(`^(?:${m.safeRegex.regex})$`).test(path);
    } catch {
      return false;
    }
  }
  return false;
}

/** The route istiod generated for GET host/path (as Envoy picks: an exact domain before a wildcard, then the first route that matches). */
export function generatedRoute(raw: unknown, host: string, path: string): Generated {
  const dump = camel(raw) as {
    configs?: {
      '@type'?: string;
      dynamicRouteConfigs?: { routeConfig?: { name?: string; virtualHosts?: VirtualHost[] } }[];
    }[];
  } | null;
  const rcs = (dump?.configs ?? [])
    .filter((c) => c['@type']?.endsWith('RoutesConfigDump'))
    .flatMap((c) => c.dynamicRouteConfigs ?? [])
    .map((d) => d.routeConfig ?? {});
  const h = host.toLowerCase();
  for (const rc of rcs) {
    const vhs = rc.virtualHosts ?? [];
    const vh =
      vhs.find((v) => (v.domains ?? []).some((d) => !d.startsWith('*') && domainMatches(d, h))) ??
      vhs.find((v) => (v.domains ?? []).some((d) => domainMatches(d, h)));
    if (!vh) continue;
    const r = (vh.routes ?? []).find((x) => x.match && routeMatches(x.match, path));
    if (!r) return { kind: 'no-route', routeConfig: rc.name ?? '', vhost: vh.name ?? '' };
    const clusters = r.route?.cluster
      ? [r.route.cluster]
      : r.route?.weightedClusters
        ? (r.route.weightedClusters.clusters ?? []).filter((c) => (c.weight ?? 1) > 0).map((c) => c.name ?? '')
        : null;
    return { kind: 'route', routeConfig: rc.name ?? '', vhost: vh.name ?? '', route: r.name ?? '', clusters };
  }
  return { kind: 'no-vhost', routeConfigs: rcs.map((rc) => rc.name ?? '') };
}

/** `outbound|80||web.ns.svc.cluster.local` -> `outbound|80||web.ns.svc.` (the DNS suffix is the cluster's). */
const clusterKey = (c: string) => c.replace(/(\.svc\.).*$/, '$1');

async function readGenerated(
  p: PathResolver,
  proxies: GatewayProxy[],
  view: Extract<IstiodView, { kind: 'ok' }>,
  pr: Prediction,
): Promise<Map<string, Generated>> {
  const get = p.source.podPortGet?.bind(p.source);
  const out = new Map<string, Generated>();
  if (!get) return out;
  for (const x of proxies) {
    // istiod answers /debug/config_dump only for a proxy connected to it: ask the replica that lists it.
    const at = view.syncz.find((e) => e.proxy === x.proxyId)?.istiod;
    const r = view.reads.find((y) => y.pod.metadata.name === at);
    if (!r) continue;
    const a = await get(
      ISTIOD.namespace,
      r.pod.metadata.name,
      r.port,
      `/debug/config_dump?proxyID=${encodeURIComponent(x.proxyId)}`,
    );
    if (a.kind !== 'ok') {
      out.set(x.proxyId, { kind: 'unread', why: a.why });
      continue;
    }
    if (a.status !== 200) {
      out.set(x.proxyId, { kind: 'unread', why: `HTTP ${a.status}` });
      continue;
    }
    try {
      out.set(x.proxyId, generatedRoute(JSON.parse(a.body), pr.host, pr.path));
    } catch {
      out.set(x.proxyId, { kind: 'unread', why: 'not JSON' });
    }
  }
  return out;
}

export function scopeOf(svc: Service | undefined, proxies: GatewayProxy[], seen: NodesSeen | undefined): Scope {
  const policy = svc ? (svc.spec?.externalTrafficPolicy ?? 'Cluster') : null;
  const service = svc ? nsName(svc) : null;
  const used = seen && service && seen.service === service ? seen.nodes.filter((n) => n.usedByProxy) : [];
  const proxyNodes = used.length > 0 ? [...new Set(used.map((n) => n.node))].sort() : null;
  const why = policy !== 'Local' ? 'cluster' : proxyNodes ? 'node-local' : 'node-unknown';
  return { policy, service, proxyNodes, why, judged: proxies };
}

export async function resolveDataplane(p: PathResolver, probes?: Probes): Promise<DataplaneStage> {
  if (p.source.mode !== 'live' || !p.source.podPortGet) return { kind: 'not-live' };
  const rs = (await p.route()) as Matched;
  const gateway = rs.chosen.cand.gateway;
  const gwNs = gateway.metadata.namespace ?? 'default';
  // istiod's Pods as istioctl finds them (label app=istiod, phase Running). Listing Pods is rbac.yaml's own read.
  let istiods: Pod[];
  try {
    istiods = ((await p.settle((v) => v.pods(ISTIOD.namespace, { ...ISTIOD.label }))) ?? []).filter(
      (x) => (x.status as { phase?: unknown } | undefined)?.phase === 'Running',
    );
  } catch (err) {
    if (err instanceof ClusterAccessError && err.kind === 'forbidden')
      return { kind: 'no-istiod', gateway, why: err.message };
    throw err;
  }
  if (istiods.length === 0) return { kind: 'no-istiod', gateway };
  // The gateway's Service and its Pods, read through this attempt's snapshot (the listener and mesh stages share them).
  const [svc, pods] = await p.settle((v) => {
    const s = v.servicesByLabel(gwNs, { [GATEWAY_NAME_LABEL]: gateway.metadata.name })[0];
    return [s, s?.spec?.selector ? (v.pods(gwNs, s.spec.selector) ?? []) : []] as const;
  });
  const running = pods.filter((x) => (x.status as { phase?: unknown } | undefined)?.phase === 'Running');
  if (running.length === 0) return { kind: 'no-pods', gateway, service: svc };
  const all = running.map((pod) => ({
    pod,
    proxyId: `${pod.metadata.name}.${pod.metadata.namespace ?? gwNs}`,
    node: (pod.spec as { nodeName?: string } | undefined)?.nodeName ?? null,
  }));
  const scope = scopeOf(svc, all, probes?.nodes);
  const proxies = scope.judged;
  const view = await readIstiod(p, istiods);
  const envoy = await resolveEnvoys(p);
  if (view.kind !== 'ok') return { kind: 'ok', gateway, scope, proxies, istiod: view, envoy };
  // The prediction: the winning rule's Service backends (Istio's cluster names, gateway/conversion.go buildDestination).
  const carrying = rs.refs.filter((r) => !r.mirror && r.weight > 0);
  const services = carrying.every((r) => r.group === '' && r.kind === 'Service' && r.port !== null);
  const prediction: Prediction | undefined = rs.redirect
    ? { host: p.target.host, path: p.target.path, clusters: null }
    : services && carrying.length > 0
      ? {
          host: p.target.host,
          path: p.target.path,
          clusters: [...new Set(carrying.map((r) => `outbound|${r.port}||${r.name}.${r.namespace}.svc.`))].sort(),
        }
      : undefined;
  const connected = proxies.filter((x) => view.syncz.some((st) => st.proxy === x.proxyId));
  const generated = prediction ? await readGenerated(p, connected, view, prediction) : undefined;
  return {
    kind: 'ok',
    gateway,
    scope,
    proxies,
    istiod: view,
    ...(prediction ? { prediction } : {}),
    ...(generated ? { generated } : {}),
    envoy,
  };
}

/**
 * Restart one gateway Pod, as a manual step: deleting a Pod is a write gwdoctor has not proven safe by applying it
 * (with one replica it is a short outage), so it is named, never given as a command to paste.
 */
function restartFix(proxy: GatewayProxy, why: string) {
  const ns = proxy.pod.metadata.namespace ?? 'default';
  const ctl = controllerOf(proxy.pod);
  if (ctl)
    return manual(
      `${why}: its ${ctl.kind} ${ctl.name} recreates it (kubectl delete pod ${proxy.pod.metadata.name} -n ${ns}; with a single gateway replica that is a short outage), and the new Envoy fetches its configuration from istiod; first read its log: kubectl logs -n ${ns} ${proxy.pod.metadata.name}`,
    );
  return manual(
    `${why}; Pod ${ns}/${proxy.pod.metadata.name} has no controller that would recreate it: restart its istio-proxy container the way it was created`,
  );
}

/** What one istiod Pod answered, for the evidence. */
function readLine(r: IstiodRead): Evidence {
  const a = r.answer;
  return {
    ref: podRef(r.pod, r.port),
    detail: `GET /debug/syncz through pods/portforward: ${
      a.kind === 'ok' ? (a.status === 200 ? 'HTTP 200 from istiod' : `HTTP ${a.status} from istiod`) : a.why
    }`,
  };
}

/** istiod's view of the gateway's proxies (/debug/syncz). */
function judgeIstiod(this: { id: 'dataplane'; title: string }, s: DataplaneStage): Draft {
  if (s.kind === 'not-live')
    return skip(
      this,
      "not checked: the data plane is read from a live cluster (istiod and the gateway's Envoy), not from manifests",
      { reason: 'not-live' },
    );
  const gw = nsName(s.gateway);
  if (s.kind === 'no-istiod')
    return skip(
      this,
      s.why
        ? `not checked: istiod's Pods could not be listed (${s.why})`
        : `not checked: no running istiod Pod (label app=istiod in ${ISTIOD.namespace}) to ask for istiod's view of gateway ${gw}'s proxies`,
      { reason: s.why ? 'forbidden' : 'no-istiod' },
    );
  if (s.kind === 'no-pods') {
    return emit(
      this,
      'DataplaneNotChecked',
      `gateway ${gw} has no running Pod to ask about${s.service ? ` (Service ${nsName(s.service)})` : ''}`,
      {
        evidence: s.service ? [about(s.service, 'selects no running Pod')] : [],
        fix: manual(
          `find why gateway ${gw} has no running Pod: kubectl get pods -n ${s.gateway.metadata.namespace ?? 'default'} -l ${GATEWAY_NAME_LABEL}=${s.gateway.metadata.name}`,
        ),
      },
    );
  }
  const i = s.istiod;
  const pods: Evidence[] = s.proxies.map((x) =>
    about(x.pod, `gateway Pod, proxy id ${x.proxyId}${x.node ? ` on node ${x.node}` : ''}`),
  );
  // Reading istiod's debug state is opt-in (deploy/rbac-dataplane.yaml), like the Secrets: without it, "not checked"
  // with the missing verb, never a warning on every run.
  if (i.kind === 'forbidden')
    return skip(this, `not checked: ${i.why} (opt-in: deploy/rbac-dataplane.yaml)`, { reason: 'forbidden' });
  if (i.kind === 'unreachable') {
    const why = i.reads.map((r) => (r.answer.kind === 'unreachable' ? r.answer.why : '')).find((x) => x) ?? '';
    return emit(
      this,
      'DataplaneNotChecked',
      `istiod's view of gateway ${gw}'s proxies not checked: no istiod Pod could be read through a port-forward (${why})`,
      {
        evidence: [...i.reads.map(readLine), ...pods],
        fix: manual(
          `look at istiod's Pods and the port-forward to them, as istioctl does it: kubectl get pods -n ${ISTIOD.namespace} -l app=istiod; istioctl proxy-status`,
        ),
      },
    );
  }
  if (i.kind === 'refused') {
    const a = i.reads.find((r) => r.answer.kind === 'ok');
    const status = a?.answer.kind === 'ok' ? a.answer.status : 0;
    return emit(
      this,
      'DataplaneNotChecked',
      `istiod's view of gateway ${gw}'s proxies not checked: istiod answered ${status === 200 ? 'something else than JSON' : `HTTP ${status}`} to /debug/syncz`,
      {
        evidence: [...i.reads.map(readLine), ...pods],
        fix: manual(
          `read istiod's view with istioctl (the same port-forward): istioctl proxy-status ${s.proxies.map((x) => x.proxyId).join(' ')}`.trim(),
        ),
      },
    );
  }
  const byId = new Map(i.syncz.filter((x) => typeof x.proxy === 'string').map((x) => [x.proxy as string, x]));
  const evidence: Evidence[] = [];
  const notConnected: GatewayProxy[] = [];
  const rejected: { proxy: GatewayProxy; t: XdsTypeFact }[] = [];
  const stale: { proxy: GatewayProxy; t: XdsTypeFact }[] = [];
  for (const x of s.proxies) {
    const st = byId.get(x.proxyId);
    if (!st) {
      notConnected.push(x);
      evidence.push(about(x.pod, `proxy ${x.proxyId} is not in istiod's /debug/syncz: not connected to istiod`));
      continue;
    }
    const types = xdsTypes(st);
    evidence.push(
      about(
        x.pod,
        `proxy ${x.proxyId}: ${types.map((t) => `${t.type} ${t.status}${t.status === 'SYNCED' ? '' : ` (sent ${t.sent || '-'}, acked ${t.acked || '-'})`}`).join(', ') || 'no xDS type watched'}`,
      ),
    );
    for (const t of types) {
      if (t.status === 'ERROR') rejected.push({ proxy: x, t });
      else if (t.status === 'STALE') stale.push({ proxy: x, t });
    }
  }
  const src: Evidence = {
    ref: `istiod in ${ISTIOD.namespace}`,
    detail: `GET /debug/syncz through pods/portforward from ${i.reads.length - i.unread.length} of ${i.reads.length} istiod Pods (${i.reads
      .filter((r) => !i.unread.includes(r))
      .map((r) => r.pod.metadata.name)
      .join(', ')}): ${i.syncz.length} proxies connected`,
  };
  if (rejected.length > 0) {
    const r = rejected[0] as { proxy: GatewayProxy; t: XdsTypeFact };
    return emit(
      this,
      'GatewayProxyRejected',
      `gateway Pod ${r.proxy.proxyId} rejected istiod's last ${r.t.type} push (nonce ${r.t.sent}; it still serves ${r.t.acked || 'nothing accepted so far'}): "${r.t.error}"`,
      {
        evidence: [
          src,
          ...evidence,
          ...rejected.map((x) => ({ ref: `proxy ${x.proxy.proxyId}`, detail: `${x.t.type} NACK: ${x.t.error}` })),
        ],
        fix: manual(
          `fix the object istiod translated into what the Envoy rejects (the error names the field; EnvoyFilters are the usual suspect: kubectl get envoyfilters -A); istiod pushes again once it changes. The Envoy's own view: kubectl exec -n ${r.proxy.pod.metadata.namespace ?? 'default'} ${r.proxy.pod.metadata.name} -c istio-proxy -- pilot-agent request GET config_dump`,
        ),
      },
    );
  }
  if (notConnected.length > 0 && i.unread.length > 0) {
    // A proxy missing from the replicas that answered may be connected to one that did not.
    return emit(
      this,
      'DataplaneNotChecked',
      `gateway Pod ${notConnected.map((x) => x.proxyId).join(', ')} is not connected to the istiod replicas that answered, and ${i.unread.length} of ${i.reads.length} istiod Pods could not be read (${i.unread.map((r) => r.pod.metadata.name).join(', ')}): it may be connected there`,
      {
        evidence: [src, ...i.unread.map(readLine), ...evidence],
        fix: manual(
          `ask every istiod replica, as istioctl does: istioctl proxy-status ${notConnected.map((x) => x.proxyId).join(' ')}`,
        ),
      },
    );
  }
  if (notConnected.length > 0) {
    const first = notConnected[0] as GatewayProxy;
    const of = s.proxies.length > 1 ? ` (${notConnected.length} of ${s.proxies.length} gateway Pods)` : '';
    return emit(
      this,
      'GatewayProxyNotConnected',
      `gateway Pod ${notConnected.map((x) => x.proxyId).join(', ')} of Gateway ${gw} is not connected to istiod${of}: it serves whatever it had before, or nothing`,
      {
        evidence: [src, ...evidence],
        fix: restartFix(first, `restart gateway Pod ${first.proxyId}, which is not connected to istiod`),
      },
    );
  }
  if (stale.length > 0) {
    const r = stale[0] as { proxy: GatewayProxy; t: XdsTypeFact };
    return emit(
      this,
      'GatewayProxyStale',
      `gateway Pod ${r.proxy.proxyId} has not acknowledged istiod's last ${r.t.type} push (sent ${r.t.sent}, acked ${r.t.acked || 'none'}): it serves an older configuration`,
      {
        evidence: [src, ...evidence],
        fix: restartFix(r.proxy, `if it stays stale, restart gateway Pod ${r.proxy.proxyId}`),
      },
    );
  }
  const route = judgeGenerated(this, s, [src, ...evidence]);
  if (route) return route;
  return pass(
    this,
    `${s.proxies.length === 1 ? 'the gateway Pod is' : `all ${s.proxies.length} gateway Pods are`} connected to istiod and acknowledged its last push${s.prediction && s.generated?.size ? '; istiod generated the predicted route' : ''}`,
    { evidence: [src, ...evidence, ...generatedLines(s)] },
  );
}

const describeGen = (g: Generated): string =>
  g.kind === 'route'
    ? `route ${g.route || '(unnamed)'} in ${g.routeConfig} / ${g.vhost} -> ${g.clusters ? g.clusters.join(', ') || 'no cluster' : 'a redirect or direct response'}`
    : g.kind === 'no-route'
      ? `virtual host ${g.vhost} in ${g.routeConfig}, but no route matches the path`
      : g.kind === 'no-vhost'
        ? `no virtual host for the host in ${g.routeConfigs.join(', ') || 'any route configuration'}`
        : `not read (${g.why})`;

function generatedLines(s: Extract<DataplaneStage, { kind: 'ok' }>): Evidence[] {
  return [...(s.generated ?? [])].map(([id, g]) => ({
    ref: `istiod config_dump ${id}`,
    detail: `GET ${s.prediction?.host}${s.prediction?.path}: ${describeGen(g)}`,
  }));
}

/** istiod's generated route for the request vs gwdoctor's prediction, per gateway proxy; Pods that disagree. */
function judgeGenerated(
  check: { id: 'dataplane'; title: string },
  s: Extract<DataplaneStage, { kind: 'ok' }>,
  evidence: Evidence[],
): Draft | null {
  const pr = s.prediction;
  if (!pr || !s.generated || s.generated.size === 0) return null;
  const want = pr.clusters ? pr.clusters.join(', ') : 'a redirect';
  const lines = generatedLines(s);
  const read = [...s.generated].filter(([, g]) => g.kind !== 'unread');
  const shapes = new Set(read.map(([, g]) => describeGen(g)));
  const bad = read.filter(
    ([, g]) =>
      g.kind !== 'route' ||
      (pr.clusters === null
        ? g.clusters !== null
        : g.clusters === null || g.clusters.map(clusterKey).sort().join(',') !== pr.clusters.join(',')),
  );
  if (bad.length === 0) return null;
  const [id, g] = bad[0] as [string, Generated];
  const which =
    shapes.size > 1
      ? ` (the gateway Pods disagree: ${read.length - bad.length} of ${read.length} have the predicted route)`
      : '';
  if (g.kind !== 'route') {
    return emit(
      check,
      'GatewayRouteMissing',
      `istiod generated no route for GET ${pr.host}${pr.path} for gateway proxy ${id}: ${describeGen(g)}; gwdoctor predicts ${want}${which}`,
      {
        evidence: [...evidence, ...lines],
        fix: manual(
          `compare what istiod generates with the route gwdoctor names (istioctl proxy-config routes ${id.replace(/\.([^.]+)$/, ' -n $1')}); an EnvoyFilter on the gateway (kubectl get envoyfilters -A) or a route istiod could not translate (its status) is the usual cause`,
        ),
      },
    );
  }
  return emit(
    check,
    'GatewayRouteDiffers',
    `istiod's route for GET ${pr.host}${pr.path} on gateway proxy ${id} goes to ${g.clusters ? g.clusters.join(', ') : 'a redirect or direct response'}, gwdoctor predicts ${want} from the cluster's objects${which}`,
    {
      evidence: [...evidence, ...lines],
      fix: manual(
        `find what rewrites the route after Gateway API translation: kubectl get envoyfilters -A (a ROUTE_CONFIGURATION, VIRTUAL_HOST or HTTP_ROUTE patch for the gateway); istioctl proxy-config routes ${id.replace(/\.([^.]+)$/, ' -n $1')} shows the route`,
      ),
    },
  );
}

/**
 * The layer's finding: istiod's view first (a NACK is seen from both sides: istiod's lastError, Envoy's error_state);
 * then the Envoys' own state, whose fault is the finding when istiod's view found none (or could not be read). Without
 * the Envoy read (no pods/portforward, nothing to forward to) the summary says the Envoy was not checked and why; that
 * alone never changes the verdict.
 */
export function judgeDataplane(this: { id: 'dataplane'; title: string }, s: DataplaneStage): Draft {
  const d = judged.call(this, s);
  if (s.kind !== 'ok' || d.status === 'skip') return d;
  const line = scopeLine(s.scope);
  return line ? { ...d, evidence: [...d.evidence, line] } : d;
}

/**
 * Why every gateway Pod was judged, when externalTrafficPolicy Local might make a reader think otherwise (gateway Pods
 * on more than one node); nothing to say with Cluster.
 */
function scopeLine(sc: Scope): Evidence | null {
  if (sc.why === 'cluster' || new Set(sc.judged.map((x) => x.node)).size < 2) return null;
  const ref = `Service ${sc.service}`;
  if (sc.why === 'node-local')
    return {
      ref,
      detail: `externalTrafficPolicy Local, and the proxy runs on node${(sc.proxyNodes ?? []).length > 1 ? 's' : ''} ${(sc.proxyNodes ?? []).join(', ')} (its address is the node's InternalIP): kube-proxy sends a connection that starts on a node to any ready gateway Pod, whatever the policy, so every gateway Pod answers this proxy and each is judged (a proxy that forwards to another node's nodePort reaches only the gateway Pods there)`,
    };
  return {
    ref,
    detail: `externalTrafficPolicy Local: a node's nodePort sends a client from outside the node only to the gateway Pods on it, and no evidence names the node the proxy forwards to: every gateway Pod judged`,
  };
}

function judged(this: { id: 'dataplane'; title: string }, s: DataplaneStage): Draft {
  const d = judgeIstiod.call(this, s);
  if (s.kind !== 'ok' || s.envoy?.kind !== 'read') return d;
  const ev = judgeEnvoys(s.envoy.pods, s.envoy.prediction, s.envoy.request);
  if (d.status === 'fail') return { ...d, evidence: [...d.evidence, ...ev.evidence] };
  if (ev.code) return emit(this, ev.code, ev.summary, { evidence: [...ev.evidence, ...d.evidence], fix: ev.fix });
  if (d.status === 'pass')
    return { ...d, summary: `${d.summary}; ${ev.summary}`, evidence: [...d.evidence, ...ev.evidence] };
  // istiod's view not checked (skipped: no permission), the Envoys judged and fine: a pass that says both.
  if (d.status === 'skip' && ev.judged)
    return pass(this, `${ev.summary}; istiod's view: ${d.summary}`, { evidence: [...ev.evidence, ...d.evidence] });
  return { ...d, evidence: [...d.evidence, ...ev.evidence] };
}

/** The stage as data (facts.dataplane). */
function scopeFact(sc: Scope): DataplaneScopeFact {
  return {
    policy: sc.policy,
    proxyNodes: sc.proxyNodes,
    why: sc.why,
    judged: sc.judged.map((x) => ({ pod: refOf(x.pod), node: x.node })),
  };
}

export function dataplaneFacts(s: DataplaneStage): Facts {
  if (s.kind !== 'ok') return {};
  const byId = new Map(
    s.istiod.kind === 'ok'
      ? s.istiod.syncz.filter((x) => typeof x.proxy === 'string').map((x) => [x.proxy as string, x])
      : [],
  );
  return {
    dataplane: {
      gateway: refOf(s.gateway),
      istiod: { pods: s.istiod.reads.map((r) => refOf(r.pod)), read: s.istiod.kind },
      proxies: s.proxies.map((x) => {
        const st = byId.get(x.proxyId);
        const g = s.generated?.get(x.proxyId);
        const route: GeneratedRouteFact | null = g
          ? {
              kind: g.kind,
              routeConfig: g.kind === 'route' || g.kind === 'no-route' ? g.routeConfig : null,
              vhost: g.kind === 'route' || g.kind === 'no-route' ? g.vhost : null,
              route: g.kind === 'route' ? g.route : null,
              clusters: g.kind === 'route' ? g.clusters : null,
            }
          : null;
        return {
          pod: refOf(x.pod),
          proxyId: x.proxyId,
          node: x.node,
          connected: s.istiod.kind === 'ok' ? st !== undefined : null,
          xds: st ? xdsTypes(st) : [],
          route,
        };
      }),
      ...(s.prediction ? { predicted: s.prediction.clusters } : {}),
      ...(s.envoy?.kind === 'read'
        ? { envoy: judgeEnvoys(s.envoy.pods, s.envoy.prediction, s.envoy.request).facts }
        : {}),
      scope: scopeFact(s.scope),
    },
  };
}

export const dataplane = clusterLayer(
  layerMeta('dataplane'),
  (p, probes) => resolveDataplane(p, probes),
  judgeDataplane,
  dataplaneFacts,
);
