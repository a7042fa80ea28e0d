// Fixes as data. A fix is something a person (or a script reading the JSON report) can apply as is:
//   apply   a complete object whose name was checked against what gwdoctor read (it never overwrites anything);
//   patch   an RFC 6902 JSON patch (guarded by `test` operations, so it fails instead of changing the wrong item)
//           or an RFC 7386 merge patch, of one existing object; it adds to what is there, never replaces it;
//   command a kubectl command with exact arguments (read-only diagnostics: what to look at next);
//   manual  what to change when gwdoctor cannot know the value (no candidate exists, or only guesses): never presented
//           as appliable.
// When a value of a NEW object is a choice (which Service should serve a host?), the fix is filled with the first
// candidate and `choices` names the field and every candidate gwdoctor found. An existing reference is never re-pointed
// at a guess (a backendRef renamed to a Service with a similar name): that is a `manual` fix naming the candidates.

export interface ObjectRef {
  apiVersion: string;
  kind: string;
  namespace?: string;
  name: string;
}

export interface FixChoice {
  /** JSON pointer of the chosen value, inside `object` (apply) or inside the patch's last `value` (patch). */
  field: string;
  /** What the value means, e.g. "the Service that serves admin.example.com". */
  about: string;
  /** Candidates from the cluster/manifests, the one used first. */
  candidates: string[];
}

export type JsonPatchOp =
  | { op: 'add' | 'replace' | 'test'; path: string; value: unknown }
  | { op: 'remove'; path: string };

interface Base {
  /** One sentence: what the fix does and why it is safe. */
  explain: string;
}

export interface ApplyFix extends Base {
  kind: 'apply';
  object: {
    apiVersion: string;
    kind: string;
    metadata: { name: string; namespace?: string; [k: string]: unknown };
    [k: string]: unknown;
  };
  choices?: FixChoice[];
}

export interface PatchFix extends Base {
  kind: 'patch';
  target: ObjectRef;
  patchType: 'json' | 'merge';
  patch: JsonPatchOp[] | Record<string, unknown>;
  choices?: FixChoice[];
}

export interface CommandFix extends Base {
  kind: 'command';
  argv: string[];
}

export interface ManualFix extends Base {
  kind: 'manual';
}

export type Fix = ApplyFix | PatchFix | CommandFix | ManualFix;
