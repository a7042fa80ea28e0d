// Every node's NodePort (issue 19 item 4): the edge proxy targets one node's address, and with externalTrafficPolicy
// Local only the nodes with a ready gateway Pod answer on the nodePort. Three Nodes whose InternalIPs are loopback
// addresses 127.0.0.31-33 (no other test uses them); a real Envoy 1.40.0 listens on the shared nodePort only on .31
// and .32 (the nodes that run a gateway Pod); nothing listens on .33. Real nginx in front, real dnsmasq.

import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LAYERS } from '../../../checks/index.js';
import { ManifestCluster } from '../../../src/cluster/manifests.js';
import type { K8sObject, Node, Pod, Service } from '../../../src/cluster/objects.js';
import { packetResolver } from '../../../src/net/dns-resolver.js';
import { undiciProbe } from '../../../src/net/http-probe.js';
import { runTarget, runTargets, type Env } from '../../../src/pipeline.js';
import { parseTarget } from '../../../src/target.js';
import type { Finding, TargetReport } from '../../../src/types.js';
import { requireBins } from '../../helpers/net/bins.js';
import { TestPki, days } from '../../helpers/net/certs.js';
import { fixtureObjects } from '../../helpers/net/cluster.js';
import { startDnsmasq, type Dnsmasq } from '../../helpers/net/dnsmasq.js';
import { requireEnvoy, scenario, startRealEnvoy, type RealEnvoy } from '../../helpers/net/envoy.js';
import { startNginx, type Nginx } from '../../helpers/net/nginx.js';
import { freePort } from '../../helpers/ports.js';

const found = requireBins();
const real = requireEnvoy();
const skip = found.skip ?? real.skip;
const d = skip ? describe.skip : describe;
if (skip) process.stderr.write(`[net] skipping the every-node tests: ${skip}\n`);

const NODES = { 'node-a': '127.0.0.31', 'node-b': '127.0.0.32', 'node-c': '127.0.0.33' } as const;

let dir: string;
let dns: Dnsmasq;
let nginx: Nginx;
let envoy: RealEnvoy;
let caFile: string;
let nodePort: number;

/** Three Nodes (InternalIPs 127.0.0.31-33), a ready gateway Pod on node-a and node-b, the gateway Service Local. */
function threeNodes(policy: 'Local' | 'Cluster'): K8sObject[] {
  const objs = fixtureObjects('seed-healthy', nodePort);
  const node = objs.find((o) => o.kind === 'Node') as Node;
  const pod = objs.find(
    (o) =>
      o.kind === 'Pod' && o.metadata.labels?.['gateway.networking.k8s.io/gateway-name'] === 'example-istio-gateway',
  ) as Pod;
  const out = objs.filter((o) => o !== node);
  for (const [name, address] of Object.entries(NODES)) {
    out.push({
      ...structuredClone(node),
      metadata: { ...structuredClone(node.metadata), name },
      status: { ...structuredClone(node.status), addresses: [{ type: 'InternalIP', address }] },
    } as Node);
  }
  pod.spec = { ...pod.spec, nodeName: 'node-a' };
  const second = structuredClone(pod);
  second.metadata = { ...second.metadata, name: `${pod.metadata.name}-b`, uid: 'b0000000-0000-4000-8000-000000000002' };
  second.spec = { ...second.spec, nodeName: 'node-b' };
  out.push(second);
  for (const o of out) {
    if (
      o.kind === 'Service' &&
      o.metadata.labels?.['gateway.networking.k8s.io/gateway-name'] === 'example-istio-gateway'
    )
      (o as Service).spec = { ...(o as Service).spec, externalTrafficPolicy: policy };
  }
  return out;
}

