// What users feed to -f: pipes, special files, empty directories, hostile or malformed YAML, dumps too large for the
// deadline. Each is a one-line message and a documented exit code (3 bad input, 2 unfinished), never exit 70.

import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { CLI, ROOT } from '../helpers/cli.js';
import { fifoWriter, gwdoctorChild, mkfifo, spoolFileOf, until } from '../helpers/stall.js';
import { tempDir } from '../helpers/tmp.js';

const SEED = join(ROOT, 'fixtures', 'seed-healthy');

function run(args: string[], input?: string, env: NodeJS.ProcessEnv = {}) {
  const r = spawnSync(process.execPath, [CLI, ...args], {
    cwd: ROOT,
    encoding: 'utf8',
    input: input ?? '',
    env: { PATH: process.env['PATH'] ?? '', HOME: '/nonexistent-home', NO_COLOR: '1', ...env },
    timeout: 60_000,
    maxBuffer: 64 << 20,
  });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

const tmp = () => tempDir('gwd-in-');
const gateway = (spec: string) =>
  `apiVersion: gateway.networking.k8s.io/v1\nkind: Gateway\nmetadata:\n  name: g\n  namespace: n\n${spec}`;

describe('-f inputs', () => {
  const seedYaml = readFileSync(join(SEED, 'cluster.yaml'), 'utf8');

  it('reads `kubectl get ... -o yaml | gwdoctor -f - host` from stdin, and -f /dev/stdin the same way', () => {
    const fromDir = run(['-f', SEED, '--offline', '-o', 'json', 'api.example.com']);
    for (const f of ['-', '/dev/stdin']) {
      const r = run(['-f', f, '--offline', '-o', 'json', 'api.example.com'], seedYaml);
      expect(r.stderr).toBe('');
      expect(r.code).toBe(fromDir.code);
      const verdicts = (out: string) =>
        (JSON.parse(out) as { targets: { verdict: string; layers: { status: string }[] }[] }).targets.map((t) => [
          t.verdict,
          t.layers.map((l) => l.status),
        ]);
      expect(verdicts(r.stdout)).toEqual(verdicts(fromDir.stdout));
    }
  });

  it('says "read 0 objects" (exit 3) for /dev/null, empty stdin and an empty directory, instead of GatewayNotFound', () => {
    const d = tmp();
    mkdirSync(join(d, 'empty'));
    for (const [args, what] of [
      [['-f', '/dev/null'], 'read 0 objects from /dev/null'],
      [['-f', '-'], 'read 0 objects from stdin'],
      [['-f', join(d, 'empty')], `read 0 objects from ${join(d, 'empty')} (no .yaml, .yml or .json file in it)`],
    ] as const) {
      const r = run([...args, '--offline', 'api.example.com']);
      expect(r.code, r.stderr).toBe(3);
      expect(r.stderr).toContain(what);
      expect(r.stderr.trim().split('\n')).toHaveLength(1);
    }
  });

  it('refuses a YAML alias bomb (exit 3, quickly) whether it sits in a Gateway or in a document of no known kind', () => {
    const d = tmp();
    const levels = ['a: &a ["x","x","x","x","x","x","x","x","x"]'];
    for (let i = 1; i < 9; i++) {
      const p = String.fromCharCode(96 + i);
      levels.push(
        `${String.fromCharCode(97 + i)}: &${String.fromCharCode(97 + i)} [${Array(9).fill(`*${p}`).join(',')}]`,
      );
    }
    writeFileSync(join(d, 'bomb.yaml'), `${levels.join('\n')}\n`);
    writeFileSync(
      join(d, 'gw-bomb.yaml'),
      gateway(`spec:\n  gatewayClassName: istio\n  infrastructure:\n${levels.map((l) => `    ${l}`).join('\n')}\n`),
    );
    const t = performance.now();
    const top = run(['-f', join(d, 'bomb.yaml'), '--offline', 'api.example.com']);
    expect(top.code, top.stderr).toBe(3);
    const inGw = run(['-f', join(d, 'gw-bomb.yaml'), '--offline', 'api.example.com']);
    expect(inGw.code, inGw.stderr).toBe(3);
    expect(inGw.stderr).toMatch(/gw-bomb\.yaml:1: Gateway g: YAML aliases expand to more than/);
    expect(performance.now() - t).toBeLessThan(10_000);
  });

  it('rejects a Gateway without spec, or with listeners that are not a list, naming file, line and field (exit 3)', () => {
    const d = tmp();
    writeFileSync(join(d, 'a.yaml'), `apiVersion: v1\nkind: Namespace\nmetadata: {name: n}\n---\n${gateway('')}`);
    writeFileSync(join(d, 'b.yaml'), gateway('spec:\n  gatewayClassName: istio\n  listeners:\n    name: http\n'));
    writeFileSync(
      join(d, 'c.yaml'),
      `apiVersion: v1\nkind: List\nitems:\n- apiVersion: gateway.networking.k8s.io/v1\n  kind: HTTPRoute\n  metadata: {name: r, namespace: n}\n  spec:\n    parentRefs:\n    - {sectionName: http}\n`,
    );
    const cases = [
      ['a.yaml', /a\.yaml:5: Gateway n\/g: spec is missing$/m],
      ['b.yaml', /b\.yaml:1: Gateway n\/g: spec\.listeners must be a list, not a mapping$/m],
      ['c.yaml', /c\.yaml:4: HTTPRoute n\/r: spec\.parentRefs\[0\]\.name is missing$/m],
    ] as const;
    for (const [file, want] of cases) {
      const r = run(['-f', join(d, file), '--offline', 'api.example.com']);
      expect(r.code, r.stderr).toBe(3);
      expect(r.stderr).toMatch(want);
    }
  });

  const bigDump = () => {
    const d = tmp();
    const svc = (i: number) =>
      `- apiVersion: v1\n  kind: Service\n  metadata:\n    name: s${i}\n    namespace: n\n  spec:\n    ports:\n    - port: 80\n`;
    const parts = ['apiVersion: v1\nitems:\n'];
    for (let i = 0; i < 400_000; i++) parts.push(svc(i));
    parts.push('kind: List\n');
    writeFileSync(join(d, 'big.yaml'), parts.join(''));
    return d;
  };

  it('stops reading at the deadline with exit 2 and says where it stopped, instead of running past --timeout', () => {
    const d = bigDump();
    const t = performance.now();
    const r = run(['-f', join(d, 'big.yaml'), '--timeout', '300ms', '--offline', 'api.example.com']);
    const ms = performance.now() - t;
    expect(r.code, r.stderr).toBe(2);
    expect(r.stderr).toMatch(
      /the deadline \(--timeout\) passed while reading manifests: stopped in .*big\.yaml at line \d+ after \d+ objects/,
    );
    expect(ms).toBeLessThan(5_000); // all 400,000 objects take several times longer
  });

  it('stops with exit 2 before the heap is full (never a V8 out-of-memory abort, exit 134)', () => {
    const d = bigDump();
    const r = run(['-f', join(d, 'big.yaml'), '--timeout', '5m', '--offline', 'api.example.com'], '', {
      NODE_OPTIONS: '--max-old-space-size=96',
    });
    expect(r.code, r.stderr.slice(0, 500)).toBe(2);
    expect(r.stderr).toMatch(
      /the manifests do not fit in memory \(\d+ MB heap\): stopped in .*big\.yaml at line \d+ after \d+ objects/,
    );
  });
});

// A writer that stalls (`kubectl ... | gwdoctor -f -` with kubectl hung, a named pipe nobody writes): gwdoctor reads
// the stream through the event loop, so --timeout ends it (exit 2, saying how much was read) and SIGTERM is answered at
// once (143), whatever the writer does. The writer here never ends before gwdoctor has exited.
describe('-f from a stream whose writer stalls', () => {
  const seedYaml = readFileSync(join(SEED, 'cluster.yaml'), 'utf8');
  const part = seedYaml.slice(0, 500);

  it('a pipe: exit 2 at --timeout, naming stdin and the bytes read, while the writer still holds the pipe open', async () => {
    const { child, ended } = gwdoctorChild(['-f', '-', '--offline', '--timeout', '1s', 'api.example.com']);
    child.stdin?.write(part);
    const r = await ended;
    child.stdin?.end();
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(
      /^gwdoctor: the deadline \(--timeout\) passed while reading manifests from stdin \(-f -\): 500 bytes read, and the writer had not finished\n/,
    );
    expect(r.stderr).not.toMatch(/\n\s+at /);
  });

  it('a pipe: SIGTERM ends it at once (143) with a message, and the private copy of the input is removed', async () => {
    const { child, ended } = gwdoctorChild(['-f', '-', '--offline', '--timeout', '60s', 'api.example.com']);
    child.stdin?.write(part);
    const copy = await until(() => spoolFileOf(child.pid as number), 20_000, 'gwdoctor copying stdin');
    child.kill('SIGTERM');
    const r = await ended;
    child.stdin?.end();
    expect(r.code).toBe(143);
    expect(r.stderr).toMatch(/interrupted \(SIGTERM\) before any check ran/);
    expect(existsSync(copy)).toBe(false);
  });

  it('a named pipe nobody opens for writing: exit 2 at --timeout, "nothing was written to it"', async () => {
    const fifo = join(tmp(), 'dump.yaml');
    mkfifo(fifo);
    const { ended } = gwdoctorChild(['-f', fifo, '--offline', '--timeout', '1s', 'api.example.com']);
    const r = await ended;
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/passed while reading manifests from .*dump\.yaml: nothing was written to it/);
  });

  it('a named pipe whose writer stalls: exit 2 at --timeout; SIGTERM: 143; and a writer that finishes is read whole', async () => {
    const fifo = join(tmp(), 'dump.yaml');
    mkfifo(fifo);
    const a = gwdoctorChild(['-f', fifo, '--offline', '--timeout', '1s', 'api.example.com']);
    const w = await fifoWriter(fifo);
    w.write(part);
    const r = await a.ended;
    w.close();
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/dump\.yaml: 500 bytes read, and the writer had not finished/);

    const b = gwdoctorChild(['-f', fifo, '--offline', '--timeout', '60s', 'api.example.com']);
    const w2 = await fifoWriter(fifo);
    w2.write(part);
    await until(() => spoolFileOf(b.child.pid as number), 20_000, 'gwdoctor copying the named pipe');
    b.child.kill('SIGTERM');
    expect((await b.ended).code).toBe(143);
    w2.close();

    const c = gwdoctorChild(['-f', fifo, '--offline', '-o', 'json', '--timeout', '60s', 'api.example.com']);
    const w3 = await fifoWriter(fifo);
    w3.write(seedYaml);
    w3.close();
    const done = await c.ended;
    expect(done.stderr).toBe('');
    expect(done.code).toBe(0);
    expect((JSON.parse(done.stdout) as { targets: { verdict: string }[] }).targets[0]?.verdict).toBe('pass');
  });
});
