// The Envoy part of the dataplane layer (src/dataplane/envoy-*.ts), judged by the real lane Envoy: one upstream Envoy
// per gateway Pod, configured by the lane's istiod over ADS (harness/envoy.ts). gwdoctor reads each Envoy's admin
// through its own transport, end to end: client-node's WebSocket port-forward -> the real kube-apiserver (RBAC: a user
// bound to deploy/rbac.yaml and deploy/rbac-envoy-admin.yaml only, impersonated by the admin token) -> the lane's
// kubelet stand-in on the Node (the real kubelet's streaming code, harness/kubelet.ts) -> the gateway Pod's IP (a
// TEST-NET-1 address on lo) and port 15000, where the lane's Envoy binds its admin. The test only chooses which gateway
// Pods' answers gwdoctor gets (`look(..., envoys)`: the others answer "not read"), and records what crossed.
// The describe at the end keeps a lane without kubelets: the API server's RBAC answers and its answer when no kubelet
// can serve the port-forward.
//
// GWDOCTOR_ENVOY_RECORD=<dir>: write every Envoy answer read here (per case) to <dir>/<case>/ (test/unit/data/envoy-admin).

import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer, connect, type Server, type Socket } from 'node:net';
import { join } from 'node:path';
import { parseAllDocuments } from 'yaml';
import { afterAll, beforeAll, describe, expect } from 'vitest';
import { LAYERS } from '../../checks/index.js';
import { LiveCluster } from '../../src/cluster/live.js';
import { offlineEnv, runTarget } from '../../src/pipeline.js';
import { pollUntil } from '../helpers/poll.js';
import type { Finding } from '../../src/types.js';
import type { AdminGet } from '../../src/dataplane/envoy-admin.js';
import { judgeEnvoys, type EnvoyVerdict } from '../../src/dataplane/envoy-judge.js';
import { resolveEnvoys } from '../../src/dataplane/envoy-stage.js';
import { PathResolver } from '../../src/gatewayapi/resolver.js';
import { parseTarget } from '../../src/target.js';
import { ROOT, validateReport } from '../helpers/cli.js';
import { readyPodStatus } from './harness/apply.js';
import { writeKubeconfig } from './harness/controlplane.js';
import { addTestNetAddress, removeTestNetAddress } from './harness/kubelet.js';
import { startGatewayEnvoy, type GatewayEnvoy } from './harness/envoy.js';
import { Kube, type Obj } from './harness/kube.js';
import { itEnvoy, live, liveCluster, scenarioWithEnvoy } from './live.js';

const GW_NS = 'istio-ingress';
const GW = 'example-istio-gateway';
const GW_LABEL = `gateway.networking.k8s.io/gateway-name=${GW}`;
const WORKER_CLUSTER = 'outbound|8000||example-worker.example-worker.svc.cluster.local';
const API_CLUSTER = 'outbound|3000||example-api.example-api.svc.cluster.local';
const RECORD = process.env['GWDOCTOR_ENVOY_RECORD'];

const until = <T>(what: string, f: () => Promise<T | undefined>, ms = 30_000): Promise<T> => pollUntil(what, f, ms);

const adminJson = async (e: GatewayEnvoy, path: string): Promise<unknown> =>
  (await fetch(`${e.adminUrl}${path}`)).json();
/** An Envoy stat by name; for a cluster's stat, Istio's alt_stat_name may end the cluster's part with ";" (matched by suffix). */
async function stat(e: GatewayEnvoy, name: string, cluster?: string): Promise<number | null> {
  const j = (await adminJson(
    e,
    `/stats?format=json&filter=${encodeURIComponent(name.replace(/[.|]/g, (c) => `\\${c}`) + '$')}`,
  )) as { stats?: { name: string; value?: number }[] };
  const s = j.stats?.find((x) =>
    cluster ? x.name.startsWith(`cluster.${cluster}`) && x.name.endsWith(`.${name}`) : x.name === name,
  );
  return typeof s?.value === 'number' ? s.value : null;
}

