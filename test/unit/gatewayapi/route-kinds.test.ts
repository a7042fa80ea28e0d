// Routes of other kinds on the host (issue 8.9): GRPCRoutes share a listener's virtual hosts with HTTPRoutes and are
// ordered with them as Istio does; a route attached through a ListenerSet is said to be not checked.

import { describe, expect, it } from 'vitest';
import { attachToGateway } from '../../../src/gatewayapi/attachment.js';
import { grantPermits, resolveBackendRefs } from '../../../src/gatewayapi/grants.js';
import { grpcUriMatch, selectRule } from '../../../src/gatewayapi/matching.js';
import { loadRe2 } from '../../../src/gatewayapi/matching.js';

await loadRe2();
import { ManifestCluster } from '../../../src/cluster/manifests.js';
import type {
  Gateway,
  GRPCRoute,
  GRPCRouteRule,
  HTTPRoute,
  HTTPRouteRule,
  K8sObject,
  ReferenceGrant,
} from '../../../src/cluster/objects.js';
import { runOnCluster, outcome } from '../../helpers/fixtures.js';

const GW = 'gateway.networking.k8s.io/v1';
const meta = (name: string, created: string, ns = 'istio-ingress') => ({
  name,
  namespace: ns,
  creationTimestamp: created,
  generation: 1,
});

function http(name: string, created: string, rules: HTTPRouteRule[], hostnames = ['api.example.com']): HTTPRoute {
  return {
    apiVersion: GW,
    kind: 'HTTPRoute',
    metadata: meta(name, created),
    spec: { parentRefs: [{ name: 'gw' }], hostnames, rules },
  };
}
function grpc(name: string, created: string, rules: GRPCRouteRule[], hostnames = ['api.example.com']): GRPCRoute {
  return {
    apiVersion: GW,
    kind: 'GRPCRoute',
    metadata: meta(name, created),
    spec: { parentRefs: [{ name: 'gw' }], hostnames, rules },
  };
}
const prefix = (value: string, backend = value): HTTPRouteRule => ({
  matches: [{ path: { type: 'PathPrefix', value } }],
  backendRefs: [{ name: backend }],
});
const at = (...routes: (HTTPRoute | GRPCRoute)[]) =>
  routes.map((route) => ({ route, hostnames: route.spec.hostnames ?? [undefined] }));
const get = (path: string) => ({ host: 'api.example.com', path, query: '', method: 'GET' });
const winner = (s: ReturnType<typeof selectRule>) =>
  s.winner ? `${s.winner.route.kind} ${s.winner.route.metadata.name} rules[${s.winner.ruleIndex}]` : null;

describe('the path match Istio generates for a GRPCRoute method match (conversion.go createGRPCURIMatch)', () => {
  it.each([
    [
      { service: 'pkg.Svc', method: 'Get' },
      { type: 'Exact', value: '/pkg.Svc/Get' },
    ],
    [{ service: 'pkg.Svc' }, { type: 'Prefix', value: '/pkg.Svc', sortLength: 9 }],
    [{ method: 'Get' }, { type: 'Regex', value: '/[^/]+/Get' }],
    [
      { type: 'RegularExpression', service: 'pkg\\..*', method: 'Get' },
      { type: 'Regex', value: '/pkg\\..*/Get' },
    ],
    [
      { type: 'RegularExpression', service: 'pkg.Svc' },
      { type: 'Regex', value: '/pkg.Svc/.+' },
    ],
    [
      { type: 'RegularExpression', method: 'G.t' },
      { type: 'Regex', value: '/[^/]+/G.t' },
    ],
  ])('%j -> %j', (method, want) => {
    expect(grpcUriMatch({ method })).toMatchObject(want);
  });
  it('a match without a method has no path condition', () => {
    expect(grpcUriMatch({ headers: [{ name: 'x', value: 'y' }] })).toBeNull();
  });
});

