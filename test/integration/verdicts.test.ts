// The behaviour choices of issue 20 ("verdicts that lie"), decided by the real components:
//  - the Gateway API versions gwdoctor takes as served (manifests) are what the real API server serves, and an
//    object of another version is refused by it (item 5);
//  - an object defined twice in a directory: `kubectl apply -f DIR -R` leaves the copy gwdoctor judges (item 4);
//  - the GatewayClasses gwdoctor assumes istiod creates are those real istiod creates (item 3);
//  - a plain-HTTP API server address (what `kubectl proxy` serves) works like a direct one (item 8).

import { spawnSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect } from 'vitest';
import { stringify } from 'yaml';
import { ManifestCluster, SERVED_VERSIONS } from '../../src/cluster/manifests.js';
import { ISTIO_BUILTIN_CLASSES } from '../../src/gatewayapi/classes.js';
import { gwdoctor, gwdoctorAsync } from '../helpers/cli.js';
import { FIXTURES, scenarioDir } from '../helpers/fixtures.js';
import { applyScenario, type Applied } from './harness/apply.js';
import { Kube } from './harness/kube.js';
import { istiod, itIstiod, itLive, live } from './live.js';
import { tempDir } from '../helpers/tmp.js';

const GW = 'gateway.networking.k8s.io';
const admin = live ? new Kube(live.server, readFileSync(live.caFile), 'admin-token') : null;

/** kubectl as the user runs it (on PATH; CI must have it). */
function kubectl(args: string[]): { code: number | null; out: string } {
  const r = spawnSync('kubectl', ['--kubeconfig', live!.kubeconfig, '--context', 'admin', ...args], {
    encoding: 'utf8',
    timeout: 60_000,
  });
  if (r.error) throw new Error(`kubectl could not be run: ${r.error.message} (the test needs kubectl on PATH)`);
  return { code: r.status, out: `${r.stdout}${r.stderr}` };
}

