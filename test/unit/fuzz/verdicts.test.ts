// Fuzz: the inputs behind the verdicts that lied (issue 20, items 2, 4, 5, 6), in-process.
// Invariants:
//  - any route hostname is a target or a stated skip, never an exception (--all and diff must always report);
//  - any filter type on any rule or backendRef: routeDroppedBy is total, and a route it drops never serves nor exposes;
//  - any mix of duplicates and apiVersions: the cluster keeps one object per identity (the last served copy), every
//    notice is one line naming file:line, and every printed ReferenceGrant has a version the API server serves.

import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { INTERNAL_LAYERS, LAYERS } from '../../../checks/index.js';
import { ManifestCluster, SERVED_VERSIONS } from '../../../src/cluster/manifests.js';
import type { HTTPRoute, HTTPRouteRule, K8sObject } from '../../../src/cluster/objects.js';
import { hostsOnGateways } from '../../../src/all-hosts.js';
import { ISTIO_FILTERS, routeDroppedBy } from '../../../src/gatewayapi/grants.js';
import { runTarget } from '../../../src/pipeline.js';
import { parseTarget, routeHostTarget } from '../../../src/target.js';
import { offlineEnv } from '../../helpers/fixtures.js';
import { budget } from './budget.js';

const GW = 'gateway.networking.k8s.io';
const gatewayObjs: K8sObject[] = [
  {
    apiVersion: `${GW}/v1`,
    kind: 'Gateway',
    metadata: { name: 'gw', namespace: 'istio-ingress' },
    spec: {
      gatewayClassName: 'istio',
      listeners: [{ name: 'http', port: 80, protocol: 'HTTP', allowedRoutes: { namespaces: { from: 'All' } } }],
    },
  } as K8sObject,
  {
    apiVersion: 'v1',
    kind: 'Service',
    metadata: { name: 'api', namespace: 'istio-ingress' },
    spec: { ports: [{ port: 80 }], selector: { app: 'api' } },
  } as K8sObject,
];
const route = (name: string, hostnames: string[], rules: HTTPRouteRule[], apiVersion = `${GW}/v1`): HTTPRoute => ({
  apiVersion,
  kind: 'HTTPRoute',
  metadata: { name, namespace: 'istio-ingress' },
  spec: { parentRefs: [{ name: 'gw' }], hostnames, rules },
});

const hostname = fc.oneof(
  fc.domain(),
  fc.stringMatching(/^[a-z0-9]([-a-z0-9]{0,10}[a-z0-9])?$/),
  fc.constantFrom(
    'intranet',
    'INTRANET',
    'foo.123',
    '10.0.0.1',
    '::1',
    'a_b.example.com',
    '',
    '.',
    'x.',
    '-x',
    'a'.repeat(64),
    `${'a.'.repeat(130)}com`,
    'line\nbreak',
    '::error::x',
    '\u2028',
  ),
  fc.string({ maxLength: 20 }),
);

describe('route hostnames: a target or a stated skip, never an exception', () => {
  it('any hostname a route carries', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(hostname, { minLength: 1, maxLength: 4 }), async (hs) => {
        const cluster = new ManifestCluster([
          ...gatewayObjs,
          route('r', hs, [{ backendRefs: [{ name: 'api', port: 80 }] }]),
        ]);
        const list = await hostsOnGateways(cluster, null);
        for (const h of list.hosts) {
          const t = routeHostTarget(h);
          if ('skipped' in t) {
            expect(t.skipped).not.toMatch(/[\n\r\u2028\u2029]/);
            continue;
          }
          expect(t.host).toMatch(/^[a-z0-9.-]+$/);
          // The target runs through the whole pipeline without an exception.
          const r = await runTarget(LAYERS, t, offlineEnv(cluster), { until: null, intervalMs: 0 });
          expect(r.layers).toHaveLength(LAYERS.length);
        }
      }),
      budget(60),
    );
  });
});

const filterType = fc.oneof(
  fc.constantFrom(...ISTIO_FILTERS.HTTPRoute.rule, 'ExtensionRef', 'ExternalAuth', 'extensionref', ''),
  fc.string({ maxLength: 12 }),
);

