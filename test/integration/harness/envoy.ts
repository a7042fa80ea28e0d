// A real data plane for the integration lane: upstream Envoy (scripts/install-envoy.sh) driven over ADS by the lane's
// istiod, one Envoy per gateway Pod, bootstrapped from the live Pod as pilot-agent would, with backends that answer
// with their Pod's name. Everything stays on loopback: a per-run block 127.A.B.0/24 the rest of the suite never uses.
// Recipe, measurements and the API for other tests: test/controlplane/README.md ("A real Envoy").
//
//   const lane = await EnvoyLane.create({ bin, etcdUrl, etcdPrefix, istiod, kube, dir });
//   const applied = await applyScenario(kube, dir, { status: 'istiod', lane });   // loopback Pods, slices, EnvoyFilter
//   const sc = await lane.start(applied);             // Envoys for the gateway Pods, backends for the app Pods
//   const real = await sc.request('https://api.example.com/health');   // status, server, body, backend, error
//   await sc.stop();                                  // (applied.cleanup() removes the objects)

import { ENVOY_ADMIN_PORT } from '../../../src/dataplane/envoy-admin.js';
import { networkInterfaces } from 'node:os';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { randomInt, randomUUID } from 'node:crypto';
import { mkdirSync, openSync, readFileSync, rmSync, writeFileSync, existsSync } from 'node:fs';
import { createServer } from 'node:http';
import { request as httpRequest } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { checkServerIdentity, type TLSSocket } from 'node:tls';
import { createServer as netServer, type Socket } from 'node:net';
import { connect as h2connect, createServer as createH2Server } from 'node:http2';
import { createSocket } from 'node:dgram';
import { Duplex } from 'node:stream';
import * as packet from 'dns-packet';
import { join } from 'node:path';
import { ROOT } from './controlplane.js';
import { stopGroup } from './istiod.js';
import type { Kube, Obj } from './kube.js';

const GATEWAY_NAME = 'gateway.networking.k8s.io/gateway-name';
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

// ---------------------------------------------------------------------------------------------------------------
// The binary

/** Install (or find cached) Envoy. Returns the binary, or throws with the script's output. */
export function installEnvoy(): string {
  const r = spawnSync('bash', [join(ROOT, 'scripts', 'install-envoy.sh')], {
    encoding: 'utf8',
    maxBuffer: 16 * 1024 * 1024,
  });
  if (r.status !== 0)
    throw new Error(
      `scripts/install-envoy.sh failed (exit ${r.status}):\n${(r.stderr ?? '').split('\n').slice(-20).join('\n')}`,
    );
  return r.stdout.trim().split('\n').pop() as string;
}

// ---------------------------------------------------------------------------------------------------------------
// Loopback addresses: one /24 per run, chosen at random in 127.64.0.0/10 and checked free by binding it.

async function bindable(address: string, port = 0): Promise<boolean> {
  return new Promise((resolve) => {
    const s = netServer();
    s.once('error', () => resolve(false));
    s.listen(port, address, () => s.close(() => resolve(true)));
  });
}

export class LoopbackPool {
  private n = 0;
  private constructor(private prefix: string) {}

  /** A /24 of 127.64.0.0/10 that nothing on this machine listens on (its .1 binds). */
  static async create(): Promise<LoopbackPool> {
    for (let i = 0; i < 50; i++) {
      const prefix = `127.${randomInt(64, 128)}.${randomInt(0, 256)}`;
      if (await bindable(`${prefix}.1`, 0)) return new LoopbackPool(prefix);
    }
    throw new Error('no free loopback /24 in 127.64.0.0/10');
  }

  get block(): string {
    return `${this.prefix}.0/24`;
  }

  next(): string {
    this.n++;
    if (this.n > 254) {
      const [a, b] = this.prefix.split('.').slice(1).map(Number) as [number, number];
      this.prefix = `127.${a}.${(b + 1) % 256}`;
      this.n = 1;
    }
    return `${this.prefix}.${this.n}`;
  }
}

// ---------------------------------------------------------------------------------------------------------------
// EndpointSlices through etcd: the API server refuses loopback addresses in them ("may not be in the loopback range"),
// so neither the harness nor the endpointslice controller can write them through the API. The harness writes the JSON
// under the API server's --etcd-prefix; the API server (and its watchers: istiod, gwdoctor) read it as usual.

export const LANE_MANAGER = 'envoy-lane.gwdoctor.test';

export async function etcdPut(etcdUrl: string, key: string, value: unknown): Promise<void> {
  const b64 = (s: string) => Buffer.from(s).toString('base64');
  const r = await fetch(`${etcdUrl}/v3/kv/put`, {
    method: 'POST',
    body: JSON.stringify({ key: b64(key), value: b64(JSON.stringify(value)) }),
  });
  if (!r.ok) throw new Error(`etcd put ${key}: ${r.status} ${await r.text()}`);
}

/** Write an EndpointSlice (any addresses) straight into etcd, then wait until the API server serves it. */
export async function writeSliceViaEtcd(kube: Kube, etcdUrl: string, etcdPrefix: string, slice: Obj): Promise<void> {
  const ns = slice.metadata.namespace as string;
  const md = { ...slice.metadata } as Record<string, unknown>;
  delete md['resourceVersion'];
  delete md['managedFields'];
  md['uid'] ??= randomUUID();
  md['creationTimestamp'] ??= new Date().toISOString().replace(/\.\d+Z$/, 'Z');
  md['generation'] ??= 1;
  const obj = { ...slice, apiVersion: 'discovery.k8s.io/v1', kind: 'EndpointSlice', metadata: md };
  await etcdPut(etcdUrl, `${etcdPrefix}/endpointslices/${ns}/${slice.metadata.name}`, obj);
  // Compared with sorted keys: the API server writes the same fields in its own order (e.g. targetRef).
  const canon = (v: unknown): string =>
    JSON.stringify(v, (_k, x: unknown) =>
      x && typeof x === 'object' && !Array.isArray(x)
        ? Object.fromEntries(Object.entries(x).sort(([p], [q]) => p.localeCompare(q)))
        : x,
    );
  const want = canon((obj as { endpoints?: unknown }).endpoints ?? null);
  const until = Date.now() + 10_000;
  for (;;) {
    const r = await kube.raw('GET', `/apis/discovery.k8s.io/v1/namespaces/${ns}/endpointslices/${slice.metadata.name}`);
    if (r.status === 200 && canon((r.json as { endpoints?: unknown }).endpoints ?? null) === want) return;
    if (Date.now() > until)
      throw new Error(
        `EndpointSlice ${ns}/${slice.metadata.name} written to etcd is not served by the API server after 10 s`,
      );
    await sleep(50);
  }
}

