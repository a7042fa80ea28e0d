// Vitest globalSetup for the integration project: one real control plane per test run, shared by the tests, and real
// istiod (the Gateway API controller) running against it.
// Locally without Go the cluster tests skip with the reason; with CI=true a failed build or start fails the run.

import type { TestProject } from 'vitest/node';
import { startControlPlane, type ControlPlane } from './harness/controlplane.js';
import { buildIstiod, startIstiod, type Istiod } from './harness/istiod.js';
import { installEnvoy } from './harness/envoy.js';
import { buildKubelet } from './harness/kubelet.js';

declare module 'vitest' {
  export interface ProvidedContext {
    controlPlane:
      | {
          server: string;
          kubeconfig: string;
          caFile: string;
          auditLog: string;
          bin: string;
          crds: string;
          etcdUrl: string;
          dir: string;
        }
      | { unavailable: string };
    istiod:
      | {
          version: string;
          httpUrl: string;
          grpcAddr: string;
          log: string;
          readyMs: number;
          forEnvoy: boolean;
          proxyVersion: string;
        }
      | { unavailable: string };
    /** The Envoy binary of the data-plane lane (scripts/install-envoy.sh). */
    envoy: { bin: string } | { unavailable: string };
    /** The kubelet port-forward stand-in (scripts/build-kubelet.sh). */
    kubelet: { bin: string } | { unavailable: string };
  }
}

let cp: ControlPlane | undefined;
let istiod: Istiod | undefined;

export default async function setup(project: TestProject) {
  const started = Date.now();
  const unavailable = (what: string, err: unknown): string => {
    if (process.env['CI'] === 'true') throw err;
    const reason = (err as Error).message.split('\n')[0] ?? String(err);
    process.stderr.write(`[${what}] unavailable, live tests will skip: ${reason}\n`);
    return reason;
  };
  // Envoy first: with CI=true a missing one fails the run before anything is started.
  try {
    const t = Date.now();
    const bin = installEnvoy();
    project.provide('envoy', { bin });
    process.stderr.write(`[envoy] ${bin} (install check ${Date.now() - t} ms)\n`);
  } catch (err) {
    project.provide('envoy', { unavailable: unavailable('envoy', err) });
  }
  // The kubelet port-forward stand-in: with CI=true a failed build fails the run (.ci/run builds it first).
  try {
    const t = Date.now();
    const bin = buildKubelet();
    project.provide('kubelet', { bin });
    process.stderr.write(`[kubelet] ${bin} (build check ${Date.now() - t} ms)\n`);
  } catch (err) {
    project.provide('kubelet', { unavailable: unavailable('kubelet', err) });
  }
  try {
    cp = await startControlPlane();
    const { server, kubeconfig, caFile, auditLog, bin, crds, etcdUrl, dir } = cp;
    project.provide('controlPlane', { server, kubeconfig, caFile, auditLog, bin, crds, etcdUrl, dir });
    process.stderr.write(`[controlplane] ready in ${Date.now() - started} ms at ${server} (${dir})\n`);
  } catch (err) {
    const reason = unavailable('controlplane', err);
    project.provide('controlPlane', { unavailable: reason });
  }
  if (cp) {
    try {
      const t = Date.now();
      const home = buildIstiod();
      istiod = await startIstiod({ home, dir: cp.dir, server: cp.server, caFile: cp.caFile });
      const { version, httpUrl, grpcAddr, log, readyMs, forEnvoy, proxyVersion } = istiod;
      project.provide('istiod', { version, httpUrl, grpcAddr, log, readyMs, forEnvoy, proxyVersion });
      process.stderr.write(
        `[istiod] ${version} ready in ${readyMs} ms (build check + start ${Date.now() - t} ms) at ${httpUrl}, log ${log}\n`,
      );
    } catch (err) {
      try {
        project.provide('istiod', { unavailable: unavailable('istiod', err) });
      } catch (e) {
        await cp.stop();
        throw e;
      }
    }
  } else {
    project.provide('istiod', { unavailable: 'no control plane' });
  }
  return async () => {
    if (istiod) {
      const t = Date.now();
      await istiod.stop();
      process.stderr.write(`[istiod] stopped in ${Date.now() - t} ms\n`);
    }
    await cp?.stop();
  };
}
