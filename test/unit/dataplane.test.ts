// The data plane layer's judge on literal stages (the real answers are judged in test/integration/dataplane.test.ts):
// istiod's classification of a watched type (pilot/pkg/xds/statusgen.go debugSyncStatus), and which finding each
// state of istiod's /debug/syncz gives, with a fix that never deletes a Pod nothing recreates.

import { describe, expect, it } from 'vitest';
import {
  dataplaneFacts,
  generatedRoute,
  istiodPort,
  judgeDataplane,
  scopeOf,
  syncStatus,
  type DataplaneStage,
  type IstiodRead,
  type SyncStatus,
} from '../../checks/dataplane.js';
import type { Gateway, Pod, Service } from '../../src/cluster/objects.js';
import { layerMeta } from '../../src/registry.js';

const LDS = 'type.googleapis.com/envoy.config.listener.v3.Listener';
const RDS = 'type.googleapis.com/envoy.config.route.v3.RouteConfiguration';
const meta = layerMeta('dataplane');
const judge = (s: DataplaneStage) => judgeDataplane.call(meta, s);

const gateway: Gateway = {
  apiVersion: 'gateway.networking.k8s.io/v1',
  kind: 'Gateway',
  metadata: { name: 'gw', namespace: 'istio-ingress' },
  spec: { gatewayClassName: 'istio', listeners: [] },
} as unknown as Gateway;
const istiodPod = (name: string): Pod =>
  ({
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name, namespace: 'istio-system', labels: { app: 'istiod' } },
    status: { phase: 'Running' },
  }) as unknown as Pod;
const istiod = istiodPod('istiod-6c8f-aaaaa');
const read = (p: Pod, answer: IstiodRead['answer']): IstiodRead => ({ pod: p, port: 15014, answer });
const pod = (name: string, owned: boolean): Pod =>
  ({
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: {
      name,
      namespace: 'istio-ingress',
      ...(owned ? { ownerReferences: [{ kind: 'ReplicaSet', name: 'gw-istio-5d9f', controller: true }] } : {}),
    },
    spec: { nodeName: 'node-1' },
    status: { phase: 'Running' },
  }) as unknown as Pod;
const proxy = (p: Pod) => ({ pod: p, proxyId: `${p.metadata.name}.istio-ingress`, node: 'node-1' });
const synced = (id: string): SyncStatus => ({
  proxy: id,
  resources: { [LDS]: { sent: 'n2', acked: 'n2' }, [RDS]: { sent: 'r2', acked: 'r2' } },
});
/** externalTrafficPolicy Cluster (the default): every gateway Pod judged. */
const every = (pods: Pod[]) => ({
  policy: 'Cluster',
  service: 'istio-ingress/gw-istio',
  proxyNodes: null,
  why: 'cluster' as const,
  judged: pods.map(proxy),
});
/** istiod's view: `syncz` from one replica that answered; `replicas - 1` more that could not be read. */
const ok = (pods: Pod[], syncz: SyncStatus[], replicas = 1): DataplaneStage => {
  const answered = read(istiod, { kind: 'ok', status: 200, body: JSON.stringify(syncz) });
  const unread = Array.from({ length: replicas - 1 }, (_, i) =>
    read(istiodPod(`istiod-6c8f-x${i}`), { kind: 'unreachable', why: 'the port-forward closed before it answered' }),
  );
  return {
    kind: 'ok',
    gateway,
    scope: every(pods),
    proxies: pods.map(proxy),
    istiod: {
      kind: 'ok',
      reads: [answered, ...unread],
      syncz: syncz.map((e) => ({ ...e, istiod: istiod.metadata.name })),
      unread,
    },
  };
};

describe("istiod's classification of one xDS type (debugSyncStatus)", () => {
  it('lastError wins, then nothing sent, then acked == sent', () => {
    expect(syncStatus({ sent: 'a', acked: 'a', lastError: 'bad' })).toBe('ERROR');
    expect(syncStatus({})).toBe('NOT_SENT');
    expect(syncStatus({ sent: 'b', acked: 'b' })).toBe('SYNCED');
    expect(syncStatus({ sent: 'b', acked: 'a' })).toBe('STALE');
    expect(syncStatus({ sent: 'b' })).toBe('STALE');
  });
});

