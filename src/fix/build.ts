// Builders for fixes, used by the layers. Names of new objects are checked against the objects gwdoctor read, so an
// `apply` never collides with (and overwrites) an existing object.

import type { K8sObject } from '../cluster/objects.js';
import type { ApplyFix, CommandFix, FixChoice, JsonPatchOp, ManualFix, ObjectRef, PatchFix } from './fix.js';

export const GW_API = 'gateway.networking.k8s.io/v1';

export function refOf(o: K8sObject): ObjectRef {
  return {
    apiVersion: o.apiVersion,
    kind: o.kind,
    ...(o.metadata.namespace ? { namespace: o.metadata.namespace } : {}),
    name: o.metadata.name,
  };
}

/** `base`, or `base-2`, `base-3`… : the first name no existing object has (DNS-1123, at most 63 characters). */
export function uniqueName(base: string, taken: Iterable<string>): string {
  const clean =
    base
      .toLowerCase()
      .replace(/[^a-z0-9-]+/g, '-')
      .replace(/^-+/, '')
      .slice(0, 60)
      .replace(/-+$/, '') || 'gwdoctor';
  const used = new Set(taken);
  if (!used.has(clean)) return clean;
  for (let i = 2; ; i++) {
    const n = `${clean.slice(0, 60 - String(i).length)}-${i}`;
    if (!used.has(n)) return n;
  }
}

export function applyFix(object: ApplyFix['object'], explain: string, choices?: FixChoice[]): ApplyFix {
  return { kind: 'apply', object, explain, ...(choices && choices.length > 0 ? { choices } : {}) };
}

export function jsonPatch(
  target: K8sObject | ObjectRef,
  ops: JsonPatchOp[],
  explain: string,
  choices?: FixChoice[],
): PatchFix {
  const ref = 'metadata' in target ? refOf(target) : target;
  return {
    kind: 'patch',
    target: ref,
    patchType: 'json',
    patch: ops,
    explain,
    ...(choices && choices.length > 0 ? { choices } : {}),
  };
}

export function command(argv: string[], explain: string): CommandFix {
  return { kind: 'command', argv, explain };
}

export function manual(explain: string): ManualFix {
  return { kind: 'manual', explain };
}

/** RFC 6901 escaping of one reference token. */
export function ptr(...tokens: (string | number)[]): string {
  return tokens.map((t) => '/' + String(t).replace(/~/g, '~0').replace(/\//g, '~1')).join('');
}

/** The resource name kubectl resolves without ambiguity (Istio also has a `Gateway` kind, in networking.istio.io). */
export function kubectlResource(ref: ObjectRef): string {
  const [group] = ref.apiVersion.includes('/') ? ref.apiVersion.split('/') : [''];
  const k = ref.kind.toLowerCase();
  const plural = k.endsWith('s') ? `${k}es` : /[^aeiou]y$/.test(k) ? `${k.slice(0, -1)}ies` : `${k}s`;
  return group ? `${plural}.${group}` : plural;
}

/** Edit distance, for "did you mean" candidates. */
export function distance(a: string, b: string): number {
  const d: number[] = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    let prev = d[0] as number;
    d[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const cur = d[j] as number;
      d[j] = Math.min((d[j] as number) + 1, (d[j - 1] as number) + 1, prev + (a[i - 1] === b[j - 1] ? 0 : 1));
      prev = cur;
    }
  }
  return d[b.length] as number;
}

/** Names ordered by closeness to `want`, only those plausibly meant (distance at most a third of the length, or a shared prefix). */
export function closest(want: string, names: string[], max = 5): string[] {
  return names
    .map((n) => ({ n, d: distance(want, n) }))
    .filter(({ n, d }) => d <= Math.max(2, Math.ceil(want.length / 3)) || n.startsWith(want) || want.startsWith(n))
    .sort((a, b) => a.d - b.d || a.n.localeCompare(b.n))
    .slice(0, max)
    .map(({ n }) => n);
}
