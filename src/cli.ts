#!/usr/bin/env node
// Entry point: parse flags, then lazy-load the engine. Nothing heavy is imported before the flags are valid.

import { readFileSync } from 'node:fs';
import { GwdoctorError, UsageError, rootMessage } from './errors.js';
import { helpText, parseOptions } from './options.js';

export const EXIT = { ok: 0, failed: 1, inconclusive: 2, usage: 3, internal: 70 } as const;

function version(): string {
  try {
    const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string };
    return pkg.version;
  } catch {
    return 'unknown';
  }
}

async function main(argv: string[]): Promise<number> {
  let opts;
  try {
    opts = parseOptions(argv);
  } catch (err) {
    if (err instanceof UsageError) {
      process.stderr.write(`gwdoctor: ${err.message}\n`);
      return EXIT.usage;
    }
    throw err;
  }
  if (opts.help) {
    process.stdout.write(`${helpText(version())}\n`);
    return EXIT.ok;
  }
  if (opts.version) {
    process.stdout.write(`gwdoctor ${version()}\n`);
    return EXIT.ok;
  }
  if (opts.targets.length === 0 && !opts.all && opts.command !== 'diff') {
    process.stderr.write('gwdoctor: no target given: try gwdoctor api.example.com, or --all (see gwdoctor --help)\n');
    return EXIT.usage;
  }
  try {
    if (opts.command === 'diff') return await (await import('./diff.js')).runDiff(opts);
    const { run } = await import('./run.js');
    return await run(opts);
  } catch (err) {
    if (err instanceof UsageError) {
      process.stderr.write(`gwdoctor: ${err.message}\n`);
      return EXIT.usage;
    }
    if (err instanceof GwdoctorError) {
      process.stderr.write(`gwdoctor: ${rootMessage(err)}\n${err.hint ? `  hint: ${err.hint}\n` : ''}`);
      return EXIT.inconclusive;
    }
    process.stderr.write(`gwdoctor: internal error: ${rootMessage(err)} (rerun with --debug for details, and please report it)\n`);
    if (opts.debug) process.stderr.write(`${(err as Error).stack ?? String(err)}\n`);
    return EXIT.internal;
  }
}

main(process.argv.slice(2)).then(
  (code) => {
    // Flush stdout before exiting: the JSON report may be larger than one pipe buffer.
    process.stdout.write('', () => process.exit(code));
  },
  (err: unknown) => {
    process.stderr.write(`gwdoctor: internal error: ${rootMessage(err)}\n`);
    process.exit(EXIT.internal);
  },
);
