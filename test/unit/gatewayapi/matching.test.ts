// Rule selection: path match types, precedence across rules and routes, virtual-host shadowing.

import { describe, expect, it } from 'vitest';
import { pathMatches, selectRule } from '../../../src/gatewayapi/matching.js';
import { loadRe2 } from '../../../src/gatewayapi/matching.js';

await loadRe2();
import type { HTTPRoute, HTTPRouteRule } from '../../../src/cluster/objects.js';

describe('path matching (gateway-api PathMatchType)', () => {
  it.each([
    ['PathPrefix', '/', '/anything', true],
    ['PathPrefix', '/api', '/api', true],
    ['PathPrefix', '/api', '/api/', true],
    ['PathPrefix', '/api', '/api/v1', true],
    ['PathPrefix', '/api', '/apiv2', false], // element-wise
    ['PathPrefix', '/api/', '/api', true], // trailing slash in the value is ignored
    ['PathPrefix', '/API', '/api', false], // case-sensitive
    ['Exact', '/health', '/health', true],
    ['Exact', '/health', '/health/', false],
    ['RegularExpression', '/v[0-9]+/.*', '/v2/users', true],
    ['RegularExpression', '/v[0-9]+', '/v2/users', false], // full match
    ['RegularExpression', '([', '/x', false], // invalid pattern never matches
  ])('%s %s vs %s: %s', (type, value, path, want) => {
    expect(pathMatches(type, value, path)).toBe(want);
  });
});

function route(name: string, created: string, hostnames: string[] | undefined, rules: HTTPRouteRule[]): HTTPRoute {
  return {
    apiVersion: 'gateway.networking.k8s.io/v1',
    kind: 'HTTPRoute',
    metadata: { name, namespace: 'ns', creationTimestamp: created },
    spec: { ...(hostnames ? { hostnames } : {}), rules },
  };
}
const rule = (type: string, value: string): HTTPRouteRule => ({
  matches: [{ path: { type, value } }],
  backendRefs: [{ name: value }],
});
const req = (path: string, query = '') => ({ host: 'api.example.com', path, query, method: 'GET' });

describe('which rule wins', () => {
  const older = route('older', '2026-01-01T00:00:00Z', ['api.example.com'], [rule('PathPrefix', '/')]);
  const newer = route(
    'newer',
    '2026-02-01T00:00:00Z',
    ['api.example.com'],
    [rule('PathPrefix', '/v2'), rule('Exact', '/v2/health')],
  );
  const attached = [older, newer].map((r) => ({ route: r, hostnames: r.spec.hostnames ?? [undefined] }));

  it('an Exact match beats any prefix, across routes', () => {
    const s = selectRule(attached, req('/v2/health'));
    expect([s.winner?.route.metadata.name, s.winner?.ruleIndex]).toEqual(['newer', 1]);
  });
  it('the longest prefix beats "/" even from a newer route', () => {
    expect(selectRule(attached, req('/v2/x')).winner?.route.metadata.name).toBe('newer');
  });
  it('the catch-all takes the rest', () => {
    expect(selectRule(attached, req('/other')).winner?.route.metadata.name).toBe('older');
  });
  it('on an exact tie the older route wins', () => {
    const twin = route('aaa-twin', '2026-03-01T00:00:00Z', ['api.example.com'], [rule('PathPrefix', '/')]);
    const s = selectRule([...attached, { route: twin, hostnames: ['api.example.com'] }], req('/other'));
    expect(s.winner?.route.metadata.name).toBe('older');
  });
  it('a rule with a header match is not taken by a plain GET', () => {
    const h = route(
      'hdr',
      '2026-01-01T00:00:00Z',
      ['api.example.com'],
      [{ matches: [{ path: { type: 'PathPrefix', value: '/' }, headers: [{ name: 'x-v', value: '1' }] }] }],
    );
    expect(selectRule([{ route: h, hostnames: ['api.example.com'] }], req('/')).winner).toBeNull();
  });
  it('query parameter matches use the URL query', () => {
    const q = route(
      'q',
      '2026-01-01T00:00:00Z',
      ['api.example.com'],
      [{ matches: [{ path: { type: 'PathPrefix', value: '/' }, queryParams: [{ name: 'v', value: '2' }] }] }],
    );
    const at = [{ route: q, hostnames: ['api.example.com'] }];
    expect(selectRule(at, req('/', 'v=2')).winner?.route.metadata.name).toBe('q');
    expect(selectRule(at, req('/', 'v=3')).winner).toBeNull();
  });
  it('a rule without matches matches everything (CRD default PathPrefix /)', () => {
    const r = route('nomatch', '2026-01-01T00:00:00Z', undefined, [{ backendRefs: [{ name: 'x' }] }]);
    expect(
      selectRule([{ route: r, hostnames: ['*.example.com'] }], req('/deep/path')).winner?.route.metadata.name,
    ).toBe('nomatch');
  });
});

describe('virtual hosts: an exact-host route shadows a wildcard-host route', () => {
  const exact = route('exact', '2026-01-01T00:00:00Z', ['api.example.com'], [rule('PathPrefix', '/v1')]);
  const wild = route('wild', '2026-01-01T00:00:00Z', ['*.example.com'], [rule('PathPrefix', '/docs')]);
  const attached = [
    { route: exact, hostnames: ['api.example.com'] },
    { route: wild, hostnames: ['*.example.com'] },
  ];
  it('does not fall through to the wildcard route for a path only it matches', () => {
    const s = selectRule(attached, req('/docs'));
    expect(s.vhost).toBe('api.example.com');
    expect(s.winner).toBeNull();
    expect(s.shadowed.map((r) => r.metadata.name)).toEqual(['wild']);
  });
  it('serves other hosts from the wildcard route', () => {
    const s = selectRule(attached, { ...req('/docs'), host: 'docs.example.com' });
    expect(s.winner?.route.metadata.name).toBe('wild');
  });
});
