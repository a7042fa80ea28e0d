// The Prometheus output's TLS and DNS metrics come from the evidence the real dns and proxy layers write: run them
// against dnsmasq and nginx with a certificate valid for 60 more days, and read the metrics back with promtool.

import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LAYERS } from '../../../checks/index.js';
import { packetResolver } from '../../../src/net/dns-resolver.js';
import { undiciProbe } from '../../../src/net/http-probe.js';
import { runTarget } from '../../../src/pipeline.js';
import { renderPrometheus } from '../../../src/report/prometheus.js';
import { parseTarget } from '../../../src/target.js';
import type { Report } from '../../../src/types.js';
import { consumer, runTool } from '../../helpers/consumers.js';
import { requireBins } from '../../helpers/net/bins.js';
import { TestPki, days } from '../../helpers/net/certs.js';
import { fixtureCluster } from '../../helpers/net/cluster.js';
import { startDnsmasq, type Dnsmasq } from '../../helpers/net/dnsmasq.js';
import { requireEnvoy, scenario, startRealEnvoy, type RealEnvoy } from '../../helpers/net/envoy.js';
import { startNginx, type Nginx } from '../../helpers/net/nginx.js';

const found = requireBins();
const real = requireEnvoy();
const promtool = consumer('promtool', 'prometheus');
const d = found.skip || real.skip || !promtool ? describe.skip : describe;

let dir: string;
let dns: Dnsmasq;
let nginx: Nginx;
let envoy: RealEnvoy;
let caFile: string;
let validTo: number;

d('prometheus metrics from real dns and proxy layers', () => {
  beforeAll(async () => {
    const bins = found.bins!;
    dir = mkdtempSync(join(tmpdir(), 'gwdoctor-metrics-'));
    const pki = new TestPki(dir, bins.openssl);
    caFile = pki.ca('test-ca');
    const leaf = pki.leaf('test-ca', 'good', ['api.example.com'], days(-1), days(60));
    validTo = Date.now() + 60 * 86_400_000;
    envoy = await startRealEnvoy(real.bin!, dir, { ok: scenario('ok') });
    dns = await startDnsmasq(bins.dnsmasq, { address: { 'example.com': '127.0.0.1' }, local: ['example.com'] });
    nginx = await startNginx(bins.nginx, join(dir, 'nginx'), [
      {
        name: 'healthy',
        serverName: 'api.example.com',
        ...leaf,
        location: `proxy_pass http://127.0.0.1:${envoy.ports['ok']}; proxy_http_version 1.1; proxy_set_header Host $http_host;`,
      },
    ]);
  });
  afterAll(async () => {
    await nginx?.stop();
    await dns?.stop();
    await envoy?.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('exports the certificate expiry per proxy address and the DNS answer count per resolver', async () => {
    const resolver = `127.0.0.1:${dns.port}`;
    const t = await runTarget(
      LAYERS,
      parseTarget('https://api.example.com/'),
      {
        cluster: fixtureCluster('seed-healthy', envoy.ports['ok']!),
        clusterUnavailable: null,
        gatewayFilter: null,
        offline: false,
        net: { resolvers: [resolver], expectIps: [], caFile, port: nginx.ports['healthy']! },
        resolver: async () => packetResolver([resolver], { system: false }),
        probe: async () => undiciProbe,
        signal: AbortSignal.timeout(30_000),
      },
      { until: null, intervalMs: 0 },
    );
    expect(t.verdict).toBe('pass');
    const report: Report = {
      schemaVersion: 'gwdoctor.report/v3',
      generatedAt: new Date().toISOString(),
      durationMs: 1,
      source: { mode: 'manifests', offline: false },
      targets: [t],
    };
    const text = renderPrometheus(report);
    const check = runTool(promtool as string, ['check', 'metrics'], text);
    expect(check.stdout + check.stderr).toBe('');
    const tls =
      /^gwdoctor_tls_certificate_expiry_timestamp_seconds\{host="api\.example\.com",path="\/",address="127\.0\.0\.1:(\d+)"\} (\d+)$/m.exec(
        text,
      );
    expect(tls, text).not.toBeNull();
    expect(Math.abs(Number(tls![2]) - validTo / 1000)).toBeLessThan(3600);
    expect(text).toMatch(
      new RegExp(
        `^gwdoctor_dns_answers\\{host="api\\.example\\.com",path="/",resolver="[^"]*${resolver.replace(/\./g, '\\.')}[^"]*"\\} 1$`,
        'm',
      ),
    );
  });
});
