// The engine behind the CLI: pick the cluster source, run every target through the pipeline, report, exit code.

import { INTERNAL_LAYERS, LAYERS } from '../checks/index.js';
import { oneLine, parseTarget, routeHostTarget } from './target.js';
import { ManifestCluster } from './cluster/manifests.js';
import type { ClusterReader } from './cluster/reader.js';
import { runTargets, verdictOf, type Env } from './pipeline.js';
import { emit, skip } from './findings.js';
import type { Options } from './options.js';
import type { Finding, Report, Reporter, Resolver, HttpProbe, Target, TargetReport } from './types.js';
import { systemResolver } from './net/system-resolver.js';
import { redactDeep } from './redact.js';
import { UsageError } from './errors.js';

const EXIT_INCONCLUSIVE = 2;

export function exitCodeFor(report: Report): number {
  const v = report.targets.map((t) => t.verdict);
  if (v.includes('fail')) return 1;
  if (v.includes('error')) return 2;
  return 0;
}

async function clusterSource(
  opts: Options,
  signal: AbortSignal,
): Promise<{ cluster: ClusterReader | null; why: string | null }> {
  if (opts.manifests.length > 0) {
    const deadline = Date.now() + opts.timeoutMs;
    // A pipe or a named pipe is copied first, asynchronously: a stalled writer then meets the deadline and SIGTERM.
    const spooled = await (await import('./cluster/spool.js')).spoolStreams(opts.manifests, { deadline });
    let cluster: ManifestCluster;
    try {
      cluster = ManifestCluster.fromPaths(opts.manifests, { deadline, sources: spooled.sources });
    } finally {
      spooled.cleanup();
    }
    // Objects defined twice, versions the API server does not serve: judged as kubectl apply would leave them, said here.
    for (const n of cluster.notices()) process.stderr.write(`gwdoctor: ${oneLine(n)}\n`);
    return { cluster, why: null };
  }
  const { findKubeconfig, LiveCluster } = await import('./cluster/live.js');
  const found = findKubeconfig(opts.kubeconfig);
  if (!found.ok) return { cluster: null, why: found.why };
  const note = opts.debug ? (m: string) => void process.stderr.write(`gwdoctor: ${m}\n`) : undefined;
  return {
    cluster: await LiveCluster.create(found, opts.context, signal, {
      discoveryCache: opts.discoveryCache,
      ...(note ? { note } : {}),
    }),
    why: null,
  };
}

/**
 * Every finding, retry note and report reaches the reporters through this wrapper: what they print (text, tty, JSON)
 * has passed redact() (src/redact.ts), whatever a layer or the cluster put into it.
 */
export function redacting(r: Reporter): Reporter {
  return {
    ...(r.begin ? { begin: (targets: Target[]) => r.begin?.(targets) } : {}),
    ...(r.onTargetStart ? { onTargetStart: (t: Target) => r.onTargetStart?.(t) } : {}),
    ...(r.onLayerStart ? { onLayerStart: (t: Target, id: Finding['id']) => r.onLayerStart?.(t, id) } : {}),
    ...(r.onLayerEnd ? { onLayerEnd: (t: Target, f: Finding) => r.onLayerEnd?.(t, redactDeep(f)) } : {}),
    ...(r.onRetry
      ? { onRetry: (t: Target, n: number, f: Finding, ms: number) => r.onRetry?.(t, n, redactDeep(f), ms) }
      : {}),
    ...(r.onTargetEnd ? { onTargetEnd: (t: Target, rep: TargetReport) => r.onTargetEnd?.(t, redactDeep(rep)) } : {}),
    onEnd: (report: Report) => r.onEnd(redactDeep(report)),
  };
}

const TARGET_CONCURRENCY = 8;

