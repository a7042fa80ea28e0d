// The pipeline: layers in order, stop at the first fail or error, record every later layer as skip.

import type { ClusterReader } from './cluster/reader.js';
import { emit, findingFromError, skip, type Draft } from './findings.js';
import { PathResolver } from './gatewayapi/resolver.js';
import { laneOf, stopsOtherLanes } from './registry.js';
import { mapLimit } from './net/limit.js';
import type { Observer, Finding, LayerId, Observed, Probes, Target, TargetReport, Verdict } from './types.js';
import type { Check, CheckContext } from './check.js';

export type Env = Omit<CheckContext, 'target' | 'probes' | 'path'>;

/**
 * The Env of a run that sends no network probe (gwdoctor diff, tests, the bench): the cluster layers only, on
 * `cluster`; the resolver and the probe refuse if anything asks for them.
 */
export function offlineEnv(
  cluster: ClusterReader | null,
  extra: Partial<Env> = {},
  why = 'offline: no network probes',
): Env {
  return {
    cluster,
    clusterUnavailable: cluster ? null : 'no cluster source',
    gatewayFilter: null,
    offline: true,
    net: { resolvers: [], expectIps: [], caFile: null, port: null },
    resolver: () => Promise.reject(new Error(why)),
    probe: () => Promise.reject(new Error(why)),
    signal: AbortSignal.timeout(120_000),
    ...extra,
  };
}

export interface WaitOptions {
  /** Absolute deadline (ms since epoch) for --wait; null = single attempt. */
  until: number | null;
  intervalMs: number;
  now?: () => number;
  sleep?: (ms: number, signal: AbortSignal) => Promise<void>;
}

function aborted(signal: AbortSignal): Promise<never> {
  return new Promise((_, reject) => {
    const fire = () => reject(signal.reason ?? new Error('aborted'));
    if (signal.aborted) fire();
    else signal.addEventListener('abort', fire, { once: true });
  });
}

async function runLayer(check: Check, ctx: CheckContext): Promise<Draft & { observed?: Observed }> {
  if (ctx.signal.aborted) return emit(check, 'Timeout', `not checked: the run's --timeout expired before ${check.id}`);
  try {
    return await Promise.race([check.run(ctx), aborted(ctx.signal)]);
  } catch (err) {
    if (ctx.signal.aborted) return emit(check, 'Timeout', `${check.id} did not finish within --timeout`);
    return findingFromError(check, err);
  }
}

export function verdictOf(layers: Finding[]): { verdict: Verdict; failedLayer: LayerId | null } {
  // A layer that found a fault outranks one that could not look (a DNS timeout before a cluster layer that failed).
  const bad = layers.find((l) => l.status === 'fail') ?? layers.find((l) => l.status === 'error');
  if (bad) return { verdict: bad.status as Verdict, failedLayer: bad.id };
  if (layers.every((l) => l.status === 'skip')) {
    return { verdict: 'error', failedLayer: null };
  }
  return { verdict: layers.some((l) => l.status === 'warn') ? 'warn' : 'pass', failedLayer: null };
}

/**
 * One pass over the layers: each layer gets the target, what earlier network layers observed (`probes`, explicit
 * input) and this attempt's lazily resolved cluster path; the first fail or error stops the pass.
 */
export async function runOnce(
  layers: readonly Check[],
  target: Target,
  env: Env,
  observer: Observer = {},
): Promise<Finding[]> {
  const probes: Probes = { addresses: null, envoy: [] };
  const path = env.cluster ? new PathResolver(env.cluster, target, env.gatewayFilter) : null;
  const out: Finding[] = [];
  let stoppedBy: Finding | null = null;
  let clusterStop: Finding | null = null;
  for (const [i, check] of layers.entries()) {
    observer.onLayerStart?.(target, check.id);
    const started = performance.now();
    let draft: Draft & { observed?: Observed };
    // The lanes (src/registry.ts): a layer of another lane that could not look (DNS timeout, a proxy this machine
    // cannot reach) says nothing about this one, nor does a fail whose code stops only its own lane (an internal host
    // the proxy serves: the cluster layers still run, to name the route behind it). With a cluster source the cluster
    // layers then still run (until one of them stops), so the run names what it can.
    const bypass =
      stoppedBy !== null &&
      !stopsOtherLanes(stoppedBy.status as 'fail' | 'error', stoppedBy.code) &&
      laneOf(stoppedBy.id) !== laneOf(check.id) &&
      !clusterStop &&
      check.needsCluster &&
      env.cluster !== null;
    const stopper = check.needsCluster && clusterStop ? clusterStop : stoppedBy;
    if (stopper && !bypass)
      draft = skip(
        check,
        `not checked: ${stopper.id} ${stopper.status === 'fail' ? 'failed' : 'could not be checked'}`,
        { reason: 'stopped', after: stopper.id },
      );
    else if (check.network && env.offline)
      draft = skip(check, 'not checked: --offline (no network probes)', { reason: 'offline' });
    else if (check.needsCluster && !env.cluster)
      draft = skip(check, `not checked: ${env.clusterUnavailable ?? 'no cluster source'}`, { reason: 'no-cluster' });
    else
      draft = await runLayer(check, {
        ...env,
        target,
        probes: { ...probes, envoy: [...probes.envoy] },
        path,
        later: layers.slice(i + 1).map((l) => l.id),
      });
    const { observed, ...reported } = draft;
    if (observed?.addresses) probes.addresses = observed.addresses;
    if (observed?.envoy) probes.envoy.push(...observed.envoy);
    // An answer a finding explained is settled: later layers that could explain it too no longer weigh it.
    if (observed?.explained) probes.envoy = probes.envoy.filter((e) => !observed.explained?.includes(e));
    if (observed?.answers) probes.answers = observed.answers;
    if (observed?.port) probes.port = observed.port;
    const finding: Finding = { ...reported, durationMs: Math.round(performance.now() - started) };
    if (finding.status === 'fail' || finding.status === 'error') {
      stoppedBy ??= finding;
      if (check.needsCluster) clusterStop ??= finding;
    }
    out.push(finding);
    observer.onLayerEnd?.(target, finding);
  }
  return out;
}

