// The Pods of a namespace as workloads, for fixes that complete what is missing around Pods that already run: the
// Service a backendRef names but nobody created, the selector of a Service that matches no Pod. Only what the Pods
// themselves say is used (their controller, labels and container ports); a name that merely looks alike never counts.
// Every input is read defensively: these are the cluster's objects (or a user's manifests), not gwdoctor's.

import type { Pod } from '../cluster/objects.js';
import { labelsMatch } from '../cluster/reader.js';

/** Labels that name an app (Kubernetes recommended labels, and the older conventions kubectl and Helm charts use). */
export const NAME_LABELS = ['app.kubernetes.io/name', 'app', 'k8s-app', 'name'];

/** Labels that differ per revision or per Pod: a Service selecting them would lose its Pods at the next rollout. */
const PER_REVISION = new Set([
  'pod-template-hash',
  'controller-revision-hash',
  'pod-template-generation',
  'statefulset.kubernetes.io/pod-name',
  'apps.kubernetes.io/pod-index',
  'controller-uid',
  'batch.kubernetes.io/controller-uid',
  'job-name',
  'batch.kubernetes.io/job-name',
  'security.istio.io/tlsMode',
  'service.istio.io/canonical-revision',
]);

export interface Workload {
  /** "Deployment example-api", "StatefulSet db", "Pod lonely" (a Pod without a controller). */
  describe: string;
  name: string;
  pods: Pod[];
}

const isRecord = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

function labelsOf(p: Pod): Record<string, string> {
  const l = (p.metadata as { labels?: unknown }).labels;
  return isRecord(l)
    ? (Object.fromEntries(Object.entries(l).filter(([, v]) => typeof v === 'string')) as Record<string, string>)
    : {};
}

/** A Pod that can back a Service: not finished, not one of Istio's gateway or waypoint Pods. */
function servingPod(p: Pod): boolean {
  const phase = (p.status as { phase?: unknown } | undefined)?.phase;
  if (phase === 'Succeeded' || phase === 'Failed') return false;
  return (
    labelsOf(p)['gateway.networking.k8s.io/gateway-name'] === undefined &&
    labelsOf(p)['istio.io/gateway-name'] === undefined
  );
}

/** The workload a Pod belongs to: its controller (a ReplicaSet stands for its Deployment when pod-template-hash says so). */
function workloadOf(p: Pod): { kind: string; name: string } {
  const refs = (p.metadata as { ownerReferences?: unknown }).ownerReferences;
  const owner = Array.isArray(refs)
    ? (refs.find(
        (r) =>
          isRecord(r) && r['controller'] === true && typeof r['kind'] === 'string' && typeof r['name'] === 'string',
      ) as { kind: string; name: string } | undefined)
    : undefined;
  if (!owner) return { kind: 'Pod', name: p.metadata.name };
  const hash = labelsOf(p)['pod-template-hash'];
  if (owner.kind === 'ReplicaSet' && hash && owner.name.endsWith(`-${hash}`))
    return { kind: 'Deployment', name: owner.name.slice(0, -hash.length - 1) };
  return { kind: owner.kind, name: owner.name };
}

/** The serving Pods of a namespace grouped by workload, in a stable order. */
export function workloads(pods: Pod[]): Workload[] {
  const by = new Map<string, Workload>();
  for (const p of pods.filter(servingPod)) {
    const w = workloadOf(p);
    const key = `${w.kind} ${w.name}`;
    const got = by.get(key) ?? { describe: key, name: w.name, pods: [] };
    got.pods.push(p);
    by.set(key, got);
  }
  return [...by.values()].sort((a, b) => a.describe.localeCompare(b.describe));
}

/** The labels every Pod of `pods` has with the same value, per-revision labels left out. */
export function sharedLabels(pods: Pod[]): Record<string, string> {
  const [first, ...rest] = pods.map(labelsOf);
  if (!first) return {};
  return Object.fromEntries(
    Object.entries(first).filter(([k, v]) => !PER_REVISION.has(k) && rest.every((l) => l[k] === v)),
  );
}

