// Vitest globalSetup of both projects (vitest.config.ts): one directory per test run, gwd-run-XXXXXX in os.tmpdir(),
// for every temporary file of the run. TMPDIR/TMP/TEMP name it, so that os.tmpdir() in the workers (forked after the
// global setups ran, with this process's environment) and in every process they start (the built CLI, kubectl,
// nginx, Envoy, the control plane) is inside it. At the end of the run (also when tests failed) it is removed; what a
// test left there, or left running, or left on the loopback interface is reported as an error that fails the run
// (test/helpers/leftovers.ts), then cleared. A test removes its own files (test/helpers/tmp.ts `tempDir`).
//
// Listed first in each project, so torn down last: vitest tears the global setups of a project down in reverse and
// the projects in reverse (integration's control plane and istiod, which live in here, stop before this runs). With
// both projects in one run, the first setup creates the directory and the last teardown removes it.

import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { clearLeftovers, describeLeftovers, leftovers, RUN_DIR_ENV } from './helpers/leftovers.js';

const VARS = ['TMPDIR', 'TMP', 'TEMP', RUN_DIR_ENV] as const;
const KEY = Symbol.for('gwdoctor.test-run-dir');

/** GWDOCTOR_KEEP_CP=1 keeps the control plane's files (harness/controlplane.ts), so the directory they are in. */
const keep = () => Boolean(process.env['GWDOCTOR_KEEP_CP']);

interface Run {
  dir: string;
  users: number;
  saved: Record<string, string | undefined>;
}

export default function setup(): () => void {
  const g = globalThis as { [KEY]?: Run };
  if (!g[KEY]) {
    const dir = mkdtempSync(join(tmpdir(), 'gwd-run-'));
    const saved = Object.fromEntries(VARS.map((v) => [v, process.env[v]]));
    for (const v of VARS) process.env[v] = dir;
    // Killed before the teardown (Ctrl-C twice, a crash): the files still go.
    process.once('exit', () => {
      if (!keep()) rmSync(dir, { recursive: true, force: true });
    });
    g[KEY] = { dir, users: 0, saved };
  }
  const run = g[KEY];
  run.users++;
  return () => {
    if (--run.users > 0) return;
    delete g[KEY];
    for (const v of VARS) {
      const was = run.saved[v];
      if (was === undefined) delete process.env[v];
      else process.env[v] = was;
    }
    // The runner and its own children carry the directory in their environment but are not the tests' doing: its
    // forked workers and its watchdog (Node processes; vitest closes its pool after the global teardowns) and the
    // esbuild service. What the tests start is a child of a worker, or of this process but not Node (the control plane).
    const left = leftovers(
      run.dir,
      (p) =>
        p.pid === process.pid ||
        (p.ppid === process.pid && (p.exe === process.execPath || p.cmd.includes('/node_modules/'))),
    );
    clearLeftovers(left);
    if (keep()) {
      // Kept for debugging (README, "The integration suite"): its files are wanted, not left behind.
      process.stderr.write(`[run-dir] kept ${run.dir} (GWDOCTOR_KEEP_CP)\n`);
      left.entries = [];
    } else rmSync(run.dir, { recursive: true, force: true });
    const lines = describeLeftovers(left);
    if (lines.length > 0)
      throw new Error(
        `the test run left behind (now removed):\n  ${lines.join('\n  ')}\nin ${run.dir}; a test removes what it makes ` +
          '(test/helpers/tmp.ts tempDir), stops what it starts and deletes the addresses it adds',
      );
  };
}
