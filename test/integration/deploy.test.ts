// deploy/ on the real control plane, each file as shipped: the RBAC objects are applied (server-side apply, as
// kubectl apply --server-side does) and read back; the Job and the CronJob, whose image the kit leaves empty for the
// user's digest, are refused by the API server as shipped (by kubectl too) and accepted once a digest is set; the
// Argo CD hook Job is created as Argo CD creates a generateName hook, twice, and gets two names. The ServiceAccount
// it creates, with a token from the TokenRequest API, is enough for `gwdoctor --all` to check every cluster layer of
// the seed cluster. (gwdoctor never writes to a cluster; this harness does.)

import { spawnSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect } from 'vitest';
import { parseAllDocuments } from 'yaml';
import { applyScenario, type Applied } from './harness/apply.js';
import { Kube } from './harness/kube.js';
import { istiod, itLive, live } from './live.js';
import { ROOT, gwdoctor, validateReport } from '../helpers/cli.js';
import { FIXTURES } from '../helpers/fixtures.js';
import { which } from '../helpers/net/bins.js';

interface K8s {
  apiVersion: string;
  kind: string;
  metadata: { name?: string; generateName?: string; namespace?: string };
  spec?: Record<string, unknown>;
}
interface Status {
  kind: string;
  status?: string;
  reason?: string;
  details?: { causes?: { field: string; reason: string }[] };
}

const admin = live ? new Kube(live.server, readFileSync(live.caFile), 'admin-token') : null;
const load = (f: string) =>
  parseAllDocuments(readFileSync(join(ROOT, 'deploy', f), 'utf8')).map((d) => d.toJS() as K8s);
const RBAC = [...load('rbac.yaml'), ...load('serviceaccount.yaml')];
const [JOB] = load('argocd-postsync-job.yaml') as [K8s];
const [CRON] = load('cronjob-prometheus.yaml') as [K8s];
/** What the user puts in: an image by digest (the API server does not pull it; no kubelet runs here). */
const DIGEST = `registry.home.lan/gwdoctor@sha256:${'0123456789abcdef'.repeat(4)}`;

function path(o: K8s, withName = true): string {
  const base = o.apiVersion.includes('/') ? `/apis/${o.apiVersion}` : `/api/${o.apiVersion}`;
  const ns = o.metadata.namespace ? `/namespaces/${o.metadata.namespace}` : '';
  return `${base}${ns}/${o.kind.toLowerCase()}s${withName && o.metadata.name ? `/${o.metadata.name}` : ''}`;
}

async function apply(o: K8s, dryRun = false): Promise<{ status: number; json: unknown }> {
  return admin!.raw(
    'PATCH',
    `${path(o)}?fieldManager=gwdoctor-deploy-test&force=true${dryRun ? '&dryRun=All' : ''}`,
    o,
    'application/apply-patch+yaml',
  );
}

/** The pod template's containers, wherever the kind keeps it. */
function containers(o: K8s): { image: string }[] {
  const s = o.spec as {
    template?: { spec: { containers: { image: string }[] } };
    jobTemplate?: { spec: { template: { spec: { containers: { image: string }[] } } } };
  };
  return (s.template ?? s.jobTemplate!.spec.template).spec.containers;
}

function withImage(o: K8s, image: string): K8s {
  const copy = structuredClone(o);
  for (const c of containers(copy)) c.image = image;
  return copy;
}

/** The API server's refusal: 422 Invalid, naming the empty image as a required field. */
function expectImageRequired(r: { status: number; json: unknown }, field: string): void {
  expect(r.status, JSON.stringify(r.json).slice(0, 400)).toBe(422);
  const s = r.json as Status;
  expect(s.reason).toBe('Invalid');
  expect(s.details?.causes).toEqual([{ field, reason: 'FieldValueRequired', message: 'Required value' }]);
}