describe('HTTPRoutes and GRPCRoutes of one virtual host are ordered together', () => {
  it('a GRPCRoute rule without matches serves GET / when no HTTPRoute rule matches it (gRPC is matched by path only)', () => {
    const s = selectRule(
      at(
        http('web', '2026-01-01T00:00:00Z', [prefix('/api')]),
        grpc('rpc', '2026-02-01T00:00:00Z', [{ backendRefs: [{ name: 'rpc' }] }]),
      ),
      get('/'),
    );
    expect(winner(s)).toBe('GRPCRoute rpc rules[0]');
  });
  it('an HTTPRoute PathPrefix "/" beats an OLDER GRPCRoute rule without matches (match-less rules sort last)', () => {
    const s = selectRule(
      at(
        grpc('rpc', '2025-01-01T00:00:00Z', [{ backendRefs: [{ name: 'rpc' }] }]),
        http('web', '2026-01-01T00:00:00Z', [prefix('/')]),
      ),
      get('/anything'),
    );
    expect(winner(s)).toBe('HTTPRoute web rules[0]');
    expect(s.unreachable.map((e) => e.route.metadata.name)).toEqual(['rpc']);
  });
  it('the Exact path of a gRPC method beats an HTTPRoute prefix, also for a GET', () => {
    const s = selectRule(
      at(
        http('web', '2025-01-01T00:00:00Z', [prefix('/')]),
        grpc('rpc', '2026-01-01T00:00:00Z', [{ matches: [{ method: { service: 'pkg.Svc', method: 'Get' } }] }]),
      ),
      get('/pkg.Svc/Get'),
    );
    expect(winner(s)).toBe('GRPCRoute rpc rules[0]');
  });
  it('a service-only match takes whole segments under /<service> and ranks by the length of "/<service>/"', () => {
    const rpc = grpc('rpc', '2026-01-01T00:00:00Z', [{ matches: [{ method: { service: 'api' } }] }]);
    const web = http('web', '2025-01-01T00:00:00Z', [prefix('/api')]);
    expect(winner(selectRule(at(web, rpc), get('/api/x')))).toBe('GRPCRoute rpc rules[0]'); // "/api/" (5) > "/api" (4)
    expect(winner(selectRule(at(web, rpc), get('/apix')))).toBeNull();
  });
  it("a gRPC match on headers only never takes gwdoctor's plain GET", () => {
    const s = selectRule(
      at(grpc('rpc', '2026-01-01T00:00:00Z', [{ matches: [{ headers: [{ name: 'x-tenant', value: 'a' }] }] }])),
      get('/'),
    );
    expect(s.winner).toBeNull();
  });
  it('Envoy never sees an entry that sorts after a catch-all: a regex rule behind PathPrefix "/" is unreachable', () => {
    const r = http('web', '2026-01-01T00:00:00Z', [
      prefix('/', 'root'),
      { matches: [{ path: { type: 'RegularExpression', value: '/v[0-9]+/.*' } }], backendRefs: [{ name: 'v' }] },
    ]);
    const s = selectRule(at(r), get('/v2/users'));
    expect(winner(s)).toBe('HTTPRoute web rules[0]');
    expect(s.unreachable.map((e) => e.ruleIndex)).toEqual([1]);
  });
});

describe("attachment and grants use the route's own kind", () => {
  const gw: Gateway = {
    apiVersion: GW,
    kind: 'Gateway',
    metadata: { name: 'gw', namespace: 'istio-ingress' },
    spec: {
      gatewayClassName: 'istio',
      listeners: [{ name: 'http', port: 80, protocol: 'HTTP', allowedRoutes: { kinds: [{ kind: 'HTTPRoute' }] } }],
    },
  };
  it('a listener whose allowedRoutes.kinds lists only HTTPRoute does not accept a GRPCRoute', () => {
    const a = attachToGateway(grpc('rpc', '2026-01-01T00:00:00Z', []), { name: 'gw' }, gw, undefined);
    expect([a.accepted, a.reason, a.message]).toEqual([
      false,
      'NotAllowedByListeners',
      'kind gateway.networking.k8s.io/GRPCRoute is not allowed on listener "http" (protocol HTTP)',
    ]);
  });
  it("a GRPCRoute's cross-namespace backend needs a ReferenceGrant from GRPCRoute, not from HTTPRoute", () => {
    const r = grpc('rpc', '2026-01-01T00:00:00Z', [{ backendRefs: [{ name: 'svc', namespace: 'app', port: 9000 }] }]);
    const ref = resolveBackendRefs(r, 0)[0]!;
    const grant = (kind: string): ReferenceGrant => ({
      apiVersion: GW,
      kind: 'ReferenceGrant',
      metadata: { name: 'g', namespace: 'app' },
      spec: {
        from: [{ group: 'gateway.networking.k8s.io', kind, namespace: 'istio-ingress' }],
        to: [{ group: '', kind: 'Service' }],
      },
    });
    expect(grantPermits(grant('HTTPRoute'), 'istio-ingress', ref, r.kind)).toBe(false);
    expect(grantPermits(grant('GRPCRoute'), 'istio-ingress', ref, r.kind)).toBe(true);
  });
});