// ---------------------------------------------------------------------------------------------------------------
// Backends: one small HTTP server per app Pod address and port, answering 200 with "<namespace>/<pod>".

export const BACKEND_HEADER = 'x-gwdoctor-backend';

export interface BackendPod {
  pod: string; // namespace/name
  address: string;
  ports: number[];
  /** false: the Pod's container is not running (crash loop): nothing listens, as on a real node. */
  listening: boolean;
  /**
   * true: HTTP/2 only, as a real gRPC server (the Pod's annotation BACKEND_PROTOCOL_ANNOTATION: h2): a connection whose
   * first bytes are not the HTTP/2 preface is closed, as grpc-go's server does ("received bogus greeting from client",
   * internal/transport/http2_server.go newHTTP2Transport). Else HTTP/1.1 and h2c on the same port.
   */
  h2only?: boolean;
}

/** A Pod annotation for the lane (not for gwdoctor): `h2` makes its backend speak HTTP/2 only, as a gRPC server. */
export const BACKEND_PROTOCOL_ANNOTATION = 'envoy-lane.gwdoctor.test/protocol';

/** The protocol a backend was spoken to in: `h2` (h2c, prior knowledge) or `http/1.1`. */
export const BACKEND_PROTOCOL_HEADER = 'x-gwdoctor-backend-protocol';

interface Closer {
  close(): Promise<void>;
}

/**
 * A backend Pod: on each port, HTTP/1.1 and h2c (HTTP/2 with prior knowledge, what gRPC speaks in plaintext) on the
 * same socket, told apart by the HTTP/2 connection preface. Every answer names the Pod (`x-gwdoctor-backend`) and the
 * protocol it came in (`x-gwdoctor-backend-protocol`). A gRPC call (`content-type: application/grpc`) over HTTP/2 gets
 * a gRPC answer: one empty message, `grpc-status: 0` in the trailers, as a gRPC server gives. Over HTTP/1.1 the answer
 * is the plain one (a gRPC server speaks HTTP/2 only; the client sees no grpc-status).
 */
async function startBackend(b: BackendPod): Promise<Closer[]> {
  if (!b.listening) return [];
  const servers: Closer[] = [];
  for (const port of b.ports) {
    const h1 = createServer((req, res) => {
      req.resume();
      const body = `${b.pod}\n`;
      res.writeHead(200, {
        'content-type': 'text/plain',
        'content-length': String(Buffer.byteLength(body)),
        [BACKEND_HEADER]: b.pod,
        [BACKEND_PROTOCOL_HEADER]: 'http/1.1',
      });
      res.end(body);
    });
    const h2 = createH2Server();
    h2.on('stream', (stream, headers) => {
      stream.on('error', () => {});
      stream.resume();
      const grpc = /^application\/grpc/.test(String(headers['content-type'] ?? ''));
      stream.on('end', () => {
        if (stream.destroyed) return;
        if (grpc) {
          stream.respond(
            {
              ':status': 200,
              'content-type': 'application/grpc',
              [BACKEND_HEADER]: b.pod,
              [BACKEND_PROTOCOL_HEADER]: 'h2',
            },
            { waitForTrailers: true },
          );
          stream.on('wantTrailers', () => stream.sendTrailers({ 'grpc-status': '0', 'grpc-message': '' }));
          stream.end(Buffer.alloc(5)); // one gRPC message: not compressed, length 0
        } else {
          stream.respond({
            ':status': 200,
            'content-type': 'text/plain',
            [BACKEND_HEADER]: b.pod,
            [BACKEND_PROTOCOL_HEADER]: 'h2',
          });
          stream.end(`${b.pod}\n`);
        }
      });
    });
    const sockets = new Set<Socket>();
    const front = netServer((sock) => {
      sockets.add(sock);
      sock.on('close', () => sockets.delete(sock));
      sock.on('error', () => {});
      sock.once('data', (first: Buffer) => {
        const isH2 = first.subarray(0, H2_PREFACE.length).equals(H2_PREFACE);
        if (!isH2 && b.h2only) {
          sock.destroy();
          return;
        }
        if (isH2) {
          // node:http2 reads the socket's native handle, not what was unshifted back into it (the preface would be
          // lost: the session answers GOAWAY PROTOCOL_ERROR): hand it a stream that starts with the bytes read.
          h2.emit('connection', replay(sock, first));
          return;
        }
        sock.pause();
        sock.unshift(first);
        h1.emit('connection', sock);
        sock.resume();
      });
    });
    await new Promise<void>((resolve, reject) => {
      front.once('error', reject);
      front.listen(port, b.address, () => resolve());
    });
    servers.push({
      close: () =>
        new Promise<void>((r) => {
          for (const x of sockets) x.destroy();
          h1.closeAllConnections();
          h2.close();
          front.close(() => r());
        }),
    });
  }
  return servers;
}

/** `sock` as a stream that yields `first` (already read from it) and then the rest. */
function replay(sock: Socket, first: Buffer): Duplex {
  const d = new Duplex({
    read() {
      sock.resume();
    },
    write(chunk: Buffer, _enc, cb) {
      sock.write(chunk, cb);
    },
    final(cb) {
      sock.end(cb);
    },
    destroy(err, cb) {
      sock.destroy();
      cb(err);
    },
  });
  d.push(first);
  sock.on('data', (c: Buffer) => {
    if (!d.push(c)) sock.pause();
  });
  sock.on('end', () => d.push(null));
  sock.on('close', () => d.destroy());
  return d;
}

/** The first bytes of every HTTP/2 connection (RFC 9113 3.4); an h2c client with prior knowledge sends them first. */
const H2_PREFACE = Buffer.from('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n');

async function closeServers(servers: Closer[]): Promise<void> {
  await Promise.all(servers.map((s) => s.close()));
}

// ---------------------------------------------------------------------------------------------------------------
// The real request

export interface RealAnswer {
  /** What was sent: "GET http://127.A.B.1:32080/health Host: api.example.com" (or TLS with SNI). */
  sent: string;
  status?: number;
  /** refused, reset, timeout, tls: ... when no HTTP answer came. */
  error?: string;
  server?: string;
  upstreamServiceTime?: string;
  location?: string;
  body?: string;
  /** namespace/pod of the backend that answered, if one did. */
  backend?: string;
  /**
   * TLS: why a verifying client would have refused the certificate the listener presented (expired, not yet valid,
   * not for the host); the request is sent anyway, so that the answer behind it is known too. The chain is not judged.
   */
  tlsProblem?: string;
  /** Every response header (lower-case names), for the classifier check. */
  headers?: Record<string, string>;
}

