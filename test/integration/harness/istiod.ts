// Real istiod (pilot-discovery, built by scripts/build-istiod.sh) run out of cluster against the harness's loopback
// kube-apiserver: it is the Gateway API controller that writes every Gateway/HTTPRoute status the contract tests read,
// and its deployment controller creates the gateway Deployment + Service. Every flag and variable is explained in
// test/controlplane/README.md ("istiod out of cluster").

import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdirSync, openSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from '../../helpers/ports.js';
import { ROOT } from './controlplane.js';

export interface Istiod {
  /** The cache dir of the build (bin/pilot-discovery, var/lib/istio/inject, versions.env). */
  home: string;
  version: string;
  /** http://127.0.0.1:<port>: /ready, /debug/configz, /debug/config_dump. */
  httpUrl: string;
  /** 127.0.0.1:<port>: plaintext xDS (ADS) without authentication. */
  grpcAddr: string;
  log: string;
  /** ms from spawn until /ready answered 200. */
  readyMs: number;
  /** Started with what upstream Envoy needs (see startIstiod). */
  forEnvoy: boolean;
  /** The ISTIO_VERSION a proxy of this istiod reports (release line + ".0", e.g. 1.31.0). */
  proxyVersion: string;
  stop(): Promise<void>;
}

/** Build (or find cached) istiod. Returns its cache dir, or throws with the build's output. */
export function buildIstiod(): string {
  const r = spawnSync('bash', [join(ROOT, 'scripts', 'build-istiod.sh')], {
    encoding: 'utf8',
    maxBuffer: 64 * 1024 * 1024,
  });
  if (r.status !== 0)
    throw new Error(
      `scripts/build-istiod.sh failed (exit ${r.status}):\n${(r.stderr ?? '').split('\n').slice(-30).join('\n')}`,
    );
  const lines = r.stdout.trim().split('\n');
  return lines[lines.length - 1] as string;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** SIGTERM the process group, then SIGKILL it if it has not exited within `graceMs`. */
export async function stopGroup(proc: ChildProcess, graceMs: number): Promise<void> {
  const alive = () => proc.exitCode === null && proc.signalCode === null;
  if (!alive() || !proc.pid) return;
  try {
    process.kill(-proc.pid, 'SIGTERM');
  } catch {
    return; // already gone
  }
  const deadline = Date.now() + graceMs;
  while (alive() && Date.now() < deadline) await sleep(50);
  if (alive()) {
    try {
      process.kill(-proc.pid, 'SIGKILL');
    } catch {
      // gone
    }
    while (alive()) await sleep(20);
  }
}

/**
 * Start istiod with its own admin kubeconfig, in `<dir>/istiod` (its working directory: istiod reads the injection
 * templates from ./var/lib/istio/inject, which links to the build's rendered copy).
 */
/**
 * What upstream Envoy (the data-plane lane, harness/envoy.ts) needs from istiod; by default on. With
 * GWDOCTOR_ISTIOD_FOR_ENVOY=0 istiod runs with its own defaults (to compare the status it writes both ways:
 * test/controlplane/README.md).
 */
export function forEnvoyDefault(): boolean {
  return process.env['GWDOCTOR_ISTIOD_FOR_ENVOY'] !== '0';
}

/**
 * `ambient`: PILOT_ENABLE_AMBIENT=true (istiod then handles the istio-waypoint class, computes the workload/authorization
 * (WDS) resources for ztunnel and writes AuthorizationPolicy ZtunnelAccepted/WaypointAccepted). The shared istiod runs
 * without it; the mesh-hop test starts its own, against its own API server (test/controlplane/README.md).
 */
export async function startIstiod(o: {
  home: string;
  dir: string;
  server: string;
  caFile: string;
  forEnvoy?: boolean;
  ambient?: boolean;
}): Promise<Istiod> {
  const forEnvoy = o.forEnvoy ?? forEnvoyDefault();
  const work = join(o.dir, 'istiod');
  mkdirSync(join(work, 'var', 'lib', 'istio'), { recursive: true });
  symlinkSync(join(o.home, 'var', 'lib', 'istio', 'inject'), join(work, 'var', 'lib', 'istio', 'inject'));
  const kubeconfig = join(work, 'kubeconfig');
  writeFileSync(
    kubeconfig,
    `apiVersion: v1\nkind: Config\nclusters:\n- name: t\n  cluster: {server: "${o.server}", certificate-authority: "${o.caFile}"}\nusers:\n- {name: istiod, user: {token: admin-token}}\ncontexts:\n- {name: istiod, context: {cluster: t, user: istiod}}\ncurrent-context: istiod\n`,
  );
  const [http, grpc, monitoring, ctrlz] = [await freePort(), await freePort(), await freePort(), await freePort()];
  const mesh = join(work, 'mesh.yaml');
  // For upstream Envoy: no auto-mTLS (its clusters would wait for SDS secrets `default`/`ROOTCA` nothing serves) and
  // no default metrics provider (the `istio.stats` filter is Istio's own build only).
  const envoyMesh = forEnvoy ? 'enableAutoMtls: false\ndefaultProviders:\n  metrics: []\n' : '';
  writeFileSync(
    mesh,
    `defaultConfig:\n  discoveryAddress: 127.0.0.1:${grpc}\ntrustDomain: cluster.local\n${envoyMesh}`,
  );
  const log = join(work, 'istiod.log');
  const env: Record<string, string> = {
    PATH: process.env['PATH'] ?? '/usr/bin:/bin',
    HOME: work,
    // Its temporary files in the test run's directory (test/run-dir.ts), as every process the tests start.
    TMPDIR: tmpdir(),
    POD_NAMESPACE: 'istio-system',
    POD_NAME: 'istiod-gwdoctor-test',
    REVISION: 'default',
    ENABLE_LEADER_ELECTION: 'false',
    ENABLE_CA_SERVER: 'false',
    PILOT_CERT_PROVIDER: 'none',
    VALIDATION_WEBHOOK_CONFIG_NAME: '',
    INJECTION_WEBHOOK_CONFIG_NAME: '',
    PILOT_ENABLE_GATEWAY_API: 'true',
    PILOT_ENABLE_GATEWAY_API_STATUS: 'true',
    PILOT_ENABLE_GATEWAY_API_DEPLOYMENT_CONTROLLER: 'true',
    PILOT_ENABLE_GATEWAY_API_GATEWAYCLASS_CONTROLLER: 'true',
    ...(o.ambient ? { PILOT_ENABLE_AMBIENT: 'true' } : {}),
    ...(forEnvoy
      ? {
          // Istio-only extensions upstream Envoy rejects (NACK): the metadata-exchange filters and the ALPN filter.
          PILOT_ENABLE_METADATA_EXCHANGE: 'false',
          PILOT_ENABLE_ALPN_FILTER: 'false',
          // Authenticate the gateway Envoy's plaintext ADS stream (a service-account token), so that istiod serves it
          // the Gateway's certificates over SDS (pilot/pkg/xds/sds.go refuses unauthenticated proxies).
          XDS_AUTH_PLAINTEXT: 'true',
        }
      : {}),
  };
  const args = [
    'discovery',
    `--kubeconfig=${kubeconfig}`,
    `--meshConfig=${mesh}`,
    `--networksConfig=${join(work, 'meshNetworks.absent')}`,
    '--domain=cluster.local',
    `--httpAddr=127.0.0.1:${http}`,
    `--grpcAddr=127.0.0.1:${grpc}`,
    `--monitoringAddr=127.0.0.1:${monitoring}`,
    '--httpsAddr=',
    '--secureGRPCAddr=',
    '--ctrlz_address=127.0.0.1',
    `--ctrlz_port=${ctrlz}`,
    '--shutdownDuration=1s',
    '--profile=false',
  ];
  const version = (() => {
    try {
      return readFileSync(join(o.home, 'versions.env'), 'utf8').match(/^ISTIO_VERSION=(.*)$/m)?.[1] ?? 'unknown';
    } catch {
      return 'unknown';
    }
  })();
  const line = (() => {
    try {
      return readFileSync(join(o.home, 'versions.env'), 'utf8').match(/^ISTIO_RELEASE_LINE=(\d+\.\d+)/m)?.[1];
    } catch {
      return undefined;
    }
  })();
  const proxyVersion = line ? `${line}.0` : '1.31.0';
  const started = Date.now();
  const proc = spawn(join(o.home, 'bin', 'pilot-discovery'), args, {
    cwd: work,
    env,
    stdio: ['ignore', openSync(log, 'a'), openSync(log, 'a')],
    detached: true,
  });
  const httpUrl = `http://127.0.0.1:${http}`;
  const stop = () => stopGroup(proc, 3_000);
  try {
    const until = Date.now() + 60_000;
    for (;;) {
      if (proc.exitCode !== null || proc.signalCode !== null) {
        throw new Error(
          `istiod exited (${proc.exitCode ?? proc.signalCode}) before /ready:\n${readFileSync(log, 'utf8').split('\n').slice(-20).join('\n')}`,
        );
      }
      const ok = await fetch(`${httpUrl}/ready`).then(
        (r) => r.status === 200,
        () => false,
      );
      if (ok) break;
      if (Date.now() > until)
        throw new Error(
          `istiod /ready not 200 after 60 s; log ${log}:\n${readFileSync(log, 'utf8').split('\n').slice(-20).join('\n')}`,
        );
      await sleep(100);
    }
  } catch (err) {
    await stop();
    throw err;
  }
  return {
    home: o.home,
    version,
    httpUrl,
    grpcAddr: `127.0.0.1:${grpc}`,
    log,
    readyMs: Date.now() - started,
    forEnvoy,
    proxyVersion,
    stop,
  };
}
