// A CI gate you can trust (issue 10), through the built CLI: no credential in any output mode, user input never
// reaches exit 70, exec credential plugins are bounded by the deadline and reported as what they are.

import { chmodSync, readFileSync, writeFileSync } from 'node:fs';
import { spawn, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { CLI, ROOT, gwdoctor, gwdoctorAsync, validateReport } from '../helpers/cli.js';
import { scenarioPath } from '../helpers/fixtures.js';
import { tempDir } from '../helpers/tmp.js';

const tmp = () => tempDir('gwd-hard-');

function expectOneLineError(r: { code: number | null; stderr: string }, pattern: RegExp) {
  expect(r.code, r.stderr).toBe(3);
  const lines = r.stderr.trim().split('\n');
  expect(lines).toHaveLength(1);
  expect(lines[0]).toMatch(/^gwdoctor: /);
  expect(lines[0]).toMatch(pattern);
  expect(r.stderr).not.toMatch(/\n\s+at /);
}

// ---- planted secrets -------------------------------------------------------------------------------------------
const PASSWORD = 'Pl4ntedPassw0rd';
const TOKEN = 'Pl4ntedT0kenValue123';
const KEY_DATA = 'UGxhbnRlZENsaWVudEtleURhdGE=';
const SECRETS = [PASSWORD, TOKEN, KEY_DATA];

function plantedKubeconfig(dir: string): string {
  const file = join(dir, 'config');
  writeFileSync(
    file,
    [
      'apiVersion: v1',
      'kind: Config',
      'clusters:',
      '- name: test',
      '  cluster:',
      `    server: https://gwuser:${PASSWORD}@127.0.0.1:1`,
      '    insecure-skip-tls-verify: true',
      'users:',
      '- name: test',
      '  user:',
      `    token: ${TOKEN}`,
      '- name: other',
      '  user:',
      `    client-key-data: ${KEY_DATA}`,
      'contexts:',
      '- name: test',
      '  context: {cluster: test, user: test}',
      'current-context: test',
      '',
    ].join('\n'),
  );
  return file;
}

function expectNoSecret(out: string) {
  for (const s of SECRETS) expect(out, `planted secret ${s} leaked`).not.toContain(s);
}

describe('no credential in any output mode (planted secrets)', () => {
  const dir = tmp();
  const kc = plantedKubeconfig(dir);
  const modes: [string, string[]][] = [
    ['text', []],
    ['text -v', ['-v']],
    ['json', ['-o', 'json']],
    ['--debug', ['--debug']],
    ['json --debug -v', ['-o', 'json', '--debug', '-v']],
  ];
  for (const [name, extra] of modes) {
    it(`kubeconfig server https://user:pass@host and token stay out of ${name} output`, () => {
      const r = gwdoctor(['--offline', '--kubeconfig', kc, '--timeout', '10s', ...extra, 'api.example.com']);
      expect(r.code, r.stderr).toBe(2);
      expectNoSecret(r.stdout + r.stderr);
      if (extra.includes('json')) {
        const report = JSON.parse(r.stdout);
        expect(validateReport(report), JSON.stringify(validateReport.errors)).toBe(true);
        expect(report.source.server).toBe('https://***@127.0.0.1:1');
      } else {
        expect(r.stdout).toMatch(/source: cluster test \(https:\/\/\*\*\*@127\.0\.0\.1:1\)/);
      }
    });
  }

  it('the interactive view (a real pseudo-terminal) shows no planted secret either', () => {
    if (spawnSync('script', ['--version']).status !== 0 && process.env['CI'] !== 'true') return;
    const cmd = `stty cols 160 rows 50; NO_COLOR=1 ${JSON.stringify(process.execPath)} ${JSON.stringify(CLI)} --offline --kubeconfig ${kc} --timeout 10s api.example.com`;
    const r = spawnSync('script', ['-qec', cmd, '/dev/null'], {
      cwd: ROOT,
      encoding: 'utf8',
      env: { PATH: process.env['PATH'] ?? '', TERM: 'xterm', HOME: '/nonexistent-home' },
      timeout: 60_000,
    });
    expect(r.status).toBe(2);
    expect(r.stdout).toMatch(/\*\*\*@127\.0\.0\.1:1/);
    expectNoSecret(r.stdout + r.stderr);
  });

  it.each([
    [`https://gwuser:${PASSWORD}@api.example.com/`],
    [`http://gwuser:${PASSWORD}@api.example.com/`],
    [`gwuser:${PASSWORD}@api.example.com`],
    [`https://api.example.com/x?token=${TOKEN}&a b`],
  ])('a target %s is rejected without echoing the credential', (target) => {
    const r = gwdoctor(['--offline', '--manifests', 'fixtures/seed-healthy', target]);
    expect(r.code).toBe(3);
    expectNoSecret(r.stdout + r.stderr);
  });

  it("a token in a target's query string stays out of the JSON report", () => {
    const r = gwdoctor([
      '--offline',
      '--manifests',
      'fixtures/seed-healthy',
      '-o',
      'json',
      `https://api.example.com/health?token=${TOKEN}`,
    ]);
    expect(r.code).toBe(0);
    expectNoSecret(r.stdout + r.stderr);
    expect(JSON.parse(r.stdout).targets[0].input).toBe('https://api.example.com/health?token=***');
  });
});

// ---- user input never reaches exit 70 --------------------------------------------------------------------------
describe('--ca-file is checked up front (exit 3), also with --offline', () => {
  const dir = tmp();
  it('a missing file', () => {
    expectOneLineError(
      gwdoctor([
        '--offline',
        '--manifests',
        'fixtures/seed-healthy',
        '--ca-file',
        join(dir, 'nope.pem'),
        'api.example.com',
      ]),
      /--ca-file .*nope\.pem: no such file/,
    );
  });
  it.each([
    ['/etc/passwd', () => '/etc/passwd'],
    [
      'a private key',
      () => {
        const f = join(dir, 'key.pem');
        writeFileSync(
          f,
          `-----BEGIN PRIVATE KEY-----\n${randomBytes(64).toString('base64')}\n-----END PRIVATE KEY-----\n`,
        );
        return f;
      },
    ],
    [
      'an empty file',
      () => {
        const f = join(dir, 'empty.pem');
        writeFileSync(f, '');
        return f;
      },
    ],
  ])('%s: "no certificate in FILE"', (_name, make) => {
    const f = make();
    const r = gwdoctor(['--offline', '--manifests', 'fixtures/seed-healthy', '--ca-file', f, 'api.example.com']);
    expectOneLineError(r, new RegExp(`no certificate in ${f.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')}`));
  });
  it('a directory', () => {
    expectOneLineError(
      gwdoctor(['--offline', '--manifests', 'fixtures/seed-healthy', '--ca-file', dir, 'api.example.com']),
      /is a directory/,
    );
  });
  it('a real CA certificate is accepted', () => {
    const f = join(dir, 'ca.pem');
    const gen = spawnSync(
      'openssl',
      [
        'req',
        '-x509',
        '-newkey',
        'ec',
        '-pkeyopt',
        'ec_paramgen_curve:P-256',
        '-nodes',
        '-keyout',
        join(dir, 'ca.key'),
        '-out',
        f,
        '-subj',
        '/CN=test-ca',
        '-days',
        '2',
      ],
      { encoding: 'utf8' },
    );
    if (gen.status !== 0 && process.env['CI'] !== 'true') return; // no openssl locally
    const r = gwdoctor(['--offline', '--manifests', 'fixtures/seed-healthy', '--ca-file', f, 'api.example.com']);
    expect(r.code, r.stderr).toBe(0);
  });
});

describe('ports, durations and resolvers: exit 3 naming what was wrong', () => {
  it.each([['api.example.com:0'], ['https://api.example.com:0/']])('port 0 in the target %s', (t) => {
    expectOneLineError(gwdoctor(['--offline', '--manifests', 'fixtures/seed-healthy', t]), /port 0/);
  });
  it('--port 0', () => {
    expectOneLineError(
      gwdoctor(['--offline', '--manifests', 'fixtures/seed-healthy', '--port', '0', 'api.example.com']),
      /--port "0": expected a port number 1-65535/,
    );
  });
  it('--resolver 1.2.3.4:99999 names --resolver, not --port', () => {
    const r = gwdoctor([
      '--offline',
      '--manifests',
      'fixtures/seed-healthy',
      '--resolver',
      '1.2.3.4:99999',
      'api.example.com',
    ]);
    expectOneLineError(r, /--resolver "1\.2\.3\.4:99999": port "99999"/);
    expect(r.stderr).not.toContain('--port');
  });
  it.each([
    ['--timeout', '0'],
    ['--timeout', '0s'],
    ['--timeout', '0ms'],
    ['--wait', '0'],
    ['--wait', '0s'],
  ])('%s %s: refused alike, "must be longer than 0"', (flag, v) => {
    expectOneLineError(
      gwdoctor(['--offline', '--manifests', 'fixtures/seed-healthy', flag, v, 'api.example.com']),
      new RegExp(`${flag} "${v}": must be longer than 0`),
    );
  });
  it.each([
    ['--timeout', '25h'],
    ['--timeout', '99999999999h'],
  ])('%s %s: longer than the 24h maximum', (flag, v) => {
    expectOneLineError(
      gwdoctor(['--offline', '--manifests', 'fixtures/seed-healthy', flag, v, 'api.example.com']),
      /longer than the 24h maximum/,
    );
  });
  it.each([['500ms'], ['1m30s'], ['1.5s'], ['10']])('--timeout %s is a duration', (v) => {
    expect(
      gwdoctor(['--offline', '--manifests', 'fixtures/seed-healthy', '--timeout', v, 'api.example.com']).code,
    ).toBe(0);
  });
  it('an empty --port or --timeout is refused, not ignored', () => {
    expect(gwdoctor(['--offline', '--manifests', 'fixtures/seed-healthy', '--port', '', 'api.example.com']).code).toBe(
      3,
    );
    expect(
      gwdoctor(['--offline', '--manifests', 'fixtures/seed-healthy', '--timeout', '', 'api.example.com']).code,
    ).toBe(3);
  });
});

describe('error lines stay readable', () => {
  const dir = tmp();
  const bin = join(dir, 'blob.bin');
  writeFileSync(bin, randomBytes(200 * 1024));
  it.each([
    ['--kubeconfig', ['--offline', '--kubeconfig', bin]],
    ['--manifests', ['--offline', '--manifests', bin]],
    ['--ca-file', ['--offline', '--manifests', 'fixtures/seed-healthy', '--ca-file', bin]],
  ])('a 200 KB binary file given as %s gives one short printable line', (_flag, args) => {
    const r = gwdoctor([...args, 'api.example.com']);
    expect(r.code).toBe(3);
    const lines = r.stderr.trim().split('\n');
    expect(lines).toHaveLength(1);
    expect(lines[0]!.length).toBeLessThan(600);
    expect(lines[0]).not.toMatch(/[\u0000-\u0008\u000b-\u001f\u007f]/);
  });
});

// ---- exec credential plugins -----------------------------------------------------------------------------------
function execKubeconfig(dir: string, script: string): string {
  const plugin = join(dir, 'plugin.sh');
  writeFileSync(plugin, `#!/bin/sh\n${script}\n`);
  chmodSync(plugin, 0o755);
  const file = join(dir, 'config');
  writeFileSync(
    file,
    [
      'apiVersion: v1',
      'kind: Config',
      'clusters:',
      '- name: test',
      '  cluster: {server: "https://127.0.0.1:1", insecure-skip-tls-verify: true}',
      'users:',
      '- name: test',
      '  user:',
      '    exec:',
      '      apiVersion: client.authentication.k8s.io/v1beta1',
      `      command: ${plugin}`,
      '      interactiveMode: Never',
      'contexts:',
      '- name: test',
      '  context: {cluster: test, user: test}',
      'current-context: test',
      '',
    ].join('\n'),
  );
  return file;
}

/** Running (a zombie left to an init that does not reap counts as gone: it holds no resources and runs nothing). */
function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch {
    return false;
  }
  const stat = spawnSync('cat', [`/proc/${pid}/stat`], { encoding: 'utf8' }).stdout;
  return stat !== '' && !/^\d+ \(.*\) Z /.test(stat);
}