/** GET path with Host through address:port; TLS (SNI = host) when `tls`. Never follows redirects. */
export async function sendRequest(
  address: string,
  port: number,
  host: string,
  path: string,
  opts: { tls?: boolean; timeoutMs?: number } = {},
): Promise<RealAnswer> {
  const sent = `GET ${opts.tls ? 'https' : 'http'}://${address}:${port}${path} Host: ${host}${opts.tls ? ` (TLS, SNI ${host})` : ''}`;
  return new Promise((resolve) => {
    let done = false;
    const finish = (a: Omit<RealAnswer, 'sent'>) => {
      if (done) return;
      done = true;
      resolve({ sent, ...a });
    };
    const common = {
      host: address,
      port,
      path,
      method: 'GET',
      headers: { host, 'user-agent': 'gwdoctor-envoy-lane', connection: 'close' },
      agent: false as const,
      timeout: opts.timeoutMs ?? 10_000,
    };
    // TLS: SNI = the host, any certificate (the answer is what is judged, not the chain).
    const req = opts.tls
      ? httpsRequest({ ...common, servername: host, rejectUnauthorized: false })
      : httpRequest(common);
    req.on('response', (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        const a: Omit<RealAnswer, 'sent'> = {
          status: res.statusCode as number,
          body: Buffer.concat(chunks).toString('utf8').slice(0, 512),
        };
        a.headers = Object.fromEntries(
          Object.entries(res.headers).map(([k, v]) => [k, Array.isArray(v) ? v.join(', ') : String(v)]),
        );
        const set = (k: 'server' | 'upstreamServiceTime' | 'location' | 'backend', n: string) => {
          if (res.headers[n] !== undefined) a[k] = String(res.headers[n]);
        };
        set('server', 'server');
        set('upstreamServiceTime', 'x-envoy-upstream-service-time');
        set('location', 'location');
        set('backend', BACKEND_HEADER);
        if (opts.tls) {
          const cert = (res.socket as TLSSocket).getPeerCertificate?.();
          if (cert && cert.valid_to) {
            const now = Date.now();
            if (Date.parse(cert.valid_to) < now) a.tlsProblem = `certificate expired ${cert.valid_to}`;
            else if (Date.parse(cert.valid_from) > now)
              a.tlsProblem = `certificate not valid before ${cert.valid_from}`;
            else {
              const e = checkServerIdentity(host, cert);
              if (e) a.tlsProblem = `certificate not for ${host}: ${e.message}`;
            }
          }
        }
        finish(a);
      });
      res.on('error', (e) => finish({ error: errorName(e) }));
    });
    req.on('timeout', () => {
      req.destroy(new Error('timeout'));
    });
    req.on('error', (e) => finish({ error: errorName(e) }));
    req.end();
  });
}

/** The answer to a real gRPC call (HTTP/2; h2c in plaintext). */
export interface GrpcAnswer {
  sent: string;
  /** The HTTP/2 `:status`. */
  status?: number;
  /** `grpc-status` (from the trailers, or the headers of a trailers-only answer); absent when none came. */
  grpcStatus?: number;
  grpcMessage?: string;
  server?: string;
  upstreamServiceTime?: string;
  /** namespace/pod of the backend that answered, and in which protocol Envoy spoke to it (`h2`, `http/1.1`). */
  backend?: string;
  backendProtocol?: string;
  error?: string;
}

/**
 * A real unary gRPC call: POST <path> over HTTP/2 (h2c with prior knowledge; TLS with ALPN h2 and SNI = host when
 * `tls`), `content-type: application/grpc`, `te: trailers`, one empty message. node:http2 rather than @grpc/grpc-js:
 * gRPC over HTTP/2 is exactly this (grpc/grpc PROTOCOL-HTTP2.md), no .proto or dependency is needed, and the judge
 * must see what a gRPC library hides: the HTTP status, `server`, the backend's headers and a trailers-only answer.
 */
export async function sendGrpc(
  address: string,
  port: number,
  host: string,
  path: string,
  opts: { tls?: boolean; timeoutMs?: number } = {},
): Promise<GrpcAnswer> {
  const sent = `gRPC POST ${opts.tls ? 'https' : 'http'}://${address}:${port}${path} :authority ${host}${opts.tls ? ` (TLS, SNI ${host})` : ' (h2c)'}`;
  return new Promise((resolve) => {
    let done = false;
    const session = h2connect(
      `${opts.tls ? 'https' : 'http'}://${address}:${port}`,
      opts.tls ? { servername: host, rejectUnauthorized: false, ALPNProtocols: ['h2'] } : {},
    );
    const timer = setTimeout(() => finish({ error: 'timeout' }), opts.timeoutMs ?? 10_000);
    const a: Omit<GrpcAnswer, 'sent'> = {};
    function finish(x: Omit<GrpcAnswer, 'sent'>) {
      if (done) return;
      done = true;
      clearTimeout(timer);
      session.destroy();
      resolve({ sent, ...x });
    }
    const grpcFrom = (h: Record<string, unknown>) => {
      if (h['grpc-status'] !== undefined) a.grpcStatus = Number(h['grpc-status']);
      if (h['grpc-message'] !== undefined) a.grpcMessage = decodeURIComponent(String(h['grpc-message']));
    };
    session.on('error', (e) =>
      finish({
        ...a,
        error:
          a.status === undefined ? errorName(e as Error & { code?: string }) : `after headers: ${(e as Error).message}`,
      }),
    );
    const req = session.request({
      ':method': 'POST',
      ':path': path,
      ':authority': host,
      'content-type': 'application/grpc',
      te: 'trailers',
      'user-agent': 'gwdoctor-envoy-lane',
    });
    req.on('response', (h) => {
      a.status = Number(h[':status']);
      if (h['server'] !== undefined) a.server = String(h['server']);
      if (h['x-envoy-upstream-service-time'] !== undefined)
        a.upstreamServiceTime = String(h['x-envoy-upstream-service-time']);
      if (h[BACKEND_HEADER] !== undefined) a.backend = String(h[BACKEND_HEADER]);
      if (h[BACKEND_PROTOCOL_HEADER] !== undefined) a.backendProtocol = String(h[BACKEND_PROTOCOL_HEADER]);
      grpcFrom(h);
    });
    req.on('trailers', (t) => grpcFrom(t));
    req.on('data', () => {});
    req.on('end', () => finish(a));
    req.on('error', (e) =>
      finish({ ...a, ...(a.status === undefined ? { error: errorName(e as Error & { code?: string }) } : {}) }),
    );
    req.end(Buffer.alloc(5));
  });
}

function errorName(e: Error & { code?: string }): string {
  if (e.message === 'timeout') return 'timeout';
  switch (e.code) {
    case 'ECONNREFUSED':
      return 'refused';
    case 'ECONNRESET':
    case 'EPIPE':
      return 'reset';
    default:
      return e.code ? `${e.code}: ${e.message}` : e.message;
  }
}