/** --all: the hosts of the selected Gateway(s) not already named; wildcards nobody exercises are said on stderr. */
async function allTargets(
  opts: Options,
  cluster: ClusterReader | null,
  why: string | null,
  named: Target[],
): Promise<Target[]> {
  if (!cluster)
    throw new UsageError(
      `--all needs a cluster source to list the routes: ${why ?? 'none'} (use --manifests or --kubeconfig)`,
    );
  const { hostsOnGateways, uncheckedWildcards } = await import('./all-hosts.js');
  const list = await hostsOnGateways(cluster, opts.gateway);
  if (opts.gateway && list.gateways.length === 0)
    throw new UsageError(`--all: Gateway ${opts.gateway.namespace}/${opts.gateway.name} not found`);
  const have = new Set(named.map((t) => t.host));
  for (const w of uncheckedWildcards(list, [...have])) {
    process.stderr.write(
      `gwdoctor: ${oneLine(`--all: ${w.pattern} (${w.routes.join(', ')}) is a wildcard and was not checked; name a host it covers to check it`)}\n`,
    );
  }
  const extra: Target[] = [];
  for (const h of list.hosts.filter((x) => !have.has(x))) {
    const t = routeHostTarget(h);
    if ('skipped' in t)
      process.stderr.write(
        `gwdoctor: --all: route hostname ${JSON.stringify(h)} was not checked: ${oneLine(t.skipped)}\n`,
      );
    else extra.push(t);
  }
  if (extra.length + named.length === 0) {
    throw new UsageError(
      `--all: no HTTPRoute hostname to check on ${list.gateways.length ? `Gateway ${list.gateways.join(', ')}` : 'any Gateway (none found)'}`,
    );
  }
  return extra;
}

async function pickReporter(opts: Options): Promise<Reporter> {
  const { createReporter } = await import('./report/index.js');
  return createReporter(opts.output, { color: opts.color, verbose: opts.verbose, env: process.env });
}

/** How cli.ts reaches a running run: on Ctrl-C or at the hard deadline it prints what was checked so far. */
export interface RunControl {
  /** Set by run() once a report can be built. Prints the partial report (once; a no-op after the normal end). */
  partial?: (why: 'interrupt' | 'deadline', signal?: 'SIGINT' | 'SIGTERM') => Promise<void>;
}

/** The report of a run cut short: the findings so far; the layer in flight says why it did not finish. */
function partialTarget(
  t: Target,
  seen: Finding[],
  why: 'interrupt' | 'deadline',
  timeoutMs: number,
  signal: 'SIGINT' | 'SIGTERM' = 'SIGINT',
): TargetReport {
  let cut = false;
  const layers: Finding[] = LAYERS.map((check) => {
    const f = seen.find((x) => x.id === check.id);
    if (f) return f;
    if (cut)
      return {
        ...skip(check, `not checked: the run was ${why === 'interrupt' ? 'interrupted' : 'stopped at its deadline'}`, {
          reason: why === 'interrupt' ? 'interrupted' : 'deadline',
        }),
        durationMs: 0,
      };
    cut = true;
    return why === 'interrupt'
      ? {
          ...emit(
            check,
            'Interrupted',
            `${check.id} did not finish: interrupted (${signal === 'SIGINT' ? 'Ctrl-C' : signal})`,
          ),
          durationMs: 0,
        }
      : {
          ...emit(
            check,
            'Timeout',
            `${check.id} did not finish: the run passed its --timeout (${timeoutMs} ms) and was stopped`,
          ),
          durationMs: 0,
        };
  });
  const { verdict, failedLayer } = verdictOf(layers);
  return {
    input: t.input,
    host: t.host,
    path: t.path,
    verdict,
    failedLayer,
    attempts: 1,
    layers,
    ...(t.expect ? { expect: t.expect } : {}),
  };
}

