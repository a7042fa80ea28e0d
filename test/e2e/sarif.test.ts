// -o sarif as code scanning reads it: valid against the SARIF 2.1.0 JSON schema, a rule per reason code linking to
// its README heading, a result per failing layer located at the manifest file:line when the report has origins.

import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import Ajv04Module from 'ajv-draft-04';
import addFormats from 'ajv-formats';
import type { ValidateFunction } from 'ajv';
import { gwdoctor } from '../helpers/cli.js';
import { SCHEMAS } from '../helpers/consumers.js';
import { scenarioReport } from '../helpers/reports.js';
import { CODES } from '../../src/codes.js';
import { renderSarif } from '../../src/report/sarif.js';
import { loadYaml } from '../../src/fix/render.js';
import type { Evidence } from '../../src/types.js';
import { scenarioPath } from '../helpers/fixtures.js';
import { tempDir } from '../helpers/tmp.js';

await loadYaml(); // the yaml library is loaded on demand (src/fix/render.ts); these tests render fixes directly

// The SARIF 2.1.0 schema (rtm.5, JSON Schema draft-04), see test/schemas/README.md.
const schema = JSON.parse(readFileSync(join(SCHEMAS, 'sarif-2.1.0-rtm.5.json'), 'utf8'));
// ajv-draft-04 is CommonJS (module.exports = the class); its types describe it as a namespace under NodeNext.
const Ajv04 = Ajv04Module as unknown as new (o: {
  allErrors: boolean;
  strict: boolean;
  unicodeRegExp: boolean;
}) => { compile(schema: object): ValidateFunction };
// unicodeRegExp: false because the schema's `language` pattern has a stray `]` that only non-unicode regexps accept.
const ajv = new Ajv04({ allErrors: true, strict: false, unicodeRegExp: false });
(addFormats as unknown as (a: typeof ajv) => void)(ajv);
const validateSarif = ajv.compile(schema);
const readme = readFileSync(join(import.meta.dirname, '..', '..', 'README.md'), 'utf8');

interface SarifLog {
  version: string;
  runs: {
    tool: { driver: { name: string; rules: { id: string; helpUri: string }[] } };
    results: {
      ruleId: string;
      ruleIndex: number;
      level: string;
      message: { text: string; markdown: string };
      locations: unknown[];
      properties: Record<string, unknown>;
    }[];
  }[];
}

function sarifOf(args: string[]): { code: number | null; log: SarifLog } {
  const file = join(tempDir('gwd-sarif-'), 'out.sarif');
  const r = gwdoctor([...args, '-o', `sarif=${file}`]);
  return { code: r.code, log: JSON.parse(readFileSync(file, 'utf8')) };
}