// ---------------------------------------------------------------------------------------------------------------
// One Envoy per gateway Pod

export interface IstiodXds {
  /** ISTIO_VERSION in the node metadata (Istiod.proxyVersion). */
  proxyVersion: string;
  httpUrl: string;
  grpcAddr: string;
}

export interface GatewayEnvoy {
  pod: string; // namespace/name
  gateway: string; // namespace/name
  proxyId: string;
  adminUrl: string;
  /** Envoy listener port (the gateway Service's targetPort) -> where the EnvoyFilter moved it. */
  listeners: Map<number, { address: string; port: number }>;
  /** The NodePort stand-ins: "<node address>:<nodePort>" -> the listener it forwards to. */
  nodePorts: { address: string; nodePort: number; servicePort: number; targetPort: number }[];
  log: string;
  /** ms from spawn until ready (xDS accepted, nothing warming, listeners bound on loopback). */
  readyMs: number;
  /** Date.now() at spawn. */
  spawnedAt: number;
  /** The Envoy process (tests pause it with SIGSTOP: a proxy that stays connected but never acknowledges). */
  pid: number | undefined;
  stop(): Promise<void>;
}

/** The port Envoy listens on for a Gateway listener port: 20000 + port on the Gateway's own loopback address. */
export function movedPort(port: number): number {
  return port < 45_000 ? 20_000 + port : port;
}

/**
 * The EnvoyFilter that moves every listener of a Gateway's Envoys from 0.0.0.0:<port> to <address>:<20000+port>. Made
 * before the Gateway, so istiod has it in its push context before any gateway Envoy connects.
 */
export function listenerMoveFilter(ns: string, gateway: string, address: string, ports: number[]): Obj {
  return {
    apiVersion: 'networking.istio.io/v1alpha3',
    kind: 'EnvoyFilter',
    metadata: { name: `envoy-lane-${gateway}`.slice(0, 63), namespace: ns },
    spec: {
      workloadSelector: { labels: { [GATEWAY_NAME]: gateway } },
      configPatches: [...new Set(ports)].map((p) => ({
        applyTo: 'LISTENER',
        match: { context: 'GATEWAY', listener: { portNumber: p } },
        patch: { operation: 'MERGE', value: { address: { socket_address: { address, port_value: movedPort(p) } } } },
      })),
    },
  };
}

interface PodSpec {
  serviceAccountName?: string;
  containers?: { name: string; env?: { name: string; value?: string }[] }[];
}

/** Node metadata as pilot-agent sends it (pkg/bootstrap/config.go GetNodeMetaData) for the gateway Pod. */
function nodeMetadata(pod: Obj, istiodVersion: string): Record<string, unknown> {
  const spec = pod['spec'] as PodSpec;
  const md = pod.metadata as { name: string; namespace: string; labels?: Record<string, string> };
  const proxy = (spec.containers ?? []).find((c) => c.name === 'istio-proxy') ?? spec.containers?.[0];
  const env = new Map((proxy?.env ?? []).filter((e) => e.value !== undefined).map((e) => [e.name, e.value as string]));
  const meta: Record<string, unknown> = {};
  for (const [k, v] of env) {
    if (k.startsWith('ISTIO_METAJSON_')) {
      try {
        meta[k.slice('ISTIO_METAJSON_'.length)] = JSON.parse(v);
      } catch {
        // not JSON: skipped, as pilot-agent does
      }
    } else if (k.startsWith('ISTIO_META_')) meta[k.slice('ISTIO_META_'.length)] = v;
  }
  const labels = { ...(md.labels ?? {}) };
  delete labels['pod-template-hash'];
  const podIp = ((pod['status'] as { podIP?: string }).podIP ?? '') as string;
  let proxyConfig: unknown = {};
  try {
    proxyConfig = JSON.parse(env.get('PROXY_CONFIG') ?? '{}');
  } catch {
    proxyConfig = {};
  }
  return {
    ...meta,
    ISTIO_VERSION: istiodVersion,
    NAMESPACE: md.namespace,
    NAME: md.name,
    SERVICE_ACCOUNT: spec.serviceAccountName ?? 'default',
    INSTANCE_IPS: podIp,
    NODE_NAME: (pod['spec'] as { nodeName?: string }).nodeName ?? '',
    LABELS: labels,
    PROXY_CONFIG: proxyConfig,
    ENVOY_STATUS_PORT: 15021,
    ENVOY_PROMETHEUS_PORT: 15090,
    CLUSTER_ID: meta['CLUSTER_ID'] ?? 'Kubernetes',
  };
}

export async function serviceAccountToken(kube: Kube, ns: string, sa: string): Promise<string> {
  const r = await kube.raw('POST', `/api/v1/namespaces/${ns}/serviceaccounts/${sa}/token`, {
    apiVersion: 'authentication.k8s.io/v1',
    kind: 'TokenRequest',
    spec: { audiences: ['istio-ca'], expirationSeconds: 7200 },
  });
  if (r.status >= 300)
    throw new Error(`TokenRequest for ${ns}/${sa}: ${r.status} ${JSON.stringify(r.json).slice(0, 300)}`);
  return (r.json as { status: { token: string } }).status.token;
}

interface ServicePort {
  name?: string;
  port: number;
  targetPort?: number | string;
  nodePort?: number;
}

export interface StartEnvoyOptions {
  bin: string;
  kube: Kube;
  istiod: IstiodXds;
  pod: Obj;
  /** The gateway's generated Service (its ports and nodePorts). */
  service: Obj | undefined;
  /** The Gateway's listener address (where the EnvoyFilter moves its listeners). */
  listenerAddress: string;
  /** Node InternalIPs of the lane: the NodePort stand-ins bind each. */
  nodeAddresses: string[];
  dir: string;
  /** A loopback UDP port with nothing behind it: Envoy's only DNS resolver, so it never asks the machine's. */
  dnsPort: number;
}

