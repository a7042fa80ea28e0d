// The contract: for every fixture scenario, gwdoctor against a real kube-apiserver (the scenario's objects created,
// controller status written through /status as Istio would write it, Pods "kubeleted" so the real EndpointSlice
// controller computes readiness) reaches the same verdict as gwdoctor on the fixture's manifests:
// same layer, same status, same code. Network layers are off in both.

import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect } from 'vitest';
import { Kube } from './harness/kube.js';
import { applyScenario, type Applied } from './harness/apply.js';
import { itLive, live, liveCluster } from './live.js';
import { outcome, runOnCluster, runScenario, scenarios } from '../helpers/fixtures.js';

const admin = live ? new Kube(live.server, readFileSync(live.caFile), 'admin-token') : null;

describe.each(scenarios())('scenario $name ($status), status as Istio would write it', (s) => {
  let applied: Applied | undefined;
  beforeAll(async () => {
    if (admin) applied = await applyScenario(admin, s.dir);
  }, 120_000);
  afterAll(async () => {
    await applied?.cleanup();
  }, 120_000);

  itLive.each(s.cases)('$target: live verdict equals the manifests verdict', async (c) => {
    const fromManifests = outcome(await runScenario(s.dir, c.target));
    const report = await runOnCluster(await liveCluster('readonly'), c.target);
    const fromLive = outcome(report);
    if (s.status === 'pre-sync' && fromManifests.code === 'EndpointsUnknown') {
      // Manifests from git cannot know readiness; the live cluster knows there are no Pods.
      expect(report.layers.slice(0, 5).map((l) => l.status)).toEqual(['skip', 'skip', 'pass', 'pass', 'pass']);
      expect(fromLive).toMatchObject({ verdict: 'fail', layer: 'endpoints', code: 'NoPodsSelected' });
    } else {
      expect(fromLive).toEqual(fromManifests);
      // Layer by layer, the same objects are named as evidence (a live object must describe itself as
      // "Kind ns/name" exactly as a manifest does); numbers such as generations may differ.
      const shape = (r: typeof report) => r.layers.map((l) => [l.id, l.status, l.code, l.evidence.map((e) => e.ref).sort(), l.summary.replace(/\d+/g, 'N')]);
      expect(shape(report)).toEqual(shape(await runScenario(s.dir, c.target)));
    }
  });
});
