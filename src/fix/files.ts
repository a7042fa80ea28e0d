// --fix-dir: each fix of a run as a file, ready for kubectl. Written after the report; names are stable and sortable:
// NN-HOST-LAYER-CODE.{yaml | patch.json + sh | sh}. A manual fix has nothing to apply and gets no file.
//
// The directory holds the fixes of the latest run only: a fix of an earlier run (one that publishes a host the
// latest run says must stay internal, say) must not be applied by a `kubectl apply -f DIR`. gwdoctor records what it
// wrote in MANIFEST (name and SHA-256 of each file) and, on the next run, removes exactly those files, and only while
// their content is still what it wrote. Files it did not write are never touched. A file it wrote that someone edited
// since is not removed but renamed to NAME.stale (kubectl apply -f DIR reads only .yaml/.yml/.json) and named on
// stderr. Without a MANIFEST (a new directory, or one written by an older gwdoctor), nothing is removed.

import { createHash } from 'node:crypto';
import { existsSync, lstatSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { UsageError } from '../errors.js';
import type { Report } from '../types.js';
import { loadYamlFor, patchArgv, renderFix, renderYaml, shellQuote } from './render.js';

export const MANIFEST = '.gwdoctor-fixes.json';

/** Only names gwdoctor itself gives a fix file: no path separators, no dot files, nothing else in the directory. */
const FIX_FILE = /^\d{2,}-[A-Za-z0-9._-]+\.(yaml|patch\.json|sh)$/;

interface Manifest {
  /** What this file is, for whoever finds it. */
  about: string;
  files: { name: string; sha256: string }[];
}

const sha256 = (s: string | Buffer) => createHash('sha256').update(s).digest('hex');

function readManifest(dir: string): Manifest['files'] {
  let text: string;
  try {
    text = readFileSync(join(dir, MANIFEST), 'utf8');
  } catch {
    return [];
  }
  try {
    const m = JSON.parse(text) as Partial<Manifest>;
    return Array.isArray(m.files)
      ? m.files.filter(
          (f): f is Manifest['files'][number] =>
            typeof f?.name === 'string' && typeof f.sha256 === 'string' && FIX_FILE.test(f.name),
        )
      : [];
  } catch {
    return []; // not ours to interpret: remove nothing
  }
}

/**
 * Remove the files the previous run wrote (per MANIFEST) that still hold what it wrote; rename the ones edited since to
 * NAME.stale (NAME.stale-2, …). Returns the renames.
 */
function clearPrevious(dir: string): { from: string; to: string }[] {
  const moved: { from: string; to: string }[] = [];
  for (const f of readManifest(dir)) {
    const path = join(dir, f.name);
    let body: Buffer;
    try {
      if (!lstatSync(path).isFile()) continue; // a symlink or directory by that name is not what gwdoctor wrote
      body = readFileSync(path);
    } catch {
      continue; // already gone
    }
    if (sha256(body) === f.sha256) {
      rmSync(path, { force: true });
      continue;
    }
    let to = `${f.name}.stale`;
    for (let i = 2; existsSync(join(dir, to)); i++) to = `${f.name}.stale-${i}`;
    renameSync(path, join(dir, to));
    moved.push({ from: f.name, to });
  }
  return moved;
}

export interface FixFiles {
  written: string[];
  /** Fix files of an earlier run edited since gwdoctor wrote them: renamed, not removed. */
  stale: { from: string; to: string }[];
}

export async function writeFixFiles(dir: string, report: Report): Promise<FixFiles> {
  await loadYamlFor(report.targets.flatMap((t) => t.layers.map((f) => f.fix)));
  try {
    mkdirSync(dir, { recursive: true });
  } catch (err) {
    throw new UsageError(`--fix-dir ${dir}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
  }
  const stale = clearPrevious(dir);
  const written: string[] = [];
  const recorded: Manifest['files'] = [];
  let n = 0;
  for (const t of report.targets) {
    for (const f of t.layers) {
      if (!f.fix || f.status === 'pass' || f.status === 'skip' || f.fix.kind === 'manual') continue;
      n++;
      const base = `${String(n).padStart(2, '0')}-${`${t.host}${t.path}`.replace(/[^A-Za-z0-9.-]+/g, '_').replace(/_+$/, '')}-${f.id}-${f.code ?? 'fix'}`;
      const head = `# ${f.fix.explain.replace(/\n/g, ' ')}\n`;
      const out: [string, string][] = [];
      if (f.fix.kind === 'apply') out.push([`${base}.yaml`, `${head}${renderYaml(f.fix.object)}`]);
      else if (f.fix.kind === 'patch') {
        const patchFile = `${base}.patch.json`;
        const argv = patchArgv(f.fix).slice(0, -2); // without -p JSON
        out.push([patchFile, `${JSON.stringify(f.fix.patch, null, 2)}\n`]);
        out.push([
          `${base}.sh`,
          `#!/bin/sh\n${head}set -e\ncd "$(dirname "$0")"\n${[...argv, '--patch-file', patchFile].map(shellQuote).join(' ')}\n`,
        ]);
      } else out.push([`${base}.sh`, `#!/bin/sh\n${head}${renderFix(f.fix)}\n`]);
      for (const [name, body] of out) {
        const path = join(dir, name);
        writeFileSync(path, body, { mode: name.endsWith('.sh') ? 0o755 : 0o644 });
        written.push(path);
        recorded.push({ name, sha256: sha256(body) });
      }
    }
  }
  const manifestPath = join(dir, MANIFEST);
  if (recorded.length === 0) rmSync(manifestPath, { force: true });
  else {
    const m: Manifest = {
      about: 'files gwdoctor --fix-dir wrote; the next run removes them (while unchanged) before writing its own',
      files: recorded,
    };
    writeFileSync(`${manifestPath}.tmp`, `${JSON.stringify(m, null, 2)}\n`);
    renameSync(`${manifestPath}.tmp`, manifestPath);
  }
  return { written, stale };
}
