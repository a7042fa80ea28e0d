// Live reads at scale, against the real kube-apiserver: every LIST pages with limit/continue, and many targets share
// one LIST per kind. A counting proxy (plain HTTP in front of the API server) records every request gwdoctor makes.

import { countingProxy } from '../helpers/counting-proxy.js';
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect } from 'vitest';
import { LiveCluster } from '../../src/cluster/live.js';
import { applyScenario, type Applied } from './harness/apply.js';
import { crdDocs, installCrds, startExtraApiServer, writeKubeconfig } from './harness/controlplane.js';
import { Kube, type Obj } from './harness/kube.js';
import { istiod, itLive, live } from './live.js';
import { gwdoctorAsync } from '../helpers/cli.js';
import { FIXTURES, scenarioDir } from '../helpers/fixtures.js';
import { tempDir } from '../helpers/tmp.js';

const admin = live ? new Kube(live.server, readFileSync(live.caFile), 'admin-token') : null;

/** A kubeconfig pointing at a counting proxy (plain TLS without verification: the proxy's certificate is its own). */
function kubeconfigTo(server: string, token = 'viewer-token'): string {
  return writeKubeconfig(join(live!.dir, `kubeconfig-proxy-${Date.now()}`), server, token, null);
}

const HOSTS = 100;

/** Discovery requests: the group list and the Gateway API group version (what a warm cache saves). */
const isDiscovery = (r: string) =>
  /^GET \/apis\/?(\?.*)?$/.test(r) || /^GET \/apis\/gateway\.networking\.k8s\.io\/v1\/?(\?.*)?$/.test(r);

/** HOSTS more apps on the seed cluster: an HTTPRoute in istio-ingress, a Service and an EndpointSlice in app-<k%5>. */
async function addApps(kube: Kube): Promise<Obj[]> {
  const made: Obj[] = [];
  for (let k = 0; k < 5; k++) {
    await kube.ensure({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: `app-${k}` } } as Obj);
    made.push(
      await kube.create({
        apiVersion: 'gateway.networking.k8s.io/v1',
        kind: 'ReferenceGrant',
        metadata: { name: 'from-ingress', namespace: `app-${k}` },
        spec: {
          from: [{ group: 'gateway.networking.k8s.io', kind: 'HTTPRoute', namespace: 'istio-ingress' }],
          to: [{ group: '', kind: 'Service' }],
        },
      }),
    );
  }
  for (let i = 0; i < HOSTS; i++) {
    const ns = `app-${i % 5}`;
    made.push(
      await kube.create({
        apiVersion: 'v1',
        kind: 'Service',
        metadata: { name: `s${i}`, namespace: ns },
        spec: { ports: [{ name: 'http', port: 8080, targetPort: 8080 }], selector: { app: `s${i}` } },
      }),
    );
    const route = await kube.create({
      apiVersion: 'gateway.networking.k8s.io/v1',
      kind: 'HTTPRoute',
      metadata: { name: `h${i}`, namespace: 'istio-ingress' },
      spec: {
        parentRefs: [{ name: 'example-istio-gateway' }],
        hostnames: [`h${i}.example.com`],
        rules: [{ backendRefs: [{ name: `s${i}`, namespace: ns, port: 8080 }] }],
      },
    });
    if (!istiod) {
      // The status Istio would write (no controller runs in this mode); with istiod, istiod writes it.
      const generation = (route.metadata['generation'] as number) ?? 1;
      const cond = (type: string) => ({
        type,
        status: 'True',
        reason: type,
        message: '',
        observedGeneration: generation,
        lastTransitionTime: new Date().toISOString().replace(/\.\d+Z$/, 'Z'),
      });
      await kube.putStatus(route, {
        parents: [
          {
            parentRef: { group: 'gateway.networking.k8s.io', kind: 'Gateway', name: 'example-istio-gateway' },
            controllerName: 'istio.io/gateway-controller',
            conditions: [cond('Accepted'), cond('ResolvedRefs')],
          },
        ],
      });
    }
    made.push(route);
  }
  if (istiod) {
    // Bounded wait until istiod has written current status for every new route.
    const until = Date.now() + 60_000;
    for (;;) {
      const routes = await kube.list('gateway.networking.k8s.io/v1', 'HTTPRoute', 'istio-ingress');
      const behind = routes
        .filter((r) => /^h\d+$/.test(r.metadata.name as string))
        .filter((r) => {
          const parents =
            (r['status'] as { parents?: { conditions?: { observedGeneration?: number }[] }[] } | undefined)?.parents ??
            [];
          return (
            parents.length === 0 ||
            parents.some((p) => (p.conditions ?? []).some((c) => c.observedGeneration !== r.metadata['generation']))
          );
        });
      if (behind.length === 0) break;
      if (Date.now() > until)
        throw new Error(
          `istiod wrote no current status for ${behind.length} routes within 60 s (e.g. HTTPRoute istio-ingress/${behind[0]?.metadata.name})`,
        );
      await new Promise((r) => setTimeout(r, 250));
    }
  }
  return made;
}

