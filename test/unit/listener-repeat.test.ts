// A route that names the same Gateway (and listener) in many parentRefs, as Istio's route-binding test input does:
// every line that names the listener names it once, not once per parentRef.

import { join } from 'node:path';
import { expect, it } from 'vitest';
import { loadManifests, ManifestCluster } from '../../src/cluster/manifests.js';
import type { HTTPRoute, K8sObject } from '../../src/cluster/objects.js';
import type { TargetReport } from '../../src/types.js';
import { FIXTURES, runOnCluster } from '../helpers/fixtures.js';

const dir = join(FIXTURES, 'seed-healthy');

function withParentRefs(n: number): ManifestCluster {
  const objs = loadManifests([dir]).map((o) => structuredClone(o) as K8sObject);
  const route = objs.find((o) => o.kind === 'HTTPRoute' && o.metadata.name === 'example-api') as unknown as HTTPRoute;
  const first = route.spec.parentRefs?.[0];
  if (!first) throw new Error('seed route without a parentRef');
  route.spec.parentRefs = Array.from({ length: n }, () => ({ ...first }));
  return new ManifestCluster(objs, [dir]);
}

const LISTENER = /listener "http"/g;
const lines = (r: TargetReport) =>
  r.layers.flatMap((l) => [l.summary, ...l.evidence.map((e) => `${e.ref}: ${e.detail}`)]);

it.each([
  ['api.example.com', false],
  ['api.example.com', true],
])('%s (internal: %s) names listener "http" at most once per line with 20 parentRefs to it', async (host, internal) => {
  const r = await runOnCluster(withParentRefs(20), internal ? `internal:${host}` : host);
  const repeated = lines(r).filter((s) => (s.match(LISTENER) ?? []).length > 1);
  expect(repeated).toEqual([]);
  if (!internal) expect(r.layers.find((l) => l.id === 'listener')?.facts.listeners?.length).toBe(1);
});
