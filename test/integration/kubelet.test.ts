// A port-forward carried end to end on the lane: client-node's WebSocket port-forward (gwdoctor's portForwardGet) ->
// the real kube-apiserver (RBAC, then its kubelet client: the Node's InternalIP and kubelet port, client certificate,
// kubelet CA) -> the kubelet stand-in (the real kubelet's streaming code, harness/kubelet.ts) -> the Pod's IP and port.
// The Pod's process here is a small TCP server that answers with the peer address it saw and the bytes it got, so the
// test sees what crossed every hop.

import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { createServer, type Server, type Socket } from 'node:net';
import { KubeConfig } from '@kubernetes/client-node';
import { afterAll, beforeAll, describe, expect } from 'vitest';
import { portForwardGet } from '../../src/dataplane/envoy-admin.js';
import {
  addTestNetAddress,
  registerKubelet,
  removeTestNetAddress,
  startKubelet,
  type Kubelet,
} from './harness/kubelet.js';
import { Kube, type Obj } from './harness/kube.js';
import { itKubelet, kubeletBin, live } from './live.js';

const RUN = `${process.pid}-${Date.now().toString(36)}`;

describe('a port-forward through the real API server to the kubelet stand-in', () => {
  const addrs: string[] = [];
  let kube: Kube;
  let kubelet: Kubelet | null = null;
  let backend: Server | null = null;
  const sockets = new Set<Socket>();
  const made: Obj[] = [];
  const node = `kpf-node-${RUN}`;
  const podName = `kpf-pod-${RUN}`;
  const PORT = 8080;
  let nodeAddr = '';
  let podAddr = '';

  const kc = (context: string) => {
    const k = new KubeConfig();
    k.loadFromFile(live!.kubeconfig);
    k.setCurrentContext(context);
    return k;
  };

  beforeAll(async () => {
    if (!live || !kubeletBin) return;
    kube = new Kube(live.server, readFileSync(live.caFile), 'admin-token');
    nodeAddr = addTestNetAddress();
    addrs.push(nodeAddr);
    podAddr = addTestNetAddress();
    addrs.push(podAddr);
    // The Pod's process: answers one line, the peer it saw and the first bytes it got, then closes.
    backend = createServer((c) => {
      sockets.add(c);
      c.once('data', (d) => {
        const first = d.toString('latin1').split('\r\n')[0];
        const body = `peer ${c.remoteAddress} local ${c.localAddress}:${c.localPort} got ${first}`;
        c.end(`HTTP/1.1 200 OK\r\nContent-Length: ${body.length}\r\nConnection: close\r\n\r\n${body}`);
      });
      c.on('error', () => {});
    });
    await new Promise<void>((r, j) => {
      backend!.once('error', j);
      backend!.listen(PORT, podAddr, r);
    });
    made.push(
      await kube.create({
        apiVersion: 'v1',
        kind: 'Node',
        metadata: { name: node, labels: { 'kubernetes.io/hostname': node } },
      }),
    );
    await registerKubelet(kube, node, nodeAddr);
    kubelet = await startKubelet({ bin: kubeletBin, dir: live.dir, server: live.server, node, address: nodeAddr });
    const pod = await kube.create({
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: { name: podName, namespace: 'default' },
      spec: { nodeName: node, containers: [{ name: 'app', image: 'example/app', ports: [{ containerPort: PORT }] }] },
    });
    made.unshift(pod);
    await kube.patchStatus(pod, {
      phase: 'Running',
      podIP: podAddr,
      podIPs: [{ ip: podAddr }],
      conditions: [{ type: 'Ready', status: 'True' }],
    });
  }, 60_000);

  afterAll(async () => {
    await kubelet?.stop();
    for (const o of made) await kube?.raw('DELETE', kube.path(o)).catch(() => {});
    for (const c of sockets) c.destroy();
    await new Promise<void>((r) => (backend ? backend.close(() => r()) : r()));
    for (const a of addrs) removeTestNetAddress(a);
  }, 30_000);

  itKubelet(
    "the bytes reach the Pod's port and its answer comes back (WebSocket, as client-node speaks it)",
    async () => {
      const a = await portForwardGet(kc('admin'), 'default', podName, PORT, '/hello', { timeoutMs: 15_000 });
      expect(a).toMatchObject({ kind: 'ok', status: 200 });
      const body = (a as { body: string }).body;
      // Through every hop to the Pod's IP and port, from loopback (a runtime dials localhost inside the Pod).
      expect(body).toBe(`peer 127.0.0.1 local ${podAddr}:${PORT} got GET /hello HTTP/1.1`);
      // The stand-in saw the API server's request on the kubelet path, over TLS with the API server's client certificate.
      expect(readFileSync(kubelet!.log, 'utf8')).toMatch(
        new RegExp(`GET /portForward/default/${podName}\\?port=${PORT} from [\\d.]+:\\d+`),
      );
    },
  );

  itKubelet(
    'SPDY, as kubectl port-forward speaks it (through the API server, which hands the kubelet SPDY)',
    async () => {
      // kubectl port-forward: WebSocket tunneling to the API server, which translates it into SPDY to the kubelet
      // (PortForwardWebsockets), or plain SPDY end to end with KUBECTL_PORT_FORWARD_WEBSOCKETS=false. Both reach the
      // kubelet as SPDY/3.1: the protocol ServePortForward's other half (handleHTTPStreams) serves.
      for (const websockets of ['true', 'false']) {
        const before = readFileSync(kubelet!.log, 'utf8').length;
        const child = spawn(
          'kubectl',
          [
            '--kubeconfig',
            live!.kubeconfig,
            '--context',
            'admin',
            'port-forward',
            '-n',
            'default',
            `pod/${podName}`,
            `:${PORT}`,
          ],
          { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, KUBECTL_PORT_FORWARD_WEBSOCKETS: websockets } },
        );
        try {
          let out = '';
          const local = await new Promise<number>((resolve, reject) => {
            const t = setTimeout(
              () => reject(new Error(`kubectl port-forward: no local port in 20 s: ${out}`)),
              20_000,
            );
            const on = (d: Buffer) => {
              out += d.toString();
              const m = /Forwarding from 127\.0\.0\.1:(\d+)/.exec(out);
              if (m) {
                clearTimeout(t);
                resolve(Number(m[1]));
              }
            };
            child.stdout.on('data', on);
            child.stderr.on('data', on);
            child.once('exit', (c) => reject(new Error(`kubectl port-forward exited ${c}: ${out}`)));
          });
          const r = await fetch(`http://127.0.0.1:${local}/via-kubectl`);
          expect(r.status).toBe(200);
          expect(await r.text()).toBe(`peer 127.0.0.1 local ${podAddr}:${PORT} got GET /via-kubectl HTTP/1.1`);
          expect(readFileSync(kubelet!.log, 'utf8').slice(before)).toMatch(
            new RegExp(`(GET|POST) /portForward/default/${podName}\\S* from [\\d.]+:\\d+ \\(SPDY/3\\.1\\)`),
          );
        } finally {
          child.kill('SIGTERM');
        }
      }
    },
  );

  itKubelet("a port nothing listens on: the kubelet's error comes back on the error stream", async () => {
    const a = await portForwardGet(kc('admin'), 'default', podName, PORT + 1, '/', { timeoutMs: 15_000 });
    expect(a.kind).toBe('unreachable');
    expect((a as { why: string }).why).toMatch(
      new RegExp(`failed to connect to localhost:${PORT + 1} inside namespace of pod default/${podName}`),
    );
  });

  itKubelet('without pods/portforward: the real API server refuses (403) before any kubelet is asked', async () => {
    const a = await portForwardGet(kc('readonly'), 'default', podName, PORT, '/', { timeoutMs: 15_000 });
    expect(a).toMatchObject({ kind: 'forbidden', resource: 'pods/portforward', verbs: ['get', 'create'] });
  });
});
