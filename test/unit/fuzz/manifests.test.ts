// Fuzz: random mutations of the fixture scenarios through the real pipeline (in-process, offline).
// Invariants: no exception escapes (that would be exit 70), the report validates against schema/report.v3.json,
// no planted secret reaches it, and each run ends well within its deadline.

import fc from 'fast-check';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { LAYERS } from '../../../checks/index.js';
import { loadManifests, ManifestCluster } from '../../../src/cluster/manifests.js';
import type { K8sObject } from '../../../src/cluster/objects.js';
import { runTarget } from '../../../src/pipeline.js';
import { redactDeep } from '../../../src/redact.js';
import { GwdoctorError } from '../../../src/errors.js';
import { parseTarget } from '../../../src/target.js';
import type { Report } from '../../../src/types.js';
import { validateReport } from '../../helpers/cli.js';
import { offlineEnv, scenarios } from '../../helpers/fixtures.js';
import { budget, leaked, SECRETS, timeoutFor } from './budget.js';

const SCENARIOS = scenarios().map((s) => ({
  name: s.name,
  objects: loadManifests([s.dir]),
  targets: s.cases.map((c) => c.target),
}));

type Json = null | boolean | number | string | Json[] | { [k: string]: Json };

const junk: fc.Arbitrary<Json> = fc.oneof(
  fc.constant(null),
  fc.boolean(),
  fc.integer({ min: -5, max: 70_000 }),
  fc.double({ noNaN: false }),
  fc.string({ maxLength: 12 }),
  fc.constantFrom(
    '',
    '*',
    '*.example.com',
    'api.example.com',
    '/(a+)+b',
    '(?!x)',
    'RegularExpression',
    'Exact',
    'PathPrefix',
    'HTTP',
    'HTTPS',
    'All',
    'Same',
    'Selector',
    'Service',
    'True',
    'False',
    `https://u:${SECRETS.password}@h/`,
    `token: ${SECRETS.token}`,
  ),
  fc.constant([] as Json[]),
  fc.constant({} as Json),
  fc.array(fc.string({ maxLength: 5 }), { maxLength: 3 }),
);

const sameType: Record<string, fc.Arbitrary<Json>> = {
  string: fc.oneof(
    fc.string({ maxLength: 12 }),
    fc.constantFrom(
      '',
      '*',
      '*.example.com',
      'api.example.com',
      'API.example.com',
      '/(a+)+b',
      '(?!x)',
      '/',
      '//',
      'RegularExpression',
      'Exact',
      'PathPrefix',
      'HTTP',
      'HTTPS',
      'All',
      'Same',
      'Selector',
      'Service',
      'True',
      'False',
      'Unknown',
      `https://u:${SECRETS.password}@h/`,
      `token: ${SECRETS.token}`,
    ),
  ),
  number: fc.oneof(fc.integer({ min: -5, max: 70_000 }), fc.constantFrom(0, 1, 80, 443, 3000, 32080, 65535, 65536)),
  boolean: fc.boolean(),
};

interface Mutation {
  object: number;
  path: number[];
  op: 'set' | 'delete' | 'duplicate-object' | 'empty';
  value: Json;
  /** Keep the schema: replace a value only by one of the same type, empty only arrays, delete only array items. */
  typed: boolean;
}

/** One mutation: a path (indices into the nested object, taken modulo the keys there) and what to do at its end. */
const mutation = (typed: boolean): fc.Arbitrary<Mutation> =>
  fc.record({
    object: fc.nat(),
    path: fc.array(fc.nat(), { minLength: 0, maxLength: 6 }),
    op: fc.constantFrom('set', 'set', 'delete', 'duplicate-object', 'empty'),
    value: typed ? fc.oneof(sameType['string']!, sameType['number']!, sameType['boolean']!) : junk,
    typed: fc.constant(typed),
  });