/** Every error_state.details anywhere in a config dump (Envoy's UpdateFailureState), found without gwdoctor's parser. */
function errorDetails(v: unknown, out: string[] = []): string[] {
  if (Array.isArray(v)) for (const x of v) errorDetails(x, out);
  else if (v && typeof v === 'object') {
    for (const [k, x] of Object.entries(v)) {
      if (k === 'error_state' && typeof (x as { details?: unknown }).details === 'string')
        out.push((x as { details: string }).details);
      else errorDetails(x, out);
    }
  }
  return out;
}

/** gwdoctor's user here: deploy/rbac.yaml's ClusterRole and deploy/rbac-envoy-admin.yaml's Role, nothing else. */
const ENVOY_USER = `gwdoctor-envoy-${process.pid}-${Date.now().toString(36)}`;

describe('the Envoy part of the dataplane layer on the real lane Envoy, through pods/portforward (seed-healthy)', () => {
  const s = scenarioWithEnvoy('seed-healthy', { kubelets: true });
  const extra: { stop(): Promise<void> }[] = [];
  const bound: Obj[] = [];
  let kc = '';
  beforeAll(async () => {
    if (!s.get() || !live) return;
    const k = new Kube(live.server, readFileSync(live.caFile), 'admin-token');
    const base = parseAllDocuments(readFileSync(join(ROOT, 'deploy', 'rbac.yaml'), 'utf8'))
      .map((d) => d.toJS() as Obj)
      .find((d) => d.kind === 'ClusterRole')!;
    bound.push(
      await k.create({
        apiVersion: 'rbac.authorization.k8s.io/v1',
        kind: 'ClusterRoleBinding',
        metadata: { name: ENVOY_USER },
        roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: base.metadata.name },
        subjects: [{ apiGroup: 'rbac.authorization.k8s.io', kind: 'User', name: ENVOY_USER }],
      }),
    );
    const role = parseAllDocuments(readFileSync(join(ROOT, 'deploy', 'rbac-envoy-admin.yaml'), 'utf8'))
      .map((d) => d.toJS() as Obj & { rules?: unknown[] })
      .find((d) => d.kind === 'Role')!;
    bound.push(
      await k.create({
        apiVersion: 'rbac.authorization.k8s.io/v1',
        kind: 'Role',
        metadata: { name: ENVOY_USER, namespace: GW_NS },
        rules: role.rules,
      }),
    );
    bound.push(
      await k.create({
        apiVersion: 'rbac.authorization.k8s.io/v1',
        kind: 'RoleBinding',
        metadata: { name: ENVOY_USER, namespace: GW_NS },
        roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'Role', name: ENVOY_USER },
        subjects: [{ apiGroup: 'rbac.authorization.k8s.io', kind: 'User', name: ENVOY_USER }],
      }),
    );
    const pf = (verb: string) => ({ verb, resource: 'pods', subresource: 'portforward', namespace: GW_NS });
    await k.waitAllowed(ENVOY_USER, [
      pf('get'),
      pf('create'),
      { verb: 'list', group: 'gateway.networking.k8s.io', resource: 'httproutes' },
    ] as never);
    kc = writeKubeconfig(
      join(live.dir, `kubeconfig-${ENVOY_USER}`),
      live.server,
      'admin-token',
      live.caFile,
      ENVOY_USER,
    );
  }, 60_000);
  afterAll(async () => {
    for (const x of extra.reverse()) await x.stop();
    const k = live ? new Kube(live.server, readFileSync(live.caFile), 'admin-token') : null;
    for (const o of bound.reverse()) await k?.delete(o).catch(() => {});
  }, 60_000);
  /** gwdoctor's reader as the user above, built as the CLI builds it. */
  const reader = () => LiveCluster.create({ ok: true, kind: 'files', files: [kc] }, null);
  const lane = () => {
    const st = s.get();
    if (!st) throw new Error('no lane');
    return st;
  };
  const kube = () => lane().lane.o.kube;

  /**
   * gwdoctor's own transport (the port-forward), observed: what each read carried is kept in `seen`; a gateway Pod not
   * in `envoys` answers "not read" (the test picks whose Envoy gwdoctor hears).
   */
  function realAdmin(
    cluster: LiveCluster,
    envoys: GatewayEnvoy[],
    seen: Map<string, string>,
  ): (ns: string, pod: string) => AdminGet {
    const forward = cluster.envoyAdmin.bind(cluster);
    return (ns, pod) => {
      const e = envoys.find((x) => x.pod === `${ns}/${pod}`);
      const get = forward(ns, pod);
      return async (path) => {
        if (!e) return { kind: 'unreachable', why: `not read here: the test reads only ${envoys.map((x) => x.pod)}` };
        const a = await get(path);
        if (a.kind === 'ok') seen.set(`${pod}${path}`, a.body);
        return a;
      };
    };
  }

  /** gwdoctor's stage and judge for `target`, reading the lane Envoys in `envoys` (recorded as case `name`). */
  async function look(name: string, target: string, envoys: GatewayEnvoy[] = lane().sc.envoys): Promise<EnvoyVerdict> {
    const cluster = await reader();
    const seen = new Map<string, string>();
    cluster.envoyAdmin = realAdmin(cluster, envoys, seen);
    const p = new PathResolver(cluster, parseTarget(target), null);
    expect((await p.listener()).kind).toBe('ok');
    expect((await p.route()).kind).toBe('matched');
    const st = await resolveEnvoys(p);
    if (st.kind !== 'read') throw new Error(`not read: ${st.why}`);
    const v = judgeEnvoys(st.pods, st.prediction, st.request);
    if (RECORD) {
      const dir = join(RECORD, name);
      mkdirSync(dir, { recursive: true });
      for (const [k, body] of seen)
        writeFileSync(join(dir, k.replace(/[/?&=%]+/g, '_').replace(/^_+|_+$/g, '') + '.json'), body);
      writeFileSync(
        join(dir, 'case.json'),
        `${JSON.stringify({ target, pods: st.pods.map((x) => ({ pod: x.pod, node: x.node })), prediction: st.prediction, request: st.request, verdict: { code: v.code, summary: v.summary } }, null, 2)}\n`,
      );
    }
    return v;
  }

  /**
   * gwdoctor's whole pipeline (offline: no network probes) as the user above, the Envoys read through the same
   * transport; an istiod Pod exists for the run (label app=istiod, Running), and the user may not port-forward to it:
   * istiod's own view is "not checked" (the API server's 403), which the Envoy part's fault overrides. Returns the
   * dataplane finding, the report validated against the schema.
   */
  async function dataplaneLayer(target: string, envoys: GatewayEnvoy[] = lane().sc.envoys): Promise<Finding> {
    const k = kube();
    await k.raw('POST', '/api/v1/namespaces', {
      apiVersion: 'v1',
      kind: 'Namespace',
      metadata: { name: 'istio-system' },
    });
    const istiodPod = await k.create({
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: { name: 'istiod-envoy-test', namespace: 'istio-system', labels: { app: 'istiod' } },
      spec: { nodeName: 'node-1', containers: [{ name: 'discovery', image: 'docker.io/istio/pilot' }] },
    });
    await k.patchStatus(istiodPod, { phase: 'Running' });
    try {
      const cluster = await reader();
      cluster.envoyAdmin = realAdmin(cluster, envoys, new Map());
      const rep = await runTarget(
        LAYERS,
        parseTarget(target),
        offlineEnv(cluster, { signal: AbortSignal.timeout(60_000) }, 'offline: no network probe'),
        { until: null, intervalMs: 0 },
      );
      const report = {
        schemaVersion: 'gwdoctor.report/v3',
        generatedAt: new Date().toISOString(),
        durationMs: 1,
        source: { mode: 'live', ...cluster.describeSource(), offline: true },
        targets: [rep],
      };
      expect(validateReport(report), JSON.stringify(validateReport.errors)).toBe(true);
      return rep.layers.find((l) => l.id === 'dataplane') as Finding;
    } finally {
      await k.delete(istiodPod);
    }
  }

  itEnvoy(
    'healthy: the Envoy routes api.example.com by the route gwdoctor predicts, to a healthy host: no finding',
    async () => {
      const v = await look('healthy', 'api.example.com');
      expect(v.code).toBeNull();
      expect(v.judged).toBe(true);
      const pod = v.facts.pods[0]!;
      expect(pod).toMatchObject({
        read: 'ok',
        connected: true,
        listener: '0.0.0.0_80',
        routeConfig: 'http.80',
        virtualHost: 'api.example.com:80',
        route: 'istio-ingress.example-api.0',
        action: 'cluster',
      });
      expect(pod.clusters).toEqual([{ name: API_CLUSTER, hosts: [expect.objectContaining({ health: ['healthy'] })] }]);
      expect(v.facts.predicted).toMatchObject({ envoyRoute: 'istio-ingress.example-api.0', clusters: [API_CLUSTER] });
      // Through the pipeline: istiod's own view is not checked here (no port-forward to istiod for this user); the
      // Envoys were read and serve the prediction: a pass that says both.
      const layer = await dataplaneLayer('api.example.com');
      expect(layer).toMatchObject({ status: 'pass', code: null });
      expect(layer.summary).toBe(
        `${v.summary}; istiod's view: not checked: forbidden: cannot get+create pods/portforward in namespace istio-system (opt-in: deploy/rbac-dataplane.yaml)`,
      );
      expect(layer.evidence).toEqual(expect.arrayContaining(v.evidence));
      expect(layer.facts.dataplane?.envoy?.pods[0]).toMatchObject({
        read: 'ok',
        match: 'route',
        route: 'istio-ingress.example-api.0',
      });
      // The real request agrees: the Pod behind that cluster answers.
      expect(await lane().sc.request('api.example.com')).toMatchObject({
        status: 200,
        backend: 'example-api/example-api-7d9f8c6b5-x2k4p',
      });
    },
  );

  itEnvoy(
    'ejected: the slice calls the endpoint ready, nothing answers there, Envoy ejects it (outlier detection): EnvoyNoHealthyHost names failed_outlier_check',
    async () => {
      const k = kube();
      const [slice] = await k.list(
        'discovery.k8s.io/v1',
        'EndpointSlice',
        'example-worker',
        'endpointslice.kubernetes.io/managed-by=envoy-lane.gwdoctor.test',
      );
      if (!slice) throw new Error('no lane slice for example-worker');
      const dead = lane().lane.pool.next(); // a lane address nothing listens on: every connection is refused
      const eps = slice['endpoints'] as { addresses: string[]; conditions?: unknown }[];
      const dr: Obj = {
        apiVersion: 'networking.istio.io/v1',
        kind: 'DestinationRule',
        metadata: { name: 'gwdoctor-eject', namespace: 'example-worker' },
        spec: {
          host: 'example-worker.example-worker.svc.cluster.local',
          trafficPolicy: {
            outlierDetection: {
              consecutive5xxErrors: 1,
              interval: '1s',
              baseEjectionTime: '300s',
              maxEjectionPercent: 100,
            },
          },
        },
      };
      const e = lane().sc.envoys[0]!;
      await k.create(dr);
      try {
        await lane().lane.writeSlice({
          ...slice,
          endpoints: eps.map((x) => ({
            ...x,
            addresses: [dead],
            conditions: { ready: true, serving: true, terminating: false },
          })),
        });
        // Envoy has the dead host and the DestinationRule's outlier detection: read from its admin, never a sleep.
        await until('Envoy to have the dead host and outlier detection', async () => {
          const c = (await adminJson(e, '/clusters?format=json')) as {
            cluster_statuses: {
              name: string;
              host_statuses?: { address?: { socket_address?: { address?: string } } }[];
            }[];
          };
          const hosts = c.cluster_statuses.find((x) => x.name === WORKER_CLUSTER)?.host_statuses ?? [];
          const dump = JSON.stringify(await adminJson(e, '/config_dump?resource=dynamic_active_clusters'));
          return hosts.length === 1 &&
            hosts[0]?.address?.socket_address?.address === dead &&
            dump.includes('outlier_detection')
            ? true
            : undefined;
        });
        // Real requests until Envoy ejects the host (its own counter), each refused connection counting as a 5xx.
        await until('Envoy to eject the host', async () => {
          if (((await stat(e, 'outlier_detection.ejections_active', WORKER_CLUSTER)) ?? 0) >= 1) return true;
          await lane().sc.request('worker.example.com');
          return undefined;
        });
        const v = await look('ejected', 'worker.example.com');
        expect(v.code).toBe('EnvoyNoHealthyHost');
        expect(v.summary).toContain(`${dead} failed_outlier_check`);
        expect(v.facts.pods[0]?.clusters?.[0]?.hosts).toEqual([
          { address: dead, port: 8000, health: ['failed_outlier_check'] },
        ]);
        expect(v.fix).toMatchObject({
          kind: 'command',
          argv: ['kubectl', '-n', 'example-worker', 'get', 'pods', '-o', 'wide'],
        });
        // The same through the whole pipeline: the dataplane layer's finding, its facts in the report's schema.
        const layer = await dataplaneLayer('worker.example.com');
        expect(layer).toMatchObject({ status: 'fail', code: 'EnvoyNoHealthyHost', summary: v.summary });
        expect(layer.facts.dataplane?.envoy?.pods[0]?.clusters[0]?.hosts?.[0]?.health).toEqual([
          'failed_outlier_check',
        ]);
        // What the client gets from that Envoy now: the 503 the finding names.
        expect(await lane().sc.request('worker.example.com')).toMatchObject({
          status: 503,
          body: 'no healthy upstream',
        });
      } finally {
        await k.delete(dr);
        await lane().lane.writeSlice(slice);
      }
      await until('the worker backend to answer again', async () =>
        (await lane().sc.request('worker.example.com')).status === 200 ? true : undefined,
      );
    },
  );

  itEnvoy(
    'two gateway Pods, one cut off from istiod, then a route changes: EnvoyPodsDisagree names both; the printed fix (delete the stale Pod) makes them agree',
    async () => {
      const k = kube();
      const st = lane();
      const [podA] = await k.list('v1', 'Pod', GW_NS, GW_LABEL);
      if (!podA) throw new Error('no gateway Pod');
      // A second gateway Pod, bound to the same Node, Running and Ready, outside the gateway's ReplicaSet: without
      // pod-template-hash its selector does not match, so the real controller-manager neither adopts it nor scales the
      // set down by deleting a Pod (with that label it does both, and the test would race it).
      const md = podA.metadata as Record<string, unknown>;
      const labels = Object.fromEntries(
        Object.entries((md['labels'] ?? {}) as Record<string, string>).filter(([key]) => key !== 'pod-template-hash'),
      );
      const podB = await k.create({
        apiVersion: 'v1',
        kind: 'Pod',
        metadata: { name: `${podA.metadata.name}-b`, namespace: GW_NS, labels, annotations: md['annotations'] },
        spec: podA['spec'],
      });
      // Its Pod IP: a TEST-NET-1 address on lo, where its Envoy binds the admin port the kubelet stand-in dials.
      const addrB = addTestNetAddress();
      extra.push({ stop: async () => removeTestNetAddress(addrB) });
      const liveB = await k.patchStatus(podB, readyPodStatus(addrB));
      // Envoy B reaches istiod through a relay the test can cut (istiod is shared by the suite: it is never stopped).
      const istiodGrpc = st.lane.o.istiod.grpcAddr;
      const [ih, ip] = istiodGrpc.split(':') as [string, string];
      const sockets = new Set<Socket>();
      const relay: Server = createServer((c) => {
        const u = connect(Number(ip), ih);
        sockets.add(c).add(u);
        c.pipe(u).pipe(c);
        const drop = () => {
          c.destroy();
          u.destroy();
        };
        c.on('error', drop).on('close', drop);
        u.on('error', drop).on('close', drop);
      });
      await new Promise<void>((r) => relay.listen(0, '127.0.0.1', r));
      const cut = async () => {
        await new Promise<void>((r) => {
          relay.close(() => r());
          for (const x of sockets) x.destroy();
        });
      };
      extra.push({ stop: () => (relay.listening ? cut() : Promise.resolve()) });
      const dnsPort = await new Promise<number>((r) => {
        const srv = createServer().listen(0, '127.0.0.1', () => {
          const p = (srv.address() as { port: number }).port;
          srv.close(() => r(p));
        });
      });
      const svc = (await k.list('v1', 'Service', GW_NS, GW_LABEL))[0];
      const envoyB = await startGatewayEnvoy({
        bin: st.lane.o.bin,
        kube: k,
        istiod: { ...st.lane.o.istiod, grpcAddr: `127.0.0.1:${(relay.address() as { port: number }).port}` },
        pod: liveB,
        service: svc,
        listenerAddress: st.lane.gatewayAddress(GW_NS, GW),
        nodeAddresses: st.sc.nodeAddresses,
        dir: st.lane.o.dir,
        dnsPort,
      });
      extra.push(envoyB);
      const envoyA = st.sc.envoys[0]!;
      const both = [envoyA, envoyB];
      const route = (await k.list('gateway.networking.k8s.io/v1', 'HTTPRoute', GW_NS)).find(
        (r) => r.metadata.name === 'example-api',
      )!;
      const original = (route['spec'] as { rules: { backendRefs: unknown[] }[] }).rules[0]!.backendRefs[0];
      try {
        expect((await look('two-pods-agree', 'api.example.com', both)).code).toBeNull();
        // Cut B off, then change the route: only A hears of it.
        await cut();
        await until('Envoy B to see its xDS stream down', async () =>
          (await stat(envoyB, 'control_plane.connected_state')) === 0 ? true : undefined,
        );
        await k.raw(
          'PATCH',
          `/apis/gateway.networking.k8s.io/v1/namespaces/${GW_NS}/httproutes/example-api`,
          [
            {
              op: 'replace',
              path: '/spec/rules/0/backendRefs/0',
              value: {
                group: '',
                kind: 'Service',
                name: 'example-worker',
                namespace: 'example-worker',
                port: 8000,
                weight: 1,
              },
            },
          ],
          'application/json-patch+json',
        );
        await until('Envoy A to route api.example.com to the worker', async () =>
          JSON.stringify(await adminJson(envoyA, '/config_dump?resource=dynamic_route_configs')).includes(
            `"cluster":"${WORKER_CLUSTER}"`,
          )
            ? true
            : undefined,
        );
        const v = await look('two-pods-disagree', 'api.example.com', both);
        expect(v.code).toBe('EnvoyPodsDisagree');
        expect(v.summary).toContain(`${envoyA.pod}: listener 0.0.0.0_80`);
        expect(v.summary).toContain(`-> cluster ${WORKER_CLUSTER}`);
        expect(v.summary).toContain(`${envoyB.pod}: listener 0.0.0.0_80`);
        expect(v.summary).toContain(`-> cluster ${API_CLUSTER}`);
        expect(v.summary).toContain(`which ${envoyA.pod} serves`);
        expect(v.facts.pods.find((x) => x.pod === envoyB.pod)).toMatchObject({ connected: false });
        // Pod B is bare (no controller would recreate it): the delete is never given to paste, a manual step names it
        // (with a controller the fix is the delete: test/unit/dataplane-envoy.test.ts).
        expect(v.fix).toMatchObject({ kind: 'manual' });
        expect(JSON.stringify(v.fix)).toContain(`${envoyB.pod}: no controller recreates it`);
        expect(await dataplaneLayer('api.example.com', both)).toMatchObject({
          status: 'fail',
          code: 'EnvoyPodsDisagree',
          summary: v.summary,
        });
        // The stale Envoy alone (one gateway Pod): the route gwdoctor predicts differs, and it says the stream is down.
        const alone = await look('stale-alone', 'api.example.com', [envoyB]);
        expect(alone.facts.pods.filter((x) => x.read === 'ok').map((x) => x.pod)).toEqual([envoyB.pod]);
        expect(alone.code).toBe('EnvoyRouteDiffers');
        expect(alone.summary).toContain(
          `gwdoctor predicts HTTPRoute ${GW_NS}/example-api rules[0] (Envoy route istio-ingress.example-api.0) -> ${WORKER_CLUSTER}`,
        );
        expect(alone.summary).toContain(`-> cluster ${API_CLUSTER}`);
        expect(alone.summary).toContain('xDS stream to istiod is down');
        // What the manual step comes to for this Pod (the test made it: it goes, with its Envoy). Then gwdoctor again.
        await k.delete(liveB);
        await envoyB.stop();
        await until('the stale Pod to be gone', async () =>
          (await k.list('v1', 'Pod', GW_NS, GW_LABEL)).some((p) => p.metadata.name === liveB.metadata.name)
            ? undefined
            : true,
        );
        const after = await look('after-fix', 'api.example.com', both);
        expect(after.code).toBeNull();
        expect(after.facts.pods.map((x) => x.pod)).toEqual([envoyA.pod]);
      } finally {
        await k.raw(
          'PATCH',
          `/apis/gateway.networking.k8s.io/v1/namespaces/${GW_NS}/httproutes/example-api`,
          [{ op: 'replace', path: '/spec/rules/0/backendRefs/0', value: original }],
          'application/json-patch+json',
        );
        await k.delete(liveB);
      }
      await until('Envoy A to route api.example.com back to example-api', async () =>
        JSON.stringify(await adminJson(envoyA, '/config_dump?resource=dynamic_route_configs')).includes(
          `"cluster":"${API_CLUSTER}"`,
        )
          ? true
          : undefined,
      );
    },
  );

  itEnvoy(
    'a push the Envoy rejects (an EnvoyFilter with a filter no Envoy has): EnvoyConfigRejected quotes Envoy; the old listener keeps serving',
    async () => {
      const k = kube();
      const e = lane().sc.envoys[0]!;
      const ef: Obj = {
        apiVersion: 'networking.istio.io/v1alpha3',
        kind: 'EnvoyFilter',
        metadata: { name: 'gwdoctor-nack', namespace: GW_NS },
        spec: {
          workloadSelector: { labels: { 'gateway.networking.k8s.io/gateway-name': GW } },
          configPatches: [
            {
              applyTo: 'HTTP_FILTER',
              match: {
                context: 'GATEWAY',
                listener: {
                  filterChain: {
                    filter: {
                      name: 'envoy.filters.network.http_connection_manager',
                      subFilter: { name: 'envoy.filters.http.router' },
                    },
                  },
                },
              },
              patch: {
                operation: 'INSERT_BEFORE',
                value: {
                  name: 'gwdoctor.test.unknown',
                  typed_config: {
                    '@type': 'type.googleapis.com/udpa.type.v1.TypedStruct',
                    type_url: 'type.googleapis.com/gwdoctor.test.Unknown',
                  },
                },
              },
            },
          ],
        },
      };
      await k.create(ef);
      try {
        const details = await until('Envoy to reject the push', async () => {
          return errorDetails(await adminJson(e, '/config_dump'))[0];
        });
        const v = await look('nack', 'api.example.com');
        expect(v.code).toBe('EnvoyConfigRejected');
        // Envoy's own words, verbatim, in the summary and the facts.
        expect(v.summary).toContain(`"${details}"`);
        expect(v.facts.pods[0]?.rejected?.[0]).toMatchObject({ type: 'listener', name: '0.0.0.0_80', details });
        expect(details).toContain('gwdoctor.test.Unknown');
        expect(await dataplaneLayer('api.example.com')).toMatchObject({
          status: 'fail',
          code: 'EnvoyConfigRejected',
          summary: v.summary,
        });
        // The last accepted listener still serves (the status of every object stays green meanwhile).
        expect(await lane().sc.request('api.example.com')).toMatchObject({
          status: 200,
          backend: 'example-api/example-api-7d9f8c6b5-x2k4p',
        });
      } finally {
        await k.delete(ef);
      }
    },
  );
});

