// --internal HOST: a host that must NOT be public. Each layer proves the opposite of the usual; a route on the public
// Gateway that serves the host, or a backend answering through the proxy, fails with InternalHostExposed and a fix
// that never unpublishes another host (applied here, then every host re-checked).

import { describe, expect, it } from 'vitest';
import { INTERNAL_LAYERS } from '../../checks/index.js';
import { loadManifests, ManifestCluster } from '../../src/cluster/manifests.js';
import type { K8sObject } from '../../src/cluster/objects.js';
import { NoRecordsError } from '../../src/net/system-resolver.js';
import { ProbeFailure, TlsProbeFailure } from '../../src/net/probe-errors.js';
import type { TlsDetails } from '../../src/net/tls-inspect.js';
import { runTarget, type Env } from '../../src/pipeline.js';
import { parseTarget } from '../../src/target.js';
import type { HttpProbe, HttpProbeResult, Resolver, TargetReport } from '../../src/types.js';
import { offlineEnv, runOnCluster, scenarioDir } from '../helpers/fixtures.js';
import { applyFixToObjects, stripControllerStatus } from '../helpers/roundtrip.js';

const fixture = (name: string) => loadManifests([scenarioDir(name)]);
const internal = (host: string) => ({ ...parseTarget(host), expect: 'internal' as const });

function checkInternal(
  objects: K8sObject[] | ManifestCluster,
  host = 'admin.example.com',
  extra: Partial<Env> = {},
): Promise<TargetReport> {
  const cluster = objects instanceof ManifestCluster ? objects : new ManifestCluster(objects, ['fixture']);
  return runTarget(INTERNAL_LAYERS, internal(host), offlineEnv(cluster, extra), { until: null, intervalMs: 0 });
}

const layer = (r: TargetReport, id: string) => r.layers.find((l) => l.id === id) as TargetReport['layers'][number];

/** The seed plus one more HTTPRoute on the public Gateway. */
function seedWithRoute(route: { name: string; hostnames?: string[]; parentRefs?: unknown[] }): K8sObject[] {
  const objs = fixture('seed-healthy');
  const api = objs.find((o) => o.kind === 'HTTPRoute' && o.metadata.name === 'example-api') as K8sObject & {
    spec: Record<string, unknown>;
  };
  const r = structuredClone(api) as K8sObject & { spec: Record<string, unknown>; status?: unknown };
  r.metadata = { ...r.metadata, name: route.name, uid: `uid-${route.name}` };
  if (route.hostnames) r.spec['hostnames'] = route.hostnames;
  else delete r.spec['hostnames'];
  if (route.parentRefs) r.spec['parentRefs'] = route.parentRefs;
  delete r.status;
  return [...stripControllerStatus(objs), r];
}

