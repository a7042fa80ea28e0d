// Load fixture scenarios (the seed fixtures/seed-healthy/cluster.yaml plus fixtures/<scenario>/overlay.yaml, merged by
// scripts/scenario.mjs into .scenarios/<scenario>/cluster.yaml; expect.json beside the overlay) and run the pipeline
// on them.

import { readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { INTERNAL_LAYERS, LAYERS } from '../../checks/index.js';
import type { ClusterReader } from '../../src/cluster/reader.js';
import { ManifestCluster } from '../../src/cluster/manifests.js';
import { offlineEnv as pipelineOfflineEnv, runTarget, type Env } from '../../src/pipeline.js';
import { parseGatewayRef, parseTarget } from '../../src/target.js';
import type { TargetReport } from '../../src/types.js';
import { FIXTURES, materialise, scenarioNames } from '../../scripts/scenario.mjs';

export { FIXTURES };

/** The directory gwdoctor reads for a scenario (merged from the seed and its overlay on first use). */
export function scenarioDir(name: string): string {
  return materialise(name);
}

/** scenarioDir, relative to the working directory: what a command line names (`--manifests .scenarios/NAME`). */
export function scenarioPath(name: string): string {
  return relative(process.cwd(), scenarioDir(name));
}

export interface ExpectCase {
  target: string;
  verdict: 'pass' | 'warn' | 'fail' | 'error';
  layer: string | null;
  code: string | null;
  /** What the live cluster with istiod says where it knows more than the manifests (e.g. Namespace labels). */
  live?: { verdict: ExpectCase['verdict']; layer: string | null; code: string | null };
  /** `--gateway NS/NAME[:PORT]` for this case (e.g. the listener port the proxy forwards to). */
  gateway?: string;
}
export interface Scenario {
  name: string;
  /** The merged scenario's directory (scenarioDir). */
  readonly dir: string;
  description: string;
  status: 'with-controller' | 'pre-sync';
  cases: ExpectCase[];
}

export function scenarios(): Scenario[] {
  return scenarioNames().map((name) => {
    const e = JSON.parse(readFileSync(join(FIXTURES, name, 'expect.json'), 'utf8')) as Omit<Scenario, 'name' | 'dir'>;
    return {
      name,
      // merged on first use: a test that reads one scenario does not merge them all
      get dir() {
        return scenarioDir(name);
      },
      ...e,
    };
  });
}

/** The pipeline's offline Env with the tests' 20 s deadline. */
export function offlineEnv(cluster: ClusterReader | null, extra: Partial<Env> = {}): Env {
  return pipelineOfflineEnv(cluster, { signal: AbortSignal.timeout(20_000), ...extra });
}

/** A case target "internal:HOST" is checked as `--internal HOST` (a host that must not be public). */
const INTERNAL = 'internal:';

export async function runOnCluster(
  cluster: ClusterReader,
  target: string,
  extra: Partial<Env> = {},
): Promise<TargetReport> {
  if (target.startsWith(INTERNAL)) {
    const t = { ...parseTarget(target.slice(INTERNAL.length)), expect: 'internal' as const };
    return runTarget(INTERNAL_LAYERS, t, offlineEnv(cluster, extra), { until: null, intervalMs: 0 });
  }
  return runTarget(LAYERS, parseTarget(target), offlineEnv(cluster, extra), { until: null, intervalMs: 0 });
}

export async function runScenario(dir: string, target: string, gateway?: string): Promise<TargetReport> {
  return runOnCluster(ManifestCluster.fromPaths([dir]), target, gatewayEnv(gateway));
}

/** The Env part of a case's `gateway` (as --gateway gives it). */
export function gatewayEnv(gateway: string | undefined): Partial<Env> {
  return gateway === undefined ? {} : { gatewayFilter: parseGatewayRef(gateway) };
}

/** What a case expects, without how it is run. */
export function expected(c: ExpectCase): ExpectCase {
  return { target: c.target, verdict: c.verdict, layer: c.layer, code: c.code };
}

/** The comparable outcome of a target: what the contract test and expect.json speak about. */
export function outcome(r: TargetReport): ExpectCase {
  const first =
    r.layers.find((l) => l.status === 'fail' || l.status === 'error') ?? r.layers.find((l) => l.status === 'warn');
  return {
    target: r.expect === 'internal' ? `${INTERNAL}${r.input}` : r.input,
    verdict: r.verdict,
    layer: first?.id ?? null,
    code: first?.code ?? null,
  };
}
