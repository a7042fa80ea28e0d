// The pipeline: layers in order; a fail or error stops the layers declared after it (src/registry.ts), each recorded as skip.

import type { ClusterReader } from './cluster/reader.js';
import { emit, findingFromError, pass, skip, type Draft } from './findings.js';
import { PathResolver } from './gatewayapi/resolver.js';
import { laneOf, layer, stopsOtherLanes, type Lane, type LayerDecl, type Need, type ReadKind } from './registry.js';
import { prefetch } from './cluster/view.js';
import { mapLimit } from './net/limit.js';
import type { Observer, Finding, LayerId, Observed, Probes, Symptom, Target, TargetReport, Verdict } from './types.js';
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

/** The run's layers by id, each with its declaration; a layer the run does not have is looked up in the registry. */
type Graph = (id: LayerId) => LayerDecl<LayerId>;
function graphOf(layers: readonly LayerDecl<LayerId>[]): Graph {
  const byId = new Map(layers.map((l) => [l.id, l]));
  return (id) => byId.get(id) ?? layer(id);
}

/** The layers whose fail or error can stop `c`: its `after`, transitively. */
function ancestors(c: LayerDecl<LayerId>, graph: Graph): Set<LayerId> {
  const seen = new Set<LayerId>();
  const todo = [...c.after];
  for (let id = todo.pop(); id !== undefined; id = todo.pop()) {
    if (seen.has(id)) continue;
    seen.add(id);
    todo.push(...graph(id).after);
  }
  return seen;
}

/** The first of a layer's needs (in the order network, cluster) this run does not have. */
function unmet(c: LayerDecl<LayerId>, env: Pick<Env, 'offline' | 'cluster'>): Need | null {
  if (c.needs.includes('network') && env.offline) return 'network';
  if (c.needs.includes('cluster') && !env.cluster) return 'cluster';
  return null;
}

/**
 * The kinds the layers of a run read from its cluster source: the declared `inputs` of each layer that runs in this
 * invocation (it needs something, and the run has it: no network-lane kind with --offline, nothing without a cluster).
 */
export function inputsToRead(
  layers: readonly LayerDecl<LayerId>[],
  env: Pick<Env, 'offline' | 'cluster'>,
): Set<ReadKind> {
  const kinds = new Set<ReadKind>();
  if (!env.cluster) return kinds;
  for (const l of layers) if (l.needs.length > 0 && !unmet(l, env)) for (const k of l.inputs) kinds.add(k);
  return kinds;
}

/**
 * The finding that stops layer `c`, from the findings of the layers run before it: the lane rule of src/registry.ts
 * (LANES), applied to what `c` declares (`after`, `lane`, `needs`) and to what stopped.
 */
export function stopOf(
  c: LayerDecl<LayerId>,
  earlier: readonly Finding[],
  graph: Graph,
  env: Env,
  /** Fails that are only what the client gets (observed.symptom), pending: they stop no other lane yet. */
  symptoms: ReadonlySet<Finding> = new Set(),
): Finding | null {
  const mine = ancestors(c, graph);
  const blockers = earlier.filter((f) => (f.status === 'fail' || f.status === 'error') && mine.has(f.id));
  const first = blockers[0];
  if (!first) return null;
  // A layer that reads nothing of its lane has nothing of its own to look at: the first stop is its stop.
  if (!c.needs.includes(c.lane)) return first;
  const own = blockers.find((f) => graph(f.id).lane === c.lane);
  if (own) return own;
  // Another lane's: a layer that could not look, or a fail that stops only its own lane, says nothing about this one
  // while this layer has what it needs to look for itself.
  if ((stopsOtherLanes(first.status as 'fail' | 'error', first.code) && !symptoms.has(first)) || unmet(c, env))
    return first;
  return null;
}

/**
 * One pass over the layers: each layer gets the target, what earlier network layers observed (`probes`, explicit
 * input) and this attempt's lazily resolved cluster path; which layers a fail or error stops, and what a layer is
 * skipped without, is what the layers declare (src/registry.ts LAYERS, LANES; stopOf above).
 */
