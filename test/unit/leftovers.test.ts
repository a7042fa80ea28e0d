// The end-of-run check of test/run-dir.ts (test/helpers/leftovers.ts) on a run directory of its own: what a test
// leaves there, leaves running or leaves on the loopback interface is found (and only what names that run), then
// cleared. The run itself: `ls $TMPDIR` during a run is this run's directory.

import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { clearLeftovers, describeLeftovers, leftovers, RUN_DIR_ENV, runLabel } from '../helpers/leftovers.js';
import { waitFor } from '../helpers/ports.js';
import { tempDir } from '../helpers/tmp.js';

const canAddAddress =
  spawnSync('ip', ['-o', '-4', 'addr', 'show', 'dev', 'lo']).status === 0 && process.getuid?.() === 0;
const none = () => false;

describe('a test run', () => {
  it('runs in its own directory: os.tmpdir() is the run directory test/run-dir.ts made, also for a child', () => {
    const dir = process.env[RUN_DIR_ENV];
    expect(dir).toBeDefined();
    expect(tmpdir()).toBe(dir);
    expect(basename(dir as string)).toMatch(/^gwd-run-/);
    expect(execFileSync('sh', ['-c', 'echo "$TMPDIR"'], { encoding: 'utf8' }).trim()).toBe(dir);
  });
});

describe('leftovers of a run', () => {
  it('an empty run directory (tool caches aside) and nothing running or added: nothing', () => {
    const run = tempDir('gwd-run-');
    mkdirSync(join(run, 'node-compile-cache'));
    expect(describeLeftovers(leftovers(run, none))).toEqual([]);
  });

  it('finds a file, a process started with the run directory as TMPDIR and a labelled address, and clears them', async () => {
    const run = tempDir('gwd-run-');
    writeFileSync(join(run, 'gwd-left'), '');
    const child = spawn('sleep', ['300'], { env: { ...process.env, TMPDIR: run }, stdio: 'ignore' });
    const exited = new Promise((r) => child.once('exit', r));
    // and one that only names it on its command line (a config file under it), as nginx -p or etcd --data-dir
    const other = spawn(process.execPath, ['-e', 'setTimeout(() => {}, 300_000)', join(run, 'conf')], {
      stdio: 'ignore',
    });
    const otherExited = new Promise((r) => other.once('exit', r));
    let address: string | undefined;
    try {
      if (canAddAddress) {
        const used = execFileSync('ip', ['-o', '-4', 'addr', 'show', 'dev', 'lo'], { encoding: 'utf8' });
        for (let i = 0; i < 50 && !address; i++) {
          const a = `192.0.2.${100 + Math.floor(Math.random() * 150)}`;
          if (used.includes(` ${a}/`)) continue;
          try {
            execFileSync('ip', ['addr', 'add', `${a}/32`, 'dev', 'lo', 'label', runLabel(run)], { stdio: 'pipe' });
            address = a;
          } catch {
            // taken meanwhile: another
          }
        }
      }
      await waitFor('the children started', async () =>
        leftovers(run, none).processes.some((p) => p.pid === other.pid),
      );
      const found = leftovers(run, none);
      expect(found.entries).toEqual(['gwd-left']);
      expect(found.processes.map((p) => p.pid).sort()).toEqual([child.pid, other.pid].sort());
      expect(found.addresses).toEqual(address ? [address] : []);
      // Another run's leftovers are not this run's.
      const elsewhere = tempDir('gwd-run-');
      expect(describeLeftovers(leftovers(elsewhere, none))).toEqual([]);
      // What the caller spares (the test runner and its workers) is not reported.
      expect(leftovers(run, (p) => p.pid === child.pid || p.pid === other.pid).processes).toEqual([]);

      clearLeftovers(found);
      await Promise.all([exited, otherExited]);
      const after = leftovers(run, none);
      expect(after.processes).toEqual([]);
      expect(after.addresses).toEqual([]);
    } finally {
      child.kill('SIGKILL');
      other.kill('SIGKILL');
      if (address) spawnSync('ip', ['addr', 'del', `${address}/32`, 'dev', 'lo']);
    }
  });
});