export async function run(opts: Options, control: RunControl = {}): Promise<number> {
  const started = performance.now();
  const targets: Target[] = opts.targets.map(parseTarget); // UsageError (exit 3) before anything runs
  // --internal hosts: the same pipeline with the expectation turned round (checks/internal.ts).
  for (const t of opts.internal.map(parseTarget)) {
    const clash = targets.find((x) => x.host === t.host);
    if (clash?.expect) continue; // the same internal host twice
    if (clash)
      throw new UsageError(
        `${t.host} is given both as a target (must be public) and as --internal (must not be): give it once`,
      );
    targets.push({ ...t, expect: 'internal' });
  }
  const signal = AbortSignal.timeout(opts.timeoutMs);
  const { cluster, why } = await clusterSource(opts, signal);
  if (opts.all) targets.push(...(await allTargets(opts, cluster, why, targets)));
  const shown = redacting(await pickReporter(opts));
  // What each target has found so far, for a report of a run cut short (Ctrl-C, hard deadline).
  const seen = new Map<Target, Finding[]>(targets.map((t) => [t, []]));
  const reporter: Reporter = {
    ...shown,
    onLayerEnd(t, f) {
      const list = seen.get(t);
      if (list) seen.set(t, [...list.filter((x) => x.id !== f.id), f]);
      shown.onLayerEnd?.(t, f);
    },
  };
  let ended = false;
  const started0 = started;
  const reportOf = (targetReports: TargetReport[]): Report => ({
    schemaVersion: 'gwdoctor.report/v3',
    generatedAt: new Date().toISOString(),
    durationMs: Math.round(performance.now() - started0),
    source: { mode: cluster ? cluster.mode : 'none', ...(cluster?.describeSource() ?? {}), offline: opts.offline },
    targets: targetReports,
  });
  control.partial = async (reason, sig) => {
    if (ended) return;
    ended = true;
    await reporter.onEnd(
      reportOf(targets.map((t) => partialTarget(t, seen.get(t) ?? [], reason, opts.timeoutMs, sig))),
    );
  };

  let resolver: Promise<Resolver> | undefined;
  let probe: Promise<HttpProbe> | undefined;
  const env: Env = {
    cluster,
    clusterUnavailable: why,
    gatewayFilter: opts.gateway,
    offline: opts.offline,
    net: { resolvers: opts.resolvers, expectIps: opts.expectIps, caFile: opts.caFile, port: opts.port },
    resolver: () =>
      (resolver ??=
        opts.resolvers.length > 0
          ? import('./net/dns-resolver.js').then((m) => m.packetResolver(opts.resolvers))
          : Promise.resolve(systemResolver)),
    probe: () => (probe ??= import('./net/http-probe.js').then((m) => m.undiciProbe)),
    signal,
  };
  reporter.begin?.(targets);
  if (cluster) {
    // Start the cluster-wide reads now, in parallel with the network probes; the layers await the same (cached)
    // promises, and a failure surfaces in the layer that needs the data.
    for (const p of [cluster.gatewayClasses(), cluster.gateways(), cluster.httpRoutes()]) p.catch(() => undefined);
  }
  const wait = {
    until: opts.waitMs === null ? null : Date.now() + Math.min(opts.waitMs, opts.timeoutMs),
    intervalMs: opts.waitIntervalMs,
  };
  // Bounded: --all may bring hundreds of hosts; the cluster reads are shared (cached) whatever the bound.
  // With --wait, every target's attempt n shares one refresh of the reader (runTargets' rounds).
  const reports: TargetReport[] = await runTargets(
    (t) => (t.expect === 'internal' ? INTERNAL_LAYERS : LAYERS),
    targets,
    env,
    wait,
    reporter,
    TARGET_CONCURRENCY,
  );

  const report = reportOf(reports);
  if (ended) return EXIT_INCONCLUSIVE; // cli.ts printed a partial report and decides the exit code
  ended = true;
  await reporter.onEnd(report);
  if (opts.fixDir) {
    const { stale } = await (await import('./fix/files.js')).writeFixFiles(opts.fixDir, redactDeep(report));
    for (const s of stale)
      process.stderr.write(
        `gwdoctor: ${oneLine(`--fix-dir: ${s.from}, a fix of an earlier run, was edited since; renamed to ${s.to} (not applied by kubectl apply -f DIR)`)}\n`,
      );
  }
  return exitCodeFor(report);
}