export async function startGatewayEnvoy(o: StartEnvoyOptions): Promise<GatewayEnvoy> {
  const md = o.pod.metadata as { name: string; namespace: string; labels?: Record<string, string> };
  const ns = md.namespace;
  const podIp = (o.pod['status'] as { podIP?: string }).podIP;
  if (!podIp) throw new Error(`gateway Pod ${ns}/${md.name} has no IP`);
  const spec = o.pod['spec'] as PodSpec;
  const canonical = md.labels?.['service.istio.io/canonical-name'] ?? md.labels?.[GATEWAY_NAME] ?? md.name;
  const proxyId = `${md.name}.${ns}`;
  const nodeId = `router~${podIp}~${proxyId}~${ns}.svc.cluster.local`;
  const token = await serviceAccountToken(o.kube, ns, spec.serviceAccountName ?? 'default');
  const [xdsHost, xdsPort] = o.istiod.grpcAddr.split(':') as [string, string];
  const work = join(o.dir, `envoy-${md.name}`);
  mkdirSync(work, { recursive: true });

  const svcPorts = ((o.service?.['spec'] as { ports?: ServicePort[] } | undefined)?.ports ?? []).filter(
    (p) => p.name !== 'status-port',
  );
  const listeners = new Map<number, { address: string; port: number }>();
  const nodePorts: GatewayEnvoy['nodePorts'] = [];
  const staticListeners: unknown[] = [];
  const staticClusters: unknown[] = [];
  for (const p of svcPorts) {
    const target = typeof p.targetPort === 'number' ? p.targetPort : p.port;
    const to = { address: o.listenerAddress, port: movedPort(target) };
    listeners.set(target, to);
    if (!p.nodePort) continue;
    const cluster = `nodeport-${p.nodePort}`;
    staticClusters.push({
      name: cluster,
      type: 'STATIC',
      connect_timeout: '1s',
      load_assignment: {
        cluster_name: cluster,
        endpoints: [
          {
            lb_endpoints: [{ endpoint: { address: { socket_address: { address: to.address, port_value: to.port } } } }],
          },
        ],
      },
    });
    for (const a of o.nodeAddresses) {
      nodePorts.push({ address: a, nodePort: p.nodePort, servicePort: p.port, targetPort: target });
      staticListeners.push({
        name: `nodeport-${a}-${p.nodePort}`,
        address: { socket_address: { address: a, port_value: p.nodePort } },
        filter_chains: [
          {
            filters: [
              {
                name: 'envoy.filters.network.tcp_proxy',
                typed_config: {
                  '@type': 'type.googleapis.com/envoy.extensions.filters.network.tcp_proxy.v3.TcpProxy',
                  stat_prefix: `nodeport_${p.nodePort}`,
                  cluster,
                },
              },
            ],
          },
        ],
      });
    }
  }

  const bootstrap = {
    node: { id: nodeId, cluster: `${canonical}.${ns}`, metadata: nodeMetadata(o.pod, o.istiod.proxyVersion) },
    // Istio's admin port (15000) on the Pod's own address when the Pod has one on this machine (the kubelet stand-in's
    // port-forward dials it there, harness/kubelet.ts); else any loopback port (the gateway Pod's 10.43.x.y identity
    // address is never dialled).
    admin: {
      address: {
        socket_address: onLoopbackInterface(podIp)
          ? { address: podIp, port_value: ENVOY_ADMIN_PORT }
          : { address: '127.0.0.1', port_value: 0 },
      },
    },
    dynamic_resources: {
      lds_config: { ads: {}, initial_fetch_timeout: '0s', resource_api_version: 'V3' },
      cds_config: { ads: {}, initial_fetch_timeout: '0s', resource_api_version: 'V3' },
      ads_config: {
        api_type: 'GRPC',
        transport_api_version: 'V3',
        set_node_on_first_message_only: true,
        grpc_services: [
          {
            envoy_grpc: { cluster_name: 'xds-grpc' },
            initial_metadata: [{ key: 'authorization', value: `Bearer ${token}` }],
          },
        ],
      },
    },
    static_resources: {
      listeners: staticListeners,
      clusters: [
        {
          name: 'xds-grpc',
          type: 'STATIC',
          connect_timeout: '1s',
          load_assignment: {
            cluster_name: 'xds-grpc',
            endpoints: [
              {
                lb_endpoints: [
                  { endpoint: { address: { socket_address: { address: xdsHost, port_value: Number(xdsPort) } } } },
                ],
              },
            ],
          },
          typed_extension_protocol_options: {
            'envoy.extensions.upstreams.http.v3.HttpProtocolOptions': {
              '@type': 'type.googleapis.com/envoy.extensions.upstreams.http.v3.HttpProtocolOptions',
              explicit_http_config: { http2_protocol_options: {} },
            },
          },
        },
        ...staticClusters,
      ],
    },
    // Envoy resolves names only through this (a loopback port nothing answers on): a ServiceEntry or ExternalName
    // Service in a scenario fails to resolve instead of reaching the machine's resolver.
    typed_dns_resolver_config: {
      name: 'envoy.network.dns_resolver.cares',
      typed_config: {
        '@type': 'type.googleapis.com/envoy.extensions.network.dns_resolver.cares.v3.CaresDnsResolverConfig',
        resolvers: [{ socket_address: { address: '127.0.0.1', port_value: o.dnsPort } }],
        use_resolvers_as_fallback: false,
      },
    },
  };
  const bootstrapFile = join(work, 'bootstrap.json');
  writeFileSync(bootstrapFile, JSON.stringify(bootstrap, null, 1));
  const adminFile = join(work, 'admin-address');
  // A second Envoy for the same Pod (a restart) must not read the first one's admin address.
  rmSync(adminFile, { force: true });
  const log = join(work, 'envoy.log');
  const started = Date.now();
  const proc: ChildProcess = spawn(
    o.bin,
    [
      '-c',
      bootstrapFile,
      '--admin-address-path',
      adminFile,
      '--disable-hot-restart',
      '--concurrency',
      '1',
      '-l',
      'warning',
      '--drain-time-s',
      '0',
      '--local-address-ip-version',
      'v4',
    ],
    { stdio: ['ignore', openSync(log, 'a'), openSync(log, 'a')], detached: true, cwd: work },
  );
  const stop = () => stopGroup(proc, 2_000);
  const tail = () => (existsSync(log) ? readFileSync(log, 'utf8').split('\n').slice(-15).join('\n') : '');
  try {
    let adminUrl = '';
    const until = Date.now() + 60_000;
    for (;;) {
      if (proc.exitCode !== null || proc.signalCode !== null)
        throw new Error(`envoy for ${ns}/${md.name} exited (${proc.exitCode ?? proc.signalCode}):\n${tail()}`);
      if (!adminUrl && existsSync(adminFile)) {
        const a = readFileSync(adminFile, 'utf8').trim();
        if (a) adminUrl = `http://${a}`;
      }
      if (adminUrl && (await envoyReady(adminUrl, [...listeners.values()]))) break;
      if (Date.now() > until)
        throw new Error(
          `envoy for ${ns}/${md.name} not ready after 60 s (${adminUrl ? await readiness(adminUrl) : 'no admin address'}); istiod syncz: ${await syncz(o.istiod.httpUrl, proxyId)}\n${tail()}`,
        );
      await sleep(20);
    }
    return {
      pod: `${ns}/${md.name}`,
      gateway: `${ns}/${md.labels?.[GATEWAY_NAME] ?? ''}`,
      proxyId,
      adminUrl,
      listeners,
      nodePorts,
      log,
      readyMs: Date.now() - started,
      spawnedAt: started,
      pid: proc.pid,
      stop,
    };
  } catch (err) {
    await stop();
    throw err;
  }
}

