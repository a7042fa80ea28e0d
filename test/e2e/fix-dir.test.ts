// --fix-dir writes every printed fix as a file a person (or a CI job) applies with kubectl, the same fix as in the
// JSON report.

import { mkdtempSync, readdirSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse } from 'yaml';
import { describe, expect, it } from 'vitest';
import { gwdoctor } from '../helpers/cli.js';
import { FIXTURES } from '../helpers/fixtures.js';

describe('--fix-dir', () => {
  it('writes an apply fix as YAML for kubectl apply -f, identical to the JSON report\'s object', () => {
    const dir = mkdtempSync(join(tmpdir(), 'gwdoctor-fixes-'));
    const r = gwdoctor(['-f', join(FIXTURES, 'grant-missing'), '--offline', '-o', 'json', '--fix-dir', dir, 'api.example.com']);
    expect(r.code).toBe(1);
    const files = readdirSync(dir);
    expect(files).toEqual(['01-api.example.com-grant-ReferenceGrantMissing.yaml']);
    const fix = JSON.parse(r.stdout).targets[0].layers[4].fix;
    expect(parse(readFileSync(join(dir, files[0] as string), 'utf8'))).toEqual(fix.object);
  });
  it('writes a patch fix as the patch and a script that runs kubectl patch --patch-file with it', () => {
    const dir = mkdtempSync(join(tmpdir(), 'gwdoctor-fixes-'));
    const r = gwdoctor(['-f', join(FIXTURES, 'service-port-mismatch'), '--offline', '-o', 'json', '--fix-dir', dir, 'api.example.com']);
    expect(r.code).toBe(1);
    const files = readdirSync(dir).sort();
    expect(files).toEqual(['01-api.example.com-endpoints-ServicePortMismatch.patch.json', '01-api.example.com-endpoints-ServicePortMismatch.sh']);
    const fix = JSON.parse(r.stdout).targets[0].layers[5].fix;
    expect(JSON.parse(readFileSync(join(dir, files[0] as string), 'utf8'))).toEqual(fix.patch);
    const sh = readFileSync(join(dir, files[1] as string), 'utf8');
    expect(sh).toContain('kubectl -n istio-ingress patch httproutes.gateway.networking.k8s.io example-api --type=json --patch-file 01-api.example.com-endpoints-ServicePortMismatch.patch.json');
  });
  it('writes nothing when every host passes', () => {
    const dir = mkdtempSync(join(tmpdir(), 'gwdoctor-fixes-'));
    expect(gwdoctor(['-f', join(FIXTURES, 'seed-healthy'), '--offline', '--fix-dir', dir, 'api.example.com']).code).toBe(0);
    expect(readdirSync(dir)).toEqual([]);
  });
});
