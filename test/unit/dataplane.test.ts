// The data plane layer's judge on literal stages (the real answers are judged in test/integration/dataplane.test.ts):
// istiod's classification of a watched type (pilot/pkg/xds/statusgen.go debugSyncStatus), and which finding each
// state of istiod's /debug/syncz gives, with a fix that never deletes a Pod nothing recreates.

import { describe, expect, it } from 'vitest';
import {
  dataplaneFacts,
  generatedRoute,
  judgeDataplane,
  syncStatus,
  type DataplaneStage,
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
const istiod = {
  apiVersion: 'v1',
  kind: 'Service',
  metadata: { name: 'istiod', namespace: 'istio-system' },
} as Service;
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
const ok = (pods: Pod[], syncz: SyncStatus[], replicas = 1): DataplaneStage => ({
  kind: 'ok',
  gateway,
  proxies: pods.map(proxy),
  istiod: { kind: 'ok', service: istiod, syncz, replicas },
});

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
      proxies: [proxy(a)],
      istiod: {
        kind: 'forbidden',
        service: istiod,
        why: 'forbidden: cannot get services/proxy istio-system/istiod:15014',
      },
    });
    expect(f).toMatchObject({ status: 'skip', facts: { skipped: { reason: 'forbidden' } } });
    expect(f.summary).toContain('cannot get services/proxy');
  });

  it("istiod's 401 through the API server: a warning that says why, never a pass", () => {
    const f = judge({
      kind: 'ok',
      gateway,
      proxies: [proxy(a)],
      istiod: {
        kind: 'refused',
        service: istiod,
        answer: { from: 'service', status: 401, body: '' },
        path: '/debug/syncz',
      },
    });
    expect(f).toMatchObject({ status: 'warn', code: 'DataplaneNotChecked' });
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

  it('several istiod replicas: a proxy missing from the one that answered is not called disconnected', () => {
    expect(judge(ok([a, b], [synced(`${a.metadata.name}.istio-ingress`)], 2))).toMatchObject({
      status: 'warn',
      code: 'DataplaneNotChecked',
    });
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