describe('the data plane judge', () => {
  const a = pod('gw-istio-5d9f-aaaaa', true);
  const b = pod('gw-istio-5d9f-bbbbb', true);

  it('manifests, no istiod Service, no permission: not checked, with the reason as data', () => {
    expect(judge({ kind: 'not-live' })).toMatchObject({ status: 'skip', facts: { skipped: { reason: 'not-live' } } });
    expect(judge({ kind: 'no-istiod', gateway })).toMatchObject({
      status: 'skip',
      facts: { skipped: { reason: 'no-istiod' } },
    });
    const f = judge({
      kind: 'ok',
      gateway,
      scope: every([a]),
      proxies: [proxy(a)],
      istiod: {
        kind: 'forbidden',
        reads: [
          read(istiod, {
            kind: 'forbidden',
            namespace: 'istio-system',
            resource: 'pods/portforward',
            verbs: ['get', 'create'],
            why: 'the API server answered 403',
          }),
        ],
        why: 'forbidden: cannot get+create pods/portforward in namespace istio-system',
      },
    });
    expect(f).toMatchObject({ status: 'skip', facts: { skipped: { reason: 'forbidden' } } });
    expect(f.summary).toContain('cannot get+create pods/portforward in namespace istio-system');
  });

  it('istiod answers but not with its sync state (a 401, a 404), or cannot be reached: a warning that says why, never a pass', () => {
    const f = judge({
      kind: 'ok',
      gateway,
      scope: every([a]),
      proxies: [proxy(a)],
      istiod: { kind: 'refused', reads: [read(istiod, { kind: 'ok', status: 401, body: '' })] },
    });
    expect(f).toMatchObject({ status: 'warn', code: 'DataplaneNotChecked' });
    expect(f.summary).toContain('istiod answered HTTP 401 to /debug/syncz');
    const u = judge({
      kind: 'ok',
      gateway,
      scope: every([a]),
      proxies: [proxy(a)],
      istiod: {
        kind: 'unreachable',
        reads: [read(istiod, { kind: 'unreachable', why: 'the API server answered HTTP 500 to a port-forward' })],
      },
    });
    expect(u).toMatchObject({ status: 'warn', code: 'DataplaneNotChecked' });
    expect(u.summary).toContain('the API server answered HTTP 500 to a port-forward');
  });

  it('every Pod connected and synced: pass; facts carry each type as istiod classifies it', () => {
    const s = ok([a, b], [synced(`${a.metadata.name}.istio-ingress`), synced(`${b.metadata.name}.istio-ingress`)]);
    expect(judge(s).status).toBe('pass');
    expect(
      dataplaneFacts(s).dataplane?.proxies.map((p) => [p.connected, p.xds.map((t) => `${t.type}:${t.status}`)]),
    ).toEqual([
      [true, ['LDS:SYNCED', 'RDS:SYNCED']],
      [true, ['LDS:SYNCED', 'RDS:SYNCED']],
    ]);
  });

  it('a NACK: GatewayProxyRejected quotes the error and names both nonces', () => {
    const s = ok(
      [a],
      [
        {
          proxy: `${a.metadata.name}.istio-ingress`,
          resources: {
            [LDS]: { sent: 'n3', acked: 'n2', lastError: "Didn't find a registered implementation for 'x'" },
            [RDS]: { sent: 'r2', acked: 'r2' },
          },
        },
      ],
    );
    const f = judge(s);
    expect(f).toMatchObject({ status: 'fail', code: 'GatewayProxyRejected' });
    expect(f.summary).toContain("Didn't find a registered implementation for 'x'");
    expect(f.summary).toContain('n3');
  });

  it('one of two Pods disconnected: GatewayProxyNotConnected; the manual step names deleting only that Pod, and only when a controller recreates it', () => {
    const f = judge(ok([a, b], [synced(`${a.metadata.name}.istio-ingress`)]));
    expect(f).toMatchObject({ status: 'fail', code: 'GatewayProxyNotConnected', fix: { kind: 'manual' } });
    expect(f.fix?.kind === 'manual' && f.fix.explain).toContain(
      `kubectl delete pod ${b.metadata.name} -n istio-ingress`,
    );
    const bare = pod('lonely', false);
    const g = judge(ok([bare], [])).fix;
    expect(g?.kind === 'manual' && g.explain).not.toContain('kubectl delete pod');
  });

  it('several istiod replicas, one unread: a proxy missing from the one that answered is not called disconnected', () => {
    expect(judge(ok([a, b], [synced(`${a.metadata.name}.istio-ingress`)], 2))).toMatchObject({
      status: 'warn',
      code: 'DataplaneNotChecked',
    });
  });

  it('two istiod replicas, each with one of the two gateway proxies: merged, both connected, a pass', () => {
    const other = istiodPod('istiod-6c8f-bbbbb');
    const [ia, ib] = [`${a.metadata.name}.istio-ingress`, `${b.metadata.name}.istio-ingress`];
    const s: DataplaneStage = {
      kind: 'ok',
      gateway,
      scope: every([a, b]),
      proxies: [a, b].map(proxy),
      istiod: {
        kind: 'ok',
        reads: [
          read(istiod, { kind: 'ok', status: 200, body: JSON.stringify([synced(ia)]) }),
          read(other, { kind: 'ok', status: 200, body: JSON.stringify([synced(ib)]) }),
        ],
        syncz: [
          { ...synced(ia), istiod: istiod.metadata.name },
          { ...synced(ib), istiod: other.metadata.name },
        ],
        unread: [],
      },
    };
    expect(judge(s).status).toBe('pass');
    expect(dataplaneFacts(s).dataplane?.istiod.pods.map((p) => p.name)).toEqual([
      istiod.metadata.name,
      other.metadata.name,
    ]);
  });

  it("istiod's monitoring port: the prometheus.io/port annotation, else 15014 (istioctl FindIstiodMonitoringPort)", () => {
    expect(istiodPort(istiod)).toBe(15014);
    const annotated = istiodPod('x');
    annotated.metadata.annotations = { 'prometheus.io/port': '15099' };
    expect(istiodPort(annotated)).toBe(15099);
    annotated.metadata.annotations = { 'prometheus.io/port': 'http' };
    expect(istiodPort(annotated)).toBe(15014);
  });

  it('sent but never acknowledged, no error: GatewayProxyStale', () => {
    const f = judge(
      ok(
        [a],
        [
          {
            proxy: `${a.metadata.name}.istio-ingress`,
            resources: { [LDS]: { sent: 'n2', acked: 'n2' }, [RDS]: { sent: 'r3', acked: 'r2' } },
          },
        ],
      ),
    );
    expect(f).toMatchObject({ status: 'fail', code: 'GatewayProxyStale' });
  });
});

