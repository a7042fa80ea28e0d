// Filters Istio does not implement (issue 20, item 2): Istio converts a route's rules in order and a filter type it
// has no case for is ConfigError{InvalidFilter, "unsupported filter type"}, a hard error that drops the whole route
// (pilot/pkg/config/kube/gateway/conversion.go convertHTTPRoute/convertGRPCRoute, route_collections.go computeRoute).
// gwdoctor must predict that the request gets no route from such a route, whatever else it says.

import { describe, expect, it } from 'vitest';
import { INTERNAL_LAYERS } from '../../../checks/index.js';
import { ManifestCluster } from '../../../src/cluster/manifests.js';
import type { GRPCRoute, HTTPRoute, HTTPRouteFilter, HTTPRouteRule, K8sObject } from '../../../src/cluster/objects.js';
import { ISTIO_FILTERS, routeDroppedBy } from '../../../src/gatewayapi/grants.js';
import { runTarget } from '../../../src/pipeline.js';
import { parseTarget } from '../../../src/target.js';
import { offlineEnv, runOnCluster } from '../../helpers/fixtures.js';

const GW = 'gateway.networking.k8s.io/v1';
const base: K8sObject[] = [
  {
    apiVersion: GW,
    kind: 'GatewayClass',
    metadata: { name: 'istio' },
    spec: { controllerName: 'istio.io/gateway-controller' },
  } as K8sObject,
  {
    apiVersion: GW,
    kind: 'Gateway',
    metadata: { name: 'gw', namespace: 'istio-ingress' },
    spec: {
      gatewayClassName: 'istio',
      listeners: [{ name: 'http', hostname: '*.example.com', port: 80, protocol: 'HTTP' }],
    },
  } as K8sObject,
  {
    apiVersion: 'v1',
    kind: 'Service',
    metadata: { name: 'api', namespace: 'istio-ingress' },
    spec: { ports: [{ port: 80 }], selector: { app: 'api' } },
  } as K8sObject,
  {
    apiVersion: 'v1',
    kind: 'Service',
    metadata: { name: 'old', namespace: 'istio-ingress' },
    spec: { ports: [{ port: 80 }], selector: { app: 'old' } },
  } as K8sObject,
];
const route = (name: string, created: string, rules: HTTPRouteRule[], hostnames = ['api.example.com']): HTTPRoute => ({
  apiVersion: GW,
  kind: 'HTTPRoute',
  metadata: { name, namespace: 'istio-ingress', creationTimestamp: created, generation: 1 },
  spec: { parentRefs: [{ name: 'gw' }], hostnames, rules },
});
const ruleWith = (filters: HTTPRouteFilter[], backend = 'api'): HTTPRouteRule => ({
  matches: [{ path: { type: 'PathPrefix', value: '/' } }],
  filters,
  backendRefs: [{ name: backend, port: 80 }],
});
const layer = async (objs: K8sObject[], id = 'route', target = 'api.example.com') =>
  (await runOnCluster(new ManifestCluster([...base, ...objs]), target)).layers.find((l) => l.id === id);

