// `kubectl gwdoctor`: the package installs kubectl-gwdoctor, kubectl finds it on PATH and passes the arguments
// through; kubectl's -n/--namespace names the namespace of --gateway NAME.

import { spawnSync } from 'node:child_process';
import { symlinkSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ROOT } from '../helpers/cli.js';
import { consumer } from '../helpers/consumers.js';
import { kubectlArgs } from '../../src/kubectl-args.js';
import pkg from '../../package.json' with { type: 'json' };
import { scenarioPath } from '../helpers/fixtures.js';
import { tempDir } from '../helpers/tmp.js';

const PLUGIN = join(ROOT, 'dist', 'bundle', 'kubectl-gwdoctor.js');

describe('kubectl conventions', () => {
  it.each([
    [
      ['-n', 'istio-ingress', '--gateway', 'gw', 'a.example.com'],
      ['--gateway', 'istio-ingress/gw', 'a.example.com'],
    ],
    [['--namespace=istio-ingress', '--gateway=gw'], ['--gateway=istio-ingress/gw']],
    [
      ['-nistio-ingress', '--gateway', 'istio-ingress/gw'],
      ['--gateway', 'istio-ingress/gw'],
    ],
    [
      ['--context', 'prod', '--kubeconfig', '/k', 'a.example.com'],
      ['--context', 'prod', '--kubeconfig', '/k', 'a.example.com'],
    ],
  ])('%j -> %j', (input, want) => {
    expect(kubectlArgs(input)).toEqual(want);
  });
  it('refuses -n without --gateway and two different namespaces', () => {
    expect(() => kubectlArgs(['-n', 'x', 'a.example.com'])).toThrow(/applies to --gateway NAME/);
    expect(() => kubectlArgs(['-n', 'x', '--gateway', 'y/gw'])).toThrow(/different namespaces/);
  });
  it('is installed as a bin of the package', () => {
    expect(pkg.bin['kubectl-gwdoctor']).toBe('dist/bundle/kubectl-gwdoctor.js');
  });
});

function runPlugin(args: string[], viaKubectl: string | null) {
  const dir = tempDir('gwd-plugin-');
  symlinkSync(PLUGIN, join(dir, 'kubectl-gwdoctor'));
  const env = { PATH: `${dir}:${process.env['PATH'] ?? ''}`, HOME: '/nonexistent-home', NO_COLOR: '1' };
  const [cmd, argv] = viaKubectl ? [viaKubectl, ['gwdoctor', ...args]] : [join(dir, 'kubectl-gwdoctor'), args];
  const r = spawnSync(cmd, argv, { cwd: ROOT, encoding: 'utf8', env, timeout: 60_000 });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

describe('the kubectl-gwdoctor executable', () => {
  it('runs gwdoctor with -n applied to --gateway (exit codes unchanged)', () => {
    const r = runPlugin(
      [
        '--manifests',
        scenarioPath('grant-missing'),
        '--offline',
        '-n',
        'istio-ingress',
        '--gateway',
        'example-istio-gateway',
        'api.example.com',
      ],
      null,
    );
    expect(r.code).toBe(1);
    expect(r.stdout).toMatch(/✖ grant/);
    const bad = runPlugin(['-n', 'istio-ingress', 'api.example.com'], null);
    expect(bad.code).toBe(3);
    expect(bad.stderr.trim()).toMatch(/^gwdoctor: -n istio-ingress: the namespace applies to --gateway NAME/);
  });

  // The real plugin lookup of kubectl (Debian's kubernetes-client where the image has none): with CI=true a missing
  // kubectl fails the run instead of skipping.
  const kubectl = consumer('kubectl', 'kubernetes-client');
  it.skipIf(!kubectl)('is found and run by kubectl itself: kubectl gwdoctor ...', () => {
    const r = runPlugin(
      [
        '--manifests',
        'fixtures/seed-healthy',
        '--offline',
        '-n',
        'istio-ingress',
        '--gateway',
        'example-istio-gateway',
        'api.example.com',
      ],
      kubectl,
    );
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/api\.example\.com\/ reaches its backend/);
  });
});
