// Shared helpers for the live-mode tests.

import { inject, it } from 'vitest';
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
