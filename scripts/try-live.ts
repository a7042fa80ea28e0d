// npm run try-live [-- --fixture NAME | --manifests DIR] [--istiod | --no-istiod] [--envoy] [--once [HOST...] [-o json]]
// gwdoctor against a real cluster on this machine, without a cluster of your own: starts the integration suite's
// control plane (etcd + kube-apiserver + kube-controller-manager from scripts/build-controlplane.sh, cached), real
// istiod when it is built (it writes the Gateway/HTTPRoute status, as in a real cluster), loads a fixture scenario
// (default: seed-healthy) or any directory of manifests, runs gwdoctor live once, prints how to run more, and tears it
// all down on Ctrl-C or exit. With --envoy, a real upstream Envoy per gateway Pod, configured by that istiod, serves the
// scenario on loopback (test/integration/harness/envoy.ts): the address to curl is printed, and --once HOST... runs
// gwdoctor (probes on, through a real nginx when installed, names answered by a DNS server on loopback) and sends each host's real request side by side.
// Bundled and started by scripts/try-live.mjs (the harness is TypeScript with .js import specifiers).

import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import { pathToFileURL } from 'node:url';
import { homedir } from 'node:os';
import { join, resolve } from 'node:path';
import { applyScenario, type Applied } from '../test/integration/harness/apply.js';
import { ROOT, startControlPlane, type ControlPlane } from '../test/integration/harness/controlplane.js';
import {
  EnvoyLane,
  installEnvoy,
  startLoopbackDns,
  type LaneScenario,
  type LoopbackDns,
  type RealAnswer,
} from '../test/integration/harness/envoy.js';
import { buildIstiod, startIstiod, type Istiod } from '../test/integration/harness/istiod.js';
import { requireBins } from '../test/helpers/net/bins.js';
import { TestPki, days } from '../test/helpers/net/certs.js';
import { startNginx, type Nginx } from '../test/helpers/net/nginx.js';
import { loadManifests } from '../src/cluster/manifests.js';

const argv = process.argv.slice(2);
const usage =
  'usage: npm run try-live -- [--fixture NAME | --manifests DIR] [--istiod | --no-istiod] [--envoy] [--once [HOST...] [-o json]]';
const VALUED = new Set(['--fixture', '--manifests', '-o', '--output']);
const FLAGS = new Set(['--istiod', '--no-istiod', '--envoy', '--once', '--help', '-h']);
const opts: Record<string, string> = {};
const flags = new Set<string>();
const hosts: string[] = [];
for (let i = 0; i < argv.length; i++) {
  const a = argv[i] as string;
  if (VALUED.has(a)) {
    const v = argv[i + 1];
    if (v === undefined || v.startsWith('-')) {
      process.stderr.write(`try-live: ${a} needs a value\n${usage}\n`);
      process.exit(3);
    }
    opts[a === '--output' ? '-o' : a] = v;
    i++;
  } else if (FLAGS.has(a)) flags.add(a);
  else if (flags.has('--once') && !a.startsWith('-')) hosts.push(a);
  else {
    process.stderr.write(`try-live: unknown argument "${a}"\n${usage}\n`);
    process.exit(3);
  }
}
const flag = (n: string) => flags.has(n);
if (flag('--help') || flag('-h')) {
  process.stdout.write(
    `${usage}\n` +
      '  --fixture NAME   the fixtures/ scenario to load (default: seed-healthy)\n' +
      '  --manifests DIR  load this directory of manifests instead (any directory; Pods behind EndpointSlices get backends)\n' +
      '  --istiod         build istiod if needed (first build ~5 min) and let it write status\n' +
      "  --no-istiod      never start istiod: the manifests' own status is written instead\n" +
      '  --envoy          a real Envoy per gateway Pod, configured by istiod, serves the scenario on loopback (implies --istiod)\n' +
      "  --once [HOST...] run gwdoctor once and tear down; with hosts and --envoy: gwdoctor's verdict and the real answer side by side\n" +
      '  -o json          with --once HOST...: stdout is gwdoctor\'s JSON report, each target with a "real" object\n',
  );
  process.exit(0);
}
const envoyWanted = flag('--envoy');
if (envoyWanted && flag('--no-istiod')) {
  process.stderr.write(`try-live: --envoy needs istiod (it configures the Envoy): drop --no-istiod\n${usage}\n`);
  process.exit(3);
}
if (opts['--fixture'] && opts['--manifests']) {
  process.stderr.write(`try-live: --fixture and --manifests are exclusive\n${usage}\n`);
  process.exit(3);
}
const json = opts['-o'] !== undefined;
if (json && opts['-o'] !== 'json') {
  process.stderr.write(`try-live: -o takes only "json"\n${usage}\n`);
  process.exit(3);
}
if (json && hosts.length === 0) {
  process.stderr.write(`try-live: -o json needs --once HOST...\n${usage}\n`);
  process.exit(3);
}
let scenarioDir: string;
let scenarioName: string;
if (opts['--manifests']) {
  scenarioDir = resolve(opts['--manifests']);
  if (!existsSync(scenarioDir) || !statSync(scenarioDir).isDirectory()) {
    process.stderr.write(`try-live: --manifests ${opts['--manifests']}: not a directory\n`);
    process.exit(3);
  }
  scenarioName = scenarioDir;
} else {
  const fixture = opts['--fixture'] ?? 'seed-healthy';
  scenarioName = `fixtures/${fixture}`;
  // scripts/scenario.mjs merges the scenario from the seed and its overlay; imported at run time by its path, so that
  // the bundle (scripts/try-live.mjs) does not move it away from the fixtures it finds beside itself.
  const scenario = (await import(
    pathToFileURL(join(ROOT, 'scripts', 'scenario.mjs')).href
  )) as typeof import('./scenario.mjs');
  const names = scenario.scenarioNames();
  if (!names.includes(fixture)) {
    process.stderr.write(`try-live: no fixture "${fixture}" (have: ${names.join(', ')})\n`);
    process.exit(3);
  }
  scenarioDir = scenario.materialise(fixture);
}
const once = flag('--once');
// With -o json, stdout is exactly one JSON document: everything else goes to stderr.
const say = (s: string) => (json ? process.stderr : process.stdout).write(`${s}\n`);
const step = (s: string) => process.stderr.write(`[try-live] ${s}\n`);

