// The engine behind the CLI: pick the cluster source, run every target through the pipeline, report, exit code.

import { LAYERS } from '../checks/index.js';
import { parseTarget } from './target.js';
import { ManifestCluster } from './cluster/manifests.js';
import type { ClusterReader } from './cluster/reader.js';
import { runTarget, type Env, type Observer } from './pipeline.js';
import type { Options } from './options.js';
import type { Report, Resolver, HttpProbe, Target, TargetReport } from './types.js';
import { systemResolver } from './net/system-resolver.js';
import { mapLimit } from './net/limit.js';
import { UsageError } from './errors.js';

export function exitCodeFor(report: Report): number {
  const v = report.targets.map((t) => t.verdict);
  if (v.includes('fail')) return 1;
  if (v.includes('error')) return 2;
  return 0;
}

export interface Reporter extends Observer {
  /** Called once with every target before any runs (the interactive view builds its task list here). */
  begin?(targets: Target[]): void;
  onEnd(report: Report): void | Promise<void>;
}

async function clusterSource(opts: Options): Promise<{ cluster: ClusterReader | null; why: string | null }> {
  if (opts.manifests.length > 0) return { cluster: ManifestCluster.fromPaths(opts.manifests), why: null };
  const { findKubeconfig, LiveCluster } = await import('./cluster/live.js');
  const found = findKubeconfig(opts.kubeconfig);
  if (!found.ok) return { cluster: null, why: found.why };
  return { cluster: await LiveCluster.create(found, opts.context), why: null };
}

const TARGET_CONCURRENCY = 8;

/** --all: the hosts of the selected Gateway(s) not already named; wildcards nobody exercises are said on stderr. */
async function allTargets(opts: Options, cluster: ClusterReader | null, why: string | null, named: Target[]): Promise<Target[]> {
  if (!cluster) throw new UsageError(`--all needs a cluster source to list the routes: ${why ?? 'none'} (use --manifests or --kubeconfig)`);
  const { hostsOnGateways, uncheckedWildcards } = await import('./all-hosts.js');
  const list = await hostsOnGateways(cluster, opts.gateway);
  if (opts.gateway && list.gateways.length === 0) throw new UsageError(`--all: Gateway ${opts.gateway.namespace}/${opts.gateway.name} not found`);
  const have = new Set(named.map((t) => t.host));
  for (const w of uncheckedWildcards(list, [...have])) {
    process.stderr.write(`gwdoctor: --all: ${w.pattern} (${w.routes.join(', ')}) is a wildcard and was not checked; name a host it covers to check it\n`);
  }
  const extra = list.hosts.filter((h) => !have.has(h)).map(parseTarget);
  if (extra.length + named.length === 0) {
    throw new UsageError(`--all: no HTTPRoute hostname to check on ${list.gateways.length ? `Gateway ${list.gateways.join(', ')}` : 'any Gateway (none found)'}`);
  }
  return extra;
}

async function pickReporter(opts: Options): Promise<Reporter> {
  const { createReporter } = await import('./report/index.js');
  return createReporter(opts.output, { color: opts.color, verbose: opts.verbose, env: process.env });
}

export async function run(opts: Options): Promise<number> {
  const started = performance.now();
  const targets: Target[] = opts.targets.map(parseTarget); // UsageError (exit 3) before anything runs
  const { cluster, why } = await clusterSource(opts);
  if (opts.all) targets.push(...(await allTargets(opts, cluster, why, targets)));
  const reporter = await pickReporter(opts);

  const signal = AbortSignal.timeout(opts.timeoutMs);
  let resolver: Promise<Resolver> | undefined;
  let probe: Promise<HttpProbe> | undefined;
  const env: Env = {
    cluster,
    clusterUnavailable: why,
    gatewayFilter: opts.gateway,
    offline: opts.offline,
    net: { resolvers: opts.resolvers, expectIps: opts.expectIps, caFile: opts.caFile, port: opts.port },
    resolver: () =>
      (resolver ??= opts.resolvers.length > 0
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
  const wait = { until: opts.waitMs === null ? null : Date.now() + Math.min(opts.waitMs, opts.timeoutMs), intervalMs: 2000 };
  // Bounded: --all may bring hundreds of hosts; the cluster reads are shared (cached) whatever the bound.
  const reports: TargetReport[] = await mapLimit(targets, TARGET_CONCURRENCY, (t) => runTarget(LAYERS, t, env, wait, reporter));

  const src = cluster?.describeSource() ?? {};
  const report: Report = {
    schemaVersion: 'gwdoctor.report/v1',
    generatedAt: new Date().toISOString(),
    durationMs: Math.round(performance.now() - started),
    source: { mode: cluster ? cluster.mode : 'none', ...src, offline: opts.offline },
    targets: reports,
  };
  await reporter.onEnd(report);
  return exitCodeFor(report);
}
