#!/usr/bin/env node
// Entry point: parse flags, then lazy-load the engine. Nothing heavy is imported before the flags are valid.

import { readdirSync, readFileSync, statSync } from 'node:fs';
import * as nodeModule from 'node:module';
import { join } from 'node:path';
import { GwdoctorError, UsageError, rootMessage } from './errors.js';
import { configFileFor, helpText, parseOptions } from './options.js';
import { errorLine, redact } from './redact.js';

export const EXIT = { ok: 0, failed: 1, inconclusive: 2, usage: 3, internal: 70 } as const;

function version(): string {
  try {
    const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string };
    return pkg.version;
  } catch {
    return 'unknown';
  }
}

/** Every line gwdoctor writes to stderr: redacted (src/redact.ts), one line, cut to a readable length. */
function say(message: string, hint?: string): void {
  process.stderr.write(`gwdoctor: ${errorLine(message)}\n${hint ? `  hint: ${errorLine(hint)}\n` : ''}`);
}

/** After --timeout, the run gets this long to end by itself before the watchdog prints what it has and exits 2. */
export const GRACE_MS = 2000;
/** Last resort, if the main thread itself is stuck (no timer can fire): a worker thread ends the process. */
const REAPER_MS = 5000;
const REAPER_AFTER_MS = 1000;
const LARGE_INPUT = 4 * 1024 * 1024;

/** Set once Ctrl-C or the watchdog took over: the exit code is theirs, whatever run() returns meanwhile. */
let stopCode: number | null = null;

interface Control {
  partial?: (why: 'interrupt' | 'deadline', signal?: 'SIGINT' | 'SIGTERM') => Promise<void>;
}

/**
 * Ctrl-C and the hard deadline. Ctrl-C (in every output mode, the interactive view too) prints what was checked so
 * far and exits 130 (SIGTERM: 143); a second Ctrl-C leaves at once. If the run has not ended by --timeout + GRACE_MS, the watchdog
 * prints the partial report and exits 2. Credential plugins still running are killed on exit (cluster/live.ts).
 */
async function guard(timeoutMs: number, control: Control, largeInput: boolean): Promise<void> {
  let stopping = false;
  const stop = async (why: 'interrupt' | 'deadline', code: number, signal?: 'SIGINT' | 'SIGTERM') => {
    if (stopping) process.exit(code);
    stopping = true;
    stopCode = code;
    setTimeout(() => process.exit(code), 1500); // the partial report gets 1.5 s, no more
    try {
      if (why === 'interrupt' && !control.partial)
        say(`interrupted (${signal === 'SIGTERM' ? 'SIGTERM' : 'Ctrl-C'}) before any check ran: nothing to report`);
      await control.partial?.(why, signal);
    } catch (err) {
      say(`could not print the partial report: ${rootMessage(err)}`);
    }
    if (why === 'deadline')
      say(
        `the run did not end within --timeout (${timeoutMs} ms) plus ${GRACE_MS} ms: stopped; the report shows what was checked`,
      );
    process.stdout.write('', () => process.exit(code));
  };
  process.on('SIGINT', () => void stop('interrupt', 130, 'SIGINT'));
  // A CI job that is cancelled gets SIGTERM: the same partial report, exit 143 (128 + 15) as a shell reports it.
  process.on('SIGTERM', () => void stop('interrupt', 143, 'SIGTERM'));
  const deadline = Date.now() + timeoutMs + GRACE_MS;
  setTimeout(() => void stop('deadline', EXIT.inconclusive), timeoutMs + GRACE_MS).unref();
  // The reaper costs a thread (~50 ms CPU), so a short run does without: it starts at once when the input is large
  // enough to keep the main thread busy (a big --manifests set), else after REAPER_AFTER_MS (a run that lasts is
  // waiting on I/O then, so this timer fires).
  const startReaper = async () => {
    const { Worker } = await import('node:worker_threads');
    const reaper = new Worker(
      `const { workerData } = require('node:worker_threads');
       setTimeout(() => {
         try { require('node:fs').writeSync(2, workerData.msg); } catch (e) {}
         process.kill(process.pid, 'SIGKILL');
       }, workerData.ms);`,
      {
        eval: true,
        workerData: {
          ms: Math.max(0, deadline + REAPER_MS - Date.now()),
          msg: `gwdoctor: stuck ${GRACE_MS + REAPER_MS} ms past --timeout and not answering: killed\n`,
        },
      },
    );
    reaper.unref();
  };
  if (largeInput) await startReaper();
  else setTimeout(() => void startReaper(), Math.min(REAPER_AFTER_MS, timeoutMs)).unref();
}

