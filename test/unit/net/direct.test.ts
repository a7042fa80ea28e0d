// The direct NodePort probe takes its Gateway and listener from the resolved path (the listener stage, which the
// listener layer reports), never by a rule of its own; where the path has no Gateway, the plan says why as data.

import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { listener } from '../../../checks/listener.js';
import { proxy } from '../../../checks/proxy.js';
import type { CheckContext } from '../../../src/check.js';
import { loadManifests, ManifestCluster } from '../../../src/cluster/manifests.js';
import type { K8sObject } from '../../../src/cluster/objects.js';
import { PathResolver } from '../../../src/gatewayapi/resolver.js';
import { describeNoDirect, planDirect, planDirectExposure } from '../../../src/net/direct.js';
import { ProbeFailure } from '../../../src/net/probe-errors.js';
import { parseGatewayRef, parseTarget } from '../../../src/target.js';
import type { GatewayRef, HttpProbe, HttpProbeResult } from '../../../src/types.js';
import { FIXTURES } from '../../helpers/fixtures.js';

type Obj = K8sObject & Record<string, any>;

/** seed-healthy, its node given an address, with `extra` objects listed BEFORE the seed's (list order is the old rule's order). */
function clusterWith(extra: Obj[]): ManifestCluster {
  const objs = loadManifests([join(FIXTURES, 'seed-healthy')]) as Obj[];
  for (const o of objs) if (o.kind === 'Node') o.status.addresses = [{ type: 'InternalIP', address: '127.0.0.1' }];
  return new ManifestCluster([...extra, ...objs]);
}

const conditions = (programmed: boolean) =>
  ['Accepted', 'Programmed'].map((type) => ({
    type,
    status: type === 'Programmed' && !programmed ? 'False' : 'True',
    reason: type === 'Programmed' && !programmed ? 'Invalid' : type,
    message: type === 'Programmed' && !programmed ? 'Failed to program the gateway' : 'ok',
    observedGeneration: 1,
    lastTransitionTime: '2026-11-01T10:10:00Z',
  }));

/** A second ingress Gateway for *.example.com on port 80, with its generated NodePort Service (nodePort 31080). */
function otherGateway(programmed: boolean): Obj[] {
  return [
    {
      apiVersion: 'gateway.networking.k8s.io/v1',
      kind: 'Gateway',
      metadata: { name: 'aa-staging', namespace: 'istio-ingress', generation: 1 },
      spec: {
        gatewayClassName: 'istio',
        listeners: [
          {
            name: 'http',
            port: 80,
            protocol: 'HTTP',
            hostname: '*.example.com',
            allowedRoutes: { namespaces: { from: 'All' } },
          },
        ],
      },
      status: { conditions: conditions(programmed) },
    },
    {
      apiVersion: 'v1',
      kind: 'Service',
      metadata: {
        name: 'aa-staging-istio',
        namespace: 'istio-ingress',
        labels: { 'gateway.networking.k8s.io/gateway-name': 'aa-staging' },
      },
      spec: {
        type: 'NodePort',
        selector: { 'gateway.networking.k8s.io/gateway-name': 'aa-staging' },
        ports: [{ name: 'http', port: 80, nodePort: 31080, protocol: 'TCP' }],
      },
    },
  ];
}

const target = parseTarget('https://api.example.com/health');

function ctxFor(c: ManifestCluster, probe: HttpProbe, filter: GatewayRef | null = null): CheckContext {
  return {
    target,
    cluster: c,
    clusterUnavailable: null,
    gatewayFilter: filter,
    offline: false,
    net: { resolvers: [], expectIps: [], caFile: null, port: null },
    resolver: () => Promise.reject(new Error('unused')),
    probe: async () => probe,
    signal: AbortSignal.timeout(5000),
    probes: { addresses: [{ family: 4, address: '192.0.2.10' }], envoy: [] },
    path: new PathResolver(c, target, filter),
  };
}

const resp = (statusCode: number, headers: Record<string, string>, bodySnippet = ''): HttpProbeResult => ({
  address: '',
  port: 0,
  statusCode,
  headers,
  bodySnippet,
  tls: null,
});

/** The proxy's own 502; the NodePort answers 200 from Envoy. Records every URL asked. */
function probe(): HttpProbe & { calls: string[] } {
  const calls: string[] = [];
  return {
    calls,
    async get(url) {
      calls.push(url.href);
      if (url.protocol === 'https:') return resp(502, { server: 'nginx' }, '<html>502 Bad Gateway</html>');
      if (url.port === '32080' || url.port === '31080')
        return resp(200, { server: 'istio-envoy', 'x-envoy-upstream-service-time': '3' }, 'ok');
      throw new ProbeFailure('ECONNREFUSED', 'ECONNREFUSED');
    },
  };
}

