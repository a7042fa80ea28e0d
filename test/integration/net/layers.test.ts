// Layers 1-2 against real peers on loopback: dnsmasq (DNS), nginx terminating TLS with certificates made by openssl
// at run time, and a real Envoy as the gateway (test/helpers/net/envoy.ts: upstream Envoy from a static config, every
// answer from real routing). Each scenario runs the real pipeline (all six layers) and asserts layer + code. One
// stand-in remains, on purpose: startNotEnvoy404, a web server that is NOT Envoy and answers an empty 404 (the shape
// of Envoy's no-route reply), for the tests that must tell it apart from Envoy.

import { execFileSync } from 'node:child_process';
import { createSocket } from 'node:dgram';
import { createServer, type Socket } from 'node:net';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LAYERS } from '../../../checks/index.js';
import type { ClusterReader } from '../../../src/cluster/reader.js';
import { packetResolver } from '../../../src/net/dns-resolver.js';
import { undiciProbe } from '../../../src/net/http-probe.js';
import { runTarget, type Env } from '../../../src/pipeline.js';
import { parseTarget } from '../../../src/target.js';
import type { Finding, Report, TargetReport } from '../../../src/types.js';
import { gwdoctorAsync, ROOT } from '../../helpers/cli.js';
import { outcome } from '../../helpers/fixtures.js';
import { requireBins } from '../../helpers/net/bins.js';
import { TestPki, days } from '../../helpers/net/certs.js';
import { fixtureObjects, writeFixture } from '../../helpers/net/cluster.js';
import { ManifestCluster } from '../../../src/cluster/manifests.js';
import type { HTTPRoute, K8sObject, Service } from '../../../src/cluster/objects.js';
import { startDnsmasq, type Dnsmasq } from '../../helpers/net/dnsmasq.js';
import { startNotEnvoy404, type EnvoyStub } from '../../helpers/net/envoy-stub.js';
import { requireEnvoy, scenario, startRealEnvoy, type ListenerSpec, type RealEnvoy } from '../../helpers/net/envoy.js';
import { startNginx, type Nginx, type NginxServer } from '../../helpers/net/nginx.js';
import { freePort } from '../../helpers/ports.js';
import { loadYaml, renderFix } from '../../../src/fix/render.js';

await loadYaml(); // the yaml library is loaded on demand (src/fix/render.ts); these tests render fixes directly

/** The pipeline's environment for a real-network run: dns-packet resolver on the given servers, undici probe. */
function netEnv(o: {
  resolvers: string[];
  port: number;
  caFile: string | null;
  cluster?: ClusterReader | null;
  expectIps?: string[];
}): Env {
  return {
    cluster: o.cluster ?? null,
    clusterUnavailable: o.cluster ? null : 'no kubeconfig found',
    gatewayFilter: null,
    offline: false,
    net: { resolvers: o.resolvers, expectIps: o.expectIps ?? [], caFile: o.caFile, port: o.port },
    resolver: async () => packetResolver(o.resolvers, { system: false }),
    probe: async () => undiciProbe,
    signal: AbortSignal.timeout(30_000),
  };
}

const found = requireBins();
const real = requireEnvoy();
const envoyBin = real.bin;
const skipWhy = found.skip ?? real.skip;
const d = skipWhy ? describe.skip : describe;
if (skipWhy) process.stderr.write(`[net] skipping the dns/proxy integration tests: ${skipWhy}\n`);

let dir: string;
let dns1: Dnsmasq;
let dns2: Dnsmasq;
let nginx: Nginx;
let caFile: string;
let envoy: RealEnvoy;
let notEnvoy: EnvoyStub;
/** The gateway NodePort behind each name: a real Envoy listener, or the not-Envoy server ('basehttp'). */
const gw: Record<string, number> = {};

