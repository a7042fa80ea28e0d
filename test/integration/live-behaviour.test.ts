// Live-only behaviour against the real kube-apiserver: RBAC, API server going away, CRDs missing, a wrong CA,
// ReferenceGrant served as v1 or only as v1beta1, and proof from the audit log that gwdoctor never writes.

import { readFileSync } from 'node:fs';
import { createServer, connect, type Server, type Socket } from 'node:net';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect } from 'vitest';
import { applyScenario, type Applied } from './harness/apply.js';
import { crdDocs, freePort, installCrds, startExtraApiServer, writeKubeconfig } from './harness/controlplane.js';
import { Kube } from './harness/kube.js';
import { istiod, itLive, live, liveCluster } from './live.js';
import { planDirect } from '../../src/net/direct.js';
import { PathResolver } from '../../src/gatewayapi/resolver.js';
import { parseTarget } from '../../src/target.js';
import { parseAllDocuments, parseDocument } from 'yaml';
import { ROOT, gwdoctor, gwdoctorAsync, validateReport } from '../helpers/cli.js';
import { FIXTURES, scenarioDir } from '../helpers/fixtures.js';

const admin = live ? new Kube(live.server, readFileSync(live.caFile), 'admin-token') : null;

const kubeconfigFor = (server: string, token: string, file: string) =>
  writeKubeconfig(file, server, token, live?.caFile ?? null);

/** Load a fixture scenario into the main control plane (status by istiod when it runs there) for the enclosing describe. */
function withScenario(name: string): void {
  let applied: Applied | undefined;
  beforeAll(async () => {
    if (admin) applied = await applyScenario(admin, scenarioDir(name), { status: istiod ? 'istiod' : 'fixture' });
  }, 120_000);
  afterAll(async () => {
    await applied?.cleanup();
  }, 120_000);
}

