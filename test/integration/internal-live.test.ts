// --internal against the real control plane (status written by real istiod when it runs): the seed keeps
// admin.example.com internal; a route that publishes it is named with its resourceVersion, and the printed JSON patch,
// applied to the API server as printed, makes the host internal again without breaking worker.example.com.
// Also `npm run try-live -- --once`, the newcomer's one command, end to end.

import { spawn } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect } from 'vitest';
import { applyScenario } from './harness/apply.js';
import { Kube } from './harness/kube.js';
import { istiod, itLive, live } from './live.js';
import { ROOT, gwdoctor, validateReport } from '../helpers/cli.js';
import { FIXTURES, scenarioDir } from '../helpers/fixtures.js';

const admin = live ? new Kube(live.server, readFileSync(live.caFile), 'admin-token') : null;
const status = () => (istiod ? ('istiod' as const) : ('fixture' as const));

describe('--internal live', () => {
  itLive(
    "passes for the seed's admin.example.com: no HTTPRoute on the live public Gateway serves it",
    async () => {
      const seed = await applyScenario(admin!, join(FIXTURES, 'seed-healthy'), { status: status() });
      try {
        const r = gwdoctor([
          '--kubeconfig',
          live!.kubeconfig,
          '--offline',
          '--internal',
          'admin.example.com',
          'api.example.com',
        ]);
        expect(r.code, r.stdout + r.stderr).toBe(0);
        expect(r.stdout).toContain(
          'admin.example.com/ stays internal: no HTTPRoute or GRPCRoute on Gateway istio-ingress/example-istio-gateway serves admin.example.com',
        );
      } finally {
        await seed.cleanup();
      }
    },
    120_000,
  );

  itLive(
    'fails when a route publishes it, and the printed patch applied to the API server makes it internal again without breaking worker.example.com',
    async () => {
      const applied = await applyScenario(admin!, scenarioDir('internal-exposed-shared'), { status: status() });
      try {
        const r = gwdoctor([
          '--kubeconfig',
          live!.kubeconfig,
          '--offline',
          '-o',
          'json',
          '--internal',
          'admin.example.com',
        ]);
        expect(r.code, r.stderr).toBe(1);
        const report = JSON.parse(r.stdout);
        expect(validateReport(report)).toBe(true);
        const route = report.targets[0].layers[3];
        expect(route).toMatchObject({ status: 'fail', code: 'InternalHostExposed' });
        expect(route.evidence[0]).toMatchObject({
          ref: 'HTTPRoute istio-ingress/example-worker',
          origin: { resourceVersion: expect.any(String) },
        });
        const fix = route.fix;
        expect(fix).toMatchObject({
          kind: 'patch',
          patchType: 'json',
          target: { kind: 'HTTPRoute', namespace: 'istio-ingress', name: 'example-worker' },
        });
        const res = await admin!.raw(
          'PATCH',
          '/apis/gateway.networking.k8s.io/v1/namespaces/istio-ingress/httproutes/example-worker',
          fix.patch,
          'application/json-patch+json',
        );
        expect(res.status).toBe(200);
        const after = gwdoctor([
          '--kubeconfig',
          live!.kubeconfig,
          '--offline',
          '--wait',
          '60s',
          '--internal',
          'admin.example.com',
          'worker.example.com',
          'api.example.com',
        ]);
        expect(after.code, after.stdout + after.stderr).toBe(0);
        expect(after.stdout).toContain('admin.example.com/ stays internal');
        expect(after.stdout).toMatch(/worker\.example\.com\/ reaches its backend/);
      } finally {
        await applied.cleanup();
      }
    },
    180_000,
  );
});

describe('npm run try-live', () => {
  // Its own control plane (the cached binaries), istiod when built, the seed loaded, one gwdoctor run, then teardown.
  itLive(
    '-- --once: starts a cluster, runs gwdoctor live against it (exit 0), prints the KUBECONFIG to use, and leaves nothing behind',
    async () => {
      const child = spawn('npm', ['run', 'try-live', '--', '--once'], {
        cwd: ROOT,
        env: { ...process.env, NO_COLOR: '1' },
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      let out = '';
      let err = '';
      child.stdout.on('data', (d) => (out += d));
      child.stderr.on('data', (d) => (err += d));
      const code = await new Promise<number | null>((resolve) => child.on('close', resolve));
      expect(code, err.slice(-2000)).toBe(0);
      expect(err).toMatch(/\[try-live\] control plane ready at https:\/\/127\.0\.0\.1:\d+/);
      expect(err).toMatch(istiod ? /\[try-live\] istiod \S+ ready/ : /\[try-live\] istiod: not built/);
      expect(out).toContain('admin.example.com/ stays internal');
      expect(out).toMatch(/api\.example\.com\/ reaches its backend/);
      expect(out).toMatch(/worker\.example\.com\/ reaches its backend/);
      expect(out).toMatch(/source: cluster readonly \(https:\/\/127\.0\.0\.1:\d+\)/);
      const kubeconfig = /export KUBECONFIG=(\S+)/.exec(out)?.[1];
      expect(kubeconfig).toBeDefined();
      expect(err).toMatch(/\[try-live\] stopped; nothing left running/);
      // Torn down: its directory (certificates, etcd data, kubeconfig) is gone.
      expect(existsSync(kubeconfig as string)).toBe(false);
    },
    600_000,
  );
});
