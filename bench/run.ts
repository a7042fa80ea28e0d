// npm run bench: ratios measured side by side in one run (the machine is shared: absolute times drift, ratios hold).
//   node bench/run.ts [--runs N] [--full]     (build first: npm run build; --full adds N = 100,000 routes)
// Generated clusters are cached in $TMPDIR/gwdoctor-bench/.

import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { generate } from './gen-cluster.ts';

const root = fileURLToPath(new URL('..', import.meta.url));
const CLI = join(root, 'dist', 'bundle', 'cli.js');
const args = process.argv.slice(2);
const runs = Number(args[args.indexOf('--runs') + 1] || 0) || 7;
const full = args.includes('--full');
const cache = join(tmpdir(), 'gwdoctor-bench');
mkdirSync(cache, { recursive: true });
if (!existsSync(CLI)) {
  process.stderr.write('bench: dist/bundle/cli.js is missing: npm run build\n');
  process.exit(3);
}

function cluster(n: number, ext: 'yaml' | 'json'): string {
  const f = join(cache, `cluster-${n}.${ext}`);
  if (!existsSync(f)) {
    process.stderr.write(`generating ${n} routes (${ext})...\n`);
    generate(n, f);
  }
  return f;
}

/** Wall time and peak RSS of one process (peak RSS from /proc of the child: `time -f %M` where available). */
function measure(argv: string[]): { ms: number; rssMB: number; code: number | null } {
  const time = existsSync('/usr/bin/time') ? '/usr/bin/time' : null;
  const t = performance.now();
  const r = time
    ? spawnSync(time, ['-f', '%M', process.execPath, ...argv], { cwd: root, encoding: 'utf8', env: { ...process.env, NO_COLOR: '1' }, maxBuffer: 256 << 20 })
    : spawnSync(process.execPath, argv, { cwd: root, encoding: 'utf8', env: { ...process.env, NO_COLOR: '1' }, maxBuffer: 256 << 20 });
  const ms = performance.now() - t;
  const kb = time ? Number(/(\d+)\s*$/.exec(r.stderr)?.[1] ?? NaN) : NaN;
  const code = r.status;
  return { ms, rssMB: kb / 1024, code };
}

/** The start-up case above as a config file (validated by the precompiled schema, positions from the yaml package). */
function configFile(): string {
  const f = join(cache, 'gwdoctor.yaml');
  writeFileSync(f, `version: 1\nmanifests: [${JSON.stringify(join(root, 'fixtures', 'seed-healthy'))}]\ngateway: istio-ingress/example-istio-gateway\ntimeout: 30s\n`);
  return f;
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] as number;

type Row = { name: string; ms: number; rssMB: number; base: string; ratio: number; note?: string };
const rows: Row[] = [];

/** Interleave the cases (a, b, a, b, ...) so that load on the machine hits them alike. */
function paired(cases: { name: string; argv: string[] }[], n: number): Map<string, { ms: number; rssMB: number; code: number | null }> {
  const times = new Map<string, number[]>();
  const rss = new Map<string, number[]>();
  const codes = new Map<string, number | null>();
  for (let i = 0; i < n; i++) {
    for (const c of cases) {
      const m = measure(c.argv);
      times.set(c.name, [...(times.get(c.name) ?? []), m.ms]);
      rss.set(c.name, [...(rss.get(c.name) ?? []), m.rssMB]);
      codes.set(c.name, m.code);
    }
  }
  return new Map(cases.map((c) => [c.name, { ms: median(times.get(c.name) ?? []), rssMB: Math.max(...(rss.get(c.name) ?? [])), code: codes.get(c.name) ?? null }]));
}

// 1. Start-up.
{
  const r = paired(
    [
      { name: 'node -e 1', argv: ['-e', '1'] },
      { name: 'gwdoctor --version', argv: [CLI, '--version'] },
      { name: 'seed manifests, 1 host', argv: [CLI, '-f', 'fixtures/seed-healthy', '--offline', 'api.example.com'] },
      { name: 'the same from gwdoctor.yaml', argv: [CLI, '--config', configFile(), '--offline', 'api.example.com'] },
    ],
    runs * 2,
  );
  const base = r.get('node -e 1')!;
  for (const [name, m] of r) rows.push({ name, ms: m.ms, rssMB: m.rssMB, base: 'node -e 1', ratio: m.ms / base.ms });
}

