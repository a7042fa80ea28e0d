// The pure judges on literal stages (issue 17): each cluster layer's judge is a function of the stage the path
// resolver builds (src/gatewayapi/path.ts) and the target; here the stages are written out by hand, so a judge's
// verdict is pinned without a cluster, a reader or a resolver in between.

import { describe, expect, it } from 'vitest';
import { judgeEndpoints } from '../../../checks/endpoints.js';
import { judgeGrant } from '../../../checks/grant.js';
import { judgeListener } from '../../../checks/listener.js';
import { judgeRoute } from '../../../checks/route.js';
import type { Gateway, HTTPRoute, ReferenceGrant, Service } from '../../../src/cluster/objects.js';
import type { EndpointsStage, GrantStage, ListenerStage, RouteStage } from '../../../src/gatewayapi/path.js';
import type { JudgeInput } from '../../../src/layer.js';
import { layerMeta } from '../../../src/registry.js';
import { parseTarget } from '../../../src/target.js';
import type { ResolvedBackendRef } from '../../../src/types.js';

type Matched = Extract<RouteStage, { kind: 'matched' }>;

const input: JudgeInput = {
  target: parseTarget('api.example.com'),
  probes: { addresses: null, envoy: [] },
  gatewayFilter: null,
};

const gateway: Gateway = {
  apiVersion: 'gateway.networking.k8s.io/v1',
  kind: 'Gateway',
  metadata: { name: 'edge', namespace: 'gw' },
  spec: {
    gatewayClassName: 'istio',
    listeners: [{ name: 'http', port: 80, protocol: 'HTTP', hostname: 'www.example.com' }],
  },
};

const route: HTTPRoute = {
  apiVersion: 'gateway.networking.k8s.io/v1',
  kind: 'HTTPRoute',
  metadata: { name: 'api', namespace: 'gw' },
  spec: {
    parentRefs: [{ name: 'edge' }],
    hostnames: ['api.example.com'],
    rules: [{ backendRefs: [{ name: 'api', namespace: 'apps', port: 8080 }] }],
  },
};

const ref: ResolvedBackendRef = {
  ref: { name: 'api', namespace: 'apps', port: 8080 },
  group: '',
  kind: 'Service',
  name: 'api',
  namespace: 'apps',
  port: 8080,
  weight: 1,
  pointer: ['spec', 'rules', 0, 'backendRefs', 0],
  mirror: false,
  where: 'rules[0].backendRefs[0]',
};

const service: Service = {
  apiVersion: 'v1',
  kind: 'Service',
  metadata: { name: 'api', namespace: 'apps' },
  spec: { selector: { app: 'api' }, ports: [{ port: 8080, targetPort: 8080 }] },
};

/** The route stage's matched case: what the grant and endpoints judges read of it (the route, its parentRef, the redirect). */
const matched = {
  kind: 'matched',
  attachment: { route, parentRef: { name: 'edge' }, parentIndex: 0, gateway },
  ruleIndex: 0,
  refs: [ref],
  services: [],
  redirect: null,
} as unknown as Matched;

describe('judgeListener', () => {
  const judge = (s: ListenerStage) => judgeListener.call(layerMeta('listener'), s, input);

  it('a --gateway that names no Gateway: GatewayNotFound with the command that lists them', () => {
    const d = judge({
      kind: 'filter-missing',
      classes: [],
      routes: [],
      filter: { namespace: 'gw', name: 'nope' },
      all: [gateway],
    });
    expect(d).toMatchObject({ status: 'fail', code: 'GatewayNotFound' });
    expect(d.summary).toBe('Gateway gw/nope does not exist');
    expect(d.fix?.kind).toBe('command');
  });

  it('no listener accepts the host: ListenerHostnameMismatch naming the listener that does not, with a patch that adds one', () => {
    const d = judge({ kind: 'no-listener', classes: [], routes: [], considered: [gateway], addTo: gateway });
    expect(d).toMatchObject({ status: 'fail', code: 'ListenerHostnameMismatch' });
    expect(d.evidence.map((e) => e.detail).join('\n')).toContain('does not accept api.example.com');
    expect(d.fix?.kind).toBe('patch');
  });
});