describe("istiod's generated route for GET host/path (its /debug/config_dump)", () => {
  const dump = (vhosts: unknown[], snake = false) => ({
    configs: [
      { '@type': 'type.googleapis.com/envoy.admin.v3.ClustersConfigDump' },
      {
        '@type': 'type.googleapis.com/envoy.admin.v3.RoutesConfigDump',
        [snake ? 'dynamic_route_configs' : 'dynamicRouteConfigs']: [
          {
            [snake ? 'route_config' : 'routeConfig']: {
              name: 'http.80',
              [snake ? 'virtual_hosts' : 'virtualHosts']: vhosts,
            },
          },
        ],
      },
    ],
  });
  const vh = (name: string, domains: string[], routes: unknown[]) => ({ name, domains, routes });

  it('an exact domain before a wildcard; the first route whose match fits a plain GET (a header match never does)', () => {
    const d = dump([
      vh(
        '*.example.com:80',
        ['*.example.com'],
        [{ name: 'any', match: { prefix: '/' }, route: { cluster: 'outbound|80||other.x.svc.cluster.local' } }],
      ),
      vh(
        'api.example.com:80',
        ['api.example.com', 'api.example.com:*'],
        [
          {
            name: 'hdr',
            match: { prefix: '/', headers: [{ name: 'x' }] },
            route: { cluster: 'outbound|1||h.x.svc.cluster.local' },
          },
          {
            name: 'v1',
            match: { pathSeparatedPrefix: '/v1' },
            route: { cluster: 'outbound|2||v1.x.svc.cluster.local' },
          },
          {
            name: 'root',
            match: { prefix: '/' },
            route: {
              weightedClusters: {
                clusters: [
                  { name: 'outbound|3||a.x.svc.cluster.local', weight: 1 },
                  { name: 'outbound|3||b.x.svc.cluster.local', weight: 0 },
                ],
              },
            },
          },
        ],
      ),
    ]);
    expect(generatedRoute(d, 'api.example.com', '/v1/items')).toMatchObject({
      kind: 'route',
      route: 'v1',
      clusters: ['outbound|2||v1.x.svc.cluster.local'],
    });
    expect(generatedRoute(d, 'api.example.com', '/v10')).toMatchObject({
      kind: 'route',
      route: 'root',
      clusters: ['outbound|3||a.x.svc.cluster.local'],
    });
    expect(generatedRoute(d, 'web.example.com', '/')).toMatchObject({ kind: 'route', route: 'any' });
    expect(generatedRoute(d, 'example.org', '/')).toEqual({ kind: 'no-vhost', routeConfigs: ['http.80'] });
  });

  it("a virtual host without a route for the path; Envoy's own snake_case dump reads the same", () => {
    const d = dump(
      [
        vh(
          'api.example.com:80',
          ['api.example.com'],
          [{ name: 'exact', match: { path: '/health' }, route: { cluster: 'c' } }],
        ),
      ],
      true,
    );
    expect(generatedRoute(d, 'api.example.com', '/health')).toMatchObject({ kind: 'route', route: 'exact' });
    expect(generatedRoute(d, 'api.example.com', '/other')).toEqual({
      kind: 'no-route',
      routeConfig: 'http.80',
      vhost: 'api.example.com:80',
    });
  });

  it('the judge: a route to other clusters than predicted is GatewayRouteDiffers naming both; two Pods that disagree say so', () => {
    const a = pod('gw-istio-5d9f-aaaaa', true);
    const b = pod('gw-istio-5d9f-bbbbb', true);
    const s = ok([a, b], [synced(`${a.metadata.name}.istio-ingress`), synced(`${b.metadata.name}.istio-ingress`)]);
    if (s.kind !== 'ok') throw new Error('stage');
    const pred = { host: 'api.example.com', path: '/', clusters: ['outbound|3000||example-api.example-api.svc.'] };
    const good = {
      kind: 'route' as const,
      routeConfig: 'http.80',
      vhost: 'api.example.com:80',
      route: 'r',
      clusters: ['outbound|3000||example-api.example-api.svc.cluster.local'],
    };
    const other = { ...good, clusters: ['outbound|8000||example-worker.example-worker.svc.cluster.local'] };
    expect(
      judge({
        ...s,
        prediction: pred,
        generated: new Map([
          [`${a.metadata.name}.istio-ingress`, good],
          [`${b.metadata.name}.istio-ingress`, good],
        ]),
      }).status,
    ).toBe('pass');
    const f = judge({
      ...s,
      prediction: pred,
      generated: new Map([
        [`${a.metadata.name}.istio-ingress`, good],
        [`${b.metadata.name}.istio-ingress`, other],
      ]),
    });
    expect(f).toMatchObject({ status: 'fail', code: 'GatewayRouteDiffers' });
    expect(f.summary).toContain('outbound|8000||example-worker');
    expect(f.summary).toContain('outbound|3000||example-api.example-api.svc.');
    expect(f.summary).toContain('1 of 2 have the predicted route');
    expect(
      judge({
        ...s,
        prediction: pred,
        generated: new Map([
          [`${a.metadata.name}.istio-ingress`, { kind: 'no-vhost' as const, routeConfigs: ['http.80'] }],
        ]),
      }),
    ).toMatchObject({ code: 'GatewayRouteMissing' });
  });
});

