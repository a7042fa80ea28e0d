// Listener certificates on a real API server with real istiod: reading Secrets is optional and narrow. The read-only
// test user holds deploy/rbac-secrets.yaml's rules (get secrets, resourceNames [example-com-tls]); a certificate Secret
// of another name is forbidden to it, and gwdoctor must then say "not checked" with the API server's reason and pass
// (exit 0), never fail or call the run inconclusive. Secrets are only ever read by name (GET), never listed.

import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect } from 'vitest';
import { parseAllDocuments, stringify } from 'yaml';
import { loadManifests } from '../../src/cluster/manifests.js';
import type { Gateway } from '../../src/cluster/objects.js';
import { gwdoctor, ROOT } from '../helpers/cli.js';
import { scenarioDir } from '../helpers/fixtures.js';
import { applyScenario, type Applied } from './harness/apply.js';
import { Kube } from './harness/kube.js';
import { istiod, itIstiod, live } from './live.js';
import { tempDir } from '../helpers/tmp.js';

const admin = live ? new Kube(live.server, readFileSync(live.caFile), 'admin-token') : null;

/** listener-https-cert-valid with the Secret (and the listener's ref) renamed to one the narrow Role does not name. */
function renamedScenario(): string {
  const objs = loadManifests([scenarioDir('listener-https-cert-valid')], { keep: 'all' }).map((o) =>
    structuredClone(o),
  );
  for (const o of objs) {
    if (o.kind === 'Secret') o.metadata.name = 'unlisted-tls';
    if (o.kind === 'Gateway' && o.metadata.name === 'example-istio-gateway')
      ((o as Gateway).spec.listeners?.[0]?.tls?.certificateRefs?.[0] as { name: string }).name = 'unlisted-tls';
  }
  const dir = tempDir('gwd-cert-rbac-');
  writeFileSync(join(dir, 'cluster.yaml'), stringify({ apiVersion: 'v1', kind: 'List', items: objs }));
  return dir;
}

describe('a certificate Secret the read-only user may not get', () => {
  let applied: Applied | undefined;
  beforeAll(async () => {
    if (admin && istiod) applied = await applyScenario(admin, renamedScenario(), { status: 'istiod' });
  }, 120_000);
  afterAll(async () => {
    await applied?.cleanup();
  }, 120_000);

  itIstiod(
    'is "not checked" with the 403 reason (verb, resource, namespace); the listener passes and the run exits 0',
    () => {
      const r = gwdoctor([
        '--kubeconfig',
        live!.kubeconfig,
        '--context',
        'readonly',
        '--offline',
        '-o',
        'json',
        'api.example.com',
      ]);
      expect(r.code, r.stderr).toBe(0);
      const listener = JSON.parse(r.stdout).targets[0].layers.find((l: { id: string }) => l.id === 'listener');
      expect(listener.status).toBe('pass');
      expect(listener.summary).toMatch(
        /certificate of listener "https" not checked: Secret istio-ingress\/unlisted-tls: forbidden: cannot get secret istio-ingress\/unlisted-tls/,
      );
      expect(listener.summary).toMatch(
        /cannot get resource "secrets" in API group "" in the namespace "istio-ingress"/,
      );
    },
  );

  itIstiod('the API server saw only GETs of named Secrets from gwdoctor, never a LIST or WATCH', () => {
    const secrets = readFileSync(live!.auditLog, 'utf8')
      .split('\n')
      .filter((l) => l.trim() !== '')
      .map(
        (l) =>
          JSON.parse(l) as {
            verb: string;
            user: { username: string };
            objectRef?: { resource?: string; name?: string };
          },
      )
      .filter((e) => e.objectRef?.resource === 'secrets');
    expect(secrets.length).toBeGreaterThan(0);
    expect(secrets.filter((e) => e.verb !== 'get' || !e.objectRef?.name)).toEqual([]);
  });
});

describe('deploy/rbac-secrets.yaml', () => {
  let applied: Applied | undefined;
  const docs = parseAllDocuments(readFileSync(join(ROOT, 'deploy', 'rbac-secrets.yaml'), 'utf8')).map(
    (d) => d.toJS() as { kind: string; metadata: { name: string; namespace: string } },
  );
  const path = (o: { kind: string; metadata: { name: string; namespace: string } }) =>
    `/apis/rbac.authorization.k8s.io/v1/namespaces/${o.metadata.namespace}/${o.kind.toLowerCase()}s/${o.metadata.name}`;
  beforeAll(async () => {
    if (admin && istiod)
      applied = await applyScenario(admin, scenarioDir('listener-https-cert-valid'), { status: 'istiod' });
  }, 120_000);
  afterAll(async () => {
    for (const o of docs) await admin?.raw('DELETE', path(o));
    await applied?.cleanup();
  }, 120_000);

  itIstiod(
    'applies, and lets the gwdoctor ServiceAccount get exactly the named certificate Secret: no other Secret, no list/watch',
    async () => {
      expect(docs.map((d) => d.kind)).toEqual(['Role', 'RoleBinding']);
      for (const o of docs) {
        const r = await admin!.raw(
          'PATCH',
          `${path(o)}?fieldManager=gwdoctor-test&force=true`,
          o,
          'application/apply-patch+yaml',
        );
        expect(r.status, JSON.stringify(r.json).slice(0, 300)).toBeLessThan(300);
      }
      const sa = 'system:serviceaccount:gwdoctor:gwdoctor';
      const can = (verb: string, name?: string) =>
        admin!.can(sa, { namespace: 'istio-ingress', verb, resource: 'secrets', ...(name ? { name } : {}) });
      // The authorizer sees the new Role and RoleBinding through its informer cache: wait until it grants the get
      // (seen allowed=false right after the apply under load), then ask the rest.
      await admin!.waitAllowed(sa, [
        { namespace: 'istio-ingress', verb: 'get', resource: 'secrets', name: 'example-com-tls' },
      ]);
      expect({
        get: await can('get', 'example-com-tls'),
        other: await can('get', 'other-tls'),
        list: await can('list'),
        watch: await can('watch'),
      }).toEqual({ get: true, other: false, list: false, watch: false });
    },
  );
});
