// The reporter map (knip's src/reporters/index.ts): format name -> factory. Each reporter writes only to the sink it
// is given (stdout or a file), so several run at once: `-o text -o json=report.json -o junit=junit.xml`.
// This module loads no reporter until it is asked for one.

import { closeSync, openSync, writeSync } from 'node:fs';
import { UsageError } from '../errors.js';
import { loadYamlFor } from '../fix/render.js';
import type { Report, Reporter } from '../types.js';
import type { FormatName, OutputSpec } from './formats.js';

/** Where a reporter writes. */
export interface Sink {
  write(s: string): void;
  /** true only for an interactive terminal (the live task list and colours need one). */
  isTTY: boolean;
  /** Terminal width, when the sink is a terminal. */
  columns?: number;
  /** "stdout" or the file path, for messages. */
  name: string;
}

export interface ReporterOptions {
  color: boolean;
  verbose: boolean;
  env: NodeJS.ProcessEnv;
}

export type ReporterFactory = (sink: Sink, opts: ReporterOptions) => Promise<Reporter>;

/** A reporter that prints fixes as text: the yaml library is loaded first when the report has an object to apply. */
function rendersFixes(r: Reporter): Reporter {
  return {
    ...r,
    async onEnd(report: Report) {
      await loadYamlFor(report.targets.flatMap((t) => t.layers.map((f) => f.fix)));
      await r.onEnd(report);
    },
  };
}

export const REPORTERS: Record<FormatName, ReporterFactory> = {
  async text(sink, opts) {
    // A pseudo-terminal that reports 0 (or very few) columns would get one character per line from listr2: plain lines.
    const interactive =
      sink.isTTY && opts.env['CI'] !== 'true' && opts.env['TERM'] !== 'dumb' && (sink.columns ?? 0) >= 20;
    if (interactive) return rendersFixes((await import('./tty.js')).ttyReporter(opts, sink));
    const color = opts.color && sink.isTTY && opts.env['FORCE_COLOR'] !== '0';
    return rendersFixes(
      (await import('./text.js')).textReporter({ color, verbose: opts.verbose }, (s) => sink.write(s)),
    );
  },
  json: async (sink) => (await import('./json.js')).jsonReporter((s) => sink.write(s)),
  junit: async (sink) => rendersFixes((await import('./junit.js')).junitReporter((s) => sink.write(s))),
  sarif: async (sink) => rendersFixes((await import('./sarif.js')).sarifReporter((s) => sink.write(s))),
  github: async (sink) => rendersFixes((await import('./github.js')).githubReporter((s) => sink.write(s))),
  prometheus: async (sink) => (await import('./prometheus.js')).prometheusReporter((s) => sink.write(s)),
  html: async (sink) => rendersFixes((await import('./html.js')).htmlReporter((s) => sink.write(s))),
};

export function stdoutSink(): Sink {
  return {
    write: (s) => void process.stdout.write(s),
    isTTY: process.stdout.isTTY === true,
    ...(process.stdout.columns !== undefined ? { columns: process.stdout.columns } : {}),
    name: 'stdout',
  };
}

/** Opens (truncates) the file now, so an unwritable path is a usage error before any check runs. */
export function fileSink(path: string): Sink & { close(): void } {
  let fd: number;
  try {
    fd = openSync(path, 'w');
  } catch (err) {
    throw new UsageError(
      `--output: cannot write ${path}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`,
    );
  }
  return { write: (s) => void writeSync(fd, s), isTTY: false, name: path, close: () => closeSync(fd) };
}

/**
 * The outputs to produce: when no format goes to stdout, text does (a CI log stays readable). Under GitHub Actions
 * (GITHUB_ACTIONS=true) with text on stdout, the github annotations follow the text, unless github was asked for.
 */
export function effectiveOutputs(specs: OutputSpec[], env: NodeJS.ProcessEnv): OutputSpec[] {
  const out = specs.length > 0 ? [...specs] : [{ format: 'text' as const, file: null }];
  if (!out.some((s) => s.file === null)) out.unshift({ format: 'text', file: null });
  const onStdout = out.find((s) => s.file === null);
  if (env['GITHUB_ACTIONS'] === 'true' && onStdout?.format === 'text' && !out.some((s) => s.format === 'github')) {
    out.push({ format: 'github', file: null });
  }
  return out;
}

/** One Reporter that feeds every requested output; its onEnd writes them all, then closes the files. */
export async function createReporter(
  specs: OutputSpec[],
  opts: ReporterOptions,
  stdout: Sink = stdoutSink(),
): Promise<Reporter> {
  const files: (Sink & { close(): void })[] = [];
  const all: Reporter[] = [];
  try {
    for (const spec of effectiveOutputs(specs, opts.env)) {
      const sink = spec.file === null ? stdout : fileSink(spec.file);
      if (spec.file !== null) files.push(sink as Sink & { close(): void });
      all.push(await REPORTERS[spec.format](sink, opts));
    }
  } catch (err) {
    for (const f of files) f.close();
    throw err;
  }
  return {
    begin: (targets) => all.forEach((r) => r.begin?.(targets)),
    onTargetStart: (t) => all.forEach((r) => r.onTargetStart?.(t)),
    onLayerStart: (t, id) => all.forEach((r) => r.onLayerStart?.(t, id)),
    onLayerEnd: (t, f) => all.forEach((r) => r.onLayerEnd?.(t, f)),
    onRetry: (t, a, f, d) => all.forEach((r) => r.onRetry?.(t, a, f, d)),
    onTargetEnd: (t, tr) => all.forEach((r) => r.onTargetEnd?.(t, tr)),
    async onEnd(report) {
      try {
        for (const r of all) await r.onEnd(report);
      } finally {
        for (const f of files) f.close();
      }
    },
  };
}
