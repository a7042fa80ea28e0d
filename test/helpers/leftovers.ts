// What a test run leaves behind, told apart from what parallel runs on the same machine own: every run has its own
// directory (test/run-dir.ts), every process a run starts names that directory (TMPDIR in its environment, or a
// config/data path under it on its command line), and every loopback address it adds carries the run's label.

import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync, readlinkSync } from 'node:fs';
import { basename } from 'node:path';

/** The environment variable that names the run's directory (set by test/run-dir.ts for the workers and children). */
export const RUN_DIR_ENV = 'GWDOCTOR_TEST_RUN_DIR';

/**
 * Entries the run directory may hold at the end: caches of the tools under test, not files a test made.
 * node-compile-cache: V8's compile cache the CLI enables (src/cli.ts `enableCompileCache`) in os.tmpdir().
 */
const TOOL_CACHES = new Set(['node-compile-cache']);

/** The `ip addr` label of loopback addresses added by the run in `dir` (`lo:` + at most 12 characters). */
export function runLabel(dir: string): string {
  return `lo:gwd${basename(dir).slice(-6)}`;
}

/** The label for addresses this process adds: the current run's, or none outside a test run. */
export function currentRunLabel(): string | undefined {
  const dir = process.env[RUN_DIR_ENV];
  return dir ? runLabel(dir) : undefined;
}

export interface Leftovers {
  /** Entries of the run directory (names), tool caches excepted. */
  entries: string[];
  /** Live processes that name the run directory in their command line or environment. */
  processes: { pid: number; cmd: string }[];
  /** Loopback addresses (a.b.c.d) with the run's label. */
  addresses: string[];
}

function read(path: string): string {
  try {
    return readFileSync(path, 'latin1');
  } catch {
    return ''; // gone meanwhile, or a process of another user
  }
}

/** The parent pid and state of a process (/proc/PID/stat: the command may contain spaces and parentheses). */
function stat(pid: number): { ppid: number; state: string } | undefined {
  const s = read(`/proc/${pid}/stat`);
  const rest = s.slice(s.lastIndexOf(')') + 2).split(' ');
  return rest.length > 2 ? { state: rest[0] as string, ppid: Number(rest[1]) } : undefined;
}

/**
 * What the run in `dir` left: entries, processes (except `spare`, e.g. the test runner and its workers) and loopback
 * addresses labelled `runLabel(dir)`.
 */
export function leftovers(
  dir: string,
  spare: (p: { pid: number; ppid: number; cmd: string; exe: string }) => boolean,
): Leftovers {
  let entries: string[] = [];
  try {
    entries = readdirSync(dir).filter((e) => !TOOL_CACHES.has(e));
  } catch {
    // no directory: nothing in it
  }
  const processes: Leftovers['processes'] = [];
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    const pid = Number(name);
    const st = stat(pid);
    if (!st || st.state === 'Z') continue; // gone, or exited and only waiting for its parent to reap it
    const cmd = read(`/proc/${pid}/cmdline`).split('\0').join(' ').trim();
    if (!cmd.includes(dir) && !read(`/proc/${pid}/environ`).includes(dir)) continue;
    let exe = '';
    try {
      exe = readlinkSync(`/proc/${pid}/exe`);
    } catch {
      // gone meanwhile
    }
    if (spare({ pid, ppid: st.ppid, cmd, exe })) continue;
    processes.push({ pid, cmd });
  }
  const label = runLabel(dir);
  let addresses: string[] = [];
  try {
    addresses = execFileSync('ip', ['-o', '-4', 'addr', 'show', 'dev', 'lo', 'label', label], { encoding: 'utf8' })
      .split('\n')
      .map((l) => /inet (\S+)\//.exec(l)?.[1] ?? '')
      .filter((a) => a !== '');
  } catch {
    // no ip(8): no addresses can have been added either
  }
  return { entries, processes, addresses };
}

/** Ends the processes (SIGKILL, by pid) and removes the addresses of `l`; the caller removes the directory. */
export function clearLeftovers(l: Leftovers): void {
  for (const p of l.processes) {
    try {
      process.kill(p.pid, 'SIGKILL');
    } catch {
      // gone meanwhile
    }
  }
  for (const a of l.addresses) {
    try {
      execFileSync('ip', ['addr', 'del', `${a}/32`, 'dev', 'lo'], { stdio: 'pipe' });
    } catch {
      // gone meanwhile
    }
  }
}

/** One line per leftover, for the error that fails the run; empty when nothing is left. */
export function describeLeftovers(l: Leftovers): string[] {
  return [
    ...l.entries.map((e) => `file: ${e}`),
    ...l.processes.map((p) => `process ${p.pid}: ${p.cmd.slice(0, 200)}`),
    ...l.addresses.map((a) => `loopback address ${a}`),
  ];
}
