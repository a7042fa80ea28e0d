// Verdicts on setups written by others (issue 8): each test names the rule and the source it follows.

import { describe, expect, it } from 'vitest';
import { runScenario, scenarioDir } from '../helpers/fixtures.js';
import { predictRedirect } from '../../src/gatewayapi/redirect.js';

const fx = (name: string) => scenarioDir(name);

describe('a RequestRedirect rule is served, not a 500 (istio conversion.go createRedirectFilter)', () => {
  it('passes every layer and says what Envoy answers: status code and Location', async () => {
    const r = await runScenario(fx('route-redirect'), 'https://api.example.com/docs?x=1');
    expect(r.verdict).toBe('pass');
    expect(r.layers[3]?.summary).toContain('301 redirect to https://api.example.com/docs?x=1');
    expect(r.layers[4]?.summary).toMatch(/not needed: the rule answers with a redirect/);
    expect(r.layers[5]?.summary).toMatch(/not needed: the rule answers with a redirect/);
  });
  it('predicts the Location the way Istio programs Envoy', () => {
    const rule = (f: object) => ({
      matches: [{ path: { type: 'PathPrefix', value: '/old' } }],
      filters: [{ type: 'RequestRedirect', requestRedirect: f }],
    });
    const req = { host: 'api.example.com', hostPort: null, path: '/old/a', query: '', listenerProtocol: 'HTTP' };
    const m = { path: { type: 'PathPrefix', value: '/old' } };
    // no scheme: the request's (plain http at the gateway behind a TLS proxy), 302 by default
    expect(predictRedirect(rule({}), m, req)).toMatchObject({
      statusCode: 302,
      location: 'http://api.example.com/old/a',
      schemeFromRequest: true,
    });
    // scheme set, no port: the scheme's well-known port, not written (FROM_PROTOCOL_DEFAULT)
    expect(predictRedirect(rule({ scheme: 'https' }), m, req)?.location).toBe('https://api.example.com/old/a');
    // an explicit port that is not the scheme's well-known port is written
    expect(predictRedirect(rule({ port: 8443, scheme: 'https' }), m, req)?.location).toBe(
      'https://api.example.com:8443/old/a',
    );
    // ReplacePrefixMatch replaces the matched prefix; ReplaceFullPath the whole path; hostname replaces the Host
    expect(
      predictRedirect(rule({ path: { type: 'ReplacePrefixMatch', replacePrefixMatch: '/new' } }), m, req)?.path,
    ).toBe('/new/a');
    expect(predictRedirect(rule({ path: { type: 'ReplacePrefixMatch', replacePrefixMatch: '/' } }), m, req)?.path).toBe(
      '/a',
    );
    expect(
      predictRedirect(
        rule({ hostname: 'www.example.com', path: { type: 'ReplaceFullPath', replaceFullPath: '/x' } }),
        m,
        req,
      )?.location,
    ).toBe('http://www.example.com/x');
  });
  it('a redirect on a backendRef filter likewise', () => {
    const r = {
      matches: [],
      backendRefs: [
        { name: 'svc', port: 80, filters: [{ type: 'RequestRedirect', requestRedirect: { scheme: 'https' } }] },
      ],
    };
    expect(
      predictRedirect(r, {}, { host: 'a.example.com', hostPort: null, path: '/', query: '', listenerProtocol: 'HTTP' })
        ?.where,
    ).toBe('backendRefs[0].filters[0]');
  });
});

describe('the route to blame when several are not accepted', () => {
  it("is the one whose parentRef targets the listener that accepts the host, and the fix changes that route's listener", async () => {
    const r = await runScenario(fx('route-blame-targeting-listener'), 'api.example.com');
    const route = r.layers[3];
    expect(route).toMatchObject({ status: 'fail', code: 'RouteNotAccepted' });
    expect(route?.summary).toContain('HTTPRoute example-api/api ');
    expect(route?.fix).toMatchObject({ kind: 'patch', target: { kind: 'Gateway', name: 'example-istio-gateway' } });
  });
});

describe('a GatewayClass owned by another controller', () => {
  it('fails at listener with GatewayClassNotIstio and a patch to an Istio class, even when status says Programmed', async () => {
    const r = await runScenario(fx('gateway-class-foreign'), 'api.example.com');
    expect(r.layers[2]).toMatchObject({ status: 'fail', code: 'GatewayClassNotIstio' });
    expect(r.layers[2]?.summary).toContain('example.net/gateway-controller');
    expect(r.layers[2]?.fix).toMatchObject({
      kind: 'patch',
      patch: [
        { op: 'test', value: 'other-gateways' },
        { op: 'replace', value: 'istio' },
      ],
    });
  });
});

