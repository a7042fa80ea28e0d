// Manifests are judged as `kubectl apply -f` would leave the cluster (issue 20, items 4 and 5):
//  - an object defined more than once: apply sends every copy in order (files in byte order, documents in file
//    order), the last one wins; gwdoctor keeps that one and says so, naming every file:line;
//  - an object of a Gateway API version the API server does not serve (a v1alpha2 ReferenceGrant, a typo'd v1beta2)
//    is refused by apply ("no matches for kind"): it is not an object; gwdoctor says so, and a printed grant never
//    copies that version.
// The same behaviour on the real API server: test/integration/verdicts.test.ts.

import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { ManifestCluster, SERVED_VERSIONS } from '../../src/cluster/manifests.js';
import { runScenario, scenarioPath } from '../helpers/fixtures.js';
import { tempDir } from '../helpers/tmp.js';

const GW = 'gateway.networking.k8s.io';
const route = (hostnames: string[], name = 'example-api', apiVersion = `${GW}/v1`) => ({
  apiVersion,
  kind: 'HTTPRoute',
  metadata: { name, namespace: 'istio-ingress' },
  spec: {
    parentRefs: [{ name: 'example-istio-gateway' }],
    hostnames,
    rules: [{ backendRefs: [{ name: 'example-api', namespace: 'example-api', port: 3000 }] }],
  },
});

function dir(files: Record<string, object[]>): string {
  const d = tempDir('gwd-apply-');
  for (const [name, objs] of Object.entries(files))
    writeFileSync(join(d, name), objs.map((o) => stringify(o)).join('---\n'));
  return d;
}

const hostnamesOf = async (c: ManifestCluster) =>
  (await c.httpRoutes()).map((r) => `${r.metadata.name}: ${(r.spec.hostnames ?? []).join(',')}`);

describe('an object defined more than once: the last copy kubectl apply sends wins', () => {
  it('two files: the one later in byte order wins, and the notice names both file:line origins', async () => {
    const d = dir({ 'a.yaml': [route(['api.example.com'])], 'b.yaml': [route(['other.example.com'])] });
    const c = ManifestCluster.fromPaths([d]);
    expect(await hostnamesOf(c)).toEqual(['example-api: other.example.com']);
    expect(c.notices()).toEqual([
      expect.stringMatching(
        /^HTTPRoute istio-ingress\/example-api is defined twice: \S*a\.yaml:1 and \S*b\.yaml:1; kubectl apply -f keeps the last \(\S*b\.yaml:1\), and gwdoctor judges that one$/,
      ),
    ]);
  });

  it('files are taken in byte order as kubectl walks a directory ("B.yaml" before "a.yaml"), documents in file order', async () => {
    const d = dir({
      'B.yaml': [route(['b.example.com'])],
      'a.yaml': [route(['a1.example.com']), route(['a2.example.com'])],
    });
    const c = ManifestCluster.fromPaths([d]);
    expect(await hostnamesOf(c)).toEqual(['example-api: a2.example.com']);
    expect(c.notices()[0]).toMatch(/defined 3 times: \S*B\.yaml:1, \S*a\.yaml:1 and \S*a\.yaml:\d+;/);
  });

  it('several --manifests paths are applied in the order given', async () => {
    const one = dir({ 'x.yaml': [route(['one.example.com'])] });
    const two = dir({ 'x.yaml': [route(['two.example.com'])] });
    expect(await hostnamesOf(ManifestCluster.fromPaths([two, one]))).toEqual(['example-api: one.example.com']);
  });

  it('the same name in another namespace, of another kind, or another group is another object; a version change is the same object', async () => {
    const other = { ...route(['x.example.com']), metadata: { name: 'example-api', namespace: 'other' } };
    const svc = {
      apiVersion: 'v1',
      kind: 'Service',
      metadata: { name: 'example-api', namespace: 'istio-ingress' },
      spec: { ports: [{ port: 80 }] },
    };
    const c = ManifestCluster.fromPaths([dir({ 'a.yaml': [route(['api.example.com']), other, svc] })]);
    expect(c.notices()).toEqual([]);
    expect(await c.httpRoutes()).toHaveLength(2);
    const v = ManifestCluster.fromPaths([
      dir({ 'a.yaml': [route(['old.example.com'], 'example-api', `${GW}/v1beta1`), route(['new.example.com'])] }),
    ]);
    expect(await hostnamesOf(v)).toEqual(['example-api: new.example.com']);
    expect(v.notices()).toHaveLength(1);
  });

  it('a route the later copy changes is judged as applied: the seed api route re-defined for another host', async () => {
    // fixtures/seed-presync plus a later file that re-defines example-api for api2.example.com only.
    const d = dir({ 'zz-override.yaml': [route(['api2.example.com'])] });
    const c = ManifestCluster.fromPaths([scenarioPath('seed-presync'), d]);
    expect(c.notices()[0]).toMatch(
      /^HTTPRoute istio-ingress\/example-api is defined twice: \.scenarios\/seed-presync\/cluster\.yaml:\d+ and \S*zz-override\.yaml:1/,
    );
    expect(await hostnamesOf(c)).toContain('example-api: api2.example.com');
  });
});

