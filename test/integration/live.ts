// Shared helpers for the live-mode tests.

import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, inject, it } from 'vitest';
import { FIXTURES } from '../helpers/fixtures.js';
import { applyScenario, type Applied } from './harness/apply.js';
import { Kube } from './harness/kube.js';
import { LiveCluster } from '../../src/cluster/live.js';

export const cp = inject('controlPlane');
export const live = 'server' in cp ? cp : null;

/** `it` that skips (locally) with the reason when no control plane could be started. CI never gets here: setup throws. */
export const itLive = live ? it : it.skip;
if (!live) console.warn(`live tests skipped: ${'unavailable' in cp ? cp.unavailable : ''}`);

export async function liveCluster(context = 'readonly'): Promise<LiveCluster> {
  if (!live) throw new Error('no control plane');
  return LiveCluster.create({ ok: true, kind: 'files', files: [live.kubeconfig] }, context);
}

export const istiodInfo = inject('istiod');
export const istiod = live && 'httpUrl' in istiodInfo ? istiodInfo : null;

/** `it` for tests that need real istiod writing status on the main control plane (skips locally without it). */
export const itIstiod = istiod ? it : it.skip;
if (live && !istiod) console.warn(`istiod tests skipped: ${'unavailable' in istiodInfo ? istiodInfo.unavailable : ''}`);

/**
 * The fixture scenario `name`, created with real istiod writing its status, for the tests of the enclosing describe
 * (before all of them; torn down after). Without istiod nothing is created (the tests are itIstiod and skip).
 */
export function scenarioUnderIstiod(name: string): void {
  let applied: Applied | undefined;
  beforeAll(async () => {
    if (live && istiod) applied = await applyScenario(new Kube(live.server, readFileSync(live.caFile), 'admin-token'), join(FIXTURES, name), { status: 'istiod' });
  }, 120_000);
  afterAll(async () => {
    await applied?.cleanup();
  }, 120_000);
}
