// A manifests writer that stalls: gwdoctor reading from a pipe (-f -) or a named pipe while the writer has sent part
// of a dump and never ends. Used by the e2e test and the fuzz suite (issue 20: --timeout and SIGTERM must end it).

import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { closeSync, constants, openSync, readdirSync, readlinkSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { CLI, ROOT } from './cli.js';

export interface Ended {
  code: number | null;
  signal: NodeJS.Signals | null;
  stderr: string;
  stdout: string;
}

export function gwdoctorChild(args: string[]): { child: ChildProcess; ended: Promise<Ended> } {
  const child = spawn(process.execPath, [CLI, ...args], {
    cwd: ROOT,
    env: { PATH: process.env['PATH'] ?? '', HOME: '/nonexistent-home', NO_COLOR: '1' },
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout?.on('data', (b: Buffer) => (stdout += b.toString()));
  child.stderr?.on('data', (b: Buffer) => (stderr += b.toString()));
  child.stdin?.on('error', () => {}); // EPIPE once gwdoctor is gone
  // A safety net for the test run, not a measure: a gwdoctor that ignores its deadline is killed (and the test fails
  // on its exit code).
  const net = setTimeout(() => child.kill('SIGKILL'), 60_000);
  const ended = new Promise<Ended>((resolve) =>
    child.once('close', (code, signal) => (clearTimeout(net), resolve({ code, signal, stderr, stdout }))),
  );
  return { child, ended };
}

/** Poll `ok` until it holds or `ms` pass (a condition with a deadline, never a fixed sleep). */
export async function until<T>(ok: () => T | undefined | false, ms = 20_000, what = 'condition'): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = ok();
    if (v) return v;
    if (Date.now() > end) throw new Error(`${what}: not reached within ${ms} ms`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** The temporary copy of the input gwdoctor has open (under gwdoctor-input-*), once it is reading the stream. */
export function spoolFileOf(pid: number): string | undefined {
  try {
    for (const fd of readdirSync(`/proc/${pid}/fd`)) {
      let to = '';
      try {
        to = readlinkSync(join(`/proc/${pid}/fd`, fd));
      } catch {
        continue;
      }
      if (to.includes('gwdoctor-input-')) return to;
    }
  } catch {
    return undefined;
  }
  return undefined;
}

export function mkfifo(path: string): void {
  const r = spawnSync('mkfifo', [path]);
  if (r.status !== 0) throw new Error(`mkfifo ${path}: ${r.stderr.toString()}`);
}

/** Open a named pipe for writing once a reader has it open (ENXIO before): the writer side of a stalled FIFO. */
export async function fifoWriter(path: string): Promise<{ write(s: string): void; close(): void }> {
  const fd = await until(
    () => {
      try {
        return openSync(path, constants.O_WRONLY | constants.O_NONBLOCK) + 1; // +1: fd 0 is falsy
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code === 'ENXIO') return undefined;
        throw err;
      }
    },
    20_000,
    `a reader on ${path}`,
  );
  return { write: (s) => void writeSync(fd - 1, s), close: () => closeSync(fd - 1) };
}