/** More than LARGE_INPUT bytes of files under these paths (counted cheaply, stopping at the limit)? */
function isLarge(paths: string[]): boolean {
  let total = 0;
  let entries = 0;
  const visit = (p: string): boolean => {
    if (++entries > 50_000) return true;
    let st;
    try {
      st = statSync(p);
    } catch {
      return false; // missing or unreadable: the manifests reader says so (exit 3)
    }
    if (st.isFile()) total += st.size;
    else if (st.isDirectory()) {
      let names: string[];
      try {
        names = readdirSync(p);
      } catch {
        return false; // the manifests reader reports an unreadable directory
      }
      for (const n of names) if (visit(join(p, n))) return true;
    }
    return total > LARGE_INPUT;
  };
  return paths.some(visit);
}

async function main(argv: string[]): Promise<number> {
  // The HTTP and Kubernetes clients need Node.js >= 22 (package.json engines); an older one fails deep inside them.
  const major = Number(process.versions.node.split('.')[0]);
  if (major < 22) {
    say(`Node.js ${process.versions.node} is too old: gwdoctor needs Node.js >= 22 (24 LTS recommended)`);
    return EXIT.usage;
  }
  let opts;
  try {
    // gwdoctor.yaml (--config FILE, or found in the current directory): read only when one applies, and not for --help/--version.
    const file = argv.some((a) => a === '--help' || a === '-h' || a === '--version') ? null : configFileFor(argv);
    opts = parseOptions(argv, process.env, file ? await (await import('./config.js')).loadConfigFlags(file) : null);
  } catch (err) {
    if (err instanceof UsageError) {
      say(err.message);
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
  if (opts.printConfig) {
    process.stdout.write((await import('./config.js')).printConfig(opts));
    return EXIT.ok;
  }
  if (opts.targets.length === 0 && opts.internal.length === 0 && !opts.all && opts.command !== 'diff') {
    say('no target given: try gwdoctor api.example.com, or --all (see gwdoctor --help)');
    return EXIT.usage;
  }
  // V8's compile cache for the engine loaded from here on (as TypeScript's tsc does): the first run writes the bytecode
  // to os.tmpdir()/node-compile-cache, later runs skip compiling it (bench/README.md, start-up). NODE_COMPILE_CACHE=DIR
  // moves it, NODE_DISABLE_COMPILE_CACHE=1 turns it off; an unwritable directory only turns it off.
  nodeModule.enableCompileCache?.();
  const control: Control = {};
  try {
    await guard(opts.timeoutMs, control, isLarge(opts.manifests));
    if (opts.command === 'diff') return await (await import('./diff.js')).runDiff(opts);
    const { run } = await import('./run.js');
    return await run(opts, control);
  } catch (err) {
    if (err instanceof UsageError) {
      say(err.message);
      return EXIT.usage;
    }
    if (err instanceof GwdoctorError) {
      say(rootMessage(err), err.hint);
      return EXIT.inconclusive;
    }
    say(`internal error: ${rootMessage(err)} (rerun with --debug for details, and please report it)`);
    if (opts.debug) process.stderr.write(`${redact((err as Error).stack ?? String(err))}\n`);
    return EXIT.internal;
  }
}

main(process.argv.slice(2)).then(
  (code) => {
    if (stopCode !== null) return; // Ctrl-C or the watchdog is printing the partial report and exits itself
    // Flush stdout before exiting: the JSON report may be larger than one pipe buffer.
    process.stdout.write('', () => process.exit(code));
  },
  (err: unknown) => {
    say(`internal error: ${rootMessage(err)}`);
    process.exit(EXIT.internal);
  },
);
