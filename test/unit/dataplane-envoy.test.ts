// The Envoy part of the dataplane layer (src/dataplane/envoy-*.ts) over REAL Envoy admin answers recorded from the
// Envoy lane (test/unit/data/envoy-admin/README.md), fed through the same reader the port-forward feeds (readEnvoy);
// and Envoy's own matching rules (virtual host search order, routes in order) on small configurations.

import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { beforeAll, describe, expect, it } from 'vitest';
import { ADMIN_PATHS, parseHttpResponse, readEnvoy, type AdminGet } from '../../src/dataplane/envoy-admin.js';
import { matchRequest, virtualHostFor, type EnvoyRequest } from '../../src/dataplane/envoy-config.js';
import { judgeEnvoys, type EnvoyPrediction, type PodEnvoy } from '../../src/dataplane/envoy-judge.js';
import { loadRe2 } from '../../src/gatewayapi/matching.js';
import { ROOT } from '../helpers/cli.js';

const DATA = join(ROOT, 'test', 'unit', 'data', 'envoy-admin');

interface Case {
  target: string;
  pods: { pod: string; node: string | null }[];
  prediction: EnvoyPrediction;
  request: EnvoyRequest;
  verdict: { code: string | null; summary: string };
}

/** The recorded answers of one Pod, served by admin path: the transport a port-forward would be. */
function recorded(dir: string, pod: string): AdminGet {
  const file = (what: string) => join(dir, `${pod.split('/')[1]}.${what}.json.gz`);
  const bodies: Record<string, string> = {
    [ADMIN_PATHS.dump]: gunzipSync(readFileSync(file('config_dump'))).toString('utf8'),
    [ADMIN_PATHS.clusters]: gunzipSync(readFileSync(file('clusters'))).toString('utf8'),
    [ADMIN_PATHS.connected]: gunzipSync(readFileSync(file('stats'))).toString('utf8'),
  };
  return async (path) =>
    path in bodies ? { kind: 'ok', status: 200, body: bodies[path] as string } : { kind: 'ok', status: 404, body: '' };
}

async function load(name: string, only?: (pod: string) => boolean): Promise<{ c: Case; pods: PodEnvoy[] }> {
  const dir = join(DATA, name);
  const c = JSON.parse(readFileSync(join(dir, 'case.json'), 'utf8')) as Case;
  const pods: PodEnvoy[] = [];
  for (const p of c.pods) {
    const has = readdirSync(dir).some((f) => f === `${p.pod.split('/')[1]}.config_dump.json.gz`);
    if (!has || (only && !only(p.pod))) continue;
    const r = await readEnvoy(recorded(dir, p.pod));
    pods.push({
      pod: p.pod,
      node: p.node,
      controller: { kind: 'ReplicaSet', name: 'istio-ingress-gateway-5d8f' },
      read: r.kind === 'ok' ? { kind: 'ok', read: r.read } : r,
    });
  }
  return { c, pods };
}

beforeAll(loadRe2);

