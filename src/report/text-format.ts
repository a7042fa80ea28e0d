// Shared text formatting for the plain and the interactive reporters.

import { styleText } from 'node:util';
import type { Finding, Report, TargetReport } from '../types.js';
import { clean, fixText, inline } from './common.js';

export { clean, inline };

export interface Style {
  color: boolean;
}

type Colour = 'green' | 'yellow' | 'red' | 'gray' | 'bold' | 'cyan' | 'magenta';

export function paint(s: Style, colour: Colour, text: string): string {
  return s.color ? styleText(colour, text) : text;
}

export const SYMBOL: Record<Finding['status'], string> = { pass: '✔', warn: '⚠', fail: '✖', error: '!', skip: '-' };
const COLOUR: Record<Finding['status'], Colour> = {
  pass: 'green',
  warn: 'yellow',
  fail: 'red',
  error: 'magenta',
  skip: 'gray',
};

export function layerLine(s: Style, f: Finding): string {
  const code = f.code ? ` [${f.code}]` : '';
  return `${paint(s, COLOUR[f.status], SYMBOL[f.status])} ${f.id.padEnd(9)} ${inline(f.summary)}${paint(s, 'gray', code)}`;
}

export function evidenceLines(s: Style, f: Finding, indent = '    '): string[] {
  return f.evidence.map((e) => `${indent}${paint(s, 'gray', `${inline(e.ref)}:`)} ${inline(e.detail)}`);
}

export function targetHeading(s: Style, t: TargetReport): string {
  return paint(s, 'bold', inline(`${t.host}${t.path}`));
}

/** The block printed once after the list: what to change, and where to read more. */
export function fixBlock(s: Style, t: TargetReport, verbose: boolean): string[] {
  const out: string[] = [];
  const blocking = t.layers.find((l) => l.status === 'fail' || l.status === 'error');
  const warns = t.layers.filter((l) => l.status === 'warn');
  for (const f of [...(blocking ? [blocking] : []), ...warns]) {
    if (!verbose && f.evidence.length > 0) {
      out.push(`  ${paint(s, 'bold', `evidence (${f.id}):`)}`);
      out.push(...evidenceLines(s, f));
    }
    if (f.fix) {
      out.push(`  ${paint(s, 'bold', 'fix:')} ${inline(f.fix.explain)}`);
      // Flush left, every line kept: pasted as printed, a here-document must close at column 0 and its YAML must
      // keep its own indentation (test/e2e/paste.test.ts runs these lines through bash).
      const text = clean(fixText(f.fix)).replace(/\n+$/, '');
      if (text !== '') for (const line of text.split('\n')) out.push(paint(s, 'cyan', line));
    }
    if (f.hint) out.push(`  ${paint(s, 'gray', `see ${inline(f.hint)}`)}`);
  }
  return out;
}

/** An --internal host: what was proven (the passing layers' facts), or where it is exposed. */
export function internalWhat(t: TargetReport): string {
  if (t.verdict === 'fail')
    return t.layers.some((l) => l.code === 'InternalHostExposed')
      ? `is exposed (${t.failedLayer}): it must stay internal`
      : `fails at ${t.failedLayer}`;
  if (t.verdict === 'error')
    return t.failedLayer ? `inconclusive: could not check ${t.failedLayer}` : 'inconclusive: nothing could be checked';
  const proven = t.layers
    .filter((l) => (l.id === 'route' || l.id === 'proxy') && l.status === 'pass' && l.facts.asked !== false)
    .map((l) => l.summary);
  return `stays internal${proven.length ? `: ${proven.reverse().join('; ')}` : ''}`;
}

