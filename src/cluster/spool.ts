// Manifests from a pipe (`kubectl get ... | gwdoctor -f -`), a named pipe or a terminal: copied to a private temporary
// file, asynchronously, before the (synchronous, chunked) reader parses them. A blocking read on the main thread would
// leave no turn to the timers and signal handlers: a writer that stalls would hold gwdoctor past --timeout and past
// SIGTERM. The copy reads through the event loop (a pipe handle, never a blocking read in a libuv thread, which would
// also hold the process at exit), so the deadline ends it with exit 2 and SIGTERM is answered at once; memory still
// follows the reader's 1 MB chunks, not the input.

import {
  closeSync,
  constants,
  createReadStream,
  fstatSync,
  mkdtempSync,
  openSync,
  rmSync,
  statSync,
  writeSync,
} from 'node:fs';
import { Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { isatty, ReadStream as TtyReadStream } from 'node:tty';
import { ManifestsIncompleteError } from './manifests.js';

const STDIN = '-';
const isStdin = (path: string) => path === STDIN || path === '/dev/stdin';

/** Paths the reader must not read synchronously: stdin unless it is a regular file, named pipes, terminals. */
function isStream(path: string): boolean {
  try {
    const st = path === STDIN ? fstatSync(0) : statSync(path);
    if (st.isFile() || st.isDirectory()) return false;
    return isStdin(path) || st.isFIFO() || (st.isCharacterDevice() && path !== '/dev/null');
  } catch {
    return false; // missing: the reader says so (exit 3)
  }
}

export interface Spooled {
  /** path as given -> the temporary file holding what was read from it. */
  sources: Map<string, string>;
  /** Remove the temporary files (also done at exit). */
  cleanup(): void;
}

/** Every chunk of `src` to `out`, until its end; rejects when `stopped` does (the stream is then left to the exit). */
function copy(src: Readable, out: number, stopped: Promise<never>, counted: (n: number) => void): Promise<void> {
  const done = new Promise<void>((resolve, reject) => {
    src.on('data', (b: Buffer) => {
      writeSync(out, b);
      counted(b.length);
    });
    src.once('end', resolve);
    src.once('error', reject);
  });
  return Promise.race([done, stopped]);
}

/**
 * A named pipe read as `cat` reads it: opened without blocking (a blocking open waits for a writer, in a libuv thread
 * nobody can cancel), read through a pipe handle; while no writer has come (end of file with nothing read), opened
 * again shortly after, until the deadline.
 */
async function copyFifo(
  path: string,
  out: number,
  stopped: Promise<never>,
  counted: (n: number) => void,
): Promise<void> {
  let total = 0;
  for (;;) {
    const fd = openSync(path, constants.O_RDONLY | constants.O_NONBLOCK);
    const sock = new Socket({ fd, readable: true, writable: false });
    try {
      await copy(sock, out, stopped, (n) => {
        total += n;
        counted(n);
      });
    } finally {
      sock.destroy();
    }
    if (total > 0) return;
    await Promise.race([new Promise((r) => setTimeout(r, 25)), stopped]);
  }
}

/** stdin (a pipe, a terminal) through process.stdin, which reads each kind without blocking; other streams by path. */
function source(path: string): Readable {
  if (isStdin(path)) return process.stdin;
  const fd = openSync(path, constants.O_RDONLY | constants.O_NONBLOCK);
  if (isatty(fd)) return new TtyReadStream(fd);
  closeSync(fd);
  return createReadStream(path); // a character device that never blocks (/dev/zero): the deadline ends it
}

/**
 * Copy every path that is a stream into a private temporary directory (mode 700, files 600: a dump may hold Secrets),
 * ending at the deadline with ManifestsIncompleteError (exit 2).
 */
export async function spoolStreams(paths: string[], opts: { deadline: number }): Promise<Spooled> {
  const sources = new Map<string, string>();
  const streams = [...new Set(paths)].filter(isStream);
  if (streams.length === 0) return { sources, cleanup: () => {} };
  const dir = mkdtempSync(join(tmpdir(), 'gwdoctor-input-'));
  const cleanup = () => rmSync(dir, { recursive: true, force: true });
  process.once('exit', cleanup);
  let timer: NodeJS.Timeout | undefined;
  const stopped = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error('deadline')), Math.max(0, opts.deadline - Date.now()));
  });
  stopped.catch(() => {}); // observed by the races below
  try {
    for (const [i, path] of streams.entries()) {
      const file = join(dir, `input-${i}`);
      const name = isStdin(path) ? `stdin (-f ${path})` : path;
      const out = openSync(file, 'wx', 0o600);
      let bytes = 0;
      const counted = (n: number) => void (bytes += n);
      try {
        const fifo = !isStdin(path) && statSync(path).isFIFO();
        await (fifo ? copyFifo(path, out, stopped, counted) : copy(source(path), out, stopped, counted));
      } catch (err) {
        if ((err as Error).message === 'deadline') {
          throw new ManifestsIncompleteError(
            `the deadline (--timeout) passed while reading manifests from ${name}: ${bytes === 0 ? 'nothing was written to it' : `${bytes} bytes read, and the writer had not finished`}`,
            'check that the command writing the manifests ends (kubectl get ... | gwdoctor -f -), or raise --timeout',
          );
        }
        throw new ManifestsIncompleteError(
          `could not read manifests from ${name}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`,
        );
      } finally {
        closeSync(out);
      }
      sources.set(path, file);
    }
  } catch (err) {
    cleanup();
    throw err;
  } finally {
    clearTimeout(timer);
  }
  return {
    sources,
    cleanup() {
      cleanup();
      process.off('exit', cleanup);
    },
  };
}