describe('the port-forward transport on the real API server (no kubelet in the lane)', () => {
  const s = scenarioWithEnvoy('seed-healthy');
  const role = parseAllDocuments(readFileSync(join(ROOT, 'deploy', 'rbac-envoy-admin.yaml'), 'utf8'))
    .map((d) => d.toJS() as Obj & { rules?: unknown[] })
    .find((d) => d.kind === 'Role')!;

  async function gatewayPod(): Promise<string> {
    const [p] = await s.get()!.lane.o.kube.list('v1', 'Pod', GW_NS, GW_LABEL);
    return p!.metadata.name;
  }

  itEnvoy(
    'without deploy/rbac-envoy-admin.yaml: 403, "not checked" with the verbs and resource; with only get: still 403 (create is checked too); with the role: RBAC lets it through and the API server answers that it cannot reach the kubelet',
    async () => {
      const k = s.get()!.lane.o.kube;
      const pod = await gatewayPod();
      // The read-only user (deploy/rbac.yaml): refused, said with the verbs.
      const viewer = await liveCluster('readonly');
      const refused = await viewer.envoyRead(GW_NS, pod);
      expect(refused).toMatchObject({
        kind: 'forbidden',
        namespace: GW_NS,
        resource: 'pods/portforward',
        verbs: ['get', 'create'],
      });
      // 'legacy' (a test user no other test grants pods/portforward): a Role with get only, then the shipped Role.
      const bindTo = async (name: string, rules: unknown[]) => {
        const r = await k.create({
          apiVersion: 'rbac.authorization.k8s.io/v1',
          kind: 'Role',
          metadata: { name, namespace: GW_NS },
          rules,
        });
        const b = await k.create({
          apiVersion: 'rbac.authorization.k8s.io/v1',
          kind: 'RoleBinding',
          metadata: { name, namespace: GW_NS },
          roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'Role', name },
          subjects: [{ apiGroup: 'rbac.authorization.k8s.io', kind: 'User', name: 'legacy' }],
        });
        return async () => {
          await k.delete(b);
          await k.delete(r);
        };
      };
      const pf = (verb: string) => ({
        verb,
        resource: 'pods',
        subresource: 'portforward',
        namespace: GW_NS,
        name: pod,
      });
      const legacy = () => LiveCluster.create({ ok: true, kind: 'files', files: [live!.kubeconfig] }, 'legacy');
      const undoGet = await bindTo('gwdoctor-test-pf-get', [
        { apiGroups: [''], resources: ['pods/portforward'], verbs: ['get'] },
      ]);
      try {
        await k.waitAllowed('legacy', [pf('get')]);
        expect(await (await legacy()).envoyRead(GW_NS, pod)).toMatchObject({
          kind: 'forbidden',
          verbs: ['get', 'create'],
        });
      } finally {
        await undoGet();
      }
      const undo = await bindTo('gwdoctor-test-envoy-admin', role.rules ?? []);
      try {
        await k.waitAllowed('legacy', [pf('get'), pf('create')]);
        const t = Date.now();
        const a = await (await legacy()).envoyRead(GW_NS, pod);
        // Past RBAC, the API server has no kubelet to forward to: a plain "could not look", never a stack trace.
        expect(a.kind).toBe('unreachable');
        const why = (a as { why: string }).why;
        process.stderr.write(
          `[dataplane-envoy] port-forward with the role, no kubelet: ${why} (${Date.now() - t} ms)\n`,
        );
        expect(why).not.toMatch(/\n|\bat .*\(.*:\d+:\d+\)/);
        expect(why).toContain(`Pod ${GW_NS}/${pod}`);
      } finally {
        await undo();
      }
    },
  );
});
