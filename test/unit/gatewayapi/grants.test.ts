// ReferenceGrant rules (gateway-api referencegrant_types.go; conformance httproute-invalid-reference-grant).

import { describe, expect, it } from 'vitest';
import { grantPermits, resolveBackendRefs } from '../../../src/gatewayapi/grants.js';
import type { HTTPRoute, ReferenceGrant } from '../../../src/cluster/objects.js';

const route: HTTPRoute = {
  apiVersion: 'gateway.networking.k8s.io/v1',
  kind: 'HTTPRoute',
  metadata: { name: 'example-api', namespace: 'istio-ingress' },
  spec: { rules: [{ backendRefs: [{ name: 'example-api', namespace: 'example-api', port: 3000 }] }] },
};
const ref = resolveBackendRefs(route, 0)[0]!;
type From = NonNullable<ReferenceGrant['spec']['from']>;
type To = NonNullable<ReferenceGrant['spec']['to']>;
const grant = (ns: string, from: From, to: To): ReferenceGrant => ({
  apiVersion: 'gateway.networking.k8s.io/v1beta1',
  kind: 'ReferenceGrant',
  metadata: { name: 'g', namespace: ns },
  spec: { from, to },
});
const goodFrom = [{ group: 'gateway.networking.k8s.io', kind: 'HTTPRoute', namespace: 'istio-ingress' }];
const goodTo = [{ group: '', kind: 'Service', name: 'example-api' }];

describe('a ReferenceGrant permits a cross-namespace backendRef', () => {
  it('when it lives in the backend namespace and from/to match', () => {
    expect(grantPermits(grant('example-api', goodFrom, goodTo), 'istio-ingress', ref)).toBe(true);
  });
  it('when to.name is omitted (every Service in the namespace)', () => {
    expect(grantPermits(grant('example-api', goodFrom, [{ group: '', kind: 'Service' }]), 'istio-ingress', ref)).toBe(
      true,
    );
  });
  it.each([
    ['in the route namespace', grant('istio-ingress', goodFrom, goodTo)],
    ['from the wrong namespace', grant('example-api', [{ ...goodFrom[0]!, namespace: 'example-api' }], goodTo)],
    ['from kind Gateway', grant('example-api', [{ ...goodFrom[0]!, kind: 'Gateway' }], goodTo)],
    ['from the wrong group', grant('example-api', [{ ...goodFrom[0]!, group: 'networking.k8s.io' }], goodTo)],
    [
      'to another Service name',
      grant('example-api', goodFrom, [{ group: '', kind: 'Service', name: 'example-admin' }]),
    ],
    ['to kind Secret', grant('example-api', goodFrom, [{ group: '', kind: 'Secret' }])],
    ['to group "core"', grant('example-api', goodFrom, [{ group: 'core', kind: 'Service' }])],
  ])('but not %s', (_, g) => {
    expect(grantPermits(g, 'istio-ingress', ref)).toBe(false);
  });
});

describe('backendRef defaults', () => {
  it('fill group "", kind Service, the route namespace and weight 1, and include RequestMirror targets', () => {
    const r: HTTPRoute = {
      ...route,
      spec: {
        rules: [
          {
            backendRefs: [{ name: 'local', port: 80 }],
            filters: [
              { type: 'RequestMirror', requestMirror: { backendRef: { name: 'm', namespace: 'other', port: 80 } } },
            ],
          },
        ],
      },
    };
    const refs = resolveBackendRefs(r, 0);
    expect(refs[0]).toMatchObject({ group: '', kind: 'Service', namespace: 'istio-ingress', weight: 1 });
    expect(refs[1]).toMatchObject({
      name: 'm',
      namespace: 'other',
      where: 'rules[0].filters[0].requestMirror.backendRef',
    });
  });
});