describe('kubeconfig exec credential plugins', () => {
  it('a failing plugin gets its own code and its message, not "cannot reach the API server"', () => {
    const dir = tmp();
    const kc = execKubeconfig(
      dir,
      `echo "error: the SSO session has expired; run aws sso login (token=${TOKEN})" >&2\nexit 1`,
    );
    const r = gwdoctor(['--offline', '-o', 'json', '--kubeconfig', kc, 'api.example.com']);
    expect(r.code, r.stderr).toBe(2);
    const listener = JSON.parse(r.stdout).targets[0].layers[2];
    expect(listener).toMatchObject({ status: 'error', code: 'ClusterCredentialPluginFailed' });
    expect(listener.summary).toMatch(
      /exec credential plugin plugin\.sh exited with status 1: error: the SSO session has expired/,
    );
    expect(listener.summary).not.toMatch(/cannot reach/);
    expectNoSecret(r.stdout + r.stderr);
  });

  it('a plugin that is not installed says so', () => {
    const dir = tmp();
    const kc = join(dir, 'config');
    const text = [
      'apiVersion: v1',
      'kind: Config',
      'clusters: [{name: t, cluster: {server: "https://127.0.0.1:1"}}]',
      'users: [{name: t, user: {exec: {apiVersion: client.authentication.k8s.io/v1beta1, command: gwdoctor-no-such-plugin, interactiveMode: Never}}}]',
      'contexts: [{name: t, context: {cluster: t, user: t}}]',
      'current-context: t',
      '',
    ].join('\n');
    writeFileSync(kc, text);
    const r = gwdoctor(['--offline', '-o', 'json', '--kubeconfig', kc, 'api.example.com']);
    expect(r.code).toBe(2);
    expect(JSON.parse(r.stdout).targets[0].layers[2]).toMatchObject({ code: 'ClusterCredentialPluginFailed' });
    expect(JSON.parse(r.stdout).targets[0].layers[2].summary).toMatch(/"gwdoctor-no-such-plugin" is not installed/);
  });

  it('a plugin that hangs is killed with its whole process group when --timeout passes', async () => {
    const dir = tmp();
    const pidFile = join(dir, 'child.pid');
    const kc = execKubeconfig(dir, `sleep 300 &\necho $! > ${pidFile}\nwait`);
    const t0 = Date.now();
    const r = await gwdoctorAsync([
      '--offline',
      '-o',
      'json',
      '--timeout',
      '2s',
      '--kubeconfig',
      kc,
      'api.example.com',
    ]);
    const took = Date.now() - t0;
    expect(r.code, r.stderr).toBe(2);
    expect(took).toBeLessThan(8000);
    const pid = Number(spawnSync('cat', [pidFile], { encoding: 'utf8' }).stdout.trim());
    expect(pid).toBeGreaterThan(0);
    await new Promise((res) => setTimeout(res, 200));
    expect(alive(pid), `the plugin's child ${pid} outlived the run`).toBe(false);
    expect(JSON.parse(r.stdout).targets[0].layers[2].code).toMatch(/^(Timeout|ClusterCredentialPluginFailed)$/);
  });
});

