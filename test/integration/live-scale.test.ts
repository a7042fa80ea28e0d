// Live reads at scale, against the real kube-apiserver: every LIST pages with limit/continue, and many targets share
// one LIST per kind. A counting proxy (plain HTTP in front of the API server) records every request gwdoctor makes.

import { readFileSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { request as httpsRequest } from 'node:https';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect } from 'vitest';
import { LiveCluster } from '../../src/cluster/live.js';
import { applyScenario, type Applied } from './harness/apply.js';
import { Kube, type Obj } from './harness/kube.js';
import { istiod, itLive, live } from './live.js';
import { gwdoctorAsync } from '../helpers/cli.js';
import { FIXTURES } from '../helpers/fixtures.js';

const admin = live ? new Kube(live.server, readFileSync(live.caFile), 'admin-token') : null;

/** A plain-HTTP proxy to the API server that keeps the path of every request. */
async function countingProxy(): Promise<{ url: string; requests: string[]; close(): Promise<void> }> {
  const requests: string[] = [];
  const target = new URL(live!.server);
  const ca = readFileSync(live!.caFile);
  const server: Server = createServer((req, res) => {
    requests.push(`${req.method} ${req.url}`);
    const up = httpsRequest({ host: target.hostname, port: target.port, path: req.url, method: req.method, headers: { ...req.headers, host: target.host }, ca }, (r) => {
      res.writeHead(r.statusCode ?? 502, r.headers);
      r.pipe(res);
    });
    up.on('error', () => res.destroy());
    req.pipe(up);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as AddressInfo;
  return { url: `http://127.0.0.1:${port}`, requests, close: () => new Promise((r) => server.close(() => r())) };
}

function kubeconfigTo(server: string): string {
  const file = join(live!.dir, `kubeconfig-proxy-${Date.now()}`);
  writeFileSync(file, `apiVersion: v1\nkind: Config\nclusters:\n- name: c\n  cluster: {server: "${server}", insecure-skip-tls-verify: true}\nusers:\n- {name: u, user: {token: viewer-token}}\ncontexts:\n- {name: x, context: {cluster: c, user: u}}\ncurrent-context: x\n`);
  return file;
}

const HOSTS = 100;

/** HOSTS more apps on the seed cluster: an HTTPRoute in istio-ingress, a Service and an EndpointSlice in app-<k%5>. */
async function addApps(kube: Kube): Promise<Obj[]> {
  const made: Obj[] = [];
  for (let k = 0; k < 5; k++) {
    await kube.ensure({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: `app-${k}` } } as Obj);
    made.push(await kube.create({ apiVersion: 'gateway.networking.k8s.io/v1', kind: 'ReferenceGrant', metadata: { name: 'from-ingress', namespace: `app-${k}` }, spec: { from: [{ group: 'gateway.networking.k8s.io', kind: 'HTTPRoute', namespace: 'istio-ingress' }], to: [{ group: '', kind: 'Service' }] } }));
  }
  for (let i = 0; i < HOSTS; i++) {
    const ns = `app-${i % 5}`;
    made.push(await kube.create({ apiVersion: 'v1', kind: 'Service', metadata: { name: `s${i}`, namespace: ns }, spec: { ports: [{ name: 'http', port: 8080, targetPort: 8080 }], selector: { app: `s${i}` } } }));
    const route = await kube.create({
      apiVersion: 'gateway.networking.k8s.io/v1',
      kind: 'HTTPRoute',
      metadata: { name: `h${i}`, namespace: 'istio-ingress' },
      spec: { parentRefs: [{ name: 'example-istio-gateway' }], hostnames: [`h${i}.example.com`], rules: [{ backendRefs: [{ name: `s${i}`, namespace: ns, port: 8080 }] }] },
    });
    if (!istiod) {
      // The status Istio would write (no controller runs in this mode); with istiod, istiod writes it.
      const generation = (route.metadata['generation'] as number) ?? 1;
      const cond = (type: string) => ({ type, status: 'True', reason: type, message: '', observedGeneration: generation, lastTransitionTime: new Date().toISOString().replace(/\.\d+Z$/, 'Z') });
      await kube.putStatus(route, { parents: [{ parentRef: { group: 'gateway.networking.k8s.io', kind: 'Gateway', name: 'example-istio-gateway' }, controllerName: 'istio.io/gateway-controller', conditions: [cond('Accepted'), cond('ResolvedRefs')] }] });
    }
    made.push(route);
  }
  if (istiod) {
    // Bounded wait until istiod has written current status for every new route.
    const until = Date.now() + 60_000;
    for (;;) {
      const routes = await kube.list('gateway.networking.k8s.io/v1', 'HTTPRoute', 'istio-ingress');
      const behind = routes.filter((r) => /^h\d+$/.test(r.metadata.name as string)).filter((r) => {
        const parents = (r['status'] as { parents?: { conditions?: { observedGeneration?: number }[] }[] } | undefined)?.parents ?? [];
        return parents.length === 0 || parents.some((p) => (p.conditions ?? []).some((c) => c.observedGeneration !== r.metadata['generation']));
      });
      if (behind.length === 0) break;
      if (Date.now() > until) throw new Error(`istiod wrote no current status for ${behind.length} routes within 60 s (e.g. HTTPRoute istio-ingress/${behind[0]?.metadata.name})`);
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

  itLive('pages every LIST with limit and continue, and a small page size returns the same objects as one page', async () => {
    const proxy = await countingProxy();
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
  });

  itLive(`checks ${HOSTS} hosts with at most 21 API requests (one shared LIST per kind) and the same verdicts as one by one`, async () => {
    const proxy = await countingProxy();
    try {
      const hosts = Array.from({ length: HOSTS }, (_, i) => `h${i}.example.com`);
      const kc = kubeconfigTo(proxy.url);
      const all = await gwdoctorAsync(['--kubeconfig', kc, '--offline', '-o', 'json', ...hosts]);
      const requests = [...proxy.requests];
      process.stderr.write(`[live-scale] API requests for ${HOSTS} hosts: ${requests.length}\n`);
      const report = JSON.parse(all.stdout) as { targets: { host: string; verdict: string; layers: { status: string; summary: string }[] }[] };
      expect(report.targets).toHaveLength(HOSTS);
      // Every host is traced to its Service: listener, route and grant pass (the Services have no Pods).
      expect(new Set(report.targets.map((t) => t.layers.slice(0, 5).map((l) => l.status).join(',')))).toEqual(new Set(['skip,skip,pass,pass,pass']));
      // 21: one shared LIST per kind, GRPCRoutes included (they share the listeners' virtual hosts with HTTPRoutes).
      expect(requests.length, requests.join('\n')).toBeLessThanOrEqual(21);

      proxy.requests.length = 0;
      const one = await gwdoctorAsync(['--kubeconfig', kc, '--offline', '-o', 'json', 'h7.example.com']);
      const single = JSON.parse(one.stdout) as typeof report;
      expect(single.targets[0]?.layers.map((l) => [l.status, l.summary])).toEqual(report.targets[7]?.layers.map((l) => [l.status, l.summary]));
      process.stderr.write(`[live-scale] API requests for 1 host: ${proxy.requests.length}\n`);
    } finally {
      await proxy.close();
    }
  });
});