const waitFor = async <T>(what: string, ms: number, f: () => Promise<T | undefined>): Promise<T> => {
  const deadline = Date.now() + ms;
  for (;;) {
    const v = await f();
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
};

describe('Gateway API versions: what the real API server serves (item 5)', () => {
  itLive('serves exactly the versions gwdoctor takes as served for every kind it reads', async () => {
    const group = (await admin!.raw('GET', `/apis/${GW}`)).json as { versions: { version: string }[] };
    const served: Record<string, string[]> = {};
    for (const { version } of group.versions) {
      const list = (await admin!.raw('GET', `/apis/${GW}/${version}`)).json as {
        resources: { kind: string; name: string }[];
      };
      for (const r of list.resources)
        if (!r.name.includes('/') && r.kind in SERVED_VERSIONS) (served[r.kind] ??= []).push(version);
    }
    for (const k of Object.keys(served)) served[k]?.sort();
    expect(served).toEqual(Object.fromEntries(Object.entries(SERVED_VERSIONS).map(([k, v]) => [k, [...v].sort()])));
  });

  itLive('refuses a v1alpha2 ReferenceGrant and a v1beta2 HTTPRoute, as gwdoctor says of such manifests', async () => {
    const dir = tempDir('gwd-unserved-');
    const grant = {
      apiVersion: `${GW}/v1alpha2`,
      kind: 'ReferenceGrant',
      metadata: { name: 'old-grant', namespace: 'default' },
      spec: {
        from: [{ group: GW, kind: 'HTTPRoute', namespace: 'istio-ingress' }],
        to: [{ group: '', kind: 'Service' }],
      },
    };
    const route = {
      apiVersion: `${GW}/v1beta2`,
      kind: 'HTTPRoute',
      metadata: { name: 'typo-route', namespace: 'default' },
      spec: { hostnames: ['typo.example.com'] },
    };
    writeFileSync(join(dir, 'objs.yaml'), [grant, route].map((o) => stringify(o)).join('---\n'));
    const r = kubectl(['apply', '-f', dir, '-R']);
    expect(r.code).not.toBe(0);
    expect(r.out).toMatch(/no matches for kind "ReferenceGrant" in version "gateway\.networking\.k8s\.io\/v1alpha2"/);
    expect(r.out).toMatch(/no matches for kind "HTTPRoute" in version "gateway\.networking\.k8s\.io\/v1beta2"/);
    expect((await admin!.raw('GET', `/apis/${GW}/v1beta1/namespaces/default/referencegrants/old-grant`)).status).toBe(
      404,
    );
    expect((await admin!.raw('GET', `/apis/${GW}/v1/namespaces/default/httproutes/typo-route`)).status).toBe(404);
    const c = ManifestCluster.fromPaths([dir]);
    expect(await c.referenceGrants('default')).toEqual([]);
    expect(await c.httpRoutes()).toEqual([]);
    expect(c.notices()).toHaveLength(2);
  });
});

describe('an object defined twice in a directory (item 4)', () => {
  const ns = 'gwd-duplicates';
  beforeAll(async () => {
    if (admin) await admin.ensure({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: ns } } as never);
  });
  afterAll(async () => {
    if (admin) await admin.raw('DELETE', `/api/v1/namespaces/${ns}`);
  });

  itLive(
    'kubectl apply -f DIR -R leaves the copy gwdoctor judges (files in byte order, documents in file order)',
    async () => {
      const dir = tempDir('gwd-dup-');
      const route = (hostname: string) => ({
        apiVersion: `${GW}/v1`,
        kind: 'HTTPRoute',
        metadata: { name: 'dup', namespace: ns },
        spec: { parentRefs: [{ name: 'gw' }], hostnames: [hostname] },
      });
      // "B.yaml" sorts before "a.yaml" in byte order; a later document of a file comes after an earlier one.
      writeFileSync(join(dir, 'B.yaml'), stringify(route('b.example.com')));
      writeFileSync(
        join(dir, 'a.yaml'),
        [route('a1.example.com'), route('a2.example.com')].map((o) => stringify(o)).join('---\n'),
      );
      const r = kubectl(['apply', '-f', dir, '-R']);
      expect(r.code, r.out).toBe(0);
      const onServer = (await admin!.raw('GET', `/apis/${GW}/v1/namespaces/${ns}/httproutes/dup`)).json as {
        spec: { hostnames: string[] };
      };
      const c = ManifestCluster.fromPaths([dir]);
      const judged = (await c.httpRoutes()).map((x) => x.spec.hostnames);
      expect(judged).toEqual([onServer.spec.hostnames]);
      expect(onServer.spec.hostnames).toEqual(['a2.example.com']);
      expect(c.notices()[0]).toMatch(
        /^HTTPRoute gwd-duplicates\/dup is defined 3 times: \S*B\.yaml:1, \S*a\.yaml:1 and \S*a\.yaml:\d+; kubectl apply -f keeps the last/,
      );
    },
  );
});

describe('the GatewayClasses istiod creates (item 3)', () => {
  itIstiod(
    'real istiod creates every class gwdoctor assumes in manifests that lack it, with the same controllerName',
    async () => {
      const classes = await waitFor('istiod to create its GatewayClasses', 30_000, async () => {
        const list = (await admin!.raw('GET', `/apis/${GW}/v1/gatewayclasses`)).json as {
          items: { metadata: { name: string }; spec: { controllerName: string } }[];
        };
        const got = new Map(list.items.map((c) => [c.metadata.name, c.spec.controllerName]));
        return [...ISTIO_BUILTIN_CLASSES.keys()].every((n) => got.has(n)) ? got : undefined;
      });
      for (const [name, controller] of ISTIO_BUILTIN_CLASSES) expect(classes.get(name), name).toBe(controller);
    },
  );

  itIstiod(
    'a live Gateway of the istio class istiod created is judged the same as the manifests without the class',
    async () => {
      // seed-healthy from git (no GatewayClass objects) predicts what istiod reports for the live seed.
      const dir = tempDir('gwd-noclass-');
      const docs = readFileSync(join(scenarioDir('seed-presync'), 'cluster.yaml'), 'utf8')
        .split(/^---$/m)
        .filter((d) => !/^kind: GatewayClass$/m.test(d));
      writeFileSync(join(dir, 'cluster.yaml'), docs.join('---'));
      const offline = gwdoctor(['--manifests', dir, '--offline', '-o', 'json', 'api.example.com']);
      expect(offline.code, offline.stderr).toBe(0);
      const listener = JSON.parse(offline.stdout).targets[0].layers.find((l: { id: string }) => l.id === 'listener');
      expect(listener.status).toBe('pass');
      let applied: Applied | undefined;
      try {
        applied = await applyScenario(admin!, join(FIXTURES, 'seed-healthy'), { status: 'istiod' });
        const r = gwdoctor(['--kubeconfig', live!.kubeconfig, '--offline', '-o', 'json', 'api.example.com']);
        expect(JSON.parse(r.stdout).targets[0].layers.find((l: { id: string }) => l.id === 'listener').status).toBe(
          'pass',
        );
      } finally {
        await applied?.cleanup();
      }
    },
    180_000,
  );
});

