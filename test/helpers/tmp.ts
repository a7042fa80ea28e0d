// Temporary directories of a test file, removed after its tests (also when they fail). They are made in os.tmpdir(),
// which during a run is the run's own directory (test/run-dir.ts, which fails the run if a file leaves one behind).

import { chmodSync, mkdtempSync, readdirSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll } from 'vitest';

const made: string[] = [];

/** Owner rwx down the tree, for a test that took a permission away from something it made. */
function unlock(path: string): void {
  try {
    if (!statSync(path).isDirectory()) return;
    chmodSync(path, 0o700);
    for (const e of readdirSync(path)) unlock(join(path, e));
  } catch {
    // gone meanwhile
  }
}

function remove(dir: string): void {
  try {
    rmSync(dir, { recursive: true, force: true });
  } catch {
    unlock(dir);
    rmSync(dir, { recursive: true, force: true });
  }
}

// Registered when a test file first imports this module (vitest evaluates each file's imports anew, while it
// collects that file), so it is the file's own afterAll.
afterAll(() => {
  for (const d of made.splice(0)) remove(d);
});

/** A new directory `os.tmpdir()/<prefix>XXXXXX`, removed after this test file. */
export function tempDir(prefix: string): string {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  made.push(dir);
  return dir;
}
