// The built CLI as a user meets it: exit codes, stdout that is only JSON with -o json, one-line errors.

import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import { CLI, ROOT, gwdoctor, validateReport } from '../helpers/cli.js';
import { scenarios, scenarioPath } from '../helpers/fixtures.js';
import { tempDir } from '../helpers/tmp.js';

function expectOneLineError(stderr: string, pattern: RegExp) {
  const lines = stderr.trim().split('\n');
  expect(lines).toHaveLength(1);
  expect(lines[0]).toMatch(/^gwdoctor: /);
  expect(lines[0]).toMatch(pattern);
  expect(stderr).not.toMatch(/\n\s+at /); // no stack trace
}

describe('the bundled example (README quick start)', () => {
  it('exits 0 and reports every cluster layer as passed for api.example.com on the healthy seed cluster', () => {
    const r = gwdoctor(['--manifests', 'fixtures/seed-healthy', '--offline', 'api.example.com']);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/✔ listener/);
    expect(r.stdout).toMatch(/✔ endpoints Service example-api\/example-api:3000/);
    expect(r.stdout).toMatch(/- dns +not checked: --offline/);
    expect(r.stderr).toBe('');
  });

  it('prints only a schema-valid JSON report on stdout with -o json', () => {
    const r = gwdoctor([
      '--manifests',
      'fixtures/seed-healthy',
      '--offline',
      '-o',
      'json',
      'api.example.com',
      'https://worker.example.com/x',
    ]);
    expect(r.code).toBe(0);
    const report = JSON.parse(r.stdout);
    expect(validateReport(report), JSON.stringify(validateReport.errors)).toBe(true);
    expect(report.targets.map((t: { verdict: string }) => t.verdict)).toEqual(['pass', 'pass']);
    expect(report.source).toMatchObject({ mode: 'manifests', offline: true });
  });
});

describe('every scenario through the CLI with -o json', () => {
  for (const s of scenarios()) {
    const c = s.cases[0]!;
    it(`${s.name}: ${c.target} exits ${c.verdict === 'fail' ? 1 : c.verdict === 'error' ? 2 : 0} with ${c.layer ?? 'no layer'} ${c.code ?? ''}`, () => {
      const target = c.target.startsWith('internal:') ? ['--internal', c.target.slice('internal:'.length)] : [c.target]; // fixtures/README.md
      const r = gwdoctor(['--manifests', s.dir, '--offline', '-o', 'json', ...target]);
      expect(r.code).toBe(c.verdict === 'fail' ? 1 : c.verdict === 'error' ? 2 : 0);
      const report = JSON.parse(r.stdout);
      expect(validateReport(report), JSON.stringify(validateReport.errors)).toBe(true);
      const t = report.targets[0];
      expect(t.verdict).toBe(c.verdict);
      if (c.verdict === 'fail' || c.verdict === 'error') expect(t.failedLayer).toBe(c.layer);
    });
  }
});

