// Fuzz: the built CLI as a user (or an attacker) drives it: random targets, flags, kubeconfigs with planted
// credentials, mutated manifests. Invariants: exit code in {0, 1, 2, 3}; no stack trace; no planted secret in stdout
// or stderr; the run ends within its --timeout plus the grace; with -o json (and a run that started) stdout is one
// report that validates against schema/report.v3.json.

import { spawn } from 'node:child_process';
import { chmodSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { CLI, ROOT, validateReport } from '../../helpers/cli.js';
import { fifoWriter, gwdoctorChild, mkfifo } from '../../helpers/stall.js';
import { budget, leaked, SECRETS, timeoutFor } from './budget.js';
import { tempDir } from '../../helpers/tmp.js';

const dir = tempDir('gwd-fuzz-');
const resolv = join(dir, 'resolv.conf');
writeFileSync(resolv, 'nameserver 127.0.0.9\n'); // nothing listens: no real DNS traffic from the fuzz suite

function file(name: string, text: string | Buffer, mode?: number): string {
  const p = join(dir, name);
  writeFileSync(p, text);
  if (mode) chmodSync(p, mode);
  return p;
}

const kc = (server: string, user: string) =>
  [
    'apiVersion: v1',
    'kind: Config',
    `clusters: [{name: c, cluster: {server: "${server}", insecure-skip-tls-verify: true}}]`,
    `users: [{name: u, user: ${user}}, {name: other, user: {client-key-data: ${SECRETS.keyData}, token: ${SECRETS.token}}}]`,
    'contexts: [{name: x, context: {cluster: c, user: u}}]',
    'current-context: x',
    '',
  ].join('\n');

const failing = file(
  'fail.sh',
  `#!/bin/sh\necho "error: expired; token=${SECRETS.token} password=${SECRETS.password}" >&2\nexit 3\n`,
  0o755,
);
const hanging = file('hang.sh', '#!/bin/sh\nsleep 60\n', 0o755);
const garbage = file('garbage.sh', `#!/bin/sh\necho "not json ${SECRETS.token}"\n`, 0o755);
const exec = (cmd: string) =>
  `{exec: {apiVersion: client.authentication.k8s.io/v1beta1, command: ${cmd}, interactiveMode: Never}}`;

const KUBECONFIGS = [
  file('kc-userinfo', kc(`https://admin:${SECRETS.password}@127.0.0.1:1`, `{token: ${SECRETS.token}}`)),
  file('kc-token', kc('https://127.0.0.1:1', `{token: ${SECRETS.token}}`)),
  file('kc-fail', kc('https://127.0.0.1:1', exec(failing))),
  file('kc-hang', kc('https://127.0.0.1:1', exec(hanging))),
  file('kc-garbage', kc('https://127.0.0.1:1', exec(garbage))),
  file('kc-missing-plugin', kc('https://127.0.0.1:1', exec('gwdoctor-fuzz-no-such-plugin'))),
  file('kc-basic', kc('https://127.0.0.1:1', `{username: admin, password: ${SECRETS.password}}`)),
  file('kc-bad-server', kc(`ftp://x:${SECRETS.password}@h`, '{}')),
  file('kc-broken', `apiVersion: v1\nclusters: [\n  token: ${SECRETS.token}\n`),
  file('kc-binary', Buffer.from(Array.from({ length: 4096 }, (_, i) => (i * 7919) % 256))),
  file('kc-empty', ''),
];

// Manifests: the healthy seed, and copies with a few bytes of the YAML changed (truncated, a line dropped or doubled).
const seed = readFileSync(join(ROOT, 'fixtures', 'seed-healthy', 'cluster.yaml'), 'utf8');
const lines = seed.split('\n');
function manifestsDir(i: number, edit: { at: number; how: 'cut' | 'drop' | 'double' | 'secret' }): string {
  const d = join(dir, `m${i}`);
  mkdirSync(d, { recursive: true });
  const at = edit.at % lines.length;
  const out =
    edit.how === 'cut'
      ? seed.slice(0, Math.floor((seed.length * (edit.at % 1000)) / 1000))
      : edit.how === 'drop'
        ? [...lines.slice(0, at), ...lines.slice(at + 1)].join('\n')
        : edit.how === 'double'
          ? [...lines.slice(0, at + 1), ...lines.slice(at)].join('\n')
          : seed.replace(
              'message: Route was valid',
              `message: "https://u:${SECRETS.password}@h token=${SECRETS.token}"`,
            );
  writeFileSync(join(d, 'cluster.yaml'), out);
  return d;
}

const target = fc.oneof(
  fc.constantFrom(
    'api.example.com',
    'worker.example.com',
    'https://api.example.com/health?token=' + SECRETS.token,
    `https://u:${SECRETS.password}@api.example.com/`,
    'api.example.com:0',
    'localhost',
    '-x',
    '',
  ),
  fc.domain(),
  fc.webUrl({ withQueryParameters: true }),
  fc.string({ maxLength: 20 }),
);

const source = fc.oneof(
  fc.constantFrom(...KUBECONFIGS).map((k) => ['--kubeconfig', k]),
  fc
    .record({
      at: fc.nat(),
      how: fc.constantFrom('cut', 'drop', 'double', 'secret') as fc.Arbitrary<'cut' | 'drop' | 'double' | 'secret'>,
    })
    .map((e) => ['--manifests', manifestsDir(Math.floor(Math.random() * 1e9), e)]),
  fc.constant(['--manifests', join(ROOT, 'fixtures', 'seed-healthy')]),
  fc.constant([] as string[]),
);

const extra = fc.subarray(['-v', '--debug', '--no-color', '--offline', '--offline', '--offline'], { maxLength: 3 });
const odd = fc.oneof(
  fc.constant([] as string[]),
  fc.constantFrom(
    ['--port', '0'],
    ['--port', '65536'],
    ['--resolver', '1.2.3.4:99999'],
    ['--timeout', '0s'],
    ['--wait', '1s'],
    ['--ca-file', '/etc/passwd'],
    ['--ca-file', KUBECONFIGS[9]!],
    ['--gateway', 'Bad/Name'],
    ['--expect-ip', 'x'],
    ['--context', 'nope'],
    ['-o', 'yaml'],
    ['--frobnicate'],
  ),
);

interface Outcome {
  code: number | null;
  signal: string | null;
  stdout: string;
  stderr: string;
  ms: number;
}

function runCli(args: string[], killAfterMs: number): Promise<Outcome> {
  return new Promise((resolve) => {
    const t0 = Date.now();
    const child = spawn(process.execPath, [CLI, ...args], {
      cwd: ROOT,
      env: { PATH: process.env['PATH'] ?? '', HOME: '/nonexistent-home', NO_COLOR: '1', GWDOCTOR_RESOLV_CONF: resolv },
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    const kill = setTimeout(() => child.kill('SIGKILL'), killAfterMs);
    child.on('close', (code, signal) => {
      clearTimeout(kill);
      resolve({ code, signal, stdout, stderr, ms: Date.now() - t0 });
    });
  });
}

const GRACE_MS = 2000;

describe('the built CLI under random input', () => {
  const CASES = 24;
  it(
    `${CASES} random command lines: exit 0-3, no stack trace, no secret, in time, valid JSON`,
    async () => {
      await fc.assert(
        fc.asyncProperty(
          source,
          fc.array(target, { minLength: 1, maxLength: 2 }),
          extra,
          odd,
          fc.constantFrom('text', 'json'),
          fc.integer({ min: 1, max: 3 }),
          async (src, targets, ex, o, format, seconds) => {
            const args = [...src, ...ex, ...o, '-o', format, '--timeout', `${seconds}s`, '--', ...targets];
            const r = await runCli(args, (seconds * 1000 + GRACE_MS) * 3 + 5000);
            const all = r.stdout + r.stderr;
            expect(
              [0, 1, 2, 3],
              `exit ${r.code} (signal ${r.signal}) for ${JSON.stringify(args)}\n${r.stderr}`,
            ).toContain(r.code);
            expect(r.stderr, 'stack trace').not.toMatch(/\n\s+at .+:\d+:\d+/);
            expect(all).not.toMatch(/internal error/);
            expect(leaked(all), `secret leaked for ${JSON.stringify(args)}`).toEqual([]);
            expect(r.ms, `took ${r.ms} ms with --timeout ${seconds}s`).toBeLessThan(seconds * 1000 + GRACE_MS + 2000);
            if (format === 'json' && r.code !== 3) {
              const report = JSON.parse(r.stdout);
              expect(validateReport(report), JSON.stringify(validateReport.errors)).toBe(true);
            }
            if (r.code === 3) expect(r.stderr.trim().split('\n')).toHaveLength(1);
          },
        ),
        budget(CASES),
      );
    },
    timeoutFor(CASES, 4000),
  );
});

// Stalled inputs: part of a dump (YAML or JSON, cut anywhere) written to a pipe or a named pipe by a writer that never
// ends. Invariant: gwdoctor ends at its --timeout, exit 2, one line naming the stream and what was read, no stack.
describe('stalled inputs under the deadline', () => {
  const json = JSON.stringify(parse(seed), null, 2);
  const CASES = 4;
  it(
    `${CASES} stalled writers (pipe or named pipe, YAML or JSON, cut anywhere): exit 2 at --timeout`,
    async () => {
      let n = 0;
      await fc.assert(
        fc.asyncProperty(
          fc.constantFrom('pipe', 'fifo'),
          fc.constantFrom('yaml', 'json'),
          fc.nat(),
          fc.constantFrom(1000, 1500),
          async (how, kind, at, ms) => {
            const text = kind === 'yaml' ? seed : json;
            const part = text.slice(0, at % text.length);
            const fifo = join(dir, `stall-${n++}.${kind}`);
            if (how === 'fifo') mkfifo(fifo);
            const { child, ended } = gwdoctorChild([
              '-f',
              how === 'pipe' ? '-' : fifo,
              '--offline',
              '--timeout',
              `${ms}ms`,
              'api.example.com',
            ]);
            let close = (): void => void child.stdin?.end();
            if (how === 'fifo') {
              const w = await fifoWriter(fifo);
              w.write(part);
              close = w.close;
            } else child.stdin?.write(part);
            const r = await ended;
            close();
            expect(r.code, r.stderr).toBe(2);
            expect(r.stderr).toMatch(
              /^gwdoctor: the deadline \(--timeout\) passed while reading manifests from .*: (nothing was written to it|\d+ bytes read, and the writer had not finished)\n  hint: /,
            );
            expect(r.stderr).not.toMatch(/\n\s+at .+:\d+:\d+/);
          },
        ),
        budget(CASES),
      );
    },
    timeoutFor(CASES, 8000),
  );
});
