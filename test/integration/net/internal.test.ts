// --internal against real peers on loopback: dnsmasq, nginx terminating TLS (openssl certificates), a real gateway
// Envoy (test/helpers/net/envoy.ts). What the proxy answers for a host that must stay internal decides the proxy layer; the cluster layers name
// the route behind an exposure. Also through the built CLI (text says what was proven).

import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { INTERNAL_LAYERS } from '../../../checks/index.js';
import { packetResolver } from '../../../src/net/dns-resolver.js';
import { undiciProbe } from '../../../src/net/http-probe.js';
import { runTarget, type Env } from '../../../src/pipeline.js';
import { parseTarget } from '../../../src/target.js';
import type { Finding, TargetReport } from '../../../src/types.js';
import { gwdoctorAsync } from '../../helpers/cli.js';
import { requireBins } from '../../helpers/net/bins.js';
import { TestPki, days } from '../../helpers/net/certs.js';
import { fixtureCluster, writeFixture } from '../../helpers/net/cluster.js';
import { startDnsmasq, type Dnsmasq } from '../../helpers/net/dnsmasq.js';
import { requireEnvoy, startRealEnvoy, type RealEnvoy } from '../../helpers/net/envoy.js';
import { startNginx, type Nginx } from '../../helpers/net/nginx.js';
import { freePort } from '../../helpers/ports.js';

const found = requireBins();
const real = requireEnvoy();
const skipWhy = found.skip ?? real.skip;
const d = skipWhy ? describe.skip : describe;
if (skipWhy) process.stderr.write(`[net] skipping the --internal network tests: ${skipWhy}\n`);

let dir: string;
let dns: Dnsmasq;
let dnsNx: Dnsmasq;
let nginx: Nginx;
let caFile: string;
let closed: number;
let envoy: RealEnvoy;