describe('the direct NodePort probe follows the resolved path', () => {
  for (const [why, programmed] of [
    ['a Gateway no route for the host names (the path prefers the one the routes name)', true],
    ['a Gateway that is not programmed (the path takes only healthy ones)', false],
  ] as const) {
    it(`never ${why}, listed first`, async () => {
      const c = clusterWith(otherGateway(programmed));
      const ctx = ctxFor(c, probe());
      const plan = await planDirect(ctx.path as PathResolver);
      expect(plan).toMatchObject({
        ok: true,
        targets: [
          { gateway: 'istio-ingress/example-istio-gateway', listener: 'http', servicePort: 80, nodePort: 32080 },
        ],
      });
      // The same Gateway the listener layer reports for the host.
      const l = await listener.run(ctx);
      expect(l.facts?.listeners?.map((x) => `${x.gateway.namespace}/${x.gateway.name}`)).toEqual([
        'istio-ingress/example-istio-gateway',
      ]);
      // And the proxy layer asks that Gateway's nodePort, never the other's.
      const p = probe();
      await proxy.run({ ...ctx, probe: async () => p });
      expect(p.calls.filter((u) => u.startsWith('http:'))).toEqual(['http://127.0.0.1:32080/health']);
    });
  }

  it('--gateway NS/NAME picks the named Gateway, as the listener stage does', async () => {
    const c = clusterWith(otherGateway(true));
    const plan = await planDirect(new PathResolver(c, target, parseGatewayRef('istio-ingress/aa-staging')));
    expect(plan).toMatchObject({ ok: true, targets: [{ gateway: 'istio-ingress/aa-staging', nodePort: 31080 }] });
  });

  it('--gateway NS/NAME:NODEPORT maps the nodePort to its listener port', async () => {
    const c = clusterWith([]);
    const plan = await planDirect(
      new PathResolver(c, target, parseGatewayRef('istio-ingress/example-istio-gateway:32080')),
    );
    expect(plan).toMatchObject({
      ok: true,
      pinned: '32080 is the nodePort of Service istio-ingress/example-istio-gateway-istio port 80',
      targets: [{ servicePort: 80, nodePort: 32080 }],
      otherPorts: [],
    });
  });

  it('where the path has no Gateway for the host, the plan says so from the stage, as data', async () => {
    const c = clusterWith([]);
    const missing = await planDirect(new PathResolver(c, target, parseGatewayRef('istio-ingress/nope')));
    expect(missing).toEqual({
      ok: false,
      why: {
        kind: 'no-gateway',
        stage: 'filter-missing',
        host: 'api.example.com',
        filter: { namespace: 'istio-ingress', name: 'nope' },
        port: null,
      },
    });
    const port = await planDirect(
      new PathResolver(c, target, parseGatewayRef('istio-ingress/example-istio-gateway:8443')),
    );
    expect(port).toMatchObject({ ok: false, why: { kind: 'no-gateway', stage: 'no-listener', port: 8443 } });
    if (!port.ok)
      expect(describeNoDirect(port.why)).toBe(
        'no Gateway istio-ingress/example-istio-gateway has a listener for api.example.com on port 8443',
      );
    const other = await planDirect(new PathResolver(c, parseTarget('https://other.test/'), null));
    expect(other).toMatchObject({ ok: false, why: { kind: 'no-gateway', stage: 'no-listener', filter: null } });
  });

  it('a Gateway Service without a nodePort for the listener port: said per Gateway, as data', async () => {
    const objs = otherGateway(true);
    (objs[1] as Obj).spec = { type: 'ClusterIP', ports: [{ name: 'http', port: 80 }] };
    const c = clusterWith(objs);
    const plan = await planDirect(new PathResolver(c, target, parseGatewayRef('istio-ingress/aa-staging')));
    expect(plan).toEqual({
      ok: false,
      why: {
        kind: 'no-node-port',
        gateways: [
          {
            gateway: { namespace: 'istio-ingress', name: 'aa-staging' },
            service: { name: 'aa-staging-istio', type: 'ClusterIP', port: 80 },
          },
        ],
      },
    });
  });

  it('--internal: the public Gateways of the exposure stage', async () => {
    const c = clusterWith([]);
    const t = { ...parseTarget('admin.example.com'), expect: 'internal' as const };
    const plan = await planDirectExposure(new PathResolver(c, t, null));
    expect(plan).toMatchObject({
      ok: true,
      targets: [{ gateway: 'istio-ingress/example-istio-gateway', nodePort: 32080 }],
    });
  });
});
