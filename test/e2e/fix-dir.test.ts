// --fix-dir writes every printed fix as a file a person (or a CI job) applies with kubectl, the same fix as in the
// JSON report.

import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse } from 'yaml';
import { describe, expect, it } from 'vitest';
import { gwdoctor } from '../helpers/cli.js';
import { FIXTURES, scenarioDir } from '../helpers/fixtures.js';
import { tempDir } from '../helpers/tmp.js';

const MANIFEST = '.gwdoctor-fixes.json';
/** The fix files (without gwdoctor's record of them). */
const fixFiles = (dir: string) =>
  readdirSync(dir)
    .filter((f) => f !== MANIFEST)
    .sort();

describe('--fix-dir', () => {
  it("writes an apply fix as YAML for kubectl apply -f, identical to the JSON report's object", () => {
    const dir = tempDir('gwdoctor-fixes-');
    const r = gwdoctor([
      '-f',
      scenarioDir('grant-missing'),
      '--offline',
      '-o',
      'json',
      '--fix-dir',
      dir,
      'api.example.com',
    ]);
    expect(r.code).toBe(1);
    const files = fixFiles(dir);
    expect(files).toEqual(['01-api.example.com-grant-ReferenceGrantMissing.yaml']);
    const fix = JSON.parse(r.stdout).targets[0].layers[4].fix;
    expect(parse(readFileSync(join(dir, files[0] as string), 'utf8'))).toEqual(fix.object);
  });
  it('writes a patch fix as the patch and a script that runs kubectl patch --patch-file with it', () => {
    const dir = tempDir('gwdoctor-fixes-');
    const r = gwdoctor([
      '-f',
      scenarioDir('service-port-mismatch'),
      '--offline',
      '-o',
      'json',
      '--fix-dir',
      dir,
      'api.example.com',
    ]);
    expect(r.code).toBe(1);
    const files = fixFiles(dir);
    expect(files).toEqual([
      '01-api.example.com-endpoints-ServicePortMismatch.patch.json',
      '01-api.example.com-endpoints-ServicePortMismatch.sh',
    ]);
    const fix = JSON.parse(r.stdout).targets[0].layers[5].fix;
    expect(JSON.parse(readFileSync(join(dir, files[0] as string), 'utf8'))).toEqual(fix.patch);
    const sh = readFileSync(join(dir, files[1] as string), 'utf8');
    expect(sh).toContain(
      'kubectl -n istio-ingress patch httproutes.gateway.networking.k8s.io example-api --type=json --patch-file 01-api.example.com-endpoints-ServicePortMismatch.patch.json',
    );
  });
  it('writes nothing when every host passes', () => {
    const dir = tempDir('gwdoctor-fixes-');
    expect(
      gwdoctor(['-f', join(FIXTURES, 'seed-healthy'), '--offline', '--fix-dir', dir, 'api.example.com']).code,
    ).toBe(0);
    expect(readdirSync(dir)).toEqual([]);
  });

  describe('holds the fixes of the latest run only', () => {
    const adminRoute = '01-admin.example.com-route-NoRouteForHost.yaml';
    const grant = '01-api.example.com-grant-ReferenceGrantMissing.yaml';
    it("removes the fixes an earlier run wrote (a route publishing a host that must stay internal) and keeps the user's own files", () => {
      const dir = tempDir('gwdoctor-fixes-');
      writeFileSync(join(dir, 'README.txt'), 'mine');
      writeFileSync(join(dir, '99-mine.yaml'), 'kind: ConfigMap\n');
      expect(
        gwdoctor(['-f', join(FIXTURES, 'seed-healthy'), '--offline', '--fix-dir', dir, 'admin.example.com']).code,
      ).toBe(1);
      expect(fixFiles(dir)).toEqual([adminRoute, '99-mine.yaml', 'README.txt']);
      const r = gwdoctor([
        '-f',
        scenarioDir('grant-missing'),
        '--offline',
        '--fix-dir',
        dir,
        'api.example.com',
        '--internal',
        'admin.example.com',
      ]);
      expect(r.code).toBe(1);
      expect(fixFiles(dir)).toEqual([grant, '99-mine.yaml', 'README.txt']);
      expect(r.stderr).toBe('');
      // A run without fixes leaves no fix and no record of one.
      expect(
        gwdoctor(['-f', join(FIXTURES, 'seed-healthy'), '--offline', '--fix-dir', dir, 'api.example.com']).code,
      ).toBe(0);
      expect(readdirSync(dir).sort()).toEqual(['99-mine.yaml', 'README.txt']);
    });
    it("renames (never removes) an earlier fix someone edited, out of kubectl apply -f DIR's way, and says so", () => {
      const dir = tempDir('gwdoctor-fixes-');
      gwdoctor(['-f', join(FIXTURES, 'seed-healthy'), '--offline', '--fix-dir', dir, 'admin.example.com']);
      const edited = `${readFileSync(join(dir, adminRoute), 'utf8')}# reviewed by me\n`;
      writeFileSync(join(dir, adminRoute), edited);
      const r = gwdoctor(['-f', scenarioDir('grant-missing'), '--offline', '--fix-dir', dir, 'api.example.com']);
      expect(fixFiles(dir)).toEqual([`${adminRoute}.stale`, grant]);
      expect(readFileSync(join(dir, `${adminRoute}.stale`), 'utf8')).toBe(edited);
      expect(r.stderr).toContain(
        `${adminRoute}, a fix of an earlier run, was edited since; renamed to ${adminRoute}.stale`,
      );
    });
    it('removes nothing a forged record names outside the directory or under another name', () => {
      const root = tempDir('gwdoctor-fixes-');
      const dir = join(root, 'fixes');
      mkdirSync(dir);
      const victim = 'kind: Secret\n';
      writeFileSync(join(root, 'victim.yaml'), victim);
      writeFileSync(join(dir, 'notes.yaml'), victim);
      const sha = createHash('sha256').update(victim).digest('hex');
      writeFileSync(
        join(dir, MANIFEST),
        JSON.stringify({
          files: [
            { name: '../victim.yaml', sha256: sha },
            { name: 'notes.yaml', sha256: sha },
          ],
        }),
      );
      gwdoctor(['-f', scenarioDir('grant-missing'), '--offline', '--fix-dir', dir, 'api.example.com']);
      expect(existsSync(join(root, 'victim.yaml'))).toBe(true);
      expect(fixFiles(dir)).toEqual([grant, 'notes.yaml']);
    });
  });
});