// 2. Offline, one host and 100 hosts, by cluster size.
{
  const sizes = [10, 1_000, 10_000, ...(full ? [100_000] : [])];
  const hosts = (n: number) => Array.from({ length: 100 }, (_, i) => `app-${i % Math.max(1, n)}.example.com`);
  const cases = sizes.flatMap((n) => [
    { name: `offline 1 host, N=${n}`, argv: [CLI, '-f', cluster(n, 'yaml'), '--offline', '--timeout', '10m', 'app-1.example.com'] },
    { name: `offline 100 hosts, N=${n}`, argv: [CLI, '-f', cluster(n, 'yaml'), '--offline', '--timeout', '10m', '-o', 'json', ...hosts(n)] },
  ]);
  const r = paired(cases, Math.max(1, Math.ceil(runs / 3)));
  const base = r.get('offline 1 host, N=10')!;
  for (const c of cases) {
    const m = r.get(c.name)!;
    rows.push({ name: c.name, ms: m.ms, rssMB: m.rssMB, base: 'offline 1 host, N=10', ratio: m.ms / base.ms, ...(m.code !== 0 && m.code !== 1 ? { note: `exit ${m.code}` } : {}) });
  }
}

// 3. The parse path vs the parsers alone, in this process, on the same file.
{
  const { loadManifests } = (await import(join(root, 'dist', 'src', 'cluster', 'manifests.js'))) as typeof import('../src/cluster/manifests.ts');
  const { loadAll } = await import('js-yaml');
  const n = 1_000;
  const yamlFile = cluster(n, 'yaml');
  const jsonFile = cluster(n, 'json');
  const time = (f: () => unknown) => {
    const xs: number[] = [];
    for (let i = 0; i < Math.max(3, Math.ceil(runs / 2)); i++) {
      const t = performance.now();
      f();
      xs.push(performance.now() - t);
    }
    return median(xs);
  };
  const jp = time(() => JSON.parse(readFileSync(jsonFile, 'utf8')));
  const lj = time(() => loadManifests([jsonFile]));
  const jy = time(() => loadAll(readFileSync(yamlFile, 'utf8')));
  const ly = time(() => loadManifests([yamlFile]));
  const mb = (f: string) => (statSync(f).size / 1e6).toFixed(1);
  rows.push({ name: `JSON.parse, ${mb(jsonFile)} MB -o json (N=${n})`, ms: jp, rssMB: NaN, base: 'itself', ratio: 1 });
  rows.push({ name: `loadManifests, same JSON file`, ms: lj, rssMB: NaN, base: 'JSON.parse', ratio: lj / jp });
  rows.push({ name: `js-yaml loadAll, ${mb(yamlFile)} MB -o yaml (N=${n})`, ms: jy, rssMB: NaN, base: 'itself', ratio: 1 });
  rows.push({ name: `loadManifests, same YAML file`, ms: ly, rssMB: NaN, base: 'js-yaml loadAll', ratio: ly / jy });
}

// 4. The config schema: compiled by ajv at start-up (what precompiling avoids) vs the generated validator, per run.
{
  const { Ajv2020 } = await import('ajv/dist/2020.js');
  const schema = JSON.parse(readFileSync(join(root, 'schema', 'config.v1.json'), 'utf8'));
  const xs: number[] = [];
  for (let i = 0; i < Math.max(3, runs); i++) {
    const t = performance.now();
    new Ajv2020({ allErrors: true, strict: true, allowUnionTypes: true, verbose: true }).compile(schema);
    xs.push(performance.now() - t);
  }
  const t = performance.now();
  await import(join(root, 'dist', 'src', 'config-validator.generated.js'));
  const gen = performance.now() - t;
  rows.push({ name: 'ajv compile schema/config.v1.json', ms: median(xs), rssMB: NaN, base: 'itself', ratio: 1 });
  rows.push({ name: 'import the precompiled config validator', ms: gen, rssMB: NaN, base: 'ajv compile', ratio: gen / median(xs) });
}

const pad = (s: string, n: number) => s.padEnd(n);
const lpad = (s: string, n: number) => s.padStart(n);
process.stdout.write(`node ${process.version}, ${runs} runs (medians; peak RSS = max), ${new Date().toISOString()}\n\n`);
process.stdout.write(`| ${pad('case', 44)} | ${lpad('ms', 9)} | ${lpad('peak RSS MB', 11)} | ${pad('vs', 22)} | ${lpad('ratio', 7)} |\n`);
process.stdout.write(`|${'-'.repeat(46)}|${'-'.repeat(11)}|${'-'.repeat(13)}|${'-'.repeat(24)}|${'-'.repeat(9)}|\n`);
for (const r of rows) {
  process.stdout.write(
    `| ${pad(r.name + (r.note ? ` (${r.note})` : ''), 44)} | ${lpad(r.ms.toFixed(0), 9)} | ${lpad(Number.isNaN(r.rssMB) ? '' : r.rssMB.toFixed(0), 11)} | ${pad(r.base, 22)} | ${lpad(`${r.ratio.toFixed(2)}x`, 7)} |\n`,
  );
}
