// Vitest globalSetup for the integration project: one real control plane per test run, shared by the tests.
// Locally without Go the cluster tests skip with the reason; with CI=true a failed build or start fails the run.

import type { TestProject } from 'vitest/node';
import { startControlPlane, type ControlPlane } from './harness/controlplane.js';

declare module 'vitest' {
  export interface ProvidedContext {
    controlPlane: { server: string; kubeconfig: string; caFile: string; auditLog: string; bin: string; crds: string; etcdUrl: string; dir: string } | { unavailable: string };
  }
}

let cp: ControlPlane | undefined;

export default async function setup(project: TestProject) {
  const started = Date.now();
  try {
    cp = await startControlPlane();
    const { server, kubeconfig, caFile, auditLog, bin, crds, etcdUrl, dir } = cp;
    project.provide('controlPlane', { server, kubeconfig, caFile, auditLog, bin, crds, etcdUrl, dir });
    process.stderr.write(`[controlplane] ready in ${Date.now() - started} ms at ${server} (${dir})\n`);
  } catch (err) {
    if (process.env['CI'] === 'true') throw err;
    const reason = (err as Error).message.split('\n')[0] ?? String(err);
    process.stderr.write(`[controlplane] unavailable, live tests will skip: ${reason}\n`);
    project.provide('controlPlane', { unavailable: reason });
  }
  return async () => {
    await cp?.stop();
  };
}
