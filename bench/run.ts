// npm run bench: ratios measured side by side in one run (the machine is shared: absolute times drift, ratios hold).
//   node bench/run.ts [--runs N] [--full] [--only SECTION,...] [--baseline DIR ...]   (build first: npm run build)
//   --baseline DIR (repeatable): a checkout of an earlier commit, built (DIR/dist/bundle/cli.js); the startup, offline
//   and pertarget sections then run their cases with each build too, interleaved in the same run (before/after,
//   tagged with DIR's name).
//   --full adds N = 100,000 routes. Sections: startup, offline, parse, net (nginx + Envoy stub), live (the real
//   control plane, scripts/build-controlplane.sh), all (--all over 1,000 hosts), mesh (the mesh layer's cost).
//   Default: every section.
// Generated clusters are cached in $TMPDIR/gwdoctor-bench/.

import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { basename, dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { generate } from './gen-cluster.ts';

const root = fileURLToPath(new URL('..', import.meta.url));
const CLI = join(root, 'dist', 'bundle', 'cli.js');
const args = process.argv.slice(2);
const runs = Number(args[args.indexOf('--runs') + 1] || 0) || 7;
const full = args.includes('--full');
const only = args.includes('--only') ? new Set((args[args.indexOf('--only') + 1] ?? '').split(',')) : null;
const section = (name: string) => only === null || only.has(name);
const baselines = args
  .flatMap((a, i) => (a === '--baseline' ? [args[i + 1] ?? ''] : []))
  .map((d) => ({ tag: basename(d.replace(/\/+$/, '')), cli: join(d, 'dist', 'bundle', 'cli.js') }));
const load0 = loadavg();
const cache = join(tmpdir(), 'gwdoctor-bench');
mkdirSync(cache, { recursive: true });
if (!existsSync(CLI)) {
  process.stderr.write('bench: dist/bundle/cli.js is missing: npm run build\n');
  process.exit(3);
}
for (const b of baselines) {
  if (!existsSync(b.cli)) {
    process.stderr.write(`bench: --baseline: ${b.cli} is missing (a checkout built with npm run build)\n`);
    process.exit(3);
  }
}

function cluster(n: number, ext: 'yaml' | 'json', mesh = 0): string {
  const f = join(cache, `cluster-${n}${mesh ? `-mesh${mesh}` : ''}.${ext}`);
  if (!existsSync(f)) {
    process.stderr.write(`generating ${n} routes${mesh ? ` and ${mesh} AuthorizationPolicies` : ''} (${ext})...\n`);
    generate(n, f, mesh);
  }
  return f;
}

/** One command of a case: node (the default) with argv, or another program (curl, kubectl). */
type Step = { cmd?: string; argv: string[]; env?: NodeJS.ProcessEnv };

const PERF =
  existsSync('/usr/bin/perf') &&
  spawnSync('/usr/bin/perf', ['stat', '-x,', '-e', 'task-clock', '--', 'true']).status === 0
    ? '/usr/bin/perf'
    : null;
const perfOut = join(cache, `perf-${process.pid}.txt`);

/**
 * Wall time, CPU time (every thread's, from `perf stat -e task-clock` where it works, else `time`'s user + system at
 * 10 ms resolution) and peak RSS of one process (`time -f %M` where available). CPU time moves less with the load of
 * a shared machine than wall time does: the start-up section gives both ratios.
 */
function measureStep(step: Step): { ms: number; cpuMs: number; rssMB: number; code: number | null } {
  const time = existsSync('/usr/bin/time') ? '/usr/bin/time' : null;
  const cmd = step.cmd ?? process.execPath;
  const env = { ...process.env, NO_COLOR: '1', ...step.env };
  const argv = time ? [time, '-f', '%M %U %S', cmd, ...step.argv] : [cmd, ...step.argv];
  const [exe, ...rest] = PERF ? [PERF, 'stat', '-x,', '-e', 'task-clock', '-o', perfOut, '--', ...argv] : argv;
  const t = performance.now();
  const r = spawnSync(exe as string, rest, { cwd: root, encoding: 'utf8', env, maxBuffer: 256 << 20 });
  const ms = performance.now() - t;
  const m = time ? /(\d+) ([\d.]+) ([\d.]+)\s*$/.exec(r.stderr) : null;
  const kb = m ? Number(m[1]) : NaN;
  const perfMs = PERF ? Number(/^([\d.]+),msec,task-clock/m.exec(readFileSync(perfOut, 'utf8'))?.[1] ?? NaN) : NaN;
  const cpuMs = PERF ? perfMs : m ? (Number(m[2]) + Number(m[3])) * 1000 : NaN;
  const code = r.status;
  return { ms, cpuMs, rssMB: kb / 1024, code };
}

/** A case of several commands (the kubectl walk a person types) takes the sum of their times, the max of their RSS. */
function measure(argv: string[] | Step[]): { ms: number; cpuMs: number; rssMB: number; code: number | null } {
  const steps: Step[] = typeof argv[0] === 'string' ? [{ argv: argv as string[] }] : (argv as Step[]);
  let ms = 0;
  let cpuMs = 0;
  let rssMB = 0;
  let code: number | null = 0;
  for (const s of steps) {
    const m = measureStep(s);
    ms += m.ms;
    cpuMs += m.cpuMs;
    rssMB = Math.max(rssMB, m.rssMB);
    if (m.code !== 0) code = m.code;
  }
  return { ms, cpuMs, rssMB, code };
}

/** The start-up case above as a config file (validated by the precompiled schema, positions from the yaml package). */
function configFile(): string {
  const f = join(cache, 'gwdoctor.yaml');
  writeFileSync(
    f,
    `version: 1\nmanifests: [${JSON.stringify(join(root, 'fixtures', 'seed-healthy'))}]\ngateway: istio-ingress/example-istio-gateway\ntimeout: 30s\n`,
  );
  return f;
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] as number;

/** cpuRatio: the same ratio over CPU time (the start-up section). */
type Row = { name: string; ms: number; rssMB: number; base: string; ratio: number; cpuRatio?: number; note?: string };
const rows: Row[] = [];

/** Interleave the cases (a, b, a, b, ...) so that load on the machine hits them alike. */
function paired(
  cases: { name: string; argv: string[] | Step[] }[],
  n: number,
): Map<string, { ms: number; cpuMs: number; rssMB: number; code: number | null }> {
  const times = new Map<string, number[]>();
  const cpu = new Map<string, number[]>();
  const rss = new Map<string, number[]>();
  const codes = new Map<string, number | null>();
  for (let i = 0; i < n; i++) {
    for (const c of cases) {
      const m = measure(c.argv);
      times.set(c.name, [...(times.get(c.name) ?? []), m.ms]);
      cpu.set(c.name, [...(cpu.get(c.name) ?? []), m.cpuMs]);
      rss.set(c.name, [...(rss.get(c.name) ?? []), m.rssMB]);
      codes.set(c.name, m.code);
    }
  }
  return new Map(
    cases.map((c) => [
      c.name,
      {
        ms: median(times.get(c.name) ?? []),
        cpuMs: median(cpu.get(c.name) ?? []),
        rssMB: Math.max(...(rss.get(c.name) ?? [])),
        code: codes.get(c.name) ?? null,
      },
    ]),
  );
}

// 1. Start-up (with --baseline, each case also with each baseline build: the "before" of a change, same run).
if (section('startup')) {
  const startup = (cli: string, tag: string) => [
    { name: `gwdoctor --version${tag}`, argv: [cli, '--version'] },
    {
      name: `seed manifests, 1 host${tag}`,
      argv: [cli, '-f', 'fixtures/seed-healthy', '--offline', 'api.example.com'],
    },
    {
      name: `the same from gwdoctor.yaml${tag}`,
      argv: [cli, '--config', configFile(), '--offline', 'api.example.com'],
    },
  ];
  const r = paired(
    [
      { name: 'node -e 1', argv: ['-e', '1'] },
      ...baselines.flatMap((b) => startup(b.cli, ` (${b.tag})`)),
      ...startup(CLI, ''),
    ],
    runs * 2,
  );
  const base = r.get('node -e 1')!;
  for (const [name, m] of r)
    rows.push({
      name,
      ms: m.ms,
      rssMB: m.rssMB,
      base: 'node -e 1',
      ratio: m.ms / base.ms,
      cpuRatio: m.cpuMs / base.cpuMs,
      note: `CPU ${m.cpuMs.toFixed(0)} ms`,
    });
}

// 2. Offline, one host and 100 hosts, by cluster size.
if (section('offline')) {
  const sizes = [10, 1_000, 10_000, ...(full ? [100_000] : [])];
  const hosts = (n: number) => Array.from({ length: 100 }, (_, i) => `app-${i % Math.max(1, n)}.example.com`);
  const builds = [...baselines.map((b) => ({ cli: b.cli, tag: ` (${b.tag})` })), { cli: CLI, tag: '' }];
  const cases = sizes.flatMap((n) =>
    builds.flatMap(({ cli, tag }) => [
      {
        name: `offline 1 host, N=${n}${tag}`,
        argv: [cli, '-f', cluster(n, 'yaml'), '--offline', '--timeout', '10m', 'app-1.example.com'],
      },
      {
        name: `offline 100 hosts, N=${n}${tag}`,
        argv: [cli, '-f', cluster(n, 'yaml'), '--offline', '--timeout', '10m', '-o', 'json', ...hosts(n)],
      },
    ]),
  );
  const r = paired(cases, Math.max(1, Math.ceil(runs / 3)));
  const base = r.get('offline 1 host, N=10')!;
  for (const c of cases) {
    const m = r.get(c.name)!;
    rows.push({
      name: c.name,
      ms: m.ms,
      rssMB: m.rssMB,
      base: 'offline 1 host, N=10',
      ratio: m.ms / base.ms,
      ...(m.code !== 0 && m.code !== 1 ? { note: `exit ${m.code}` } : {}),
    });
  }
}

// 3. The parse path vs the parsers alone, in this process, on the same file.
if (section('parse')) {
  const { loadManifests } = (await import(
    join(root, 'dist', 'src', 'cluster', 'manifests.js')
  )) as typeof import('../src/cluster/manifests.ts');
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
  rows.push({
    name: `js-yaml loadAll, ${mb(yamlFile)} MB -o yaml (N=${n})`,
    ms: jy,
    rssMB: NaN,
    base: 'itself',
    ratio: 1,
  });
  rows.push({ name: `loadManifests, same YAML file`, ms: ly, rssMB: NaN, base: 'js-yaml loadAll', ratio: ly / jy });
  // The same objects pretty-printed and on one line (as `jq -c` or an API client writes them), without the
  // last-applied annotation: a line with no backslash was scanned to its end at every string (quadratic, issue 20).
  // Linear reading keeps the one-line file within a small factor of the pretty one (it is 2x smaller).
  const plain = JSON.parse(readFileSync(jsonFile, 'utf8')) as {
    items: { metadata: { managedFields?: unknown; annotations?: Record<string, string> } }[];
  };
  for (const it of plain.items) {
    delete it.metadata.managedFields;
    delete it.metadata.annotations?.['kubectl.kubernetes.io/last-applied-configuration'];
  }
  const prettyFile = join(cache, `cluster-${n}-plain-pretty.json`);
  const oneFile = join(cache, `cluster-${n}-plain-one-line.json`);
  writeFileSync(prettyFile, JSON.stringify(plain, null, 2));
  writeFileSync(oneFile, JSON.stringify(plain));
  const lp = time(() => loadManifests([prettyFile]));
  const lo = time(() => loadManifests([oneFile]));
  rows.push({
    name: `loadManifests, ${mb(prettyFile)} MB JSON pretty-printed (N=${n})`,
    ms: lp,
    rssMB: NaN,
    base: 'itself',
    ratio: 1,
  });
  rows.push({
    name: `loadManifests, the same on one line, ${mb(oneFile)} MB`,
    ms: lo,
    rssMB: NaN,
    base: 'JSON pretty-printed',
    ratio: lo / lp,
  });
}

/** This build and each --baseline build, as directories whose dist/ modules run in this process (pertarget, mesh). */
function inProcessBuilds(): { dir: string; tag: string }[] {
  return [
    ...baselines.map((b) => ({ dir: join(dirname(b.cli), '..', '..'), tag: ` (${b.tag})` })),
    { dir: root, tag: '' },
  ];
}

/** What the in-process sections run of one build: its compiled modules, loaded from its dist/. */
async function inProcessModules(dir: string) {
  const { ManifestCluster } = (await import(
    join(dir, 'dist', 'src', 'cluster', 'manifests.js')
  )) as typeof import('../src/cluster/manifests.ts');
  const { LAYERS } = (await import(join(dir, 'dist', 'checks', 'index.js'))) as typeof import('../checks/index.ts');
  const { offlineEnv, runTarget } = (await import(
    join(dir, 'dist', 'src', 'pipeline.js')
  )) as typeof import('../src/pipeline.ts');
  const { parseTarget } = (await import(join(dir, 'dist', 'src', 'target.js'))) as typeof import('../src/target.ts');
  return { ManifestCluster, LAYERS, offlineEnv, runTarget, parseTarget };
}

// 3b. Per-target work, in process: one snapshot loaded once, then 100 targets on it, CPU time per target (the
//     100 hosts - 1 host difference of the offline section is within its run-to-run noise at N=10,000). With
//     --baseline, each baseline build's modules too, in the same process, their rounds interleaved with this build's.
if (section('pertarget')) {
  const builds = inProcessBuilds();
  const setups = await Promise.all(
    builds.map(async ({ dir, tag }) => {
      const { ManifestCluster, LAYERS, offlineEnv, runTarget, parseTarget } = await inProcessModules(dir);
      /** One round of 100 targets on a snapshot of N routes loaded once: CPU ms per target. */
      const rounds = async (n: number) => {
        const snap = ManifestCluster.fromPaths([cluster(n, 'yaml')]);
        const env = offlineEnv(snap, { signal: AbortSignal.timeout(600_000) });
        const hosts = Array.from({ length: 100 }, (_, i) => `app-${i % n}.example.com`);
        const one = (h: string) => runTarget(LAYERS, parseTarget(h), env, { until: null, intervalMs: 0 });
        await one('app-0.example.com'); // warm: the JIT and the snapshot's indexes, built once per run
        return async () => {
          const t = process.cpuUsage();
          for (const h of hosts) await one(h);
          const d = process.cpuUsage(t);
          return (d.user + d.system) / 1000 / hosts.length;
        };
      };
      return { tag, rounds };
    }),
  );
  const perTarget = async (n: number): Promise<number[]> => {
    const rs = [];
    for (const s of setups) rs.push(await s.rounds(n));
    const xs: number[][] = setups.map(() => []);
    for (let r = 0; r < Math.max(3, runs); r++) for (const [i, round] of rs.entries()) xs[i]!.push(await round());
    return xs.map(median);
  };
  const base = await perTarget(10);
  for (const [i, s] of setups.entries())
    rows.push({
      name: `CPU per target, N=10 (in process, warm)${s.tag}`,
      ms: base[i]!,
      rssMB: NaN,
      base: 'itself',
      ratio: 1,
    });
  for (const n of [1_000, 10_000]) {
    const ms = await perTarget(n);
    for (const [i, s] of setups.entries())
      rows.push({
        name: `CPU per target, N=${n}${s.tag}`,
        ms: ms[i]!,
        rssMB: NaN,
        base: `CPU per target, N=10${s.tag}`,
        ratio: ms[i]! / base[i]!,
      });
  }
}

// 3c. The mesh layer's cost: the same 1,000-route dump with 1,000 AuthorizationPolicies (plus a PeerAuthentication and
//     a DestinationRule per namespace), every layer vs every layer but mesh, CPU per target in process (with
//     --baseline, each baseline build's too, rounds interleaved); and the CLI's wall time on that dump vs the dump
//     without mesh objects (where the layer is "not checked").
if (section('mesh')) {
  // With --baseline, each baseline build's modules too, in the same process, their rounds interleaved with this build's.
  const builds = inProcessBuilds();
  const n = 1_000;
  const hosts = Array.from({ length: 100 }, (_, i) => `app-${i}.example.com`);
  const setups = await Promise.all(
    builds.map(async ({ dir, tag }) => {
      const { ManifestCluster, LAYERS, offlineEnv, runTarget, parseTarget } = await inProcessModules(dir);
      const snap = ManifestCluster.fromPaths([cluster(n, 'yaml', 1_000)]);
      const env = offlineEnv(snap, { signal: AbortSignal.timeout(600_000) });
      /** One round of 100 targets with `layers`: CPU ms per target (after a warm target that must pass). */
      const rounds = async (layers: typeof LAYERS) => {
        const one = (h: string) => runTarget(layers, parseTarget(h), env, { until: null, intervalMs: 0 });
        const first = await one('app-0.example.com');
        // Every other layer that runs passes and the mesh layer runs: the dump's DestinationRules (ISTIO_MUTUAL to
        // backends outside the mesh) give DestinationRuleTlsMismatch, found after the layer's whole judgement.
        const ranTo = first.layers.filter((l) => l.id !== 'mesh' && l.status !== 'skip');
        if (ranTo.some((l) => l.status !== 'pass') || first.layers.some((l) => l.id === 'mesh' && l.status === 'skip'))
          throw new Error(
            `mesh bench: app-0.example.com is ${first.verdict}: ${JSON.stringify(first.layers.map((l) => [l.id, l.code]))}`,
          );
        return async () => {
          const t = process.cpuUsage();
          for (const h of hosts) await one(h);
          const d = process.cpuUsage(t);
          return (d.user + d.system) / 1000 / hosts.length;
        };
      };
      return {
        tag,
        without: await rounds(LAYERS.filter((l) => l.id !== 'mesh')),
        with: await rounds(LAYERS),
      };
    }),
  );
  const xs = setups.map(() => ({ without: [] as number[], with: [] as number[] }));
  for (let r = 0; r < Math.max(3, runs); r++)
    for (const [i, s] of setups.entries()) {
      xs[i]!.without.push(await s.without());
      xs[i]!.with.push(await s.with());
    }
  for (const [i, s] of setups.entries()) {
    const without = median(xs[i]!.without);
    const withMesh = median(xs[i]!.with);
    rows.push({
      name: `CPU per target, N=1000 + 1000 APs, no mesh layer${s.tag}`,
      ms: without,
      rssMB: NaN,
      base: 'itself',
      ratio: 1,
    });
    rows.push({
      name: `the same with the mesh layer${s.tag}`,
      ms: withMesh,
      rssMB: NaN,
      base: `no mesh layer${s.tag}`,
      ratio: withMesh / without,
    });
  }
  const r = paired(
    [
      {
        name: 'offline 1 host, N=1000, no mesh objects',
        argv: [CLI, '-f', cluster(n, 'yaml'), '--offline', 'app-1.example.com'],
      },
      {
        name: 'offline 1 host, N=1000 + 1000 APs',
        argv: [CLI, '-f', cluster(n, 'yaml', 1_000), '--offline', 'app-1.example.com'],
      },
    ],
    Math.max(1, Math.ceil(runs / 2)),
  );
  const base = r.get('offline 1 host, N=1000, no mesh objects')!;
  for (const [name, m] of r)
    rows.push({
      name,
      ms: m.ms,
      rssMB: m.rssMB,
      base: 'no mesh objects',
      ratio: m.ms / base.ms,
      ...(m.code !== 0 ? { note: `exit ${m.code}` } : {}),
    });
}

const verdicts = (argv: string[], env: NodeJS.ProcessEnv = {}): string => {
  const r = spawnSync(process.execPath, [...argv, '-o', 'json'], {
    cwd: root,
    encoding: 'utf8',
    env: { ...process.env, NO_COLOR: '1', ...env },
    maxBuffer: 256 << 20,
  });
  try {
    const v = (
      JSON.parse(r.stdout) as { targets: { verdict: string; layers: { id: string; status: string }[] }[] }
    ).targets.map((t) => t.layers.map((l) => `${l.id}:${l.status}`).join(' '));
    return [...new Set(v)].join(' | ');
  } catch {
    return `exit ${r.status}: ${r.stderr.split('\n')[0]}`;
  }
};

// 4. Networked vs offline: one target through real nginx (TLS) and the Envoy stub, against the same manifests with
//    --offline, and curl to the same proxy as the floor; 20 targets on one host vs one.
if (section('net')) {
  await import('./ts-hooks.ts');
  const { startNet } = await import('./peers.ts');
  const net = await startNet();
  if (typeof net === 'string') process.stderr.write(`bench: net skipped: ${net}\n`);
  else {
    try {
      const base = [
        CLI,
        '-f',
        net.manifests,
        '--resolver',
        net.resolver,
        '--ca-file',
        net.caFile,
        '--port',
        String(net.port),
      ];
      const env = { GWDOCTOR_RESOLV_CONF: net.resolvConf };
      const paths = Array.from({ length: 20 }, (_, i) => `https://api.example.com/p${i}`);
      process.stderr.write(`net: one target: ${verdicts([...base, 'https://api.example.com/'], env)}\n`);
      const cases = [
        {
          name: 'curl https://api.example.com (nginx)',
          argv: [
            {
              cmd: 'curl',
              argv: [
                '-sS',
                '--noproxy',
                '*',
                '-o',
                '/dev/null',
                '--resolve',
                `api.example.com:${net.port}:127.0.0.1`,
                '--cacert',
                net.caFile,
                `https://api.example.com:${net.port}/`,
              ],
            },
          ],
        },
        {
          name: 'offline 1 target, same manifests',
          argv: [CLI, '-f', net.manifests, '--offline', 'https://api.example.com/'],
        },
        { name: 'networked 1 target (nginx+envoy)', argv: [{ argv: [...base, 'https://api.example.com/'], env }] },
        { name: 'networked 20 targets, one host', argv: [{ argv: [...base, ...paths], env }] },
      ];
      const r = paired(cases, runs);
      const curl = r.get(cases[0]!.name)!;
      const off = r.get(cases[1]!.name)!;
      const one = r.get(cases[2]!.name)!;
      rows.push({ name: cases[0]!.name, ms: curl.ms, rssMB: curl.rssMB, base: 'itself', ratio: 1 });
      rows.push({ name: cases[1]!.name, ms: off.ms, rssMB: off.rssMB, base: 'curl', ratio: off.ms / curl.ms });
      rows.push({
        name: cases[2]!.name,
        ms: one.ms,
        rssMB: one.rssMB,
        base: 'offline 1 target',
        ratio: one.ms / off.ms,
        note: `${(one.ms - off.ms).toFixed(0)} ms for dns+proxy`,
      });
      const many = r.get(cases[3]!.name)!;
      rows.push({
        name: cases[3]!.name,
        ms: many.ms,
        rssMB: many.rssMB,
        base: 'networked 1 target',
        ratio: many.ms / one.ms,
      });
    } finally {
      await net.stop();
    }
  }
}

// 5. --all over 1,000 hosts vs one host, offline (the same 1,000-route dump).
if (section('all')) {
  const f = cluster(1_000, 'yaml');
  const cases = [
    { name: 'offline 1 host, N=1000', argv: [CLI, '-f', f, '--offline', '--timeout', '10m', 'app-1.example.com'] },
    {
      name: 'offline --all (1000 hosts), N=1000',
      argv: [CLI, '-f', f, '--offline', '--timeout', '10m', '--all', '-o', 'json'],
    },
  ];
  const r = paired(cases, Math.max(1, Math.ceil(runs / 3)));
  const one = r.get(cases[0]!.name)!;
  const all = r.get(cases[1]!.name)!;
  rows.push({ name: cases[0]!.name, ms: one.ms, rssMB: one.rssMB, base: 'itself', ratio: 1 });
  rows.push({
    name: cases[1]!.name,
    ms: all.ms,
    rssMB: all.rssMB,
    base: 'offline 1 host, N=1000',
    ratio: all.ms / one.ms,
    ...(all.code !== 0 && all.code !== 1 ? { note: `exit ${all.code}` } : {}),
  });
}

// 6. Live on the real control plane: one host vs the kubectl walk a person would type (and vs one
//    `kubectl get httproutes -A -o json`), at 10 and 1,000 generated routes; --all over 1,000 hosts vs one host.
//    Both sides keep their discovery cache warm (kubectl's in $HOME/.kube/cache, gwdoctor's in $XDG_CACHE_HOME).
if (section('live')) {
  await import('./ts-hooks.ts');
  const { startLive } = await import('./peers.ts');
  const kubectl = ['/usr/bin/kubectl', '/usr/local/bin/kubectl'].find((p) => existsSync(p));
  const live = await startLive();
  if (typeof live === 'string') process.stderr.write(`bench: live skipped: ${live}\n`);
  else if (!kubectl) {
    process.stderr.write('bench: live skipped: no kubectl\n');
    await live.stop();
  } else {
    const home = mkdtempSync(join(tmpdir(), 'gwdoctor-bench-home-'));
    const env = { HOME: home, XDG_CACHE_HOME: home, KUBECONFIG: live.kubeconfig };
    try {
      for (const n of [10, 1_000]) {
        process.stderr.write(`live: loading ${n} routes...\n`);
        await live.loadTo(n);
        const host = 'app-1';
        const ns = 'team-1';
        const k = (...a: string[]): Step => ({ cmd: kubectl, argv: [...a, '-o', 'json'], env });
        const walk: Step[] = [
          k('get', 'httproutes', '-A'),
          k('get', 'gateway', '-n', 'istio-ingress', 'example-istio-gateway'),
          k('get', 'referencegrants', '-n', ns),
          k('get', 'service', '-n', ns, host),
          k('get', 'endpointslices', '-n', ns, '-l', `kubernetes.io/service-name=${host}`),
          k('get', 'pods', '-n', ns, '-l', `app.kubernetes.io/name=${host}`),
        ];
        const one = [CLI, '--offline', `${host}.example.com`];
        process.stderr.write(`live N=${n}: ${verdicts(one, env)}\n`);
        const cases = [
          { name: `kubectl walk (6 gets), N=${n}`, argv: walk },
          { name: `kubectl get httproutes -A, N=${n}`, argv: [walk[0]!] },
          { name: `live 1 host, N=${n}`, argv: [{ argv: one, env }] },
          ...(n >= 1_000
            ? [
                {
                  name: `live --all (${n} hosts), N=${n}`,
                  argv: [{ argv: [CLI, '--offline', '--all', '--timeout', '10m', '-o', 'json'], env }],
                },
              ]
            : []),
        ];
        measure(cases[2]!.argv as Step[]); // warm both discovery caches
        measure(walk);
        const r = paired(cases, runs);
        const w = r.get(cases[0]!.name)!;
        const g = r.get(cases[1]!.name)!;
        const l = r.get(cases[2]!.name)!;
        rows.push({ name: cases[0]!.name, ms: w.ms, rssMB: w.rssMB, base: 'itself', ratio: 1 });
        rows.push({ name: cases[1]!.name, ms: g.ms, rssMB: g.rssMB, base: 'itself', ratio: 1 });
        rows.push({
          name: `${cases[2]!.name} (vs walk)`,
          ms: l.ms,
          rssMB: l.rssMB,
          base: 'kubectl walk',
          ratio: l.ms / w.ms,
        });
        rows.push({
          name: `${cases[2]!.name} (vs 1 get)`,
          ms: l.ms,
          rssMB: l.rssMB,
          base: 'kubectl get httproutes',
          ratio: l.ms / g.ms,
        });
        if (cases[3]) {
          const a = r.get(cases[3].name)!;
          rows.push({
            name: cases[3].name,
            ms: a.ms,
            rssMB: a.rssMB,
            base: `live 1 host, N=${n}`,
            ratio: a.ms / l.ms,
            ...(a.code !== 0 && a.code !== 1 ? { note: `exit ${a.code}` } : {}),
          });
        }
      }
    } finally {
      await live.stop();
      rmSync(home, { recursive: true, force: true });
    }
  }
}

// The config schema: compiled by ajv at start-up (what precompiling avoids) vs the generated validator, per run.
if (section('config')) {
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
  rows.push({
    name: 'import the precompiled config validator',
    ms: gen,
    rssMB: NaN,
    base: 'ajv compile',
    ratio: gen / median(xs),
  });
}

const pad = (s: string, n: number) => s.padEnd(n);
const lpad = (s: string, n: number) => s.padStart(n);
const load1 = loadavg();
process.stdout.write(
  `node ${process.version}, ${runs} runs (medians; peak RSS = max), ${new Date().toISOString()}, load average ${load0.map((x) => x.toFixed(2)).join(' ')} at the start, ${load1.map((x) => x.toFixed(2)).join(' ')} at the end\n\n`,
);
process.stdout.write(
  `| ${pad('case', 44)} | ${lpad('ms', 9)} | ${lpad('peak RSS MB', 11)} | ${pad('vs', 22)} | ${lpad('ratio', 7)} |\n`,
);
process.stdout.write(`|${'-'.repeat(46)}|${'-'.repeat(11)}|${'-'.repeat(13)}|${'-'.repeat(24)}|${'-'.repeat(9)}|\n`);
for (const r of rows) {
  process.stdout.write(
    `| ${pad(r.name + (r.note ? ` (${r.note})` : ''), 44)} | ${lpad(r.ms.toFixed(r.ms < 10 ? 2 : 0), 9)} | ${lpad(Number.isNaN(r.rssMB) ? '' : r.rssMB.toFixed(0), 11)} | ${pad(r.base, 22)} | ${lpad(`${r.ratio.toFixed(2)}x`, 7)} |${r.cpuRatio === undefined ? '' : ` ${r.cpuRatio.toFixed(2)}x CPU |`}\n`,
  );
}
rmSync(perfOut, { force: true });