d('dns and proxy layers against dnsmasq, nginx and TLS', () => {
  beforeAll(async () => {
    const bins = found.bins!;
    dir = mkdtempSync(join(tmpdir(), 'gwdoctor-net-'));
    const pki = new TestPki(dir, bins.openssl);
    caFile = pki.ca('test-ca');
    pki.ca('rogue-ca');
    const names = ['api.example.com', 'worker.example.com'];
    const good = pki.leaf('test-ca', 'good', names, days(-1), days(60));
    const expired = pki.leaf('test-ca', 'expired', names, days(-90), days(-2));
    const other = pki.leaf('test-ca', 'other', ['other.example.org'], days(-1), days(60));
    const rogue = pki.leaf('rogue-ca', 'rogue', names, days(-1), days(60));
    const expiring = pki.leaf('test-ca', 'expiring', names, days(-80), days(5));
    const docsLeaf = pki.leaf('test-ca', 'docs', ['docs.example.com', ...names], days(-1), days(60));

    const www = (code: 301 | 302, host = 'www.example.com'): ListenerSpec => ({
      'api.example.com': { redirect: { code, host } },
      'worker.example.com': 'ok',
    });
    envoy = await startRealEnvoy(
      envoyBin!,
      dir,
      {
        ok: scenario('ok'),
        nr: scenario('nr'),
        uh: scenario('uh'),
        nc: scenario('nc'),
        slow: scenario('slow'),
        redirect: scenario('app-redirect'),
        // A RequestRedirect rule answered by Envoy: to www.example.com, 301 (what the rule below predicts) or 302.
        'envoy-301': www(301),
        'envoy-302': www(302),
        'envoy-301-elsewhere': www(301, 'old.example.com'),
        // The listener-ports fixture's gateway: port 80 serves api and worker, port 8080 serves docs (api there is a 500).
        'port-80': { 'api.example.com': 'ok', 'worker.example.com': 'ok' },
        'port-8080': { 'api.example.com': 'nc', 'docs.example.com': 'ok', 'worker.example.com': 'ok' },
      },
      { slowMs: 2500 },
    );
    Object.assign(gw, envoy.ports);
    notEnvoy = await startNotEnvoy404();
    gw['basehttp'] = notEnvoy.port;
    const closed = await freePort(); // nothing listens there: the proxy's upstream is down
    gw['closed'] = closed;

    // big.example.com has 40 A records: more than fits a 512-byte UDP answer, so the server sets TC.
    const big = Array.from({ length: 40 }, (_, i) => `big.example.com,127.0.1.${i + 1}`);
    dns1 = await startDnsmasq(bins.dnsmasq, {
      address: { 'example.com': '127.0.0.1', 'missing.example.com': '' },
      local: ['example.com'],
      hostRecords: big,
    });
    dns2 = await startDnsmasq(bins.dnsmasq, { address: { 'example.com': '127.0.0.2' }, local: ['example.com'] });

    // HTTP/1.1 upstream (nginx's default is 1.0, which Istio's gateway Envoy answers 426) and the client's Host.
    const pass = (port: number, host = '$http_host') =>
      `proxy_pass http://127.0.0.1:${port}; proxy_http_version 1.1; proxy_set_header Host ${host};`;
    const server = (
      name: string,
      leaf: { cert: string; key: string },
      location: string,
      extra: Partial<NginxServer> = {},
    ): NginxServer => ({ name, serverName: 'api.example.com worker.example.com', ...leaf, location, ...extra });
    nginx = await startNginx(bins.nginx, join(dir, 'nginx'), [
      server('healthy', good, pass(gw['ok']!), { alsoListen: ['127.0.0.2'] }),
      server('expired', expired, pass(gw['ok']!)),
      server('other', other, pass(gw['ok']!)),
      server('rogue', rogue, pass(gw['ok']!)),
      server('expiring', expiring, pass(gw['ok']!)),
      server('down', good, pass(closed)),
      server('slow', good, `${pass(gw['slow']!)} proxy_read_timeout 1s;`),
      server('static', good, 'default_type text/html; return 200 "<!DOCTYPE html><title>Welcome to nginx!</title>";'),
      server('redirect', good, pass(gw['redirect']!)),
      server('envoy-301', good, pass(gw['envoy-301']!)),
      server('envoy-302', good, pass(gw['envoy-302']!)),
      server('envoy-301-elsewhere', good, pass(gw['envoy-301-elsewhere']!)),
      server('nr', good, pass(gw['nr']!)),
      server('uh', good, pass(gw['uh']!)),
      server('nc', good, pass(gw['nc']!)),
      server('basehttp', good, pass(gw['basehttp']!)),
      server('to-port-80', docsLeaf, pass(gw['port-80']!), { serverName: 'docs.example.com api.example.com' }),
      server('to-port-8080', docsLeaf, pass(gw['port-8080']!), { serverName: 'docs.example.com api.example.com' }),
      // nginx's default Host is $proxy_host = "127.0.0.1:<port>": Envoy matches no virtual host.
      server('nohost', good, `proxy_pass http://127.0.0.1:${gw['ok']}; proxy_http_version 1.1;`),
    ]);
  });

  afterAll(async () => {
    await nginx?.stop();
    await dns1?.stop();
    await dns2?.stop();
    await envoy?.stop();
    await notEnvoy?.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  interface Run {
    proxy: string;
    target?: string;
    /** Fixture scenario for the cluster layers; its gateway NodePort is pointed at `stub` (a name in `gw`). */
    fixture?: string;
    stub?: string;
    resolvers?: Dnsmasq[];
    expectIps?: string[];
    ca?: boolean;
    /** Change the fixture's objects before the run. */
    edit?: (objs: K8sObject[]) => void;
  }

  async function run(r: Run): Promise<TargetReport> {
    const resolvers = (r.resolvers ?? [dns1]).map((s) => `127.0.0.1:${s.port}`);
    const objs = fixtureObjects(r.fixture ?? 'seed-healthy', gw[r.stub ?? 'ok']!);
    r.edit?.(objs);
    const cluster: ClusterReader = new ManifestCluster(objs);
    const env = netEnv({
      resolvers,
      cluster,
      expectIps: r.expectIps ?? [],
      caFile: r.ca === false ? null : caFile,
      port: nginx.ports[r.proxy]!,
    });
    return runTarget(LAYERS, parseTarget(r.target ?? 'https://api.example.com/'), env, { until: null, intervalMs: 0 });
  }

  const layer = (rep: TargetReport, id: string) => rep.layers.find((l) => l.id === id) as Finding;
  const text = (f: Finding) =>
    `${f.summary}\n${f.evidence.map((e) => `${e.ref}: ${e.detail}`).join('\n')}\n${f.fix ? `${f.fix.explain}\n${renderFix(f.fix)}` : ''}`;

  it('healthy: every layer passes, TLS chain and the Envoy answer are recorded', async () => {
    const rep = await run({ proxy: 'healthy' });
    expect(outcome(rep)).toMatchObject({ verdict: 'pass', layer: null, code: null });
    expect(text(layer(rep, 'dns'))).toContain('api.example.com -> 127.0.0.1');
    const p = text(layer(rep, 'proxy'));
    expect(p).toMatch(/SANs api\.example\.com, worker\.example\.com/);
    expect(p).toMatch(/issuer CN=test-ca/);
    expect(p).toContain('x-envoy-upstream-service-time');
    expect(envoy.seen.some((h) => h.startsWith('api.example.com'))).toBe(true);
  });

  it('NXDOMAIN: dns fails DnsNoRecords and says NXDOMAIN', async () => {
    const rep = await run({ proxy: 'healthy', target: 'missing.example.com' });
    expect(outcome(rep)).toMatchObject({ verdict: 'fail', layer: 'dns', code: 'DnsNoRecords' });
    expect(text(layer(rep, 'dns'))).toContain('NXDOMAIN');
    expect(layer(rep, 'proxy').status).toBe('skip');
  });

  it('wrong IP: dns fails DnsUnexpectedAddress against --expect-ip', async () => {
    const rep = await run({ proxy: 'healthy', expectIps: ['192.0.2.44'] });
    expect(outcome(rep)).toMatchObject({ verdict: 'fail', layer: 'dns', code: 'DnsUnexpectedAddress' });
    expect(layer(rep, 'dns').summary).toContain('127.0.0.1');
  });

  it('resolvers disagree: dns warns DnsInconsistent, the proxy is probed on both answers', async () => {
    const rep = await run({ proxy: 'healthy', resolvers: [dns1, dns2] });
    expect(outcome(rep)).toMatchObject({ verdict: 'warn', layer: 'dns', code: 'DnsInconsistent' });
    expect(text(layer(rep, 'proxy'))).toMatch(/via 127\.0\.0\.2/);
  });

  it('expired certificate: TlsCertificateInvalid, says expired and shows the dates', async () => {
    const rep = await run({ proxy: 'expired' });
    expect(outcome(rep)).toMatchObject({ verdict: 'fail', layer: 'proxy', code: 'TlsCertificateInvalid' });
    expect(text(layer(rep, 'proxy'))).toMatch(/expired on \d{4}-/);
  });

  it('certificate for another name: TlsCertificateInvalid with its SANs', async () => {
    const rep = await run({ proxy: 'other' });
    expect(outcome(rep)).toMatchObject({ verdict: 'fail', layer: 'proxy', code: 'TlsCertificateInvalid' });
    expect(layer(rep, 'proxy').summary).toMatch(/does not cover api\.example\.com \(SANs: other\.example\.org\)/);
  });

  it('untrusted CA: TlsCertificateInvalid naming the issuer', async () => {
    const rep = await run({ proxy: 'rogue' });
    expect(outcome(rep)).toMatchObject({ verdict: 'fail', layer: 'proxy', code: 'TlsCertificateInvalid' });
    expect(layer(rep, 'proxy').summary).toMatch(/untrusted CA \(CN=rogue-ca/);
  });

  it('the test CA is not trusted without --ca-file', async () => {
    const rep = await run({ proxy: 'healthy', ca: false });
    expect(outcome(rep)).toMatchObject({ layer: 'proxy', code: 'TlsCertificateInvalid' });
  });

  it('certificate valid for 5 more days: TlsCertificateExpiring (warn)', async () => {
    const rep = await run({ proxy: 'expiring' });
    expect(outcome(rep)).toMatchObject({ verdict: 'warn', layer: 'proxy', code: 'TlsCertificateExpiring' });
  });

  it('proxy upstream down: nginx 502 is ProxyUpstreamError, and the fix names the NodePort that answers', async () => {
    const rep = await run({ proxy: 'down' });
    expect(outcome(rep)).toMatchObject({ verdict: 'fail', layer: 'proxy', code: 'ProxyUpstreamError' });
    const f = layer(rep, 'proxy');
    expect(f.summary).toMatch(/answered 502/);
    expect(f.fix && `${f.fix.explain}\n${renderFix(f.fix)}`).toContain(`127.0.0.1:${gw['ok']!}`);
  });

  it("nginx's 502 while nothing answers on the gateway's NodePort either is what the client gets: the listener layer that knows why is the verdict, the proxy passes saying so; with nothing to explain it, ProxyUpstreamError stays", async () => {
    const rep = await run({ proxy: 'down', stub: 'closed', fixture: 'gateway-not-programmed' });
    expect(outcome(rep)).toMatchObject({ verdict: 'fail', layer: 'listener', code: 'GatewayNotProgrammed' });
    const px = layer(rep, 'proxy');
    expect(px).toMatchObject({
      status: 'pass',
      code: null,
      fix: null,
      facts: { explainedBy: { layer: 'listener', code: 'GatewayNotProgrammed' } },
    });
    expect(px.summary).toMatch(/answers 502 itself .*the gateway gives it no HTTP answer.*connection refused/);
    // What the client gets joins the listener finding, whose fix is the one printed.
    expect(text(layer(rep, 'listener'))).toMatch(/HTTP 502 from the proxy itself/);
    // The same nginx and silent NodePort, with a Gateway that is fine: no cluster layer explains the 502.
    const alone = await run({ proxy: 'down', stub: 'closed' });
    expect(outcome(alone)).toMatchObject({ verdict: 'fail', layer: 'proxy', code: 'ProxyUpstreamError' });
    expect(layer(alone, 'proxy').fix).not.toBeNull();
    expect(layer(alone, 'listener').status).toBe('pass');
  });

  it('proxy upstream slow: nginx 504 is ProxyUpstreamError', async () => {
    const rep = await run({ proxy: 'slow', stub: 'slow' });
    expect(outcome(rep)).toMatchObject({ verdict: 'fail', layer: 'proxy', code: 'ProxyUpstreamError' });
    expect(layer(rep, 'proxy').summary).toMatch(/answered 504/);
  });

  it('proxy not forwarding to the gateway (a default page) while the NodePort answers', async () => {
    const rep = await run({ proxy: 'static' });
    expect(outcome(rep)).toMatchObject({ verdict: 'fail', layer: 'proxy', code: 'ProxyNotForwardingToGateway' });
    expect(text(layer(rep, 'proxy'))).toMatch(/direct GET http:\/\/127\.0\.0\.1:\d+ Host: api\.example\.com/);
  });

  it('redirect loop: RedirectLoop', async () => {
    const rep = await run({ proxy: 'redirect', stub: 'redirect' });
    expect(outcome(rep)).toMatchObject({ verdict: 'fail', layer: 'proxy', code: 'RedirectLoop' });
  });

  describe('a RequestRedirect rule, compared with what the proxy really answers (no redirect followed)', () => {
    // The route-redirect fixture's rule, sent to www.example.com: through the TLS proxy the client asks
    // https://api.example.com/docs and the rule predicts 301 Location: https://www.example.com/docs.
    const toWww = (objs: K8sObject[]) => {
      const r = objs.find((o) => o.kind === 'HTTPRoute' && o.metadata.name === 'example-api') as HTTPRoute;
      r.spec.rules = [
        {
          matches: [{ path: { type: 'PathPrefix', value: '/' } }],
          filters: [
            {
              type: 'RequestRedirect',
              requestRedirect: { scheme: 'https', hostname: 'www.example.com', statusCode: 301 },
            },
          ],
        },
      ];
    };
    const target = 'https://api.example.com/docs';

    it('Envoy answers the predicted 301 and Location through nginx: every layer passes and the route says they agree', async () => {
      const rep = await run({ proxy: 'envoy-301', stub: 'envoy-301', fixture: 'route-redirect', edit: toWww, target });
      expect(outcome(rep)).toMatchObject({ verdict: 'pass', layer: null, code: null });
      expect(layer(rep, 'proxy').summary).toContain(
        'answered 301 redirecting to https://www.example.com/docs (not followed)',
      );
      expect(text(layer(rep, 'route'))).toMatch(
        /via 127\.0\.0\.1: answered 301 Location: https:\/\/www\.example\.com\/docs, as the rule predicts/,
      );
    });

    it('Envoy answers 302 where the rule says 301: route warns RedirectDisagrees with both', async () => {
      const rep = await run({ proxy: 'envoy-302', stub: 'envoy-302', fixture: 'route-redirect', edit: toWww, target });
      expect(outcome(rep)).toMatchObject({ verdict: 'warn', layer: 'route', code: 'RedirectDisagrees' });
      expect(layer(rep, 'route').summary).toContain(
        'but the proxy answered 302 Location: https://www.example.com/docs where the rule predicts 301 Location: https://www.example.com/docs',
      );
    });

    it('another Location than the rule predicts: RedirectDisagrees names both', async () => {
      const rep = await run({
        proxy: 'envoy-301-elsewhere',
        stub: 'envoy-301-elsewhere',
        fixture: 'route-redirect',
        edit: toWww,
        target,
      });
      expect(outcome(rep)).toMatchObject({ verdict: 'warn', layer: 'route', code: 'RedirectDisagrees' });
      expect(text(layer(rep, 'route'))).toContain(
        'answered 301 Location: https://old.example.com/docs; the rule predicts 301 Location: https://www.example.com/docs',
      );
    });

    it('the backend answers where the rule predicts a redirect: RedirectDisagrees', async () => {
      const rep = await run({ proxy: 'healthy', stub: 'ok', fixture: 'route-redirect', edit: toWww, target });
      expect(outcome(rep)).toMatchObject({ verdict: 'warn', layer: 'route', code: 'RedirectDisagrees' });
      expect(layer(rep, 'route').summary).toContain(
        'but the proxy answered 200 without Location from the backend (x-envoy-upstream-service-time)',
      );
    });
  });

  describe('a Gateway that serves docs.example.com on port 8080 only (listener-ports): which port does the proxy reach?', () => {
    // The fixture's gateway Service: port 80 -> nodePort of stub port-80, port 8080 -> nodePort of stub port-8080.
    const twoNodePorts = (objs: K8sObject[]) => {
      const svc = objs.find(
        (o) => o.kind === 'Service' && o.metadata.name === 'example-istio-gateway-istio',
      ) as Service;
      for (const p of svc.spec?.ports ?? []) if (p.port === 8080) p.nodePort = gw['port-8080']!;
    };
    const docs = {
      fixture: 'listener-ports',
      stub: 'port-80',
      edit: twoNodePorts,
      target: 'https://docs.example.com/',
    };

    it("nginx forwards to port 8080: the NodePort answers show it, and the route is judged on 8080 (pass, not the lowest port's 404)", async () => {
      const rep = await run({ ...docs, proxy: 'to-port-8080' });
      expect(outcome(rep)).toMatchObject({ verdict: 'pass', layer: null, code: null });
      expect(text(layer(rep, 'proxy'))).toMatch(
        /the proxy forwards to port 8080: the proxy's answer \(HTTP 200\) is the gateway's own on nodePort \d+ of Service istio-ingress\/example-istio-gateway-istio \(port 8080\), not on port 80/,
      );
      expect(text(layer(rep, 'route'))).toMatch(/judged port 8080: the proxy's answer/);
      expect(layer(rep, 'route').summary).toContain('HTTPRoute istio-ingress/docs rules[0]');
    });

    it("nginx forwards to port 80: Envoy's 404 is confirmed on that NodePort, and route fails NoRouteForHost on port 80 naming port 8080's answer", async () => {
      const rep = await run({ ...docs, proxy: 'to-port-80' });
      expect(layer(rep, 'proxy').status).toBe('pass');
      expect(outcome(rep)).toMatchObject({ verdict: 'fail', layer: 'route', code: 'NoRouteForHost' });
      const route = text(layer(rep, 'route'));
      expect(route).toMatch(/judged port 80: the proxy's answer \(HTTP 404\) is the gateway's own on nodePort/);
      expect(route).toContain(
        'port 8080 (listener "http-alt", HTTP): not judged: HTTPRoute istio-ingress/docs rules[0] -> Service example-worker/example-worker:8000',
      );
    });

    it("--gateway NS/NAME:8080 while nginx forwards to port 80: the direct probe asks port 8080's NodePort, which serves the host, so the proxy is not forwarding where you said", async () => {
      const resolvers = [`127.0.0.1:${dns1.port}`];
      const objs = fixtureObjects('listener-ports', gw['port-80']!);
      twoNodePorts(objs);
      const env = {
        ...netEnv({ resolvers, cluster: new ManifestCluster(objs), caFile, port: nginx.ports['to-port-80']! }),
        gatewayFilter: { namespace: 'istio-ingress', name: 'example-istio-gateway', port: 8080 },
      };
      const rep = await runTarget(LAYERS, parseTarget('https://docs.example.com/'), env, {
        until: null,
        intervalMs: 0,
      });
      expect(outcome(rep)).toMatchObject({ verdict: 'fail', layer: 'proxy', code: 'ProxyNotForwardingToGateway' });
      expect(text(layer(rep, 'proxy'))).toContain(
        `direct GET http://127.0.0.1:${gw['port-8080']!} Host: docs.example.com (node node-1, istio-ingress/example-istio-gateway-istio port 8080)`,
      );
    });
  });

  it('Envoy 404 both ways: proxy passes, route fails NoRouteForHost carrying the 404', async () => {
    const rep = await run({ proxy: 'nr', stub: 'nr', fixture: 'no-route-for-host' });
    expect(layer(rep, 'proxy').status).toBe('pass');
    expect(outcome(rep)).toMatchObject({ verdict: 'fail', layer: 'route', code: 'NoRouteForHost' });
    expect(text(layer(rep, 'route'))).toMatch(/HTTP 404 from Envoy.*NR.*NodePort answers the same/);
  });

  it('Envoy 503 UH both ways: proxy passes, endpoints fails NoReadyEndpoints carrying "no healthy upstream"', async () => {
    const rep = await run({ proxy: 'uh', stub: 'uh', fixture: 'no-ready-endpoints' });
    expect(layer(rep, 'proxy').status).toBe('pass');
    expect(outcome(rep)).toMatchObject({ verdict: 'fail', layer: 'endpoints', code: 'NoReadyEndpoints' });
    expect(text(layer(rep, 'endpoints'))).toContain('no healthy upstream');
  });

  it('Envoy 500 NC both ways: grant fails ReferenceGrantMissing carrying the 500', async () => {
    const rep = await run({ proxy: 'nc', stub: 'nc', fixture: 'grant-missing' });
    expect(layer(rep, 'proxy').status).toBe('pass');
    expect(outcome(rep)).toMatchObject({ verdict: 'fail', layer: 'grant', code: 'ReferenceGrantMissing' });
    expect(text(layer(rep, 'grant'))).toMatch(/HTTP 500 from Envoy/);
  });

  it('an empty 404 from a server that is not Envoy (BaseHTTP) behind real nginx TLS, also at the NodePort: proxy fails ProxyErrorResponse, never a pass', async () => {
    const rep = await run({ proxy: 'basehttp', stub: 'basehttp' });
    expect(outcome(rep)).toMatchObject({ verdict: 'fail', layer: 'proxy', code: 'ProxyErrorResponse' });
    const f = text(layer(rep, 'proxy'));
    expect(f).toMatch(/answered HTTP 404 \(server: nginx/);
    expect(f).toMatch(
      /direct GET http:\/\/127\.0\.0\.1:\d+ Host: api\.example\.com.*: HTTP 404 from BaseHTTP\/0\.6 Python\/3\.11\.2 without any Envoy signature/,
    );
    expect(layer(rep, 'route').status).toBe('skip');
  });

  it('the same empty 404 while the gateway NodePort is a real Envoy that routes the host: the proxy forwards elsewhere', async () => {
    const rep = await run({ proxy: 'basehttp', stub: 'ok' });
    expect(outcome(rep)).toMatchObject({ verdict: 'fail', layer: 'proxy', code: 'ProxyNotForwardingToGateway' });
  });

  it('direct NodePort OK but the proxy sends Host $proxy_host: the proxy layer fails and says proxy_set_header Host $host', async () => {
    const rep = await run({ proxy: 'nohost' });
    expect(outcome(rep)).toMatchObject({ verdict: 'fail', layer: 'proxy', code: 'ProxyNotForwardingToGateway' });
    const f = layer(rep, 'proxy');
    expect(f.summary).toMatch(/no route \(404\).*200/);
    expect(f.fix && `${f.fix.explain}\n${renderFix(f.fix)}`).toContain('proxy_set_header Host $host');
  });

  it('without cluster access (a laptop): layers 1-2 conclude, the cluster layers say why they were skipped', async () => {
    const resolvers = [`127.0.0.1:${dns1.port}`];
    const rep = await runTarget(
      LAYERS,
      parseTarget('https://api.example.com/'),
      netEnv({ resolvers, expectIps: ['127.0.0.1'], caFile, port: nginx.ports['healthy']! }),
      { until: null, intervalMs: 0 },
    );
    expect(rep.layers.map((l) => l.status)).toEqual(['pass', 'pass', 'skip', 'skip', 'skip', 'skip', 'skip', 'skip']);
    expect(layer(rep, 'listener').summary).toContain('no kubeconfig found');
    expect(rep.verdict).toBe('pass');
  });

  it('a truncated UDP answer (TC) is asked again over TCP', async () => {
    const [o] = await packetResolver([`127.0.0.1:${dns1.port}`], { system: false }).survey(
      'big.example.com',
      AbortSignal.timeout(5000),
    );
    expect(o!.status).toBe('ok');
    expect(o!.addresses).toHaveLength(40);
    expect(o!.detail).toContain('over TCP');
  });

  it('a DNS server that never answers is a timeout after 2 s, not a hang: DnsResolverError', async () => {
    const silent = createSocket('udp4');
    await new Promise<void>((r) => silent.bind(0, '127.0.0.1', () => r()));
    try {
      const port = (silent.address() as { port: number }).port;
      const t0 = Date.now();
      const rep = await runTarget(
        LAYERS,
        parseTarget('api.example.com'),
        netEnv({ resolvers: [`127.0.0.1:${port}`], caFile: null, port: 443 }),
        { until: null, intervalMs: 0 },
      );
      expect(outcome(rep)).toMatchObject({ verdict: 'error', layer: 'dns', code: 'DnsResolverError' });
      expect(Date.now() - t0).toBeLessThan(4000);
    } finally {
      silent.close();
    }
  });

  it('a proxy that accepts TCP but never speaks TLS is ProxyUnreachable after the 5 s connect timeout', async () => {
    const sockets = new Set<Socket>();
    const mute = createServer((s) => sockets.add(s));
    await new Promise<void>((r) => mute.listen(0, '127.0.0.1', () => r()));
    try {
      const port = (mute.address() as { port: number }).port;
      const t0 = Date.now();
      const rep = await runTarget(
        LAYERS,
        parseTarget('api.example.com'),
        netEnv({ resolvers: [`127.0.0.1:${dns1.port}`], caFile, port }),
        { until: null, intervalMs: 0 },
      );
      expect(outcome(rep)).toMatchObject({ verdict: 'fail', layer: 'proxy', code: 'ProxyUnreachable' });
      expect(layer(rep, 'proxy').summary).toContain('connect timeout');
      expect(Date.now() - t0).toBeLessThan(8000);
    } finally {
      for (const s of sockets) s.destroy();
      mute.close();
    }
  });

  describe('the built CLI', () => {
    beforeAll(() => {
      execFileSync(
        process.execPath,
        [join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', join(ROOT, 'tsconfig.json')],
        { cwd: ROOT, stdio: 'pipe' },
      );
    }, 120_000);

    const cli = async (proxyName: string, stub: string, fixture: string) => {
      // The system resolver is a loopback address where nothing listens: only --resolver answers.
      const resolv = join(dir, 'resolv.conf');
      writeFileSync(resolv, 'nameserver 127.0.0.9\n');
      const manifests = writeFixture(join(dir, `cli-${fixture}-${stub}`), fixture, gw[stub]!);
      const r = await gwdoctorAsync(
        [
          '-o',
          'json',
          '--resolver',
          `127.0.0.1:${dns1.port}`,
          '--ca-file',
          caFile,
          '--port',
          String(nginx.ports[proxyName]),
          '--manifests',
          manifests,
          '--timeout',
          '30s',
          'https://api.example.com/',
        ],
        { GWDOCTOR_RESOLV_CONF: resolv },
      );
      return { ...r, report: JSON.parse(r.stdout) as Report };
    };

    it('healthy: exit 0, JSON report passes every layer, the silent system resolver is evidence only', async () => {
      const r = await cli('healthy', 'ok', 'seed-healthy');
      expect(r.code, r.stderr).toBe(0);
      const t = r.report.targets[0]!;
      expect(t.verdict).toBe('pass');
      expect(t.layers.map((l) => l.status)).toEqual(['pass', 'pass', 'pass', 'pass', 'pass', 'pass', 'skip', 'skip']);
      expect(JSON.stringify(t.layers[0]!.evidence)).toContain('127.0.0.9');
    });

    it('a non-Envoy empty 404 behind nginx: exit 1 (it exited 0 with a warning before), proxy ProxyErrorResponse', async () => {
      const r = await cli('basehttp', 'basehttp', 'seed-healthy');
      expect(r.code).toBe(1);
      const t = r.report.targets[0]!;
      expect({ verdict: t.verdict, failedLayer: t.failedLayer, code: t.layers[1]!.code }).toEqual({
        verdict: 'fail',
        failedLayer: 'proxy',
        code: 'ProxyErrorResponse',
      });
    });

    it('Envoy 404 NR through nginx while every cluster layer passes: never exit 0 (GatewayErrorResponse, exit 2)', async () => {
      const r = await cli('nr', 'nr', 'seed-healthy');
      expect(r.code).toBe(2);
      const t = r.report.targets[0]!;
      expect(t.verdict).toBe('error');
      expect(t.layers.find((l) => l.code === 'GatewayErrorResponse')?.summary).toMatch(
        /but the gateway answered HTTP 404/,
      );
    });

    it("Envoy's empty 500 for a backendRef to a missing Service: exit 1 and endpoints ServiceNotFound, the same as --offline (it was exit 2 GatewayErrorResponse)", async () => {
      const r = await cli('nc', 'nc', 'service-not-found');
      expect(r.code, r.stderr).toBe(1);
      const t = r.report.targets[0]!;
      const code = (rep: Report) => rep.targets[0]!.layers.find((l) => l.status === 'fail')?.code;
      expect({ failedLayer: t.failedLayer, code: code(r.report) }).toEqual({
        failedLayer: 'endpoints',
        code: 'ServiceNotFound',
      });
      const offline = await gwdoctorAsync([
        '-o',
        'json',
        '--offline',
        '--manifests',
        writeFixture(join(dir, 'cli-offline-snf'), 'service-not-found', gw['nc']!),
        'https://api.example.com/',
      ]);
      expect(code(JSON.parse(offline.stdout) as Report)).toBe('ServiceNotFound');
    });

    it("nginx's 502 explained by the listener layer: JSON, SARIF and text all say listener GatewayNotProgrammed, exit 1", async () => {
      const manifests = writeFixture(join(dir, 'cli-not-programmed'), 'gateway-not-programmed', gw['closed']!);
      const resolv = join(dir, 'resolv.conf');
      writeFileSync(resolv, 'nameserver 127.0.0.9\n');
      const args = (format: string) => [
        '-o',
        format,
        '--resolver',
        `127.0.0.1:${dns1.port}`,
        '--ca-file',
        caFile,
        '--port',
        String(nginx.ports['down']),
        '--manifests',
        manifests,
        '--timeout',
        '30s',
        'https://api.example.com/',
      ];
      const env = { GWDOCTOR_RESOLV_CONF: resolv, NO_COLOR: '1' };
      const [json, sarif, txt] = await Promise.all(['json', 'sarif', 'text'].map((f) => gwdoctorAsync(args(f), env)));
      for (const r of [json, sarif, txt]) expect(r!.code, r!.stderr).toBe(1);
      const t = (JSON.parse(json!.stdout) as Report).targets[0]!;
      expect({ verdict: t.verdict, failedLayer: t.failedLayer }).toEqual({ verdict: 'fail', failedLayer: 'listener' });
      expect(t.layers.find((l) => l.id === 'proxy')?.facts.explainedBy).toEqual({
        layer: 'listener',
        code: 'GatewayNotProgrammed',
      });
      const results = (JSON.parse(sarif!.stdout) as { runs: { results: { ruleId: string }[] }[] }).runs[0]!.results;
      expect(results.map((r) => r.ruleId)).toEqual(['GatewayNotProgrammed']);
      expect(txt!.stdout).toMatch(/the listener layer names the cause: GatewayNotProgrammed/);
      expect(txt!.stdout).toMatch(/api\.example\.com\/ fails at listener/);
    });

    it('expired certificate: exit 1, proxy TlsCertificateInvalid in the JSON report', async () => {
      const r = await cli('expired', 'ok', 'seed-healthy');
      expect(r.code).toBe(1);
      const t = r.report.targets[0]!;
      expect({ verdict: t.verdict, failedLayer: t.failedLayer, code: t.layers[1]!.code }).toEqual({
        verdict: 'fail',
        failedLayer: 'proxy',
        code: 'TlsCertificateInvalid',
      });
    });
  });
});