d('every node\'s NodePort: three loopback "nodes", the real Envoy only where a gateway Pod runs', () => {
  beforeAll(async () => {
    const bins = found.bins!;
    dir = mkdtempSync(join(tmpdir(), 'gwdoctor-nodes-'));
    const pki = new TestPki(dir, bins.openssl);
    caFile = pki.ca('test-ca');
    const edge = pki.leaf(
      'test-ca',
      'edge',
      ['api.example.com', 'worker.example.com', 'docs.example.com'],
      days(-1),
      days(60),
    );
    nodePort = await freePort();
    envoy = await startRealEnvoy(
      real.bin!,
      dir,
      { a: scenario('ok'), b: scenario('ok') },
      { bind: { a: NODES['node-a'], b: NODES['node-b'] }, port: { a: nodePort, b: nodePort } },
    );
    // api.example.com: the proxy runs on node-c (the DNS answer is its InternalIP) and forwards to its own nodePort.
    // worker.example.com: the proxy's address is no Node's; it forwards to node-a.
    // docs.example.com: the proxy runs on node-a and forwards to its own nodePort.
    dns = await startDnsmasq(bins.dnsmasq, {
      address: {
        'api.example.com': NODES['node-c'],
        'worker.example.com': '127.0.0.1',
        'docs.example.com': NODES['node-a'],
      },
      local: ['example.com'],
    });
    const up = (address: string) =>
      `proxy_pass http://${address}:${nodePort}; proxy_http_version 1.1; proxy_set_header Host $host;`;
    nginx = await startNginx(bins.nginx, join(dir, 'nginx'), [
      {
        name: 'on-c',
        serverName: 'api.example.com',
        ...edge,
        location: up(NODES['node-c']),
        alsoListen: [NODES['node-c']],
      },
      { name: 'to-a', serverName: 'worker.example.com', ...edge, location: up(NODES['node-a']) },
      // A proxy on node-c that is served: what kube-proxy does for traffic that starts on the node (every ready
      // endpoint, even with externalTrafficPolicy Local); the lane's stand-in only models outside clients, so this
      // proxy's upstream is node-a, where a gateway Pod answers.
      {
        name: 'on-c-served',
        serverName: 'api.example.com',
        ...edge,
        location: up(NODES['node-a']),
        alsoListen: [NODES['node-c']],
      },
      {
        name: 'on-a',
        serverName: 'docs.example.com',
        ...edge,
        location: up(NODES['node-a']),
        alsoListen: [NODES['node-a']],
      },
      // One proxy for the three hosts (a run with several targets has one proxy port): on node-c and node-a, to node-a.
      {
        name: 'all',
        serverName: 'api.example.com worker.example.com docs.example.com',
        ...edge,
        location: up(NODES['node-a']),
        alsoListen: [NODES['node-c'], NODES['node-a']],
      },
    ]);
  }, 120_000);

  afterAll(async () => {
    await nginx?.stop();
    await dns?.stop();
    await envoy?.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  function env(proxy: string, objs: K8sObject[], gatewayFilter: Env['gatewayFilter'] = null): Env {
    const cluster = new ManifestCluster(objs);
    const resolvers = [`127.0.0.1:${dns.port}`];
    return {
      cluster,
      clusterUnavailable: null,
      gatewayFilter,
      offline: false,
      net: { resolvers, expectIps: [], caFile, port: nginx.ports[proxy]! },
      resolver: async () => packetResolver(resolvers, { system: false }),
      probe: async () => undiciProbe,
      signal: AbortSignal.timeout(30_000),
    };
  }
  const run = (host: string, e: Env): Promise<TargetReport> =>
    runTarget(LAYERS, parseTarget(`https://${host}/`), e, { until: null, intervalMs: 0 });
  const proxyLayer = (rep: TargetReport) => rep.layers.find((l) => l.id === 'proxy') as Finding;
  const byNode = (f: Finding) =>
    Object.fromEntries(
      (f.facts.nodes ?? []).map((n) => [n.node, { answered: n.answered, pod: n.readyGatewayPod, used: n.usedByProxy }]),
    );

  it('the proxy runs on node-c (DNS answer = its InternalIP), which holds no gateway Pod: GatewayProxyNodeSilent, every node listed as data', async () => {
    const f = proxyLayer(await run('api.example.com', env('on-c', threeNodes('Local'))));
    expect(f.code, f.summary).toBe('GatewayProxyNodeSilent');
    expect(f.status).toBe('fail');
    expect(byNode(f)).toEqual({
      'node-a': { answered: true, pod: true, used: false },
      'node-b': { answered: true, pod: true, used: false },
      'node-c': { answered: false, pod: false, used: true },
    });
    expect(f.facts.nodes?.find((n) => n.node === 'node-a')?.statusCode).toBe(200);
    expect(f.facts.nodes?.find((n) => n.node === 'node-c')?.error).toBe('ECONNREFUSED');
    expect(f.fix?.explain).toContain('externalTrafficPolicy Local');
  });

  it('the proxy runs on node-c, which is silent from outside, and its request is served: no fail, GatewayNodesPartlySilent (warn) naming node-c', async () => {
    const f = proxyLayer(await run('api.example.com', env('on-c-served', threeNodes('Local'))));
    expect(f.code, f.summary).toBe('GatewayNodesPartlySilent');
    expect(f.status).toBe('warn');
    expect(byNode(f)['node-c']).toEqual({ answered: false, pod: false, used: true });
    expect(byNode(f)['node-a']).toEqual({ answered: true, pod: true, used: false });
  });

  it('the proxy forwards to node-a and no evidence names its node: a pass becomes GatewayNodesPartlySilent (warn) with the set', async () => {
    const f = proxyLayer(await run('worker.example.com', env('to-a', threeNodes('Local'))));
    expect(f.code, f.summary).toBe('GatewayNodesPartlySilent');
    expect(f.status).toBe('warn');
    expect(byNode(f)).toEqual({
      'node-a': { answered: true, pod: true, used: false },
      'node-b': { answered: true, pod: true, used: false },
      'node-c': { answered: false, pod: false, used: false },
    });
  });

  it('the proxy runs on node-a (DNS answer), which answers: the proxy layer passes, and still lists every node', async () => {
    const f = proxyLayer(await run('docs.example.com', env('on-a', threeNodes('Local'))));
    expect(f.status, f.summary).toBe('pass');
    expect(byNode(f)['node-a']).toEqual({ answered: true, pod: true, used: true });
    expect(byNode(f)['node-c']?.answered).toBe(false);
  });

  it.each([
    ['the listener port', () => 80],
    ['the nodePort', () => nodePort],
  ])(
    'with --gateway NS/NAME:PORT (%s) the every-node probe is the same: GatewayProxyNodeSilent, every node listed',
    async (_, port) => {
      const f = proxyLayer(
        await run(
          'api.example.com',
          env('on-c', threeNodes('Local'), { namespace: 'istio-ingress', name: 'example-istio-gateway', port: port() }),
        ),
      );
      expect(f.code, f.summary).toBe('GatewayProxyNodeSilent');
      expect(byNode(f)).toEqual({
        'node-a': { answered: true, pod: true, used: false },
        'node-b': { answered: true, pod: true, used: false },
        'node-c': { answered: false, pod: false, used: true },
      });
    },
  );

  it('probes every node once per Gateway for all the targets of a run (not once per host), each target judging its own node', async () => {
    // Every request that reaches the backends behind the real Envoy: one per target through the proxy, plus one per
    // answering node (node-a, node-b) per every-node probe. Three targets: 3 + 2 (9 when each target probed every node).
    const count = async (hosts: string[]) => {
      const e = env('all', threeNodes('Local'));
      envoy.seen.length = 0;
      const reports = await runTargets(
        LAYERS,
        hosts.map((h) => parseTarget(`https://${h}/`)),
        e,
        { until: null, intervalMs: 0 },
      );
      return { reports, seen: [...envoy.seen] };
    };
    const { reports, seen } = await count(['api.example.com', 'worker.example.com', 'docs.example.com']);
    process.stderr.write(
      `[nodes] 3 targets, one Gateway: ${seen.length} requests reached the backends (${seen.join(', ')})\n`,
    );
    expect(seen.length, seen.join(', ')).toBe(3 + 2);
    const [api, worker, docs] = reports.map(proxyLayer) as [Finding, Finding, Finding];
    // The same answers for every target; whether the proxy uses a node is each target's own (its DNS answer).
    expect(byNode(api)).toEqual({
      'node-a': { answered: true, pod: true, used: false },
      'node-b': { answered: true, pod: true, used: false },
      'node-c': { answered: false, pod: false, used: true },
    });
    // This proxy runs on node-c and is served (its upstream is node-a): a warning, never the fail of a silent node.
    expect(api.code, api.summary).toBe('GatewayNodesPartlySilent');
    expect(worker.code, worker.summary).toBe('GatewayNodesPartlySilent');
    expect(byNode(docs)['node-a']).toEqual({ answered: true, pod: true, used: true });
    expect(docs.status, docs.summary).toBe('pass');
    // One target alone: the same count as before (one probe of every node).
    expect((await count(['worker.example.com'])).seen.length).toBe(1 + 2);
  });

  it("hands the every-node answers on to the cluster layers (probes.nodes): the dataplane layer's scope names the node the proxy runs on", async () => {
    // The layers up to the proxy, then one that records what it was handed.
    let handed: unknown = 'not run';
    const upTo = LAYERS.filter((l) => l.id === 'dns' || l.id === 'proxy');
    const listener = LAYERS.find((l) => l.id === 'listener')!;
    const capture = {
      ...listener,
      async run(ctx: Parameters<(typeof listener)['run']>[0]) {
        handed = ctx.probes.nodes;
        return listener.run(ctx);
      },
    };
    await runTarget([...upTo, capture], parseTarget('https://docs.example.com/'), env('on-a', threeNodes('Local')), {
      until: null,
      intervalMs: 0,
    });
    expect(handed).toMatchObject({ service: 'istio-ingress/example-istio-gateway-istio' });
    expect(
      (handed as { nodes: { node: string; usedByProxy: boolean }[] }).nodes.map((n) => [n.node, n.usedByProxy]),
    ).toEqual([
      ['node-a', true],
      ['node-b', false],
      ['node-c', false],
    ]);
  });

  it('externalTrafficPolicy Cluster and a working proxy: no every-node probe (no facts.nodes)', async () => {
    const f = proxyLayer(await run('worker.example.com', env('to-a', threeNodes('Cluster'))));
    expect(f.status, f.summary).toBe('pass');
    expect(f.facts.nodes).toBeUndefined();
  });
});
