// The dns and proxy layers in front of a real Envoy: dnsmasq -> nginx (TLS, proxy_set_header Host $host) -> upstream
// Envoy 1.40.0 answering with its own local replies from real routing (test/helpers/net/envoy.ts). nginx replaces
// Envoy's `server: istio-envoy` and the local replies carry no x-envoy-* header, so only the status, the body and the
// direct NodePort probe (the fixture's gateway nodePort is the scenario's Envoy listener) say who answered.

import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LAYERS } from '../../../checks/index.js';
import { ManifestCluster } from '../../../src/cluster/manifests.js';
import type { K8sObject } from '../../../src/cluster/objects.js';
import type { ClusterReader } from '../../../src/cluster/reader.js';
import { loadYaml, renderFix } from '../../../src/fix/render.js';
import { packetResolver } from '../../../src/net/dns-resolver.js';
import { undiciProbe } from '../../../src/net/http-probe.js';
import { runTarget, type Env } from '../../../src/pipeline.js';
import { parseTarget } from '../../../src/target.js';
import type { Finding, HttpProbe, TargetReport } from '../../../src/types.js';
import { ProbeFailure } from '../../../src/net/probe-errors.js';
import { outcome } from '../../helpers/fixtures.js';
import { requireBins } from '../../helpers/net/bins.js';
import { TestPki, days } from '../../helpers/net/certs.js';
import { fixtureObjects } from '../../helpers/net/cluster.js';
import { startDnsmasq, type Dnsmasq } from '../../helpers/net/dnsmasq.js';
import { requireEnvoy, scenario, startRealEnvoy, type EnvoyScenario, type RealEnvoy } from '../../helpers/net/envoy.js';
import { startNginx, type Nginx, type NginxServer } from '../../helpers/net/nginx.js';
import { proxyBins, rawStatus, startCaddy, startHaproxy, type Proxy } from '../../helpers/net/proxies.js';

await loadYaml(); // the yaml library is loaded on demand (src/fix/render.ts); these tests render fixes directly

const found = requireBins();
const real = requireEnvoy();
const envoyBin = real.bin;
const skip = found.skip ?? real.skip;
const d = skip ? describe.skip : describe;
if (skip) process.stderr.write(`[net] skipping the real-Envoy proxy tests: ${skip}\n`);

// 'stream': nginx needs proxy_buffering off to pass a stream on at all (with buffering it holds even the response
// headers until a buffer fills), as nginx's docs tell anyone serving server-sent events.
const SCENARIOS: Record<string, EnvoyScenario> = {
  ok: 'ok',
  nr: 'nr',
  nc: 'nc',
  uh: 'uh',
  uf: 'uf',
  rbac: 'rbac',
  stream: 'stream',
  'tls-mismatch': 'tls-mismatch',
};

let dir: string;
let dns: Dnsmasq;
let nginx: Nginx;
let envoy: RealEnvoy;
let caFile: string;
let leaf: { cert: string; key: string };

