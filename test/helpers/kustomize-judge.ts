// kubectl kustomize (kyaml) as an independent judge of scripts/scenario.mjs's merge: the same seed and overlay,
// written as kustomizations, must give the same objects.
//
// How an overlay maps to kustomize: an inner kustomization takes the seed, deletes each `remove` and `replace` object
// (a patch with `$patch: delete`) and applies each `patch` (an RFC 7396 merge patch) as two strategic merge patches:
// the first with every list set to null (deleted), the second as written. kyaml merges lists of built-in kinds by
// key where a merge patch replaces them; a list set onto a deleted field is the patch's list whatever the schema.
// The outer kustomization adds the `replace` and `add` objects (a resource may not be added twice in one).
// kustomize orders its output by kind, and drops a key whose value is null in the items of a list it patched (the API
// server reads a null field as unset, and so does gwdoctor): compare as sets, without null-valued keys in list items
// (comparable).

import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseAllDocuments, stringify } from 'yaml';
import { type Overlay, presync, ref } from '../../scripts/scenario.mjs';
import { runTool } from './consumers.js';

type Obj = Record<string, any>;

function listsNulled(v: Obj): Obj {
  return Object.fromEntries(
    Object.entries(v).map(([k, x]) => [
      k,
      Array.isArray(x) ? null : x !== null && typeof x === 'object' ? listsNulled(x as Obj) : x,
    ]),
  );
}

function parseRef(r: string): { kind: string; namespace?: string; name: string } {
  const [kind, id] = r.split(' ') as [string, string];
  const slash = id.indexOf('/');
  return slash < 0 ? { kind, name: id } : { kind, namespace: id.slice(0, slash), name: id.slice(slash + 1) };
}

/** The objects kubectl kustomize builds from the seed and the overlay. */
export function kustomize(kubectl: string, seed: Obj[], ov: Overlay): Obj[] {
  const dir = mkdtempSync(join(tmpdir(), 'gwd-kustomize-'));
  try {
    const inner = join(dir, 'base');
    mkdirSync(inner);
    const base = ov.form === 'pre-sync' ? presync(seed) : seed;
    const byRef = new Map(base.map((o) => [ref(o), o]));
    const header = (r: string) => {
      const o = byRef.get(r) as Obj;
      const md: Obj = { name: o['metadata'].name };
      if (o['metadata'].namespace !== undefined) md['namespace'] = o['metadata'].namespace;
      return { apiVersion: o['apiVersion'] as string, kind: o['kind'] as string, metadata: md };
    };
    const write = (d: string, name: string, docs: Obj[]) => {
      writeFileSync(join(d, name), docs.map((x) => `---\n${stringify(x, { lineWidth: 0 })}`).join(''));
      return name;
    };
    const patch = (r: string, body: Obj) => {
      const t = parseRef(r);
      const target: Obj = { kind: t.kind, name: t.name };
      if (t.namespace !== undefined) target['namespace'] = t.namespace;
      const h = header(r);
      // JSON, not block YAML: kyaml drops the final newline of a block scalar in a patch (a ConfigMap value)
      return {
        target,
        patch: JSON.stringify({ ...h, ...body, metadata: { ...(body['metadata'] ?? {}), ...h.metadata } }),
      };
    };
    const deleted = [...ov.remove, ...(ov.replace ?? []).map(ref)];
    const innerK = {
      resources: [write(inner, 'seed.yaml', base)],
      patches: [
        ...deleted.map((r) => patch(r, { $patch: 'delete' })),
        ...ov.patch.flatMap((p) => [patch(p.object, listsNulled(p.merge)), patch(p.object, p.merge)]),
      ],
    };
    writeFileSync(join(inner, 'kustomization.yaml'), stringify(innerK, { lineWidth: 0 }));
    const added = [...(ov.replace ?? []), ...ov.add];
    const outerK = { resources: ['base', ...(added.length > 0 ? [write(dir, 'add.yaml', added)] : [])] };
    writeFileSync(join(dir, 'kustomization.yaml'), stringify(outerK, { lineWidth: 0 }));
    const r = runTool(kubectl, ['kustomize', dir]);
    if (r.code !== 0) throw new Error(`kubectl kustomize failed: ${r.stderr}`);
    return parseAllDocuments(r.stdout)
      .map((d) => d.toJS() as Obj | null)
      .filter((d): d is Obj => d !== null);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

function withoutNulls(v: unknown, inList: boolean): unknown {
  if (Array.isArray(v)) return v.map((x) => withoutNulls(x, true));
  if (v === null || typeof v !== 'object') return v;
  return Object.fromEntries(
    Object.entries(v)
      .filter(([, x]) => !(inList && x === null))
      .map(([k, x]) => [k, withoutNulls(x, inList)]),
  );
}

/** Objects sorted by their overlay name, without null-valued keys in list items: what two merges are compared on. */
export function comparable(objs: Obj[]): unknown[] {
  return [...objs].sort((a, b) => (ref(a) < ref(b) ? -1 : ref(a) > ref(b) ? 1 : 0)).map((o) => withoutNulls(o, false));
}