describe('filter types: a route Istio drops serves and exposes nothing', () => {
  it('any filter types on a rule and a backendRef', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(filterType, { maxLength: 3 }),
        fc.array(filterType, { maxLength: 2 }),
        async (ruleTypes, refTypes) => {
          const r = route(
            'r',
            ['api.example.com'],
            [
              {
                filters: ruleTypes.map((type) => ({ type })),
                backendRefs: [{ name: 'api', port: 80, filters: refTypes.map((type) => ({ type })) }],
              },
            ],
          );
          const drop = routeDroppedBy(r);
          const expectDrop =
            ruleTypes.some((t) => !ISTIO_FILTERS.HTTPRoute.rule.has(t)) ||
            refTypes.some((t) => !ISTIO_FILTERS.HTTPRoute.backendRef.has(t));
          expect(drop !== null).toBe(expectDrop);
          const cluster = new ManifestCluster([...gatewayObjs, r]);
          const pub = await runTarget(LAYERS, parseTarget('api.example.com'), offlineEnv(cluster), {
            until: null,
            intervalMs: 0,
          });
          const routeLayer = pub.layers.find((l) => l.id === 'route');
          if (drop) {
            expect(routeLayer?.status).toBe('fail');
            const internal = await runTarget(
              INTERNAL_LAYERS,
              { ...parseTarget('api.example.com'), expect: 'internal' },
              offlineEnv(cluster),
              { until: null, intervalMs: 0 },
            );
            expect(internal.verdict).toBe('pass');
          }
        },
      ),
      budget(80),
    );
  });
});

const version = fc.constantFrom('v1', 'v1beta1', 'v1alpha2', 'v1beta2', 'v2', 'V1', '');
const nameOf = fc.constantFrom('a', 'b');

describe('duplicates and versions: what kubectl apply would leave', () => {
  it('any sequence of route and grant copies', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(
          fc.record({ kind: fc.constantFrom('HTTPRoute', 'ReferenceGrant'), name: nameOf, version, mark: fc.nat(99) }),
          { minLength: 1, maxLength: 8 },
        ),
        async (copies) => {
          const objs: K8sObject[] = copies.map((c) =>
            c.kind === 'HTTPRoute'
              ? route(
                  c.name,
                  [`h${c.mark}.example.com`],
                  [{ backendRefs: [{ name: 'api', namespace: 'app', port: 80 }] }],
                  `${GW}/${c.version}`,
                )
              : ({
                  apiVersion: `${GW}/${c.version}`,
                  kind: 'ReferenceGrant',
                  metadata: { name: c.name, namespace: 'app', labels: { mark: String(c.mark) } },
                  spec: {
                    from: [{ group: GW, kind: 'HTTPRoute', namespace: 'istio-ingress' }],
                    to: [{ group: '', kind: 'Service' }],
                  },
                } as K8sObject),
          );
          const cluster = new ManifestCluster([...gatewayObjs, ...objs]);
          // One object per identity: the last copy with a served version.
          for (const kind of ['HTTPRoute', 'ReferenceGrant'] as const) {
            const kept = kind === 'HTTPRoute' ? await cluster.httpRoutes() : await cluster.referenceGrants('app');
            const want = new Map<string, number>();
            copies.forEach((c, i) => {
              if (c.kind === kind && (SERVED_VERSIONS[kind] ?? []).includes(c.version)) want.set(c.name, i);
            });
            expect(kept.map((o) => o.metadata.name).sort()).toEqual([...want.keys()].sort());
            for (const o of kept) expect(o).toBe(objs[want.get(o.metadata.name) as number]);
          }
          for (const n of cluster.notices()) expect(n).not.toMatch(/[\n\r]/);
          // A printed grant uses a served version.
          expect(SERVED_VERSIONS['ReferenceGrant']).toContain((await cluster.referenceGrantApiVersion()).split('/')[1]);
        },
      ),
      budget(120),
    );
  });
});