// ---- signals and the hard deadline -----------------------------------------------------------------------------
/** Start the CLI, send SIGINT after `afterMs`, collect everything. */
function interrupted(
  args: string[],
  afterMs: number,
  signal: NodeJS.Signals = 'SIGINT',
): Promise<{ code: number | null; stdout: string; stderr: string; took: number }> {
  return new Promise((resolve) => {
    const t0 = Date.now();
    const child = spawn(process.execPath, [CLI, ...args], {
      cwd: ROOT,
      env: { PATH: process.env['PATH'] ?? '', HOME: '/nonexistent-home', NO_COLOR: '1' },
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    setTimeout(() => child.kill(signal), afterMs);
    child.on('close', (code) => resolve({ code, stdout, stderr, took: Date.now() - t0 }));
  });
}

describe('Ctrl-C exits 130 in every output mode and prints what was checked so far', () => {
  const hang = () => {
    const dir = tmp();
    return { dir, kc: execKubeconfig(dir, `sleep 300 &\necho $! > ${join(dir, 'child.pid')}\nwait`) };
  };

  it('plain text', async () => {
    const { kc, dir } = hang();
    const r = await interrupted(['--offline', '--timeout', '30s', '--kubeconfig', kc, 'api.example.com'], 1500);
    expect(r.code, r.stderr).toBe(130);
    // Long before the 30 s deadline (the margin absorbs a loaded machine; the deadline path would exit 2, not 130).
    expect(r.took).toBeLessThan(15_000);
    expect(r.stdout).toMatch(/- dns +not checked: --offline/);
    expect(r.stdout).toMatch(/! listener +listener did not finish: interrupted \(Ctrl-C\) \[Interrupted\]/);
    expect(r.stdout).toMatch(/- route +not checked: the run was interrupted/);
    const pid = Number(spawnSync('cat', [join(dir, 'child.pid')], { encoding: 'utf8' }).stdout.trim());
    expect(alive(pid), 'the credential plugin outlived Ctrl-C').toBe(false);
  });

  it('JSON: a schema-valid partial report', async () => {
    const { kc } = hang();
    const r = await interrupted(
      ['--offline', '-o', 'json', '--timeout', '30s', '--kubeconfig', kc, 'api.example.com', 'worker.example.com'],
      1500,
    );
    expect(r.code, r.stderr).toBe(130);
    const report = JSON.parse(r.stdout);
    expect(validateReport(report), JSON.stringify(validateReport.errors)).toBe(true);
    expect(report.targets).toHaveLength(2);
    expect(report.targets[0].layers.map((l: { status: string }) => l.status)).toEqual([
      'skip',
      'skip',
      'error',
      'skip',
      'skip',
      'skip',
      'skip',
      'skip',
    ]);
    expect(report.targets[0].layers[2].code).toBe('Interrupted');
  });

  it('SIGTERM (a cancelled CI job): the same partial report, exit 143', async () => {
    const { kc } = hang();
    const r = await interrupted(
      ['--offline', '-o', 'json', '--timeout', '30s', '--kubeconfig', kc, 'api.example.com'],
      1500,
      'SIGTERM',
    );
    expect(r.code, r.stderr).toBe(143);
    const report = JSON.parse(r.stdout);
    expect(validateReport(report), JSON.stringify(validateReport.errors)).toBe(true);
    expect(report.targets[0].layers[2]).toMatchObject({
      code: 'Interrupted',
      summary: 'listener did not finish: interrupted (SIGTERM)',
    });
  });

  it("the interactive view (listr2 on a real pseudo-terminal) exits 130, not listr2's 127", async () => {
    if (spawnSync('script', ['--version']).status !== 0 && process.env['CI'] !== 'true') return;
    const { kc } = hang();
    const cmd = `stty cols 120 rows 40; NO_COLOR=1 ${JSON.stringify(process.execPath)} ${JSON.stringify(CLI)} --offline --timeout 30s --kubeconfig ${kc} api.example.com`;
    const r = await new Promise<{ code: number | null; out: string }>((resolve) => {
      const c = spawn('script', ['-qec', cmd, '/dev/null'], {
        cwd: ROOT,
        env: { PATH: process.env['PATH'] ?? '', TERM: 'xterm', HOME: '/nonexistent-home' },
      });
      let out = '';
      c.stdout.on('data', (d) => (out += d));
      setTimeout(() => c.stdin.write('\x03'), 2000); // Ctrl-C typed on the terminal
      c.on('close', (code) => resolve({ code, out }));
    });
    expect(r.code).toBe(130);
    const screen = r.out.replace(/\x1b\[[0-9;?]*[a-zA-Z]/g, '').replace(/\r/g, '');
    expect(screen).toMatch(/✖ listener +listener did not finish: interrupted \(Ctrl-C\)/);
    expect(screen).toMatch(/✖ api\.example\.com\//); // the failed target's header: ✖, not ⚠
    expect(screen).not.toMatch(/⚠ api\.example\.com\//);
  });
});

describe('the hard deadline: the run ends by --timeout plus a small grace, whatever it is doing', () => {
  it('a reader that never drains stdout cannot hold the run: exit 2 within --timeout + grace', async () => {
    const targets = Array.from({ length: 100 }, (_, i) => `https://api.example.com/p${i}`);
    const t0 = Date.now();
    const r = await new Promise<{ code: number | null; stderr: string }>((resolve) => {
      const child = spawn(
        process.execPath,
        [CLI, '--manifests', 'fixtures/seed-healthy', '--offline', '-o', 'json', '--timeout', '1s', ...targets],
        { cwd: ROOT, env: { PATH: process.env['PATH'] ?? '', HOME: '/nonexistent-home' } },
      );
      child.stdout.pause(); // nobody reads the ~480 KB report: the pipe fills up
      let stderr = '';
      child.stderr.on('data', (d) => (stderr += d));
      child.on('exit', (code) => resolve({ code, stderr }));
    });
    expect(r.code).toBe(2);
    expect(Date.now() - t0).toBeLessThan(1000 + 2000 + 1500 + 2000);
    expect(r.stderr).toMatch(/did not end within --timeout \(1000 ms\) plus 2000 ms/);
  });
});

describe('a pseudo-terminal with 0 columns', () => {
  it('gets plain lines, not one character per line', () => {
    if (spawnSync('script', ['--version']).status !== 0 && process.env['CI'] !== 'true') return;
    const cmd = `stty cols 0 rows 0; NO_COLOR=1 ${JSON.stringify(process.execPath)} ${JSON.stringify(CLI)} --manifests ${scenarioPath('grant-missing')} --offline api.example.com`;
    const r = spawnSync('script', ['-qec', cmd, '/dev/null'], {
      cwd: ROOT,
      encoding: 'utf8',
      env: { PATH: process.env['PATH'] ?? '', TERM: 'xterm', HOME: '/nonexistent-home' },
      timeout: 60_000,
    });
    expect(r.status).toBe(1);
    const screen = r.stdout.replace(/\x1b\[[0-9;?]*[a-zA-Z]/g, '').replace(/\r/g, '');
    expect(screen).toMatch(/✖ grant +no ReferenceGrant in namespace example-api/);
    const lines = screen.split('\n').filter((l) => l.trim() !== '');
    expect(lines.filter((l) => l.trim().length === 1).length).toBeLessThan(3);
  });
});

describe('a route with a catastrophic regex cannot stall a run', () => {
  it('RegularExpression "/(a+)+b" and a long path: the run ends in time (RE2, linear)', () => {
    const dir = tmp();
    const yaml = readFileSync(join(ROOT, 'fixtures', 'seed-healthy', 'cluster.yaml'), 'utf8');
    const evil = yaml.replace(
      '      matches:\n      - path:\n          type: PathPrefix\n          value: /\n',
      '      matches:\n      - path:\n          type: RegularExpression\n          value: /(a+)+b\n      - path:\n          type: PathPrefix\n          value: /\n',
    );
    expect(evil).not.toBe(yaml);
    writeFileSync(join(dir, 'cluster.yaml'), evil);
    const t0 = Date.now();
    const r = gwdoctor([
      '--manifests',
      dir,
      '--offline',
      '--timeout',
      '5s',
      '-o',
      'json',
      `https://api.example.com/${'a'.repeat(60)}!`,
    ]);
    // A stalled match would end at the 5 s deadline with exit 2; exit 0 with a pass means it finished in time.
    expect(Date.now() - t0).toBeLessThan(15_000);
    expect(r.code, r.stderr).toBe(0);
    expect(JSON.parse(r.stdout).targets[0].verdict).toBe('pass');
  });
});

describe('the hard deadline holds even when the main thread is busy', () => {
  it('a manifests set large enough to keep the parser busy for long: the run is ended soon after --timeout', async () => {
    const dir = tmp();
    const route = (i: number) =>
      `apiVersion: gateway.networking.k8s.io/v1\nkind: HTTPRoute\nmetadata:\n  name: r${i}\n  namespace: istio-ingress\nspec:\n  hostnames: [h${i}.example.com]\n  parentRefs: [{name: example-istio-gateway}]\n  rules:\n  - matches: [{path: {type: PathPrefix, value: /x${i}}}]\n    backendRefs: [{name: svc${i}, port: 80}]\n---\n`;
    writeFileSync(join(dir, 'routes.yaml'), Array.from({ length: 20_000 }, (_, i) => route(i)).join(''));
    const t0 = Date.now();
    const r = await new Promise<{ code: number | null; signal: string | null; stderr: string }>((resolve) => {
      const child = spawn(
        process.execPath,
        [CLI, '--manifests', dir, '--offline', '--timeout', '1s', 'api.example.com'],
        { cwd: ROOT, env: { PATH: process.env['PATH'] ?? '', HOME: '/nonexistent-home' } },
      );
      let stderr = '';
      child.stdout.resume();
      child.stderr.on('data', (d) => (stderr += d));
      child.on('close', (code, signal) => resolve({ code, signal, stderr }));
    });
    const took = Date.now() - t0;
    // Either the run yields and the watchdog ends it (exit 2, the partial report), or the parser holds the main
    // thread and the reaper thread ends the process 5 s later. Never the 20+ s the parse takes.
    expect(took).toBeLessThan(1000 + 2000 + 5000 + 2000);
    if (r.signal === 'SIGKILL') expect(r.stderr).toMatch(/stuck 7000 ms past --timeout and not answering: killed/);
    else expect([1, 2]).toContain(r.code);
  }, 30_000);
});
