// Gateway API hostname rules (gateway-api apis/v1 Listener.Hostname, HTTPRouteSpec.Hostnames, hostnames.md).

import { describe, expect, it } from 'vitest';
import { hostMatches, intersect } from '../../../src/gatewayapi/hostnames.js';
import { acceptingListeners } from '../../../src/gatewayapi/listeners.js';
import type { Gateway } from '../../../src/cluster/objects.js';

describe('a listener or route hostname accepts a host', () => {
  it.each([
    ['*.example.com', 'api.example.com', true],
    ['*.example.com', 'a.b.example.com', true], // one OR MORE labels
    ['*.example.com', 'example.com', false], // never the bare domain
    ['*.example.com', 'api.example.org', false],
    ['*.com', 'example.com', true],
    ['api.example.com', 'api.example.com', true],
    ['api.example.com', 'apix.example.com', false],
    [undefined, 'anything.example', true], // no hostname = all
  ])('%s accepts %s: %s', (pattern, host, want) => {
    expect(hostMatches(pattern, host)).toBe(want);
  });
});

describe('listener hostname ∩ route hostname (hostnames.md "Hostname Intersection")', () => {
  it.each([
    ['*.example.com', 'api.example.com', 'api.example.com'],
    ['*.example.com', 'foo.bar.example.com', 'foo.bar.example.com'],
    ['very.specific.com', '*.specific.com', 'very.specific.com'],
    ['*.com', '*.example.com', '*.example.com'],
    ['*.example.com', '*.com', '*.example.com'],
    ['api.example.com', 'worker.example.com', undefined],
    ['*.example.org', 'api.example.com', undefined],
    [undefined, 'api.example.com', 'api.example.com'],
    ['*.example.com', undefined, '*.example.com'],
    [undefined, undefined, '*'],
  ])('%s ∩ %s = %s', (l, r, want) => {
    expect(intersect(l, r)).toBe(want);
  });
});

describe('listener precedence on a shared port', () => {
  const gw: Gateway = {
    apiVersion: 'gateway.networking.k8s.io/v1',
    kind: 'Gateway',
    metadata: { name: 'g', namespace: 'n' },
    spec: {
      gatewayClassName: 'istio',
      listeners: [
        { name: 'any', port: 80, protocol: 'HTTP' },
        { name: 'wild', hostname: '*.example.com', port: 80, protocol: 'HTTP' },
        { name: 'deeper', hostname: '*.api.example.com', port: 80, protocol: 'HTTP' },
        { name: 'exact', hostname: 'api.example.com', port: 80, protocol: 'HTTP' },
        { name: 'tcp', port: 81, protocol: 'TCP' },
        { name: 'other-port', hostname: '*.example.com', port: 8080, protocol: 'HTTP' },
      ],
    },
  };
  it('picks the exact hostname over wildcards and the empty hostname, one listener per port', () => {
    expect(acceptingListeners(gw, 'api.example.com').map((l) => l.name)).toEqual(['exact', 'other-port']);
  });
  it('picks the wildcard with more labels', () => {
    expect(acceptingListeners(gw, 'v1.api.example.com').map((l) => l.name)).toEqual(['deeper', 'other-port']);
  });
  it('falls back to the listener without hostname, and never to a TCP listener', () => {
    expect(acceptingListeners(gw, 'example.com').map((l) => l.name)).toEqual(['any']);
  });
});