async function stats(adminUrl: string): Promise<Map<string, number>> {
  const r = await fetch(
    `${adminUrl}/stats?filter=^(cluster_manager\\.(cds\\.update_success|warming_clusters|active_clusters)|listener_manager\\.(lds\\.update_success|total_listeners_active|total_listeners_warming))$`,
  );
  const out = new Map<string, number>();
  for (const line of (await r.text()).split('\n')) {
    const m = /^(\S+): (\d+)$/.exec(line);
    if (m) out.set(m[1] as string, Number(m[2]));
  }
  return out;
}

async function readiness(adminUrl: string): Promise<string> {
  try {
    return JSON.stringify(Object.fromEntries(await stats(adminUrl)));
  } catch (e) {
    return `admin: ${(e as Error).message}`;
  }
}

/**
 * Ready: CDS and LDS accepted at least once, nothing warming, and every listener Envoy was given is bound where the
 * EnvoyFilter put it (never 0.0.0.0: that would be istiod's address, and a port this machine may not give).
 */
async function envoyReady(adminUrl: string, moved: { address: string; port: number }[]): Promise<boolean> {
  const s = await stats(adminUrl).catch(() => null);
  if (!s) return false;
  if (!((s.get('cluster_manager.cds.update_success') ?? 0) >= 1 && s.get('cluster_manager.warming_clusters') === 0))
    return false;
  if (
    !(
      (s.get('listener_manager.lds.update_success') ?? 0) >= 1 &&
      s.get('listener_manager.total_listeners_warming') === 0
    )
  )
    return false;
  const ls = await listenerAddresses(adminUrl);
  const wild = ls.filter((l) => !l.startsWith('127.'));
  if (wild.length > 0) return false; // the EnvoyFilter has not reached this Envoy yet
  void moved;
  return true;
}

/** Every active listener's address:port (admin /listeners). */
export async function listenerAddresses(adminUrl: string): Promise<string[]> {
  const r = await fetch(`${adminUrl}/listeners?format=json`);
  const j = (await r.json()) as {
    listener_statuses?: {
      name: string;
      local_address?: { socket_address?: { address: string; port_value: number } };
    }[];
  };
  return (j.listener_statuses ?? []).map(
    (l) => `${l.local_address?.socket_address?.address}:${l.local_address?.socket_address?.port_value}`,
  );
}

/**
 * Upstream host addresses Envoy knows (admin /clusters) that are not loopback. `except`: Service hostnames whose
 * clusters are left out (the gateway's own Service: its endpoints are the gateway Pods, whose IPs are identity keys
 * for istiod that no route of a scenario sends to).
 */
/** An address a test put on `lo` (a TEST-NET-1 address the API server will proxy to): local, never leaves the machine. */
function onLoopbackInterface(a: string): boolean {
  // An address added with a label (harness/kubelet.ts: the test run's, lo:gwdXXXXXX) is listed under the label.
  return Object.entries(networkInterfaces()).some(
    ([name, list]) => (name === 'lo' || name.startsWith('lo:')) && (list ?? []).some((i) => i.address === a),
  );
}

export async function nonLoopbackUpstreams(adminUrl: string, except: string[] = []): Promise<string[]> {
  const j = (await (await fetch(`${adminUrl}/clusters?format=json`)).json()) as {
    cluster_statuses?: {
      name: string;
      host_statuses?: { address?: { socket_address?: { address: string; port_value: number } } }[];
    }[];
  };
  const out: string[] = [];
  for (const c of j.cluster_statuses ?? []) {
    if (except.some((h) => c.name.endsWith(`||${h}`))) continue;
    for (const h of c.host_statuses ?? []) {
      const a = h.address?.socket_address?.address;
      if (a && !a.startsWith('127.') && a !== '::1' && !onLoopbackInterface(a))
        out.push(`${c.name} ${a}:${h.address?.socket_address?.port_value}`);
    }
  }
  return out;
}

/** istiod's sync state for one proxy (/debug/syncz): what was sent and acked, and the last NACK. */
export async function syncz(httpUrl: string, proxyId: string): Promise<string> {
  try {
    const all = (await (await fetch(`${httpUrl}/debug/syncz`)).json()) as { proxy?: string; node?: { id?: string } }[];
    const mine = all.filter((s) => JSON.stringify(s).includes(proxyId));
    return JSON.stringify(mine).slice(0, 2000);
  } catch (e) {
    return `syncz: ${(e as Error).message}`;
  }
}

// ---------------------------------------------------------------------------------------------------------------
// The lane: addresses, backends and Envoys for the scenarios of one run.

export interface LaneOptions {
  bin: string;
  kube: Kube;
  istiod: IstiodXds;
  etcdUrl: string;
  /** The API server's --etcd-prefix (the harness's main API server: /registry-main). */
  etcdPrefix: string;
  dir: string;
}

/** What applyScenario needs from the lane (test/integration/harness/apply.ts, option `lane`). */
export interface LaneHooks {
  /** The InternalIP the lane gives a Node. */
  nodeAddress(node: string): string;
  /** The loopback address the lane gives an app Pod (fixture podIP replaced). */
  podAddress(ns: string, name: string, fixtureIp: string): string;
  /** The loopback address of a Gateway's listeners. */
  gatewayAddress(ns: string, gateway: string): string;
  /** Write an EndpointSlice whose addresses are already the lane's, through etcd. */
  writeSlice(slice: Obj): Promise<void>;
  /** A backend that is no Pod (a ServiceEntry endpoint the lane gave an address), started with the scenario. */
  addBackend(b: BackendPod): void;
  listenerMoveFilter: typeof listenerMoveFilter;
}

export interface LaneScenario {
  envoys: GatewayEnvoy[];
  backends: BackendPod[];
  nodeAddresses: string[];
  /**
   * The target's real request: GET <path> with Host <host> through the NodePort stand-in of the gateway listener that
   * serves it (HTTPS listener with SNI for an https target when the Gateway has one, else the HTTP listener).
   */
  request(target: string, opts?: { gateway?: string }): Promise<RealAnswer>;
  /** A real gRPC call for the target's host and path, through the same NodePort stand-in as `request`. */
  grpc(target: string, opts?: { gateway?: string }): Promise<GrpcAnswer>;
  /** Where `request` sends it: what a proxy in front of the gateway (nginx) forwards to. */
  upstream(target: string, opts?: { gateway?: string }): Promise<Upstream | { error: string }>;
  stop(): Promise<void>;
}

