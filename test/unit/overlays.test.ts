// Scenarios are overlays on one seed (fixtures/_overlay.py says how; scripts/scenario.mjs merges them). The merge is
// deterministic and agrees with kubectl kustomize (an independent merge) on a sample that uses every part of an
// overlay in both forms.

import { spawnSync } from 'node:child_process';
import { copyFileSync, mkdirSync, readFileSync, symlinkSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  FIXTURES,
  materialise,
  merge,
  overlayOf,
  scenarioNames,
  scenarioObjects,
  scenarioText,
  SEED,
  type Overlay,
} from '../../scripts/scenario.mjs';
import { consumer } from '../helpers/consumers.js';
import { comparable, kustomize } from '../helpers/kustomize-judge.js';
import { tempDir } from '../helpers/tmp.js';

const names = scenarioNames();
const overlays = names.filter((n) => n !== SEED).map((n) => ({ name: n, ov: overlayOf(n) as Overlay }));

// Switching from generated directories to overlays, every merged overlay was compared with what
// `python3 fixtures/_generate.py --full DIR` writes (the same objects, in the same order; also as loadManifests reads
// them). Re-run it after changing the merge or the generator: `node scripts/scenario.mjs --compare DIR`.

it('merges deterministically', () => {
  for (const { name } of overlays.slice(0, 20)) {
    expect(scenarioText(name)).toBe(scenarioText(name));
    const dir = materialise(name);
    expect(readFileSync(join(materialise(name), 'cluster.yaml'), 'utf8')).toBe(scenarioText(name));
    expect(dir).toBe(materialise(name));
  }
});

describe("each overlay names only the seed's objects, and states the form expect.json gives", () => {
  it.each(overlays)('$name', ({ name, ov }) => {
    const e = JSON.parse(readFileSync(join(FIXTURES, name, 'expect.json'), 'utf8')) as { status: string };
    expect(ov.form).toBe(e.status);
    expect(ov.base).toBe(SEED);
    expect(() => scenarioObjects(name)).not.toThrow();
  });
  it('refuses an overlay that names an object the seed does not have', () => {
    const broken = { ...overlays[0]!.ov, remove: ['Service nowhere/none'] };
    expect(() => merge(scenarioObjects(SEED), broken)).toThrow(
      /names Service nowhere\/none, which the .* seed does not have/,
    );
  });
});

// The sample: for each part of an overlay (remove, patch, replace, add) in each form, the first and the last scenario
// that has it.
const kubectl = consumer('kubectl', 'kubernetes-client');
const sample = [
  ...new Set(
    (['with-controller', 'pre-sync'] as const).flatMap((form) =>
      (['remove', 'patch', 'replace', 'add'] as const).flatMap((part) => {
        const has = overlays.filter(({ ov }) => ov.form === form && (ov[part] ?? []).length > 0);
        return [has[0], has.at(-1)].flatMap((s) => (s ? [s.name] : []));
      }),
    ),
  ),
];

describe.skipIf(!kubectl)('kubectl kustomize merges the sample the same way', () => {
  it('covers every part of an overlay in both forms', () => {
    const parts = (n: string) => {
      const ov = overlayOf(n) as Overlay;
      return (['remove', 'patch', 'replace', 'add'] as const)
        .filter((p) => (ov[p] ?? []).length > 0)
        .map((p) => `${ov.form}:${p}`);
    };
    expect(new Set(sample.flatMap(parts)).size).toBeGreaterThanOrEqual(7); // pre-sync has no status: no replace
  });
  it.each(sample)('%s', (name) => {
    const ov = overlayOf(name) as Overlay;
    expect(comparable(kustomize(kubectl as string, scenarioObjects(SEED), ov))).toEqual(
      comparable(scenarioObjects(name)),
    );
  });
});

// A test run reads fixtures/ once per scenario: a checkout or rebase in the same worktree while the run goes on (which
// rewrites fixtures/ and scripts/) must not reach the scenarios the run already merged. A copy of the script, the seed
// and one overlay, in a child process: the overlay removed after the first merge, the second call still answers.
describe('a process merges a scenario once', () => {
  const name = 'grant-missing';
  const copy = () => {
    const root = tempDir('gwd-merge-once-');
    for (const f of ['scripts/scenario.mjs', `fixtures/${SEED}/cluster.yaml`, `fixtures/${name}/overlay.yaml`]) {
      mkdirSync(dirname(join(root, f)), { recursive: true });
      copyFileSync(join(FIXTURES, '..', f), join(root, f));
    }
    symlinkSync(join(FIXTURES, '..', 'node_modules'), join(root, 'node_modules'), 'dir'); // the yaml library
    return root;
  };
  const run = (root: string, code: string) =>
    spawnSync(
      process.execPath,
      [
        '--input-type=module',
        '-e',
        `import { materialise } from ${JSON.stringify(join(root, 'scripts', 'scenario.mjs'))}; import { rmSync } from 'node:fs';\n${code}`,
      ],
      { encoding: 'utf8', timeout: 30_000 },
    );
  const overlay = (root: string) => JSON.stringify(join(root, 'fixtures', name, 'overlay.yaml'));

  it('answers from its merge when fixtures/ changes under it', () => {
    const root = copy();
    const r = run(
      root,
      `const a = materialise('${name}'); rmSync(${overlay(root)}); process.stdout.write(String(a === materialise('${name}')));`,
    );
    expect(r.stderr).toBe('');
    expect(r.stdout).toBe('true');
    expect(readFileSync(join(root, '.scenarios', name, 'cluster.yaml'), 'utf8')).toBe(scenarioText(name));
  });

  it('a new process reads fixtures/ again (the merge is per process)', () => {
    const root = copy();
    const r = run(root, `rmSync(${overlay(root)}); materialise('${name}');`);
    expect(r.status).not.toBe(0);
    expect(r.stderr).toMatch(/ENOENT.*fixtures\/grant-missing\/overlay\.yaml/);
  });
});