describe('the route layer with other route kinds on the host', () => {
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
  ];
  const run = async (objs: K8sObject[], target = 'api.example.com') =>
    runOnCluster(new ManifestCluster([...base, ...objs]), target);
  const listenerSet = {
    apiVersion: GW,
    kind: 'ListenerSet',
    metadata: { name: 'more', namespace: 'istio-ingress' },
    spec: {
      parentRef: { name: 'gw' },
      listeners: [{ name: 'api', hostname: 'api.example.com', port: 80, protocol: 'HTTP' }],
    },
  } as K8sObject;

  it('a route attached through a ListenerSet is "not checked" (inconclusive), never NoRouteForHost', async () => {
    const r = http('api', '2026-01-01T00:00:00Z', [prefix('/', 'api')]);
    r.spec.parentRefs = [{ group: 'gateway.networking.k8s.io', kind: 'ListenerSet', name: 'more' }];
    const rep = await run([r, listenerSet]);
    expect(outcome(rep)).toMatchObject({ verdict: 'error', layer: 'route', code: 'RouteParentNotChecked' });
    expect(rep.layers.find((l) => l.id === 'route')?.summary).toMatch(
      /HTTPRoute istio-ingress\/api attaches to ListenerSet istio-ingress\/more: parent kind ListenerSet not checked/,
    );
  });
  it('a rule that serves the host while a ListenerSet listener also accepts it is a warning, not a silent pass', async () => {
    const gw = structuredClone(base[1]) as Gateway;
    gw.spec.allowedListeners = { namespaces: { from: 'Same' } };
    const rep = await runOnCluster(
      new ManifestCluster([
        base[0]!,
        gw,
        base[2]!,
        http('api', '2026-01-01T00:00:00Z', [{ ...prefix('/'), backendRefs: [{ name: 'api', port: 80 }] }]),
        listenerSet,
      ]),
      'api.example.com',
    );
    const route = rep.layers.find((l) => l.id === 'route');
    expect([route?.status, route?.code]).toEqual(['warn', 'ListenerSetNotChecked']);
  });
  it('a ListenerSet of a Gateway that admits none (no allowedListeners: the default) changes nothing', async () => {
    const rep = await run([
      http('api', '2026-01-01T00:00:00Z', [{ ...prefix('/'), backendRefs: [{ name: 'api', port: 80 }] }]),
      listenerSet,
    ]);
    expect(rep.layers.find((l) => l.id === 'route')?.status).toBe('pass');
  });
  it('an exact-host GRPCRoute shadows a wildcard HTTPRoute: GET / matches none of its methods, 404, and the fix is not a path rule on the GRPCRoute', async () => {
    const wild = http(
      'wild',
      '2025-01-01T00:00:00Z',
      [{ ...prefix('/'), backendRefs: [{ name: 'api', port: 80 }] }],
      ['*.example.com'],
    );
    const rpc = grpc('rpc', '2026-01-01T00:00:00Z', [
      { matches: [{ method: { service: 'pkg.Svc' } }], backendRefs: [{ name: 'api', port: 80 }] },
    ]);
    const route = (await run([wild, rpc])).layers.find((l) => l.id === 'route');
    expect([route?.status, route?.code, route?.fix?.kind]).toEqual(['fail', 'RouteNoMatchingRule', 'manual']);
    expect(route?.evidence.map((e) => e.detail)).toContainEqual(
      expect.stringMatching(/^not consulted: its hostnames are less specific than "api.example.com"/),
    );
  });
  it('says in the evidence that GRPCRoutes were read', async () => {
    const rep = await run([
      http('api', '2026-01-01T00:00:00Z', [{ ...prefix('/'), backendRefs: [{ name: 'api', port: 80 }] }]),
    ]);
    expect(rep.layers.find((l) => l.id === 'route')?.evidence).toContainEqual({
      ref: 'GRPCRoutes',
      detail: expect.stringMatching(/^none in the cluster/) as unknown as string,
    });
  });
  it('a GRPCRoute with a filter Istio does not implement on GRPCRoutes is dropped (InvalidFilter): it takes no request', async () => {
    const g = grpc('rpc', '2026-01-01T00:00:00Z', [
      { filters: [{ type: 'ExtensionRef' }], backendRefs: [{ name: 'api', port: 80 }] },
    ]);
    const route = (await run([g])).layers.find((l) => l.id === 'route');
    expect([route?.status, route?.code, route?.fix?.kind]).toEqual(['fail', 'RouteNotAccepted', 'manual']);
    expect(route?.summary).toMatch(
      /^Istio drops GRPCRoute istio-ingress\/rpc: rules\[0\]\.filters\[0\] has filter type "ExtensionRef", which Istio does not implement \(ResolvedRefs=False\/InvalidFilter/,
    );
  });
});
