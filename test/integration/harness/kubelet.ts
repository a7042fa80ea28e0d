// The lane's kubelet, for port-forwards: test/controlplane/kubelet (built by scripts/build-kubelet.sh), the real
// kubelet's streaming code (k8s.io/cri-streaming portforward.ServePortForward, SPDY and WebSocket) serving
// https://<Node InternalIP>:<port>/portForward/{namespace}/{pod}, dialing each Pod's IP from 127.0.0.1 (what a
// runtime's dial to localhost inside the Pod's network namespace looks like to the Pod). The real kube-apiserver reaches
// it as it reaches a kubelet: the Node's InternalIP (--kubelet-preferred-address-types=InternalIP), the port in the
// Node's status.daemonEndpoints.kubeletEndpoint, its client certificate, the kubelet CA (harness/controlplane.ts).

import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, openSync, readFileSync, writeFileSync } from 'node:fs';
import { connect } from 'node:tls';
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { ROOT } from './controlplane.js';
import { stopGroup } from './istiod.js';
import type { Kube } from './kube.js';
import { currentRunLabel } from '../../helpers/leftovers.js';

/** The kubelet port the real kubelet serves on (--port default). */
export const KUBELET_PORT = 10250;

/** Build (or find cached) the stand-in. Returns the binary, or throws with the build's output. */
export function buildKubelet(): string {
  const r = spawnSync('bash', [join(ROOT, 'scripts', 'build-kubelet.sh')], {
    encoding: 'utf8',
    maxBuffer: 16 * 1024 * 1024,
  });
  if (r.status !== 0)
    throw new Error(
      `scripts/build-kubelet.sh failed (exit ${r.status}):\n${(r.stderr ?? '').split('\n').slice(-30).join('\n')}`,
    );
  const lines = r.stdout.trim().split('\n');
  return lines[lines.length - 1] as string;
}

export interface Kubelet {
  node: string;
  address: string;
  port: number;
  log: string;
  pid: number | undefined;
  stop(): Promise<void>;
}

export interface StartKubeletOptions {
  bin: string;
  /** The control plane's run dir (its pki/ has the CAs and the admin token is in pki/tokens.csv). */
  dir: string;
  server: string;
  node: string;
  address: string;
  port?: number;
  /** Log each request and forward (the stand-in's -v). */
  verbose?: boolean;
}

export async function startKubelet(o: StartKubeletOptions): Promise<Kubelet> {
  const pki = join(o.dir, 'pki');
  const work = join(o.dir, `kubelet-${o.node}-${o.address}`);
  mkdirSync(work, { recursive: true });
  const token = join(work, 'token');
  writeFileSync(token, 'admin-token\n', { mode: 0o600 });
  const ready = join(work, 'ready');
  const log = join(work, 'kubelet.log');
  const port = o.port ?? KUBELET_PORT;
  const proc: ChildProcess = spawn(
    o.bin,
    [
      `--node-name=${o.node}`,
      `--address=${o.address}`,
      `--port=${port}`,
      `--apiserver=${o.server}`,
      `--token-file=${token}`,
      `--apiserver-ca=${join(pki, 'ca.crt')}`,
      `--serving-ca=${join(pki, 'kubelet-ca.crt')}`,
      `--serving-ca-key=${join(pki, 'kubelet-ca.key')}`,
      `--client-ca=${join(pki, 'ca.crt')}`,
      `--ready-file=${ready}`,
      ...(o.verbose === false ? [] : ['-v']),
    ],
    { stdio: ['ignore', openSync(log, 'a'), openSync(log, 'a')], detached: true },
  );
  const stop = () => stopGroup(proc, 2_000);
  const tail = () => (existsSync(log) ? readFileSync(log, 'utf8').split('\n').slice(-10).join('\n') : '');
  const until = Date.now() + 30_000;
  for (;;) {
    if (proc.exitCode !== null || proc.signalCode !== null)
      throw new Error(`kubelet stand-in for ${o.node} exited (${proc.exitCode ?? proc.signalCode}):\n${tail()}`);
    // Serving once its port accepts a TLS handshake (it asks for a client certificate; a handshake without one is
    // refused after the server's hello, which is enough to know it listens).
    if (existsSync(ready) && (await tlsListening(o.address, port))) break;
    if (Date.now() > until) {
      await stop();
      throw new Error(`kubelet stand-in for ${o.node} not serving after 30 s:\n${tail()}`);
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  return { node: o.node, address: o.address, port, log, pid: proc.pid, stop };
}

function tlsListening(host: string, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = connect({ host, port, rejectUnauthorized: false }, () => {
      s.destroy();
      resolve(true);
    });
    s.on('error', (e: NodeJS.ErrnoException) => resolve(e.code !== 'ECONNREFUSED'));
    s.setTimeout(2_000, () => {
      s.destroy();
      resolve(false);
    });
  });
}

