// A predicted RequestRedirect against the proxy's live answer (issue 8 item 1): Envoy sends a route's redirect
// itself (no x-envoy-upstream-service-time); the status code and the Location must be the predicted ones.

import { describe, expect, it } from 'vitest';
import { compareRedirect } from '../../checks/route.js';
import { predictRedirect } from '../../src/gatewayapi/redirect.js';
import type { ProxyAnswer } from '../../src/types.js';

const rule = {
  matches: [{ path: { type: 'PathPrefix', value: '/' } }],
  filters: [
    { type: 'RequestRedirect', requestRedirect: { scheme: 'https', hostname: 'www.example.com', statusCode: 301 } },
  ],
};
const rd = predictRedirect(
  rule,
  { path: { type: 'PathPrefix', value: '/' } },
  { host: 'api.example.com', hostPort: null, path: '/docs', query: 'a=1', listenerProtocol: 'HTTP' },
)!;
const answer = (statusCode: number, location: string | null, fromUpstream = false): ProxyAnswer => ({
  ref: 'GET https://api.example.com/docs?a=1 via 192.0.2.7',
  url: 'https://api.example.com/docs?a=1',
  statusCode,
  location,
  fromUpstream,
});

describe('compareRedirect', () => {
  it('agrees on the same code and Location (default port folded), and says so', () => {
    const r = compareRedirect(rd, [answer(301, 'https://www.example.com:443/docs?a=1')]);
    expect(r.disagrees).toBeNull();
    expect(r.evidence[0]?.detail).toBe(
      'answered 301 Location: https://www.example.com:443/docs?a=1, as the rule predicts',
    );
  });
  it.each([
    [
      answer(302, 'https://www.example.com/docs?a=1'),
      /answered 302 Location: https:\/\/www\.example\.com\/docs\?a=1 where the rule predicts 301/,
    ],
    [answer(301, '/docs?a=1'), /answered 301 Location: \/docs\?a=1 where/],
    [answer(301, 'https://www.example.com/docs?a=1', true), /from the backend/],
    [answer(200, null, true), /answered 200 without Location from the backend/],
  ])('disagrees with %j', (a, msg) => {
    expect(compareRedirect(rd, [a]).disagrees).toMatch(msg);
  });
  it('leaves error answers to the layers they point at (Envoy 404/500/503 are carried there)', () => {
    expect(compareRedirect(rd, [answer(404, null)])).toEqual({ evidence: [], disagrees: null });
  });
});
