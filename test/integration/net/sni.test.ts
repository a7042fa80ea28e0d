// SNI at an HTTPS Gateway listener (issue 19 item 5): the proxy re-encrypts to the gateway's NodePort, and the real
// Envoy 1.40.0 picks the listener's filter chain by SNI (filter_chain_match server_names, as istiod writes one per HTTPS
// listener hostname) and resets the handshake when none matches — no HTTP status at all. Real nginx in front, with and
// without `proxy_ssl_server_name on; proxy_ssl_name $host;` (nginx's default: no SNI upstream, and a 502).

import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LAYERS } from '../../../checks/index.js';
import { ManifestCluster } from '../../../src/cluster/manifests.js';
import type { Gateway, K8sObject } from '../../../src/cluster/objects.js';
import { loadYaml, renderFix } from '../../../src/fix/render.js';
import { packetResolver } from '../../../src/net/dns-resolver.js';
import { undiciProbe } from '../../../src/net/http-probe.js';
import { runTarget, type Env } from '../../../src/pipeline.js';
import { parseTarget } from '../../../src/target.js';
import type { Finding, TargetReport } from '../../../src/types.js';
import { requireBins } from '../../helpers/net/bins.js';
import { TestPki, days } from '../../helpers/net/certs.js';
import { fixtureObjects } from '../../helpers/net/cluster.js';
import { startDnsmasq, type Dnsmasq } from '../../helpers/net/dnsmasq.js';
import { requireEnvoy, scenario, startRealEnvoy, type RealEnvoy } from '../../helpers/net/envoy.js';
import { startNginx, type Nginx } from '../../helpers/net/nginx.js';

await loadYaml(); // the yaml library is loaded on demand (src/fix/render.ts); these tests render fixes directly

const found = requireBins();
const real = requireEnvoy();
const skip = found.skip ?? real.skip;
const d = skip ? describe.skip : describe;
if (skip) process.stderr.write(`[net] skipping the SNI tests: ${skip}\n`);

let dir: string;
let dns: Dnsmasq;
let nginx: Nginx;
let envoy: RealEnvoy;
let caFile: string;

/** The fixture's Gateway listener on port 80 made HTTPS for api.example.com (the proxy re-encrypts to it). */
function https(objs: K8sObject[]): void {
  for (const o of objs) {
    if (o.kind !== 'Gateway' || o.metadata.name !== 'example-istio-gateway') continue;
    for (const l of (o as Gateway).spec.listeners ?? []) {
      if (l.port !== 80) continue;
      l.protocol = 'HTTPS';
      l.hostname = 'api.example.com';
      (l as { tls?: unknown }).tls = {
        mode: 'Terminate',
        certificateRefs: [{ group: '', kind: 'Secret', name: 'example-com-tls' }],
      };
    }
  }
}