export function verdictLine(s: Style, t: TargetReport): string {
  const colour: Colour =
    t.verdict === 'pass' ? 'green' : t.verdict === 'warn' ? 'yellow' : t.verdict === 'fail' ? 'red' : 'magenta';
  const skipped = t.layers.filter(
    (l) => l.status === 'skip' && !(t.failedLayer !== null && l.facts.skipped?.after === t.failedLayer),
  ).length;
  const what =
    t.expect === 'internal'
      ? internalWhat(t)
      : t.verdict === 'pass'
        ? 'reaches its backend'
        : t.verdict === 'warn'
          ? 'reaches its backend, with warnings'
          : t.verdict === 'fail'
            ? `fails at ${t.failedLayer}`
            : t.failedLayer
              ? `inconclusive: could not check ${t.failedLayer}`
              : 'inconclusive: nothing could be checked';
  const why = {
    passed: 'passed',
    'nothing-retryable': 'nothing left that waiting can change',
    'only-settled-warnings': 'only warnings that waiting cannot change',
    deadline: '--wait ended',
    'single-attempt': '',
  };
  const attempts = t.waited
    ? ` after ${t.waited.attempts} attempt${t.waited.attempts > 1 ? 's' : ''} over ${(t.waited.durationMs / 1000).toFixed(1)} s (${why[t.waited.stopped]})`
    : t.attempts > 1
      ? ` after ${t.attempts} attempts`
      : '';
  return (
    paint(s, colour, `${t.host}${t.path} ${what}${attempts}`) +
    (skipped > 0 && t.verdict !== 'fail'
      ? paint(s, 'gray', ` (${skipped} layer${skipped > 1 ? 's' : ''} not checked)`)
      : '')
  );
}

export function sourceLine(s: Style, r: Report): string {
  const src = r.source;
  const where =
    src.mode === 'manifests'
      ? `manifests ${(src.manifests ?? []).map(inline).join(', ')}`
      : src.mode === 'live'
        ? `cluster ${inline(src.context ?? '')}${src.server ? ` (${inline(src.server)})` : ''}`
        : 'no cluster source';
  return paint(s, 'gray', `source: ${where}${src.offline ? ', offline' : ''} · ${r.durationMs} ms`);
}

const VERDICT_ORDER: Record<TargetReport['verdict'], number> = { fail: 0, error: 1, warn: 2, pass: 3 };

/** Several targets: one line each (host, verdict, failed layer, code), failures first, then inconclusive, warn, pass. */
export function summaryTable(s: Style, r: Report): string[] {
  if (r.targets.length < 2) return [];
  const rows = [...r.targets]
    .sort(
      (a, b) =>
        VERDICT_ORDER[a.verdict] - VERDICT_ORDER[b.verdict] || `${a.host}${a.path}`.localeCompare(`${b.host}${b.path}`),
    )
    .map((t) => {
      const stop = t.layers.find((l) => l.status === 'fail' || l.status === 'error');
      const warnCode = t.layers.find((l) => l.status === 'warn')?.code;
      return {
        host: `${t.host}${t.path}${t.expect === 'internal' ? ' (internal)' : ''}`,
        verdict: t.verdict,
        layer: t.failedLayer ?? '-',
        code: stop?.code ?? warnCode ?? '-',
      };
    });
  const w = (k: 'host' | 'verdict' | 'layer') => Math.max(k.length, ...rows.map((x) => x[k].length));
  const [wh, wv, wl] = [w('host'), w('verdict'), w('layer')];
  const failed = (t: { verdict: TargetReport['verdict'] }) => t.verdict === 'fail' || t.verdict === 'error';
  const internal = r.targets.filter((t) => t.expect === 'internal');
  const internalBad = internal.filter(failed).length;
  const bad = r.targets.filter((t) => t.expect !== 'internal' && failed(t)).length;
  const colour = (v: TargetReport['verdict']): Colour =>
    v === 'pass' ? 'green' : v === 'warn' ? 'yellow' : v === 'fail' ? 'red' : 'magenta';
  return [
    paint(
      s,
      'bold',
      `summary: ${rows.length} hosts, ${bad} not reaching the backend${internal.length ? `; ${internal.length} internal, ${internalBad} exposed or not proven` : ''}`,
    ),
    `  ${'HOST'.padEnd(wh)}  ${'VERDICT'.padEnd(wv)}  ${'LAYER'.padEnd(wl)}  CODE`,
    ...rows.map(
      (x) =>
        `  ${x.host.padEnd(wh)}  ${paint(s, colour(x.verdict), x.verdict.padEnd(wv))}  ${x.layer.padEnd(wl)}  ${x.code}`,
    ),
    '',
  ];
}
