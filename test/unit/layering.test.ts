// Imports point one way: checks never import client-node, undici, listr2 or a reporter (style guide B.1), and
// the CLI entry loads nothing heavy before the flags are valid.

import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { expect, it } from 'vitest';

const root = join(import.meta.dirname, '..', '..');

it.each(readdirSync(join(root, 'checks')).filter((f) => f.endsWith('.ts')))('checks/%s imports no heavy library or reporter', (f) => {
  const src = readFileSync(join(root, 'checks', f), 'utf8');
  expect(src).not.toMatch(/from ['"](@kubernetes\/client-node|undici|listr2)['"]/);
  expect(src).not.toMatch(/from ['"][./]*src\/report\//);
  expect(src).not.toMatch(/from ['"][./]*src\/net\/http-probe/);
});

it('src/cli.ts imports only node built-ins and the light option/error/redact modules statically', () => {
  const src = readFileSync(join(root, 'src', 'cli.ts'), 'utf8');
  const imports = [...src.matchAll(/^import .* from ['"](.+)['"];$/gm)].map((m) => m[1]);
  expect(imports.sort()).toEqual(['./errors.js', './options.js', './redact.js', 'node:fs', 'node:path']);
});
