// Route -> Gateway attachment, predicted the way Istio computes it (gateway/conversion.go referenceAllowed).

import { describe, expect, it } from 'vitest';
import { attachToGateway, selectorMatches } from '../../../src/gatewayapi/attachment.js';
import type { Gateway, GatewayListener, HTTPRoute } from '../../../src/cluster/objects.js';

const gw = (listeners: GatewayListener[]): Gateway => ({
  apiVersion: 'gateway.networking.k8s.io/v1',
  kind: 'Gateway',
  metadata: { name: 'gw', namespace: 'istio-ingress' },
  spec: { gatewayClassName: 'istio', listeners },
});
const rt = (ns: string, hostnames?: string[]): HTTPRoute => ({
  apiVersion: 'gateway.networking.k8s.io/v1',
  kind: 'HTTPRoute',
  metadata: { name: 'r', namespace: ns },
  spec: { parentRefs: [{ name: 'gw', namespace: 'istio-ingress' }], ...(hostnames ? { hostnames } : {}) },
});
const http = (extra: Partial<GatewayListener> = {}): GatewayListener => ({
  name: 'http',
  hostname: '*.example.com',
  port: 80,
  protocol: 'HTTP',
  ...extra,
});

describe('attachment', () => {
  it('accepts a route in the Gateway namespace by default (allowedRoutes from: Same)', () => {
    expect(
      attachToGateway(rt('istio-ingress', ['api.example.com']), { name: 'gw' }, gw([http()]), undefined).accepted,
    ).toBe(true);
  });
  it('rejects a route from another namespace with NotAllowedByListeners when from is Same (the default)', () => {
    const a = attachToGateway(
      rt('example-api', ['api.example.com']),
      { name: 'gw', namespace: 'istio-ingress' },
      gw([http()]),
      undefined,
    );
    expect([a.accepted, a.reason]).toEqual([false, 'NotAllowedByListeners']);
  });
  it('reports NoMatchingListenerHostname before the namespace problem, as Istio does', () => {
    const a = attachToGateway(
      rt('example-api', ['api.example.org']),
      { name: 'gw', namespace: 'istio-ingress' },
      gw([http()]),
      undefined,
    );
    expect(a.reason).toBe('NoMatchingListenerHostname');
  });
  it('reports NoMatchingParent for a sectionName or port that no listener has', () => {
    expect(
      attachToGateway(rt('istio-ingress'), { name: 'gw', sectionName: 'https' }, gw([http()]), undefined).reason,
    ).toBe('NoMatchingParent');
    expect(attachToGateway(rt('istio-ingress'), { name: 'gw', port: 443 }, gw([http()]), undefined).reason).toBe(
      'NoMatchingParent',
    );
  });
  it('evaluates a Selector against the route namespace labels, including kubernetes.io/metadata.name', () => {
    const l = http({
      allowedRoutes: { namespaces: { from: 'Selector', selector: { matchLabels: { expose: 'public' } } } },
    });
    const ns = { apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'example-api', labels: { expose: 'public' } } };
    expect(attachToGateway(rt('example-api'), { name: 'gw', namespace: 'istio-ingress' }, gw([l]), ns).accepted).toBe(
      true,
    );
    const bare = { apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'example-api' } };
    expect(attachToGateway(rt('example-api'), { name: 'gw', namespace: 'istio-ingress' }, gw([l]), bare).accepted).toBe(
      false,
    );
    // Namespace not read (manifests without it): unknown, so accepted on an assumption that is named, never rejected.
    const unknown = attachToGateway(rt('example-api'), { name: 'gw', namespace: 'istio-ingress' }, gw([l]), undefined);
    expect(unknown).toMatchObject({
      accepted: true,
      assumed: expect.stringContaining('labels of Namespace example-api were not read'),
    });
    const byName = http({
      allowedRoutes: {
        namespaces: { from: 'Selector', selector: { matchLabels: { 'kubernetes.io/metadata.name': 'example-api' } } },
      },
    });
    expect(
      attachToGateway(rt('example-api'), { name: 'gw', namespace: 'istio-ingress' }, gw([byName]), undefined).accepted,
    ).toBe(true);
  });
  it('does not attach an HTTPRoute to a TCP listener or one whose kinds leave HTTPRoute out', () => {
    expect(
      attachToGateway(
        rt('istio-ingress'),
        { name: 'gw' },
        gw([http({ protocol: 'TCP', hostname: undefined as unknown as string })]),
        undefined,
      ).accepted,
    ).toBe(false);
    expect(
      attachToGateway(
        rt('istio-ingress'),
        { name: 'gw' },
        gw([http({ allowedRoutes: { kinds: [{ kind: 'GRPCRoute' }] } })]),
        undefined,
      ).reason,
    ).toBe('NotAllowedByListeners');
  });
});

describe('label selectors', () => {
  it.each([
    [{ matchExpressions: [{ key: 'a', operator: 'In' as const, values: ['1', '2'] }] }, { a: '2' }, true],
    [{ matchExpressions: [{ key: 'a', operator: 'NotIn' as const, values: ['1'] }] }, { a: '1' }, false],
    [{ matchExpressions: [{ key: 'a', operator: 'Exists' as const }] }, {}, false],
    [{ matchExpressions: [{ key: 'a', operator: 'DoesNotExist' as const }] }, {}, true],
    [
      { matchLabels: { a: '1' }, matchExpressions: [{ key: 'b', operator: 'Exists' as const }] },
      { a: '1', b: '' },
      true,
    ],
  ])('%j on %j: %s', (sel, labels, want) => {
    expect(selectorMatches(sel, labels)).toBe(want);
  });
});
