import { describe, expect, it } from 'vitest';
import { classifyResponse, gatewayAnswered, sameUrl } from '../../../src/net/classify.js';

const url = new URL('https://api.example.com/health');
const r = (statusCode: number, headers: Record<string, string> = {}, bodySnippet = '') => ({
  statusCode,
  headers,
  bodySnippet,
});

describe('classifyResponse (gateway-api-rules.md Appendix B)', () => {
  it.each([
    [
      'backend through Envoy',
      r(200, { 'x-envoy-upstream-service-time': '3', server: 'nginx' }, 'ok'),
      { kind: 'upstream' },
    ],
    [
      'app 503 through Envoy stays the app',
      r(503, { 'x-envoy-upstream-service-time': '3' }, 'busy'),
      { kind: 'upstream' },
    ],
    ['404 NR with istio-envoy', r(404, { server: 'istio-envoy' }), { kind: 'envoy', fault: 'NR', sure: true }],
    [
      '404 empty through nginx is only the shape of Envoy NR: not Envoy by itself',
      r(404, { server: 'nginx' }),
      { kind: 'other', server: 'nginx' },
    ],
    [
      '404 empty from a Python BaseHTTP server is not Envoy',
      r(404, { server: 'BaseHTTP/0.6 Python/3.11.2' }),
      { kind: 'other' },
    ],
    ['500 empty without any header is not Envoy', r(500), { kind: 'other' }],
    ['404 NR with plain envoy', r(404, { server: 'envoy' }), { kind: 'envoy', fault: 'NR', sure: true }],
    [
      '404 empty with an x-envoy-* header',
      r(404, { server: 'nginx', 'x-envoy-decorator-operation': 'x' }),
      { kind: 'envoy', fault: 'NR', sure: true },
    ],
    ['500 NC', r(500, { server: 'istio-envoy' }), { kind: 'envoy', fault: 'NC', sure: true }],
    [
      '503 UH through nginx',
      r(503, { server: 'nginx' }, 'no healthy upstream'),
      { kind: 'envoy', fault: 'UH', sure: true },
    ],
    [
      '503 UF',
      r(503, {}, 'upstream connect error or disconnect/reset before headers. reset reason: connection refused'),
      { kind: 'envoy', fault: 'UF' },
    ],
    ['504 UT', r(504, {}, 'upstream request timeout'), { kind: 'envoy', fault: 'UT' }],
    [
      'nginx 502 page',
      r(502, { server: 'nginx/1.22.1' }, '<html><head><title>502 Bad Gateway</title>'),
      { kind: 'proxy-error', server: 'nginx/1.22.1' },
    ],
    ['HAProxy 503 page', r(503, {}, '<html><body><h1>503 Service Unavailable</h1>'), { kind: 'proxy-error' }],
    [
      'nginx 504 page',
      r(504, { server: 'nginx' }, '<html><head><title>504 Gateway Time-out</title>'),
      { kind: 'proxy-error' },
    ],
    ['nginx default page', r(200, { server: 'nginx' }, '<title>Welcome to nginx!</title>'), { kind: 'other' }],
    ['nginx own 404 page', r(404, { server: 'nginx' }, '<html><center>nginx</center>'), { kind: 'other' }],
    ['Envoy header on an unusual status', r(429, { 'x-envoy-ratelimited': 'true' }), { kind: 'envoy-other' }],
    ['redirect to itself', r(301, { location: 'https://api.example.com/health' }), { kind: 'redirect-loop' }],
    ['relative redirect to itself', r(308, { location: '/health' }), { kind: 'redirect-loop' }],
    ['redirect elsewhere', r(302, { location: 'https://login.example.com/' }), { kind: 'redirect' }],
  ])('%s', (_name, res, want) => {
    expect(classifyResponse(res, url)).toMatchObject(want);
  });

  it('straight from the NodePort, a server header that is not Envoy rules Envoy out, even with an Envoy-like body', () => {
    const direct = { direct: true };
    expect(classifyResponse(r(404, { server: 'BaseHTTP/0.6' }), url, url, direct)).toMatchObject({ kind: 'other' });
    expect(classifyResponse(r(503, { server: 'BaseHTTP/0.6' }, 'no healthy upstream'), url, url, direct)).toMatchObject(
      { kind: 'other' },
    );
    expect(
      classifyResponse(r(200, { server: 'BaseHTTP/0.6', 'x-envoy-upstream-service-time': '1' }), url, url, direct),
    ).toMatchObject({ kind: 'upstream' });
    expect(classifyResponse(r(404, { server: 'istio-envoy' }), url, url, direct)).toMatchObject({
      kind: 'envoy',
      fault: 'NR',
      sure: true,
    });
    expect(gatewayAnswered(classifyResponse(r(404, { server: 'BaseHTTP/0.6' }), url, url, direct))).toBe(false);
  });

  it('folds default ports and host case when comparing URLs', () => {
    expect(sameUrl(new URL('https://API.example.com:443/x'), new URL('https://api.example.com/x'))).toBe(true);
    expect(sameUrl(new URL('http://api.example.com/x'), new URL('https://api.example.com/x'))).toBe(false);
  });

  it('tells whether the gateway answered', () => {
    expect(gatewayAnswered(classifyResponse(r(404, { server: 'istio-envoy' }), url))).toBe(true);
    expect(gatewayAnswered(classifyResponse(r(502, { server: 'nginx' }, '<html>'), url))).toBe(false);
  });
});