describe('a Gateway whose infrastructure.parametersRef ConfigMap is missing (istio gateway_collection.go validateParametersRef)', () => {
  it('is predicted GatewayNotAccepted when the manifests hold ConfigMaps and not that one', async () => {
    const { loadManifests, ManifestCluster } = await import('../../src/cluster/manifests.js');
    const { runOnCluster } = await import('../helpers/fixtures.js');
    const objs = loadManifests([fx('seed-presync')]).map((o) =>
      o.kind === 'ConfigMap' ? { ...o, metadata: { ...o.metadata, name: 'renamed-options' } } : o,
    );
    const r = await runOnCluster(new ManifestCluster(objs, ['x']), 'api.example.com');
    expect(r.layers[2]).toMatchObject({ status: 'fail', code: 'GatewayNotAccepted' });
    expect(r.layers[2]?.summary).toContain(
      'parametersRef ConfigMap istio-ingress/example-istio-gateway-options, which does not exist',
    );
  });
  it('is not judged when the manifests hold no ConfigMap at all, and says so', async () => {
    const { loadManifests, ManifestCluster } = await import('../../src/cluster/manifests.js');
    const { runOnCluster } = await import('../helpers/fixtures.js');
    const objs = loadManifests([fx('seed-presync')]).filter((o) => o.kind !== 'ConfigMap');
    const r = await runOnCluster(new ManifestCluster(objs, ['x']), 'api.example.com');
    expect(r.layers[2]?.status).toBe('pass');
  });
});

describe('status that disagrees, said at every layer', () => {
  it('endpoints: fresh ResolvedRefs=False/BackendNotFound while every backend exists and is ready is StatusDisagrees, trusting the spec', async () => {
    const { loadManifests, ManifestCluster } = await import('../../src/cluster/manifests.js');
    const { runOnCluster } = await import('../helpers/fixtures.js');
    const objs = loadManifests([fx('seed-healthy')]).map((o) => {
      if (o.kind !== 'HTTPRoute' || o.metadata.name !== 'example-api') return o;
      const c = structuredClone(o) as typeof o & {
        status: { parents: { conditions: { type: string; status: string; reason?: string; message?: string }[] }[] };
      };
      const rr = c.status.parents[0]?.conditions.find((x) => x.type === 'ResolvedRefs');
      if (rr)
        Object.assign(rr, {
          status: 'False',
          reason: 'BackendNotFound',
          message: 'backend(example-api.example-api.svc.cluster.local) not found',
        });
      return c;
    });
    const r = await runOnCluster(new ManifestCluster(objs, ['x']), 'api.example.com');
    expect(r.layers[5]).toMatchObject({ status: 'warn', code: 'StatusDisagrees', retryable: true });
    expect(r.layers[5]?.summary).toContain('ResolvedRefs=False (BackendNotFound)');
  });
});

describe('status that contradicts the prediction is said at every layer, with the side gwdoctor trusts', () => {
  it('a route the spec rejects while its fresh status says Accepted=True: RouteNotAccepted, and the evidence says both', async () => {
    const { loadManifests, ManifestCluster } = await import('../../src/cluster/manifests.js');
    const { runOnCluster } = await import('../helpers/fixtures.js');
    const dir = fx('allowed-routes-selector');
    const objs = loadManifests([dir]);
    const worker = objs.find((o) => o.kind === 'HTTPRoute' && o.metadata.name === 'example-worker') as unknown as {
      status: { parents: { conditions: { type: string; status: string; reason: string }[] }[] };
    };
    for (const c of worker.status.parents[0]?.conditions ?? [])
      if (c.type === 'Accepted') Object.assign(c, { status: 'True', reason: 'Accepted' });
    const r = await runOnCluster(new ManifestCluster(objs, [dir]), 'worker.example.com');
    const route = r.layers[3];
    expect(route).toMatchObject({ status: 'fail', code: 'RouteNotAccepted' });
    expect(route?.summary).toContain('its status still says Accepted=True');
    expect(route?.evidence.map((e) => e.detail).join('\n')).toMatch(
      /disagrees: the controller reports Accepted=True .* gwdoctor trusts the spec/,
    );
  });
});