describe('sarif output (validated against the SARIF 2.1.0 schema)', () => {
  it('has one rule per reason code, each with its README heading as helpUri, and one result for the failing layer', () => {
    const { code, log } = sarifOf([
      '--manifests',
      scenarioPath('grant-missing'),
      '--offline',
      'api.example.com',
      'worker.example.com',
    ]);
    expect(code).toBe(1);
    expect(validateSarif(log), JSON.stringify(validateSarif.errors?.slice(0, 3))).toBe(true);
    const run = log.runs[0]!;
    expect(run.tool.driver.rules.map((r) => r.id)).toEqual(Object.keys(CODES));
    for (const r of run.tool.driver.rules) {
      const anchor = r.helpUri.split('#')[1]!;
      expect(readme, r.id).toMatch(new RegExp(`^#{2,4} ${r.id}$`, 'im'));
      expect(anchor).toBe(r.id.toLowerCase());
    }
    expect(run.results).toHaveLength(1);
    const res = run.results[0]!;
    expect(res).toMatchObject({
      ruleId: 'ReferenceGrantMissing',
      level: 'error',
      properties: { host: 'api.example.com', layer: 'grant' },
    });
    expect(run.tool.driver.rules[res.ruleIndex]!.id).toBe('ReferenceGrantMissing');
    expect(res.message.text).toMatch(/^api\.example\.com\/: no ReferenceGrant in namespace example-api/);
    expect(res.message.markdown).toMatch(/kind: ReferenceGrant/);
  });

  it('always has a results array, empty when every host passes', () => {
    const { code, log } = sarifOf(['--manifests', 'fixtures/seed-healthy', '--offline', 'api.example.com']);
    expect(code).toBe(0);
    expect(validateSarif(log)).toBe(true);
    expect(log.runs[0]!.results).toEqual([]);
  });

  it('locates a result at the manifest file and line of each object in its evidence, when the report has origins', async () => {
    const report = await scenarioReport([['grant-missing', 'api.example.com']]);
    const grant = report.targets[0]!.layers[4]!;
    const yaml = readFileSync(`${scenarioPath('grant-missing')}/cluster.yaml`, 'utf8').split('\n');
    const routeLine =
      yaml.findIndex(
        (l, i) => l.trim() === 'kind: HTTPRoute' && yaml.slice(i, i + 6).some((x) => x.trim() === 'name: example-api'),
      ) + 1;
    expect(routeLine).toBeGreaterThan(0);
    grant.evidence = grant.evidence.map(
      (e): Evidence =>
        e.object?.kind === 'HTTPRoute'
          ? Object.assign({}, e, {
              object: {
                apiVersion: 'gateway.networking.k8s.io/v1',
                kind: 'HTTPRoute',
                namespace: 'istio-ingress',
                name: 'example-api',
              },
              origin: { file: join(process.cwd(), `${scenarioPath('grant-missing')}/cluster.yaml`), line: routeLine },
            })
          : Object.assign({}, e, {
              object: { apiVersion: 'v1', kind: 'Namespace', name: 'example-api' },
              origin: { resourceVersion: '42' },
            }),
    );
    const log = renderSarif(report) as SarifLog;
    expect(validateSarif(log), JSON.stringify(validateSarif.errors?.slice(0, 3))).toBe(true);
    expect(log.runs[0]!.results[0]!.locations).toEqual([
      {
        physicalLocation: {
          artifactLocation: { uri: `${scenarioPath('grant-missing')}/cluster.yaml` },
          region: { startLine: routeLine },
        },
        logicalLocations: [
          { name: 'example-api', fullyQualifiedName: 'HTTPRoute istio-ingress/example-api', kind: 'resource' },
        ],
      },
    ]);
  });

  it('locates every result where code scanning accepts it, also from a live cluster (no file): cluster/NS/KIND/NAME, or the host', async () => {
    // code scanning refuses a result without a physical location with an artifact URI ("locationFromSarifResult:
    // expected at least one location", github/codeql-action#1738, #2459): the upload-sarif step of the workflow would fail
    const report = await scenarioReport([
      ['grant-missing', 'api.example.com'],
      ['no-ready-endpoints', 'api.example.com'],
    ]);
    for (const t of report.targets)
      for (const f of t.layers)
        f.evidence = f.evidence.map((e): Evidence => Object.assign({}, e, { origin: { resourceVersion: '42' } }));
    const noObject = report.targets[1]!.layers.find((f) => f.status === 'fail')!;
    noObject.evidence = noObject.evidence.map((e): Evidence => ({ ref: e.ref, detail: e.detail }));
    const log = renderSarif(report) as SarifLog;
    expect(validateSarif(log), JSON.stringify(validateSarif.errors?.slice(0, 3))).toBe(true);
    const results = log.runs[0]!.results;
    expect(results).toHaveLength(2);
    for (const r of results) {
      expect(r.locations.length, r.ruleId).toBeGreaterThan(0);
      for (const l of r.locations as {
        physicalLocation: { artifactLocation: { uri: string }; region: { startLine: number } };
      }[]) {
        expect(l.physicalLocation.artifactLocation.uri).toMatch(/^[\w.%-]+(?:\/[\w.%-]+)*$/); // repository-relative, no scheme
        expect(l.physicalLocation.region.startLine).toBeGreaterThanOrEqual(1);
      }
    }
    expect(results[0]!.locations).toContainEqual({
      physicalLocation: {
        artifactLocation: { uri: 'cluster/istio-ingress/HTTPRoute/example-api' },
        region: { startLine: 1 },
      },
      logicalLocations: [
        { name: 'example-api', fullyQualifiedName: 'HTTPRoute istio-ingress/example-api', kind: 'resource' },
      ],
    });
    expect(results[1]!.locations).toEqual([
      { physicalLocation: { artifactLocation: { uri: 'hosts/api.example.com' }, region: { startLine: 1 } } },
    ]);
  });

  it('is checked by a validator that does reject a log without the tool', () => {
    expect(validateSarif({ version: '2.1.0', runs: [{ results: [] }] })).toBe(false);
  });
});
