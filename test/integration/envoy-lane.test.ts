// The data-plane lane's thin slice: the seed cluster reconciled by real istiod, served by a real upstream Envoy that
// istiod configures over ADS (harness/envoy.ts), one real request through the NodePort stand-in answered by the
// expected backend Pod, and gwdoctor (live, network probes on, through a real nginx and dnsmasq) agreeing.

import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect } from 'vitest';
import { LAYERS } from '../../checks/index.js';
import { packetResolver } from '../../src/net/dns-resolver.js';
import { undiciProbe } from '../../src/net/http-probe.js';
import { runTarget, type Env } from '../../src/pipeline.js';
import { parseTarget } from '../../src/target.js';
import { FIXTURES, outcome } from '../helpers/fixtures.js';
import { ROOT } from '../helpers/cli.js';
import { loadManifests } from '../../src/cluster/manifests.js';
import { requireBins } from '../helpers/net/bins.js';
import { TestPki, days } from '../helpers/net/certs.js';
import { startDnsmasq, type Dnsmasq } from '../helpers/net/dnsmasq.js';
import { startNginx, type Nginx } from '../helpers/net/nginx.js';
import { listenerAddresses } from './harness/envoy.js';
import { itEnvoy, liveCluster, scenarioWithEnvoy } from './live.js';

const API_POD = 'example-api/example-api-7d9f8c6b5-x2k4p';
const WORKER_POD = 'example-worker/example-worker-6c8b7d9f4-p7r3s';

describe('seed-healthy: istiod -> a real Envoy -> backend Pods on loopback', () => {
  const s = scenarioWithEnvoy('seed-healthy');
  const lane = () => {
    const st = s.get();
    if (!st) throw new Error('no lane');
    return st.sc;
  };

  itEnvoy(
    "the gateway Envoy is istiod's: listeners only on the lane's loopback addresses, the NodePort stand-in on the Node's InternalIP",
    async () => {
      const sc = lane();
      expect(sc.envoys).toHaveLength(1);
      const e = sc.envoys[0]!;
      expect(e.gateway).toBe('istio-ingress/example-istio-gateway');
      const bound = await listenerAddresses(e.adminUrl);
      expect(bound.every((a) => a.startsWith('127.'))).toBe(true);
      // The fixture's Service overlay pins nodePort 32080 for port 80; the Node's InternalIP is the lane's.
      expect(e.nodePorts).toContainEqual(
        expect.objectContaining({ nodePort: 32080, servicePort: 80, address: sc.nodeAddresses[0] }),
      );
      expect(bound).toContain(`${sc.nodeAddresses[0]}:32080`);
    },
  );

  itEnvoy("api.example.com: 200 from the example-api Pod, with Envoy's server and upstream-time headers", async () => {
    const a = await lane().request('api.example.com');
    const e = lane().envoys[0]!;
    process.stderr.write(
      `[envoy] ${e.pod}: spawn -> ready ${e.readyMs} ms, spawn -> first 200 ${Date.now() - e.spawnedAt} ms\n`,
    );
    expect(a).toMatchObject({ status: 200, server: 'istio-envoy', backend: API_POD, body: `${API_POD}\n` });
    expect(a.upstreamServiceTime).toMatch(/^\d+$/);
    expect(a.sent).toMatch(/^GET http:\/\/127\.\d+\.\d+\.\d+:32080\/ Host: api\.example\.com$/);
  });

  itEnvoy('worker.example.com and https://API.Example.com/health reach their own Pods', async () => {
    expect(await lane().request('worker.example.com')).toMatchObject({ status: 200, backend: WORKER_POD });
    expect(await lane().request('https://API.Example.com/health')).toMatchObject({ status: 200, backend: API_POD });
  });

  itEnvoy("admin.example.com (no route) and example.com (outside the listener): Envoy's empty 404", async () => {
    for (const t of ['admin.example.com', 'example.com']) {
      const a = await lane().request(t);
      expect(a, t).toMatchObject({ status: 404, server: 'istio-envoy', body: '' });
      expect(a.backend, t).toBeUndefined();
    }
  });

  describe('gwdoctor live with network probes, through real nginx (TLS) and dnsmasq', () => {
    const bins = requireBins();
    let dir = '';
    let nginx: Nginx | undefined;
    let dns: Dnsmasq | undefined;
    let caFile = '';
    beforeAll(async () => {
      const st = s.get();
      if (!st || !bins.bins) return;
      dir = mkdtempSync(join(tmpdir(), 'gwdoctor-envoy-lane-'));
      const pki = new TestPki(dir, bins.bins.openssl);
      caFile = pki.ca('test-ca');
      const leaf = pki.leaf(
        'test-ca',
        'good',
        ['api.example.com', 'worker.example.com', 'admin.example.com'],
        days(-1),
        days(60),
      );
      const np = st.sc.envoys[0]!.nodePorts.find((n) => n.servicePort === 80)!;
      nginx = await startNginx(bins.bins.nginx, join(dir, 'nginx'), [
        {
          name: 'front',
          serverName: 'api.example.com worker.example.com admin.example.com',
          ...leaf,
          // HTTP/1.1 upstream: Istio's gateway answers HTTP/1.0 (nginx's default) with 426 Upgrade Required.
          location: `proxy_pass http://${np.address}:${np.nodePort}; proxy_set_header Host $host; proxy_http_version 1.1;`,
        },
      ]);
      dns = await startDnsmasq(bins.bins.dnsmasq, { address: { 'example.com': '127.0.0.1' }, local: ['example.com'] });
    }, 60_000);
    afterAll(async () => {
      await nginx?.stop();
      await dns?.stop();
      if (dir) rmSync(dir, { recursive: true, force: true });
    });

    const env = async (): Promise<Env> => {
      const resolvers = [`127.0.0.1:${dns!.port}`];
      return {
        cluster: await liveCluster('readonly'),
        clusterUnavailable: null,
        gatewayFilter: null,
        offline: false,
        net: { resolvers, expectIps: [], caFile, port: nginx!.ports['front']! },
        resolver: async () => packetResolver(resolvers, { system: false }),
        probe: async () => undiciProbe,
        signal: AbortSignal.timeout(30_000),
      };
    };

    itEnvoy('https://api.example.com/: pass, through nginx to the real Envoy and the example-api Pod', async () => {
      const rep = await runTarget(LAYERS, parseTarget('https://api.example.com/'), await env(), {
        until: null,
        intervalMs: 0,
      });
      expect(outcome(rep)).toMatchObject({ verdict: 'pass', layer: null, code: null });
      const proxy = rep.layers.find((l) => l.id === 'proxy')!;
      expect(proxy.status).toBe('pass');
      expect(proxy.facts.answers?.map((x) => x.statusCode)).toContain(200);
      // The Service gwdoctor names at the endpoints layer is the one whose Pod the real request reached.
      expect(rep.layers.find((l) => l.id === 'endpoints')?.facts.backends).toContainEqual(
        expect.objectContaining({ kind: 'Service', namespace: 'example-api', name: 'example-api' }),
      );
      expect(await lane().request('https://api.example.com/')).toMatchObject({ status: 200, backend: API_POD });
    });

    itEnvoy('https://admin.example.com/: NoRouteForHost, and Envoy really answers an empty 404 there', async () => {
      const rep = await runTarget(LAYERS, parseTarget('https://admin.example.com/'), await env(), {
        until: null,
        intervalMs: 0,
      });
      expect(outcome(rep)).toMatchObject({ verdict: 'fail', layer: 'route', code: 'NoRouteForHost' });
      expect(await lane().request('https://admin.example.com/')).toMatchObject({ status: 404, body: '' });
    });
  });
});