export async function runOnce(
  layers: readonly Check[],
  target: Target,
  env: Env,
  observer: Observer = {},
): Promise<Finding[]> {
  const probes: Probes = { addresses: null, envoy: [] };
  const path = env.cluster ? new PathResolver(env.cluster, target, env.gatewayFilter) : null;
  const graph = graphOf(layers);
  const out: Finding[] = [];
  // A fail that is only what the client gets (observed.symptom, the proxy's nginx 502): the cluster lane still runs, and
  // its first fail, when it is in a layer whose fault gives that answer, is the verdict (the proxy finding then passes
  // and says so); otherwise the symptom's own fail stays.
  let pending: { at: number; symptom: Symptom } | null = null;
  const symptoms = new Set<Finding>();
  const settle = (explainer: Finding | null) => {
    if (!pending) return;
    const { at, symptom } = pending;
    pending = null;
    const seen = out[at] as Finding;
    if (explainer && explainer.status === 'fail' && explainer.code && symptom.layers.includes(explainer.id)) {
      out[at] = {
        ...pass(seen, `${symptom.seen}; the ${explainer.id} layer names the cause: ${explainer.code}`, {
          evidence: seen.evidence,
          facts: { ...seen.facts, explainedBy: { layer: explainer.id, code: explainer.code } },
        }),
        durationMs: seen.durationMs,
      };
      const i = out.indexOf(explainer);
      out[i] = { ...explainer, evidence: [...explainer.evidence, symptom.evidence] };
    }
    observer.onLayerEnd?.(target, out[at] as Finding);
  };
  for (const [i, check] of layers.entries()) {
    observer.onLayerStart?.(target, check.id);
    const started = performance.now();
    let draft: Draft & { observed?: Observed };
    const stopper = stopOf(check, out, graph, env, symptoms);
    const missing = stopper ? null : unmet(check, env);
    if (stopper)
      draft = skip(
        check,
        `not checked: ${stopper.id} ${stopper.status === 'fail' ? 'failed' : 'could not be checked'}`,
        { reason: 'stopped', after: stopper.id },
      );
    else if (missing === 'network')
      draft = skip(check, 'not checked: --offline (no network probes)', { reason: 'offline' });
    else if (missing === 'cluster')
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
    if (observed?.nodes) probes.nodes = observed.nodes;
    const finding: Finding = { ...reported, durationMs: Math.round(performance.now() - started) };
    const first = !out.some((f) => f.status === 'fail' || f.status === 'error');
    const defer =
      observed?.symptom !== undefined &&
      finding.status === 'fail' &&
      first &&
      env.cluster !== null &&
      layers
        .slice(i + 1)
        .some((l) => l.lane === 'cluster' && l.lane !== check.lane && observed.symptom?.layers.includes(l.id));
    out.push(finding);
    if (defer) {
      pending = { at: out.length - 1, symptom: observed.symptom as Symptom };
      symptoms.add(finding);
    } else observer.onLayerEnd?.(target, finding);
    // The cluster lane's first fail or error settles a pending symptom: it explains it, or nothing does.
    if (
      pending &&
      finding !== out[pending.at] &&
      laneOf(finding.id) === 'cluster' &&
      (finding.status === 'fail' || finding.status === 'error')
    )
      settle(finding);
  }
  settle(null);
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
    // The attempt's snapshot starts with the lists its layers declare, read together; the stages join them.
    if (env.cluster) {
      const ls = typeof layers === 'function' ? [...new Set(pending.flatMap((s) => layers(s.target)))] : layers;
      void prefetch(env.cluster, inputsToRead(ls, env));
    }
    await mapLimit(pending, concurrency, async (s) => {
      const { target } = s;
      if (s.attempt === 0) {
        s.started = now();
        observer.onTargetStart?.(target);
      }
      const attempt = ++s.attempt;
      // With --wait the view shows the final attempt: earlier attempts only start layers (spinners) and report retries.
      const ls = typeof layers === 'function' ? layers(target) : layers;
      const findings = await runOnce(ls, target, round, waiting ? quiet(observer) : observer);
      const { verdict, failedLayer } = verdictOf(findings);
      const open = findings.filter((f) => f.status === 'fail' || f.status === 'error' || f.status === 'warn');
      const graph = graphOf(ls);
      const converging = open.filter((f) => canConverge(f, env, graph(f.id).lane));
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
 * fail or error of a layer of the cluster lane read from a live cluster, which a GitOps sync in progress may still fix
 * (a ReferenceGrant that arrives seconds later). Manifests never change between attempts, so no cluster-lane finding
 * read from files can converge; a warning that is not retryable (EndpointsUnknown, BackendKindUnsupported) is settled.
 * `lane`: the finding's layer's (src/registry.ts LANES).
 */
export function canConverge(f: Finding, env: Pick<Env, 'cluster'>, lane: Lane = laneOf(f.id)): boolean {
  const clusterLane = lane === 'cluster';
  if (clusterLane && env.cluster?.mode !== 'live') return false;
  if (f.retryable) return true;
  return clusterLane && f.status !== 'warn';
}

function quiet(o: Observer): Observer {
  return { ...(o.onLayerStart ? { onLayerStart: o.onLayerStart } : {}) };
}