describe('a filter type Istio does not implement drops the whole route (InvalidFilter)', () => {
  it.each(['ExtensionRef', 'ExternalAuth', 'RequestHeaderModifierV2', ''])(
    'HTTPRoute rule filter %j: fail RouteNotAccepted, the request gets 404, the fix is manual',
    async (type) => {
      const f = await layer([route('api', '2026-01-01T00:00:00Z', [ruleWith([{ type }])])]);
      expect([f?.status, f?.code, f?.fix?.kind]).toEqual(['fail', 'RouteNotAccepted', 'manual']);
      expect(f?.summary).toBe(
        `Istio drops HTTPRoute istio-ingress/api: rules[0].filters[0] has filter type ${JSON.stringify(type)}, which Istio does not implement (ResolvedRefs=False/InvalidFilter "unsupported filter type ${JSON.stringify(type)}"); none of its rules is programmed and api.example.com gets 404`,
      );
      // A manual fix: removing an auth filter would publish what it protected.
      expect(f?.fix?.explain).toMatch(/Removing it drops whatever the filter was meant to enforce/);
    },
  );

  it.each([...ISTIO_FILTERS.HTTPRoute.rule])(
    'an HTTPRoute rule filter Istio implements (%s) keeps the route',
    (type) => {
      expect(routeDroppedBy(route('api', '2026-01-01T00:00:00Z', [ruleWith([{ type }])]))).toBeNull();
    },
  );

  it('a later rule of the route drops it too, not only the rule that matches the request', async () => {
    const r = route('api', '2026-01-01T00:00:00Z', [
      ruleWith([]),
      { ...ruleWith([{ type: 'ExtensionRef' }]), matches: [{ path: { type: 'PathPrefix', value: '/admin' } }] },
    ]);
    const f = await layer([r]);
    expect([f?.status, f?.code]).toEqual(['fail', 'RouteNotAccepted']);
    expect(f?.summary).toMatch(/rules\[1\]\.filters\[0\] has filter type "ExtensionRef"/);
  });

  it('a backendRef filter other than the header modifiers drops the route', async () => {
    const r = route('api', '2026-01-01T00:00:00Z', [
      { ...ruleWith([]), backendRefs: [{ name: 'api', port: 80, filters: [{ type: 'RequestMirror' }] }] },
    ]);
    const f = await layer([r]);
    expect([f?.status, f?.code]).toEqual(['fail', 'RouteNotAccepted']);
    expect(f?.summary).toMatch(/rules\[0\]\.backendRefs\[0\]\.filters\[0\] has filter type "RequestMirror"/);
    const ok = route('api', '2026-01-01T00:00:00Z', [
      { ...ruleWith([]), backendRefs: [{ name: 'api', port: 80, filters: [{ type: 'RequestHeaderModifier' }] }] },
    ]);
    expect(routeDroppedBy(ok)).toBeNull();
  });

  it('a weight-0 backendRef is never converted (buildHTTPDestination skips it): its filters and name drop nothing', () => {
    const r = route('api', '2026-01-01T00:00:00Z', [
      {
        ...ruleWith([]),
        backendRefs: [
          { name: 'api', port: 80 },
          { name: 'x.y.svc.cluster.local', port: 80, weight: 0, filters: [{ type: 'ExtensionRef' }] },
        ],
      },
    ]);
    expect(routeDroppedBy(r)).toBeNull();
  });

  it('a RequestMirror target named by its hostname is a soft error on HTTPRoute (mirrorBackendErr): the route stays', () => {
    const r = route('api', '2026-01-01T00:00:00Z', [
      ruleWith([
        { type: 'RequestMirror', requestMirror: { backendRef: { name: 'shadow.app.svc.cluster.local', port: 80 } } },
      ]),
    ]);
    expect(routeDroppedBy(r)).toBeNull();
  });

  it('a GRPCRoute may carry only header modifiers and RequestMirror: URLRewrite drops it', () => {
    const g: GRPCRoute = {
      apiVersion: GW,
      kind: 'GRPCRoute',
      metadata: { name: 'rpc', namespace: 'istio-ingress' },
      spec: {
        parentRefs: [{ name: 'gw' }],
        rules: [{ filters: [{ type: 'URLRewrite' }], backendRefs: [{ name: 'api' }] }],
      },
    };
    expect(routeDroppedBy(g)).toMatchObject({
      reason: 'InvalidFilter',
      type: 'URLRewrite',
      where: 'rules[0].filters[0]',
    });
    g.spec.rules = [
      {
        filters: [{ type: 'RequestMirror', requestMirror: { backendRef: { name: 'api' } } }],
        backendRefs: [{ name: 'api' }],
      },
    ];
    expect(routeDroppedBy(g)).toBeNull();
  });

  it('another route for the host still serves it: the dropped route takes no part in the selection', async () => {
    // The dropped route is older and would win on age; Istio never programs it, so the newer route serves the host.
    const dropped = route('api', '2026-01-01T00:00:00Z', [ruleWith([{ type: 'ExtensionRef' }])]);
    const other = route('other', '2026-02-01T00:00:00Z', [ruleWith([], 'old')]);
    const f = await layer([dropped, other]);
    expect(f?.status).toBe('pass');
    expect(f?.summary).toMatch(/^HTTPRoute istio-ingress\/other rules\[0\]/);
  });

  it('a route Istio drops exposes nothing: --internal passes for its host', async () => {
    const t = { ...parseTarget('admin.example.com'), expect: 'internal' as const };
    const cluster = new ManifestCluster([
      ...base,
      route('admin', '2026-01-01T00:00:00Z', [ruleWith([{ type: 'ExtensionRef' }])], ['admin.example.com']),
    ]);
    const r = await runTarget(INTERNAL_LAYERS, t, offlineEnv(cluster), { until: null, intervalMs: 0 });
    expect(r.verdict).toBe('pass');
  });
});