describe('bad input exits 3 with one clear line and no stack trace', () => {
  it('rejects an unknown flag', () => {
    const r = gwdoctor(['--frobnicate', 'api.example.com']);
    expect(r.code).toBe(3);
    expectOneLineError(r.stderr, /Unknown option '--frobnicate'/);
  });
  it('rejects http:// and says to use https://', () => {
    const r = gwdoctor(['--offline', '--manifests', 'fixtures/seed-healthy', 'http://api.example.com/']);
    expect(r.code).toBe(3);
    expectOneLineError(r.stderr, /unsupported scheme "http:\/\/".*use https:\/\/api\.example\.com\//);
  });
  it('rejects a hostname with a space', () => {
    const r = gwdoctor(['--offline', '--manifests', 'fixtures/seed-healthy', 'exa mple.com']);
    expect(r.code).toBe(3);
    expectOneLineError(r.stderr, /cannot contain spaces/);
  });
  it.each([['-bad.example.com'], ['api..example.com'], ['localhost'], ['10.0.0.1'], ['api.example.com:99999']])(
    'rejects the malformed target %s',
    (t) => {
      const r = gwdoctor(['--offline', '--manifests', 'fixtures/seed-healthy', '--', t]);
      expect(r.code).toBe(3);
      expectOneLineError(r.stderr, /invalid|not a hostname|IP address/);
    },
  );
  it('names file and line of invalid YAML in a --manifests directory', () => {
    const dir = tempDir('gwd-');
    mkdirSync(join(dir, 'nested'));
    writeFileSync(
      join(dir, 'nested', 'broken.yaml'),
      'apiVersion: v1\nkind: Service\nmetadata:\n  name: x\n   bad: [\n',
    );
    const r = gwdoctor(['--offline', '--manifests', dir, 'api.example.com']);
    expect(r.code).toBe(3);
    expectOneLineError(r.stderr, /broken\.yaml:\d+:\d+: invalid YAML/);
  });
  it('rejects a --manifests path that does not exist', () => {
    const r = gwdoctor(['--offline', '--manifests', 'no/such/dir', 'api.example.com']);
    expect(r.code).toBe(3);
    expectOneLineError(r.stderr, /no such file or directory/);
  });
  it('rejects a --kubeconfig that does not exist', () => {
    const r = gwdoctor(['--kubeconfig', '/nonexistent/kubeconfig', 'api.example.com']);
    expect(r.code).toBe(3);
    expectOneLineError(r.stderr, /--kubeconfig \/nonexistent\/kubeconfig: no such file/);
  });
  it('rejects a kubeconfig that is not valid YAML', () => {
    const dir = tempDir('gwd-');
    writeFileSync(join(dir, 'config'), 'apiVersion: v1\nclusters: [\n');
    const r = gwdoctor(['--offline', '--kubeconfig', join(dir, 'config'), 'api.example.com']);
    expect(r.code).toBe(3);
    expectOneLineError(r.stderr, /cannot load kubeconfig/);
  });
  it('rejects an unknown --context and lists the ones there are', () => {
    const dir = tempDir('gwd-');
    writeFileSync(join(dir, 'config'), kubeconfig('https://127.0.0.1:1'));
    const r = gwdoctor(['--offline', '--kubeconfig', join(dir, 'config'), '--context', 'nope', 'api.example.com']);
    expect(r.code).toBe(3);
    expectOneLineError(r.stderr, /--context nope: no such context.*have: test/);
  });
  it.each([
    [['--timeout', 'soon']],
    [['--output', 'yaml']],
    [['--gateway', 'just-a-name']],
    [['--gateway', 'istio-ingress/example-istio-gateway:0']],
    [['--gateway', 'istio-ingress/example-istio-gateway:http']],
    [['--expect-ip', 'not-an-ip']],
    [['--resolver', 'dns.example.com']],
  ])('rejects the bad flag value %j', (flags) => {
    const r = gwdoctor([...flags, '--offline', 'api.example.com']);
    expect(r.code).toBe(3);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
  });
  it('judges the Gateway port given with --gateway NS/NAME:PORT (exit 1 on the broken port, 0 on the other)', () => {
    const on = (port: number) =>
      gwdoctor([
        '--manifests',
        scenarioPath('listener-ports'),
        '--offline',
        '--gateway',
        `istio-ingress/example-istio-gateway:${port}`,
        'api.example.com',
      ]);
    expect(on(8080).code).toBe(1);
    expect(on(80).code).toBe(0);
  });
  it('asks for a target when none is given', () => {
    const r = gwdoctor([]);
    expect(r.code).toBe(3);
    expectOneLineError(r.stderr, /no target given/);
  });
});

describe('cluster access problems are inconclusive (exit 2), said in one line per layer', () => {
  it('without any kubeconfig, skips the cluster layers and says why', () => {
    const r = gwdoctor(['--offline', 'api.example.com'], { KUBECONFIG: '' });
    expect(r.code).toBe(2);
    expect(r.stdout).toMatch(/- listener +not checked: no kubeconfig found/);
    expect(r.stdout).toMatch(/inconclusive: nothing could be checked/);
  });
  it('with an unreachable API server, reports the listener layer as error and never prints credentials', () => {
    const dir = tempDir('gwd-');
    writeFileSync(join(dir, 'config'), kubeconfig('https://127.0.0.1:45123'));
    const r = gwdoctor(['--offline', '--kubeconfig', join(dir, 'config'), '-o', 'json', 'api.example.com']);
    expect(r.code).toBe(2);
    const report = JSON.parse(r.stdout);
    expect(validateReport(report)).toBe(true);
    expect(report.targets[0].failedLayer).toBe('listener');
    expect(report.targets[0].layers[2]).toMatchObject({ status: 'error', code: 'ClusterUnreachable' });
    expect(report.targets[0].layers[2].summary).toMatch(
      /cannot reach the API server https:\/\/127\.0\.0\.1:45123: ECONNREFUSED/,
    );
    expect(r.stdout + r.stderr).not.toContain('s3cr3t-token');
  });
});

describe('--help and --version', () => {
  it('prints help with every flag and the exit codes', () => {
    const r = gwdoctor(['--help']);
    expect(r.code).toBe(0);
    for (const f of [
      '--manifests',
      '--offline',
      '--kubeconfig',
      '--context',
      '--gateway',
      '--output',
      '--timeout',
      '--wait',
      '--no-color',
      '--version',
    ]) {
      expect(r.stdout).toContain(f);
    }
    expect(r.stdout).toMatch(/Exit codes: 0/);
  });
  it('prints the package version', () => {
    const r = gwdoctor(['--version']);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^gwdoctor \d+\.\d+\.\d+\n$/);
  });
});

