// knip over the repository (knip.jsonc): no file nobody imports, no dependency nobody uses, no export nobody imports.
// A test rather than a step of its own in `npm test`, so that a finding fails this test only and the rest of the
// suite still runs and reports.

import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { expect, it } from 'vitest';

const root = join(import.meta.dirname, '..', '..');

it('knip finds no unused file, dependency or export', () => {
  const r = spawnSync(
    process.execPath,
    [join(root, 'node_modules', 'knip', 'bin', 'knip.js'), '--no-progress', '--no-config-hints'],
    { cwd: root, encoding: 'utf8', timeout: 110_000, env: { ...process.env, NO_COLOR: '1' } },
  );
  expect(r.error).toBeUndefined();
  expect(`${r.stdout}${r.stderr}`.trim()).toBe('');
  expect(r.status).toBe(0);
}, 120_000);
