// gwdoctor diff --base DIR --head DIR: the offline verdict of every host in both trees (the hosts of every HTTPRoute
// attached to the Gateway(s), plus the hosts named), and which ones a change breaks. Newly failing hosts first;
// exit 1 when a host that reaches its backend in base fails in head. Runs in any CI from two checkouts.

import { existsSync } from 'node:fs';
import { INTERNAL_LAYERS, LAYERS } from '../checks/index.js';
import { hostsOnGateways } from './all-hosts.js';
import { ManifestCluster } from './cluster/manifests.js';
import { UsageError } from './errors.js';
import { mapLimit } from './net/limit.js';
import type { Options } from './options.js';
import { offlineEnv, runTarget } from './pipeline.js';
import { blocking, fileLocations, fixText, inline } from './report/common.js';
import { loadYamlFor } from './fix/render.js';
import { parseTarget, routeHostTarget } from './target.js';
import type { Finding, Target, TargetReport, Verdict } from './types.js';

export type Change = 'broken' | 'changed' | 'fixed' | 'unchanged';

export interface Side {
  verdict: Verdict;
  failedLayer: string | null;
  code: string | null;
}

export interface HostDiff {
  host: string;
  path: string;
  /** A host given with --internal: it passes when nothing public serves it, so "broken" means newly exposed. */
  internal?: true;
  change: Change;
  base: Side;
  head: Side;
  /** head's blocking finding (for broken/changed hosts): what it says, where, and the fix. */
  cause: {
    summary: string;
    locations: { file: string; line: number }[];
    objects: string[];
    fix: string | null;
    fixExplain: string | null;
    hint: string | null;
  } | null;
}

export interface DiffReport {
  schemaVersion: 'gwdoctor.diff/v1';
  generatedAt: string;
  base: string[];
  head: string[];
  hosts: HostDiff[];
}

const DIFF_ONLY = 'diff sends no network probes';
const ORDER: Record<Change, number> = { broken: 0, changed: 1, fixed: 2, unchanged: 3 };
const reaches = (v: Verdict) => v === 'pass' || v === 'warn';

function side(t: TargetReport): Side {
  const b = blocking(t);
  return {
    verdict: t.verdict,
    failedLayer: t.failedLayer,
    code: b?.code ?? t.layers.find((l) => l.status === 'warn')?.code ?? null,
  };
}

function classify(base: Side, head: Side): Change {
  if (reaches(base.verdict) && head.verdict === 'fail') return 'broken';
  if (!reaches(base.verdict) && reaches(head.verdict)) return 'fixed';
  if (base.verdict !== head.verdict || base.failedLayer !== head.failedLayer || base.code !== head.code)
    return 'changed';
  return 'unchanged';
}

function cause(f: Finding | null): HostDiff['cause'] {
  if (!f) return null;
  return {
    summary: f.summary,
    locations: fileLocations(f).map((l) => ({ file: l.file, line: l.line })),
    objects: [...new Set(f.evidence.map((e) => e.ref))],
    fix: f.fix ? fixText(f.fix) : null,
    fixExplain: f.fix ? f.fix.explain : null,
    hint: f.hint,
  };
}

export async function computeDiff(
  base: string[],
  head: string[],
  named: string[],
  gateway: Options['gateway'],
  internal: string[] = [],
): Promise<DiffReport> {
  for (const d of [...base, ...head]) if (!existsSync(d)) throw new UsageError(`diff: ${d} does not exist`);
  const b = ManifestCluster.fromPaths(base);
  const h = ManifestCluster.fromPaths(head);
  // Objects defined twice, versions the API server does not serve: each side is judged as kubectl apply would leave it.
  for (const [side, c] of [
    ['base', b],
    ['head', h],
  ] as const)
    for (const n of c.notices()) process.stderr.write(`gwdoctor diff: ${side}: ${inline(n)}\n`);
  const targets: Target[] = named.map(parseTarget);
  // --internal hosts are judged as in a run (checks/internal.ts), and a Gateway host among them only as internal.
  for (const t of internal.map(parseTarget)) {
    const clash = targets.find((x) => x.host === t.host && x.path === t.path);
    if (clash?.expect) continue;
    if (clash)
      throw new UsageError(
        `${t.host} is given both as a target (must be public) and as --internal (must not be): give it once`,
      );
    targets.push({ ...t, expect: 'internal' });
  }
  const seen = new Set(targets.map((t) => t.host));
  const [hb, hh] = await Promise.all([hostsOnGateways(b, gateway), hostsOnGateways(h, gateway)]);
  for (const host of [...new Set([...hb.hosts, ...hh.hosts])].sort()) {
    if (seen.has(host)) continue;
    const t = routeHostTarget(host);
    if ('skipped' in t)
      process.stderr.write(
        `gwdoctor diff: route hostname ${JSON.stringify(host)} was not checked: ${inline(t.skipped)}\n`,
      );
    else targets.push(t);
  }
  const wait = { until: null, intervalMs: 0 };
  const rows = await mapLimit(targets, 8, async (t) => {
    const layers = t.expect === 'internal' ? INTERNAL_LAYERS : LAYERS;
    const [rb, rh] = [
      await runTarget(layers, t, offlineEnv(b, { gatewayFilter: gateway }, DIFF_ONLY), wait),
      await runTarget(layers, t, offlineEnv(h, { gatewayFilter: gateway }, DIFF_ONLY), wait),
    ];
    const [sb, sh] = [side(rb), side(rh)];
    const change = classify(sb, sh);
    await loadYamlFor(rh.layers.map((l) => l.fix)); // cause() renders the head's fix
    return {
      host: t.host,
      path: t.path,
      ...(t.expect === 'internal' ? { internal: true as const } : {}),
      change,
      base: sb,
      head: sh,
      cause:
        change === 'unchanged' || change === 'fixed'
          ? null
          : cause(blocking(rh) ?? rh.layers.find((l) => l.status === 'warn') ?? null),
    };
  });
  rows.sort((x, y) => ORDER[x.change] - ORDER[y.change] || `${x.host}${x.path}`.localeCompare(`${y.host}${y.path}`));
  return { schemaVersion: 'gwdoctor.diff/v1', generatedAt: new Date().toISOString(), base, head, hosts: rows };
}

export async function runDiff(opts: Options): Promise<number> {
  if (opts.base.length === 0 || opts.head.length === 0)
    throw new UsageError('diff needs --base DIR and --head DIR (e.g. gwdoctor diff --base base/deploy --head deploy)');
  // Rendered through the reporter map (src/report/diff.ts): text, json, github; to stdout or a file (-o json=FILE).
  const { writeDiff } = await import('./report/diff.js');
  const write = await writeDiff(opts.output, process.env);
  const d = await computeDiff(opts.base, opts.head, opts.targets, opts.gateway, opts.internal);
  await write(d);
  return diffExitCode(d);
}

/** Exit code: 1 when a host that reaches its backend in base fails in head, else 0. */
export function diffExitCode(d: DiffReport): number {
  return d.hosts.some((x) => x.change === 'broken') ? 1 : 0;
}