/**
 * Point the Node at a kubelet: its InternalIP (first, so the API server's preferred-address choice is it) and the
 * kubelet port in status.daemonEndpoints, as a kubelet reports them. Other addresses are kept after it.
 */
export async function registerKubelet(kube: Kube, node: string, address: string, port = KUBELET_PORT): Promise<void> {
  const n = (await kube.get(`/api/v1/nodes/${node}`)) as {
    status?: { addresses?: { type: string; address: string }[] };
  };
  const others = (n.status?.addresses ?? []).filter((a) => !(a.type === 'InternalIP' && a.address === address));
  const internal = others.filter((a) => a.type === 'InternalIP');
  if (internal.length > 0)
    throw new Error(`Node ${node} already has InternalIP ${internal[0]!.address}: the kubelet would not be reached`);
  await kube.patchStatus({ apiVersion: 'v1', kind: 'Node', metadata: { name: node } } as never, {
    addresses: [{ type: 'InternalIP', address }, ...others],
    daemonEndpoints: { kubeletEndpoint: { Port: port } },
  });
}

/** A TEST-NET-1 address on lo that no other run uses (removed with `removeTestNetAddress`), labelled with the run. */
export function addTestNetAddress(): string {
  const used = execFileSync('ip', ['-o', '-4', 'addr', 'show', 'dev', 'lo'], { encoding: 'utf8' });
  for (let i = 0; i < 50; i++) {
    const a = `192.0.2.${100 + Math.floor(Math.random() * 150)}`;
    if (used.includes(` ${a}/`)) continue;
    try {
      // Labelled with the test run (test/run-dir.ts), whose end finds and removes one a test left.
      const label = currentRunLabel();
      execFileSync('ip', ['addr', 'add', `${a}/32`, 'dev', 'lo', ...(label ? ['label', label] : [])], {
        stdio: 'pipe',
      });
      return a;
    } catch {
      // taken by a parallel run between the look and the add: try another
    }
  }
  throw new Error('no free TEST-NET-1 address on lo');
}

export function removeTestNetAddress(a: string): void {
  try {
    execFileSync('ip', ['addr', 'del', `${a}/32`, 'dev', 'lo'], { stdio: 'pipe' });
  } catch {
    // already gone
  }
}

/**
 * Kubelets for a lane scenario, so that port-forwards are carried end to end: each gateway Pod of `namespaces` gets a
 * TEST-NET-1 address on lo as its Pod IP (instead of its 10.43.x.y identity address, which is never dialled; the
 * lane's Envoy then binds its admin port 15000 there, harness/envoy.ts), and every lane Node gets a kubelet stand-in
 * on its InternalIP:10250. Call before `lane.start` (the Envoys take the Pod IP at start). `stop` stops the stand-ins
 * and removes the addresses.
 */
export async function laneKubelets(o: {
  bin: string;
  dir: string;
  server: string;
  kube: Kube;
  /** The lane's Node InternalIPs: every Node with one of them gets a stand-in. */
  nodeAddresses: string[];
  namespaces: string[];
}): Promise<{ kubelets: Kubelet[]; addresses: string[]; stop(): Promise<void> }> {
  const addresses: string[] = [];
  const kubelets: Kubelet[] = [];
  const stop = async () => {
    for (const k of kubelets) await k.stop();
    for (const a of addresses) removeTestNetAddress(a);
  };
  try {
    for (const ns of o.namespaces) {
      for (const p of await o.kube.list('v1', 'Pod', ns, 'gateway.networking.k8s.io/gateway-name')) {
        const st = p['status'] as { podIP?: string } | undefined;
        if (p.metadata['deletionTimestamp'] || !st?.podIP) continue;
        const a = addTestNetAddress();
        addresses.push(a);
        await o.kube.patchStatus(p, { podIP: a, podIPs: [{ ip: a }] });
      }
    }
    const nodes = (await o.kube.get('/api/v1/nodes')) as {
      items: { metadata: { name: string }; status?: { addresses?: { type: string; address: string }[] } }[];
    };
    for (const n of nodes.items) {
      const address = (n.status?.addresses ?? []).find(
        (a) => a.type === 'InternalIP' && o.nodeAddresses.includes(a.address),
      )?.address;
      if (!address) continue;
      const node = n.metadata.name;
      await registerKubelet(o.kube, node, address);
      kubelets.push(await startKubelet({ bin: o.bin, dir: o.dir, server: o.server, node, address }));
    }
    return { kubelets, addresses, stop };
  } catch (err) {
    await stop();
    throw err;
  }
}