describe('Gateway API versions the API server does not serve are not objects', () => {
  const grant = (apiVersion: string, name = 'allow-istio-ingress-to-example-api') => ({
    apiVersion,
    kind: 'ReferenceGrant',
    metadata: { name, namespace: 'example-api' },
    spec: {
      from: [{ group: GW, kind: 'HTTPRoute', namespace: 'istio-ingress' }],
      to: [{ group: '', kind: 'Service', name: 'example-api' }],
    },
  });

  it('the versions gwdoctor takes as served are those of the Gateway API CRDs it is tested with', () => {
    expect(SERVED_VERSIONS).toEqual({
      GatewayClass: ['v1', 'v1beta1'],
      Gateway: ['v1', 'v1beta1'],
      HTTPRoute: ['v1', 'v1beta1'],
      GRPCRoute: ['v1'],
      ListenerSet: ['v1'],
      ReferenceGrant: ['v1', 'v1beta1'],
    });
  });

  it.each([`${GW}/v1alpha2`, `${GW}/v1beta2`])(
    'a ReferenceGrant written as %s grants nothing: ReferenceGrantMissing, the evidence says why, the printed grant uses a served version',
    async (apiVersion) => {
      // fixtures/grant-missing (no grant for the api backend) plus a grant of an unserved version.
      const d = dir({ 'zz-grant.yaml': [grant(apiVersion, 'grant-written-as-' + apiVersion.split('/')[1])] });
      const c = ManifestCluster.fromPaths([scenarioPath('grant-missing'), d]);
      expect(await c.referenceGrants('example-api')).toEqual([]);
      const esc = (x: string) => x.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');
      const want = `^ReferenceGrant example-api/grant-written-as-\\w+ \\(\\S*zz-grant\\.yaml:1\\): ${esc(apiVersion)} is not a version the API server serves for ReferenceGrant \\(the Gateway API CRDs \\(v1\\.6, standard and experimental channel\\) serve v1, v1beta1\\): kubectl apply rejects it .*; write it as ${esc(GW)}/v1beta1$`;
      expect(c.notices()).toEqual([expect.stringMatching(new RegExp(want))]);
      const report = await (await import('../helpers/fixtures.js')).runOnCluster(c, 'api.example.com');
      const g = report.layers.find((l) => l.id === 'grant');
      expect([g?.status, g?.code]).toEqual(['fail', 'ReferenceGrantMissing']);
      expect(g?.evidence).toContainEqual(
        expect.objectContaining({
          ref: expect.stringMatching(/^ReferenceGrant example-api\/grant-written-as-/),
          detail: expect.stringMatching(/^not counted: .* is not a version the API server serves/),
        }),
      );
      expect(g?.fix).toMatchObject({ kind: 'apply', object: { apiVersion: `${GW}/v1beta1` } });
    },
  );

  it('an HTTPRoute written as v1beta2 is no route: the host has none', async () => {
    const d = dir({ 'r.yaml': [route(['typo.example.com'], 'typo', `${GW}/v1beta2`)] });
    const c = ManifestCluster.fromPaths([scenarioPath('seed-presync'), d]);
    expect((await c.httpRoutes()).map((r) => r.metadata.name)).not.toContain('typo');
    const route_ = (await (await import('../helpers/fixtures.js')).runOnCluster(c, 'typo.example.com')).layers.find(
      (l) => l.id === 'route',
    );
    expect([route_?.status, route_?.code]).toEqual(['fail', 'NoRouteForHost']);
  });

  it('CustomResourceDefinitions in the manifests decide which versions are served (an older install serving v1alpha2)', async () => {
    const crd = {
      apiVersion: 'apiextensions.k8s.io/v1',
      kind: 'CustomResourceDefinition',
      metadata: { name: 'referencegrants.gateway.networking.k8s.io' },
      spec: {
        group: GW,
        names: { kind: 'ReferenceGrant', plural: 'referencegrants' },
        scope: 'Namespaced',
        versions: [
          { name: 'v1alpha2', served: true, storage: false, schema: { openAPIV3Schema: { type: 'object' } } },
          { name: 'v1beta1', served: true, storage: true },
        ],
      },
    };
    const c = ManifestCluster.fromPaths([
      scenarioPath('grant-missing'),
      dir({ 'crd.yaml': [crd], 'g.yaml': [grant(`${GW}/v1alpha2`)] }),
    ]);
    expect(c.notices()).toEqual([]);
    expect(await c.referenceGrants('example-api')).toHaveLength(1);
  });

  it('the bundled scenarios are unaffected: every grant in them is served', async () => {
    const r = await runScenario(scenarioPath('seed-presync'), 'api.example.com');
    expect(r.layers.find((l) => l.id === 'grant')?.status).toBe('pass');
  });
});