function kubeconfig(server: string): string {
  return [
    'apiVersion: v1',
    'kind: Config',
    'clusters:',
    '- name: test',
    '  cluster:',
    `    server: ${server}`,
    '    insecure-skip-tls-verify: true',
    'users:',
    '- name: test',
    '  user:',
    '    token: s3cr3t-token',
    'contexts:',
    '- name: test',
    '  context: {cluster: test, user: test}',
    'current-context: test',
    '',
  ].join('\n');
}

describe('the release bundle (dist/bundle, what `bin` points to)', () => {
  it('runs the bundled example and reaches client-node lazily in live mode', () => {
    const ok = gwdoctor(['--manifests', 'fixtures/seed-healthy', '--offline', 'api.example.com'], {}, 'bundle');
    expect(ok.code).toBe(0);
    const dir = tempDir('gwd-');
    writeFileSync(join(dir, 'config'), kubeconfig('https://127.0.0.1:45123'));
    const live = gwdoctor(['--offline', '--kubeconfig', join(dir, 'config'), 'api.example.com'], {}, 'bundle');
    expect(live.code).toBe(2);
    expect(live.stdout).toMatch(/cannot reach the API server/);
  });
});

describe('on a terminal (a real pseudo-terminal via script(1))', () => {
  const hasScript = spawnSync('script', ['--version']).status === 0;
  it.skipIf(!hasScript && process.env['CI'] !== 'true')(
    'draws the task list, one line per layer, then the fix, and keeps the exit code',
    () => {
      const cmd = `stty cols 160 rows 50; NO_COLOR=1 ${JSON.stringify(process.execPath)} ${JSON.stringify(CLI)} --manifests ${scenarioPath('grant-missing')} --offline api.example.com`;
      const r = spawnSync('script', ['-qec', cmd, '/dev/null'], {
        cwd: ROOT,
        encoding: 'utf8',
        env: { PATH: process.env['PATH'] ?? '', TERM: 'xterm', HOME: '/nonexistent-home' },
        timeout: 60_000,
      });
      expect(r.status).toBe(1);
      // Drop cursor movement and redraws; keep what is on screen at the end.
      const screen = r.stdout.replace(/\x1b\[[0-9;?]*[a-zA-Z]/g, '').replace(/\r/g, '');
      expect(screen).toMatch(/↓ dns +not checked: --offline/);
      expect(screen).toMatch(/✔ route +HTTPRoute istio-ingress\/example-api/);
      expect(screen).toMatch(/✖ grant +no ReferenceGrant in namespace example-api/);
      expect(screen).toMatch(/↓ endpoints not checked: grant failed/);
      expect(screen).toMatch(/kind: ReferenceGrant/);
      expect(screen).toMatch(/api\.example\.com\/ fails at grant/);
    },
  );
});
