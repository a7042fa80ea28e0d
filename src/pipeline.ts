// The pipeline: layers in order, stop at the first fail or error, record every later layer as skip.

import { hintFor } from './codes.js';
import { findingFromError, skip, errorFinding, type Draft } from './findings.js';
import type { Check, CheckContext, Finding, LayerId, Target, TargetReport, Verdict } from './types.js';

export interface Observer {
  onTargetStart?(target: Target): void;
  onLayerStart?(target: Target, id: LayerId): void;
  onLayerEnd?(target: Target, finding: Finding): void;
  /** --wait: a retryable finding will be checked again after `delayMs`. */
  onRetry?(target: Target, attempt: number, finding: Finding, delayMs: number): void;
  onTargetEnd?(target: Target, report: TargetReport): void;
}

export type Env = Omit<CheckContext, 'target' | 'facts'>;

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

async function runLayer(check: Check, ctx: CheckContext): Promise<Draft> {
  if (ctx.signal.aborted) return errorFinding(check, 'Timeout', `not checked: the run's --timeout expired before ${check.id}`);
  try {
    return await Promise.race([check.run(ctx), aborted(ctx.signal)]);
  } catch (err) {
    if (ctx.signal.aborted) return errorFinding(check, 'Timeout', `${check.id} did not finish within --timeout`, { retryable: true });
    return findingFromError(check, err);
  }
}

export function verdictOf(layers: Finding[]): { verdict: Verdict; failedLayer: LayerId | null } {
  const bad = layers.find((l) => l.status === 'fail' || l.status === 'error');
  if (bad) return { verdict: bad.status as Verdict, failedLayer: bad.id };
  if (layers.every((l) => l.status === 'skip')) {
    return { verdict: 'error', failedLayer: null };
  }
  return { verdict: layers.some((l) => l.status === 'warn') ? 'warn' : 'pass', failedLayer: null };
}

/** One pass over the layers. */
export async function runOnce(layers: readonly Check[], target: Target, env: Env, observer: Observer = {}): Promise<Finding[]> {
  const ctx: CheckContext = { ...env, target, facts: {} };
  const out: Finding[] = [];
  let stoppedBy: Finding | null = null;
  const held: number[] = [];
  for (const check of layers) {
    observer.onLayerStart?.(target, check.id);
    const started = performance.now();
    let draft: Draft;
    if (stoppedBy) draft = skip(check, `not checked: ${stoppedBy.id} ${stoppedBy.status === 'fail' ? 'failed' : 'could not be checked'}`);
    else if (check.network && env.offline) draft = skip(check, 'not checked: --offline (no network probes)');
    else if (check.needsCluster && !env.cluster) draft = skip(check, `not checked: ${env.clusterUnavailable ?? 'no cluster source'}`);
    else draft = await runLayer(check, ctx);
    // Evidence an earlier layer found for this one (e.g. the proxy saw "503 no healthy upstream" from Envoy).
    const carried = ctx.facts.carried?.[check.id];
    if (carried && draft.status !== 'skip') draft = { ...draft, evidence: [...draft.evidence, ...carried] };
    const finding: Finding = { ...draft, durationMs: Math.round(performance.now() - started) };
    if (!stoppedBy && (finding.status === 'fail' || finding.status === 'error')) stoppedBy = finding;
    out.push(finding);
    // A pass on a layer that carries Envoy's error may still turn into a warn below: announce it at the end.
    if (finding.status === 'pass' && ctx.facts.carried?.[check.id]?.length) held.push(out.length - 1);
    else observer.onLayerEnd?.(target, finding);
  }
  // Envoy answered an error that a cluster layer should explain, yet every layer passed: the objects look right but
  // the gateway disagrees (config not pushed yet, or something gwdoctor does not model). Never call that a pass, nor a
  // warning that exits 0: the user's request ends in that error, so the run is inconclusive (exit 2).
  if (!stoppedBy) {
    for (const [i, f] of out.entries()) {
      const carried = ctx.facts.carried?.[f.id];
      if (f.status !== 'pass' || !carried?.length) continue;
      out[i] = {
        ...f,
        status: 'error',
        code: 'GatewayErrorResponse',
        hint: hintFor('GatewayErrorResponse'),
        retryable: true,
        summary: `${f.summary}; but the gateway answered ${carried.map((e) => e.detail).join('; ')}`,
      };
    }
  }
  for (const i of held) observer.onLayerEnd?.(target, out[i] as Finding);
  return out;
}

const realSleep = (ms: number, signal: AbortSignal) =>
  new Promise<void>((resolve) => {
    const t = setTimeout(resolve, ms);
    signal.addEventListener('abort', () => {
      clearTimeout(t);
      resolve();
    }, { once: true });
  });

/**
 * Run a target; with --wait, re-run while the outcome is a retryable fail/warn/error (a controller that has not
 * caught up, endpoints not ready yet) and the deadline allows. linkerd's RetryDeadline, with clock and sleep injected.
 */
export async function runTarget(layers: readonly Check[], target: Target, env: Env, wait: WaitOptions, observer: Observer = {}): Promise<TargetReport> {
  const now = wait.now ?? Date.now;
  const sleep = wait.sleep ?? realSleep;
  observer.onTargetStart?.(target);
  let attempt = 0;
  for (;;) {
    attempt++;
    const findings = await runOnce(layers, target, env, attempt === 1 ? observer : quiet(observer));
    const { verdict, failedLayer } = verdictOf(findings);
    const blocking = findings.find((f) => f.status === 'fail' || f.status === 'error') ?? findings.find((f) => f.status === 'warn');
    const retry = wait.until !== null && blocking?.retryable === true && verdict !== 'pass' && now() + wait.intervalMs < wait.until && !env.signal.aborted;
    if (!retry) {
      const report: TargetReport = { input: target.input, host: target.host, path: target.path, verdict, failedLayer, attempts: attempt, layers: findings };
      if (attempt > 1) for (const f of findings) observer.onLayerEnd?.(target, f);
      observer.onTargetEnd?.(target, report);
      return report;
    }
    observer.onRetry?.(target, attempt, blocking as Finding, wait.intervalMs);
    await sleep(wait.intervalMs, env.signal);
    env.cluster?.refresh();
  }
}

function quiet(o: Observer): Observer {
  return { ...(o.onLayerStart ? { onLayerStart: o.onLayerStart } : {}) };
}
