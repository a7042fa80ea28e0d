// `npm run demo` is the first thing a newcomer runs: it must show a real fault with its fix, and never print a fix
// that publishes admin.example.com, the host the README keeps internal on purpose. The README says what it runs.

import { spawnSync } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ROOT } from '../helpers/cli.js';

const demo = (JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { scripts: Record<string, string> })
  .scripts['demo'] as string;

describe('npm run demo', () => {
  const r = spawnSync('sh', ['-c', demo], {
    cwd: ROOT,
    encoding: 'utf8',
    env: { PATH: process.env['PATH'] ?? '', HOME: '/nonexistent-home', NO_COLOR: '1' },
    timeout: 60_000,
  });

  it('shows a real fault with a fix to apply, and proves admin.example.com stays internal', () => {
    expect(r.status).toBe(0);
    expect(r.stdout).toMatch(/^api\.example\.com\/ fails at grant$/m);
    expect(r.stdout).toContain('kind: ReferenceGrant');
    expect(r.stdout).toMatch(/^worker\.example\.com\/ reaches its backend/m);
    expect(r.stdout).toMatch(/^admin\.example\.com\/ stays internal/m);
  });

  it('prints no fix that serves admin.example.com', () => {
    expect(r.stdout).not.toMatch(/^\s*-\s+admin\.example\.com$/m); // a hostnames entry in a printed object
    expect(r.stdout).not.toMatch(/^kind: HTTPRoute$/m); // an HTTPRoute to apply (the grant's `from` names the kind indented)
  });

  it('is the command the README says it runs', () => {
    const readme = readFileSync(join(ROOT, 'README.md'), 'utf8');
    const said = /`npm run demo` runs `gwdoctor ([^`]+)`/.exec(readme)?.[1];
    expect(said).toBeDefined();
    expect(demo).toBe(`node dist/bundle/cli.js ${said} || true`);
  });
});

// The package ships one scenario, the demo's: the seed, its overlay and expectation, and the script that merges them
// (npm pack --dry-run names the files), and of dist/ only the bundle; the demo runs from exactly those files.
describe('npm pack', () => {
  const r = spawnSync('npm', ['pack', '--dry-run', '--json', '--ignore-scripts'], {
    cwd: ROOT,
    encoding: 'utf8',
    timeout: 60_000,
  });
  const files = (JSON.parse(r.stdout) as { files: { path: string }[] }[])[0]?.files.map((f) => f.path) ?? [];

  it('ships of the fixtures only what npm run demo needs', () => {
    expect(files.filter((f) => f.startsWith('fixtures/') || f.startsWith('scripts/')).sort()).toEqual([
      'fixtures/README.md', // npm packs every README
      'fixtures/grant-missing/expect.json',
      'fixtures/grant-missing/overlay.yaml',
      'fixtures/seed-healthy/cluster.yaml',
      'scripts/scenario.mjs',
    ]);
  });

  it('ships of dist/ only the bundle: the bin entries and the chunks they load (npm run bundle starts from an empty dist/bundle)', () => {
    const dist = files.filter((f) => f.startsWith('dist/'));
    expect(dist.filter((f) => !f.startsWith('dist/bundle/'))).toEqual([]);
    // Every shipped chunk is reached from a bin entry by its static or dynamic imports: no chunk of an earlier build.
    const reached = new Set<string>();
    const todo = ['dist/bundle/cli.js', 'dist/bundle/kubectl-gwdoctor.js'];
    for (let f = todo.pop(); f !== undefined; f = todo.pop()) {
      if (reached.has(f)) continue;
      reached.add(f);
      const text = readFileSync(join(ROOT, f), 'utf8');
      for (const m of text.matchAll(/(?:from|import)\s*\(?\s*"\.\/([^"]+\.js)"/g)) todo.push(`dist/bundle/${m[1]}`);
    }
    expect(dist.filter((f) => f.endsWith('.js') && !reached.has(f))).toEqual([]);
    expect([...reached].filter((f) => !dist.includes(f))).toEqual([]);
  });

  it('runs npm run demo from the packed files alone', () => {
    const dir = mkdtempSync(join(tmpdir(), 'gwd-demo-pack-'));
    try {
      for (const f of files) {
        mkdirSync(dirname(join(dir, f)), { recursive: true });
        copyFileSync(join(ROOT, f), join(dir, f));
      }
      symlinkSync(join(ROOT, 'node_modules'), join(dir, 'node_modules')); // what npm install puts beside it
      const d = spawnSync('sh', ['-c', demo], {
        cwd: dir,
        encoding: 'utf8',
        env: { PATH: process.env['PATH'] ?? '', HOME: '/nonexistent-home', NO_COLOR: '1' },
        timeout: 60_000,
      });
      expect(d.stderr).toBe('');
      expect(d.stdout).toMatch(/^api\.example\.com\/ fails at grant$/m);
      expect(d.stdout).toMatch(/^admin\.example\.com\/ stays internal/m);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