d('the proxy layer in front of a real Envoy (nginx replaces its server header)', () => {
  beforeAll(async () => {
    const bins = found.bins!;
    dir = mkdtempSync(join(tmpdir(), 'gwdoctor-real-envoy-'));
    const pki = new TestPki(dir, bins.openssl);
    caFile = pki.ca('test-ca');
    leaf = pki.leaf('test-ca', 'good', ['api.example.com', 'worker.example.com'], days(-1), days(60));
    envoy = await startRealEnvoy(
      envoyBin!,
      dir,
      Object.fromEntries(Object.entries(SCENARIOS).map(([k, v]) => [k, scenario(v)])),
    );
    // meta/ll: a DNS answer pointing at the cloud metadata service, and at an IPv6 link-local address.
    dns = await startDnsmasq(bins.dnsmasq, {
      address: { 'example.com': '127.0.0.1', 'meta.example.com': '169.254.169.254', 'll.example.com': 'fe80::1' },
      local: ['example.com'],
    });
    const server = (name: string, location: string): NginxServer => ({
      name,
      serverName: 'api.example.com worker.example.com',
      ...leaf,
      location,
    });
    // What the README tells users to write: HTTP/1.1 upstream and Host $host.
    const good = (port: number) =>
      `proxy_pass http://127.0.0.1:${port}; proxy_http_version 1.1; proxy_set_header Host $host;`;
    nginx = await startNginx(bins.nginx, join(dir, 'nginx'), [
      ...Object.keys(SCENARIOS).map((s) =>
        server(s, `${good(envoy.ports[s]!)}${s === 'stream' ? ' proxy_buffering off;' : ''}`),
      ),
      // nginx's default proxy_http_version is 1.0: Istio's gateway Envoy answers 426.
      server('http10', `proxy_pass http://127.0.0.1:${envoy.ports['ok']}; proxy_set_header Host $host;`),
    ]);
  }, 120_000);

  afterAll(async () => {
    await nginx?.stop();
    await dns?.stop();
    await envoy?.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  interface Run {
    /** nginx server block (and, unless `gateway` says otherwise, the Envoy listener the fixture's NodePort points at). */
    proxy: string;
    gateway?: string;
    fixture?: string;
    target?: string;
    expectIps?: string[];
    edit?: (objs: K8sObject[]) => void;
    timeoutMs?: number;
    cluster?: boolean;
    /** The probe to use (default: the real one). */
    probe?: HttpProbe;
  }

  function env(r: Run): Env {
    const objs = fixtureObjects(r.fixture ?? 'seed-healthy', envoy.ports[r.gateway ?? r.proxy]!);
    r.edit?.(objs);
    const cluster: ClusterReader | null = r.cluster === false ? null : new ManifestCluster(objs);
    const resolvers = [`127.0.0.1:${dns.port}`];
    return {
      cluster,
      clusterUnavailable: cluster ? null : 'no kubeconfig found',
      gatewayFilter: null,
      offline: false,
      net: { resolvers, expectIps: r.expectIps ?? [], caFile, port: nginx.ports[r.proxy]! },
      resolver: async () => packetResolver(resolvers, { system: false }),
      probe: async () => r.probe ?? undiciProbe,
      signal: AbortSignal.timeout(r.timeoutMs ?? 30_000),
    };
  }
  const run = (r: Run): Promise<TargetReport> =>
    runTarget(LAYERS, parseTarget(r.target ?? 'https://api.example.com/'), env(r), { until: null, intervalMs: 0 });
  const layer = (rep: TargetReport, id: string) => rep.layers.find((l) => l.id === id) as Finding;
  const text = (f: Finding) =>
    `${f.summary}\n${f.evidence.map((e) => `${e.ref}: ${e.detail}`).join('\n')}\n${f.fix ? `${f.fix.explain}\n${renderFix(f.fix)}` : ''}`;

  it('healthy: every layer passes; the backend answered through nginx and Envoy', async () => {
    const rep = await run({ proxy: 'ok' });
    expect(outcome(rep)).toMatchObject({ verdict: 'pass', layer: null, code: null });
    expect(text(layer(rep, 'proxy'))).toContain('x-envoy-upstream-service-time');
    expect(envoy.seen).toContain('api.example.com');
  });

  it('a streaming 200 (body left open) passes within seconds under a 6 s --timeout: the headers prove the path', async () => {
    const t0 = Date.now();
    const rep = await run({ proxy: 'stream', timeoutMs: 6000 });

    expect(outcome(rep)).toMatchObject({ verdict: 'pass', layer: null, code: null });
    expect(Date.now() - t0).toBeLessThan(5000);
    expect(text(layer(rep, 'proxy'))).toContain('the body was still open');
  });

  describe("Envoy's local replies through nginx, which hides its headers: the cluster layer that knows the cause names it", () => {
    it('404 NR with no HTTPRoute for the host: proxy passes, route fails NoRouteForHost carrying the 404', async () => {
      const rep = await run({ proxy: 'nr', fixture: 'no-route-for-host' });
      expect(layer(rep, 'proxy').status).toBe('pass');
      expect(outcome(rep)).toMatchObject({ verdict: 'fail', layer: 'route', code: 'NoRouteForHost' });
      expect(text(layer(rep, 'route'))).toMatch(/HTTP 404 from Envoy.*NR/);
    });

    it('500 NC for a backendRef to a missing Service: endpoints ServiceNotFound (as --offline says), not GatewayErrorResponse at the grant layer', async () => {
      const rep = await run({ proxy: 'nc', fixture: 'service-not-found' });
      expect(outcome(rep)).toMatchObject({ verdict: 'fail', layer: 'endpoints', code: 'ServiceNotFound' });
      expect(layer(rep, 'proxy').status).toBe('pass');
      expect(layer(rep, 'grant').status).toBe('pass');
      expect(text(layer(rep, 'grant'))).toContain('the endpoints layer can, and checks next');
      expect(text(layer(rep, 'endpoints'))).toMatch(/HTTP 500 from Envoy with an empty body \(NC/);
    });

    it('500 NC for a backendRef to a missing port: endpoints ServicePortMismatch', async () => {
      const rep = await run({ proxy: 'nc', fixture: 'service-port-mismatch' });
      expect(outcome(rep)).toMatchObject({ verdict: 'fail', layer: 'endpoints', code: 'ServicePortMismatch' });
    });

    it('500 NC with the ReferenceGrant missing: grant ReferenceGrantMissing carrying the 500', async () => {
      const rep = await run({ proxy: 'nc', fixture: 'grant-missing' });
      expect(outcome(rep)).toMatchObject({ verdict: 'fail', layer: 'grant', code: 'ReferenceGrantMissing' });
      expect(text(layer(rep, 'grant'))).toMatch(/HTTP 500 from Envoy/);
      expect(layer(rep, 'endpoints').status).toBe('skip');
    });

    it('500 NC while every cluster layer finds the objects right: GatewayErrorResponse at the last layer that could explain it (exit 2), never a pass', async () => {
      const rep = await run({ proxy: 'nc', gateway: 'nc' });
      expect(outcome(rep)).toMatchObject({ verdict: 'error', layer: 'endpoints', code: 'GatewayErrorResponse' });
      expect(layer(rep, 'grant').status).toBe('pass');
      expect(layer(rep, 'endpoints').summary).toMatch(/but the gateway answered HTTP 500/);
    });

    it('503 "no healthy upstream" with no ready endpoints: endpoints NoReadyEndpoints carrying it', async () => {
      const rep = await run({ proxy: 'uh', fixture: 'no-ready-endpoints' });
      expect(layer(rep, 'proxy').status).toBe('pass');
      expect(outcome(rep)).toMatchObject({ verdict: 'fail', layer: 'endpoints', code: 'NoReadyEndpoints' });
      expect(text(layer(rep, 'endpoints'))).toContain('no healthy upstream');
    });

    it('503 "upstream connect error" to ready endpoints, no mesh objects in the manifests: BackendConnectFailed at mesh (endpoints hands it on), quoting Envoy\'s reset reason', async () => {
      const rep = await run({ proxy: 'uf' });
      expect(outcome(rep)).toMatchObject({ verdict: 'fail', layer: 'mesh', code: 'BackendConnectFailed' });
      expect(text(layer(rep, 'endpoints'))).toContain('the mesh layer can, and checks next');
      expect(text(layer(rep, 'mesh'))).toContain('reset reason: remote connection failure');
      expect(layer(rep, 'mesh').summary).toMatch(/the mesh policies were not checked/);
    });

    it('TLS from the gateway to a plaintext backend, the DestinationRule tls.mode SIMPLE in the manifests: mesh DestinationRuleTlsMismatch carrying the 503, with the patch of that tls.mode', async () => {
      const rep = await run({ proxy: 'tls-mismatch', fixture: 'mesh-dr-simple-to-plaintext' });
      expect(outcome(rep)).toMatchObject({ verdict: 'fail', layer: 'mesh', code: 'DestinationRuleTlsMismatch' });
      // Envoy 1.40 names no TLS failure here: the plaintext backend answers the ClientHello with an HTTP 400 and closes.
      expect(text(layer(rep, 'mesh'))).toMatch(
        /HTTP 503 "upstream connect error" from Envoy \(UF: .*\), reset reason: remote connection failure/,
      );
      expect(renderFix(layer(rep, 'mesh').fix!)).toMatch(
        /"op":"replace","path":"\/spec\/trafficPolicy\/tls\/mode","value":"DISABLE"/,
      );
    });

    it('403 "RBAC: access denied" with the DENY policy in the manifests: mesh AuthorizationDenied carrying the 403, never ProxyNotForwardingToGateway ("the proxy answers itself")', async () => {
      const rep = await run({ proxy: 'rbac', fixture: 'mesh-authz-deny-gateway' });
      expect(outcome(rep)).toMatchObject({ verdict: 'fail', layer: 'mesh', code: 'AuthorizationDenied' });
      expect(layer(rep, 'proxy').status).toBe('pass');
      expect(text(layer(rep, 'proxy'))).toMatch(/server: nginx/);
      expect(text(layer(rep, 'proxy'))).toMatch(
        /direct GET http:\/\/127\.0\.0\.1:\d+ Host: api\.example\.com .*HTTP 403 .*server: istio-envoy; body: "RBAC: access denied"/,
      );
      expect(text(layer(rep, 'mesh'))).toMatch(/HTTP 403 "RBAC: access denied" from Envoy/);
      expect(text(layer(rep, 'mesh'))).toMatch(/Envoy RBAC policy ns\[istio-ingress\]-policy\[.*\]-rule\[0\] matches/);
    });

    it('the same 403 with manifests that hold no policy: GatewayRbacDenied at mesh, saying it could not look', async () => {
      const rep = await run({ proxy: 'rbac' });
      expect(outcome(rep)).toMatchObject({ verdict: 'fail', layer: 'mesh', code: 'GatewayRbacDenied' });
      expect(text(layer(rep, 'mesh'))).toContain('kubectl get authorizationpolicies.security.istio.io -A');
      expect(layer(rep, 'mesh').summary).toMatch(/the mesh policies were not checked/);
    });

    it("the same 403 without cluster access: still GatewayRbacDenied (the body is Envoy's RBAC filter's own)", async () => {
      const rep = await run({ proxy: 'rbac', cluster: false });
      expect(outcome(rep)).toMatchObject({ verdict: 'fail', layer: 'proxy', code: 'GatewayRbacDenied' });
    });
  });

  it('nginx without proxy_http_version 1.1: Envoy answers 426, ProxyHttp10Upstream names nginx and the line that cures it', async () => {
    const rep = await run({ proxy: 'http10', gateway: 'ok' });
    expect(outcome(rep)).toMatchObject({ verdict: 'fail', layer: 'proxy', code: 'ProxyHttp10Upstream' });
    const f = layer(rep, 'proxy');
    expect(f.summary).toMatch(
      /as HTTP\/1\.0.*426 Upgrade Required \(the proxy is nginx\); the gateway's NodePort, asked in HTTP\/1\.1, answers HTTP 200 from the backend/,
    );
    expect(text(f)).toContain('nginx: proxy_http_version 1.1;');
    expect(text(f)).not.toContain('HAProxy');
  });

  describe('a DNS answer pointing at a link-local or cloud-metadata address (real dnsmasq): never probed unless --expect-ip names it', () => {
    /** Records where gwdoctor would connect and sends nothing: no traffic may leave loopback in this test. */
    const recorder = (): HttpProbe & { asked: string[] } => {
      const asked: string[] = [];
      return {
        asked,
        async get(url, opts) {
          asked.push(opts.address ?? url.hostname);
          throw new ProbeFailure('ECONNREFUSED', 'ECONNREFUSED: not sent (test recorder)');
        },
      };
    };

    it('169.254.169.254: dns fails DnsLinkLocalAddress naming the metadata service, and nothing is asked', async () => {
      const probe = recorder();
      const rep = await run({ proxy: 'ok', target: 'https://meta.example.com/', probe });
      expect(outcome(rep)).toMatchObject({ verdict: 'fail', layer: 'dns', code: 'DnsLinkLocalAddress' });
      expect(layer(rep, 'dns').summary).toBe(
        'meta.example.com resolves to 169.254.169.254 (the cloud metadata service (AWS, GCP, Azure, OpenStack, DigitalOcean, Oracle)): gwdoctor does not probe it unless --expect-ip names it',
      );
      expect(text(layer(rep, 'dns'))).toContain('--expect-ip 169.254.169.254');
      expect(layer(rep, 'proxy').status).toBe('skip');
      expect(probe.asked).toEqual([]);
    });

    it('fe80::1 (IPv6 link-local): the same refusal', async () => {
      const probe = recorder();
      const rep = await run({ proxy: 'ok', target: 'https://ll.example.com/', probe });
      expect(outcome(rep)).toMatchObject({ verdict: 'fail', layer: 'dns', code: 'DnsLinkLocalAddress' });
      expect(layer(rep, 'dns').summary).toContain('fe80::1 (a link-local address (fe80::/10))');
      expect(probe.asked).toEqual([]);
    });

    it('--expect-ip 169.254.169.254: the user named it, so the proxy layer asks that address (recorded, not sent)', async () => {
      const probe = recorder();
      const rep = await run({
        proxy: 'ok',
        target: 'https://meta.example.com/',
        probe,
        expectIps: ['169.254.169.254'],
      });
      expect(layer(rep, 'dns').status).toBe('pass');
      expect(probe.asked).toContain('169.254.169.254');
      expect(outcome(rep)).toMatchObject({ verdict: 'fail', layer: 'proxy', code: 'ProxyUnreachable' });
    });
  });

  // What ProxyHttp10Upstream's fix says about HAProxy and Caddy, checked against the real proxies: each speaks
  // HTTP/1.1 to the gateway for an HTTP/1.1 client; HAProxy keeps an HTTP/1.0 client's version, Caddy does not.
  const others = proxyBins();
  const missing = Object.entries(others)
    .filter(([, v]) => !v)
    .map(([k]) => k);
  if (missing.length && process.env['CI'] === 'true')
    throw new Error(`the proxy tests need ${missing.join(', ')}: run scripts/install-net-deps.sh`);
  describe.skipIf(missing.length > 0)('HAProxy and Caddy in front of the real Envoy', () => {
    let haproxy: Proxy;
    let caddy: Proxy;
    beforeAll(async () => {
      haproxy = await startHaproxy(others.haproxy!, join(dir, 'haproxy'), { ...leaf, upstream: envoy.ports['ok']! });
      caddy = await startCaddy(others.caddy!, join(dir, 'caddy'), {
        ...leaf,
        upstream: envoy.ports['ok']!,
        host: 'api.example.com',
      });
    }, 60_000);
    afterAll(async () => {
      await haproxy?.stop();
      await caddy?.stop();
    });
    const through = (p: Proxy) => {
      const e = env({ proxy: 'ok' });
      return runTarget(
        LAYERS,
        parseTarget('https://api.example.com/'),
        { ...e, net: { ...e.net, port: p.tls } },
        { until: null, intervalMs: 0 },
      );
    };

    it("HAProxy with its defaults: gwdoctor (HTTP/1.1) passes every layer; a raw HTTP/1.0 client gets Envoy's 426 through it, HTTP/1.1 gets 200", async () => {
      expect(outcome(await through(haproxy))).toMatchObject({ verdict: 'pass', layer: null, code: null });
      expect(await rawStatus(haproxy.plain, 'HTTP/1.0', 'api.example.com')).toBe(426);
      expect(await rawStatus(haproxy.plain, 'HTTP/1.1', 'api.example.com')).toBe(200);
    });

    it('Caddy with its defaults: gwdoctor passes every layer; even an HTTP/1.0 client reaches the gateway as HTTP/1.1 (200)', async () => {
      const rep = await through(caddy);
      expect(outcome(rep)).toMatchObject({ verdict: 'pass', layer: null, code: null });
      expect(text(layer(rep, 'proxy'))).toMatch(/server: Caddy/);
      expect(await rawStatus(caddy.plain, 'HTTP/1.0', 'api.example.com')).toBe(200);
    });
  });
});