describe('recorded real Envoy answers (the lane), through readEnvoy and the judge', () => {
  for (const name of readdirSync(DATA).filter((f) => !f.includes('.'))) {
    it(`${name}: the verdict the lane saw`, async () => {
      const { c, pods } = await load(name);
      const v = judgeEnvoys(pods, c.prediction, c.request);
      expect(v.code).toBe(c.verdict.code);
      expect(v.summary).toBe(c.verdict.summary);
      // Prose is made from the facts, never the other way round: every Pod read is in the facts.
      expect(v.facts.pods.map((x) => x.pod).sort()).toEqual(pods.map((x) => x.pod).sort());
    });
  }

  it('healthy: the real dump seen for other requests: Envoy lower-cases the host; an unknown host has no virtual host; a host of the * listener domain', async () => {
    const { c, pods } = await load('healthy');
    const req = (host: string, path = '/') => ({ ...c.request, host, path });
    expect(judgeEnvoys(pods, c.prediction, req('API.Example.COM')).code).toBeNull();
    const missing = judgeEnvoys(pods, c.prediction, req('admin.example.com'));
    expect(missing.code).toBe('EnvoyRouteMissing');
    expect(missing.summary).toContain(
      'has no virtual host for admin.example.com (domains: api.example.com, worker.example.com)',
    );
    // worker.example.com is served, but not by the route gwdoctor predicts for api.example.com: name both.
    const other = judgeEnvoys(pods, c.prediction, req('worker.example.com'));
    expect(other.code).toBe('EnvoyRouteDiffers');
    expect(other.summary).toContain(
      'gwdoctor predicts HTTPRoute istio-ingress/example-api rules[0] (Envoy route istio-ingress.example-api.0)',
    );
    expect(other.summary).toContain(
      'route istio-ingress.example-worker.0 (#0) -> cluster outbound|8000||example-worker.example-worker.svc.cluster.local',
    );
    // A port Envoy has no listener on.
    expect(judgeEnvoys(pods, c.prediction, { ...c.request, port: 8443 }).summary).toContain(
      'no listener on port 8443 (listeners: 0.0.0.0_80)',
    );
  });

  it('ejected: the host Envoy ejected is named with its flag; a ready endpoint Envoy does not know is named "missing"', async () => {
    const { c, pods } = await load('ejected');
    const cluster = c.prediction.clusters[0] as string;
    const v = judgeEnvoys(
      pods,
      { ...c.prediction, ready: { [cluster]: [...(c.prediction.ready[cluster] ?? []), '127.0.0.99'] } },
      c.request,
    );
    expect(v.code).toBe('EnvoyNoHealthyHost');
    expect(v.summary).toMatch(
      /failed_outlier_check: ejected by outlier detection .*; 127\.0\.0\.99 missing: Envoy has no such host/,
    );
    // No ready endpoint in the slice: the endpoints layer's to say; the Envoy part does not call it an ejection.
    expect(judgeEnvoys(pods, { ...c.prediction, ready: {} }, c.request).code).toBeNull();
  });

  it("nack: Envoy's error text verbatim in summary, evidence and facts; the version it still serves", async () => {
    const { c, pods } = await load('nack');
    const v = judgeEnvoys(pods, c.prediction, c.request);
    const r = v.facts.pods[0]?.rejected?.[0];
    expect(r).toMatchObject({
      type: 'listener',
      name: '0.0.0.0_80',
      details:
        "Didn't find a registered implementation for 'gwdoctor.test.unknown' with type URL: 'gwdoctor.test.Unknown'",
    });
    expect(r?.activeVersion).toMatch(/^\d{4}-\d\d-\d\dT.*\/\d+$/);
    expect(v.summary).toContain(`"${r?.details}"`);
    expect(v.fix).toMatchObject({
      kind: 'command',
      argv: ['kubectl', 'get', 'envoyfilters.networking.istio.io', '-A'],
    });
  });

  it("two-pods-disagree: the Pods and what each does; the fix deletes only the Pod that differs from gwdoctor's prediction", async () => {
    const { c, pods } = await load('two-pods-disagree');
    const v = judgeEnvoys(pods, c.prediction, c.request);
    expect(v.code).toBe('EnvoyPodsDisagree');
    const stale = pods.find((p) => p.pod.endsWith('-b'))!.pod.split('/')[1];
    expect(v.fix).toMatchObject({ kind: 'command', argv: ['kubectl', '-n', 'istio-ingress', 'delete', 'pod', stale] });
    // With a prediction neither Pod serves, nothing is deleted: a person finds out first.
    const neither = judgeEnvoys(
      pods,
      { ...c.prediction, clusters: ['outbound|1||nope.nope.svc.cluster.local'] },
      c.request,
    );
    expect(neither.code).toBe('EnvoyPodsDisagree');
    expect(neither.fix?.kind).toBe('manual');
    // A bare Pod (no controller in its ownerReferences) is not recreated when deleted: never a delete to paste.
    const bare = judgeEnvoys(
      pods.map((p) => ({ ...p, controller: null })),
      c.prediction,
      c.request,
    );
    expect(bare.code).toBe('EnvoyPodsDisagree');
    expect(bare.fix?.kind).toBe('manual');
    expect(JSON.stringify(bare.fix)).toContain('no controller recreates it');
  });

  it('not read: forbidden (the verbs and resource named) or unreachable: not checked, never a finding', async () => {
    const { c } = await load('healthy');
    const forbidden: PodEnvoy = {
      pod: c.pods[0]!.pod,
      node: null,
      controller: null,
      read: {
        kind: 'forbidden',
        namespace: 'istio-ingress',
        resource: 'pods/portforward',
        verbs: ['get', 'create'],
        why: 'the API server answered 403',
      },
    };
    const f = judgeEnvoys([forbidden], c.prediction, c.request);
    expect(f).toMatchObject({ code: null, judged: false });
    expect(f.summary).toBe(
      "the gateway's Envoy was not checked: forbidden: cannot get+create pods/portforward in namespace istio-ingress (deploy/rbac-envoy-admin.yaml grants it)",
    );
    const u = judgeEnvoys(
      [{ ...forbidden, read: { kind: 'unreachable', why: 'the API server answered HTTP 500' } }],
      c.prediction,
      c.request,
    );
    expect(u).toMatchObject({
      code: null,
      judged: false,
      summary: "could not look at the gateway's Envoy: the API server answered HTTP 500",
    });
  });
});

