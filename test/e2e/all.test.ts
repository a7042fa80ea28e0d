// --all: every hostname of every HTTPRoute attached to the Gateway(s), one report, a summary table failures first.

import { describe, expect, it } from 'vitest';
import { gwdoctor, validateReport } from '../helpers/cli.js';
import { scenarioPath } from '../helpers/fixtures.js';

describe('--all', () => {
  it('checks every route hostname on the Gateway and ends the text output with a summary table, failures first', () => {
    const r = gwdoctor(['--manifests', scenarioPath('grant-missing'), '--offline', '--all']);
    expect(r.code).toBe(1);
    const table = r.stdout.slice(r.stdout.indexOf('summary:')).split('\n');
    expect(table.slice(0, 4)).toEqual([
      'summary: 2 hosts, 1 not reaching the backend',
      '  HOST                 VERDICT  LAYER  CODE',
      '  api.example.com/     fail     grant  ReferenceGrantMissing',
      '  worker.example.com/  pass     -      -',
    ]);
    expect(r.stderr).toBe('');
  });

  it('puts every host into one schema-valid JSON report', () => {
    const r = gwdoctor(['--manifests', scenarioPath('grant-missing'), '--offline', '--all', '-o', 'json']);
    const report = JSON.parse(r.stdout);
    expect(validateReport(report)).toBe(true);
    expect(report.targets.map((t: { host: string; verdict: string }) => `${t.host} ${t.verdict}`)).toEqual([
      'api.example.com fail',
      'worker.example.com pass',
    ]);
  });

  it('checks a host the user names once, with its path, and adds the others', () => {
    const r = gwdoctor([
      '--manifests',
      scenarioPath('grant-missing'),
      '--offline',
      '--all',
      '-o',
      'json',
      'https://api.example.com/health',
    ]);
    const report = JSON.parse(r.stdout);
    expect(report.targets.map((t: { host: string; path: string }) => `${t.host}${t.path}`)).toEqual([
      'api.example.com/health',
      'worker.example.com/',
    ]);
  });

  it('lists a wildcard hostname as not checked, unless a named host exercises it', () => {
    const r = gwdoctor(['--manifests', scenarioPath('route-wildcard-shadowed'), '--offline', '--all', '-o', 'json']);
    expect(r.stderr).toMatch(
      /^gwdoctor: --all: \*\.example\.com \(HTTPRoute istio-ingress\/example-docs\) is a wildcard and was not checked; name a host it covers/,
    );
    expect(JSON.parse(r.stdout).targets.map((t: { host: string }) => t.host)).not.toContain('*.example.com');
    const named = gwdoctor([
      '--manifests',
      scenarioPath('route-wildcard-shadowed'),
      '--offline',
      '--all',
      '-o',
      'json',
      'https://docs.example.com/docs',
    ]);
    expect(named.stderr).toBe('');
    const t = JSON.parse(named.stdout).targets.find((x: { host: string }) => x.host === 'docs.example.com');
    expect(t.verdict).toBe('pass');
  });

  it('with --gateway, takes only the routes of that Gateway, and names a Gateway that does not exist (exit 3)', () => {
    const ok = gwdoctor([
      '--manifests',
      scenarioPath('grant-missing'),
      '--offline',
      '--all',
      '--gateway',
      'istio-ingress/example-istio-gateway',
      '-o',
      'json',
    ]);
    expect(JSON.parse(ok.stdout).targets).toHaveLength(2);
    const r = gwdoctor([
      '--manifests',
      scenarioPath('grant-missing'),
      '--offline',
      '--all',
      '--gateway',
      'istio-ingress/nope',
    ]);
    expect(r.code).toBe(3);
    expect(r.stderr.trim()).toBe('gwdoctor: --all: Gateway istio-ingress/nope not found');
  });

  it('needs a cluster source (exit 3, one line)', () => {
    const r = gwdoctor(['--offline', '--all']);
    expect(r.code).toBe(3);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    expect(r.stderr).toMatch(
      /^gwdoctor: --all needs a cluster source to list the routes: .*--manifests or --kubeconfig/,
    );
  });
});