/** A gateway address and port the real request goes to (TLS with SNI = host when the listener is HTTPS). */
export interface Upstream {
  address: string;
  port: number;
  tls: boolean;
  host: string;
  path: string;
}

export class EnvoyLane implements LaneHooks {
  private readonly nodes = new Map<string, string>();
  private readonly pods = new Map<string, string>();
  private readonly gateways = new Map<string, string>();
  readonly listenerMoveFilter = listenerMoveFilter;
  private dnsPort = 0;
  /** The Envoys of the running scenario. */
  private running: GatewayEnvoy[] = [];
  /** Backends that are not Pods (a ServiceEntry's endpoints), registered by applyScenario. */
  private extra: BackendPod[] = [];
  /** The gateway Services of the running scenario (<name>.<ns>.svc.cluster.local). */
  private gatewayHosts: string[] = [];

  private constructor(
    readonly o: LaneOptions,
    readonly pool: LoopbackPool,
  ) {}

  static async create(o: LaneOptions): Promise<EnvoyLane> {
    const lane = new EnvoyLane(o, await LoopbackPool.create());
    // A UDP port that was free a moment ago: nothing answers there, so Envoy's DNS lookups fail locally.
    lane.dnsPort = await new Promise<number>((resolve) => {
      const s = netServer();
      s.listen(0, '127.0.0.1', () => {
        const p = (s.address() as { port: number }).port;
        s.close(() => resolve(p));
      });
    });
    return lane;
  }

  /** The lane's Node addresses so far ([the fixture's address, the lane's InternalIP]). */
  nodeEntries(): [string, string][] {
    return [...this.nodes];
  }

  nodeAddress(node: string): string {
    let a = this.nodes.get(node);
    if (!a) this.nodes.set(node, (a = this.pool.next()));
    return a;
  }

  podAddress(ns: string, name: string, _fixtureIp: string): string {
    const k = `${ns}/${name}`;
    let a = this.pods.get(k);
    if (!a) this.pods.set(k, (a = this.pool.next()));
    return a;
  }

  gatewayAddress(ns: string, gateway: string): string {
    const k = `${ns}/${gateway}`;
    let a = this.gateways.get(k);
    if (!a) this.gateways.set(k, (a = this.pool.next()));
    return a;
  }

  addBackend(b: BackendPod): void {
    this.extra.push(b);
  }

  writeSlice(slice: Obj): Promise<void> {
    return writeSliceViaEtcd(this.o.kube, this.o.etcdUrl, this.o.etcdPrefix, slice);
  }

  /**
   * The target's real request, as the user's proxy would send it: to the Node's InternalIP and the nodePort of the
   * gateway listener port the proxy forwards to. The Gateway: the one `gateway` (NS/NAME[:PORT], as --gateway) names,
   * else the first Istio-class Gateway of the scenario with a listener whose hostname fits the host. The port: the
   * one `gateway` gives (listener port or nodePort), else the HTTP listener on 80, else the first HTTP listener, else
   * the first HTTPS listener (then TLS with SNI = host). Without a nodePort for it, straight to the listener.
   */
  async request(namespaces: string[], target: string, opts: { gateway?: string } = {}): Promise<RealAnswer> {
    const u = await this.upstream(namespaces, target, opts);
    if ('error' in u) return { sent: `GET ${target}`, error: u.error };
    const outside = await this.outsideLoopback();
    if (outside) return { sent: `GET ${target}`, error: outside };
    return sendRequest(u.address, u.port, u.host, u.path, { tls: u.tls });
  }

  /** Never let Envoy dial out of loopback: every upstream address it knows must be the lane's (else why not to send). */
  async outsideLoopback(): Promise<string | null> {
    for (const e of this.running) {
      const outside = await nonLoopbackUpstreams(e.adminUrl, this.gatewayHosts);
      if (outside.length > 0)
        return `not sent: Envoy ${e.pod} has upstream addresses outside loopback (${outside.slice(0, 3).join(', ')})`;
    }
    return null;
  }

  /** Where `request` sends the target's request (the choice it documents), or why there is nowhere to send it. */
  async upstream(
    namespaces: string[],
    target: string,
    opts: { gateway?: string } = {},
  ): Promise<Upstream | { error: string }> {
    const kube = this.o.kube;
    const bare = target.replace(/^internal:/, '');
    const url = /^https?:\/\//i.test(bare) ? new URL(bare) : new URL(`http://${bare}/`);
    const host = url.hostname;
    const path = `${url.pathname}${url.search}`;
    const pin = opts.gateway ? /^([^/]+)\/([^:]+)(?::(\d+))?$/.exec(opts.gateway) : null;
    type Listener = { name: string; port: number; protocol: string; hostname?: string };
    const fits = (l: Listener) =>
      !l.hostname || l.hostname === host || (l.hostname.startsWith('*.') && host.endsWith(l.hostname.slice(1)));
    let chosen: { ns: string; name: string; listeners: Listener[] } | undefined;
    for (const [key] of this.gateways) {
      const [ns, name] = key.split('/') as [string, string];
      if (!namespaces.includes(ns)) continue;
      if (pin && (pin[1] !== ns || pin[2] !== name)) continue;
      const r = await kube.raw('GET', `/apis/gateway.networking.k8s.io/v1/namespaces/${ns}/gateways/${name}`);
      if (r.status !== 200) continue;
      const listeners = ((r.json as { spec: { listeners?: Listener[] } }).spec.listeners ?? []) as Listener[];
      if (!chosen || (!chosen.listeners.some(fits) && listeners.some(fits))) chosen = { ns, name, listeners };
    }
    if (!chosen) return { error: 'no Gateway of an Istio class in this scenario' };
    const svc = (await kube.list('v1', 'Service', chosen.ns, `${GATEWAY_NAME}=${chosen.name}`))[0];
    const ports = ((svc?.['spec'] as { ports?: ServicePort[] } | undefined)?.ports ?? []) as ServicePort[];
    const ls = chosen.listeners;
    const pinned = pin?.[3] ? Number(pin[3]) : undefined;
    const port =
      (pinned !== undefined
        ? ls.some((l) => l.port === pinned)
          ? pinned
          : ports.find((p) => p.nodePort === pinned)?.port
        : undefined) ??
      (pinned !== undefined
        ? undefined
        : (ls.find((l) => l.protocol === 'HTTP' && l.port === 80)?.port ??
          ls.find((l) => l.protocol === 'HTTP')?.port ??
          ls.find((l) => l.protocol === 'HTTPS')?.port ??
          ls[0]?.port));
    const node = [...this.nodes.values()][0];
    // A port the Gateway has no listener and its Service no nodePort for: the proxy forwards to a closed port.
    if (pinned !== undefined && port === undefined && node)
      return { address: node, port: pinned, tls: false, host, path };
    if (port === undefined) return { error: `Gateway ${chosen.ns}/${chosen.name} has no listener` };
    const tls = ls.find((l) => l.port === port)?.protocol === 'HTTPS';
    const sp = ports.find((p) => p.port === port);
    if (sp?.nodePort && node) return { address: node, port: sp.nodePort, tls, host, path };
    const target_ = typeof sp?.targetPort === 'number' ? sp.targetPort : port;
    return { address: this.gatewayAddress(chosen.ns, chosen.name), port: movedPort(target_), tls, host, path };
  }