describe("Envoy's virtual host search order (route_components.proto VirtualHost.domains)", () => {
  const vh = (name: string, ...domains: string[]) => ({ name, domains });
  const pick = (host: string, ...vhs: { name: string; domains: string[] }[]) => {
    const r = virtualHostFor(vhs, host);
    return r ? `${r.vh['name']}:${r.by}` : null;
  };
  it('exact before suffix before prefix before *, the longest wildcard first, and never matching the empty string', () => {
    const all = [
      vh('any', '*'),
      vh('pre', 'api.*'),
      vh('suf', '*.example.com'),
      vh('longsuf', '*.api.example.com'),
      vh('exact', 'api.example.com'),
    ];
    expect(pick('api.example.com', ...all)).toBe('exact:exact');
    expect(pick('v1.api.example.com', ...all)).toBe('longsuf:suffix');
    expect(pick('www.example.com', ...all)).toBe('suf:suffix');
    expect(pick('api.example.org', ...all)).toBe('pre:prefix');
    expect(pick('other.org', ...all)).toBe('any:any');
    expect(pick('.example.com', vh('suf', '*.example.com'))).toBeNull();
    expect(pick('api.', vh('pre', 'api.*'))).toBeNull();
    expect(pick('x-bar.foo.com', vh('dash', '*-bar.foo.com'))).toBe('dash:suffix');
    expect(pick('API.EXAMPLE.COM', vh('exact', 'api.example.com'))).toBe('exact:exact');
  });
});