describe('live reads at scale (seed cluster plus 100 hosts)', () => {
  let applied: Applied | undefined;
  let extra: Obj[] = [];
  beforeAll(async () => {
    if (!admin) return;
    applied = await applyScenario(admin, join(FIXTURES, 'seed-healthy'), { status: istiod ? 'istiod' : 'fixture' });
    extra = await addApps(admin);
  }, 300_000);
  afterAll(async () => {
    for (const o of extra.reverse()) await admin?.delete(o);
    await applied?.cleanup();
  }, 300_000);

  itLive(
    'pages every LIST with limit and continue, and a small page size returns the same objects as one page',
    async () => {
      const proxy = await countingProxy(live!.server, live!.caFile);
      try {
        const make = () => LiveCluster.create({ ok: true, kind: 'files', files: [kubeconfigTo(proxy.url)] }, null);
        const whole = await (await make()).httpRoutes();
        const paged = await make();
        paged.pageSize = 7;
        proxy.requests.length = 0;
        const routes = await paged.httpRoutes();
        expect(routes.map((r) => r.metadata.name).sort()).toEqual(whole.map((r) => r.metadata.name).sort());
        expect(routes.length).toBeGreaterThan(100);
        const lists = proxy.requests.filter((r) => r.includes('/httproutes'));
        expect(lists.length).toBe(Math.ceil(routes.length / 7));
        expect(lists.every((r) => /[?&]limit=7(&|$)/.test(r))).toBe(true);
        expect(lists.slice(1).every((r) => /[?&]continue=/.test(r))).toBe(true);
      } finally {
        await proxy.close();
      }
    },
  );

  itLive(
    `checks ${HOSTS} hosts with at most 21 API requests (one shared LIST per kind; 20 with discovery cached) and the same verdicts as one by one`,
    async () => {
      const proxy = await countingProxy(live!.server, live!.caFile);
      try {
        const hosts = Array.from({ length: HOSTS }, (_, i) => `h${i}.example.com`);
        const kc = kubeconfigTo(proxy.url);
        const all = await gwdoctorAsync(['--kubeconfig', kc, '--offline', '-o', 'json', ...hosts]);
        const requests = [...proxy.requests];
        process.stderr.write(`[live-scale] API requests for ${HOSTS} hosts: ${requests.length}\n`);
        const report = JSON.parse(all.stdout) as {
          targets: { host: string; verdict: string; layers: { status: string; summary: string }[] }[];
        };
        expect(report.targets).toHaveLength(HOSTS);
        // Every host is traced to its Service: listener, route and grant pass (the Services have no Pods).
        expect(
          new Set(
            report.targets.map((t) =>
              t.layers
                .slice(0, 5)
                .map((l) => l.status)
                .join(','),
            ),
          ),
        ).toEqual(new Set(['skip,skip,pass,pass,pass']));
        // 21: one shared LIST per kind, GRPCRoutes included (they share the listeners' virtual hosts with HTTPRoutes),
        // and 2 discovery GETs (no discovery cache under this HOME).
        expect(requests.length, requests.join('\n')).toBeLessThanOrEqual(21);
        // As on a workstation, with discovery remembered on disk (a first run fills the cache): at most 20.
        const cacheHome = tempDir('gwdoctor-xdg-');
        await gwdoctorAsync(['--kubeconfig', kc, '--offline', '-o', 'json', 'h0.example.com'], {
          XDG_CACHE_HOME: cacheHome,
        });
        proxy.requests.length = 0;
        const warm = await gwdoctorAsync(['--kubeconfig', kc, '--offline', '-o', 'json', ...hosts], {
          XDG_CACHE_HOME: cacheHome,
        });
        expect(JSON.parse(warm.stdout).targets).toHaveLength(HOSTS);
        process.stderr.write(
          `[live-scale] API requests for ${HOSTS} hosts, discovery cached: ${proxy.requests.length}\n${proxy.requests.join('\n')}\n`,
        );
        expect(proxy.requests.filter(isDiscovery)).toEqual([]);
        expect(proxy.requests.length, proxy.requests.join('\n')).toBeLessThanOrEqual(20);

        proxy.requests.length = 0;
        const one = await gwdoctorAsync(['--kubeconfig', kc, '--offline', '-o', 'json', 'h7.example.com']);
        const single = JSON.parse(one.stdout) as typeof report;
        expect(single.targets[0]?.layers.map((l) => [l.status, l.summary])).toEqual(
          report.targets[7]?.layers.map((l) => [l.status, l.summary]),
        );
        process.stderr.write(`[live-scale] API requests for 1 host: ${proxy.requests.length}\n`);
      } finally {
        await proxy.close();
      }
    },
  );

  itLive(
    'remembers discovery on disk: a second run makes no discovery GET; --no-discovery-cache and GWDOCTOR_NO_DISCOVERY_CACHE make them',
    async () => {
      const proxy = await countingProxy(live!.server, live!.caFile);
      try {
        const kc = kubeconfigTo(proxy.url);
        const cacheHome = tempDir('gwdoctor-xdg-');
        const env = { XDG_CACHE_HOME: cacheHome };
        const discoveryGets = async (args: string[], e: NodeJS.ProcessEnv = env) => {
          proxy.requests.length = 0;
          const r = await gwdoctorAsync(['--kubeconfig', kc, '--offline', '-o', 'json', ...args, 'h3.example.com'], e);
          expect(
            JSON.parse(r.stdout)
              .targets[0].layers.slice(2, 5)
              .map((l: { status: string }) => l.status),
          ).toEqual(['pass', 'pass', 'pass']);
          return proxy.requests.filter(isDiscovery).length;
        };
        const cold = await discoveryGets([]);
        expect(cold).toBe(2); // GET /apis, GET /apis/gateway.networking.k8s.io/v1
        expect(readdirSync(join(cacheHome, 'gwdoctor', 'discovery'))).toHaveLength(1);
        expect(await discoveryGets([])).toBe(0);
        expect(await discoveryGets(['--no-discovery-cache'])).toBe(2);
        expect(await discoveryGets([], { ...env, GWDOCTOR_NO_DISCOVERY_CACHE: '1' })).toBe(2);
        expect(await discoveryGets([])).toBe(0);
        process.stderr.write(`[live-scale] discovery GETs: cold ${cold}, warm 0, opted out 2\n`);
      } finally {
        await proxy.close();
      }
    },
  );

  itLive(
    '--wait over 20 targets re-reads each kind once per attempt for all targets, and discovery never again',
    async () => {
      const proxy = await countingProxy(live!.server, live!.caFile);
      try {
        const kc = kubeconfigTo(proxy.url);
        const count = async (hosts: string[]) => {
          proxy.requests.length = 0;
          // These Services have no Pods: endpoints fails (retryable on a live cluster) until the --wait deadline.
          const r = await gwdoctorAsync([
            '--kubeconfig',
            kc,
            '--no-discovery-cache',
            '--offline',
            '-o',
            'json',
            '--wait',
            '9s',
            ...hosts,
          ]);
          const report = JSON.parse(r.stdout) as {
            targets: { attempts: number; layers: { id: string; status: string }[] }[];
          };
          const attempts = new Set(report.targets.map((t) => t.attempts));
          expect(report.targets.every((t) => t.layers[5]?.status === 'fail')).toBe(true);
          expect(attempts.size).toBe(1); // every target ran the same rounds
          return { attempts: [...attempts][0] as number, requests: [...proxy.requests] };
        };
        const one = await count(['h0.example.com']);
        const many = await count(Array.from({ length: 20 }, (_, i) => `h${i}.example.com`));
        const reads = (x: typeof one) => x.requests.filter((r) => !isDiscovery(r));
        process.stderr.write(
          `[live-scale] --wait 9s: 1 target ${one.attempts} attempts ${one.requests.length} requests; 20 targets ${many.attempts} attempts ${many.requests.length} requests (${(reads(many).length / many.attempts).toFixed(1)} per attempt)\n`,
        );
        expect(many.attempts).toBeGreaterThanOrEqual(3);
        expect(many.requests.filter(isDiscovery)).toHaveLength(2); // once for the run, not per attempt or per target
        // One shared read per kind per attempt: no request is made more often than there are attempts (the old loop
        // read per target per attempt), and each cluster-wide LIST is made exactly once per attempt.
        const times = new Map<string, number>();
        for (const r of reads(many)) times.set(r, (times.get(r) ?? 0) + 1);
        expect(Math.max(...times.values()), many.requests.join('\n')).toBe(many.attempts);
        expect(times.get('GET /apis/gateway.networking.k8s.io/v1/httproutes?limit=500')).toBe(many.attempts);
        // O(kinds x attempts), not 20 x attempts. 13 reads: the kinds, plus the Pods of a namespace whose Service selects
        // none (NoPodsSelected's fix is built from them) until Pods are read cluster-wide.
        expect(reads(many).length).toBeLessThanOrEqual(13 * many.attempts);
        expect(reads(many).length / many.attempts).toBeLessThanOrEqual(2 * (reads(one).length / one.attempts) + 4);
      } finally {
        await proxy.close();
      }
    },
    60_000,
  );
});

