// Plain lines for pipes, logs, CI and files: no spinners, no cursor movement, one block per target.
// The caller decides colour (only for a terminal) and where the text goes.

import type { Options } from '../options.js';
import type { Reporter } from '../types.js';
import {
  evidenceLines,
  fixBlock,
  layerLine,
  sourceLine,
  summaryTable,
  targetHeading,
  verdictLine,
} from './text-format.js';

export function textReporter(opts: Pick<Options, 'color' | 'verbose'>, write: (s: string) => void): Reporter {
  const style = { color: opts.color };
  return {
    onRetry(target, attempt, finding, delayMs) {
      write(
        `${target.host}${target.path}: attempt ${attempt}: ${finding.id} ${finding.status} [${finding.code ?? '-'}]; retrying in ${Math.round(delayMs / 1000)}s (--wait)\n`,
      );
    },
    onEnd(report) {
      const out: string[] = [];
      for (const t of report.targets) {
        out.push(targetHeading(style, t));
        for (const f of t.layers) {
          out.push(`  ${layerLine(style, f)}`);
          if (opts.verbose) out.push(...evidenceLines(style, f, '      '));
        }
        out.push(...fixBlock(style, t, opts.verbose));
        out.push(verdictLine(style, t), '');
      }
      out.push(...summaryTable(style, report), sourceLine(style, report));
      write(`${out.join('\n')}\n`);
    },
  };
}
