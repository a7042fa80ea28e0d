// -o as a CI job uses it: several formats in one run, one on stdout, the others in files.

import { readFileSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { gwdoctor, validateReport } from '../helpers/cli.js';
import { scenarioPath } from '../helpers/fixtures.js';
import { tempDir } from '../helpers/tmp.js';

const tmp = () => tempDir('gwd-out-');
const GRANT_MISSING = ['--manifests', scenarioPath('grant-missing'), '--offline'];

function expectOneLineError(stderr: string, pattern: RegExp) {
  const lines = stderr.trim().split('\n');
  expect(lines).toHaveLength(1);
  expect(lines[0]).toMatch(/^gwdoctor: /);
  expect(lines[0]).toMatch(pattern);
}

describe('-o FORMAT=FILE, repeatable', () => {
  it('prints text on the console and writes the schema-valid JSON report to a file in the same run', () => {
    const dir = tmp();
    const file = join(dir, 'report.json');
    const r = gwdoctor([...GRANT_MISSING, '-o', 'text', '-o', `json=${file}`, 'api.example.com', 'worker.example.com']);
    expect(r.code).toBe(1);
    expect(r.stdout).toMatch(/✖ grant +no ReferenceGrant/);
    expect(r.stdout).toMatch(/worker\.example\.com\/ reaches its backend/);
    expect(r.stdout).not.toMatch(/"schemaVersion"/);
    const report = JSON.parse(readFileSync(file, 'utf8'));
    expect(validateReport(report), JSON.stringify(validateReport.errors)).toBe(true);
    expect(report.targets.map((t: { host: string; verdict: string }) => `${t.host} ${t.verdict}`)).toEqual([
      'api.example.com fail',
      'worker.example.com pass',
    ]);
  });

  it('keeps text on stdout when every format goes to a file', () => {
    const file = join(tmp(), 'r.json');
    const r = gwdoctor([...GRANT_MISSING, '-o', `json=${file}`, 'worker.example.com']);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/✔ endpoints/);
    expect(JSON.parse(readFileSync(file, 'utf8')).targets[0].verdict).toBe('pass');
  });

  it('puts only the JSON report on stdout when json goes there and text goes to a file', () => {
    const file = join(tmp(), 'r.txt');
    const r = gwdoctor([...GRANT_MISSING, '-o', 'json', '-o', `text=${file}`, 'api.example.com']);
    expect(r.code).toBe(1);
    expect(JSON.parse(r.stdout).targets[0].failedLayer).toBe('grant');
    const text = readFileSync(file, 'utf8');
    expect(text).toMatch(/api\.example\.com\/ fails at grant/);
    expect(text).not.toMatch(/\u001b\[/); // no colour codes in a file
  });
});

describe('bad -o values exit 3 with one line, before anything runs', () => {
  it('names the unknown format and lists the formats', () => {
    const r = gwdoctor([...GRANT_MISSING, '-o', 'yaml', 'api.example.com']);
    expect(r.code).toBe(3);
    expectOneLineError(r.stderr, /unknown format "yaml" \(formats: text, json/);
  });
  it('refuses two formats on stdout', () => {
    const r = gwdoctor([...GRANT_MISSING, '-o', 'text', '-o', 'json', 'api.example.com']);
    expect(r.code).toBe(3);
    expectOneLineError(r.stderr, /only one format can go to stdout \(text and json\).*-o json=FILE/);
  });
  it('refuses an empty file name and the same file twice', () => {
    expectOneLineError(gwdoctor([...GRANT_MISSING, '-o', 'json=', 'api.example.com']).stderr, /no file after "="/);
    const r = gwdoctor([...GRANT_MISSING, '-o', 'json=a.out', '-o', 'text=a.out', 'api.example.com']);
    expect(r.code).toBe(3);
    expectOneLineError(r.stderr, /a\.out is given twice/);
  });
  it('names a file it cannot write, and writes nothing else', () => {
    const dir = tmp();
    const r = gwdoctor([...GRANT_MISSING, '-o', `json=${join(dir, 'missing-dir', 'r.json')}`, 'api.example.com']);
    expect(r.code).toBe(3);
    expectOneLineError(r.stderr, /cannot write .*missing-dir\/r\.json: ENOENT/);
    expect(r.stdout).toBe('');
    expect(existsSync(join(dir, 'missing-dir'))).toBe(false);
  });
});
