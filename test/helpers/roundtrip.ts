// The round trip: take the fix gwdoctor prints, apply it exactly as printed, run gwdoctor again. Used against the
// fixtures' manifests (in memory, below) and against the real API server (test/integration/roundtrip.test.ts).

import jsonpatch from 'fast-json-patch';
import mergePatch from 'json-merge-patch';
import type { K8sObject } from '../../src/cluster/objects.js';
import type { Fix } from '../../src/fix/fix.js';
import { LAYER_IDS, type TargetReport } from '../../src/types.js';

/** Status written by a controller; the round trip predicts from the spec (no controller runs on the manifests). */
export const CONTROLLER_KINDS = new Set(['GatewayClass', 'Gateway', 'HTTPRoute']);

export function stripControllerStatus(objects: K8sObject[]): K8sObject[] {
  return objects.map((o) => {
    if (!CONTROLLER_KINDS.has(o.kind)) return o;
    const c = structuredClone(o) as K8sObject & { status?: unknown };
    delete c.status;
    return c;
  });
}

const group = (apiVersion: string) => (apiVersion.includes('/') ? apiVersion.split('/')[0] : '');

function same(o: K8sObject, ref: { apiVersion: string; kind: string; namespace?: string; name: string }): boolean {
  return (
    o.kind === ref.kind &&
    group(o.apiVersion) === group(ref.apiVersion) &&
    o.metadata.name === ref.name &&
    (o.kind === 'Namespace' || (o.metadata.namespace ?? 'default') === (ref.namespace ?? 'default'))
  );
}

export class FixNotApplicable extends Error {}

/**
 * Apply a fix to a list of objects as the API server would: `apply` must not collide with an existing object (that
 * would overwrite it); a patch must name an object that exists, and a JSON patch fails as a whole when a `test`
 * operation fails. A changed spec bumps metadata.generation.
 */
export function applyFixToObjects(objects: K8sObject[], fix: Fix, now = new Date()): K8sObject[] {
  if (fix.kind === 'apply') {
    const o = fix.object as unknown as K8sObject;
    const clash = objects.find((x) => same(x, { ...o, ...o.metadata }));
    if (clash)
      throw new FixNotApplicable(
        `apply would overwrite the existing ${o.kind} ${o.metadata.namespace ?? ''}/${o.metadata.name}`,
      );
    const created = structuredClone(o);
    created.metadata = {
      ...created.metadata,
      generation: 1,
      creationTimestamp: now.toISOString().replace(/\.\d+Z$/, 'Z'),
    };
    return [...objects, created];
  }
  if (fix.kind === 'patch') {
    const i = objects.findIndex((x) => same(x, fix.target));
    if (i < 0)
      throw new FixNotApplicable(
        `patch names ${fix.target.kind} ${fix.target.namespace ?? ''}/${fix.target.name}, which does not exist`,
      );
    const before = objects[i] as K8sObject;
    let after: K8sObject;
    if (fix.patchType === 'json') {
      try {
        after = jsonpatch.applyPatch(
          structuredClone(before),
          fix.patch as jsonpatch.Operation[],
          true,
          false,
        ).newDocument;
      } catch (err) {
        throw new FixNotApplicable(`JSON patch does not apply: ${(err as Error).message.split('\n')[0]}`);
      }
    } else {
      after = mergePatch.apply(structuredClone(before), fix.patch) as unknown as K8sObject;
    }
    const specChanged =
      JSON.stringify((after as { spec?: unknown }).spec) !== JSON.stringify((before as { spec?: unknown }).spec);
    if (specChanged) after.metadata = { ...after.metadata, generation: (before.metadata.generation ?? 1) + 1 };
    const out = [...objects];
    out[i] = after;
    return out;
  }
  throw new FixNotApplicable(`a ${fix.kind} fix is not applied by a script`);
}

type PodLike = K8sObject & {
  spec?: { containers?: { ports?: { name?: string; containerPort: number; protocol?: string }[] }[] };
  status?: { podIP?: string; conditions?: { type: string; status: string }[] };
};
type ServiceLike = K8sObject & {
  spec?: {
    selector?: Record<string, string>;
    ports?: { name?: string; port: number; targetPort?: number | string; protocol?: string }[];
  };
};

/**
 * What the EndpointSlice controller makes of a Service a fix created or changed (kubernetes pkg/controller/endpointslice,
 * as the integration lane's real controller does it): the Pods of the Service's namespace its selector matches that
 * have an IP, ready as their Ready condition says, one slice per set of resolved ports (a named targetPort resolves
 * per Pod through its container port names), ports named after the Service ports. The Service's earlier slices are
 * replaced. Manifests without any Pod (from git) have no controller to predict: they are returned as they are.
 */