const realSleep = (ms: number, signal: AbortSignal) =>
  new Promise<void>((resolve) => {
    const t = setTimeout(resolve, ms);
    signal.addEventListener(
      'abort',
      () => {
        clearTimeout(t);
        resolve();
      },
      { once: true },
    );
  });

/**
 * Run a target; with --wait, re-run while the outcome is a retryable fail/warn/error (a controller that has not
 * caught up, endpoints not ready yet) and the deadline allows. linkerd's RetryDeadline, with clock and sleep injected.
 */
export async function runTarget(
  layers: readonly Check[],
  target: Target,
  env: Env,
  wait: WaitOptions,
  observer: Observer = {},
): Promise<TargetReport> {
  return (await runTargets(layers, [target], env, wait, observer, 1))[0] as TargetReport;
}

/**
 * Run every target, in rounds: each round runs one attempt of every target still waiting (at most `concurrency` at a
 * time), then, if any target may still converge, sleeps once and refreshes the cluster reader once, so that the next
 * round re-reads each kind once for all targets (O(kinds x attempts) API requests, not O(targets x attempts)), and no
 * target waits behind another target's whole --wait. Discovery is kept by the reader for the run; the probes a round's
 * targets share (`shared`: the nodePort on every node, once per Gateway) are made again in the next round.
 */
export async function runTargets(
  layers: readonly Check[] | ((t: Target) => readonly Check[]),
  targets: readonly Target[],
  env: Env,
  wait: WaitOptions,
  observer: Observer = {},
  concurrency = 8,
): Promise<TargetReport[]> {
  const now = wait.now ?? Date.now;
  const sleep = wait.sleep ?? realSleep;
  const waiting = wait.until !== null;
  const state = targets.map((target) => ({ target, attempt: 0, started: 0, report: null as TargetReport | null }));
  let pending = state;
  for (;;) {
    const round: Env = { ...env, shared: new Map() }; // what this round's targets share (src/check.ts)
    await mapLimit(pending, concurrency, async (s) => {
      const { target } = s;
      if (s.attempt === 0) {
        s.started = now();
        observer.onTargetStart?.(target);
      }
      const attempt = ++s.attempt;
      // With --wait the view shows the final attempt: earlier attempts only start layers (spinners) and report retries.
      const findings = await runOnce(
        typeof layers === 'function' ? layers(target) : layers,
        target,
        round,
        waiting ? quiet(observer) : observer,
      );
      const { verdict, failedLayer } = verdictOf(findings);
      const open = findings.filter((f) => f.status === 'fail' || f.status === 'error' || f.status === 'warn');
      const converging = open.filter((f) => canConverge(f, env));
      let stopped: NonNullable<TargetReport['waited']>['stopped'] | null = null;
      if (!waiting) stopped = 'single-attempt';
      else if (verdict === 'pass') stopped = 'passed';
      else if (converging.length === 0)
        stopped =
          open.length > 0 && open.every((f) => f.status === 'warn') ? 'only-settled-warnings' : 'nothing-retryable';
      else if (env.signal.aborted) stopped = 'deadline';
      else if (now() + wait.intervalMs >= (wait.until as number)) stopped = 'deadline';
      if (stopped) {
        const report: TargetReport = {
          input: target.input,
          host: target.host,
          path: target.path,
          verdict,
          failedLayer,
          attempts: attempt,
          layers: findings,
          ...(target.expect ? { expect: target.expect } : {}),
        };
        if (waiting) {
          report.waited = { attempts: attempt, durationMs: Math.max(0, Math.round(now() - s.started)), stopped };
          for (const f of findings) observer.onLayerEnd?.(target, f);
        }
        observer.onTargetEnd?.(target, report);
        s.report = report;
        return;
      }
      observer.onRetry?.(target, attempt, converging[0] as Finding, wait.intervalMs);
    });
    pending = state.filter((s) => s.report === null);
    if (pending.length === 0) return state.map((s) => s.report as TargetReport);
    await sleep(wait.intervalMs, env.signal);
    env.cluster?.refresh(); // the next round resolves new paths from fresh reads, shared by every target
  }
}

/**
 * Can waiting change this finding? A finding marked retryable (a controller or rollout catching up) can; so can any
 * fail or error of a cluster layer read from a live cluster, which a GitOps sync in progress may still fix (a
 * ReferenceGrant that arrives seconds later). Manifests never change between attempts, so no cluster-layer finding
 * read from files can converge; a warning that is not retryable (EndpointsUnknown, BackendKindUnsupported) is settled.
 */
export function canConverge(f: Finding, env: Pick<Env, 'cluster'>): boolean {
  const clusterLayer = laneOf(f.id) === 'cluster';
  if (clusterLayer && env.cluster?.mode !== 'live') return false;
  if (f.retryable) return true;
  return clusterLayer && f.status !== 'warn';
}

function quiet(o: Observer): Observer {
  return { ...(o.onLayerStart ? { onLayerStart: o.onLayerStart } : {}) };
}
