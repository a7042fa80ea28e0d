// Verdicts that lied (issue 20): the built CLI on manifests a pull request could make of the seed as committed
// (fixtures/seed-presync). Each case failed before its fix.

import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseAllDocuments, stringify } from 'yaml';
import { gwdoctor, validateReport } from '../helpers/cli.js';
import { scenarioPath } from '../helpers/fixtures.js';
import { tempDir } from '../helpers/tmp.js';

interface Obj {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string };
  spec?: Record<string, unknown>;
}

const seed = (): Obj[] =>
  parseAllDocuments(readFileSync(`${scenarioPath('seed-presync')}/cluster.yaml`, 'utf8'))
    .map((d) => d.toJS() as Obj | null)
    .filter((o): o is Obj => o !== null);

/** A directory of manifests: one file per entry (name -> objects), written in the order given. */
function tree(files: Record<string, Obj[]>): string {
  const dir = tempDir('gwd-verdicts-');
  for (const [name, objs] of Object.entries(files)) {
    mkdirSync(join(dir, name, '..'), { recursive: true });
    writeFileSync(join(dir, name), objs.map((o) => stringify(o)).join('---\n'));
  }
  return dir;
}

const diffJson = (base: string, head: string, ...extra: string[]) => {
  const r = gwdoctor(['diff', '--base', base, '--head', head, '-o', 'json', ...extra]);
  const d = JSON.parse(r.stdout || '{"hosts":[]}') as {
    hosts: {
      host: string;
      internal?: boolean;
      change: string;
      head: { verdict: string; failedLayer: string | null; code: string | null };
    }[];
  };
  return {
    code: r.code,
    stderr: r.stderr,
    rows: d.hosts.map(
      (h) =>
        `${h.change} ${h.host}${h.internal ? ' (internal)' : ''} ${h.head.verdict} ${h.head.failedLayer ?? '-'} ${h.head.code ?? '-'}`,
    ),
  };
};

const grpcAdmin: Obj[] = [
  {
    apiVersion: 'gateway.networking.k8s.io/v1',
    kind: 'GRPCRoute',
    metadata: { name: 'example-admin-grpc', namespace: 'istio-ingress' },
    spec: {
      parentRefs: [{ name: 'example-istio-gateway' }],
      hostnames: ['admin.example.com'],
      rules: [{ backendRefs: [{ name: 'example-admin', namespace: 'example-admin', port: 8080 }] }],
    },
  },
  {
    apiVersion: 'gateway.networking.k8s.io/v1beta1',
    kind: 'ReferenceGrant',
    metadata: { name: 'grpc-to-admin', namespace: 'example-admin' },
    spec: {
      from: [{ group: 'gateway.networking.k8s.io', kind: 'GRPCRoute', namespace: 'istio-ingress' }],
      to: [{ group: '', kind: 'Service' }],
    },
  },
];

describe('--internal considers GRPCRoutes (item 1)', () => {
  it('a GRPCRoute on the public Gateway serving the internal host fails InternalHostExposed, naming it', () => {
    const dir = tree({ 'c.yaml': [...seed(), ...grpcAdmin] });
    const r = gwdoctor(['--manifests', dir, '--offline', '--internal', 'admin.example.com', '-o', 'json']);
    expect(r.code).toBe(1);
    const route = JSON.parse(r.stdout).targets[0].layers.find((l: { id: string }) => l.id === 'route');
    expect([route.status, route.code]).toEqual(['fail', 'InternalHostExposed']);
    expect(route.summary).toMatch(
      /^admin\.example\.com must stay internal, but GRPCRoute istio-ingress\/example-admin-grpc \(.*c\.yaml:\d+\) on Gateway istio-ingress\/example-istio-gateway serves it$/,
    );
  });

  it('gwdoctor diff --internal reports the change that adds such a GRPCRoute as BROKEN (exit 1)', () => {
    const r = diffJson(
      tree({ 'c.yaml': seed() }),
      tree({ 'c.yaml': [...seed(), ...grpcAdmin] }),
      '--internal',
      'admin.example.com',
    );
    expect(r.code).toBe(1);
    expect(r.rows[0]).toBe('broken admin.example.com (internal) fail route InternalHostExposed');
  });
});

describe('manifests without the built-in istio GatewayClass (item 3)', () => {
  const noClass = () => seed().filter((o) => o.kind !== 'GatewayClass');

  it('the Gateway of class istio is judged as istiod will accept it, saying the class is created by Istio', () => {
    const r = gwdoctor(['--manifests', tree({ 'c.yaml': noClass() }), '--offline', '-o', 'json', 'api.example.com']);
    expect(r.code).toBe(0);
    const report = JSON.parse(r.stdout);
    expect(validateReport(report)).toBe(true);
    const listener = report.targets[0].layers.find((l: { id: string }) => l.id === 'listener');
    expect(listener.status).toBe('pass');
    expect(listener.evidence).toContainEqual(
      expect.objectContaining({
        ref: 'GatewayClass istio',
        detail: expect.stringMatching(/^not in the manifests: created by Istio/),
      }),
    );
  });

  it('a class name istiod does not create is still a class that does not exist', () => {
    const objs = noClass().map((o) =>
      o.kind === 'Gateway' && o.metadata.name === 'example-istio-gateway'
        ? { ...o, spec: { ...o.spec, gatewayClassName: 'istio-ingress' } }
        : o,
    );
    const r = gwdoctor(['--manifests', tree({ 'c.yaml': objs }), '--offline', '-o', 'json', 'api.example.com']);
    expect(r.code).toBe(1);
    expect(JSON.parse(r.stdout).targets[0]).toMatchObject({ failedLayer: 'listener' });
  });

  it('gwdoctor diff reports a removed ReferenceGrant as BROKEN, not UNCHANGED behind a class failure on both sides', () => {
    const head = noClass().filter(
      (o) => !(o.kind === 'ReferenceGrant' && o.metadata.name === 'allow-istio-ingress-to-example-api'),
    );
    const r = diffJson(tree({ 'c.yaml': noClass() }), tree({ 'c.yaml': head }));
    expect(r.code).toBe(1);
    expect(r.rows).toEqual([
      'broken api.example.com fail grant ReferenceGrantMissing',
      'unchanged worker.example.com warn - EndpointsUnknown',
    ]);
  });
});