export function reconcileEndpointSlices(objects: K8sObject[], namespace: string, name: string): K8sObject[] {
  const svc = objects.find(
    (o) => o.kind === 'Service' && o.metadata.name === name && (o.metadata.namespace ?? 'default') === namespace,
  ) as ServiceLike | undefined;
  if (!svc || !objects.some((o) => o.kind === 'Pod')) return objects;
  const rest = objects.filter(
    (o) =>
      !(
        o.kind === 'EndpointSlice' &&
        (o.metadata.namespace ?? 'default') === namespace &&
        o.metadata.labels?.['kubernetes.io/service-name'] === name
      ),
  );
  const selector = svc.spec?.selector;
  if (!selector || Object.keys(selector).length === 0) return rest;
  const pods = objects.filter(
    (o): o is PodLike =>
      o.kind === 'Pod' &&
      (o.metadata.namespace ?? 'default') === namespace &&
      Object.entries(selector).every(([k, v]) => o.metadata.labels?.[k] === v) &&
      !!(o as PodLike).status?.podIP,
  );
  const groups = new Map<string, { ports: { name: string; port: number; protocol: string }[]; pods: PodLike[] }>();
  for (const p of pods) {
    const ports = (svc.spec?.ports ?? []).flatMap((sp) => {
      const t = sp.targetPort ?? sp.port;
      const n =
        typeof t === 'number'
          ? t
          : (p.spec?.containers ?? []).flatMap((c) => c.ports ?? []).find((c) => c.name === t)?.containerPort;
      return n === undefined ? [] : [{ name: sp.name ?? '', port: n, protocol: sp.protocol ?? 'TCP' }];
    });
    const key = JSON.stringify(ports);
    const g = groups.get(key) ?? { ports, pods: [] };
    g.pods.push(p);
    groups.set(key, g);
  }
  const slices = [...groups.values()].map(
    (g, i) =>
      ({
        apiVersion: 'discovery.k8s.io/v1',
        kind: 'EndpointSlice',
        metadata: {
          name: `${name}-rt${i}`,
          namespace,
          labels: {
            'kubernetes.io/service-name': name,
            'endpointslice.kubernetes.io/managed-by': 'endpointslice-controller.k8s.io',
          },
        },
        addressType: 'IPv4',
        ports: g.ports,
        endpoints: g.pods.map((p) => {
          const ready = (p.status?.conditions ?? []).some((c) => c.type === 'Ready' && c.status === 'True');
          return {
            addresses: [p.status?.podIP],
            conditions: { ready, serving: ready, terminating: false },
            targetRef: { kind: 'Pod', name: p.metadata.name, namespace },
          };
        }),
      }) as unknown as K8sObject,
  );
  return [...rest, ...slices];
}

/** The Service a fix creates or changes, if any (whose EndpointSlices the controller then recomputes). */
export function serviceOf(fix: Fix): { namespace: string; name: string } | null {
  if (fix.kind === 'apply' && fix.object.kind === 'Service' && fix.object.apiVersion === 'v1')
    return { namespace: fix.object.metadata.namespace ?? 'default', name: fix.object.metadata.name };
  if (fix.kind === 'patch' && fix.target.kind === 'Service' && fix.target.apiVersion === 'v1')
    return { namespace: fix.target.namespace ?? 'default', name: fix.target.name };
  return null;
}

export function blocking(r: TargetReport) {
  return r.layers.find((l) => l.status === 'fail' || l.status === 'error');
}

export const layerIndex = (id: string | undefined) =>
  id === undefined ? LAYER_IDS.length : LAYER_IDS.indexOf(id as (typeof LAYER_IDS)[number]);

export interface RoundTrip {
  target: string;
  /** 'passes': reached no fail within 3 rounds; 'human': the fix needs a person (command/manual); otherwise why it failed. */
  result: 'passes' | 'human';
  rounds: number;
  steps: string[];
}

/**
 * Fix, re-run, repeat (at most 3 rounds). Each round must end with the target passing or failing at a strictly later
 * layer, and every other target that passed before must still pass. `run(objects, target)` runs gwdoctor;
 * `apply(objects, fix)` applies the fix (in memory, or on the API server and read back).
 */
export async function roundTrip(
  objects: K8sObject[],
  target: string,
  others: string[],
  run: (objects: K8sObject[], target: string) => Promise<TargetReport>,
  apply: (objects: K8sObject[], fix: Fix) => Promise<K8sObject[]>,
): Promise<RoundTrip> {
  const steps: string[] = [];
  const passing = async (objs: K8sObject[]) => {
    const out: string[] = [];
    for (const t of others) if (!blocking(await run(objs, t))) out.push(t);
    return out;
  };
  const passedBefore = await passing(objects);
  let current = objects;
  let report = await run(current, target);
  for (let round = 1; ; round++) {
    const bad = blocking(report);
    if (!bad) return { target, result: 'passes', rounds: round - 1, steps };
    if (round > 3)
      throw new Error(`${target}: still failing after 3 rounds: ${steps.join(' -> ')} -> ${bad.id}/${bad.code}`);
    const fix = bad.fix;
    if (!fix) throw new Error(`${target}: ${bad.id}/${bad.code} has no fix`);
    if (fix.kind === 'command' || fix.kind === 'manual') {
      steps.push(`${bad.id}/${bad.code}: ${fix.kind} (needs a person)`);
      return { target, result: 'human', rounds: round - 1, steps };
    }
    steps.push(
      `${bad.id}/${bad.code}: ${fix.kind}${fix.kind === 'patch' ? ` ${fix.target.kind} ${fix.target.name}` : ` ${fix.object.kind} ${fix.object.metadata.name}`}`,
    );
    current = await apply(current, fix);
    const next = await run(current, target);
    const nb = blocking(next);
    // Progress: a pass, a later layer, or the same layer with a fault not seen before (a layer checks several
    // things in order: the endpoints layer finds the port fixed and then no pods). Never an earlier layer, never the
    // same fault again.
    const seen = steps.some((st) => nb && st.startsWith(`${nb.id}/${nb.code}:`));
    if (nb && (layerIndex(nb.id) < layerIndex(bad.id) || (nb.id === bad.id && nb.code === bad.code) || seen)) {
      throw new Error(
        `${target}: after applying the ${bad.code} fix it still fails at ${nb.id}/${nb.code} (${nb.summary}); steps: ${steps.join(' -> ')}`,
      );
    }
    for (const t of passedBefore) {
      const r = await run(current, t);
      const b = blocking(r);
      if (b)
        throw new Error(
          `${target}: the ${bad.code} fix broke ${t}, which passed before: now ${b.id}/${b.code} (${b.summary})`,
        );
    }
    report = next;
  }
}