describe('judgeRoute', () => {
  it('no HTTPRoute serves the host on the chosen listener: NoRouteForHost (Envoy answers 404)', () => {
    const listener = { name: 'http', port: 80, protocol: 'HTTP' };
    const s = {
      kind: 'no-route',
      chosen: {
        cand: { gateway, listener },
        attached: [],
        sel: { vhost: null, routes: [], shadowed: [], winner: null, entries: [] },
      },
      attachments: [],
      routes: [],
      forHost: [],
      gateways: [gateway],
      nsObjs: new Map(),
      listenerSets: [],
      unreadable: [],
      services: [],
    } as unknown as RouteStage;
    const d = judgeRoute.call(layerMeta('route'), s, input);
    expect(d).toMatchObject({ status: 'fail', code: 'NoRouteForHost' });
    expect(d.summary).toContain('serves api.example.com (Envoy answers 404)');
  });
});

describe('judgeGrant', () => {
  const grantStage = (grants: ReferenceGrant[]): GrantStage => ({
    refs: [ref],
    mirrors: [],
    elsewhere: [],
    missing: [],
    siblings: new Map(),
    nsPods: new Map(),
    grants: new Map([['apps', grants]]),
    notApplied: new Map(),
    apiVersion: 'gateway.networking.k8s.io/v1beta1',
  });

  it('a cross-namespace backendRef without a ReferenceGrant: ReferenceGrantMissing, and the grant to apply', () => {
    const d = judgeGrant.call(layerMeta('grant'), { rs: matched, gs: grantStage([]) });
    expect(d).toMatchObject({ status: 'fail', code: 'ReferenceGrantMissing' });
    expect(d.fix).toMatchObject({
      kind: 'apply',
      object: {
        kind: 'ReferenceGrant',
        metadata: { namespace: 'apps' },
        spec: { from: [{ kind: 'HTTPRoute', namespace: 'gw' }], to: [{ kind: 'Service', name: 'api' }] },
      },
    });
  });

  it('the same backendRef with a ReferenceGrant that permits it: a pass', () => {
    const grant: ReferenceGrant = {
      apiVersion: 'gateway.networking.k8s.io/v1beta1',
      kind: 'ReferenceGrant',
      metadata: { name: 'from-gw', namespace: 'apps' },
      spec: {
        from: [{ group: 'gateway.networking.k8s.io', kind: 'HTTPRoute', namespace: 'gw' }],
        to: [{ group: '', kind: 'Service' }],
      },
    };
    const d = judgeGrant.call(layerMeta('grant'), { rs: matched, gs: grantStage([grant]) });
    expect(d.status, d.summary).toBe('pass');
    expect(d.summary).toBe('ReferenceGrants permit 1 cross-namespace backendRef');
  });
});

describe('judgeEndpoints', () => {
  const stage = (slices: EndpointsStage['backends'][number]['slices']): EndpointsStage =>
    ({
      backends: [{ ref, service, siblings: [], grants: [], slices, pods: null, nsPods: null, waypoint: null }],
      mirrorMissing: false,
      elsewhere: [],
    }) as unknown as EndpointsStage;

  const slice = (ready: boolean) => ({
    apiVersion: 'discovery.k8s.io/v1',
    kind: 'EndpointSlice',
    metadata: { name: 'api-1', namespace: 'apps', labels: { 'kubernetes.io/service-name': 'api' } },
    addressType: 'IPv4',
    ports: [{ port: 8080, protocol: 'TCP' }],
    endpoints: [{ addresses: ['10.0.0.5'], conditions: { ready } }],
  });

  it('manifests without EndpointSlices or Pods for the Service: a warning that readiness was not checked, never a pass', () => {
    const d = judgeEndpoints.call(layerMeta('endpoints'), { rs: matched, es: stage([]) });
    expect(d).toMatchObject({ status: 'warn', code: 'EndpointsUnknown' });
  });

  it('the only endpoint is not ready: NoReadyEndpoints (Envoy answers 503 no healthy upstream)', () => {
    const d = judgeEndpoints.call(layerMeta('endpoints'), { rs: matched, es: stage([slice(false) as never]) });
    expect(d).toMatchObject({ status: 'fail', code: 'NoReadyEndpoints' });
  });

  it('a ready endpoint on the backendRef port: a pass', () => {
    const d = judgeEndpoints.call(layerMeta('endpoints'), { rs: matched, es: stage([slice(true) as never]) });
    expect(d.status, d.summary).toBe('pass');
  });
});
