// Every field gwdoctor reads, given the wrong JSON type: a clear refusal (exit 3) or a report, never an internal error
// (exit 70, a stack trace).
//
// "Every field gwdoctor reads" is measured, not listed: each fixture scenario runs through the real pipeline (every
// expected target, and the host listing of --all and diff) on objects wrapped in a Proxy that records each property
// path read, per kind (`HTTPRoute spec.rules[].backendRefs[].filters`), absent fields included. A new field read by
// new code joins the set by itself. Then, for each recorded path and each JSON type it does not have, the first
// scenario where the path's parent exists gets that value there (in every object of the kind), is written as a
// `kubectl get -o json` List, read by the manifests loader (whose schema validation, src/cluster/manifest-schemas.json,
// may refuse it with a UsageError) and run through the pipeline.

import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { hostsOnGateways } from '../../../src/all-hosts.js';
import { loadManifests, ManifestCluster } from '../../../src/cluster/manifests.js';
import type { K8sObject } from '../../../src/cluster/objects.js';
import { GwdoctorError } from '../../../src/errors.js';
import { runOnCluster, scenarios } from '../../helpers/fixtures.js';
import { SCALE, SEED } from './budget.js';

type Json = null | boolean | number | string | Json[] | { [k: string]: Json };

const SCENARIOS = scenarios().map((s) => ({
  name: s.name,
  objects: loadManifests([s.dir]),
  targets: s.cases.map((c) => c.target),
}));

/** Wrap an object so that every property read is recorded as `KIND path` (array elements as `[]`). */
function tracked<T extends object>(o: T, kind: string, reads: Set<string>): T {
  const cache = new WeakMap<object, object>();
  const wrap = (x: unknown, path: string): unknown => {
    if (x === null || typeof x !== 'object') return x;
    const hit = cache.get(x);
    if (hit) return hit;
    const p = new Proxy(x, {
      get(t, k, r) {
        const v = Reflect.get(t, k, r);
        if (typeof k === 'symbol') return v;
        const arr = Array.isArray(t);
        if (arr && !/^\d+$/.test(k)) return v; // length, map, ...
        const at = arr ? `${path}[]` : path ? `${path}.${k}` : k;
        if (!arr && typeof v === 'function') return v; // a method (hasOwnProperty, toString), not a field
        reads.add(`${kind} ${at}`);
        return wrap(v, at);
      },
    });
    cache.set(x, p);
    return p;
  };
  return wrap(o, '') as T;
}

async function recordReads(): Promise<Set<string>> {
  const reads = new Set<string>();
  for (const s of SCENARIOS) {
    const cluster = new ManifestCluster(s.objects.map((o) => tracked(o, o.kind, reads)));
    await hostsOnGateways(cluster, null);
    for (const t of s.targets) await runOnCluster(cluster, t);
  }
  // Identity fields every loader reads before any check does; their wrong types are the loader's own business.
  for (const r of [...reads]) if (/^\w+ (apiVersion|kind)$/.test(r)) reads.delete(r);
  return reads;
}