describe('--internal offline: what the cluster proves', () => {
  it("passes for the seed's admin.example.com and says what was proven: no HTTPRoute on the public Gateway serves it", async () => {
    const r = await checkInternal(fixture('seed-healthy'));
    expect(r).toMatchObject({ verdict: 'pass', failedLayer: null, expect: 'internal' });
    expect(layer(r, 'route').summary).toBe(
      'no HTTPRoute or GRPCRoute on Gateway istio-ingress/example-istio-gateway serves admin.example.com',
    );
    expect(layer(r, 'grant')).toMatchObject({
      status: 'skip',
      summary: 'not checked: admin.example.com is internal (no public backend to check)',
    });
  });

  it('passes when no listener of the public Gateway accepts the host at all (a host outside *.example.com)', async () => {
    const r = await checkInternal(fixture('seed-healthy'), 'vault.internal.example.net');
    expect(r.verdict).toBe('pass');
    expect(layer(r, 'listener').summary).toMatch(
      /^no listener of Gateway istio-ingress\/example-istio-gateway accepts vault\.internal\.example\.net/,
    );
  });

  it('fails InternalHostExposed naming the route and its file:line when a dedicated route publishes the host; the fix detaches it from the public Gateway', async () => {
    const r = await checkInternal(ManifestCluster.fromPaths([scenarioDir('internal-exposed')]));
    expect(r).toMatchObject({ verdict: 'fail', failedLayer: 'route', expect: 'internal' });
    const f = layer(r, 'route');
    expect(f.code).toBe('InternalHostExposed');
    expect(f.summary).toMatch(
      /^admin\.example\.com must stay internal, but HTTPRoute istio-ingress\/example-admin \(.*\.scenarios\/internal-exposed\/cluster\.yaml:\d+\) on Gateway istio-ingress\/example-istio-gateway serves it$/,
    );
    expect(f.evidence[0]).toMatchObject({
      ref: 'HTTPRoute istio-ingress/example-admin',
      object: { kind: 'HTTPRoute', name: 'example-admin' },
      origin: { line: expect.any(Number) },
    });
    expect(f.fix).toEqual({
      kind: 'patch',
      target: {
        apiVersion: 'gateway.networking.k8s.io/v1',
        kind: 'HTTPRoute',
        namespace: 'istio-ingress',
        name: 'example-admin',
      },
      patchType: 'json',
      patch: [
        { op: 'test', path: '/spec/parentRefs/0/name', value: 'example-istio-gateway' },
        { op: 'remove', path: '/spec/parentRefs/0' },
      ],
      explain:
        'detach HTTPRoute istio-ingress/example-admin from the public Gateway istio-ingress/example-istio-gateway: it serves only admin.example.com, so no other host changes',
    });
  });

  it('removes just the one hostname when the exposing route also serves other hosts', async () => {
    const r = await checkInternal(fixture('internal-exposed-shared'));
    const f = layer(r, 'route');
    expect(f.code).toBe('InternalHostExposed');
    expect(f.fix).toMatchObject({
      kind: 'patch',
      target: { name: 'example-worker' },
      patch: [
        { op: 'test', path: '/spec/hostnames/1', value: 'admin.example.com' },
        { op: 'remove', path: '/spec/hostnames/1' },
      ],
    });
  });

  it.each([
    [
      'a wildcard hostname',
      ['*.example.com'],
      /serves it through "\*\.example\.com"; removing that would unpublish other hosts/,
    ],
    [
      'no hostnames',
      undefined,
      /has no hostnames, so it serves every host its listener accepts; removing that would unpublish other hosts/,
    ],
    [
      'an exact name next to a wildcard that also covers it',
      ['admin.example.com', '*.example.com'],
      /serves it through "\*\.example\.com"/,
    ],
  ])(
    'gives a manual fix (never a patch that unpublishes others) when a route serves it through %s',
    async (_what, hostnames, text) => {
      const r = await checkInternal(seedWithRoute({ name: 'catch-all', ...(hostnames ? { hostnames } : {}) }));
      const f = layer(r, 'route');
      expect(f.code).toBe('InternalHostExposed');
      expect(f.summary).toMatch(/HTTPRoute istio-ingress\/catch-all/);
      expect(f.fix?.kind).toBe('manual');
      expect(f.fix?.explain).toMatch(text);
    },
  );

  it('is not exposed by a route the Gateway does not accept (parentRef to a listener section that does not exist)', async () => {
    const r = await checkInternal(
      seedWithRoute({
        name: 'admin',
        hostnames: ['admin.example.com'],
        parentRefs: [
          { group: 'gateway.networking.k8s.io', kind: 'Gateway', name: 'example-istio-gateway', sectionName: 'nope' },
        ],
      }),
    );
    expect(r.verdict).toBe('pass');
  });

  it('judges only the Gateway given with --gateway as public: a route on another Gateway does not expose the host', async () => {
    const objs = seedWithRoute({ name: 'admin', hostnames: ['admin.example.com'] });
    const gw = structuredClone(
      objs.find((o) => o.kind === 'Gateway' && o.metadata.name === 'example-istio-gateway'),
    ) as K8sObject;
    gw.metadata = { ...gw.metadata, name: 'internal-gateway', uid: 'uid-internal-gateway' };
    const route = objs.find((o) => o.metadata.name === 'admin') as K8sObject & {
      spec: { parentRefs: { name: string }[] };
    };
    route.spec.parentRefs = [{ ...route.spec.parentRefs[0], name: 'internal-gateway' } as { name: string }];
    objs.push(gw);
    expect(
      (
        await checkInternal(objs, 'admin.example.com', {
          gatewayFilter: { namespace: 'istio-ingress', name: 'example-istio-gateway' },
        })
      ).verdict,
    ).toBe('pass');
    // Without --gateway every ingress Gateway counts as public: the internal one too.
    expect((await checkInternal(objs)).failedLayer).toBe('route');
  });

  it('fails GatewayNotFound when --gateway names a Gateway that does not exist (nothing proven)', async () => {
    const r = await checkInternal(fixture('seed-healthy'), 'admin.example.com', {
      gatewayFilter: { namespace: 'istio-ingress', name: 'nope' },
    });
    expect(r).toMatchObject({ verdict: 'fail', failedLayer: 'listener' });
    expect(layer(r, 'listener').code).toBe('GatewayNotFound');
  });
});