describe('against the seed cluster', () => {
  withScenario('seed-healthy');

  itLive('a read-only user (the ClusterRole in deploy/rbac.yaml) sees every cluster layer checked, exit 0', () => {
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
    expect(r.code).toBe(0);
    const report = JSON.parse(r.stdout);
    expect(validateReport(report)).toBe(true);
    expect(report.source).toMatchObject({ mode: 'live', context: 'readonly', server: live!.server });
    expect(report.targets[0].layers.map((l: { status: string }) => l.status)).toEqual([
      'skip',
      'skip',
      'pass',
      'pass',
      'pass',
      'pass',
      'pass',
      'skip',
    ]);
  });

  itLive(
    'a user without list on referencegrants gets an error at grant naming verb, resource and namespace, exit 2',
    () => {
      const r = gwdoctor(['--kubeconfig', live!.kubeconfig, '--context', 'restricted', '--offline', 'api.example.com']);
      expect(r.code).toBe(2);
      expect(r.stdout).toMatch(
        /! grant +forbidden: cannot list referencegrants\.gateway\.networking\.k8s\.io in namespace example-api/,
      );
      expect(r.stdout).toMatch(
        /User "restricted" cannot list resource "referencegrants" in API group "gateway.networking.k8s.io" in the namespace "example-api"/,
      );
      expect(r.stdout).toMatch(/\[ClusterForbidden\]/);
      expect(r.stdout).toMatch(/inconclusive: could not check grant/);
    },
  );

  itLive(
    'a role without grpcroutes (written before gwdoctor read them) still checks every layer; the route layer says GRPCRoutes were not checked',
    () => {
      const r = gwdoctor([
        '--kubeconfig',
        live!.kubeconfig,
        '--context',
        'legacy',
        '--offline',
        '-o',
        'json',
        'api.example.com',
      ]);
      expect(r.code, r.stderr).toBe(0);
      const layers = JSON.parse(r.stdout).targets[0].layers as {
        id: string;
        status: string;
        code: string | null;
        summary: string;
        evidence: { ref: string; detail: string }[];
      }[];
      expect(layers.map((l) => `${l.id}:${l.status}`)).toEqual([
        'dns:skip',
        'proxy:skip',
        'listener:pass',
        'route:warn',
        'grant:pass',
        'endpoints:pass',
        'mesh:warn',
        'dataplane:skip',
      ]);
      const route = layers[3]!;
      expect(route.code).toBe('GRPCRouteNotChecked');
      expect(route.summary).toMatch(
        /serves api\.example\.com\/.*; GRPCRoutes could not be read \(forbidden\), so a GRPCRoute for this host, which would share the route list, was not checked/,
      );
      expect(route.evidence).toContainEqual({
        ref: 'GRPCRoutes',
        detail: expect.stringMatching(
          /^not read: forbidden: cannot list grpcroutes\.gateway\.networking\.k8s\.io.*; taken as none$/,
        ),
      });
      // Nor may it list Istio's policies: the mesh layer says it was not checked and why, never a pass.
      const mesh = layers[6]!;
      expect(mesh.code).toBe('MeshNotChecked');
      expect(mesh.summary).toMatch(
        /^mesh policies not checked: forbidden: cannot list (authorizationpolicies\.security|peerauthentications\.security|destinationrules\.networking)\.istio\.io at the cluster scope/,
      );
    },
  );

  itLive('a kubeconfig whose CA does not match the server gives a clear TLS message, exit 2', () => {
    const r = gwdoctor(['--kubeconfig', live!.kubeconfig, '--context', 'wrong-ca', '--offline', 'api.example.com']);
    expect(r.code).toBe(2);
    expect(r.stdout).toMatch(
      /TLS error talking to https:\/\/127\.0\.0\.1:\d+: (UNABLE_TO_VERIFY_LEAF_SIGNATURE|SELF_SIGNED_CERT_IN_CHAIN|DEPTH_ZERO_SELF_SIGNED_CERT)/,
    );
    expect(r.stdout).toMatch(/\[ClusterTlsError\]/);
  });

  itLive(
    'an API server that goes away mid-run ends it with exit 2 and a clear line, retried by --wait until the deadline',
    async () => {
      // A TCP relay stands in for the API server: it serves the first connection (discovery), holds every later one,
      // then "stops": open connections are cut and new ones refused.
      const upstream = new URL(live!.server);
      const sockets = new Set<Socket>();
      let connections = 0;
      const relay: Server = createServer((c) => {
        sockets.add(c);
        c.on('error', () => undefined);
        if (++connections > 1) return; // held: never forwarded
        const u = connect(Number(upstream.port), upstream.hostname);
        sockets.add(u);
        u.on('error', () => c.destroy());
        c.pipe(u).pipe(c);
      });
      const port = await freePort();
      await new Promise<void>((r) => relay.listen(port, '127.0.0.1', r));
      relay.once('connection', () =>
        setTimeout(() => {
          relay.close();
          for (const s of sockets) s.destroy();
        }, 700),
      );
      const kc = kubeconfigFor(`https://127.0.0.1:${port}`, 'viewer-token', join(live!.dir, 'relay.kubeconfig'));
      const started = Date.now();
      const r = await gwdoctorAsync([
        '--kubeconfig',
        kc,
        '--offline',
        '--timeout',
        '10s',
        '--wait',
        '5s',
        'api.example.com',
      ]);
      const elapsed = Date.now() - started;
      relay.close();
      expect(r.stderr).toBe('');
      expect(r.code).toBe(2);
      expect(r.stdout).toMatch(/! listener +cannot reach the API server https:\/\/127\.0\.0\.1:\d+: ECONNREFUSED/);
      expect(r.stdout).toMatch(/api\.example\.com\/ inconclusive: could not check listener after \d+ attempts/);
      expect(connections).toBeGreaterThan(1);
      expect(elapsed).toBeLessThan(10_000);
    },
  );
});