/** Parse `spec.rules[].backendRefs[].filters` into steps: keys and `[]` (every element). */
function steps(path: string): (string | '[]')[] {
  return path.split('.').flatMap((seg) => {
    const m = /^([^[]*)((?:\[\])*)$/.exec(seg);
    const key = m?.[1] ?? seg;
    const arrays = (m?.[2]?.length ?? 0) / 2;
    return [...(key ? [key] : []), ...Array<'[]'>(arrays).fill('[]')];
  });
}

/** Set the value at every location of `path` whose parent exists. Returns how many locations were set. */
function setAll(root: Json, path: (string | '[]')[], value: Json): number {
  const [head, ...rest] = path;
  if (head === undefined || root === null || typeof root !== 'object') return 0;
  if (head === '[]') {
    if (!Array.isArray(root)) return 0;
    if (rest.length === 0) {
      root.forEach((_, i) => (root[i] = structuredClone(value)));
      return root.length;
    }
    return root.reduce<number>((n, x) => n + setAll(x, rest, value), 0);
  }
  if (Array.isArray(root)) return 0;
  if (rest.length === 0) {
    root[head] = structuredClone(value);
    return 1;
  }
  return head in root ? setAll(root[head] as Json, rest, value) : 0;
}

const typeOf = (v: unknown) => (v === null ? 'null' : Array.isArray(v) ? 'array' : typeof v);
/** A value of each JSON type, and the shapes of a list a loop trips over: a null element, a string element. */
const WRONG: { type: string; value: Json }[] = [
  { type: 'string', value: 'x' },
  { type: 'number', value: 7 },
  { type: 'boolean', value: true },
  { type: 'null', value: null },
  { type: 'object', value: { a: 'b' } },
  { type: 'array', value: [] },
  { type: 'array', value: [null] },
  { type: 'array', value: ['x'] },
  { type: 'array', value: [{ a: 1 }] },
];

/** The type a path has in the fixtures (the first value found), or undefined when no fixture sets it. */
function valueAt(root: Json, path: (string | '[]')[]): Json | undefined {
  const [head, ...rest] = path;
  if (head === undefined) return root;
  if (root === null || typeof root !== 'object') return undefined;
  if (head === '[]') {
    if (!Array.isArray(root)) return undefined;
    for (const x of root) {
      const v = valueAt(x, rest);
      if (v !== undefined) return v;
    }
    return undefined;
  }
  return Array.isArray(root) ? undefined : valueAt((root as Record<string, Json>)[head] as Json, rest);
}

const dir = mkdtempSync(join(tmpdir(), 'gwd-fuzz-shapes-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

interface Case {
  kind: string;
  path: string;
  type: string;
  value: Json;
  scenario: number;
}

async function runCase(c: Case): Promise<string | null> {
  const s = SCENARIOS[c.scenario]!;
  const objs = structuredClone(s.objects) as unknown as Json[];
  let n = 0;
  for (const o of objs) if ((o as { kind: string }).kind === c.kind) n += setAll(o, steps(c.path), c.value);
  if (n === 0) return null;
  const f = join(dir, 'dump.json');
  writeFileSync(f, JSON.stringify({ apiVersion: 'v1', kind: 'List', items: objs }));
  let loaded: K8sObject[];
  try {
    loaded = loadManifests([f]);
  } catch (err) {
    if (err instanceof GwdoctorError) return 'refused';
    throw err;
  }
  const cluster = new ManifestCluster(loaded);
  await hostsOnGateways(cluster, null);
  for (const t of s.targets) await runOnCluster(cluster, t);
  return 'ran';
}

describe('every field gwdoctor reads, given the wrong JSON type', () => {
  it('a refusal naming the field, or a report; never an internal error', async () => {
    const reads = await recordReads();
    expect(reads.size).toBeGreaterThan(100); // the recorder saw the pipeline read (a broken Proxy would see nothing)
    const cases: Case[] = [];
    for (const r of [...reads].sort()) {
      const [kind, path] = r.split(' ') as [string, string];
      const st = steps(path);
      const parent = st.slice(0, -1);
      // The first scenario where the field's parent exists in an object of this kind.
      const scenario = SCENARIOS.findIndex((s) =>
        s.objects.some(
          (o) => o.kind === kind && (parent.length === 0 || valueAt(o as unknown as Json, parent) !== undefined),
        ),
      );
      if (scenario === -1) continue;
      const have = SCENARIOS.flatMap((s) =>
        s.objects.filter((o) => o.kind === kind).map((o) => valueAt(o as unknown as Json, st)),
      ).find((v) => v !== undefined);
      // The default budget gives each field 3 of the wrong shapes (which 3 turns with the seed); GWDOCTOR_FUZZ_RUNS > 1 all of them.
      const turn = (SEED + cases.length) % WRONG.length;
      const mine = SCALE > 1 ? WRONG : [0, 1, 2].map((i) => WRONG[(turn + i * 3) % WRONG.length]!);
      for (const w of mine) {
        // Wrong types only; for a list, the element shapes too (a null element in a list of mappings, a string in
        // a list of mappings, a mapping in a list of strings).
        if (have !== undefined && typeOf(have) === w.type && w.type !== 'array') continue;
        if (
          have !== undefined &&
          Array.isArray(have) &&
          Array.isArray(w.value) &&
          (w.value.length === 0 || typeOf(have[0]) === typeOf(w.value[0]))
        )
          continue;
        cases.push({ kind, path, type: w.type, value: w.value, scenario });
      }
    }
    const failures: string[] = [];
    let ran = 0;
    for (const c of cases) {
      try {
        if ((await runCase(c)) !== null) ran++;
      } catch (err) {
        failures.push(
          `${c.kind} ${c.path} = ${JSON.stringify(c.value)} (${SCENARIOS[c.scenario]!.name}): ${(err as Error).message.split('\n')[0]}`,
        );
      }
    }
    expect(failures).toEqual([]);
    expect(ran).toBeGreaterThan(cases.length / 2);
  }, 600_000);
});