describe('routes are checked in order; the first match wins (route_matching.rst)', () => {
  const dump = (routes: unknown[]) => ({
    configs: [
      {
        '@type': 'type.googleapis.com/envoy.admin.v3.ListenersConfigDump',
        dynamic_listeners: [
          {
            name: '0.0.0.0_80',
            active_state: {
              listener: {
                address: { socket_address: { address: '0.0.0.0', port_value: 80 } },
                filter_chains: [
                  {
                    filters: [
                      {
                        name: 'envoy.filters.network.http_connection_manager',
                        typed_config: { rds: { route_config_name: 'http.80' } },
                      },
                    ],
                  },
                ],
              },
            },
          },
        ],
      },
      {
        '@type': 'type.googleapis.com/envoy.admin.v3.RoutesConfigDump',
        dynamic_route_configs: [
          {
            version_info: 'v1',
            route_config: { name: 'http.80', virtual_hosts: [{ name: 'h', domains: ['h.example.com'], routes }] },
          },
        ],
      },
    ],
  });
  const r = (name: string, match: unknown) => ({ name, match, route: { cluster: name } });
  const at = (routes: unknown[], path: string, method = 'GET') => {
    const m = matchRequest(dump(routes), { host: 'h.example.com', path, port: 80, method });
    return m.kind === 'route' ? m.route : m.kind === 'undetermined' ? `? ${m.why}` : m.kind;
  };
  it('prefix, path, path_separated_prefix, case_sensitive, query, :method; a header the URL does not carry is undetermined', () => {
    const routes = [
      r('exact', { path: '/v1/items' }),
      r('sep', { path_separated_prefix: '/v1' }),
      r('ci', { prefix: '/ADMIN', case_sensitive: false }),
      r('q', { prefix: '/s', query_parameters: [{ name: 'debug', string_match: { exact: '1' } }] }),
      r('post', { prefix: '/p', headers: [{ name: ':method', string_match: { exact: 'POST' } }] }),
      r('hdr', { prefix: '/h', headers: [{ name: 'x-canary', string_match: { exact: 'yes' } }] }),
      r('re', { safe_regex: { regex: '/r/[0-9]+' } }),
      r('root', { prefix: '/' }),
    ];
    expect(at(routes, '/v1/items?x=1')).toBe('exact');
    expect(at(routes, '/v1/other')).toBe('sep');
    expect(at(routes, '/v1')).toBe('sep');
    expect(at(routes, '/v10')).toBe('root');
    expect(at(routes, '/admin/x')).toBe('ci');
    expect(at(routes, '/s?debug=1')).toBe('q');
    expect(at(routes, '/s?debug=2')).toBe('root');
    expect(at(routes, '/p')).toBe('root');
    expect(at(routes, '/p', 'POST')).toBe('post');
    expect(at(routes, '/h')).toMatch(/^\? it needs request header x-canary/);
    expect(at(routes, '/r/123')).toBe('re');
    expect(at(routes, '/r/12a')).toBe('root');
    expect(at([r('root', { prefix: '/' }), r('exact', { path: '/v1/items' })], '/v1/items')).toBe('root');
    expect(at([r('exact', { path: '/x' })], '/y')).toBe('no-route');
  });
});

describe('the HTTP answer read through the port-forward stream', () => {
  it('chunked (Envoy admin) and Content-Length bodies, complete only when the last byte arrived', () => {
    const chunked = Buffer.from(
      'HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ntransfer-encoding: chunked\r\n\r\n5\r\n{"a":\r\n2\r\n1}\r\n0\r\n\r\n',
    );
    expect(parseHttpResponse(chunked)).toEqual({ status: 200, body: Buffer.from('{"a":1}') });
    for (let i = 0; i < chunked.length - 1; i++) expect(parseHttpResponse(chunked.subarray(0, i))).toBeNull();
    const fixed = Buffer.from('HTTP/1.1 404 Not Found\r\ncontent-length: 3\r\n\r\nabc');
    expect(parseHttpResponse(fixed)).toEqual({ status: 404, body: Buffer.from('abc') });
    expect(parseHttpResponse(fixed.subarray(0, fixed.length - 1))).toBeNull();
    expect(() => parseHttpResponse(Buffer.from('SSH-2.0-x\r\n\r\n'))).toThrow(/not an HTTP response/);
  });

  it('readEnvoy: an admin answer that is not 200 or not JSON is "could not look", with the path', async () => {
    const get =
      (status: number, body: string): AdminGet =>
      async () => ({ kind: 'ok', status, body });
    expect(await readEnvoy(get(503, ''))).toEqual({
      kind: 'unreachable',
      why: "Envoy's admin answered 503 to /config_dump",
    });
    expect(await readEnvoy(get(200, '<html>'))).toEqual({
      kind: 'unreachable',
      why: "Envoy's admin answer to /config_dump is not JSON",
    });
  });
});
