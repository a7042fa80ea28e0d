// gwdoctor.yaml as a user meets it: found in the current directory or given with --config, flags overriding it key
// by key, --print-config showing the result, and every kind of mistake in it reported as FILE:LINE:COL, exit 3, one line.

import { spawnSync } from 'node:child_process';
import { cpSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { CLI, ROOT, validateReport } from '../helpers/cli.js';
import { tempDir } from '../helpers/tmp.js';

const SEED = join(ROOT, 'fixtures', 'seed-healthy');

function run(cwd: string, args: string[]) {
  const r = spawnSync(process.execPath, [CLI, ...args], {
    cwd,
    encoding: 'utf8',
    env: { PATH: process.env['PATH'] ?? '', HOME: '/nonexistent-home', NO_COLOR: '1' },
    timeout: 60_000,
  });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

/** A directory holding gwdoctor.yaml with this content (and the seed manifests next to it, as ./seed). */
function project(yaml: string, name = 'gwdoctor.yaml'): string {
  const dir = tempDir('gwd-cfg-');
  cpSync(SEED, join(dir, 'seed'), { recursive: true });
  writeFileSync(join(dir, name), yaml);
  return dir;
}

function oneLine(stderr: string): string {
  const lines = stderr.trim().split('\n');
  expect(lines, stderr).toHaveLength(1);
  expect(stderr).not.toMatch(/\n\s+at /); // no stack
  return lines[0] as string;
}

const BASE = 'manifests: [seed]\noffline: true\n';

describe('finding the config file', () => {
  it('reads ./gwdoctor.yaml from the current directory: its targets and manifests (relative to the file) are used', () => {
    const dir = project(`${BASE}targets: [api.example.com, worker.example.com]\n`);
    const r = run(dir, ['-o', 'json']);
    expect(r.code, r.stderr).toBe(0);
    const report = JSON.parse(r.stdout);
    expect(validateReport(report)).toBe(true);
    expect(report.targets.map((t: { host: string }) => t.host)).toEqual(['api.example.com', 'worker.example.com']);
    expect(report.source.manifests).toEqual([join(dir, 'seed')]);
  });

  it('reads the file given with --config from any directory, resolving its paths against the file, not the cwd', () => {
    const dir = project(`${BASE}targets: [api.example.com]\n`, 'team.yaml');
    const r = run(tmpdir(), ['--config', join(dir, 'team.yaml'), '-o', 'json']);
    expect(r.code, r.stderr).toBe(0);
    expect(JSON.parse(r.stdout).source.manifests).toEqual([join(dir, 'seed')]);
  });

  it('ignores ./gwdoctor.yaml with --no-config (even a broken one)', () => {
    const dir = project('this is: [not valid\n');
    expect(run(dir, ['--manifests', SEED, '--offline', 'api.example.com']).code).toBe(3);
    const r = run(dir, ['--no-config', '--manifests', SEED, '--offline', 'api.example.com']);
    expect(r.code, r.stderr).toBe(0);
  });

  it('refuses --config together with --no-config, and a --config file that does not exist', () => {
    const dir = project(BASE);
    expect(oneLine(run(dir, ['--config', 'gwdoctor.yaml', '--no-config', 'api.example.com']).stderr)).toMatch(
      /--config and --no-config contradict/,
    );
    const r = run(dir, ['--config', 'missing.yaml', 'api.example.com']);
    expect(r.code).toBe(3);
    expect(oneLine(r.stderr)).toBe('gwdoctor: config missing.yaml: cannot read it (no such file)');
  });

  it('runs the shipped example (examples/gwdoctor.yaml) as it is: three hosts, admin.example.com internal, and writes nothing next to it', () => {
    const dir = tempDir('gwd-ex-');
    mkdirSync(join(dir, 'examples'));
    cpSync(join(ROOT, 'examples', 'gwdoctor.yaml'), join(dir, 'examples', 'gwdoctor.yaml'));
    cpSync(SEED, join(dir, 'fixtures', 'seed-healthy'), { recursive: true });
    const r = run(join(dir, 'examples'), ['--offline', '-o', 'json']);
    expect(r.code, r.stderr).toBe(0);
    const report = JSON.parse(r.stdout);
    expect(
      report.targets.map((t: { host: string; verdict: string; expect?: string }) => [
        t.host,
        t.verdict,
        t.expect ?? 'public',
      ]),
    ).toEqual([
      ['api.example.com', 'pass', 'public'],
      ['worker.example.com', 'pass', 'public'],
      ['admin.example.com', 'pass', 'internal'],
    ]);
    const text = run(join(dir, 'examples'), ['--offline']);
    expect(text.code, text.stderr).toBe(0);
    expect(text.stdout).toMatch(
      /admin\.example\.com\/ stays internal: no HTTPRoute or GRPCRoute on Gateway istio-ingress\/example-istio-gateway serves admin\.example\.com/,
    );
    // no report written into the checkout the example lives in
    expect(readdirSync(join(dir, 'examples'))).toEqual(['gwdoctor.yaml']);
  });

  it('points the example at no public resolver (a home lab asks its own DNS server)', () => {
    const r = run(join(ROOT, 'examples'), ['--print-config']);
    expect(r.code, r.stderr).toBe(0);
    const resolvers = (parse(r.stdout) as { resolvers: string[] }).resolvers;
    expect(resolvers.length).toBeGreaterThan(0);
    // RFC 1918, RFC 6598, RFC 5737 documentation ranges, loopback: never a public address such as 1.1.1.1 or 9.9.9.9
    for (const a of resolvers)
      expect(a.replace(/:\d+$/, '')).toMatch(
        /^(?:10\.|192\.168\.|172\.(?:1[6-9]|2\d|3[01])\.|100\.(?:6[4-9]|[7-9]\d|1[01]\d|12[0-7])\.|192\.0\.2\.|198\.51\.100\.|203\.0\.113\.|127\.)/,
      );
  });

  it('writes output files relative to the config file, wherever it is run from', () => {
    const dir = project(
      `${BASE}targets: [api.example.com]\noutputs: [text, junit=reports-junit.xml, {format: json, file: reports-report.json}]\n`,
    );
    const r = run(tmpdir(), ['--config', join(dir, 'gwdoctor.yaml')]);
    expect(r.code, r.stderr).toBe(0);
    expect(JSON.parse(readFileSync(join(dir, 'reports-report.json'), 'utf8')).targets[0].verdict).toBe('pass');
    expect(readFileSync(join(dir, 'reports-junit.xml'), 'utf8')).toMatch(/<testsuite name="api\.example\.com\/"/);
  });
});

describe('flags override the file, key by key', () => {
  const dir = project(
    `${BASE}targets: [api.example.com]\nresolvers: [192.0.2.53, "192.0.2.54:5353"]\nexpectIps: [203.0.113.10]\ntimeout: 45s\nwait: {duration: 2m, interval: 5s}\ngateway: istio-ingress/example-istio-gateway\noutputs: [json]\n`,
  );
  const effective = (args: string[]) => {
    const r = run(dir, [...args, '--print-config']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/^# effective gwdoctor settings: .*gwdoctor\.yaml, overridden by the flags given\n/);
    return parse(r.stdout) as Record<string, unknown>;
  };

  it('--print-config shows the file as gwdoctor would use it (paths made absolute)', () => {
    expect(effective([])).toEqual({
      version: 1,
      targets: ['api.example.com'],
      gateway: { namespace: 'istio-ingress', name: 'example-istio-gateway' },
      manifests: [join(dir, 'seed')],
      offline: true,
      expectIps: ['203.0.113.10'],
      resolvers: ['192.0.2.53', '192.0.2.54:5353'],
      wait: { duration: '2m', interval: '5s' },
      timeout: '45s',
      outputs: ['json'],
    });
  });

  it('a scalar flag replaces its key only; the other keys stay', () => {
    const e = effective(['--timeout', '10s', '--gateway', 'other/gw']);
    expect(e['timeout']).toBe('10s');
    expect(e['gateway']).toEqual({ namespace: 'other', name: 'gw' });
    expect(e['resolvers']).toEqual(['192.0.2.53', '192.0.2.54:5353']);
    expect(e['wait']).toEqual({ duration: '2m', interval: '5s' });
  });

  it('the Gateway port the proxy forwards to (--gateway NS/NAME:PORT) comes from the file or the flag', () => {
    expect(effective(['--gateway', 'istio-ingress/example-istio-gateway:8080'])['gateway']).toEqual({
      namespace: 'istio-ingress',
      name: 'example-istio-gateway',
      port: 8080,
    });
  });

  it('a list flag, given once, replaces the whole list of the file', () => {
    const e = effective([
      '--resolver',
      '198.51.100.1',
      '--expect-ip',
      '198.51.100.2',
      '--expect-ip',
      '198.51.100.3',
      '-o',
      'text',
    ]);
    expect(e['resolvers']).toEqual(['198.51.100.1']);
    expect(e['expectIps']).toEqual(['198.51.100.2', '198.51.100.3']);
    expect(e['outputs']).toEqual(['text']);
  });

  it("hosts on the command line replace the file's targets; --wait replaces the duration and keeps the interval", () => {
    const e = effective(['worker.example.com', '--wait', '30s']);
    expect(e['targets']).toEqual(['worker.example.com']);
    expect(e['wait']).toEqual({ duration: '30s', interval: '5s' });
  });

  it("the run itself follows the merge: a host on the command line is checked instead of the file's, in the file's output format", () => {
    const r = run(dir, ['worker.example.com']);
    expect(r.code, r.stderr).toBe(0);
    expect(JSON.parse(r.stdout).targets.map((t: { host: string }) => t.host)).toEqual(['worker.example.com']);
  });
});

describe('every kind of mistake in the file: FILE:LINE:COL of the offending key or value, exit 3, one line', () => {
  const cases: [what: string, yaml: string, message: string][] = [
    [
      'an unknown top-level key, with the close name',
      `${BASE}resolver: [192.0.2.53]\n`,
      'gwdoctor.yaml:3:1: unknown key "resolver" (did you mean "resolvers"?)',
    ],
    [
      'a flag name used as a key',
      `${BASE}expect-ip: [192.0.2.1]\n`,
      'gwdoctor.yaml:3:1: unknown key "expect-ip" (did you mean "expectIps"?)',
    ],
    [
      'an unknown key far from any known one',
      `${BASE}colour: blue\n`,
      'gwdoctor.yaml:3:1: unknown key "colour" (known keys: version, targets, internal, all, gateway, manifests, kubeconfig, context, offline, expectIps, resolvers, port, caFile, wait, timeout, outputs, fixDir, verbose)',
    ],
    [
      'a misspelt nested key (before the "missing" it causes)',
      `${BASE}gateway:\n  namespace: istio-ingress\n  nmae: example-istio-gateway\n`,
      'gwdoctor.yaml:5:3: unknown key "nmae" in gateway (did you mean "name"?)',
    ],
    [
      'a missing required nested key',
      `${BASE}wait:\n  interval: 5s\n`,
      'gwdoctor.yaml:4:3: wait: missing "duration" (a duration such as 500ms, 30s, 2m or 1m30s (a bare number is seconds), or {duration, interval})',
    ],
    [
      'a wrong type',
      `${BASE}targets: api.example.com\n`,
      'gwdoctor.yaml:3:10: targets: expected a list, got the string "api.example.com"',
    ],
    [
      'a wrong type in a list',
      `${BASE}targets:\n  - api.example.com\n  - 42\n`,
      'gwdoctor.yaml:5:5: targets[1]: expected a string, got number 42',
    ],
    [
      'a value the schema refuses',
      `${BASE}timeout: forever\n`,
      'gwdoctor.yaml:3:10: timeout: the string "forever" is not a duration such as 500ms, 30s, 2m or 1m30s (a bare number is seconds)',
    ],
    [
      'a port out of range',
      `${BASE}port: 70000\n`,
      'gwdoctor.yaml:3:7: port: number 70000 is not a port number 1-65535',
    ],
    ['a wrong version', `version: 2\n${BASE}`, 'gwdoctor.yaml:1:10: version: must be 1, got number 2'],
    [
      'a host the target parser refuses',
      `${BASE}targets:\n  - api.example.com\n  - http://worker.example.com\n`,
      'gwdoctor.yaml:5:5: targets[1]: unsupported scheme "http://" in "http://worker.example.com": gwdoctor checks the public HTTPS path; use https://worker.example.com',
    ],
    [
      'an internal host the target parser refuses',
      `${BASE}internal: [admin]\n`,
      'gwdoctor.yaml:3:12: internal[0]: invalid target "admin": "admin" is not a fully qualified hostname (expected something like api.example.com; a route\'s single-label hostname is checked with --all)',
    ],
    [
      'a resolver port out of range',
      `${BASE}resolvers: ["192.0.2.53:99999"]\n`,
      'gwdoctor.yaml:3:13: resolvers[0]: "192.0.2.53:99999": port "99999" is not a port number 1-65535',
    ],
    [
      'an expected address that is no IP',
      `${BASE}expectIps: ["1.2.3"]\n`,
      'gwdoctor.yaml:3:13: expectIps[0]: "1.2.3": not an IP address',
    ],
    [
      'a duration over the maximum',
      `${BASE}wait: {duration: 48h}\n`,
      'gwdoctor.yaml:3:18: wait.duration: "48h": longer than the 24h maximum (use e.g. 500ms, 30s, 2m, 1m30s)',
    ],
    [
      'an unknown output format',
      `${BASE}outputs: [yaml]\n`,
      'gwdoctor.yaml:3:11: outputs[0]: "yaml": unknown format "yaml" (formats: text, json, junit, sarif, github, prometheus, html)',
    ],
    [
      'a Gateway port out of range',
      `${BASE}gateway: {namespace: istio-ingress, name: example-istio-gateway, port: 70000}\n`,
      'gwdoctor.yaml:3:72: gateway.port: number 70000 is not a listener port 1-65535',
    ],
    ['a YAML syntax error', `${BASE}targets: [api.example.com\n`, 'gwdoctor.yaml:4:1: invalid YAML:'],
    ['a duplicate key', `${BASE}offline: false\n`, 'gwdoctor.yaml:3:1: invalid YAML: Map keys must be unique'],
    [
      'a top level that is not a mapping',
      '- api.example.com\n',
      'gwdoctor.yaml:1:1: the file: expected a mapping, got a list',
    ],
  ];
  it.each(cases)('%s', (_what, yaml, message) => {
    const dir = project(yaml);
    const r = run(dir, []);
    expect(r.code, r.stderr).toBe(3);
    expect(r.stdout).toBe('');
    const line = oneLine(r.stderr);
    expect(line.replace(`${dir}/`, '')).toContain(
      message.startsWith('gwdoctor.yaml') ? `gwdoctor: ${message}` : message,
    );
  });

  it('names the file as the user gave it with --config', () => {
    const dir = project(`${BASE}resolver: []\n`, 'ci.yaml');
    expect(oneLine(run(dir, ['--config', 'ci.yaml', 'api.example.com']).stderr)).toBe(
      'gwdoctor: ci.yaml:3:1: unknown key "resolver" (did you mean "resolvers"?)',
    );
  });

  it('checks the file even when flags override the bad key (the file is wrong either way)', () => {
    const dir = project(`${BASE}timeout: forever\n`);
    expect(run(dir, ['--timeout', '10s', 'api.example.com']).code).toBe(3);
  });

  it('--help and --version never read the file', () => {
    const dir = project('broken: [\n');
    expect(run(dir, ['--help']).code).toBe(0);
    expect(run(dir, ['--version']).code).toBe(0);
  });
});
