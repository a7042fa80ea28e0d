// Load a fixture scenario into the real API server: create its objects, write controller status through the /status
// subresource (as Istio would write it), create Pods bound to a Node and write their status as a kubelet would, so
// the real EndpointSlice controller computes EndpointSlices and readiness.

import { loadManifests } from '../../../src/cluster/manifests.js';
import type { K8sObject } from '../../../src/cluster/objects.js';
import { Kube, type Obj } from './kube.js';

const MANAGED_BY = 'endpointslice.kubernetes.io/managed-by';

function clean(o: K8sObject): Obj {
  const c = structuredClone(o) as unknown as Obj & { status?: unknown; spec?: Record<string, unknown> };
  const md = c.metadata as Record<string, unknown>;
  for (const k of ['uid', 'resourceVersion', 'creationTimestamp', 'generation', 'managedFields', 'ownerReferences', 'selfLink']) delete md[k];
  delete c.status;
  if (c.kind === 'Service' && c.spec) {
    delete c.spec['clusterIP'];
    delete c.spec['clusterIPs'];
  }
  return c;
}

/** Shift every observedGeneration by the difference between the fixture's generation and the live one. */
function remapGenerations(status: unknown, fixtureGen: number, liveGen: number): unknown {
  const walk = (v: unknown): unknown => {
    if (Array.isArray(v)) return v.map(walk);
    if (v && typeof v === 'object') {
      const out: Record<string, unknown> = {};
      for (const [k, x] of Object.entries(v)) {
        out[k] = k === 'observedGeneration' && typeof x === 'number' ? Math.max(0, x - fixtureGen + liveGen) : walk(x);
      }
      return out;
    }
    return v;
  };
  return walk(status);
}

function routesOverlap(a: K8sObject, b: K8sObject): boolean {
  const ha = ((a as { spec?: { hostnames?: string[] } }).spec?.hostnames ?? []);
  const hb = ((b as { spec?: { hostnames?: string[] } }).spec?.hostnames ?? []);
  if (ha.length === 0 || hb.length === 0) return true;
  return ha.some((h) => hb.includes(h) || h.startsWith('*') || hb.some((x) => x.startsWith('*')));
}

function endpointCounts(slices: K8sObject[]): { ready: number; total: number } {
  let ready = 0;
  let total = 0;
  for (const s of slices as unknown as { endpoints?: { conditions?: { ready?: boolean | null } }[] | null }[]) {
    for (const e of s.endpoints ?? []) {
      total++;
      if (e.conditions?.ready !== false) ready++;
    }
  }
  return { ready, total };
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export interface Applied {
  cleanup(): Promise<void>;
  objects: number;
}

export async function applyScenario(kube: Kube, dir: string): Promise<Applied> {
  const objects = loadManifests([dir], { keep: 'all' }); // every kind, as written: ConfigMaps too
  const created: Obj[] = [];
  const namespaces = new Set<string>();
  const byKind = (k: string) => objects.filter((o) => o.kind === k);
  const cleanup = async () => {
    for (const o of [...created].reverse()) await kube.delete(o);
    // Controller-made EndpointSlices are garbage-collected asynchronously: remove them now so that the next
    // scenario never sees endpoints of a Service that no longer exists.
    for (const ns of namespaces) {
      for (const s of await kube.list('discovery.k8s.io/v1', 'EndpointSlice', ns)) await kube.delete(s);
    }
    for (let i = 0; i < 50; i++) {
      let left = 0;
      for (const ns of namespaces) left += (await kube.list('v1', 'Pod', ns)).length + (await kube.list('discovery.k8s.io/v1', 'EndpointSlice', ns)).length;
      if (left === 0) break;
      for (const ns of namespaces) for (const s of await kube.list('discovery.k8s.io/v1', 'EndpointSlice', ns)) await kube.delete(s);
      await sleep(100);
    }
  };
  const create = async (o: K8sObject) => {
    const live = await kube.create(clean(o));
    created.push(live);
    if (o.metadata.namespace) namespaces.add(o.metadata.namespace);
    return live;
  };

  try {
    for (const ns of byKind('Namespace')) await kube.ensure(clean(ns));
    for (const o of objects) if (o.metadata.namespace && !byKind('Namespace').some((n) => n.metadata.name === o.metadata.namespace)) {
      await kube.ensure({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: o.metadata.namespace } });
    }
    for (const n of byKind('Node')) {
      const live = await kube.ensure(clean(n));
      const st = (n as { status?: unknown }).status;
      if (st) await kube.patchStatus(live, st);
    }
    for (const gc of byKind('GatewayClass')) {
      const live = await create(gc);
      const st = (gc as { status?: unknown }).status;
      if (st) await kube.putStatus(live, remapGenerations(st, gc.metadata.generation ?? 1, (live.metadata['generation'] as number) ?? 1));
    }
    for (const o of byKind('ConfigMap')) await create(o);
    for (const o of byKind('Service')) await create(o);
    for (const o of byKind('EndpointSlice')) {
      if (o.metadata.labels?.[MANAGED_BY] === 'endpointslice-controller.k8s.io') continue; // the real controller writes these
      await create(o);
    }
    for (const p of byKind('Pod')) {
      const live = await create(p);
      const st = (p as { status?: unknown }).status;
      if (st) await kube.patchStatus(live, st); // as a kubelet would
    }
    for (const g of byKind('Gateway')) {
      const live = await create(g);
      const st = (g as { status?: unknown }).status;
      if (st) await kube.putStatus(live, remapGenerations(st, g.metadata.generation ?? 1, (live.metadata['generation'] as number) ?? 1));
    }
    for (const o of byKind('ReferenceGrant')) await create(o);
    // HTTPRoutes in creationTimestamp order; routes that could compete for a host get distinct (1 s) timestamps so
    // that "oldest wins" means the same thing live as in the fixture.
    const routes = byKind('HTTPRoute').sort((a, b) => (a.metadata.creationTimestamp ?? '').localeCompare(b.metadata.creationTimestamp ?? ''));
    const done: K8sObject[] = [];
    for (const r of routes) {
      if (done.some((d) => routesOverlap(d, r) && d.metadata.creationTimestamp !== r.metadata.creationTimestamp)) await sleep(1100);
      const live = await create(r);
      const st = (r as { status?: unknown }).status;
      if (st) await kube.putStatus(live, remapGenerations(st, r.metadata.generation ?? 1, (live.metadata['generation'] as number) ?? 1));
      done.push(r);
    }

    // Wait until the EndpointSlice controller has caught up with what the fixture shows.
    for (const svc of byKind('Service')) {
      const sel = (svc as { spec?: { selector?: Record<string, string> } }).spec?.selector;
      if (!sel) continue;
      const ns = svc.metadata.namespace ?? 'default';
      const want = endpointCounts(byKind('EndpointSlice').filter((s) => s.metadata.namespace === ns && s.metadata.labels?.['kubernetes.io/service-name'] === svc.metadata.name));
      const until = Date.now() + 20_000;
      for (;;) {
        const live = (await kube.list('discovery.k8s.io/v1', 'EndpointSlice', ns, `kubernetes.io/service-name=${svc.metadata.name}`)) as unknown as K8sObject[];
        const got = endpointCounts(live);
        if (live.length > 0 && got.ready === want.ready && got.total === want.total) break;
        if (Date.now() > until) throw new Error(`EndpointSlices of Service ${ns}/${svc.metadata.name}: want ${JSON.stringify(want)}, live ${JSON.stringify(got)} after 20 s`);
        await sleep(100);
      }
    }
    return { cleanup, objects: created.length };
  } catch (err) {
    await cleanup();
    throw err;
  }
}