/** istiod is used when asked, or (by default) when a build of it is already in the cache: a cold build takes minutes. */
function istiodWanted(): boolean {
  if (flag('--no-istiod')) return false;
  if (flag('--istiod') || envoyWanted) return true;
  const cache =
    process.env['GWDOCTOR_TESTBIN_CACHE'] ??
    join(process.env['XDG_CACHE_HOME'] ?? join(homedir(), '.cache'), 'gwdoctor-testbin');
  return (
    existsSync(cache) &&
    readdirSync(cache).some((d) => d.startsWith('istiod-') && existsSync(join(cache, d, 'bin', 'pilot-discovery')))
  );
}

let cp: ControlPlane | undefined;
let istiod: Istiod | undefined;
let applied: Applied | undefined;
let sc: LaneScenario | undefined;
let lane: EnvoyLane | undefined;
let nginx: Nginx | undefined;
let dns: LoopbackDns | undefined;
let down: Promise<void> | undefined;
function teardown(): Promise<void> {
  return (down ??= (async () => {
    step('tearing down...');
    await nginx?.stop().catch(() => undefined);
    await dns?.stop().catch(() => undefined);
    await sc?.stop().catch(() => undefined);
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

/** Every hostname an HTTPRoute of the scenario names (for the TLS certificate of the nginx in front). */
function routeHostnames(dir: string): string[] {
  const out = new Set<string>();
  for (const o of loadManifests([dir])) {
    if (o.kind !== 'HTTPRoute' && o.kind !== 'GRPCRoute') continue;
    for (const h of (o as { spec?: { hostnames?: string[] } }).spec?.hostnames ?? [])
      if (!h.startsWith('*')) out.add(h.toLowerCase());
  }
  return [...out];
}

/**
 * gwdoctor as a child process, without blocking this one: the backends and the NodePort's Envoy answer from here
 * (spawnSync would freeze the backends' event loop while gwdoctor waits for them).
 */
function runCli(
  cli: string,
  args: string[],
  env: NodeJS.ProcessEnv,
  capture: boolean,
): Promise<{ status: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [cli, ...args], {
      cwd: ROOT,
      env,
      stdio: ['ignore', capture ? 'pipe' : 'inherit', capture ? 'pipe' : 'inherit'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout?.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr?.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('close', (status) => resolve({ status, stdout, stderr }));
  });
}

const hostOf = (t: string) => (/^https?:\/\//i.test(t) ? new URL(t).hostname : (t.split('/')[0] ?? t)).toLowerCase();

function realLine(a: RealAnswer): string {
  if (a.status === undefined) return `no answer: ${a.error}`;
  const who = a.backend ? `backend ${a.backend}` : a.body ? JSON.stringify(a.body.slice(0, 80)) : 'empty body';
  return `${a.status} ${who}${a.server ? ` (server: ${a.server})` : ''}`;
}

async function main(): Promise<number> {
  const cli = join(ROOT, 'dist', 'bundle', 'cli.js');
  if (!existsSync(cli)) {
    step('building gwdoctor (npm run build)...');
    const b = spawnSync('npm', ['run', 'build'], { cwd: ROOT, stdio: ['ignore', 'ignore', 'inherit'] });
    if (b.status !== 0) throw new Error('npm run build failed');
  }
  const envoyBin = envoyWanted ? installEnvoy() : null;
  const t0 = Date.now();
  step(
    'starting the control plane (first time: builds etcd, kube-apiserver, kube-controller-manager with Go, ~7 min; cached afterwards)...',
  );
  cp = await startControlPlane();
  step(`control plane ready at ${cp.server} in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
  if (istiodWanted()) {
    const t1 = Date.now();
    step('starting istiod (first time: builds it, ~5 min)...');
    istiod = await startIstiod({ home: buildIstiod(), dir: cp.dir, server: cp.server, caFile: cp.caFile });
    step(`istiod ${istiod.version} ready in ${((Date.now() - t1) / 1000).toFixed(1)} s`);
  } else
    step("istiod: not built (npm run try-live -- --istiod builds it): the manifests' own status is written instead");
  lane =
    envoyBin && istiod
      ? await EnvoyLane.create({
          bin: envoyBin,
          kube: cp.admin,
          istiod,
          etcdUrl: cp.etcdUrl,
          etcdPrefix: '/registry-main',
          dir: cp.dir,
        })
      : undefined;
  step(
    `loading ${scenarioName}${istiod ? ' (istiod writes the status)' : ''}${lane ? ', for a real Envoy on loopback' : ''}...`,
  );
  applied = await applyScenario(cp.admin, scenarioDir, {
    status: istiod ? 'istiod' : 'fixture',
    ...(lane ? { lane } : {}),
  });
  step(`${applied.objects} objects loaded`);
  const kc = cp.kubeconfig;

  if (lane) {
    const t2 = Date.now();
    sc = await lane.start(applied.namespaces);
    step(
      `${sc.envoys.length} gateway Envoy(s) and ${sc.backends.length} backend(s) up in ${((Date.now() - t2) / 1000).toFixed(1)} s`,
    );
    for (const e of sc.envoys) {
      say(`Envoy for gateway Pod ${e.pod} (admin ${e.adminUrl}, log ${e.log}):`);
      for (const n of e.nodePorts)
        say(
          `  NodePort ${n.address}:${n.nodePort} (Service port ${n.servicePort}) -> listener ${e.listeners.get(n.targetPort)?.address}:${e.listeners.get(n.targetPort)?.port}`,
        );
    }
    const np = sc.envoys[0]?.nodePorts[0];
    const example = routeHostnames(scenarioDir)[0] ?? 'api.example.com';
    if (np) say(`\n  curl -si -H 'Host: ${example}' http://${np.address}:${np.nodePort}/`);
  }

  if (once && hosts.length > 0) return compare(cli, kc);

  // Offline: the fixture's hosts (example.com) are not this machine's; the cluster layers are what runs live here.
  const demo = ['--kubeconfig', kc, '--offline', '--all', '--internal', 'admin.example.com'];
  say(`\n$ gwdoctor ${demo.join(' ')}`);
  const run = await runCli(cli, demo, { ...process.env }, false);
  say(`(gwdoctor exited ${run.status})`);
  say(`
${once ? 'With --once the cluster stops now; without it, it keeps running and you can, in another shell:' : 'The cluster keeps running. In another shell:'}

  export KUBECONFIG=${kc}     # contexts: readonly (current, gwdoctor's ClusterRole), admin
  alias gwdoctor="node ${cli}"
  gwdoctor --offline api.example.com worker.example.com
  gwdoctor --offline --internal admin.example.com -o json
  kubectl get gateways,httproutes -A
  kubectl --context admin -n example-api delete referencegrant --all   # break something, then run gwdoctor again
${lane ? '\nWith --envoy: npm run try-live -- --envoy --once api.example.com admin.example.com runs gwdoctor with its probes on\n(through a real nginx in front of the NodePort, names from a DNS server on loopback) and prints the real answer beside each verdict.\n' : ''}${once ? '' : '\nPress Ctrl-C here to stop everything.'}`);
  if (once) return run.status ?? 70;
  await new Promise(() => undefined); // until a signal
  return 0;
}

/**
 * --once HOST...: gwdoctor live on the hosts, then each host's real request through the NodePort stand-in (with
 * --envoy), side by side. The network probes go through a real nginx (TLS with a run-time CA) and a DNS server on
 * loopback when they are installed (scripts/install-net-deps.sh), never to the machine's own resolver; else --offline.
 */
async function compare(cli: string, kc: string): Promise<number> {
  const net: string[] = [];
  const env: NodeJS.ProcessEnv = { ...process.env, NO_COLOR: '1' };
  const np = sc?.envoys.flatMap((e) => e.nodePorts)[0];
  const bins = requireBins();
  if (sc && np && bins.bins) {
    const dir = join(cp!.dir, 'front');
    mkdirSync(dir, { recursive: true });
    const pki = new TestPki(dir, bins.bins.openssl);
    const ca = pki.ca('try-live-ca');
    const names = [...new Set([...hosts.map(hostOf), ...routeHostnames(scenarioDir)])];
    const leaf = pki.leaf('try-live-ca', 'front', names, days(-1), days(30));
    nginx = await startNginx(bins.bins.nginx, join(dir, 'nginx'), [
      {
        name: 'front',
        serverName: '_',
        ...leaf,
        location: `proxy_pass http://${np.address}:${np.nodePort}; proxy_set_header Host $host; proxy_http_version 1.1;`,
      },
    ]);
    // gwdoctor's "system resolver" is resolv.conf's nameservers on port 53 (getaddrinfo when there are none): give it
    // a resolv.conf (GWDOCTOR_RESOLV_CONF) naming a lane address where a small DNS server answers on 53 (root), so no
    // name is ever asked outside this machine. Without root the server takes a high port (--resolver) and port 53 of
    // the lane address stays closed (gwdoctor says that resolver is unreachable).
    const root = process.getuid?.() === 0;
    const dnsAddress = lane!.pool.next();
    dns = await startLoopbackDns(dnsAddress, root ? 53 : 0, '127.0.0.1');
    const resolvConf = join(dir, 'resolv.conf');
    writeFileSync(resolvConf, `# try-live: the only resolver gwdoctor asks\nnameserver ${dnsAddress}\n`);
    env['GWDOCTOR_RESOLV_CONF'] = resolvConf;
    if (!root) net.push('--resolver', `${dnsAddress}:${dns.port}`);
    net.push('--port', String(nginx.ports['front']), '--ca-file', ca);
    step(
      `network probes: DNS ${dnsAddress}:${dns.port} (every name -> 127.0.0.1), nginx TLS on 127.0.0.1:${nginx.ports['front']} -> NodePort ${np.address}:${np.nodePort}`,
    );
  } else {
    net.push('--offline');
    step(
      sc
        ? `network probes off (${bins.skip ?? 'no NodePort'})`
        : 'network probes off (no --envoy: nothing serves the hosts here)',
    );
  }
  const args = ['--kubeconfig', kc, ...net, ...(json ? ['-o', 'json'] : []), ...hosts];
  say(`\n$ gwdoctor ${args.join(' ')}`);
  const run = await runCli(cli, args, env, true);
  if (run.stderr) process.stderr.write(run.stderr);
  const reals = new Map<string, RealAnswer>();
  if (sc) for (const h of hosts) reals.set(h, await sc.request(h));
  if (json) {
    let report: { targets?: { input: string; real?: unknown }[] };
    try {
      report = JSON.parse(run.stdout) as typeof report;
    } catch {
      process.stderr.write(run.stdout);
      throw new Error(`gwdoctor -o json printed no JSON (exit ${run.status})`);
    }
    for (const t of report.targets ?? []) {
      const a = reals.get(t.input);
      if (!a) continue;
      t.real = {
        ...(a.status !== undefined ? { status: a.status } : {}),
        ...(a.error !== undefined ? { error: a.error } : {}),
        ...(a.server !== undefined ? { server: a.server } : {}),
        body: a.body ?? '',
        ...(a.backend !== undefined ? { backend: a.backend } : {}),
      };
    }
    process.stdout.write(`${JSON.stringify(report, null, 2)}\n`);
  } else {
    process.stdout.write(run.stdout);
    if (sc) {
      say("\ngwdoctor's verdict beside the real request through the NodePort stand-in:");
      const verdicts = new Map<string, string>();
      for (const line of run.stdout.split('\n')) {
        for (const h of hosts) if (line.includes(h) && !verdicts.has(h)) verdicts.set(h, line.trim());
      }
      for (const h of hosts) {
        const a = reals.get(h) as RealAnswer;
        say(`  ${h}\n    gwdoctor: ${verdicts.get(h) ?? '(see above)'}\n    real:     ${realLine(a)}   [${a.sent}]`);
      }
    }
  }
  return run.status ?? 70;
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