describe('the printed fix, applied: the internal host passes and no other host changes', () => {
  it.each(['internal-exposed', 'internal-exposed-shared'])('%s', async (name) => {
    const before = stripControllerStatus(fixture(name));
    const first = await checkInternal(before);
    const fix = layer(first, 'route').fix;
    expect(fix?.kind).toBe('patch');
    const after = applyFixToObjects(before, fix as NonNullable<typeof fix>);
    expect((await checkInternal(after)).verdict).toBe('pass');
    for (const host of ['api.example.com', 'worker.example.com']) {
      const was = await runOnCluster(new ManifestCluster(before, ['fixture']), host);
      const now = await runOnCluster(new ManifestCluster(after, ['fixture']), host);
      expect([host, now.verdict]).toEqual([host, was.verdict]);
      expect(now.verdict).toBe('pass');
    }
  });
});

// ---- network layers, with a fake resolver and probe ------------------------------------------------------------
const tls: TlsDetails = {
  authorized: false,
  error: 'ERR_TLS_CERT_ALTNAME_INVALID',
  subject: 'CN=www.example.com',
  issuer: 'CN=Test CA',
  validTo: '2027-01-01T00:00:00.000Z',
  san: ['www.example.com'],
  validFrom: '2026-01-01T00:00:00.000Z',
  daysLeft: 80,
  protocol: 'TLSv1.3',
  chain: [],
  chainError: null,
  nameError: 'admin.example.com is not in the SANs',
};
const resp = (statusCode: number, headers: Record<string, string>, bodySnippet = ''): HttpProbeResult => ({
  address: '203.0.113.10',
  port: 443,
  statusCode,
  headers,
  bodySnippet,
  tls: null,
});
const resolver = (addresses: string[] | 'nxdomain'): Resolver => ({
  async resolve() {
    if (addresses === 'nxdomain') throw new NoRecordsError('admin.example.com: NXDOMAIN');
    return addresses.map((address) => ({ family: 4 as const, address }));
  },
});
const probe = (answer: HttpProbeResult | Error): HttpProbe => ({
  async get() {
    if (answer instanceof Error) throw answer;
    return answer;
  },
});

function online(
  answer: HttpProbeResult | Error,
  addresses: string[] | 'nxdomain' = ['203.0.113.10'],
  objects = fixture('seed-healthy'),
): Promise<TargetReport> {
  return checkInternal(objects, 'admin.example.com', {
    offline: false,
    resolver: async () => resolver(addresses),
    probe: async () => probe(answer),
  });
}