  /**
   * Start the data plane for a loaded scenario: backends for every app Pod the lane gave an address (listening on its
   * containerPorts, else the ports of the EndpointSlices it is in), and one Envoy per live gateway Pod of every Gateway
   * the lane moved (i.e. of an Istio class).
   */
  async start(namespaces: string[]): Promise<LaneScenario> {
    const kube = this.o.kube;
    const backends: BackendPod[] = [];
    const servers: Closer[] = [];
    const envoys: GatewayEnvoy[] = [];
    this.running = envoys;
    const stop = async () => {
      await Promise.all(envoys.map((e) => e.stop()));
      await closeServers(servers);
      this.running = [];
      this.extra = [];
      this.gatewayHosts = [];
    };
    try {
      const slices: Obj[] = [];
      for (const ns of namespaces) slices.push(...(await kube.list('discovery.k8s.io/v1', 'EndpointSlice', ns)));
      for (const ns of namespaces) {
        for (const p of await kube.list('v1', 'Pod', ns)) {
          const ip = (p['status'] as { podIP?: string }).podIP;
          // Only Pods the lane gave an address (the gateway Pods' IPs are identity keys for istiod, never dialled).
          if (!ip || this.pods.get(`${ns}/${p.metadata.name}`) !== ip) continue;
          const spec = p['spec'] as { containers?: { ports?: { containerPort: number }[] }[] };
          const declared = (spec.containers ?? []).flatMap((c) => (c.ports ?? []).map((x) => x.containerPort));
          const fromSlices = slices
            .filter((s) =>
              ((s['endpoints'] as { addresses: string[] }[] | undefined) ?? []).some((e) => e.addresses.includes(ip)),
            )
            .flatMap((s) =>
              ((s['ports'] as { port?: number }[] | undefined) ?? [])
                .map((x) => x.port)
                .filter((x): x is number => x !== undefined),
            );
          const st = p['status'] as { phase?: string; containerStatuses?: { state?: Record<string, unknown> }[] };
          const listening =
            st.phase === 'Running' && (st.containerStatuses ?? []).every((c) => !c.state || 'running' in c.state);
          const b: BackendPod = {
            pod: `${ns}/${p.metadata.name}`,
            address: ip,
            ports: [...new Set(declared.length ? declared : fromSlices)],
            listening,
            ...((p.metadata.annotations as Record<string, string> | undefined)?.[BACKEND_PROTOCOL_ANNOTATION] === 'h2'
              ? { h2only: true }
              : {}),
          };
          backends.push(b);
          servers.push(...(await startBackend(b)));
        }
      }
      for (const b of this.extra) {
        backends.push(b);
        servers.push(...(await startBackend(b)));
      }
      const nodeAddresses = [...this.nodes.values()];
      for (const [key, address] of this.gateways) {
        const [ns, gw] = key.split('/') as [string, string];
        if (!namespaces.includes(ns)) continue;
        const gwSvcs = await kube.list('v1', 'Service', ns, `${GATEWAY_NAME}=${gw}`);
        this.gatewayHosts.push(...gwSvcs.map((x) => `${x.metadata.name}.${ns}.svc.cluster.local`));
        const svc = gwSvcs[0];
        for (const pod of await kube.list('v1', 'Pod', ns, `${GATEWAY_NAME}=${gw}`)) {
          if (pod.metadata['deletionTimestamp'] || !(pod['status'] as { podIP?: string }).podIP) continue;
          envoys.push(
            await startGatewayEnvoy({
              bin: this.o.bin,
              kube,
              istiod: this.o.istiod,
              pod,
              service: svc,
              listenerAddress: address,
              nodeAddresses,
              dir: this.o.dir,
              dnsPort: this.dnsPort,
            }),
          );
        }
      }
      const request = (target: string, opts: { gateway?: string } = {}) => this.request(namespaces, target, opts);
      const upstream = (target: string, opts: { gateway?: string } = {}) => this.upstream(namespaces, target, opts);
      const grpc = async (target: string, opts: { gateway?: string } = {}): Promise<GrpcAnswer> => {
        const u = await this.upstream(namespaces, target, opts);
        if ('error' in u) return { sent: `gRPC ${target}`, error: u.error };
        const outside = await this.outsideLoopback();
        if (outside) return { sent: `gRPC ${target}`, error: outside };
        return sendGrpc(u.address, u.port, u.host, u.path, { tls: u.tls });
      };
      return { envoys, backends, nodeAddresses, request, grpc, upstream, stop };
    } catch (err) {
      await stop();
      throw err;
    }
  }
}

// ---------------------------------------------------------------------------------------------------------------
// A DNS server for gwdoctor's probes in front of the lane: every A question answered with one address.

export interface LoopbackDns {
  address: string;
  port: number;
  stop(): Promise<void>;
}

/**
 * Answers every A question with `answer` (AAAA and the rest: no records), on `address:port` (port 0: any). For
 * gwdoctor run as a CLI, whose "system resolver" is resolv.conf's nameservers on port 53: with root, port 53 on a
 * lane address and GWDOCTOR_RESOLV_CONF naming it keep every name lookup on loopback.
 */
export async function startLoopbackDns(address: string, port: number, answer: string): Promise<LoopbackDns> {
  const sock = createSocket('udp4');
  sock.on('message', (msg, rinfo) => {
    try {
      const q = packet.decode(msg);
      const question = q.questions?.[0];
      const answers = question?.type === 'A' ? [{ type: 'A' as const, name: question.name, ttl: 5, data: answer }] : [];
      const res = packet.encode({
        id: q.id,
        type: 'response',
        flags: packet.RECURSION_DESIRED | packet.RECURSION_AVAILABLE | packet.AUTHORITATIVE_ANSWER,
        questions: q.questions ?? [],
        answers,
      });
      sock.send(res, rinfo.port, rinfo.address);
    } catch {
      // not DNS: ignored
    }
  });
  await new Promise<void>((resolve, reject) => {
    sock.once('error', reject);
    sock.bind(port, address, () => resolve());
  });
  return { address, port: sock.address().port, stop: () => new Promise<void>((r) => sock.close(() => r())) };
}
