// The real programs that consume gwdoctor's outputs (xmllint, promtool, chromium). A missing one skips the test
// locally with one line, and fails it when CI=true (a CI run must not pass without the real consumer).

import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { which } from './net/bins.js';
import { ROOT } from './cli.js';

export const SCHEMAS = join(ROOT, 'test', 'schemas');

/** The binary's path, or null (locally) when it is missing. Throws when CI=true. */
export function consumer(name: string, pkg: string): string | null {
  const p = which(name);
  if (p) return p;
  if (process.env['CI'] === 'true')
    throw new Error(`${name} is missing (Debian package ${pkg}): run scripts/install-net-deps.sh`);
  return null;
}

export interface Ran {
  code: number | null;
  stdout: string;
  stderr: string;
}

export function runTool(bin: string, args: string[], input?: string, timeoutMs = 60_000): Ran {
  const r = spawnSync(bin, args, { encoding: 'utf8', timeout: timeoutMs, ...(input !== undefined ? { input } : {}) });
  return { code: r.status, stdout: r.stdout ?? '', stderr: r.stderr ?? String(r.error ?? '') };
}
