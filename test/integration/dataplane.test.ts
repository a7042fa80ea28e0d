// The data plane layer against the real lane, end to end: gwdoctor live, as a user bound to deploy/rbac.yaml and the
// two opt-in roles only (deploy/rbac-dataplane.yaml, deploy/rbac-envoy-admin.yaml; impersonated by the admin token),
// reads istiod's /debug/syncz and /debug/config_dump and the gateway Envoy's admin (config_dump, clusters) through the
// real kube-apiserver's pods/portforward -> the lane's kubelet stand-in (the real kubelet's streaming code,
// harness/kubelet.ts) -> the real istiod and the real Envoy. Nothing in gwdoctor is replaced.
//
// istiod runs out of cluster on 127.0.0.1; its Pod here is istio-system/istiod-lane (label app=istiod, on node-1)
// with a TEST-NET-1 Pod IP added to lo for this file (unique per run, removed after). On that address a TCP relay
// stands for the Pod's network namespace: it connects to istiod's debug port FROM the address class its caller came
// from — the kubelet stand-in dials from 127.0.0.1 (a runtime dials localhost inside the Pod), so istiod sees a
// loopback caller and serves /debug/*; the API server's services/proxy dials from the TEST-NET address, so istiod
// sees what it sees in a cluster, a non-loopback caller, and answers 401 (why gwdoctor does not use that path).
// The gateway Pod's IP is another TEST-NET address where the lane's Envoy binds its admin port 15000.

import { countingProxy } from '../helpers/counting-proxy.js';
import { readFileSync } from 'node:fs';
import { connect, createServer, type Server, type Socket } from 'node:net';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect } from 'vitest';
import { parseAllDocuments } from 'yaml';
import { LAYERS } from '../../checks/index.js';
import { ISTIOD, type SyncStatus } from '../../checks/dataplane.js';
import { runTarget, type Env } from '../../src/pipeline.js';
import { parseTarget } from '../../src/target.js';
import { outcome } from '../helpers/fixtures.js';
import { ROOT, gwdoctorAsync, validateReport } from '../helpers/cli.js';
import { sendRequest } from './harness/envoy.js';
import { Kube, type Obj } from './harness/kube.js';
import { addTestNetAddress, removeTestNetAddress } from './harness/kubelet.js';
import { writeKubeconfig } from './harness/controlplane.js';
import { LiveCluster } from '../../src/cluster/live.js';
import { istiod, itEnvoy, live, scenarioWithEnvoy } from './live.js';

const GW_NS = 'istio-ingress';
const RUN = `${process.pid}-${Date.now().toString(36)}`;
/** The user gwdoctor runs as: rbac.yaml's ClusterRole and the two opt-in Roles, nothing else. */
const OPTED_IN = `gwdoctor-dp-${RUN}`;
/** The same user without the opt-in Roles (rbac.yaml only). */
const BASE_ONLY = `gwdoctor-dp-base-${RUN}`;