describe('npm run try-live -- --envoy --manifests DIR --once HOST... -o json', () => {
  // Its own control plane, istiod and Envoy, on a directory that is not under fixtures/: the seed without the
  // example-worker ReferenceGrant.
  itEnvoy(
    "gwdoctor's JSON report with the real answer per target: 200 from the Pod / 500 for the missing grant / 404 for no route",
    async () => {
      const dir = mkdtempSync(join(tmpdir(), 'gwdoctor-try-live-'));
      try {
        const seed = loadManifests([join(FIXTURES, 'seed-healthy')], { keep: 'all' });
        const items = seed.filter((o) => !(o.kind === 'ReferenceGrant' && o.metadata.namespace === 'example-worker'));
        writeFileSync(join(dir, 'cluster.json'), JSON.stringify({ apiVersion: 'v1', kind: 'List', items }));
        const child = spawn(
          process.execPath,
          [
            join(ROOT, 'scripts', 'try-live.mjs'),
            '--envoy',
            '--manifests',
            dir,
            '--once',
            'api.example.com',
            'worker.example.com',
            'admin.example.com',
            '-o',
            'json',
          ],
          {
            cwd: ROOT,
            env: { ...process.env, NO_COLOR: '1' },
            stdio: ['ignore', 'pipe', 'pipe'],
          },
        );
        let out = '';
        let err = '';
        child.stdout.on('data', (d) => (out += d));
        child.stderr.on('data', (d) => (err += d));
        const code = await new Promise<number | null>((resolve) => child.on('close', resolve));
        expect(code, err.slice(-3000)).toBe(1); // gwdoctor's exit code: a target fails
        const report = JSON.parse(out) as {
          targets: {
            input: string;
            verdict: string;
            failedLayer: string | null;
            layers: { id: string; code: string | null }[];
            real?: Record<string, unknown>;
          }[];
        };
        const t = (h: string) => report.targets.find((x) => x.input === h)!;
        expect(t('api.example.com')).toMatchObject({
          verdict: 'pass',
          real: { status: 200, server: 'istio-envoy', backend: API_POD, body: `${API_POD}\n` },
        });
        expect(t('worker.example.com')).toMatchObject({
          verdict: 'fail',
          failedLayer: 'grant',
          real: { status: 500, server: 'istio-envoy', body: '' },
        });
        expect(t('worker.example.com').layers.find((l) => l.id === 'grant')?.code).toBe('ReferenceGrantMissing');
        expect(t('admin.example.com')).toMatchObject({
          verdict: 'fail',
          failedLayer: 'route',
          real: { status: 404, body: '' },
        });
        expect(t('admin.example.com').real).not.toHaveProperty('backend');
        expect(err).toMatch(/\[try-live\] 1 gateway Envoy\(s\) and \d+ backend\(s\) up/);
        expect(err).toMatch(/\[try-live\] stopped; nothing left running/);
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    },
    600_000,
  );
});