const sameSet = (a: Pod[], b: Pod[]) => a.length === b.length && a.every((p) => b.includes(p));

/** Does `selector` (non-empty) select exactly `group` among the serving Pods `all` of the namespace? */
export function selectsExactly(selector: Record<string, string>, group: Pod[], all: Pod[]): boolean {
  if (Object.keys(selector).length === 0) return false;
  return sameSet(
    all.filter(servingPod).filter((p) => labelsMatch(selector, labelsOf(p))),
    group,
  );
}

/**
 * The smallest selector from the group's shared labels that selects exactly the group: one app-name label when one
 * suffices, else every shared label; null when none does (the group shares nothing that sets it apart).
 */
export function selectorFor(group: Pod[], all: Pod[]): Record<string, string> | null {
  const shared = sharedLabels(group);
  for (const k of NAME_LABELS) {
    const v = shared[k];
    if (v !== undefined && selectsExactly({ [k]: v }, group, all)) return { [k]: v };
  }
  return selectsExactly(shared, group, all) ? shared : null;
}

export interface ContainerPort {
  name?: string;
  port: number;
}

/** The TCP container ports of a Pod (protocol unset means TCP). */
export function containerPorts(p: Pod): ContainerPort[] {
  const cs = (p.spec as { containers?: unknown } | undefined)?.containers;
  const out: ContainerPort[] = [];
  for (const c of Array.isArray(cs) ? cs : []) {
    const ports = isRecord(c) ? c['ports'] : undefined;
    for (const port of Array.isArray(ports) ? ports : []) {
      if (!isRecord(port) || typeof port['containerPort'] !== 'number') continue;
      if (port['protocol'] !== undefined && port['protocol'] !== 'TCP') continue;
      out.push({
        port: port['containerPort'],
        ...(typeof port['name'] === 'string' && port['name'] !== '' ? { name: port['name'] } : {}),
      });
    }
  }
  return out;
}

/** Does a Pod have the container port a Service's targetPort names (a number, or a port name)? */
export function servesPort(p: Pod, target: number | string): boolean {
  return containerPorts(p).some((c) => (typeof target === 'number' ? c.port === target : c.name === target));
}

/**
 * The container port a new Service port `port` should target on every Pod of the group: `port` itself when each Pod
 * has it, else the one TCP port every Pod has when that is all they have. null when the Pods leave it open.
 */
export function targetPortFor(group: Pod[], port: number): ContainerPort | null {
  if (group.length === 0) return null;
  const named = (n: number) => {
    const names = new Set(group.map((p) => containerPorts(p).find((c) => c.port === n)?.name));
    const [only] = names;
    return names.size === 1 && only ? { name: only } : {};
  };
  if (group.every((p) => containerPorts(p).some((c) => c.port === port))) return { port, ...named(port) };
  const sets = group.map((p) => [...new Set(containerPorts(p).map((c) => c.port))]);
  const first = sets[0] as number[];
  if (first.length === 1 && sets.every((s) => s.length === 1 && s[0] === first[0]))
    return { port: first[0] as number, ...named(first[0] as number) };
  return null;
}

/**
 * The workloads that would back a Service named `name`: the workload of that name (a Deployment `name`, …), or one
 * whose every Pod carries an app-name label with exactly that value. A name that only starts or ends alike
 * (example-api-admin for example-api) is a different app and never counts.
 */
export function workloadsFor(name: string, pods: Pod[]): Workload[] {
  return workloads(pods).filter(
    (w) => w.name === name || w.pods.every((p) => NAME_LABELS.some((k) => labelsOf(p)[k] === name)),
  );
}

export function selectorText(sel: Record<string, string>): string {
  return Object.entries(sel)
    .map(([k, v]) => `${k}=${v}`)
    .join(',');
}
