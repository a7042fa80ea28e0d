// npm run try-live [-- --fixture NAME] [--istiod | --no-istiod] [--once]
// gwdoctor against a real cluster on this machine, without a cluster of your own: starts the integration suite's
// control plane (etcd + kube-apiserver + kube-controller-manager from scripts/build-controlplane.sh, cached), real
// istiod when it is built (it writes the Gateway/HTTPRoute status, as in a real cluster), loads a fixture scenario
// (default: seed-healthy), runs gwdoctor live once, prints how to run more, and tears it all down on Ctrl-C or exit.
// Bundled and started by scripts/try-live.mjs (the harness is TypeScript with .js import specifiers).

import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { applyScenario, type Applied } from '../test/integration/harness/apply.js';
import { ROOT, startControlPlane, type ControlPlane } from '../test/integration/harness/controlplane.js';
import { buildIstiod, startIstiod, type Istiod } from '../test/integration/harness/istiod.js';

const args = process.argv.slice(2);
const usage = 'usage: npm run try-live -- [--fixture NAME] [--istiod | --no-istiod] [--once]';
const flag = (name: string) => args.includes(name);
const value = (name: string) => {
  const i = args.indexOf(name);
  return i >= 0 ? args[i + 1] : undefined;
};
for (const a of args) {
  if (!['--fixture', '--istiod', '--no-istiod', '--once', '--help', '-h'].includes(a) && a !== value('--fixture')) {
    process.stderr.write(`try-live: unknown argument "${a}"\n${usage}\n`);
    process.exit(3);
  }
}
if (flag('--help') || flag('-h')) {
  process.stdout.write(`${usage}\n  --fixture NAME   the fixtures/ scenario to load (default: seed-healthy)\n  --istiod         build istiod if needed (first build ~5 min) and let it write status\n  --no-istiod      never start istiod: the fixture's own status is written instead\n  --once           run gwdoctor once and tear down (for tests and CI)\n`);
  process.exit(0);
}
const fixture = value('--fixture') ?? 'seed-healthy';
const fixtureDir = join(ROOT, 'fixtures', fixture);
if (!existsSync(join(fixtureDir, 'expect.json'))) {
  const names = readdirSync(join(ROOT, 'fixtures')).filter((n) => existsSync(join(ROOT, 'fixtures', n, 'expect.json')));
  process.stderr.write(`try-live: no fixture "${fixture}" (have: ${names.join(', ')})\n`);
  process.exit(3);
}
const once = flag('--once');
const say = (s: string) => process.stdout.write(`${s}\n`);
const step = (s: string) => process.stderr.write(`[try-live] ${s}\n`);

/** istiod is used when asked, or (by default) when a build of it is already in the cache: a cold build takes minutes. */
function istiodWanted(): boolean {
  if (flag('--no-istiod')) return false;
  if (flag('--istiod')) return true;
  const cache = process.env['GWDOCTOR_TESTBIN_CACHE'] ?? join(process.env['XDG_CACHE_HOME'] ?? join(homedir(), '.cache'), 'gwdoctor-testbin');
  return existsSync(cache) && readdirSync(cache).some((d) => d.startsWith('istiod-') && existsSync(join(cache, d, 'bin', 'pilot-discovery')));
}

let cp: ControlPlane | undefined;
let istiod: Istiod | undefined;
let applied: Applied | undefined;
let down: Promise<void> | undefined;
function teardown(): Promise<void> {
  return (down ??= (async () => {
    step('tearing down...');
    await istiod?.stop().catch(() => undefined);
    await cp?.stop().catch(() => undefined);
    step('stopped; nothing left running');
  })());
}
for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
  process.on(sig, () => {
    void teardown().then(() => process.exit(sig === 'SIGINT' ? 130 : 143));
  });
}

async function main(): Promise<number> {
  const cli = join(ROOT, 'dist', 'bundle', 'cli.js');
  if (!existsSync(cli)) {
    step('building gwdoctor (npm run build)...');
    const b = spawnSync('npm', ['run', 'build'], { cwd: ROOT, stdio: ['ignore', 'ignore', 'inherit'] });
    if (b.status !== 0) throw new Error('npm run build failed');
  }
  const t0 = Date.now();
  step('starting the control plane (first time: builds etcd, kube-apiserver, kube-controller-manager with Go, ~7 min; cached afterwards)...');
  cp = await startControlPlane();
  step(`control plane ready at ${cp.server} in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
  if (istiodWanted()) {
    const t1 = Date.now();
    step('starting istiod (first time: builds it, ~5 min)...');
    istiod = await startIstiod({ home: buildIstiod(), dir: cp.dir, server: cp.server, caFile: cp.caFile });
    step(`istiod ${istiod.version} ready in ${((Date.now() - t1) / 1000).toFixed(1)} s`);
  } else step('istiod: not built (npm run try-live -- --istiod builds it): the fixture\'s own status is written instead');
  step(`loading fixtures/${fixture}${istiod ? ' (istiod writes the status)' : ''}...`);
  applied = await applyScenario(cp.admin, fixtureDir, { status: istiod ? 'istiod' : 'fixture' });
  step(`${applied.objects} objects loaded`);

  const kc = cp.kubeconfig;
  // Offline: the fixture's hosts (example.com) are not this machine's; the cluster layers are what runs live here.
  const demo = ['--kubeconfig', kc, '--offline', '--all', '--internal', 'admin.example.com'];
  say(`\n$ gwdoctor ${demo.join(' ')}`);
  const run = spawnSync(process.execPath, [cli, ...demo], { cwd: ROOT, stdio: ['ignore', 'inherit', 'inherit'], env: { ...process.env } });
  say(`(gwdoctor exited ${run.status})`);
  say(`
${once ? 'With --once the cluster stops now; without it, it keeps running and you can, in another shell:' : 'The cluster keeps running. In another shell:'}

  export KUBECONFIG=${kc}     # contexts: readonly (current, gwdoctor's ClusterRole), admin
  alias gwdoctor="node ${cli}"
  gwdoctor --offline api.example.com worker.example.com
  gwdoctor --offline --internal admin.example.com -o json
  kubectl get gateways,httproutes -A
  kubectl --context admin -n example-api delete referencegrant --all   # break something, then run gwdoctor again
${once ? '' : '\nPress Ctrl-C here to stop everything.'}`);
  if (once) return run.status ?? 70;
  await new Promise(() => undefined); // until a signal
  return 0;
}

main().then(
  async (code) => {
    await teardown();
    process.exit(code);
  },
  async (err: unknown) => {
    process.stderr.write(`try-live: ${(err as Error).message.split('\n').slice(0, 12).join('\n')}\n`);
    await teardown();
    process.exit(1);
  },
);