describe('a valid single-label route hostname (item 6)', () => {
  const withIntranet = () =>
    seed().map((o) =>
      o.kind === 'HTTPRoute' && o.metadata.name === 'example-worker'
        ? { ...o, spec: { ...o.spec, hostnames: ['worker.example.com', 'intranet'] } }
        : o,
    );

  it('--all checks it like any other host and reports every host (no exit 3)', () => {
    const r = gwdoctor(['--manifests', tree({ 'c.yaml': withIntranet() }), '--offline', '--all', '-o', 'json']);
    expect(r.code, r.stderr).not.toBe(3);
    const report = JSON.parse(r.stdout);
    expect(validateReport(report)).toBe(true);
    expect(report.targets.map((t: { host: string }) => t.host)).toEqual([
      'api.example.com',
      'intranet',
      'worker.example.com',
    ]);
  });

  it('gwdoctor diff compares it in both trees', () => {
    const r = diffJson(tree({ 'c.yaml': withIntranet() }), tree({ 'c.yaml': withIntranet() }));
    expect(r.code, r.stderr).toBe(0);
    expect(r.rows.map((x) => x.split(' ')[1])).toEqual(['api.example.com', 'intranet', 'worker.example.com']);
  });

  it('a route hostname no client can request is listed as not checked; the other hosts are still checked', () => {
    const objs = seed().map((o) =>
      o.kind === 'HTTPRoute' && o.metadata.name === 'example-worker'
        ? { ...o, spec: { ...o.spec, hostnames: ['worker.example.com', 'bad_name.example.com', '10.0.0.1'] } }
        : o,
    );
    const r = gwdoctor(['--manifests', tree({ 'c.yaml': objs }), '--offline', '--all', '-o', 'json']);
    expect(r.code, r.stderr).toBe(0);
    expect(JSON.parse(r.stdout).targets.map((t: { host: string }) => t.host)).toEqual([
      'api.example.com',
      'worker.example.com',
    ]);
    expect(r.stderr).toMatch(
      /route hostname "bad_name\.example\.com" was not checked: label "bad_name" is not a valid DNS label/,
    );
    expect(r.stderr).toMatch(/route hostname "10\.0\.0\.1" was not checked: an IP address/);
  });
});

describe('an object defined twice, a version the API server does not serve (items 4, 5)', () => {
  it('a run and gwdoctor diff say so on stderr, naming every file:line, and judge what kubectl apply leaves', () => {
    const override = seed()
      .map((o) =>
        o.kind === 'HTTPRoute' && o.metadata.name === 'example-api'
          ? { ...o, spec: { ...o.spec, hostnames: ['api2.example.com'] } }
          : o,
      )
      .filter((o) => o.kind === 'HTTPRoute' && o.metadata.name === 'example-api');
    const dir = tree({ 'a.yaml': seed(), 'b.yaml': override });
    const r = gwdoctor(['--manifests', dir, '--offline', '-o', 'json', 'api.example.com']);
    expect(r.stderr).toMatch(
      /^gwdoctor: HTTPRoute istio-ingress\/example-api is defined twice: \S*a\.yaml:\d+ and \S*b\.yaml:1; kubectl apply -f keeps the last \(\S*b\.yaml:1\), and gwdoctor judges that one$/m,
    );
    // The copy apply leaves serves api2.example.com only.
    expect(JSON.parse(r.stdout).targets[0]).toMatchObject({ verdict: 'fail', failedLayer: 'route' });
    const d = diffJson(tree({ 'a.yaml': seed() }), dir);
    expect(d.code).toBe(1);
    expect(d.stderr).toMatch(/^gwdoctor diff: head: HTTPRoute istio-ingress\/example-api is defined twice/m);
    expect(d.rows[0]).toBe('broken api.example.com fail route NoRouteForHost');
  });

  it('a v1alpha2 ReferenceGrant is not counted: stderr says why, the grant printed is v1beta1', () => {
    const objs = seed().map((o) =>
      o.kind === 'ReferenceGrant' && o.metadata.name === 'allow-istio-ingress-to-example-api'
        ? { ...o, apiVersion: 'gateway.networking.k8s.io/v1alpha2' }
        : o,
    );
    const r = gwdoctor(['--manifests', tree({ 'c.yaml': objs }), '--offline', '-o', 'json', 'api.example.com']);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(
      /^gwdoctor: ReferenceGrant example-api\/allow-istio-ingress-to-example-api \(\S*c\.yaml:\d+\): gateway\.networking\.k8s\.io\/v1alpha2 is not a version the API server serves for ReferenceGrant/m,
    );
    const grant = JSON.parse(r.stdout).targets[0].layers.find((l: { id: string }) => l.id === 'grant');
    expect([grant.status, grant.code, grant.fix.object.apiVersion]).toEqual([
      'fail',
      'ReferenceGrantMissing',
      'gateway.networking.k8s.io/v1beta1',
    ]);
  });
});