describe('deploy/ applied to the control plane', () => {
  let seed: Applied | undefined;
  beforeAll(async () => {
    if (admin)
      seed = await applyScenario(admin, join(FIXTURES, 'seed-healthy'), { status: istiod ? 'istiod' : 'fixture' });
  }, 120_000);
  afterAll(async () => {
    if (!admin) return;
    // The ClusterRole is shared with the rest of the suite (the harness installs it too): keep it.
    for (const o of [...RBAC].reverse())
      if (o.kind !== 'ClusterRole' && o.kind !== 'Namespace')
        await admin.raw('DELETE', `${path(o)}?propagationPolicy=Background`);
    await admin.raw('DELETE', '/api/v1/namespaces/gwdoctor');
    await seed?.cleanup();
  }, 120_000);

  itLive(
    'applies the RBAC objects of the kit (ClusterRole, Namespace, ServiceAccount, ClusterRoleBinding)',
    async () => {
      expect(RBAC.map((o) => o.kind)).toEqual(['ClusterRole', 'Namespace', 'ServiceAccount', 'ClusterRoleBinding']);
      for (const o of RBAC) {
        const r = await apply(o);
        expect(r.status, `${o.kind} ${o.metadata.name}: ${JSON.stringify(r.json).slice(0, 300)}`).toBeLessThan(300);
        const back = (await admin!.get(path(o))) as K8s;
        expect(back.metadata.name).toBe(o.metadata.name);
      }
      // What --all reads, as the authorizer sees the new ClusterRoleBinding (its informer cache lags the apply).
      await admin!.waitAllowed('system:serviceaccount:gwdoctor:gwdoctor', [
        { verb: 'list', group: 'gateway.networking.k8s.io', resource: 'httproutes' },
        { verb: 'list', group: 'gateway.networking.k8s.io', resource: 'gateways' },
        { verb: 'list', resource: 'services' },
      ]);
    },
  );

  itLive('refuses the CronJob as shipped (no image chosen yet), and takes it with the image by digest', async () => {
    expect(containers(CRON).map((c) => c.image)).toEqual(['']);
    expectImageRequired(await apply(CRON), 'spec.jobTemplate.spec.template.spec.containers[0].image');
    const r = await apply(withImage(CRON, DIGEST));
    expect(r.status, JSON.stringify(r.json).slice(0, 300)).toBeLessThan(300);
    const back = (await admin!.get(path(CRON))) as K8s;
    expect(containers(back).map((c) => c.image)).toEqual([DIGEST]);
    expect(
      (back.spec as { jobTemplate: { spec: { template: { spec: { serviceAccountName: string } } } } }).jobTemplate.spec
        .template.spec.serviceAccountName,
    ).toBe('gwdoctor');
  });

  itLive(
    'refuses the Argo CD hook Job as shipped; with a digest, each creation (one per sync, per Application) gets a name of its own',
    async () => {
      expect(JOB.metadata.name).toBeUndefined();
      expect(JOB.metadata.generateName).toBe('gwdoctor-postsync-');
      // Argo CD creates a generateName hook (apply needs a name): a POST to the collection
      const create = (o: K8s, dryRun = false) =>
        admin!.raw('POST', `${path(o, false)}${dryRun ? '?dryRun=All' : ''}`, o);
      expectImageRequired(await create(JOB), 'spec.template.spec.containers[0].image');
      const filled = withImage(JOB, DIGEST);
      expect((await create(filled, true)).status).toBe(201);
      const names: string[] = [];
      for (let i = 0; i < 2; i++) {
        const r = await create(filled);
        expect(r.status, JSON.stringify(r.json).slice(0, 300)).toBe(201);
        const made = r.json as {
          metadata: { name: string; annotations: Record<string, string> };
          spec: { template: { spec: { serviceAccountName: string } } };
        };
        expect(made.metadata.annotations).toMatchObject({
          'argocd.argoproj.io/hook': 'PostSync',
          'argocd.argoproj.io/hook-delete-policy': 'HookSucceeded',
        });
        expect(made.spec.template.spec.serviceAccountName).toBe('gwdoctor');
        names.push(made.metadata.name);
      }
      expect(names.every((n) => n.startsWith('gwdoctor-postsync-'))).toBe(true);
      expect(new Set(names).size).toBe(2);
    },
  );

  itLive('kubectl says the same to a user who applies the files as shipped', (ctx) => {
    const kubectl = which('kubectl');
    if (!kubectl) {
      if (process.env['CI'] === 'true') throw new Error('kubectl is missing: run scripts/install-net-deps.sh');
      return ctx.skip();
    }
    for (const [verb, file] of [
      ['apply', 'cronjob-prometheus.yaml'],
      ['create', 'argocd-postsync-job.yaml'],
    ] as const) {
      const r = spawnSync(
        kubectl,
        [
          '--kubeconfig',
          live!.kubeconfig,
          '--context',
          'admin',
          verb,
          '--dry-run=server',
          '-f',
          join(ROOT, 'deploy', file),
        ],
        { encoding: 'utf8', timeout: 60_000 },
      );
      expect(r.status, `${verb} ${file}: ${r.stdout}${r.stderr}`).not.toBe(0);
      expect(r.stderr).toMatch(/spec\.(?:jobTemplate\.spec\.)?template\.spec\.containers\[0\]\.image: Required value/);
    }
  });

  itLive(
    'gives the ServiceAccount exactly enough to run gwdoctor --all: every host of the seed cluster is checked, exit 0',
    async () => {
      const tr = await admin!.raw('POST', '/api/v1/namespaces/gwdoctor/serviceaccounts/gwdoctor/token', {
        apiVersion: 'authentication.k8s.io/v1',
        kind: 'TokenRequest',
        spec: { expirationSeconds: 600 },
      });
      expect(tr.status).toBe(201);
      const token = (tr.json as { status: { token: string } }).status.token;
      const kubeconfig = join(live!.dir, 'sa-kubeconfig');
      writeFileSync(
        kubeconfig,
        `apiVersion: v1\nkind: Config\nclusters:\n- name: c\n  cluster: {server: "${live!.server}", certificate-authority: "${live!.caFile}"}\nusers:\n- {name: sa, user: {token: ${token}}}\ncontexts:\n- {name: sa, context: {cluster: c, user: sa}}\ncurrent-context: sa\n`,
        { mode: 0o600 },
      );
      // the Job's own arguments (without --wait: the seed cluster is settled), offline: no proxy in this test
      const args = (JOB.spec as { template: { spec: { containers: { args: string[] }[] } } }).template.spec
        .containers[0]!.args;
      expect(args).toEqual(['--all', '--wait', '2m', '-o', 'json']);
      const r = gwdoctor(['--kubeconfig', kubeconfig, '--offline', '--all', '-o', 'json']);
      expect(r.stderr).toBe('');
      const report = JSON.parse(r.stdout);
      expect(
        r.code,
        JSON.stringify(
          report.targets.map((t: { layers: unknown[] }) =>
            t.layers.filter(
              (l) => (l as { status: string }).status !== 'pass' && (l as { status: string }).status !== 'skip',
            ),
          ),
        ),
      ).toBe(0);
      expect(validateReport(report)).toBe(true);
      expect(report.targets.map((t: { host: string; verdict: string }) => `${t.host} ${t.verdict}`)).toEqual([
        'api.example.com pass',
        'worker.example.com pass',
      ]);
      expect(r.stdout).not.toContain(token);
      // and it is read-only: the same token cannot create anything
      const sa = new Kube(live!.server, readFileSync(live!.caFile), token);
      const w = await sa.raw('POST', '/api/v1/namespaces/gwdoctor/configmaps', {
        apiVersion: 'v1',
        kind: 'ConfigMap',
        metadata: { name: 'x' },
      });
      expect(w.status).toBe(403);
    },
  );
});
