// --fix-dir: each fix of a run as a file, ready for kubectl. Written after the report; names are stable and sortable:
// NN-HOST-LAYER-CODE.{yaml | patch.json + sh | sh}. A manual fix has nothing to apply and gets no file.

import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { UsageError } from '../errors.js';
import type { Report } from '../types.js';
import { patchArgv, renderFix, renderYaml, shellQuote } from './render.js';

export function writeFixFiles(dir: string, report: Report): string[] {
  try {
    mkdirSync(dir, { recursive: true });
  } catch (err) {
    throw new UsageError(`--fix-dir ${dir}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
  }
  const written: string[] = [];
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
        out.push([`${base}.sh`, `#!/bin/sh\n${head}set -e\ncd "$(dirname "$0")"\n${[...argv, '--patch-file', patchFile].map(shellQuote).join(' ')}\n`]);
      } else out.push([`${base}.sh`, `#!/bin/sh\n${head}${renderFix(f.fix)}\n`]);
      for (const [name, body] of out) {
        writeFileSync(join(dir, name), body, { mode: name.endsWith('.sh') ? 0o755 : 0o644 });
        written.push(join(dir, name));
      }
    }
  }
  return written;
}
