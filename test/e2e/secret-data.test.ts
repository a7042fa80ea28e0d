// Secret data never leaves gwdoctor: the listener layer reads certificateRefs Secrets (key pairs included, to judge
// them as istiod does), and every output a user or a CI job can get — every -o format, --fix-dir, -v evidence,
// --debug, --all, `gwdoctor diff` — is searched for the key and certificate material of the fixtures' Secrets.

import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { FORMATS } from '../../src/report/formats.js';
import { gwdoctor, ROOT } from '../helpers/cli.js';
import { scenarioDir, scenarioPath } from '../helpers/fixtures.js';
import { tempDir } from '../helpers/tmp.js';

const CERTS = join(ROOT, 'fixtures', '_certs');

/** What must never appear: each PEM's base64 body lines, the PEMs themselves, and the Secrets' base64 data values. */
function material(): string[] {
  const out = new Set<string>();
  for (const f of readdirSync(CERTS).filter((n) => n.endsWith('.pem') && n !== 'ca.pem')) {
    const text = readFileSync(join(CERTS, f), 'utf8');
    for (const line of text.split('\n')) if (/^[A-Za-z0-9+/=]{40,}$/.test(line)) out.add(line);
    out.add(Buffer.from(text).toString('base64').slice(0, 60)); // the start of the Secret's data value
  }
  out.add('PRIVATE KEY');
  out.add('BEGIN CERTIFICATE');
  return [...out];
}

function everything(dir: string): string {
  let all = '';
  const walk = (d: string) => {
    for (const n of readdirSync(d)) {
      const p = join(d, n);
      if (statSync(p).isDirectory()) walk(p);
      else all += `\n== ${p}\n${readFileSync(p, 'utf8')}`;
    }
  };
  walk(dir);
  return all;
}

const SCENARIOS = [
  'listener-https-cert-valid',
  'listener-https-cert-foreign-ns',
  'listener-https-cert-key-mismatch',
  'listener-https-cert-other-host',
  'listener-https-cert-expired',
  'listener-https-cert-wrong-type',
];

describe('no Secret data in any output', () => {
  const secrets = material();
  it('the searched material is really in the fixtures (the test can fail)', () => {
    const fixture = readFileSync(join(scenarioDir('listener-https-cert-valid'), 'cluster.yaml'), 'utf8');
    expect(secrets.filter((s) => s.length === 60).some((s) => fixture.includes(s))).toBe(true);
  });

  it.each(SCENARIOS)('%s: every -o format, --fix-dir, -v and --debug', (name) => {
    const dir = tempDir('gwd-secret-');
    const outs = FORMATS.filter((f) => f !== 'text').flatMap((f) => ['-o', `${f}=${join(dir, `report.${f}`)}`]);
    const r = gwdoctor(
      [
        '--manifests',
        scenarioPath(name),
        '--offline',
        '-v',
        '--debug',
        '--fix-dir',
        join(dir, 'fixes'),
        '-o',
        'text',
        ...outs,
        'api.example.com',
        'worker.example.com',
      ],
      { GITHUB_ACTIONS: 'true' },
    );
    expect([0, 1]).toContain(r.code);
    const text = `${r.stdout}\n${r.stderr}\n${everything(dir)}`;
    expect(text).toMatch(/listener/); // the outputs were written
    for (const s of secrets) expect(text.includes(s), `output contains ${s.slice(0, 24)}...`).toBe(false);
  });

  it('--all and gwdoctor diff likewise', () => {
    const all = gwdoctor([
      '--manifests',
      scenarioPath('listener-https-cert-foreign-ns'),
      '--offline',
      '--all',
      '-v',
      '-o',
      'json',
    ]);
    const diff = gwdoctor([
      'diff',
      '--base',
      scenarioPath('listener-https-cert-valid'),
      '--head',
      scenarioPath('listener-https-cert-key-mismatch'),
      '-o',
      'json',
    ]);
    expect(all.stdout).toMatch(/ReferenceGrantMissing/);
    expect(diff.stdout).toMatch(/ListenerCertificateRefInvalid/);
    for (const s of secrets) expect(`${all.stdout}${all.stderr}${diff.stdout}${diff.stderr}`.includes(s)).toBe(false);
  });
});