describe('a second API server without the Gateway API CRDs', () => {
  let kube: Kube | undefined;
  let server = '';
  let stop: (() => void) | undefined;
  beforeAll(async () => {
    if (!live) return;
    const extra = await startExtraApiServer(live, 'bare');
    ({ server, kube, stop } = extra);
  }, 180_000);
  afterAll(() => stop?.());

  itLive('says the Gateway API is not installed, exit 2', () => {
    const r = gwdoctor([
      '--kubeconfig',
      kubeconfigFor(server, 'admin-token', join(live!.dir, 'bare.kubeconfig')),
      '--offline',
      'api.example.com',
    ]);
    expect(r.code).toBe(2);
    expect(r.stdout).toMatch(
      /! listener +the Gateway API is not installed on https:\/\/127\.0\.0\.1:\d+: the API server serves no gateway\.networking\.k8s\.io group \[GatewayApiMissing\]/,
    );
  });

  itLive(
    'works with ReferenceGrant served only as v1beta1 (CRDs before Gateway API v1.5), and prints a v1beta1 grant',
    async () => {
      // The real v1.6 CRDs, with ReferenceGrant v1 switched off and no ListenerSet (standard only since v1.5): what a
      // cluster on older CRDs serves. A kind the server does not serve is read as none, not as an error.
      const docs = crdDocs(live!.crds, 'gateway-api')
        .filter((d) => (d['metadata'] as { name: string }).name !== 'listenersets.gateway.networking.k8s.io')
        .map((d) => {
          if ((d['metadata'] as { name: string }).name !== 'referencegrants.gateway.networking.k8s.io') return d;
          const spec = d['spec'] as { versions: { name: string; served: boolean; storage: boolean }[] };
          return { ...d, spec: { ...spec, versions: spec.versions.filter((v) => v.name !== 'v1') } };
        });
      await installCrds(kube!, docs);
      const served = (await kube!.get('/apis/gateway.networking.k8s.io/v1')) as { resources: { name: string }[] };
      expect(served.resources.map((r) => r.name)).not.toContain('referencegrants');
      expect(served.resources.map((r) => r.name)).not.toContain('listenersets');

      const kc = kubeconfigFor(server, 'admin-token', join(live!.dir, 'bare.kubeconfig'));
      const healthy = await applyScenario(kube!, join(FIXTURES, 'seed-healthy'));
      try {
        const ok = gwdoctor(['--kubeconfig', kc, '--offline', 'api.example.com']);
        expect(ok.code, ok.stdout).toBe(0);
        expect(ok.stdout).toMatch(/✔ grant +ReferenceGrants permit 1 cross-namespace backendRef/);
      } finally {
        await healthy.cleanup();
      }
      const missing = await applyScenario(kube!, scenarioDir('grant-missing'));
      try {
        const r = gwdoctor(['--kubeconfig', kc, '--offline', '-o', 'json', 'api.example.com']);
        expect(r.code).toBe(1);
        const grant = JSON.parse(r.stdout).targets[0].layers[4];
        expect(grant.code).toBe('ReferenceGrantMissing');
        expect(grant.fix).toMatchObject({
          kind: 'apply',
          object: { apiVersion: 'gateway.networking.k8s.io/v1beta1', kind: 'ReferenceGrant' },
        });
      } finally {
        await missing.cleanup();
      }
    },
    120_000,
  );
});

describe('ReferenceGrant served as v1 (Gateway API v1.5+ CRDs, the main control plane)', () => {
  withScenario('grant-missing');

  itLive('prints a v1 ReferenceGrant to apply', () => {
    const r = gwdoctor(['--kubeconfig', live!.kubeconfig, '--offline', '-o', 'json', 'api.example.com']);
    expect(r.code).toBe(1);
    expect(JSON.parse(r.stdout).targets[0].layers[4].fix).toMatchObject({
      kind: 'apply',
      object: { apiVersion: 'gateway.networking.k8s.io/v1', kind: 'ReferenceGrant' },
    });
  });
});

