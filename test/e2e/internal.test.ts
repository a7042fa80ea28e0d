// --internal through the built CLI: exit codes, the JSON field, the clash with a public target, --all, and every
// output format rendering an internal host (each checked by its real consumer where the other tests use one).

import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import Ajv04Module from 'ajv-draft-04';
import addFormats from 'ajv-formats';
import type { ValidateFunction } from 'ajv';
import { gwdoctor, validateReport } from '../helpers/cli.js';
import { SCHEMAS, consumer, runTool } from '../helpers/consumers.js';
import { scenarioPath } from '../helpers/fixtures.js';
import { tempDir } from '../helpers/tmp.js';

const tmp = () => tempDir('gwd-internal-');
const SEED = ['--manifests', 'fixtures/seed-healthy', '--offline'];
const EXPOSED = ['--manifests', scenarioPath('internal-exposed-shared'), '--offline'];

describe('--internal HOST', () => {
  it('exits 0 and says what was proven when no route on the public Gateway serves the host', () => {
    const r = gwdoctor([...SEED, '--internal', 'admin.example.com']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain(
      'admin.example.com/ stays internal: no HTTPRoute or GRPCRoute on Gateway istio-ingress/example-istio-gateway serves admin.example.com',
    );
  });

  it('exits 1 naming the route, its file:line and the patch that removes only this hostname when a route exposes it', () => {
    const r = gwdoctor([...EXPOSED, '--internal', 'admin.example.com', 'worker.example.com']);
    expect(r.code).toBe(1);
    expect(r.stdout).toMatch(
      /✖ route +admin\.example\.com must stay internal, but HTTPRoute istio-ingress\/example-worker \(\.scenarios\/internal-exposed-shared\/cluster\.yaml:\d+\) on Gateway istio-ingress\/example-istio-gateway serves it \[InternalHostExposed\]/,
    );
    expect(r.stdout).toContain(
      `kubectl -n istio-ingress patch httproutes.gateway.networking.k8s.io example-worker --type=json -p '[{"op":"test","path":"/spec/hostnames/1","value":"admin.example.com"},{"op":"remove","path":"/spec/hostnames/1"}]'`,
    );
    expect(r.stdout).toMatch(/worker\.example\.com\/ reaches its backend/);
  });

  it('marks the host "expect": "internal" in the JSON report, which stays schema-valid', () => {
    const r = gwdoctor([...EXPOSED, '-o', 'json', '--internal', 'admin.example.com', 'worker.example.com']);
    const report = JSON.parse(r.stdout);
    expect(validateReport(report), JSON.stringify(validateReport.errors)).toBe(true);
    expect(
      report.targets.map((t: { host: string; verdict: string; expect?: string; failedLayer: string | null }) => [
        t.host,
        t.verdict,
        t.failedLayer,
        t.expect ?? null,
      ]),
    ).toEqual([
      ['worker.example.com', 'pass', null, null],
      ['admin.example.com', 'fail', 'route', 'internal'],
    ]);
    expect(report.targets[1].layers[3].evidence[0].origin).toMatchObject({
      file: `${scenarioPath('internal-exposed-shared')}/cluster.yaml`,
    });
  });

  it('refuses a host given both as a target and as --internal (exit 3, one line)', () => {
    const r = gwdoctor([...SEED, '--internal', 'admin.example.com', 'https://ADMIN.example.com/x']);
    expect(r.code).toBe(3);
    expect(r.stderr.trim()).toBe(
      'gwdoctor: admin.example.com is given both as a target (must be public) and as --internal (must not be): give it once',
    );
  });

  it('with --all, checks an internal host found on the Gateway as internal, not a second time as public', () => {
    const r = gwdoctor([...EXPOSED, '--all', '-o', 'json', '--internal', 'admin.example.com']);
    const hosts = JSON.parse(r.stdout).targets.map(
      (t: { host: string; expect?: string }) => `${t.host}${t.expect ? ' (internal)' : ''}`,
    );
    expect(hosts.sort()).toEqual(['admin.example.com (internal)', 'api.example.com', 'worker.example.com']);
    expect(r.code).toBe(1);
    const text = gwdoctor([...EXPOSED, '--all', '--internal', 'admin.example.com']).stdout;
    expect(text).toContain('summary: 3 hosts, 0 not reaching the backend; 1 internal, 1 exposed or not proven');
    expect(text).toMatch(/admin\.example\.com\/ \(internal\) +fail +route +InternalHostExposed/);
  });
});

const xmllint = consumer('xmllint', 'libxml2-utils');
const promtool = consumer('promtool', 'prometheus');
const sarifSchema = JSON.parse(readFileSync(join(SCHEMAS, 'sarif-2.1.0-rtm.5.json'), 'utf8'));
const Ajv04 = Ajv04Module as unknown as new (o: {
  allErrors: boolean;
  strict: boolean;
  unicodeRegExp: boolean;
}) => { compile(schema: object): ValidateFunction };
const ajv04 = new Ajv04({ allErrors: true, strict: false, unicodeRegExp: false });
(addFormats as unknown as (a: typeof ajv04) => void)(ajv04);
const validateSarif = ajv04.compile(sarifSchema);

describe('every output format renders an internal host', () => {
  const dir = tmp();
  const f = (name: string) => join(dir, name);
  const r = gwdoctor(
    [
      ...EXPOSED,
      '--internal',
      'admin.example.com',
      'worker.example.com',
      '-o',
      'text',
      '-o',
      `junit=${f('j.xml')}`,
      '-o',
      `sarif=${f('s.sarif')}`,
      '-o',
      `prometheus=${f('m.prom')}`,
      '-o',
      `html=${f('r.html')}`,
    ],
    { GITHUB_ACTIONS: '' },
  );

  it('runs once for all of them (exit 1: the internal host is exposed)', () => {
    expect(r.code, r.stderr).toBe(1);
  });
  it.skipIf(!xmllint)('junit: valid against junit-10.xsd, the route testcase fails with InternalHostExposed', () => {
    const v = runTool(xmllint as string, ['--noout', '--schema', join(SCHEMAS, 'junit-10.xsd'), f('j.xml')]);
    expect(v.code, v.stderr).toBe(0);
    const type = runTool(xmllint as string, [
      '--xpath',
      'string(//testsuite[@name="admin.example.com/"]/testcase[@name="route"]/failure/@type)',
      f('j.xml'),
    ]);
    expect(type.stdout.trim()).toBe('InternalHostExposed');
  });
  it("sarif: valid SARIF 2.1.0, a result for InternalHostExposed located at the route's manifest line", () => {
    const log = JSON.parse(readFileSync(f('s.sarif'), 'utf8'));
    expect(validateSarif(log), JSON.stringify(validateSarif.errors?.slice(0, 3))).toBe(true);
    const res = log.runs[0].results.find((x: { ruleId: string }) => x.ruleId === 'InternalHostExposed');
    expect(res.locations[0].physicalLocation.artifactLocation.uri).toBe(
      `${scenarioPath('internal-exposed-shared')}/cluster.yaml`,
    );
    expect(res.locations[0].physicalLocation.region.startLine).toBeGreaterThan(1);
  });
  it.skipIf(!promtool)('prometheus: promtool accepts it; the internal host has its failure series', () => {
    const text = readFileSync(f('m.prom'), 'utf8');
    const c = runTool(promtool as string, ['check', 'metrics'], text);
    expect(c.code, c.stdout + c.stderr).toBe(0);
    expect(text).toContain(
      'gwdoctor_host_failure{host="admin.example.com",path="/",layer="route",code="InternalHostExposed",verdict="fail"} 1',
    );
  });
  it('html: one file with the internal host, its code and fix; the headline counts it as exposed, not as unreachable', () => {
    const html = readFileSync(f('r.html'), 'utf8');
    expect(html).toContain(
      '<h1>gwdoctor: 2 hosts, 0 not reaching the backend; 1 internal, 1 exposed or not proven</h1>',
    );
    expect(html).toMatch(
      /<h2>admin\.example\.com\/ \(internal\) <span class="badge s-fail"[^>]*>is exposed \(route\): it must stay internal</,
    );
    expect(html).toContain('InternalHostExposed');
    expect(html).toContain('/spec/hostnames/1');
  });
  it("github: an ::error annotation at the route's file and line", () => {
    const g = gwdoctor([...EXPOSED, '--internal', 'admin.example.com', '-o', 'github']);
    expect(g.stdout).toMatch(
      /^::error title=gwdoctor%3A admin\.example\.com\/ route InternalHostExposed,file=\.scenarios\/internal-exposed-shared\/cluster\.yaml,line=\d+::/m,
    );
  });
});
