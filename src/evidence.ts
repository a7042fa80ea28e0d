// Evidence lines about objects: made from the object itself, so the line references it structurally from creation
// (kind, namespace, name; the layer adapter adds its origin). The prose `ref` is for people and is never parsed.

import { describe, type K8sObject } from './cluster/objects.js';
import { refOf } from './fix/build.js';
import type { Evidence } from './types.js';

/** An evidence line about `o`: ref "Kind ns/name" + `suffix`, and `object` its structural reference. */
export function about(o: K8sObject, detail: string, suffix = ''): Evidence {
  return { ref: `${describe(o)}${suffix}`, detail, object: refOf(o) };
}