describe('a plain-HTTP API server address, as `kubectl proxy` serves it (item 8)', () => {
  let proxy: http.Server | undefined;
  let url = '';
  beforeAll(async () => {
    if (!live) return;
    const ca = readFileSync(live.caFile);
    const target = new URL(live.server);
    // What kubectl proxy does: plain HTTP on loopback, each request forwarded to the API server with the user's
    // credentials (here the read-only user gwdoctor's ClusterRole is bound to).
    proxy = http.createServer((req, res) => {
      const up = https.request(
        {
          host: target.hostname,
          port: target.port,
          path: req.url,
          method: req.method,
          ca,
          headers: { ...req.headers, host: target.host, authorization: 'Bearer viewer-token' },
        },
        (r) => {
          res.writeHead(r.statusCode ?? 502, r.headers);
          r.pipe(res);
        },
      );
      up.on('error', () => res.destroy());
      req.pipe(up);
    });
    await new Promise<void>((r) => proxy!.listen(0, '127.0.0.1', r));
    url = `http://127.0.0.1:${(proxy.address() as { port: number }).port}`;
  });
  afterAll(() => proxy?.close());

  itLive(
    'gives the same report as the direct HTTPS address',
    async () => {
      let applied: Applied | undefined;
      try {
        applied = await applyScenario(admin!, scenarioDir('grant-missing'), {
          status: istiod ? 'istiod' : 'fixture',
        });
        const kc = join(tempDir('gwd-proxy-'), 'kubeconfig');
        // As `kubectl config set-cluster proxy --server=http://127.0.0.1:8001` writes it: no credentials, no CA.
        writeFileSync(
          kc,
          `apiVersion: v1\nkind: Config\nclusters:\n- name: proxy\n  cluster: {server: "${url}"}\nusers:\n- {name: none, user: {}}\ncontexts:\n- {name: proxy, context: {cluster: proxy, user: none}}\ncurrent-context: proxy\n`,
        );
        // Not spawnSync: the forwarder runs in this process and must serve while gwdoctor runs.
        const via = await gwdoctorAsync([
          '--kubeconfig',
          kc,
          '--offline',
          '-o',
          'json',
          'api.example.com',
          'worker.example.com',
        ]);
        const direct = gwdoctor([
          '--kubeconfig',
          live!.kubeconfig,
          '--context',
          'readonly',
          '--offline',
          '-o',
          'json',
          'api.example.com',
          'worker.example.com',
        ]);
        expect(via.code, via.stdout + via.stderr).toBe(direct.code);
        const shape = (out: string) =>
          (
            JSON.parse(out) as {
              targets: {
                host: string;
                verdict: string;
                layers: { id: string; status: string; code: string | null }[];
              }[];
            }
          ).targets.map((t) => [t.host, t.verdict, t.layers.map((l) => `${l.id}:${l.status}:${l.code ?? '-'}`)]);
        expect(shape(via.stdout)).toEqual(shape(direct.stdout));
        expect(JSON.parse(via.stdout).source).toMatchObject({ mode: 'live', server: url });
        expect(shape(via.stdout)[0]?.[1]).toBe('fail');
      } finally {
        await applied?.cleanup();
      }
    },
    180_000,
  );
});
