// Shared helpers for the live-mode tests.

import { readFileSync } from 'node:fs';
import { isAbsolute } from 'node:path';
import { afterAll, beforeAll, inject, it } from 'vitest';
import { scenarioDir } from '../helpers/fixtures.js';
import { applyScenario, type Applied } from './harness/apply.js';
import { Kube } from './harness/kube.js';
import { LiveCluster } from '../../src/cluster/live.js';
import { EnvoyLane, type LaneScenario } from './harness/envoy.js';
import { laneKubelets, type Kubelet } from './harness/kubelet.js';

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
    if (live && istiod)
      applied = await applyScenario(
        new Kube(live.server, readFileSync(live.caFile), 'admin-token'),
        scenarioDir(name),
        { status: 'istiod' },
      );
  }, 120_000);
  afterAll(async () => {
    await applied?.cleanup();
  }, 120_000);
}

export const envoyInfo = inject('envoy');
/** The data-plane lane's Envoy binary, or null (locally without it; with CI=true setup fails instead). */
export const envoyBin = 'bin' in envoyInfo ? envoyInfo.bin : null;
/** `it` for tests that need real istiod and a real Envoy (skips locally without them). */
// With CI=true a lane without a real Envoy is a failure, never a skip: setup already throws when the binary is
// missing, and an istiod started without the switches upstream Envoy needs (GWDOCTOR_ISTIOD_FOR_ENVOY=0) fails here.
if (process.env['CI'] === 'true' && istiod && !istiod.forEnvoy)
  throw new Error('the Envoy lane needs istiod with its Envoy switches: unset GWDOCTOR_ISTIOD_FOR_ENVOY');
export const itEnvoy = istiod?.forEnvoy && envoyBin ? it : it.skip;
if (istiod && !envoyBin)
  console.warn(`envoy tests skipped: ${'unavailable' in envoyInfo ? envoyInfo.unavailable : ''}`);

export const kubeletInfo = inject('kubelet');
/** The kubelet port-forward stand-in (harness/kubelet.ts), or null (locally without Go; with CI=true setup fails instead). */
export const kubeletBin = 'bin' in kubeletInfo ? kubeletInfo.bin : null;
/** `it` for tests that carry a port-forward through the real API server to the stand-in (skips locally without it). */
export const itKubelet = live && kubeletBin ? it : it.skip;
if (live && !kubeletBin)
  console.warn(`kubelet tests skipped: ${'unavailable' in kubeletInfo ? kubeletInfo.unavailable : ''}`);

/** The data-plane lane on the suite's control plane and istiod (harness/envoy.ts), or null without them. */
export async function envoyLane(): Promise<EnvoyLane | null> {
  if (!live || !istiod || !envoyBin) return null;
  if (!istiod.forEnvoy) {
    console.warn(
      'no Envoy lane: istiod runs with GWDOCTOR_ISTIOD_FOR_ENVOY=0 (its defaults), whose config upstream Envoy rejects',
    );
    return null;
  }
  const kube = new Kube(live.server, readFileSync(live.caFile), 'admin-token');
  return EnvoyLane.create({
    bin: envoyBin,
    kube,
    istiod,
    etcdUrl: live.etcdUrl,
    etcdPrefix: '/registry-main',
    dir: live.dir,
  });
}

/**
 * The fixture scenario `name` (or a directory of manifests, by absolute path) under istiod with a real gateway Envoy (harness/envoy.ts) for the tests of the enclosing
 * describe; `get()` returns the running lane scenario (null when skipped).
 */
export function scenarioWithEnvoy(
  name: string,
  opts: { kubelets?: boolean } = {},
): {
  get(): { lane: EnvoyLane; applied: Applied; sc: LaneScenario; kubelets: Kubelet[] } | null;
} {
  let state: { lane: EnvoyLane; applied: Applied; sc: LaneScenario; kubelets: Kubelet[] } | null = null;
  let kubelets: Awaited<ReturnType<typeof laneKubelets>> | null = null;
  beforeAll(async () => {
    const lane = await envoyLane();
    if (!lane || !live) return;
    const kube = new Kube(live.server, readFileSync(live.caFile), 'admin-token');
    const applied = await applyScenario(kube, isAbsolute(name) ? name : scenarioDir(name), {
      status: 'istiod',
      lane,
    });
    try {
      // With kubelets: port-forwards through the real API server reach the lane's Pods (harness/kubelet.ts).
      if (opts.kubelets) {
        if (!kubeletBin) throw new Error('no kubelet stand-in (scripts/build-kubelet.sh)');
        kubelets = await laneKubelets({
          bin: kubeletBin,
          dir: live.dir,
          server: live.server,
          kube,
          nodeAddresses: lane.nodeEntries().map(([, a]) => a),
          namespaces: applied.namespaces,
        });
      }
      state = { lane, applied, sc: await lane.start(applied.namespaces), kubelets: kubelets?.kubelets ?? [] };
    } catch (err) {
      await kubelets?.stop();
      await applied.cleanup();
      throw err;
    }
  }, 180_000);
  afterAll(async () => {
    await state?.sc.stop();
    await kubelets?.stop();
    await state?.applied.cleanup();
  }, 120_000);
  return { get: () => state };
}
