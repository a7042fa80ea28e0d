// The controller that recreates a deleted Pod, from its ownerReferences (null: a bare Pod, nothing recreates it).

import type { Pod } from '../cluster/objects.js';

export function controllerOf(pod: Pod): { kind: string; name: string } | null {
  const refs = (pod.metadata as { ownerReferences?: unknown }).ownerReferences;
  if (!Array.isArray(refs)) return null;
  const c = refs.find(
    (r: unknown) => typeof r === 'object' && r !== null && (r as { controller?: unknown }).controller === true,
  ) as { kind?: unknown; name?: unknown } | undefined;
  return c && typeof c.kind === 'string' && typeof c.name === 'string' ? { kind: c.kind, name: c.name } : null;
}