d('SNI at an HTTPS listener: real nginx re-encrypting to a real Envoy that matches filter chains by SNI', () => {
  beforeAll(async () => {
    const bins = found.bins!;
    dir = mkdtempSync(join(tmpdir(), 'gwdoctor-sni-'));
    const pki = new TestPki(dir, bins.openssl);
    caFile = pki.ca('test-ca');
    const edge = pki.leaf('test-ca', 'edge', ['api.example.com'], days(-1), days(60));
    pki.ca('gateway-ca');
    const gw = pki.leaf('gateway-ca', 'gateway', ['api.example.com'], days(-1), days(60));
    envoy = await startRealEnvoy(
      real.bin!,
      dir,
      { sni: scenario('ok'), other: scenario('ok') },
      {
        tls: {
          sni: { serverNames: ['api.example.com'], ...gw },
          // istiod wrote no filter chain for api.example.com (e.g. it could not load the listener's certificate).
          other: { serverNames: ['worker.example.com'], ...gw },
        },
      },
    );
    dns = await startDnsmasq(bins.dnsmasq, { address: { 'example.com': '127.0.0.1' }, local: ['example.com'] });
    const up = (l: string) =>
      `proxy_pass https://127.0.0.1:${envoy.ports[l]}; proxy_http_version 1.1; proxy_set_header Host $host;`;
    const sni = ' proxy_ssl_server_name on; proxy_ssl_name $host;';
    nginx = await startNginx(bins.nginx, join(dir, 'nginx'), [
      { name: 'with-sni', serverName: 'api.example.com', ...edge, location: up('sni') + sni },
      { name: 'no-sni', serverName: 'api.example.com', ...edge, location: up('sni') },
      { name: 'other', serverName: 'api.example.com', ...edge, location: up('other') + sni },
    ]);
  }, 120_000);

  afterAll(async () => {
    await nginx?.stop();
    await dns?.stop();
    await envoy?.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  function env(proxy: string, gateway: string): Env {
    const objs = fixtureObjects('seed-healthy', envoy.ports[gateway]!);
    https(objs);
    const cluster = new ManifestCluster(objs);
    const resolvers = [`127.0.0.1:${dns.port}`];
    return {
      cluster,
      clusterUnavailable: null,
      gatewayFilter: null,
      offline: false,
      net: { resolvers, expectIps: [], caFile, port: nginx.ports[proxy]! },
      resolver: async () => packetResolver(resolvers, { system: false }),
      probe: async () => undiciProbe,
      signal: AbortSignal.timeout(30_000),
    };
  }
  const run = (proxy: string, gateway: string): Promise<TargetReport> =>
    runTarget(LAYERS, parseTarget('https://api.example.com/'), env(proxy, gateway), { until: null, intervalMs: 0 });
  const proxyLayer = (rep: TargetReport) => rep.layers.find((l) => l.id === 'proxy') as Finding;
  const text = (f: Finding) =>
    `${f.summary}\n${f.evidence.map((e) => `${e.ref}: ${e.detail}`).join('\n')}\n${f.fix ? `${f.fix.explain}\n${renderFix(f.fix)}` : ''}`;

  it('nginx with proxy_ssl_server_name on and proxy_ssl_name $host: Envoy routes, the proxy layer passes', async () => {
    const rep = await run('with-sni', 'sni');
    const f = proxyLayer(rep);
    expect(f.status, text(f)).toBe('pass');
    expect(text(f)).toContain('x-envoy-upstream-service-time');
  });

  it('nginx without SNI: its 502 is GatewayNoListenerForSni; the direct probe shows the reset without SNI and the answer with it', async () => {
    const rep = await run('no-sni', 'sni');
    const f = proxyLayer(rep);
    expect(f.code, text(f)).toBe('GatewayNoListenerForSni');
    expect(f.status).toBe('fail');
    const t = text(f);
    expect(f.summary).toMatch(/answered 502 itself/);
    expect(f.summary).toContain('listener hostnames: api.example.com');
    expect(t).toMatch(
      /direct GET https:\/\/127\.0\.0\.1:\d+ SNI api\.example\.com .*HTTP 200.*TLS with SNI api\.example\.com: handshake ok; without SNI: reset/,
    );
    expect(f.facts.sni).toMatchObject({
      host: 'api.example.com',
      withHost: 'ok',
      listenerHostnames: ['api.example.com'],
      gateway: 'istio-ingress/example-istio-gateway',
    });
    expect(f.facts.sni?.withoutSni).not.toBe('ok');
    expect(t).toContain('proxy_ssl_server_name on; proxy_ssl_name $host;');
    expect(t).toContain('sni req.hdr(host)');
    expect(t).toContain('tls_server_name api.example.com');
  });

  it('Envoy has no filter chain for the host at all: the reset with SNI api.example.com is "no listener for this SNI", naming the Gateway\'s listener hostnames', async () => {
    const rep = await run('other', 'other');
    const f = proxyLayer(rep);
    expect(f.code, text(f)).toBe('GatewayNoListenerForSni');
    expect(f.facts.sni).toMatchObject({
      host: 'api.example.com',
      withoutSni: null,
      listenerHostnames: ['api.example.com'],
    });
    expect(f.facts.sni?.withHost).not.toBe('ok');
    expect(f.summary).toMatch(
      /resets the TLS handshake for SNI api\.example\.com: no listener for this SNI \(HTTPS listeners on port 80 of istio-ingress\/example-istio-gateway: api\.example\.com\)/,
    );
  });
});