describe('--internal with network probes: what the proxy proves', () => {
  it("passes on Envoy's own 404 (no route) and says both facts in order: the route, then the proxy", async () => {
    const r = await online(resp(404, { server: 'istio-envoy', 'x-envoy-decorator-operation': '-' }));
    expect(r.verdict).toBe('pass');
    expect(layer(r, 'proxy').summary).toBe(
      'the proxy does not reach a backend for admin.example.com: 203.0.113.10:443 HTTP 404 from Envoy (no route)',
    );
  });
  it.each([
    [
      'the proxy refusing the connection',
      new ProbeFailure('ECONNREFUSED', 'connect ECONNREFUSED 203.0.113.10:443'),
      /connection refused/,
    ],
    [
      'a TLS handshake failure',
      new ProbeFailure('ERR_SSL_TLSV1_ALERT_INTERNAL_ERROR', 'tlsv1 alert internal error'),
      /the TLS handshake is refused/,
    ],
    [
      'no valid certificate for the name',
      new TlsProbeFailure('ERR_TLS_CERT_ALTNAME_INVALID', 'admin.example.com is not in the SANs', tls),
      /no valid certificate for admin\.example\.com/,
    ],
    ["the proxy's own 403", resp(403, { server: 'nginx' }, '<html>403 Forbidden</html>'), /HTTP 403 from nginx/],
    [
      'Envoy denying it itself (RBAC)',
      resp(403, { server: 'istio-envoy' }, 'RBAC: access denied'),
      /HTTP 403 from Envoy itself/,
    ],
  ])('passes on %s', async (_what, answer, text) => {
    const r = await online(answer);
    expect(r.verdict).toBe('pass');
    expect(layer(r, 'proxy').summary).toMatch(text);
  });
  it('a public answer at the cloud metadata address: DnsLinkLocalAddress, and the proxy is never asked', async () => {
    const r = await online(new Error('must not be asked'), ['169.254.169.254']);
    expect(r).toMatchObject({ verdict: 'fail', failedLayer: 'dns' });
    expect(layer(r, 'dns').code).toBe('DnsLinkLocalAddress');
    expect(layer(r, 'proxy').status).toBe('skip');
  });
  it('passes without asking the proxy when the host has no public DNS answer', async () => {
    const r = await online(new Error('must not be asked'), 'nxdomain');
    expect(r.verdict).toBe('pass');
    expect(layer(r, 'dns').summary).toMatch(/^admin\.example\.com has no public DNS answer/);
    expect(layer(r, 'proxy').summary).toMatch(/^not asked: admin\.example\.com has no public address/);
  });
  it.each([
    [
      'a backend answering 200 through Envoy',
      resp(200, { 'x-envoy-upstream-service-time': '3', server: 'istio-envoy' }, 'admin'),
      /a backend answered HTTP 200 through Envoy/,
    ],
    [
      'a backend answering 401 through Envoy',
      resp(401, { 'x-envoy-upstream-service-time': '3', server: 'istio-envoy' }),
      /a backend answered HTTP 401 through Envoy/,
    ],
    ['a 302 from anywhere', resp(302, { location: 'https://login.example.com/' }), /it answered HTTP 302/],
    [
      'Envoy\'s "no healthy upstream" (a route exists, its backend is down now)',
      resp(503, { server: 'istio-envoy' }, 'no healthy upstream'),
      /Envoy has a route for it/,
    ],
  ])(
    'fails InternalHostExposed at proxy on %s, and still runs the cluster layers to name the route',
    async (_what, answer, text) => {
      const r = await online(answer, ['203.0.113.10'], stripControllerStatus(fixture('internal-exposed')));
      expect(r).toMatchObject({ verdict: 'fail', failedLayer: 'proxy' });
      expect(layer(r, 'proxy')).toMatchObject({ status: 'fail', code: 'InternalHostExposed' });
      expect(layer(r, 'proxy').summary).toMatch(text);
      expect(layer(r, 'route')).toMatchObject({ status: 'fail', code: 'InternalHostExposed' });
      expect(layer(r, 'route').summary).toMatch(/HTTPRoute istio-ingress\/example-admin/);
    },
  );
  it('is inconclusive (error) when the request is cut off by the timeout', async () => {
    const r = await checkInternal(fixture('seed-healthy'), 'admin.example.com', {
      offline: false,
      resolver: async () => resolver(['203.0.113.10']),
      probe: async () => probe(new ProbeFailure('UND_ERR_ABORTED', 'aborted')),
    });
    expect(r).toMatchObject({ verdict: 'error', failedLayer: 'proxy' });
  });
});