async function until<T>(what: string, fn: () => Promise<T | null | undefined | false>, ms = 60_000): Promise<T> {
  const end = Date.now() + ms;
  let last: unknown = null;
  for (;;) {
    try {
      const v = await fn();
      if (v) return v;
    } catch (e) {
      last = e;
    }
    if (Date.now() > end) throw new Error(`${what}: not after ${ms} ms${last ? ` (${String(last)})` : ''}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** The Roles of an opt-in file, as shipped. */
const rolesOf = (file: string) =>
  parseAllDocuments(readFileSync(join(ROOT, 'deploy', file), 'utf8'))
    .map((d) => d.toJS() as Record<string, unknown> & { kind: string })
    .filter((d) => d.kind === 'Role') as unknown as {
    metadata: { name: string; namespace: string };
    rules: unknown[];
  }[];

describe('the data plane layer on the real lane, through pods/portforward and the kubelet stand-in (seed-healthy)', () => {
  const s = scenarioWithEnvoy('seed-healthy', { kubelets: true });
  let addr: string | null = null;
  let relay: Server | null = null;
  const sockets = new Set<Socket>();
  const created: Obj[] = [];
  let kube: Kube | null = null;
  const kubeconfig = (user: string) =>
    writeKubeconfig(join(live!.dir, `kubeconfig-${user}`), live!.server, 'admin-token', live!.caFile, user);

  beforeAll(async () => {
    if (!s.get() || !live || !istiod) return;
    kube = new Kube(live.server, readFileSync(live.caFile), 'admin-token');
    addr = addTestNetAddress();
    const target = new URL(istiod.httpUrl);
    relay = createServer((c) => {
      sockets.add(c);
      // The caller's address class is kept: loopback (the kubelet's port-forward) stays loopback, anything else
      // reaches istiod from the Pod's address.
      const loopback = (c.remoteAddress ?? '').startsWith('127.');
      const u = connect({
        host: target.hostname,
        port: Number(target.port),
        localAddress: loopback ? '127.0.0.1' : (addr as string),
      });
      sockets.add(u);
      c.on('error', () => u.destroy());
      u.on('error', () => c.destroy());
      c.pipe(u).pipe(c);
    });
    await new Promise<void>((r, j) => {
      relay!.once('error', j);
      relay!.listen(ISTIOD.port, addr as string, r);
    });
    const mk = async (o: Record<string, unknown>) => {
      const r = await kube!.raw('POST', kube!.path(o as never, false), o);
      if (r.status === 409) return;
      if (r.status >= 300)
        throw new Error(
          `create ${JSON.stringify(o).slice(0, 200)}: ${r.status} ${JSON.stringify(r.json).slice(0, 300)}`,
        );
      created.unshift(o as never);
    };
    await mk({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: ISTIOD.namespace } });
    await mk({
      apiVersion: 'v1',
      kind: 'Service',
      metadata: { name: ISTIOD.name, namespace: ISTIOD.namespace, labels: { app: 'istiod' } },
      spec: { ports: [{ name: 'http-monitoring', port: ISTIOD.port, targetPort: ISTIOD.port }] },
    });
    // istiod's Pod, as istioctl finds it: label app=istiod, Running, on a Node with a kubelet.
    const pod = {
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: { name: 'istiod-lane', namespace: ISTIOD.namespace, labels: { app: 'istiod' } },
      spec: {
        nodeName: 'node-1',
        containers: [
          {
            name: 'discovery',
            image: 'docker.io/istio/pilot',
            ports: [{ name: 'http-monitoring', containerPort: ISTIOD.port }],
          },
        ],
      },
    };
    await mk(pod);
    const livePod = (await kube.patchStatus(pod as never, {
      phase: 'Running',
      podIP: addr,
      podIPs: [{ ip: addr }],
      conditions: [{ type: 'Ready', status: 'True' }],
    })) as { metadata: { uid?: string } };
    // The Service's endpoint (for the services/proxy test only: the API server proxies only to endpoints that are
    // Pods, pkg/registry/core/service/storage/storage.go isValidAddress).
    await mk({
      apiVersion: 'discovery.k8s.io/v1',
      kind: 'EndpointSlice',
      metadata: {
        name: `${ISTIOD.name}-lane`,
        namespace: ISTIOD.namespace,
        labels: {
          'kubernetes.io/service-name': ISTIOD.name,
          'endpointslice.kubernetes.io/managed-by': 'envoy-lane.gwdoctor.test',
        },
      },
      addressType: 'IPv4',
      endpoints: [
        {
          addresses: [addr],
          conditions: { ready: true },
          targetRef: { kind: 'Pod', namespace: ISTIOD.namespace, name: 'istiod-lane', uid: livePod.metadata.uid },
        },
      ],
      ports: [{ name: 'http-monitoring', port: ISTIOD.port, protocol: 'TCP' }],
    });
    // The users: rbac.yaml's ClusterRole for both; the opt-in Roles, as shipped, for one.
    const base = parseAllDocuments(readFileSync(join(ROOT, 'deploy', 'rbac.yaml'), 'utf8'))
      .map((d) => d.toJS() as { kind: string; metadata: { name: string } })
      .find((d) => d.kind === 'ClusterRole')!;
    for (const user of [OPTED_IN, BASE_ONLY])
      await mk({
        apiVersion: 'rbac.authorization.k8s.io/v1',
        kind: 'ClusterRoleBinding',
        metadata: { name: user },
        roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: base.metadata.name },
        subjects: [{ apiGroup: 'rbac.authorization.k8s.io', kind: 'User', name: user }],
      });
    for (const role of [...rolesOf('rbac-dataplane.yaml'), ...rolesOf('rbac-envoy-admin.yaml')]) {
      const name = `${role.metadata.name}-${RUN}`;
      await mk({
        apiVersion: 'rbac.authorization.k8s.io/v1',
        kind: 'Role',
        metadata: { name, namespace: role.metadata.namespace },
        rules: role.rules,
      });
      await mk({
        apiVersion: 'rbac.authorization.k8s.io/v1',
        kind: 'RoleBinding',
        metadata: { name, namespace: role.metadata.namespace },
        roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'Role', name },
        subjects: [{ apiGroup: 'rbac.authorization.k8s.io', kind: 'User', name: OPTED_IN }],
      });
    }
    const pf = (namespace: string, verb: string) => ({ verb, resource: 'pods', subresource: 'portforward', namespace });
    await kube.waitAllowed(OPTED_IN, [
      pf(ISTIOD.namespace, 'get'),
      pf(ISTIOD.namespace, 'create'),
      pf(GW_NS, 'get'),
      pf(GW_NS, 'create'),
      { verb: 'list', group: 'gateway.networking.k8s.io', resource: 'httproutes' },
    ] as never);
    await kube.waitAllowed(BASE_ONLY, [
      { verb: 'list', group: 'gateway.networking.k8s.io', resource: 'httproutes' },
    ] as never);
  }, 120_000);

  afterAll(async () => {
    for (const o of created) {
      // The namespace only if this file made it (created lists only what answered 201).
      await kube?.raw('DELETE', kube.path(o as never));
    }
    for (const c of sockets) c.destroy();
    await new Promise<void>((r) => (relay ? relay.close(() => r()) : r()));
    if (addr) removeTestNetAddress(addr);
  }, 60_000);

  const sc = () => {
    const st = s.get();
    if (!st) throw new Error('no lane');
    return st.sc;
  };

  /** istiod's /debug/syncz for the test's own waits, read directly as a loopback caller (never gwdoctor's path). */
  const synczLocal = async (): Promise<SyncStatus[]> =>
    (await (await fetch(`${istiod!.httpUrl}/debug/syncz`)).json()) as SyncStatus[];
  const mine = async (): Promise<SyncStatus | undefined> =>
    (await synczLocal()).find((x) => x.proxy === sc().envoys[0]!.proxyId);

  /** gwdoctor's live reader as `user` (impersonated), exactly as the CLI builds it from a kubeconfig. */
  const readerAs = (user: string) => LiveCluster.create({ ok: true, kind: 'files', files: [kubeconfig(user)] }, null);

  const env = async (cluster: LiveCluster): Promise<Env> => ({
    cluster,
    clusterUnavailable: null,
    gatewayFilter: null,
    offline: true,
    net: { resolvers: [], expectIps: [], caFile: null, port: null } as never,
    resolver: async () => {
      throw new Error('offline');
    },
    probe: async () => {
      throw new Error('offline');
    },
    signal: AbortSignal.timeout(90_000),
  });
  const dp = async (user = OPTED_IN) => {
    const rep = await runTarget(LAYERS, parseTarget('https://api.example.com/'), await env(await readerAs(user)), {
      until: null,
      intervalMs: 0,
    });
    return { rep, layer: rep.layers.find((l) => l.id === 'dataplane')! };
  };
  /** The stand-in's log since `from`: which port-forwards the API server sent it. */
  const kubeletLog = () =>
    s
      .get()!
      .kubelets.map((k) => readFileSync(k.log, 'utf8'))
      .join('\n');

  itEnvoy(
    "connected and synced: pass; istiod's syncz and config_dump and the Envoy's admin read through the real API server, the kubelet stand-in, the real istiod and Envoy",
    async () => {
      const before = kubeletLog().length;
      const { rep, layer } = await dp();
      expect(layer.status, `${layer.summary}\n${JSON.stringify(layer.evidence, null, 1)}`).toBe('pass');
      expect(outcome(rep)).toMatchObject({ verdict: 'pass' });
      const fact = layer.facts.dataplane!;
      expect(fact.istiod).toEqual({
        read: 'ok',
        pods: [{ apiVersion: 'v1', kind: 'Pod', namespace: ISTIOD.namespace, name: 'istiod-lane' }],
      });
      const st = await mine();
      expect(fact.proxies[0]?.connected).toBe(true);
      expect(new Set(fact.proxies[0]?.xds.map((t) => t.status))).toEqual(new Set(['SYNCED']));
      expect(Object.keys(st?.resources ?? {}).length).toBe(fact.proxies[0]?.xds.length);
      // istiod's generated route (its config_dump for the proxy) and the Envoy's own (its admin): both read.
      expect(fact.proxies[0]?.route).toMatchObject({
        kind: 'route',
        clusters: ['outbound|3000||example-api.example-api.svc.cluster.local'],
      });
      expect(fact.envoy?.pods).toHaveLength(1);
      expect(JSON.stringify(fact.envoy)).toContain('outbound|3000||example-api.example-api.svc.cluster.local');
      // Every read crossed the kubelet: the API server sent it the port-forwards to istiod's 15014 and the Envoy's 15000.
      const log = kubeletLog().slice(before);
      expect(log).toMatch(/GET \/portForward\/istio-system\/istiod-lane\?port=15014 /);
      expect(log).toMatch(new RegExp(`GET /portForward/${GW_NS}/[^?]+\\?port=15000 `));
      expect(log).toMatch(/forward istio-system\/istiod-lane port 15014 -> 192\.0\.2\.\d+:15014/);
      expect(
        validateReport({
          schemaVersion: 'gwdoctor.report/v3',
          generatedAt: new Date().toISOString(),
          durationMs: 0,
          source: { mode: 'live', offline: true },
          targets: [rep],
        }),
        JSON.stringify(validateReport.errors),
      ).toBe(true);
      expect(await sc().request('api.example.com')).toMatchObject({ status: 200 });
      // The CLI as the user runs it: the same pass, a schema-valid report, exit 0.
      const cli = await gwdoctorAsync([
        '--kubeconfig',
        kubeconfig(OPTED_IN),
        '--offline',
        '-o',
        'json',
        'api.example.com',
      ]);
      const report = JSON.parse(cli.stdout) as {
        targets: { layers: { id: string; status: string; code: string | null }[] }[];
      };
      expect(validateReport(report), JSON.stringify(validateReport.errors)).toBe(true);
      expect(report.targets[0]?.layers.find((l) => l.id === 'dataplane')).toMatchObject({ status: 'pass' });
      expect(cli.code).toBe(0);
    },
  );

  itEnvoy(
    "istiod's Service through the API server (services/proxy) is no way in: istiod answers 401 to a caller that is not loopback",
    async () => {
      // What `kubectl get --raw .../services/istiod:15014/proxy/debug/syncz` gets, as admin (no RBAC in the way):
      // istiod's own 401 (debug.go allowAuthenticatedOrLocalhost), not the API server's. gwdoctor never asks it.
      const r = await until('the API server proxies to istiod', async () => {
        const a = await kube!.raw(
          'GET',
          `/api/v1/namespaces/${ISTIOD.namespace}/services/${ISTIOD.name}:${ISTIOD.port}/proxy/debug/syncz`,
        );
        // The API server's own answers (no endpoint yet in its informer) are a v1 Status; istiod's 401 is empty.
        const status = typeof a.json === 'object' && a.json !== null && (a.json as { kind?: string }).kind === 'Status';
        return status ? null : a;
      });
      expect(r.status, JSON.stringify(r.json)).toBe(401);
      // The same istiod, through the port-forward: its sync state (the relay kept the kubelet's loopback caller).
      expect((await mine())?.proxy).toBe(sc().envoys[0]!.proxyId);
      expect((await dp()).layer.facts.dataplane?.istiod.read).toBe('ok');
    },
  );

  itEnvoy(
    "without the opt-in roles: not checked, naming the missing verbs, on the real API server's 403 to the port-forward",
    async () => {
      const before = kubeletLog().length;
      const { layer } = await dp(BASE_ONLY);
      expect(layer.status, layer.summary).toBe('skip');
      expect(layer.facts.skipped?.reason).toBe('forbidden');
      expect(layer.summary).toContain('cannot get+create pods/portforward in namespace istio-system');
      expect(layer.summary).toContain('deploy/rbac-dataplane.yaml');
      // The Envoy part says its own: the same verbs in the gateway's namespace.
      expect(layer.facts.dataplane?.istiod.read).toBe('forbidden');
      expect(JSON.stringify(layer.evidence)).toMatch(
        new RegExp(`the API server answered 403 to a port-forward to Pod ${GW_NS}/`),
      );
      // Refused by the API server: nothing reached the kubelet.
      expect(kubeletLog().slice(before)).not.toMatch(/portForward/);
    },
  );

  itEnvoy(
    "a NACKed push: GatewayProxyRejected quotes istiod's lastError, while the real Envoy keeps serving the old listener (200)",
    async () => {
      const filter = {
        apiVersion: 'networking.istio.io/v1alpha3',
        kind: 'EnvoyFilter',
        metadata: { name: 'gwdoctor-nack', namespace: GW_NS },
        spec: {
          workloadSelector: { labels: { 'gateway.networking.k8s.io/gateway-name': 'example-istio-gateway' } },
          configPatches: [
            {
              applyTo: 'HTTP_FILTER',
              match: {
                context: 'GATEWAY',
                listener: { filterChain: { filter: { name: 'envoy.filters.network.http_connection_manager' } } },
              },
              patch: {
                operation: 'INSERT_BEFORE',
                value: {
                  name: 'gwdoctor.unknown',
                  typed_config: {
                    '@type': 'type.googleapis.com/udpa.type.v1.TypedStruct',
                    type_url: 'type.googleapis.com/gwdoctor.Unknown',
                    value: {},
                  },
                },
              },
            },
          ],
        },
      };
      await kube!.create(filter as never);
      try {
        const st = await until('istiod records the NACK', async () => {
          const m = await mine();
          return Object.values(m?.resources ?? {}).some((r) => r.lastError) ? m : null;
        });
        const nacked = Object.entries(st.resources ?? {}).find(([, r]) => r.lastError)!;
        const { rep, layer } = await dp();
        expect(outcome(rep)).toMatchObject({ verdict: 'fail', layer: 'dataplane', code: 'GatewayProxyRejected' });
        expect(layer.summary).toContain(nacked[1].lastError);
        const t = layer.facts.dataplane?.proxies[0]?.xds.find((x) => x.status === 'ERROR');
        expect(t).toMatchObject({ sent: nacked[1].sent, acked: nacked[1].acked ?? '', error: nacked[1].lastError });
        // The Envoy's own side of the NACK, read from its admin through the port-forward: the listener's error_state.
        const envoyPod = layer.facts.dataplane?.envoy?.pods[0];
        expect(envoyPod).toMatchObject({ read: 'ok', connected: true });
        expect(envoyPod?.rejected.map((r) => r.details).join('\n')).toContain('gwdoctor.Unknown');
        // Every status is green and the real Envoy still answers from the listener it accepted before.
        expect(await sc().request('api.example.com')).toMatchObject({ status: 200 });
      } finally {
        await kube!.delete(filter as never);
      }
      await until('the next push is acknowledged', async () =>
        Object.values((await mine())?.resources ?? {}).every((r) => !r.lastError && r.sent === r.acked),
      );
      expect((await dp()).layer.status).toBe('pass');
    },
  );

  itEnvoy(
    "istiod's generated route differs from the prediction (an EnvoyFilter re-points the route): GatewayRouteDiffers names both, and the real request reaches the other backend",
    async () => {
      // The prediction agrees with istiod before the filter.
      const before = await dp();
      expect(before.layer.status).toBe('pass');
      expect(before.layer.facts.dataplane?.predicted).toEqual(['outbound|3000||example-api.example-api.svc.']);
      expect(before.layer.facts.dataplane?.proxies[0]?.route).toMatchObject({
        kind: 'route',
        clusters: ['outbound|3000||example-api.example-api.svc.cluster.local'],
      });
      const worker = 'outbound|8000||example-worker.example-worker.svc.cluster.local';
      const filter = {
        apiVersion: 'networking.istio.io/v1alpha3',
        kind: 'EnvoyFilter',
        metadata: { name: 'gwdoctor-reroute', namespace: GW_NS },
        spec: {
          workloadSelector: { labels: { 'gateway.networking.k8s.io/gateway-name': 'example-istio-gateway' } },
          configPatches: [
            {
              applyTo: 'HTTP_ROUTE',
              match: { context: 'GATEWAY', routeConfiguration: { vhost: { name: 'api.example.com:80' } } },
              patch: { operation: 'MERGE', value: { route: { cluster: worker } } },
            },
          ],
        },
      };
      await kube!.create(filter as never);
      try {
        // Wait on the real Envoy: the request for api.example.com now answered by the worker Pod.
        const a = await until('the Envoy serves the patched route', async () => {
          const r = await sc().request('api.example.com');
          return r.backend?.startsWith('example-worker/') ? r : null;
        });
        const { rep, layer } = await dp();
        expect(outcome(rep)).toMatchObject({ verdict: 'fail', layer: 'dataplane', code: 'GatewayRouteDiffers' });
        expect(layer.summary).toContain(worker);
        expect(layer.summary).toContain('outbound|3000||example-api.example-api.svc.');
        expect(layer.facts.dataplane?.proxies[0]?.route?.clusters).toEqual([worker]);
        expect(a.status).toBe(200);
      } finally {
        await kube!.delete(filter as never);
      }
      await until('the route is back', async () =>
        (await sc().request('api.example.com')).backend?.startsWith('example-api/'),
      );
      await until('and acknowledged', async () =>
        Object.values((await mine())?.resources ?? {}).every((r) => !r.lastError && r.sent === r.acked),
      );
      expect((await dp()).layer.status).toBe('pass');
    },
  );

  itEnvoy(
    'a route change while the Envoy is paused (connected, never acknowledging): GatewayProxyStale with the nonces istiod sent and the Envoy acked',
    async () => {
      const e = sc().envoys[0]!;
      const routes = (await kube!.get('/apis/gateway.networking.k8s.io/v1/httproutes')) as {
        items: { metadata: { name: string; namespace: string }; spec: { hostnames?: string[] } }[];
      };
      const r0 = routes.items.find((r) => r.spec.hostnames?.includes('api.example.com'))!;
      process.kill(e.pid!, 'SIGSTOP');
      try {
        // A change istiod pushes to the gateway: a header added by the route's first rule.
        await kube!.raw(
          'PATCH',
          `/apis/gateway.networking.k8s.io/v1/namespaces/${r0.metadata.namespace}/httproutes/${r0.metadata.name}`,
          [
            { op: 'add', path: '/metadata/labels', value: { 'gwdoctor-stale': 'x' } },
            {
              op: 'add',
              path: '/spec/rules/0/filters',
              value: [
                {
                  type: 'ResponseHeaderModifier',
                  responseHeaderModifier: { add: [{ name: 'x-gwdoctor-stale', value: '1' }] },
                },
              ],
            },
          ],
          'application/json-patch+json',
        );
        const st = await until('istiod sends a push the paused Envoy does not acknowledge', async () => {
          const m = await mine();
          return Object.values(m?.resources ?? {}).some((r) => r.sent && r.sent !== r.acked && !r.lastError) ? m : null;
        });
        const { rep, layer } = await dp();
        expect(outcome(rep)).toMatchObject({ verdict: 'fail', layer: 'dataplane', code: 'GatewayProxyStale' });
        const stale = Object.entries(st.resources ?? {})
          .filter(([, r]) => r.sent !== r.acked)
          .map(([, r]) => r.sent);
        expect(layer.facts.dataplane?.proxies[0]?.xds.filter((x) => x.status === 'STALE').map((x) => x.sent)).toEqual(
          expect.arrayContaining(stale.slice(0, 1)),
        );
        expect(layer.fix).toMatchObject({ kind: 'manual' });
      } finally {
        process.kill(e.pid!, 'SIGCONT');
      }
      await until('the resumed Envoy acknowledges', async () =>
        Object.values((await mine())?.resources ?? {}).every((r) => !r.lastError && r.sent === r.acked),
      );
      expect((await dp()).layer.status).toBe('pass');
    },
  );

  itEnvoy(
    "cost (issue 19 item 6): istiod's state is read once per run, not per host; the extra API requests and time for 1 host and 100 hosts",
    async () => {
      // 100 more hosts on the same Gateway and backend: ten HTTPRoutes of ten hostnames each, like the seed's api route.
      const api = (await kube!.get(
        '/apis/gateway.networking.k8s.io/v1/namespaces/istio-ingress/httproutes/example-api',
      )) as { spec: { parentRefs: unknown; rules: { backendRefs: unknown }[] } };
      const made: Obj[] = [];
      const hosts = Array.from({ length: 100 }, (_, i) => `c${i}.example.com`);
      try {
        for (let k = 0; k < 10; k++) {
          made.push(
            await kube!.create({
              apiVersion: 'gateway.networking.k8s.io/v1',
              kind: 'HTTPRoute',
              metadata: { name: `gwdoctor-cost-${k}`, namespace: GW_NS },
              spec: {
                hostnames: hosts.slice(k * 10, k * 10 + 10),
                parentRefs: api.spec.parentRefs,
                rules: [{ backendRefs: api.spec.rules[0]!.backendRefs }],
              },
            }),
          );
        }
        await until('istiod accepts the routes', async () => {
          const rs = (await kube!.get(`/apis/gateway.networking.k8s.io/v1/namespaces/${GW_NS}/httproutes`)) as {
            items: {
              metadata: { name: string };
              status?: { parents?: { conditions?: { type: string; status: string }[] }[] };
            }[];
          };
          return (
            rs.items.filter(
              (r) =>
                r.metadata.name.startsWith('gwdoctor-cost-') &&
                r.status?.parents?.[0]?.conditions?.some((c) => c.type === 'Accepted' && c.status === 'True'),
            ).length === 10
          );
        });
        const proxy = await countingProxy(live!.server, live!.caFile);
        try {
          const kc = writeKubeconfig(
            join(live!.dir, `kubeconfig-dataplane-cost-${Date.now()}`),
            proxy.url,
            'admin-token',
            null,
            OPTED_IN,
          );
          const measure = async (layers: typeof LAYERS, targets: string[]) => {
            proxy.requests.length = 0;
            const cluster = await LiveCluster.create({ ok: true, kind: 'files', files: [kc] }, null);
            const t = performance.now();
            const reps = [];
            for (const h of targets)
              reps.push(
                await runTarget(layers, parseTarget(`https://${h}/`), await env(cluster), {
                  until: null,
                  intervalMs: 0,
                }),
              );
            return { requests: [...proxy.requests], ms: performance.now() - t, reps };
          };
          const without = LAYERS.filter((l) => l.id !== 'dataplane');
          const rows: string[] = [];
          const extra: number[] = [];
          const added1: string[] = [];
          for (const targets of [hosts.slice(0, 1), hosts]) {
            const a = await measure(without, targets);
            const b = await measure(LAYERS, targets);
            // Every host judged by the data plane layer on what istiod and the Envoy said through the port-forwards.
            expect(b.reps.map((r) => r.layers.find((l) => l.id === 'dataplane')?.status)).toEqual(
              targets.map(() => 'pass'),
            );
            const added = b.requests.filter((r) => !a.requests.includes(r));
            if (targets.length === 1) added1.push(...added);
            extra.push(b.requests.length - a.requests.length);
            rows.push(
              `| ${targets.length} host${targets.length > 1 ? 's' : ''} | ${a.requests.length} | ${b.requests.length} | ${Math.round(a.ms)} | ${Math.round(b.ms)} | ${added.join('<br>')} |`,
            );
          }
          process.stderr.write(
            `[dataplane cost]\n| hosts | API requests without the layer | with | ms without | ms with | requests the layer adds |\n${rows.join('\n')}\n`,
          );
          // Read once per run: 100 hosts add exactly what one host adds.
          expect(extra[1]).toBe(extra[0]);
          // What the layer adds, once: istiod's Pods (a list), per istiod Pod one port-forward for /debug/syncz, per
          // connected proxy one for its /debug/config_dump, per gateway Pod three to its Envoy's admin.
          const forwards = added1.filter((r) => /\/portforward\?/.test(r));
          expect(forwards).toHaveLength(1 + sc().envoys.length + 3 * sc().envoys.length);
          // And reads: istiod's Pods, the gateway's Service, Pods (at most three lists).
          expect((extra[0] ?? 0) - forwards.length).toBeLessThanOrEqual(3);
        } finally {
          await proxy.close();
        }
      } finally {
        for (const o of made) await kube!.delete(o);
      }
    },
  );

  itEnvoy('the gateway Envoy stopped: GatewayProxyNotConnected, and the real request is refused', async () => {
    const e = sc().envoys[0]!;
    await e.stop();
    await until('istiod drops the proxy', async () => !(await mine()));
    const { rep, layer } = await dp();
    expect(outcome(rep)).toMatchObject({ verdict: 'fail', layer: 'dataplane', code: 'GatewayProxyNotConnected' });
    expect(layer.facts.dataplane?.proxies[0]).toMatchObject({ proxyId: e.proxyId, connected: false });
    // The real request through the NodePort stand-in (in the stopped Envoy): refused.
    const np = e.nodePorts.find((x) => x.servicePort === 80)!;
    expect(await sendRequest(np.address, np.nodePort, 'api.example.com', '/')).toMatchObject({ error: 'refused' });
  });
});
