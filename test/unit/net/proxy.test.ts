import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { proxy } from '../../../checks/proxy.js';
import { loadManifests, ManifestCluster } from '../../../src/cluster/manifests.js';
import type { K8sObject } from '../../../src/cluster/objects.js';
import { ProbeFailure, TlsProbeFailure } from '../../../src/net/probe-errors.js';
import type { TlsDetails } from '../../../src/net/tls-inspect.js';
import { parseTarget } from '../../../src/target.js';
import { PathResolver } from '../../../src/gatewayapi/resolver.js';
import type { HttpProbe, HttpProbeResult } from '../../../src/types.js';
import type { CheckContext } from '../../../src/check.js';
import { FIXTURES } from '../../helpers/fixtures.js';
import { loadYaml, renderFix } from '../../../src/fix/render.js';

await loadYaml(); // the yaml library is loaded on demand (src/fix/render.ts); these tests render fixes directly

const tls = (daysLeft = 80): TlsDetails => ({
  authorized: true,
  error: null,
  subject: 'CN=api.example.com',
  issuer: 'CN=Test CA',
  validTo: '2027-01-01T00:00:00.000Z',
  san: ['api.example.com'],
  validFrom: '2026-01-01T00:00:00.000Z',
  daysLeft,
  protocol: 'TLSv1.3',
  chain: [],
  chainError: null,
  nameError: null,
});
const resp = (
  statusCode: number,
  headers: Record<string, string>,
  bodySnippet = '',
  t: TlsDetails | null = null,
): HttpProbeResult => ({ address: '', port: 0, statusCode, headers, bodySnippet, tls: t });

/** Proxied (https) and direct (http to the NodePort) answers, or failures. */
function fakeProbe(
  proxied: HttpProbeResult | Error,
  direct?: HttpProbeResult | Error,
): HttpProbe & { calls: string[] } {
  const calls: string[] = [];
  return {
    calls,
    async get(url, opts) {
      calls.push(`${url.href} host=${opts.hostHeader ?? '-'} addr=${opts.address ?? '-'}`);
      const v = url.protocol === 'https:' ? proxied : direct;
      if (!v) throw new ProbeFailure('ECONNREFUSED', 'ECONNREFUSED');
      if (v instanceof Error) throw v;
      return v;
    },
  };
}

function cluster(): ManifestCluster {
  const objs = loadManifests([join(FIXTURES, 'seed-healthy')]) as (K8sObject & Record<string, any>)[];
  for (const o of objs) if (o.kind === 'Node') o.status.addresses = [{ type: 'InternalIP', address: '127.0.0.1' }];
  return new ManifestCluster(objs);
}

function ctxFor(probe: HttpProbe, withCluster = true): CheckContext {
  const target = parseTarget('https://api.example.com/health');
  const c = withCluster ? cluster() : null;
  return {
    target,
    cluster: c,
    clusterUnavailable: withCluster ? null : 'no kubeconfig',
    gatewayFilter: null,
    offline: false,
    net: { resolvers: [], expectIps: [], caFile: null, port: null },
    resolver: () => Promise.reject(new Error('unused')),
    probe: async () => probe,
    signal: AbortSignal.timeout(5000),
    probes: { addresses: [{ family: 4, address: '192.0.2.10' }], envoy: [] },
    path: c ? new PathResolver(c, target, null) : null,
  };
}

const OK = resp(200, { 'x-envoy-upstream-service-time': '4', server: 'nginx' }, 'ok', tls());