d('--internal: the proxy layer against dnsmasq, nginx and a real Envoy', () => {
  beforeAll(async () => {
    const bins = found.bins!;
    dir = mkdtempSync(join(tmpdir(), 'gwdoctor-internal-'));
    const pki = new TestPki(dir, bins.openssl);
    caFile = pki.ca('test-ca');
    const all = pki.leaf('test-ca', 'all', ['worker.example.com', 'admin.example.com'], days(-1), days(60));
    const publicOnly = pki.leaf('test-ca', 'public', ['worker.example.com'], days(-1), days(60));
    // Envoy that routes only worker (admin -> 404 NR), and one where a route for admin reaches a backend.
    envoy = await startRealEnvoy(real.bin!, dir, {
      public: { 'worker.example.com': 'ok' },
      exposed: { 'worker.example.com': 'ok', 'admin.example.com': 'ok' },
    });
    closed = await freePort();
    dns = await startDnsmasq(bins.dnsmasq, { address: { 'example.com': '127.0.0.1' }, local: ['example.com'] });
    dnsNx = await startDnsmasq(bins.dnsmasq, {
      address: { 'example.com': '127.0.0.1', 'admin.example.com': '' },
      local: ['example.com'],
    });
    const pass = (port: number) =>
      `proxy_pass http://127.0.0.1:${port}; proxy_http_version 1.1; proxy_set_header Host $http_host;`;
    const names = 'worker.example.com admin.example.com';
    nginx = await startNginx(bins.nginx, join(dir, 'nginx'), [
      { name: 'public', serverName: names, ...all, location: pass(envoy.ports['public']!) },
      { name: 'exposed', serverName: names, ...all, location: pass(envoy.ports['exposed']!) },
      { name: 'deny', serverName: names, ...all, location: 'return 403;' },
      { name: 'nocert', serverName: names, ...publicOnly, location: pass(envoy.ports['exposed']!) },
    ]);
  });

  afterAll(async () => {
    await nginx?.stop();
    await dns?.stop();
    await dnsNx?.stop();
    await envoy?.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  async function run(o: { port: number; fixture?: string; stub?: string; nx?: boolean }): Promise<TargetReport> {
    const resolvers = [`127.0.0.1:${(o.nx ? dnsNx : dns).port}`];
    const env: Env = {
      cluster: fixtureCluster(o.fixture ?? 'seed-healthy', envoy.ports[o.stub ?? 'public']!),
      clusterUnavailable: null,
      gatewayFilter: null,
      offline: false,
      net: { resolvers, expectIps: [], caFile, port: o.port },
      resolver: async () => packetResolver(resolvers, { system: false }),
      probe: async () => undiciProbe,
      signal: AbortSignal.timeout(30_000),
    };
    return runTarget(INTERNAL_LAYERS, { ...parseTarget('admin.example.com'), expect: 'internal' }, env, {
      until: null,
      intervalMs: 0,
    });
  }
  const layer = (r: TargetReport, id: string) => r.layers.find((l) => l.id === id) as Finding;

  it('passes when the proxy forwards to Envoy and Envoy answers 404 (no route), with both facts in the proxy and route layers', async () => {
    const r = await run({ port: nginx.ports['public']! });
    expect(r.verdict).toBe('pass');
    expect(layer(r, 'dns').summary).toMatch(/admin\.example\.com resolves to 127\.0\.0\.1/);
    expect(layer(r, 'proxy').summary).toBe(
      `the proxy does not reach a backend for admin.example.com: 127.0.0.1:${nginx.ports['public']} HTTP 404 from Envoy (no route; the proxy hides Envoy's headers, the gateway's NodePort answers the same)`,
    );
    expect(layer(r, 'route').summary).toBe(
      'no HTTPRoute or GRPCRoute on Gateway istio-ingress/example-istio-gateway serves admin.example.com',
    );
  });

  it('passes when the proxy refuses the name itself (nginx return 403)', async () => {
    const r = await run({ port: nginx.ports['deny']! });
    expect(r.verdict).toBe('pass');
    expect(layer(r, 'proxy').summary).toMatch(/HTTP 403 from nginx/);
  });

  it('passes when the proxy has no valid certificate for the name (clients stop at TLS)', async () => {
    const r = await run({ port: nginx.ports['nocert']! });
    expect(r.verdict).toBe('pass');
    expect(layer(r, 'proxy').summary).toMatch(/no valid certificate for admin\.example\.com/);
  });

  it('passes when nothing listens on the proxy port (connection refused)', async () => {
    const r = await run({ port: closed });
    expect(r.verdict).toBe('pass');
    expect(layer(r, 'proxy').summary).toMatch(/connection refused/);
  });

  it('passes without a request when DNS has no public answer (NXDOMAIN)', async () => {
    const r = await run({ port: nginx.ports['exposed']!, nx: true });
    expect(r.verdict).toBe('pass');
    expect(layer(r, 'dns').summary).toMatch(/has no public DNS answer \(NXDOMAIN/);
    expect(layer(r, 'proxy').summary).toMatch(/^not asked/);
  });

  it('fails InternalHostExposed at proxy when a backend answers through Envoy, and the route layer names the route that serves it', async () => {
    const r = await run({ port: nginx.ports['exposed']!, fixture: 'internal-exposed', stub: 'exposed' });
    expect(r).toMatchObject({ verdict: 'fail', failedLayer: 'proxy' });
    expect(layer(r, 'proxy')).toMatchObject({ status: 'fail', code: 'InternalHostExposed' });
    expect(layer(r, 'proxy').summary).toMatch(/a backend answered HTTP 200 through Envoy/);
    expect(layer(r, 'route')).toMatchObject({ status: 'fail', code: 'InternalHostExposed' });
    expect(layer(r, 'route').summary).toMatch(/HTTPRoute istio-ingress\/example-admin/);
  });

  it('through the CLI: exit 0 and a verdict line that says what was proven; exit 1 when exposed', async () => {
    const common = ['--resolver', `127.0.0.1:${dns.port}`, '--ca-file', caFile, '--internal', 'admin.example.com'];
    const ok = await gwdoctorAsync([
      ...common,
      '--port',
      String(nginx.ports['public']),
      '--manifests',
      writeFixture(join(dir, 'm1'), 'seed-healthy', envoy.ports['public']!),
    ]);
    expect(ok.code, ok.stderr).toBe(0);
    expect(ok.stdout).toContain(
      `admin.example.com/ stays internal: no HTTPRoute or GRPCRoute on Gateway istio-ingress/example-istio-gateway serves admin.example.com; the proxy does not reach a backend for admin.example.com: 127.0.0.1:${nginx.ports['public']} HTTP 404 from Envoy (no route; the proxy hides Envoy's headers, the gateway's NodePort answers the same)`,
    );
    const bad = await gwdoctorAsync([
      ...common,
      '--port',
      String(nginx.ports['exposed']),
      '--manifests',
      writeFixture(join(dir, 'm2'), 'internal-exposed', envoy.ports['exposed']!),
    ]);
    expect(bad.code, bad.stderr).toBe(1);
    expect(bad.stdout).toMatch(/admin\.example\.com\/ is exposed \(proxy\): it must stay internal/);
  });
});