describe('gwdoctor is read-only', () => {
  // Between them these runs use every read gwdoctor makes: the cluster layers (seed-healthy), a listener's
  // allowedRoutes namespace selector (allowed-routes-selector), ListenerSets (route-listenerset-parent: read only when a
  // Gateway admits them), ServiceEntries (backend-service-entry: read only for a Hostname backendRef) and the direct
  // NodePort plan the proxy layer makes
  // when the proxy answers an error (Gateway Service by label, node addresses). The contract test adds a run over
  // every fixture to the same audit log when it runs first.
  describe.each(['seed-healthy', 'allowed-routes-selector', 'route-listenerset-parent', 'backend-service-entry'])(
    'a full run on %s as the read-only user',
    (name) => {
      withScenario(name);
      itLive('checks every target, and plans the direct NodePort probe', async () => {
        for (const t of ['api.example.com', 'worker.example.com']) {
          const r = gwdoctor(['--kubeconfig', live!.kubeconfig, '--context', 'readonly', '--offline', '-o', 'json', t]);
          // route-listenerset-parent: api.example.com is inconclusive by design (RouteParentNotChecked, exit 2); never for want of a permission.
          expect(name === 'route-listenerset-parent' ? [0, 1, 2] : [0, 1], r.stderr).toContain(r.code);
          expect(r.stdout).not.toMatch(/ClusterForbidden|ClusterUnauthorized/);
        }
        const plan = await planDirect(
          new PathResolver(await liveCluster('readonly'), parseTarget('api.example.com'), null),
        );
        expect(plan.ok).toBe(true);
      });
    },
  );

  itLive('the API server audit log shows only get and list requests from the users gwdoctor ran as', () => {
    const ours = auditEntries().filter((e) => e.user.username === 'viewer' || e.user.username === 'restricted');
    expect(ours.length).toBeGreaterThan(10);
    const writes = ours.filter((e) => !['get', 'list'].includes(e.verb));
    expect(writes).toEqual([]);
  });

  itLive('deploy/rbac.yaml grants exactly the (verb, group, resource) requests gwdoctor made, both ways', () => {
    const doc = parseDocument(readFileSync(join(ROOT, 'deploy', 'rbac.yaml'), 'utf8')).toJS() as {
      rules: { apiGroups: string[]; resources: string[]; verbs: string[] }[];
    };
    const granted = new Set(
      doc.rules.flatMap((r) =>
        r.apiGroups.flatMap((g) => r.resources.flatMap((res) => r.verbs.map((v) => `${v} ${g}/${res}`))),
      ),
    );
    const used = new Set(
      auditEntries()
        .filter((e) => e.user.username === 'viewer' && e.objectRef?.resource)
        .map(
          (e) =>
            `${e.verb} ${e.objectRef?.apiGroup ?? ''}/${e.objectRef?.resource}${e.objectRef?.subresource ? `/${e.objectRef.subresource}` : ''}`,
        ),
    );
    // Secrets come from the optional deploy/rbac-secrets.yaml (bound to the same user by the harness), not rbac.yaml.
    // So do the port-forwards to istiod (the optional deploy/rbac-dataplane.yaml, bound by test/integration/dataplane.test.ts)
    // and the Envoy admin port-forward (the optional deploy/rbac-envoy-admin.yaml: tried, and refused, for this user
    // where istiod's Service exists, test/integration/dataplane-envoy.test.ts).
    const optional = ['rbac-secrets.yaml', 'rbac-dataplane.yaml', 'rbac-envoy-admin.yaml']
      .flatMap((f) => parseAllDocuments(readFileSync(join(ROOT, 'deploy', f), 'utf8')))
      .map((d) => d.toJS() as { kind: string; rules?: { apiGroups: string[]; resources: string[]; verbs: string[] }[] })
      .flatMap((d) => (d.kind === 'Role' ? (d.rules ?? []) : []))
      .flatMap((r) => r.apiGroups.flatMap((g) => r.resources.flatMap((res) => r.verbs.map((v) => `${v} ${g}/${res}`))));
    expect([...used].sort(), 'requests the role does not grant').toEqual(
      [...used].filter((u) => granted.has(u) || optional.includes(u)).sort(),
    );
    expect([...granted].sort(), 'grants gwdoctor never used').toEqual([...granted].filter((g) => used.has(g)).sort());
  });
});

interface AuditEntry {
  verb: string;
  user: { username: string };
  requestURI: string;
  objectRef?: { resource?: string; apiGroup?: string; namespace?: string; subresource?: string };
}

function auditEntries(): AuditEntry[] {
  return readFileSync(live!.auditLog, 'utf8')
    .split('\n')
    .filter((l) => l.trim() !== '')
    .map((l) => JSON.parse(l) as AuditEntry);
}