describe('proxy layer', () => {
  it('passes when the backend answered through Envoy, without a direct probe', async () => {
    const p = fakeProbe(OK);
    const f = await proxy.run(ctxFor(p));
    expect(f.status).toBe('pass');
    expect(p.calls).toEqual(['https://api.example.com/health host=- addr=192.0.2.10']);
  });
  it('warns about a certificate that expires within 14 days', async () => {
    const f = await proxy.run(ctxFor(fakeProbe({ ...OK, tls: tls(5) })));
    expect(f).toMatchObject({ status: 'warn', code: 'TlsCertificateExpiring' });
  });
  it('fails on an invalid certificate and says why', async () => {
    const t = { ...tls(-3), authorized: false, chainError: 'CERT_HAS_EXPIRED', error: 'CERT_HAS_EXPIRED' };
    const f = await proxy.run(
      ctxFor(fakeProbe(new TlsProbeFailure('CERT_HAS_EXPIRED', 'it expired on 2027-01-01', t))),
    );
    expect(f).toMatchObject({ status: 'fail', code: 'TlsCertificateInvalid' });
    expect(f.summary).toContain('expired');
  });
  it('fails ProxyUnreachable on refused', async () => {
    const f = await proxy.run(ctxFor(fakeProbe(new ProbeFailure('ECONNREFUSED', 'ECONNREFUSED'))));
    expect(f).toMatchObject({ status: 'fail', code: 'ProxyUnreachable' });
  });
  it('proxy error page, gateway fine directly: ProxyUpstreamError pointing at the NodePort', async () => {
    const p = fakeProbe(resp(502, { server: 'nginx' }, '<html>502 Bad Gateway</html>', tls()), OK);
    const f = await proxy.run(ctxFor(p));
    expect(f).toMatchObject({ status: 'fail', code: 'ProxyUpstreamError' });
    expect(f.fix && `${f.fix.explain}\n${renderFix(f.fix)}`).toContain('127.0.0.1:32080');
    expect(p.calls[1]).toBe('http://127.0.0.1:32080/health host=api.example.com addr=-');
  });
  it('404 through the proxy but 200 directly: the proxy rewrites Host', async () => {
    const f = await proxy.run(ctxFor(fakeProbe(resp(404, { server: 'nginx' }, '', tls()), OK)));
    expect(f).toMatchObject({ status: 'fail', code: 'ProxyNotForwardingToGateway' });
    expect(f.fix && `${f.fix.explain}\n${renderFix(f.fix)}`).toContain('proxy_set_header Host $host');
  });
  it('a default page while the gateway answers directly: ProxyNotForwardingToGateway', async () => {
    const f = await proxy.run(
      ctxFor(fakeProbe(resp(200, { server: 'nginx' }, '<title>Welcome to nginx!</title>', tls()), OK)),
    );
    expect(f).toMatchObject({ status: 'fail', code: 'ProxyNotForwardingToGateway' });
  });
  it('both 503 UH: the proxy passes and the evidence goes to endpoints', async () => {
    const uh = resp(503, { server: 'istio-envoy' }, 'no healthy upstream');
    const ctx = ctxFor(fakeProbe({ ...uh, headers: { server: 'nginx' }, tls: tls() }, uh));
    const f = await proxy.run(ctx);
    expect(f.status).toBe('pass');
    expect(f.observed?.envoy?.find((e) => e.layer === 'endpoints')?.evidence.detail).toContain('no healthy upstream');
  });
  it('both 404 NR: evidence to route; 500 NC: evidence to grant', async () => {
    const nr = resp(404, { server: 'istio-envoy' });
    const c1 = ctxFor(fakeProbe({ ...nr, tls: tls() }, nr));
    const f1 = await proxy.run(c1);
    expect(f1.status).toBe('pass');
    expect(f1.observed?.envoy?.find((e) => e.layer === 'route')?.evidence.detail).toContain('404');
    const nc = resp(500, { server: 'istio-envoy' });
    const c2 = ctxFor(fakeProbe({ ...nc, tls: tls() }, nc));
    const f2 = await proxy.run(c2);
    expect(f2.status).toBe('pass');
    expect(f2.observed?.envoy?.find((e) => e.layer === 'grant')).toMatchObject({
      also: ['endpoints'],
      evidence: { detail: expect.stringContaining('500') },
    });
  });
  it('a redirect to the same URL is a loop', async () => {
    const f = await proxy.run(
      ctxFor(
        fakeProbe(
          resp(301, { location: 'https://api.example.com/health', 'x-envoy-upstream-service-time': '1' }, '', tls()),
        ),
      ),
    );
    expect(f).toMatchObject({ status: 'fail', code: 'RedirectLoop' });
  });
  it('without cluster access an Envoy 404 is an inconclusive GatewayErrorResponse (never a warning that exits 0)', async () => {
    const f = await proxy.run(ctxFor(fakeProbe(resp(404, { server: 'istio-envoy' }, '', tls())), false));
    expect(f).toMatchObject({ status: 'error', code: 'GatewayErrorResponse' });
    expect(f.evidence.map((e) => e.detail).join(' ')).toContain('without cluster access');
  });
  it('an empty 404 from a server that is not Envoy, at the proxy and at the NodePort, fails ProxyErrorResponse with what was seen', async () => {
    const base = resp(404, { server: 'BaseHTTP/0.6 Python/3.11.2' });
    const ctx = ctxFor(fakeProbe({ ...base, tls: tls() }, base));
    const f = await proxy.run(ctx);
    expect(f).toMatchObject({ status: 'fail', code: 'ProxyErrorResponse' });
    expect(f.summary).toMatch(/answered HTTP 404 \(server: BaseHTTP\/0\.6 Python\/3\.11\.2, no Envoy signature\)/);
    expect(f.evidence.map((e) => e.detail).join('\n')).toMatch(
      /HTTP 404 from BaseHTTP\/0\.6 Python\/3\.11\.2 without any Envoy signature/,
    );
    expect(f.observed?.envoy ?? []).toEqual([]);
  });
  it("an empty 404 through nginx is Envoy's NR only when the NodePort proves Envoy answers the same", async () => {
    const ctx = ctxFor(fakeProbe(resp(404, { server: 'nginx' }, '', tls()), resp(404, { server: 'istio-envoy' })));
    const f = await proxy.run(ctx);
    expect(f).toMatchObject({ status: 'pass' });
    expect(f.observed?.envoy?.find((e) => e.layer === 'route')?.evidence.detail).toMatch(
      /NR.*direct NodePort answer shows it/,
    );
    const alone = await proxy.run(ctxFor(fakeProbe(resp(404, { server: 'nginx' }, '', tls())), false));
    expect(alone).toMatchObject({ status: 'fail', code: 'ProxyErrorResponse' });
    expect(JSON.stringify(alone.fix)).toMatch(/direct NodePort probe was not possible \(no kubeconfig\)/);
  });
  it('an Envoy error gwdoctor has no rule for (429) is carried to route, then grant and endpoints, or inconclusive without cluster access', async () => {
    const limited = resp(429, { server: 'istio-envoy', 'x-envoy-ratelimited': 'true' }, 'local_rate_limited');
    const f = await proxy.run(ctxFor(fakeProbe({ ...limited, tls: tls() }, limited)));
    expect(f).toMatchObject({ status: 'pass' });
    expect(f.observed?.envoy).toMatchObject([
      { layer: 'route', also: ['grant', 'endpoints'], evidence: { detail: 'HTTP 429 from Envoy' } },
    ]);
    expect(await proxy.run(ctxFor(fakeProbe({ ...limited, tls: tls() }), false))).toMatchObject({
      status: 'error',
      code: 'GatewayErrorResponse',
    });
  });
  it('an answer nginx stripped of every Envoy sign, given alike by the gateway\'s NodePort, is the gateway\'s: never "the proxy answers itself"', async () => {
    const direct = resp(429, { server: 'istio-envoy' }, 'local_rate_limited');
    const f = await proxy.run(
      ctxFor(fakeProbe(resp(429, { server: 'nginx/1.22.1' }, 'local_rate_limited', tls()), direct)),
    );
    expect(f.status).toBe('pass');
    expect(f.observed?.envoy?.[0]?.evidence.detail).toBe(
      "HTTP 429 from Envoy; the proxy hides Envoy's headers, the gateway's NodePort answers the same",
    );
    // A different answer at the NodePort: the proxy does answer itself.
    const other = await proxy.run(ctxFor(fakeProbe(resp(429, { server: 'nginx/1.22.1' }, 'slow down', tls()), direct)));
    expect(other).toMatchObject({ status: 'fail', code: 'ProxyNotForwardingToGateway' });
  });
  it("a 503 nginx passed on without Envoy's headers, which the NodePort gives alike from Envoy, is the gateway's, not a proxy error page", async () => {
    const direct = resp(
      503,
      { server: 'istio-envoy' },
      'upstream connect error or disconnect/reset before headers. reset reason: overflow',
    );
    const f = await proxy.run(ctxFor(fakeProbe(resp(503, { server: 'nginx' }, direct.bodySnippet, tls()), direct)));
    expect(f.status).toBe('pass');
    expect(f.observed?.envoy?.[0]).toMatchObject({
      layer: 'endpoints',
      evidence: { detail: expect.stringContaining('reset reason: overflow') },
    });
    // nginx's own 503 page while the gateway answers: the proxy's error.
    const own = await proxy.run(
      ctxFor(
        fakeProbe(resp(503, { server: 'nginx' }, '<html>503 Service Temporarily Unavailable</html>', tls()), direct),
      ),
    );
    expect(own).toMatchObject({ status: 'fail', code: 'ProxyUpstreamError' });
  });
  it('403 "RBAC: access denied" (Envoy\'s RBAC filter), with or without its headers: carried to the mesh layer with GatewayRbacDenied for when nothing there explains it; without cluster access GatewayRbacDenied here', async () => {
    const denied = resp(403, { server: 'istio-envoy' }, 'RBAC: access denied');
    for (const proxied of [{ ...denied, tls: tls() }, resp(403, { server: 'nginx' }, 'RBAC: access denied', tls())]) {
      const f = await proxy.run(ctxFor(fakeProbe(proxied, denied), true));
      expect(f.status).toBe('pass');
      expect(f.observed?.envoy).toMatchObject([{ layer: 'mesh', unexplained: { code: 'GatewayRbacDenied' } }]);
      expect(f.observed?.envoy?.[0]?.also).toBeUndefined();
    }
    const alone = await proxy.run(
      ctxFor(fakeProbe(resp(403, { server: 'nginx' }, 'RBAC: access denied', tls()), denied), false),
    );
    expect(alone).toMatchObject({ status: 'fail', code: 'GatewayRbacDenied' });
    expect(alone.observed?.envoy ?? []).toEqual([]);
  });
  it('503 "upstream connect error" is carried to endpoints with BackendConnectFailed for when nothing there explains it', async () => {
    const uf = resp(
      503,
      { server: 'istio-envoy' },
      'upstream connect error or disconnect/reset before headers. retried and the latest reset reason: connection failure, transport failure reason: TLS_error:|268435703:SSL routines:OPENSSL_internal:WRONG_VERSION_NUMBER:TLS_error_end',
    );
    const f = await proxy.run(ctxFor(fakeProbe({ ...uf, tls: tls() }, uf)));
    const e = f.observed?.envoy?.[0];
    expect(e).toMatchObject({ layer: 'endpoints', also: ['mesh'], unexplained: { code: 'BackendConnectFailed' } });
    expect(e?.unexplained?.fix.explain).toMatch(/agree on TLS: a DestinationRule/);
    expect(e?.unexplained?.fix.explain).toContain(
      'reset reason: connection failure, transport failure reason: TLS_error',
    );
  });
  describe('426 Upgrade Required through the proxy: ProxyHttp10Upstream with the line for the proxy that answered', () => {
    const upgrade = (server?: string) => resp(426, server ? { server } : {}, 'Upgrade Required', tls());
    const fixText = async (server?: string) => {
      const f = await proxy.run(ctxFor(fakeProbe(upgrade(server), OK)));
      expect(f).toMatchObject({ status: 'fail', code: 'ProxyHttp10Upstream' });
      return `${f.summary}\n${f.fix?.explain}`;
    };
    it('nginx: proxy_http_version 1.1;', async () => {
      const t = await fixText('nginx/1.22.1');
      expect(t).toContain('nginx: proxy_http_version 1.1;');
      expect(t).not.toMatch(/Caddy|HAProxy/);
    });
    it('Caddy already speaks HTTP/1.1 upstream: the fix says so and points at the hop behind it', async () => {
      const t = await fixText('Caddy');
      expect(t).toMatch(
        /Caddy: reverse_proxy already speaks HTTP\/1\.1 or 2 upstream.*a hop between Caddy and the gateway speaks HTTP\/1\.0/,
      );
      expect(t).not.toContain('proxy_http_version');
    });
    it("no server header (HAProxy sends none by default): every proxy's line, each only what is true", async () => {
      const t = await fixText();
      expect(t).toContain('nginx: proxy_http_version 1.1;');
      expect(t).toContain('HAProxy: sends HTTP/1.1 upstream for HTTP/1.1 and HTTP/2 clients');
      expect(t).toContain('Caddy: reverse_proxy already speaks HTTP/1.1 or 2 upstream');
    });
  });
  it('the worst address decides', async () => {
    let n = 0;
    const probe: HttpProbe = {
      get: async () => (n++ === 0 ? OK : Promise.reject(new ProbeFailure('ECONNREFUSED', 'ECONNREFUSED'))),
    };
    const ctx = ctxFor(probe);
    ctx.probes.addresses = [
      { family: 4, address: '192.0.2.10' },
      { family: 4, address: '192.0.2.11' },
    ];
    expect(await proxy.run(ctx)).toMatchObject({ status: 'fail', code: 'ProxyUnreachable' });
  });
});
