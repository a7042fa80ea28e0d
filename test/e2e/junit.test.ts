// -o junit as a CI server reads it: valid against the Jenkins xUnit JUnit schema (xmllint), a testsuite per target,
// a testcase per layer, the finding and the fix in the failure body.

import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { gwdoctor } from '../helpers/cli.js';
import { SCHEMAS, consumer, runTool } from '../helpers/consumers.js';
import { scenarioReport } from '../helpers/reports.js';
import { renderJunit } from '../../src/report/junit.js';
import { loadYaml } from '../../src/fix/render.js';
import type { Finding } from '../../src/types.js';
import { scenarioPath } from '../helpers/fixtures.js';
import { tempDir } from '../helpers/tmp.js';

await loadYaml(); // the yaml library is loaded on demand (src/fix/render.ts); these tests render fixes directly

const xmllint = consumer('xmllint', 'libxml2-utils');
const XSD = join(SCHEMAS, 'junit-10.xsd');
const tmp = () => tempDir('gwd-junit-');

function validate(file: string) {
  return runTool(xmllint as string, ['--noout', '--schema', XSD, file]);
}
function xpath(file: string, expr: string): string {
  const r = runTool(xmllint as string, ['--xpath', expr, file]);
  return r.stdout.trim();
}

describe.skipIf(!xmllint)('junit output (validated by xmllint against junit-10.xsd)', () => {
  it('writes a schema-valid file: a testsuite per target, a testcase per layer (eight), the failing layer as <failure> with the fix', () => {
    const file = join(tmp(), 'junit.xml');
    const r = gwdoctor([
      '--manifests',
      scenarioPath('grant-missing'),
      '--offline',
      '-o',
      `junit=${file}`,
      'api.example.com',
      'worker.example.com',
    ]);
    expect(r.code).toBe(1);
    const v = validate(file);
    expect(v.stderr).toMatch(/validates/);
    expect(v.code).toBe(0);
    expect(xpath(file, 'count(//testsuite)')).toBe('2');
    expect(xpath(file, 'count(//testsuite[@name="api.example.com/"]/testcase)')).toBe('8');
    expect(xpath(file, 'string(/testsuites/@failures)')).toBe('1');
    expect(xpath(file, 'string(//testsuite[@name="api.example.com/"]/testcase[@name="grant"]/failure/@type)')).toBe(
      'ReferenceGrantMissing',
    );
    const body = xpath(file, 'string(//testcase[@name="grant"]/failure)');
    expect(body).toMatch(/no ReferenceGrant in namespace example-api/);
    expect(body).toMatch(/kind: ReferenceGrant/);
    expect(body).toMatch(/see https:\/\/.*#referencegrantmissing/);
    // layers after the failure, and the network layers under --offline, are skipped, with the reason
    expect(
      xpath(file, 'string(//testsuite[@name="api.example.com/"]/testcase[@name="endpoints"]/skipped/@message)'),
    ).toBe('not checked: grant failed');
    expect(xpath(file, 'count(//testsuite[@name="worker.example.com/"]//failure)')).toBe('0');
    expect(
      xpath(file, 'string(//testsuite[@name="worker.example.com/"]/properties/property[@name="verdict"]/@value)'),
    ).toBe('pass');
  });

  it('reports a layer that could not be checked as <error>, and stays valid with hostile text from the cluster', async () => {
    const report = await scenarioReport([['grant-missing', 'api.example.com']]);
    const t = report.targets[0]!;
    const listener = t.layers[2] as Finding;
    t.layers[2] = {
      ...listener,
      status: 'error',
      code: 'ClusterUnreachable',
      summary: 'cannot reach <api> & "server" \u001b[31mred\u001b[0m \u0007 ]]>',
      evidence: [{ ref: "Gateway a/b'c", detail: 'bad\u0000byte <![CDATA[ x ]]>' }],
    };
    const file = join(tmp(), 'junit.xml');
    writeFileSync(file, renderJunit(report));
    expect(validate(file).code).toBe(0);
    expect(xpath(file, 'string(//testcase[@name="listener"]/error/@type)')).toBe('ClusterUnreachable');
    expect(xpath(file, 'string(//testcase[@name="listener"]/error/@message)')).toBe(
      'cannot reach <api> & "server" red \\u0007 ]]>',
    ); // controls are shown escaped, never raw
    expect(readFileSync(file, 'utf8')).not.toMatch(/\u001b|\u0000|\u0007/);
  });

  it('is checked by a validator that does reject a testsuite without its required attributes', () => {
    const file = join(tmp(), 'bad.xml');
    writeFileSync(
      file,
      '<?xml version="1.0"?>\n<testsuites><testsuite name="x"><testcase name="dns"/></testsuite></testsuites>\n',
    );
    const v = validate(file);
    expect(v.code).not.toBe(0);
    expect(v.stderr).toMatch(/attribute 'tests' is required/);
  });
});