describe('a cached discovery that turns out wrong (ReferenceGrant v1 switched off after it was cached)', () => {
  let kube: Kube | undefined;
  let server = '';
  let stop: (() => void) | undefined;
  beforeAll(async () => {
    if (!live) return;
    ({ server, kube, stop } = await startExtraApiServer(live, 'scale'));
    await installCrds(kube, crdDocs(live.crds, 'gateway-api'));
    await applyScenario(kube, scenarioDir('grant-missing'));
  }, 180_000);
  afterAll(() => stop?.());

  itLive(
    'is dropped on the 404 and discovery runs again: the run still checks the grant and prints a v1beta1 ReferenceGrant',
    async () => {
      const proxy = await countingProxy(server, live!.caFile);
      try {
        const kc = kubeconfigTo(proxy.url, 'admin-token'); // this API server has no RBAC for the viewer
        const env = { XDG_CACHE_HOME: tempDir('gwdoctor-xdg-') };
        const run = async () => {
          proxy.requests.length = 0;
          const r = await gwdoctorAsync(['--kubeconfig', kc, '--offline', '-o', 'json', 'api.example.com'], env);
          expect(r.code, r.stdout + r.stderr).toBe(1);
          const grant = JSON.parse(r.stdout).targets[0].layers[4] as {
            code: string;
            fix: { object: { apiVersion: string } };
          };
          expect(grant.code).toBe('ReferenceGrantMissing');
          return {
            apiVersion: grant.fix.object.apiVersion,
            discovery: proxy.requests.filter(isDiscovery).length,
            requests: [...proxy.requests],
          };
        };
        expect(await run()).toMatchObject({ apiVersion: 'gateway.networking.k8s.io/v1', discovery: 2 });
        expect(await run()).toMatchObject({ apiVersion: 'gateway.networking.k8s.io/v1', discovery: 0 }); // warm

        // What a cluster going back to older CRDs serves: ReferenceGrant v1 no longer served (v1beta1 is the storage version).
        const crd = '/apis/apiextensions.k8s.io/v1/customresourcedefinitions/referencegrants.gateway.networking.k8s.io';
        const versions = ((await kube!.get(crd)) as { spec: { versions: { name: string }[] } }).spec.versions;
        const v1 = versions.findIndex((v) => v.name === 'v1');
        const patched = await kube!.raw(
          'PATCH',
          crd,
          [
            { op: 'test', path: `/spec/versions/${v1}/name`, value: 'v1' },
            { op: 'replace', path: `/spec/versions/${v1}/served`, value: false },
          ],
          'application/json-patch+json',
        );
        expect(patched.status).toBe(200);
        const until = Date.now() + 30_000;
        while ((await kube!.raw('GET', '/apis/gateway.networking.k8s.io/v1/referencegrants')).status !== 404) {
          if (Date.now() > until) throw new Error('ReferenceGrant v1 still served 30 s after served: false');
          await new Promise((r) => setTimeout(r, 200));
        }

        const stale = await run();
        expect(stale.apiVersion).toBe('gateway.networking.k8s.io/v1beta1');
        expect(stale.discovery).toBe(2); // the entry was dropped and discovery ran again, once
        expect(
          stale.requests.some((r) => r.includes('/gateway.networking.k8s.io/v1/') && r.includes('referencegrants')),
        ).toBe(true); // the 404
        expect(await run()).toMatchObject({ apiVersion: 'gateway.networking.k8s.io/v1beta1', discovery: 0 }); // re-cached
      } finally {
        await proxy.close();
      }
    },
    120_000,
  );
});
