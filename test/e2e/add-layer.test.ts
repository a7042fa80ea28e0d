// "Adding a layer touches the layer's file, the registry and the index only" (CONTRIBUTING.md), shown by doing it: a
// copy of the sources gets a ninth layer, `nodes` (a cluster layer between mesh and dataplane that reads the Nodes and
// fails with a code of its own when there are none), by writing checks/nodes.ts and adding one entry to
// src/registry.ts (the layer and its code) and one line to checks/index.ts. Then `npm run docs` (which typechecks
// and builds the copy, and regenerates the README and the schema), and the copy's own registry and layer-graph tests
// (the README, the schema and the declared inputs against the scenario corpus) pass, and the copy's CLI runs the new
// layer in its place: in the JSON (valid against the regenerated schema), the text, the HTML and an --internal host.

import { execFileSync, spawnSync } from 'node:child_process';
import { cpSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Ajv2020 } from 'ajv/dist/2020.js';
import addFormats from 'ajv-formats';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse, stringify } from 'yaml';
import { ROOT } from '../helpers/cli.js';

const LAYER_FILE = `// The nodes layer (a layer added by test/e2e/add-layer.test.ts): the cluster has a Node to run the gateway on.
import { emit, pass } from '../src/findings.js';
import { clusterLayer } from '../src/layer.js';
import { layerMeta } from '../src/registry.js';
import type { Node } from '../src/cluster/objects.js';

function judgeNodes(this: { id: 'nodes'; title: string }, nodes: Node[]) {
  return nodes.length === 0
    ? emit(this, 'NodesNone', 'the cluster has no Node')
    : pass(this, \`\${nodes.length} Node(s)\`);
}

export const nodes = clusterLayer(layerMeta('nodes'), (p) => p.settle((v) => v.nodes()), judgeNodes);
`;

const REGISTRY_ENTRY = `  {
    id: 'nodes',
    title: 'the cluster has a Node',
    heading: 'Nodes layer',
    lane: 'cluster',
    after: ['mesh'],
    needs: ['cluster'],
    inputs: ['Node'],
    couldNotLook: 'ClusterUnreachable',
    readme: 'the cluster has a Node to run the gateway on',
    hop: 'Nodes',
  },
`;
const CODE_ENTRY = `  NodesNone: {
    layer: 'nodes',
    severity: 'fail',
    retryable: false,
    doc: \`The cluster has no Node. Fix: add a Node.\`,
  },
`;

let dir: string;
let docs: ReturnType<typeof sh>;
const sh = (cmd: string, args: string[]) =>
  spawnSync(cmd, args, { cwd: dir, encoding: 'utf8', env: { ...process.env, NO_COLOR: '1' }, timeout: 600_000 });

/** Insert `text` before the first `anchor` after `after` in a file of the copy. */
function insertBefore(file: string, after: string, anchor: string, text: string): void {
  const path = join(dir, file);
  const s = readFileSync(path, 'utf8');
  const at = s.indexOf(anchor, s.indexOf(after));
  if (s.indexOf(after) < 0 || at < 0) throw new Error(`${file}: no ${anchor} after ${after}`);
  writeFileSync(path, s.slice(0, at) + text + s.slice(at));
}

