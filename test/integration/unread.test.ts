// What could not be read, on the real API server: a user whose role loses list on one kind (GRPCRoutes, as a role
// written before gwdoctor read them) while gwdoctor runs against it. The attempt's snapshot records the refused list
// as a typed record (src/cluster/snapshot.ts Unreadable: kind, reason forbidden, verb, resource, status), the route
// layer carries it as facts.unread and says, in text, what was not checked. The RBAC change is waited for through the
// authorizer itself (SubjectAccessReview), never the clock.

import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseAllDocuments } from 'yaml';
import { afterAll, beforeAll, describe, expect } from 'vitest';
import { LiveCluster } from '../../src/cluster/live.js';
import { PathResolver } from '../../src/gatewayapi/resolver.js';
import { parseTarget } from '../../src/target.js';
import { gwdoctor } from '../helpers/cli.js';
import { FIXTURES } from '../helpers/fixtures.js';
import { tempDir } from '../helpers/tmp.js';
import { applyScenario, type Applied } from './harness/apply.js';
import { writeKubeconfig } from './harness/controlplane.js';
import { Kube, type Access, type Obj } from './harness/kube.js';
import { istiod, itLive, live } from './live.js';

const ROOT = join(import.meta.dirname, '..', '..');
const admin = live ? new Kube(live.server, readFileSync(live.caFile), 'admin-token') : null;
/** A user of this run only (impersonated by the admin token), so that parallel runs never share a binding. */
const user = `gwdoctor-unread-${process.pid}-${Date.now()}`;
const GRPC: Access = { verb: 'list', group: 'gateway.networking.k8s.io', resource: 'grpcroutes' };
const HTTP: Access = { verb: 'list', group: 'gateway.networking.k8s.io', resource: 'httproutes' };

type Rule = { apiGroups: string[]; resources: string[]; verbs: string[] };
/** The read-only ClusterRole gwdoctor ships (deploy/rbac.yaml), its rules with `without` removed. */
function shipped(without: string[] = []): Rule[] {
  const role = parseAllDocuments(readFileSync(join(ROOT, 'deploy', 'rbac.yaml'), 'utf8'))
    .map((d) => d.toJS() as { kind: string; rules?: Rule[] })
    .find((d) => d.kind === 'ClusterRole') as { rules: Rule[] };
  return role.rules
    .map((r) => ({ ...r, resources: r.resources.filter((x) => !without.includes(x)) }))
    .filter((r) => r.resources.length > 0);
}

type Layer = {
  id: string;
  status: string;
  code: string | null;
  summary: string;
  evidence: { ref: string; detail: string }[];
  facts: { unread?: unknown[] };
};

describe('a kind the user may not list (RBAC changed while gwdoctor is in use)', () => {
  let applied: Applied | undefined;
  const made: Obj[] = [];
  let kubeconfig = '';
  const role = {
    apiVersion: 'rbac.authorization.k8s.io/v1',
    kind: 'ClusterRole',
    metadata: { name: user },
    rules: shipped(),
  };
  beforeAll(async () => {
    if (!admin || !live) return;
    applied = await applyScenario(admin, join(FIXTURES, 'seed-healthy'), { status: istiod ? 'istiod' : 'fixture' });
    made.push(await admin.create(role));
    made.push(
      await admin.create({
        apiVersion: 'rbac.authorization.k8s.io/v1',
        kind: 'ClusterRoleBinding',
        metadata: { name: user },
        roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: user },
        subjects: [{ apiGroup: 'rbac.authorization.k8s.io', kind: 'User', name: user }],
      }),
    );
    await admin.waitAllowed(user, [HTTP, GRPC]);
    kubeconfig = writeKubeconfig(
      join(tempDir('gwd-unread-'), 'kubeconfig'),
      live.server,
      'admin-token',
      live.caFile,
      user,
    );
  }, 300_000);
  afterAll(async () => {
    for (const o of made.reverse()) await admin?.delete(o);
    await applied?.cleanup();
  }, 300_000);

  const run = (args: string[]) => gwdoctor(['--kubeconfig', kubeconfig, '--offline', ...args, 'api.example.com']);
  const routeOf = (stdout: string) =>
    (JSON.parse(stdout).targets[0].layers as Layer[]).find((l) => l.id === 'route') as Layer;

  itLive(
    'with list on every kind nothing is recorded; without list on grpcroutes the snapshot records it as forbidden and the report says GRPCRoutes were not checked',
    async () => {
      const before = run(['-o', 'json']);
      expect(before.code, before.stderr).toBe(0);
      const r0 = routeOf(before.stdout);
      expect([r0.status, r0.facts.unread]).toEqual(['pass', undefined]);

      // The RBAC change: the role loses grpcroutes; the authorizer's informer shows it a moment later.
      const path = admin!.path(role as unknown as Obj);
      const patched = await admin!.raw(
        'PATCH',
        path,
        { rules: shipped(['grpcroutes']) },
        'application/merge-patch+json',
      );
      expect(patched.status).toBe(200);
      await admin!.waitDenied(user, [GRPC]);
      await admin!.waitAllowed(user, [HTTP]);

      // The reader's own record, per kind, in this attempt's snapshot.
      const reader = await LiveCluster.create({ ok: true, kind: 'files', files: [kubeconfig] }, null);
      const p = new PathResolver(reader, parseTarget('api.example.com'), null);
      expect((await p.route()).kind).toBe('matched');
      expect(reader.snapshot().unreadable()).toEqual([
        {
          kind: 'GRPCRoute',
          reason: 'forbidden',
          verb: 'list',
          resource: 'grpcroutes.gateway.networking.k8s.io',
          status: 403,
          outcome: 'none',
          message: expect.stringContaining(`User "${user}" cannot list resource "grpcroutes"`),
        },
      ]);

      // The report: typed facts, and the text says what was not checked (the exit code stays a warning's, 0).
      const json = run(['-o', 'json']);
      expect(json.code, json.stderr).toBe(0);
      const route = routeOf(json.stdout);
      expect([route.status, route.code]).toEqual(['warn', 'GRPCRouteNotChecked']);
      expect(route.facts.unread).toEqual([
        {
          kind: 'GRPCRoute',
          reason: 'forbidden',
          verb: 'list',
          resource: 'grpcroutes.gateway.networking.k8s.io',
          status: 403,
          outcome: 'none',
        },
      ]);
      const text = run([]);
      expect(text.code, text.stderr).toBe(0);
      expect(text.stdout).toContain(
        'GRPCRoutes could not be read (forbidden), so a GRPCRoute for this host, which would share the route list, was not checked',
      );
      expect(text.stdout).toContain('[GRPCRouteNotChecked]');
    },
    120_000,
  );
});