function mutate(objects: K8sObject[], m: Mutation): K8sObject[] {
  const objs = structuredClone(objects) as unknown as Json[];
  if (objs.length === 0) return objects;
  const i = m.object % objs.length;
  if (m.op === 'duplicate-object') return [...objs, structuredClone(objs[i] as Json)] as unknown as K8sObject[];
  let node: Json = objs;
  let key: string | number = i;
  for (const step of m.path) {
    const child: Json | undefined = Array.isArray(node)
      ? node[key as number]
      : node !== null && typeof node === 'object'
        ? (node as Record<string, Json>)[key as string]
        : undefined;
    if (child === null || typeof child !== 'object') break;
    const keys: (string | number)[] = Array.isArray(child) ? child.map((_, n) => n) : Object.keys(child);
    if (keys.length === 0) break;
    node = child;
    key = keys[step % keys.length] as string | number;
  }
  const parent = node as Record<string | number, Json>;
  const old = parent[key];
  if (m.typed && node === objs) return objs as unknown as K8sObject[]; // keep every object a Kubernetes object
  if (m.op === 'delete') {
    if (Array.isArray(parent)) parent.splice(key as number, 1);
    else if (!m.typed) delete parent[key];
  } else if (m.op === 'empty') {
    if (Array.isArray(old)) parent[key] = [];
    else if (!m.typed) parent[key] = {};
  } else if (!m.typed || (old !== null && typeof old === typeof m.value && typeof old !== 'object'))
    parent[key] = m.value;
  return objs as unknown as K8sObject[];
}

const target = fc.oneof(
  fc.constantFrom(
    'api.example.com',
    'worker.example.com',
    'https://api.example.com/health?x=1',
    'https://admin.example.com/v2/users',
    `https://api.example.com/${'a'.repeat(60)}!`,
  ),
  fc.domain(),
);

/** Objects as a user would hand them over: a `kubectl get -o json` List file, read (and validated) by the loader. */
function throughTheLoader(objs: K8sObject[]): K8sObject[] {
  const dir = mkdtempSync(join(tmpdir(), 'gwdoctor-fuzz-'));
  const f = join(dir, 'dump.json');
  writeFileSync(f, JSON.stringify({ apiVersion: 'v1', kind: 'List', items: objs }));
  try {
    return loadManifests([f]);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

async function check(pick: number, muts: Mutation[], t: string, viaFile = false): Promise<void> {
  const s = SCENARIOS[pick % SCENARIOS.length]!;
  let objs = s.objects;
  for (const m of muts) objs = mutate(objs, m);
  if (viaFile) objs = throughTheLoader(objs);
  let parsed;
  try {
    parsed = parseTarget(t);
  } catch {
    return; // fc.domain() may give a name gwdoctor rejects (exit 3): the targets property covers that
  }
  const t0 = performance.now();
  const rep = await runTarget(
    LAYERS,
    parsed,
    offlineEnv(new ManifestCluster(objs), { signal: AbortSignal.timeout(5000) }),
    { until: null, intervalMs: 0 },
  );
  expect(performance.now() - t0).toBeLessThan(5000);
  const report: Report = redactDeep({
    schemaVersion: 'gwdoctor.report/v3',
    generatedAt: new Date().toISOString(),
    durationMs: 1,
    source: { mode: 'manifests', manifests: [s.name], offline: true },
    targets: [rep],
  });
  expect(validateReport(report), JSON.stringify(validateReport.errors)).toBe(true);
  expect(leaked(JSON.stringify(report))).toEqual([]);
}

describe('mutated fixtures through the pipeline', () => {
  const CASES = 200;
  it(
    `${CASES} schema-keeping mutations of the scenarios: no internal error, a schema-valid report, no secret, in time`,
    async () => {
      await fc.assert(
        fc.asyncProperty(fc.nat(), fc.array(mutation(true), { minLength: 1, maxLength: 5 }), target, (pick, muts, t) =>
          check(pick, muts, t),
        ),
        budget(CASES),
      );
    },
    timeoutFor(CASES, 60),
  );

  // Objects that break the Kubernetes schema (apiVersion a number, a Gateway without spec, null items, ...) reach
  // gwdoctor through the manifests reader, whose object validation must refuse them with a clear line (exit 3).
  it(
    `${CASES} schema-breaking mutations, read from a file as a user gives them: a clear refusal or a report, never an internal error`,
    async () => {
      await fc.assert(
        fc.asyncProperty(
          fc.nat(),
          fc.array(mutation(false), { minLength: 1, maxLength: 4 }),
          target,
          async (pick, muts, t) => {
            try {
              await check(pick, muts, t, true);
            } catch (err) {
              // A refusal with a clear message is fine; anything else is what the CLI reports as exit 70.
              if (!(err instanceof GwdoctorError)) throw err;
            }
          },
        ),
        budget(CASES),
      );
    },
    timeoutFor(CASES, 60),
  );
});
