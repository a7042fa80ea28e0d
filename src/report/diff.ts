// gwdoctor diff's outputs, through a reporter map as the run's (src/report/index.ts): format -> renderer. text and
// github (the ::error annotations under GitHub Actions, after the text) and json (schema/diff.v1.json), each to the sink
// its -o names: stdout, or a file (-o json=diff.json).

import { UsageError } from '../errors.js';
import type { DiffReport, HostDiff, Side } from '../diff.js';
import { clean, inline } from './common.js';
import type { FormatName, OutputSpec } from './formats.js';
import { effectiveOutputs, fileSink, stdoutSink, type Sink } from './index.js';

export type DiffRenderer = (d: DiffReport) => string | Promise<string>;

export const DIFF_REPORTERS: Partial<Record<FormatName, DiffRenderer>> = {
  text: renderDiffText,
  json: (d) => `${JSON.stringify(d, null, 2)}\n`,
  github: diffAnnotations,
};

/**
 * The writer of a diff report for these -o specs (validated now, before the diff runs: an unknown format or an
 * unwritable file is a usage error). The same defaults as a run: text on stdout when nothing goes there, and under
 * GitHub Actions the annotations after the text.
 */
export async function writeDiff(
  specs: OutputSpec[],
  env: NodeJS.ProcessEnv,
  stdout: Sink = stdoutSink(),
): Promise<(d: DiffReport) => Promise<void>> {
  const outs = effectiveOutputs(specs, env);
  const bad = outs.find((o) => DIFF_REPORTERS[o.format] === undefined);
  if (bad)
    throw new UsageError(`diff writes ${Object.keys(DIFF_REPORTERS).join(', ')}: -o ${bad.format} is not one of them`);
  const sinks = outs.map((o) => ({
    render: DIFF_REPORTERS[o.format] as DiffRenderer,
    sink: o.file === null ? stdout : fileSink(o.file),
  }));
  return async (d) => {
    try {
      for (const { render, sink } of sinks) sink.write(await render(d));
    } finally {
      for (const { sink } of sinks) if ('close' in sink) (sink as Sink & { close(): void }).close();
    }
  };
}

function describe(s: Side): string {
  return `${s.verdict}${s.failedLayer ? ` at ${s.failedLayer}` : ''}${s.code ? ` [${s.code}]` : ''}`;
}

export function renderDiffText(d: DiffReport): string {
  const broken = d.hosts.filter((x) => x.change === 'broken').length;
  const out = [
    `gwdoctor diff: base ${d.base.map(inline).join(', ')} -> head ${d.head.map(inline).join(', ')}: ${d.hosts.length} hosts, ${broken} newly failing`,
    '',
  ];
  const name = (x: HostDiff) => `${x.host}${x.path}${x.internal ? ' (internal)' : ''}`;
  const w = Math.max(4, ...d.hosts.map((x) => name(x).length));
  for (const x of d.hosts) {
    out.push(`  ${x.change.toUpperCase().padEnd(9)}  ${name(x).padEnd(w)}  ${describe(x.base)} -> ${describe(x.head)}`);
    if (!x.cause) continue;
    out.push(`      ${inline(x.cause.summary)}`);
    for (const l of x.cause.locations) out.push(`      at ${inline(l.file)}:${l.line}`);
    if (x.cause.locations.length === 0 && x.cause.objects.length > 0)
      out.push(`      objects: ${x.cause.objects.map(inline).join('; ')}`);
    if (x.cause.fixExplain) out.push(`      fix: ${inline(x.cause.fixExplain)}`);
    // Flush left, every line kept: a pasted here-document only closes at column 0 (test/e2e/paste.test.ts).
    if (x.cause.fix && clean(x.cause.fix).replace(/\n+$/, '') !== '')
      out.push(...clean(x.cause.fix).replace(/\n+$/, '').split('\n'));
    if (x.cause.hint) out.push(`      see ${x.cause.hint}`);
  }
  return `${out.join('\n')}\n`;
}

/** Under GitHub Actions: an ::error annotation per broken host, at the file:line of the object when known. */
export async function diffAnnotations(d: DiffReport): Promise<string> {
  const { formatCommand, MAX_PER_LEVEL } = await import('./github.js');
  const broken = d.hosts.filter((x) => x.change === 'broken');
  const lines = broken.slice(0, MAX_PER_LEVEL).map((x) => {
    const loc = x.cause?.locations[0];
    const msg = [
      `${x.host}${x.path}${x.internal ? ' (internal) is newly exposed' : ' breaks'}: ${describe(x.base)} -> ${describe(x.head)}`,
      inline(x.cause?.summary ?? ''),
    ];
    if (x.cause?.fixExplain) msg.push(`fix: ${inline(x.cause.fixExplain)}`);
    return formatCommand({
      level: 'error',
      title: `gwdoctor diff: ${x.host}${x.path} breaks at ${x.head.failedLayer ?? '?'}`,
      message: msg.join('\n'),
      ...(loc ? { file: loc.file, line: loc.line } : {}),
    });
  });
  if (broken.length > MAX_PER_LEVEL)
    lines.push(
      formatCommand({
        level: 'notice',
        title: 'gwdoctor diff',
        message: `${broken.length - MAX_PER_LEVEL} more hosts break; see the log`,
      }),
    );
  return lines.length ? `${lines.join('\n')}\n` : '';
}
