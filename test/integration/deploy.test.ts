// deploy/ on the real control plane: every Kubernetes object in the kit is applied (server-side apply, as kubectl
// apply --server-side does) and read back, and the ServiceAccount it creates, with a token from the TokenRequest
// API, is enough for `gwdoctor --all` to check every cluster layer of the seed cluster.

import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect } from 'vitest';
import { parseAllDocuments } from 'yaml';
import { applyScenario, type Applied } from './harness/apply.js';
import { Kube } from './harness/kube.js';
import { istiod, itLive, live } from './live.js';
import { ROOT, gwdoctor, validateReport } from '../helpers/cli.js';
import { FIXTURES } from '../helpers/fixtures.js';

interface K8s {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string };
}

const admin = live ? new Kube(live.server, readFileSync(live.caFile), 'admin-token') : null;
const FILES = ['rbac.yaml', 'serviceaccount.yaml', 'argocd-postsync-job.yaml', 'cronjob-prometheus.yaml'];
const objects: K8s[] = FILES.flatMap((f) => parseAllDocuments(readFileSync(join(ROOT, 'deploy', f), 'utf8')).map((d) => d.toJS() as K8s));

function path(o: K8s, withName = true): string {
  const base = o.apiVersion.includes('/') ? `/apis/${o.apiVersion}` : `/api/${o.apiVersion}`;
  const ns = o.metadata.namespace ? `/namespaces/${o.metadata.namespace}` : '';
  return `${base}${ns}/${o.kind.toLowerCase()}s${withName ? `/${o.metadata.name}` : ''}`;
}

async function apply(o: K8s): Promise<{ status: number; json: unknown }> {
  return admin!.raw('PATCH', `${path(o)}?fieldManager=gwdoctor-deploy-test&force=true`, o, 'application/apply-patch+yaml');
}

describe('deploy/ applied to the control plane', () => {
  let seed: Applied | undefined;
  beforeAll(async () => {
    if (admin) seed = await applyScenario(admin, join(FIXTURES, 'seed-healthy'), { status: istiod ? 'istiod' : 'fixture' });
  }, 120_000);
  afterAll(async () => {
    if (!admin) return;
    // The ClusterRole is shared with the rest of the suite (the harness installs it too): keep it.
    for (const o of [...objects].reverse()) if (o.kind !== 'ClusterRole' && o.kind !== 'Namespace') await admin.raw('DELETE', `${path(o)}?propagationPolicy=Background`);
    await admin.raw('DELETE', '/api/v1/namespaces/gwdoctor');
    await seed?.cleanup();
  }, 120_000);

  itLive('applies every object of the kit (Namespace, ServiceAccount, bindings, the Argo CD hook Job, the CronJob)', async () => {
    expect(objects.map((o) => o.kind)).toEqual(['ClusterRole', 'Namespace', 'ServiceAccount', 'ClusterRoleBinding', 'Job', 'CronJob']);
    for (const o of objects) {
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
    const job = (await admin!.get(path(objects.find((o) => o.kind === 'Job')!))) as { metadata: { annotations: Record<string, string> }; spec: { template: { spec: { serviceAccountName: string } } } };
    expect(job.metadata.annotations['argocd.argoproj.io/hook']).toBe('PostSync');
    expect(job.spec.template.spec.serviceAccountName).toBe('gwdoctor');
  });

  itLive('gives the ServiceAccount exactly enough to run gwdoctor --all: every host of the seed cluster is checked, exit 0', async () => {
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
    );
    const r = gwdoctor(['--kubeconfig', kubeconfig, '--offline', '--all', '-o', 'json']);
    expect(r.stderr).toBe('');
    const report = JSON.parse(r.stdout);
    expect(r.code, JSON.stringify(report.targets.map((t: { layers: unknown[] }) => t.layers.filter((l) => (l as { status: string }).status !== 'pass' && (l as { status: string }).status !== 'skip')))).toBe(0);
    expect(validateReport(report)).toBe(true);
    expect(report.targets.map((t: { host: string; verdict: string }) => `${t.host} ${t.verdict}`)).toEqual(['api.example.com pass', 'worker.example.com pass']);
    expect(r.stdout).not.toContain(token);
    // and it is read-only: the same token cannot create anything
    const sa = new Kube(live!.server, readFileSync(live!.caFile), token);
    const w = await sa.raw('POST', '/api/v1/namespaces/gwdoctor/configmaps', { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'x' } });
    expect(w.status).toBe(403);
  });
});