describe('adding a layer: its file, the registry, the index', () => {
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'gwd-add-layer-'));
    for (const p of [
      'src',
      'checks',
      'scripts',
      'schema',
      'test',
      'fixtures',
      'README.md',
      'package.json',
      'tsconfig.json',
      'tsconfig.test.json',
      'vitest.config.ts',
    ])
      cpSync(join(ROOT, p), join(dir, p), { recursive: true });
    symlinkSync(join(ROOT, 'node_modules'), join(dir, 'node_modules'), 'dir');
    execFileSync('git', ['init', '-q'], { cwd: dir });
    execFileSync('git', ['add', '-A'], { cwd: dir });
    execFileSync('git', ['-c', 'user.name=t', '-c', 'user.email=t@t', 'commit', '-qm', 'before'], { cwd: dir });

    // The three files.
    writeFileSync(join(dir, 'checks', 'nodes.ts'), LAYER_FILE);
    const reg = readFileSync(join(dir, 'src/registry.ts'), 'utf8');
    const dp = reg.lastIndexOf('  {\n', reg.indexOf("    id: 'dataplane',"));
    writeFileSync(
      join(dir, 'src/registry.ts'),
      reg.slice(0, dp) + REGISTRY_ENTRY + reg.slice(dp).replace("    after: ['mesh'],", "    after: ['nodes'],"),
    );
    insertBefore(
      'src/registry.ts',
      'export const CODES = {',
      '} as const satisfies Record<string, CodeInfo>;',
      CODE_ENTRY,
    );
    const index = join(dir, 'checks', 'index.ts');
    writeFileSync(
      index,
      readFileSync(index, 'utf8')
        .replace(
          "import { mesh } from './mesh.js';",
          "import { mesh } from './mesh.js';\nimport { nodes } from './nodes.js';",
        )
        .replace('mesh, dataplane]', 'mesh, nodes, dataplane]'),
    );
    // Builds the copy (tsc, then the bundle) and regenerates its README sections and schema.
    docs = sh('npm', ['run', 'docs']);
  }, 600_000);
  afterAll(() => {
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('typechecks, builds and regenerates the docs with nothing else changed by hand', () => {
    expect(docs.status, docs.stderr + docs.stdout).toBe(0);
    const tc = sh('npx', ['tsc', '-p', 'tsconfig.test.json']);
    expect(tc.status, tc.stdout).toBe(0);
    const changed = execFileSync('git', ['status', '--porcelain'], { cwd: dir, encoding: 'utf8' })
      .split('\n')
      .filter((l) => l && !l.includes('dist/'))
      .map((l) => l.slice(3))
      .sort();
    // Written by hand: the layer's file, the registry, the index. Generated by npm run docs: README.md, the schema.
    expect(changed).toEqual([
      'README.md',
      'checks/index.ts',
      'checks/nodes.ts',
      'schema/report.v3.json',
      'src/registry.ts',
    ]);
    const readme = readFileSync(join(dir, 'README.md'), 'utf8');
    expect(readme).toContain('| `nodes` | the cluster has a Node to run the gateway on |');
    expect(readme).toContain('#### NodesNone');
    expect(readme).toContain('| `grant`, `endpoints`, `mesh`, `nodes`, `dataplane` | not checked');
  }, 600_000);

  it("passes the copy's own registry and layer-graph tests (README, schema, inputs over the scenario corpus)", () => {
    const r = sh(join(dir, 'node_modules', '.bin', 'vitest'), [
      'run',
      '--project',
      'unit',
      'test/unit/registry.test.ts',
      'test/unit/layer-graph.test.ts',
    ]);
    expect(r.status, r.stdout.slice(-4000)).toBe(0);
    expect(r.stdout).toMatch(/Test Files {2}2 passed/);
  }, 600_000);

  it('runs the new layer in its place: JSON valid against the new schema, text, HTML, --internal', () => {
    const cli = join(dir, 'dist', 'src', 'cli.js');
    const run = (args: string[]) => sh(process.execPath, [cli, '--offline', ...args]);
    const schema = JSON.parse(readFileSync(join(dir, 'schema', 'report.v3.json'), 'utf8'));
    const ajv = new Ajv2020({ allErrors: true, strict: true });
    addFormats.default(ajv);
    const valid = ajv.compile(schema);

    const ok = run(['--manifests', 'fixtures/seed-healthy', 'api.example.com', '-o', 'json']);
    const report = JSON.parse(ok.stdout);
    expect(valid(report), JSON.stringify(valid.errors)).toBe(true);
    const layers = report.targets[0].layers as { id: string; status: string; facts: { skipped?: object } }[];
    expect(layers.map((l) => l.id)).toEqual([
      'dns',
      'proxy',
      'listener',
      'route',
      'grant',
      'endpoints',
      'mesh',
      'nodes',
      'dataplane',
    ]);
    expect(layers[7]).toMatchObject({ id: 'nodes', status: 'pass' });

    // No Node: the new layer fails with its code, and the layer declared after it is stopped by it.
    const seed = parse(readFileSync(join(dir, 'fixtures', 'seed-healthy', 'cluster.yaml'), 'utf8')) as {
      items: { kind: string }[];
    };
    const noNode = { ...seed, items: seed.items.filter((o) => o.kind !== 'Node') };
    expect(noNode.items.length).toBe(seed.items.length - 1);
    cpSync(join(dir, 'fixtures', 'seed-healthy'), join(dir, 'no-node'), { recursive: true });
    writeFileSync(join(dir, 'no-node', 'cluster.yaml'), stringify(noNode));
    const bad = run(['--manifests', 'no-node', 'api.example.com', '-o', 'json']);
    expect(bad.status).toBe(1);
    const failed = JSON.parse(bad.stdout);
    expect(valid(failed), JSON.stringify(valid.errors)).toBe(true);
    expect(failed.targets[0]).toMatchObject({ verdict: 'fail', failedLayer: 'nodes' });
    expect(failed.targets[0].layers[7]).toMatchObject({ status: 'fail', code: 'NodesNone' });
    expect(failed.targets[0].layers[8].facts.skipped).toEqual({ reason: 'stopped', after: 'nodes' });
    const text = run(['--manifests', 'no-node', 'api.example.com']);
    expect(text.stdout).toContain('[NodesNone]');

    const html = run(['--manifests', 'no-node', 'api.example.com', '-o', 'html']).stdout;
    expect(html).toContain('data-layer="nodes"');
    expect(html).toContain('<div class="name">Nodes</div>');
    expect(html).toContain('repeat(9, minmax(0, 1fr))');

    // An --internal host: the new layer does not apply to it (no judge of its own for internal hosts).
    const internal = JSON.parse(
      run(['--manifests', 'fixtures/seed-healthy', '--internal', 'admin.example.com', '-o', 'json']).stdout,
    );
    expect(valid(internal), JSON.stringify(valid.errors)).toBe(true);
    expect(internal.targets[0].layers[7]).toMatchObject({
      id: 'nodes',
      status: 'skip',
      facts: { skipped: { reason: 'internal' } },
    });
  }, 120_000);
});
