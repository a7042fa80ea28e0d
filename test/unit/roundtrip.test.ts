// The proof that a printed fix works: for every fault of every fixture (controller status removed, so gwdoctor
// predicts from the spec), apply the fix exactly as printed to the manifests, run gwdoctor again, and require that
// the host passes (or fails at a strictly later layer, whose fix is applied next) within 3 rounds, and that no
// other host of the fixture that passed before fails afterwards. The same loop runs against the real API server in
// test/integration/roundtrip.test.ts.

import { describe, expect, it } from 'vitest';
import { ManifestCluster, loadManifests } from '../../src/cluster/manifests.js';
import { runOnCluster, scenarios } from '../helpers/fixtures.js';
import {
  applyFixToObjects,
  blocking,
  FixNotApplicable,
  reconcileEndpointSlices,
  roundTrip,
  serviceOf,
  stripControllerStatus,
  type RoundTrip,
} from '../helpers/roundtrip.js';
import type { K8sObject } from '../../src/cluster/objects.js';

const run = (objects: K8sObject[], target: string) => runOnCluster(new ManifestCluster(objects, ['fixture']), target);
/** The fix as the API server applies it, then what the EndpointSlice controller does for a Service it touched. */
const apply = async (objects: K8sObject[], fix: Parameters<typeof applyFixToObjects>[1]) => {
  const out = applyFixToObjects(objects, fix);
  const svc = serviceOf(fix);
  return svc ? reconcileEndpointSlices(out, svc.namespace, svc.name) : out;
};

const results: RoundTrip[] = [];

describe.each(scenarios())('round trip: $name', (s) => {
  const objects = stripControllerStatus(loadManifests([s.dir]));
  const targets = [...new Set(s.cases.map((c) => c.target))];
  it.each(targets)(
    '%s: applying the printed fixes reaches a pass (or a fix that needs a person) without breaking another host',
    async (target) => {
      const first = await run(objects, target);
      if (!blocking(first)) return; // nothing to fix in this scenario once status is gone
      const r = await roundTrip(
        objects,
        target,
        targets.filter((t) => t !== target),
        run,
        apply,
      );
      results.push(r);
      expect(['passes', 'human']).toContain(r.result);
    },
  );
});

describe('the round-trip helper itself', () => {
  const seed = stripControllerStatus(loadManifests([`${import.meta.dirname}/../../fixtures/seed-healthy`]));
  it('refuses an apply that would overwrite an existing object', () => {
    const route = seed.find((o) => o.kind === 'HTTPRoute') as K8sObject;
    expect(() => applyFixToObjects(seed, { kind: 'apply', object: route as never, explain: '' })).toThrow(
      FixNotApplicable,
    );
  });
  it('refuses a JSON patch whose test operation fails, and a patch of an object that does not exist', () => {
    const gw = seed.find((o) => o.kind === 'Gateway') as K8sObject;
    const target = {
      apiVersion: gw.apiVersion,
      kind: 'Gateway',
      namespace: gw.metadata.namespace as string,
      name: gw.metadata.name,
    };
    expect(() =>
      applyFixToObjects(seed, {
        kind: 'patch',
        target,
        patchType: 'json',
        patch: [{ op: 'test', path: '/spec/listeners/0/name', value: 'nope' }],
        explain: '',
      }),
    ).toThrow(FixNotApplicable);
    expect(() =>
      applyFixToObjects(seed, {
        kind: 'patch',
        target: { ...target, name: 'missing' },
        patchType: 'merge',
        patch: {},
        explain: '',
      }),
    ).toThrow(FixNotApplicable);
  });
});

it('reports how many fault fixtures the round trip fixed automatically', () => {
  // Runs last in this file (vitest runs tests in order): the count goes to the test output.
  const passes = results.filter((r) => r.result === 'passes').length;
  const human = results.filter((r) => r.result === 'human');
  console.log(
    `round trip (manifests): ${results.length} failing targets; ${passes} reach a pass by applying the printed fixes; ${human.length} end at a fix that needs a person: ${human.map((h) => `${h.target} [${h.steps.at(-1)}]`).join('; ')}`,
  );
  expect(results.length).toBeGreaterThan(0);
  expect(passes).toBeGreaterThan(0);
});