describe('externalTrafficPolicy Local: which gateway Pods answer the proxy', () => {
  const on = (name: string, node: string): Pod => ({ ...pod(name, true), spec: { nodeName: node } }) as unknown as Pod;
  const a = on('gw-istio-5d9f-aaaaa', 'node-a');
  const b = on('gw-istio-5d9f-bbbbb', 'node-b');
  const px = (p: Pod) => ({ pod: p, proxyId: `${p.metadata.name}.istio-ingress`, node: p.spec?.nodeName ?? null });
  const svc = (policy?: string): Service =>
    ({
      apiVersion: 'v1',
      kind: 'Service',
      metadata: { name: 'gw-istio', namespace: 'istio-ingress' },
      spec: { type: 'NodePort', ...(policy ? { externalTrafficPolicy: policy } : {}) },
    }) as unknown as Service;
  const node = (name: string, usedByProxy: boolean) => ({
    node: name,
    address: `192.0.2.${name === 'node-a' ? 1 : 2}`,
    nodePort: 32080,
    readyGatewayPod: true,
    answered: true,
    statusCode: 200,
    error: null,
    usedByProxy,
  });
  const seen = (used: string | null, service = 'istio-ingress/gw-istio') => ({
    service,
    nodes: [node('node-a', used === 'node-a'), node('node-b', used === 'node-b')],
  });

  it('every gateway Pod is judged; why, as data: Cluster, Local with the proxy on a node (node-local traffic), Local with no node named', () => {
    const cases: [ReturnType<typeof scopeOf>, string, string[] | null][] = [
      [scopeOf(svc('Cluster'), [px(a), px(b)], seen('node-a')), 'cluster', ['node-a']],
      [scopeOf(svc(), [px(a), px(b)], seen('node-a')), 'cluster', ['node-a']],
      [scopeOf(svc('Local'), [px(a), px(b)], seen('node-a')), 'node-local', ['node-a']],
      [scopeOf(svc('Local'), [px(a), px(b)], seen('node-b')), 'node-local', ['node-b']],
      [scopeOf(svc('Local'), [px(a), px(b)], seen(null)), 'node-unknown', null],
      [scopeOf(svc('Local'), [px(a), px(b)], undefined), 'node-unknown', null],
      // The every-node probe of another Service names no node of this one.
      [scopeOf(svc('Local'), [px(a), px(b)], seen('node-a', 'istio-ingress/other')), 'node-unknown', null],
    ];
    for (const [sc, why, nodes] of cases) {
      expect(sc.why).toBe(why);
      expect(sc.proxyNodes).toEqual(nodes);
      expect(sc.judged.map((x) => x.node)).toEqual(['node-a', 'node-b']);
    }
    expect(scopeOf(svc(), [px(a)], undefined).policy).toBe('Cluster');
  });

  it("the proxy runs on node-a, the Pod on node-b is not connected: that Pod is still this proxy's fault (kube-proxy sends node-local connections to every ready Pod); the evidence says why", () => {
    const sc = scopeOf(svc('Local'), [px(a), px(b)], seen('node-a'));
    const s: DataplaneStage = {
      kind: 'ok',
      gateway,
      scope: sc,
      proxies: sc.judged,
      istiod: (ok([a], [synced(`${a.metadata.name}.istio-ingress`)]) as Extract<DataplaneStage, { kind: 'ok' }>).istiod,
    };
    const f = judge(s);
    expect(f.code).toBe('GatewayProxyNotConnected');
    expect(f.summary).toContain(`${b.metadata.name}.istio-ingress`);
    expect(f.evidence.map((e) => e.detail)).toEqual(
      expect.arrayContaining([
        expect.stringContaining(
          "externalTrafficPolicy Local, and the proxy runs on node node-a (its address is the node's InternalIP): kube-proxy sends a connection that starts on a node to any ready gateway Pod",
        ),
      ]),
    );
    expect(dataplaneFacts(s).dataplane?.scope).toEqual({
      policy: 'Local',
      proxyNodes: ['node-a'],
      why: 'node-local',
      judged: [
        { pod: expect.objectContaining({ name: a.metadata.name }), node: 'node-a' },
        { pod: expect.objectContaining({ name: b.metadata.name }), node: 'node-b' },
      ],
    });
    // No node named: every Pod, and it says so; Cluster, or every Pod on one node: nothing to explain.
    const unknown = judge({ ...s, scope: scopeOf(svc('Local'), [px(a), px(b)], undefined) });
    expect(unknown.evidence.map((e) => e.detail)).toEqual(
      expect.arrayContaining([expect.stringContaining('no evidence names the node the proxy forwards to')]),
    );
    for (const quiet of [
      judge({ ...s, scope: scopeOf(svc('Cluster'), [px(a), px(b)], seen('node-a')) }),
      judge({ ...s, proxies: [px(a)], scope: scopeOf(svc('Local'), [px(a)], seen('node-a')) }),
    ])
      expect(quiet.evidence.map((e) => e.detail)).not.toEqual(
        expect.arrayContaining([expect.stringContaining('externalTrafficPolicy')]),
      );
  });
});
