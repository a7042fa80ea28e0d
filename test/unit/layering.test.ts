// Layering on the real module graph (esbuild's metafile of the CLI bundle, not a regex over import lines):
// no check imports another check, src/ never imports a check (only the layer list does), rules in src/gatewayapi/ import
// no judge or reporter, and the graph has no cycles.

import { build, type Metafile } from 'esbuild';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { LAYER_IDS } from '../../src/registry.js';

const root = join(import.meta.dirname, '..', '..');
let graph: Map<string, string[]>;
/** Static imports only: a dynamic import() back-edge (lazy loading) cannot create an initialisation-order cycle. */
let staticGraph: Map<string, string[]>;
/** Static imports of packages, by importer. */
let staticPackages: Map<string, string[]>;
/** Static imports of packages and node built-ins, by importer. */
let staticImportsWithBuiltins: Map<string, string[]>;

beforeAll(async () => {
  const r = await build({
    entryPoints: [join(root, 'src/cli.ts')],
    bundle: true,
    write: false,
    metafile: true,
    platform: 'node',
    format: 'esm',
    packages: 'external',
    logLevel: 'silent',
    absWorkingDir: root,
  });
  const meta = r.metafile as Metafile;
  graph = new Map(
    Object.entries(meta.inputs).map(([file, input]) => [
      file,
      input.imports.filter((i) => !i.external).map((i) => i.path),
    ]),
  );
  staticGraph = new Map(
    Object.entries(meta.inputs).map(([file, input]) => [
      file,
      input.imports.filter((i) => !i.external && i.kind !== 'dynamic-import').map((i) => i.path),
    ]),
  );
  staticPackages = new Map(
    Object.entries(meta.inputs).map(([file, input]) => [
      file,
      input.imports
        .filter((i) => i.external && i.kind !== 'dynamic-import' && !i.path.startsWith('node:'))
        .map((i) => i.path),
    ]),
  );
  staticImportsWithBuiltins = new Map(
    Object.entries(meta.inputs).map(([file, input]) => [
      file,
      input.imports.filter((i) => i.external && i.kind !== 'dynamic-import').map((i) => i.path),
    ]),
  );
}, 30_000);

describe('the module graph', () => {
  it('covers every layer module', () => {
    for (const l of LAYER_IDS) expect(graph.has(`checks/${l}.ts`), l).toBe(true);
  });
  it('has no check importing another check', () => {
    for (const [file, deps] of graph) {
      if (!file.startsWith('checks/') || file === 'checks/index.ts') continue;
      expect(
        deps.filter((d) => d.startsWith('checks/')),
        file,
      ).toEqual([]);
    }
  });
  it('has src/ reach the checks only through checks/index.ts, and the rules import no judge, reporter or pipeline', () => {
    for (const [file, deps] of graph) {
      if (file.startsWith('src/'))
        expect(
          deps.filter((d) => d.startsWith('checks/') && d !== 'checks/index.ts'),
          file,
        ).toEqual([]);
      if (file.startsWith('src/gatewayapi/'))
        expect(
          deps.filter((d) => d.startsWith('checks/') || d.startsWith('src/report/') || d === 'src/pipeline.ts'),
          file,
        ).toEqual([]);
    }
  });
  it('has no cycles of static imports', () => {
    const state = new Map<string, 'open' | 'done'>();
    const cycles: string[] = [];
    const visit = (f: string, stack: string[]) => {
      if (state.get(f) === 'done') return;
      if (state.get(f) === 'open') {
        cycles.push([...stack.slice(stack.indexOf(f)), f].join(' -> '));
        return;
      }
      state.set(f, 'open');
      for (const d of staticGraph.get(f) ?? []) visit(d, [...stack, f]);
      state.set(f, 'done');
    };
    for (const f of staticGraph.keys()) visit(f, []);
    expect(cycles).toEqual([]);
  });
});

// From the first pass (style guide B.1): checks import no heavy library or reporter; the CLI entry stays light.
it.each(readdirSync(join(root, 'checks')).filter((f) => f.endsWith('.ts')))(
  'checks/%s imports no heavy library or reporter',
  (f) => {
    const src = readFileSync(join(root, 'checks', f), 'utf8');
    expect(src).not.toMatch(/from ['"](@kubernetes\/client-node|undici|listr2)['"]/);
    expect(src).not.toMatch(/from ['"][./]*src\/report\//);
    expect(src).not.toMatch(/from ['"][./]*src\/net\/http-probe/);
  },
);

it('loads re2js only when a route may hold a regular expression (a dynamic import: an offline run without one never parses it)', () => {
  expect([...staticPackages].filter(([, pkgs]) => pkgs.includes('re2js')).map(([file]) => file)).toEqual([]);
  expect([...graph.keys()]).toContain('src/gatewayapi/matching.ts');
});

it('src/cli.ts imports only node built-ins and the light option/error/redact modules statically', () => {
  const src = readFileSync(join(root, 'src', 'cli.ts'), 'utf8');
  const imports = [...src.matchAll(/^import .* from ['"](.+)['"];$/gm)].map((m) => m[1]);
  expect(imports.sort()).toEqual(['./errors.js', './options.js', './redact.js', 'node:fs', 'node:module', 'node:path']);
});

/** Every module a module reaches through static imports (itself included). */
function staticClosure(from: string[]): Set<string> {
  const seen = new Set<string>();
  const visit = (f: string) => {
    if (seen.has(f)) return;
    seen.add(f);
    for (const d of staticGraph.get(f) ?? []) visit(d);
  };
  from.forEach(visit);
  return seen;
}

// Start-up (issue 17, bench/README.md): an offline run loads the engine (src/run.ts), the manifests reader and the text
// reporter; what it never uses is reached only through import() at the point of use.
it('an offline run loads no network client, TLS, crypto, Kubernetes client, task list or YAML writer until one is used', () => {
  const offline = staticClosure(['src/run.ts', 'src/cluster/spool.ts', 'src/report/index.ts', 'src/report/text.ts']);
  expect(offline.has('checks/index.ts')).toBe(true);
  expect(offline.has('src/cluster/manifests.ts')).toBe(true);
  const heavy = [
    'yaml',
    'undici',
    '@kubernetes/client-node',
    'listr2',
    'dns-packet',
    'node:tls',
    'node:crypto',
    'node:https',
    'node:http',
    'node:dns',
    'node:dns/promises',
  ];
  const found: string[] = [];
  for (const [file, input] of staticImportsWithBuiltins)
    if (offline.has(file)) for (const p of input) if (heavy.includes(p)) found.push(`${file} -> ${p}`);
  expect(found).toEqual([]);
});
