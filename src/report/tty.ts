// The interactive view: a listr2 task list, one task per layer, titles updated with what was found.
// listr2 is only the view: the verdict and the exit code come from the Report, never from listr2.

import { styleText } from 'node:util';
import { Listr, type ListrTask } from 'listr2';
import type { Options } from '../options.js';
import type { Sink } from './index.js';
import type { Reporter } from '../types.js';
import type { Finding, LayerId, Target } from '../types.js';
import { LAYER_IDS } from '../types.js';
import { inline, fixBlock, sourceLine, summaryTable, verdictLine } from './text-format.js';

class LayerFailed extends Error {}

interface Deferred {
  promise: Promise<Finding>;
  resolve: (f: Finding) => void;
}

function deferred(): Deferred {
  let resolve!: (f: Finding) => void;
  const promise = new Promise<Finding>((r) => (resolve = r));
  return { promise, resolve };
}

export function ttyReporter(
  opts: Pick<Options, 'color' | 'verbose'>,
  sink: Sink,
): Reporter & { begin(targets: Target[]): void } {
  const style = { color: opts.color };
  const pending = new Map<Target, Map<LayerId, Deferred>>();
  const retryNote = new Map<Target, string>();
  let listr: Promise<unknown> = Promise.resolve();

  const layerTask = (t: Target, id: LayerId): ListrTask => ({
    title: id,
    task: async (_ctx, task) => {
      const f = await (pending.get(t)?.get(id) as Deferred).promise;
      const text = `${id.padEnd(9)} ${inline(f.summary)}${f.code ? ` [${f.code}]` : ''}`;
      if (f.status === 'skip') {
        task.skip(text);
        return;
      }
      if (f.status === 'fail' || f.status === 'error') {
        task.title = text;
        throw new LayerFailed(text);
      }
      task.title = f.status === 'warn' ? `⚠ ${text}` : text;
    },
  });

  return {
    begin(targets) {
      for (const t of targets) pending.set(t, new Map(LAYER_IDS.map((id) => [id, deferred()])));
      const tasks: ListrTask[] = targets.map((t) => ({
        title: `${t.host}${t.path}`,
        task: (_ctx, task) =>
          task.newListr(
            LAYER_IDS.map((id) => layerTask(t, id)),
            { concurrent: false, exitOnError: false },
          ),
      }));
      listr = new Listr(tasks, {
        concurrent: true,
        exitOnError: false,
        collectErrors: false,
        // Ctrl-C belongs to cli.ts (partial report, exit 130); listr2's own handler would exit 127.
        registerSignalListeners: false,
        rendererOptions: {
          collapseErrors: false,
          collapseSkips: true,
          suffixSkips: false,
          showErrorMessage: false,
          collapseSubtasks: false,
          // A target whose layer failed or could not be checked is a failed target: ✖, not listr2's ⚠.
          icon: { COMPLETED_WITH_FAILED_SUBTASKS: '✖' },
          color: {
            COMPLETED_WITH_FAILED_SUBTASKS: (s?: string) => (style.color && s ? styleText('red', s) : (s ?? '')),
          },
        },
        fallbackRendererCondition: () => process.env['CI'] === 'true',
      })
        .run()
        .catch(() => undefined);
    },
    onLayerEnd(target, finding) {
      pending.get(target)?.get(finding.id)?.resolve(finding);
    },
    onRetry(target, attempt, finding) {
      retryNote.set(target, `attempt ${attempt}: ${finding.id} ${finding.code ?? finding.status}`);
    },
    async onEnd(report) {
      // Resolve anything left (e.g. the final attempt of --wait) so the list can finish.
      report.targets.forEach((tr, i) => {
        const t = [...pending.keys()][i];
        if (!t) return;
        for (const f of tr.layers) pending.get(t)?.get(f.id)?.resolve(f);
      });
      await listr;
      const out: string[] = [''];
      for (const t of report.targets) {
        const fix = fixBlock(style, t, opts.verbose);
        if (fix.length > 0) out.push(`${t.host}${t.path}`, ...fix);
        out.push(verdictLine(style, t), '');
      }
      out.push(...summaryTable(style, report), sourceLine(style, report));
      sink.write(`${out.join('\n')}\n`);
    },
  };
}
