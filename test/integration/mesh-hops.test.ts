// The ztunnel hop of the mesh layer, judged by real istiod with ambient on: for every AuthorizationPolicy of the
// mesh-hop scenarios (and the root-namespace ALLOW), gwdoctor's reading of what istiod gives ztunnel
// (src/mesh/hops.ts ztunnelPolicy: not for ztunnel / refused / enforced with its HTTP attributes dropped) must be the
// ZtunnelAccepted condition istiod writes on the policy (pilot/pkg/serviceregistry/ambient/policies.go
// PolicyCollections, model/service.go WorkloadAuthorization.GetConditions). The shared istiod runs without ambient;
// this file starts its own, with PILOT_ENABLE_AMBIENT=true, against its own API server on the same etcd (so the two
// istiods never write the same objects).

import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect } from 'vitest';
import type { AuthorizationPolicy } from '../../src/cluster/objects.js';
import { loadManifests } from '../../src/cluster/manifests.js';
import { ztunnelPolicy } from '../../src/mesh/hops.js';
import { crdDocs, installCrds, startExtraApiServer, type ExtraApiServer } from './harness/controlplane.js';
import { buildIstiod, startIstiod, type Istiod } from './harness/istiod.js';
import type { Obj } from './harness/kube.js';
import { applyScenario, type Applied } from './harness/apply.js';
import { configDump, connectProxy, rbacPolicies, type GatewayPod } from './harness/xds.js';
import { runScenario, scenarioDir } from '../helpers/fixtures.js';
import type { MeshHopFact } from '../../src/types.js';
import { itIstiod, istiod as sharedIstiod, live } from './live.js';

const SCENARIOS = [
  'mesh-hop-ztunnel-deny-gateway',
  'mesh-hop-ztunnel-deny-waypoint',
  'mesh-hop-ztunnel-l7-allow',
  'mesh-hop-ztunnel-l7-deny',
  'mesh-hop-ztunnel-allow-gateway',
  'mesh-hop-sidecar-deny',
  'mesh-hop-waypoint-deny',
  'mesh-hop-service-deny-bypassed',
  'mesh-authz-root-allow',
  'mesh-authz-custom',
  'mesh-hop-ztunnel-custom',
];

interface Cond {
  type: string;
  status: string;
  reason?: string;
  message?: string;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe("ztunnel: what istiod (ambient on) accepts of each AuthorizationPolicy == gwdoctor's reading", () => {
  let extra: ExtraApiServer | undefined;
  let ambient: Istiod | undefined;
  const policies: AuthorizationPolicy[] = [];
  beforeAll(async () => {
    if (!live || !sharedIstiod) return;
    extra = await startExtraApiServer(live, 'ambient');
    await installCrds(extra.kube, [...crdDocs(live.crds, 'gateway-api'), ...crdDocs(live.crds, 'istio')]);
    const dir = join(live.dir, `ambient-${process.pid}`);
    mkdirSync(dir, { recursive: true });
    ambient = await startIstiod({
      home: buildIstiod(),
      dir,
      server: extra.server,
      caFile: live.caFile,
      forEnvoy: false,
      ambient: true,
    });
    const seen = new Set<string>();
    for (const s of SCENARIOS) {
      for (const o of loadManifests([join(scenarioDir(s), 'cluster.yaml')])) {
        if (o.kind !== 'AuthorizationPolicy') continue;
        const key = `${o.metadata.namespace}/${o.metadata.name}`;
        // Same name in two scenarios: keep them apart by scenario-unique names (the name is no input of the rule).
        const name = seen.has(key) ? `${o.metadata.name}-${policies.length}` : o.metadata.name;
        seen.add(`${o.metadata.namespace}/${name}`);
        policies.push({
          ...(o as AuthorizationPolicy),
          metadata: { name, namespace: o.metadata.namespace ?? 'default' },
        });
      }
    }
    for (const ns of new Set(policies.map((p) => p.metadata.namespace as string))) {
      await extra.kube.create({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: ns } }).catch(() => undefined);
    }
    for (const p of policies)
      await extra.kube.create({
        apiVersion: 'security.istio.io/v1',
        kind: 'AuthorizationPolicy',
        metadata: p.metadata,
        spec: p.spec,
      });
  }, 240_000);
  afterAll(async () => {
    await ambient?.stop();
    extra?.stop();
  }, 30_000);

  itIstiod(
    "every policy's ZtunnelAccepted condition is what gwdoctor predicts",
    async () => {
      expect(policies.length).toBeGreaterThan(8);
      const conds = new Map<string, Cond | null>();
      const until = Date.now() + 60_000;
      // Wait (with a deadline) until every policy gwdoctor says ztunnel gets has its condition; then once more for the rest.
      for (;;) {
        for (const p of policies) {
          const o = (await extra!.kube.get(
            `/apis/security.istio.io/v1/namespaces/${p.metadata.namespace}/authorizationpolicies/${p.metadata.name}`,
          )) as Obj & { status?: { conditions?: Cond[] } };
          conds.set(
            `${p.metadata.namespace}/${p.metadata.name}`,
            o.status?.conditions?.find((c) => c.type === 'ZtunnelAccepted') ?? null,
          );
        }
        const missing = policies.filter(
          (p) => ztunnelPolicy(p) !== null && !conds.get(`${p.metadata.namespace}/${p.metadata.name}`),
        );
        if (missing.length === 0) break;
        if (Date.now() > until)
          throw new Error(`no ZtunnelAccepted after 60 s on ${missing.map((p) => p.metadata.name).join(', ')}`);
        await sleep(250);
      }
      const rows = policies.map((p) => {
        const z = ztunnelPolicy(p);
        const c = conds.get(`${p.metadata.namespace}/${p.metadata.name}`) ?? null;
        const predicted =
          z === null
            ? 'none'
            : z.kind === 'refused'
              ? 'refused'
              : z.l7.length > 0
                ? `accepted-without-http:${z.action}`
                : 'accepted';
        const actual =
          c === null
            ? 'none'
            : c.status === 'False'
              ? 'refused'
              : c.reason === 'UnsupportedValue' && /ztunnel does not support HTTP attributes/.test(c.message ?? '')
                ? `accepted-without-http:${/Within an ALLOW policy/.test(c.message ?? '') ? 'ALLOW' : 'DENY'}`
                : c.reason === 'Accepted'
                  ? 'accepted'
                  : `other:${c.reason}`;
        return { policy: `${p.metadata.namespace}/${p.metadata.name}`, predicted, actual, message: c?.message ?? '' };
      });
      process.stderr.write(
        `[mesh-hops] ZtunnelAccepted:\n${rows.map((r) => `  ${r.policy}: ${r.actual} (${r.message})`).join('\n')}\n`,
      );
      expect(rows.map(({ policy, actual }) => ({ policy, actual }))).toEqual(
        rows.map(({ policy, predicted }) => ({ policy, actual: predicted })),
      );
      // The scenarios cover each kind of answer.
      for (const k of ['none', 'refused', 'accepted', 'accepted-without-http'])
        expect(rows.map((r) => r.actual.split(':')[0])).toContain(k);
    },
    120_000,
  );
});

/** The Envoy RBAC policy names istiod generates for a policy's rules (builder.go: an ALLOW without rules still gets rule[0]). */
function rbacNames(facts: MeshHopFact, rulesOf: (ns: string, name: string) => number): string[] {
  return facts.policies
    .filter((p) => p.enforced && (p.action === 'ALLOW' || p.action === 'DENY'))
    .flatMap((p) => {
      const n = Math.max(rulesOf(p.policy.namespace ?? 'default', p.policy.name), p.action === 'ALLOW' ? 1 : 0);
      return Array.from(
        { length: n },
        (_, i) => `${p.action} ns[${p.policy.namespace}]-policy[${p.policy.name}]-rule[${i}]`,
      );
    })
    .sort();
}

const podOf = (o: Obj): GatewayPod => ({
  name: o.metadata.name,
  namespace: o.metadata.namespace as string,
  ip: ((o as { status?: { podIP?: string } }).status?.podIP as string) ?? '10.42.0.99',
  serviceAccount: ((o as { spec?: { serviceAccountName?: string } }).spec?.serviceAccountName as string) ?? 'default',
  labels: (o.metadata['labels'] ?? {}) as Record<string, string>,
});

/** The istio.security.Authorization resources istiod gives ztunnel, as its config dump (protobuf JSON) shows them. */
interface WadsAuthorization {
  name: string;
  namespace: string;
  action?: string;
  groups?: { rules?: { matches?: Record<string, unknown>[] }[] }[];
}

// The hops after the gateway, on a cluster reconciled by istiod with ambient on: istiod's generated configuration for
// the waypoint proxy (its RBAC filter), for ztunnel (WDS authorizations) and for the destination sidecar (its RBAC
// filter) must hold exactly the policies gwdoctor's facts.mesh.hops say reach that hop.
const HOP_SCENARIOS = [
  'mesh-hop-waypoint-deny',
  'mesh-hop-waypoint-allow-other-path',
  'mesh-hop-waypoint-class-allow',
  'mesh-hop-ztunnel-deny-waypoint',
  'mesh-hop-ztunnel-l7-allow',
  'mesh-hop-ztunnel-l7-deny',
  'mesh-hop-sidecar-deny',
  'mesh-authz-root-allow',
  'mesh-hop-ztunnel-custom',
];

describe('the hops after the gateway: istiod (ambient on) generates for each hop the policies gwdoctor says reach it', () => {
  let extra: ExtraApiServer | undefined;
  let ambient: Istiod | undefined;
  beforeAll(async () => {
    if (!live || !sharedIstiod) return;
    extra = await startExtraApiServer(live, 'ambient-hops');
    await installCrds(extra.kube, [...crdDocs(live.crds, 'gateway-api'), ...crdDocs(live.crds, 'istio')]);
    const dir = join(live.dir, `ambient-hops-${process.pid}`);
    mkdirSync(dir, { recursive: true });
    ambient = await startIstiod({
      home: buildIstiod(),
      dir,
      server: extra.server,
      caFile: live.caFile,
      forEnvoy: false,
      ambient: true,
    });
  }, 240_000);
  afterAll(async () => {
    await ambient?.stop();
    extra?.stop();
  }, 30_000);

  for (const name of HOP_SCENARIOS) {
    itIstiod(
      `${name}: waypoint, ztunnel and sidecar configuration == facts.mesh.hops`,
      async () => {
        const dir = scenarioDir(name);
        const kube = extra!.kube;
        let applied: Applied | undefined;
        const conns: { close(): void }[] = [];
        try {
          applied = await applyScenario(kube, dir, { status: 'istiod' });
          const report = await runScenario(dir, 'api.example.com');
          const hops = report.layers.find((l) => l.id === 'mesh')?.facts.mesh?.hops ?? [];
          const objs = loadManifests([join(dir, 'cluster.yaml')]);
          const aps = objs.filter((o): o is AuthorizationPolicy => o.kind === 'AuthorizationPolicy');
          const rulesOf = (ns: string, n: string) =>
            aps.find((a) => a.metadata.namespace === ns && a.metadata.name === n)?.spec?.rules?.length ?? 0;
          const said = `gwdoctor's hops: ${JSON.stringify(hops)}`;
          const rows: string[] = [];
          for (const h of hops) {
            if (h.hop === 'waypoint') {
              // istiod binds the Service to the waypoint once the waypoint is ready: wait for istio.io/WaypointBound=True.
              const until = Date.now() + 60_000;
              for (;;) {
                const svc = (await kube.get(
                  `/api/v1/namespaces/${h.service.namespace}/services/${h.service.name}`,
                )) as Obj & { status?: { conditions?: Cond[] } };
                const c = svc.status?.conditions?.find((x) => x.type === 'istio.io/WaypointBound');
                if (c?.status === 'True') break;
                if (Date.now() > until)
                  throw new Error(
                    `Service ${h.service.name}: no istio.io/WaypointBound=True after 60 s (${JSON.stringify(c)})`,
                  );
                await sleep(250);
              }
              const wpPod = (
                await kube.list(
                  'v1',
                  'Pod',
                  'example-api',
                  'gateway.networking.k8s.io/gateway-name=example-api-waypoint',
                )
              ).find((p) => (p as { status?: { podIP?: string } }).status?.podIP);
              const c = await connectProxy(ambient!.grpcAddr, podOf(wpPod as Obj), { type: 'waypoint' });
              conns.push(c);
              const want = rbacNames(h, rulesOf);
              let got: string[] = [];
              const until2 = Date.now() + 30_000;
              while (Date.now() < until2) {
                got = rbacPolicies(await configDump(ambient!.httpUrl, c.proxyId)).enforced;
                if (JSON.stringify(got) === JSON.stringify(want)) break;
                await sleep(250);
              }
              rows.push(`waypoint: ${got.join(', ') || '(no RBAC)'}`);
              expect(got, said).toEqual(want);
            }
            if (h.hop === 'sidecar') {
              const pod = (await kube.get(`/api/v1/namespaces/example-api/pods/example-api-7d9f8c6b5-x2k4p`)) as Obj;
              const c = await connectProxy(ambient!.grpcAddr, podOf(pod), { type: 'sidecar' });
              conns.push(c);
              const want = rbacNames(h, rulesOf);
              const got = rbacPolicies(await configDump(ambient!.httpUrl, c.proxyId)).enforced;
              rows.push(`sidecar: ${got.join(', ') || '(no RBAC)'}`);
              expect(got, said).toEqual(want);
            }
            if (h.hop === 'ztunnel') {
              const c = await connectProxy(
                ambient!.grpcAddr,
                {
                  name: 'ztunnel-gwdoctor',
                  namespace: 'istio-system',
                  ip: '10.42.0.250',
                  serviceAccount: 'ztunnel',
                  labels: { app: 'ztunnel' },
                },
                { type: 'ztunnel' },
              );
              conns.push(c);
              // What gwdoctor says ztunnel gets of each policy that reaches the Pod: its action and, rule by rule, how many
              // clauses and which of their matches are empty (an empty match never matches in ztunnel).
              const want = h.policies
                .map(
                  (p) =>
                    aps.find(
                      (a) => a.metadata.namespace === p.policy.namespace && a.metadata.name === p.policy.name,
                    ) as AuthorizationPolicy,
                )
                .map((ap) => ztunnelPolicy(ap))
                .flatMap((z) =>
                  z && z.kind === 'enforced'
                    ? [
                        {
                          name: `${z.policy.metadata.namespace}/${z.policy.metadata.name}`,
                          action: z.action,
                          rules: z.rules.map((r) =>
                            r.clauses.map((cl) => cl.map((m) => Object.values(m).every((v) => v === undefined))),
                          ),
                        },
                      ]
                    : [],
                )
                .sort((a, b) => a.name.localeCompare(b.name));
              let got: typeof want = [];
              const until = Date.now() + 30_000;
              while (Date.now() < until) {
                const dump = (await configDump(ambient!.httpUrl, c.proxyId, 'WADS')) as {
                  configs?: WadsAuthorization[];
                };
                got = (dump.configs ?? [])
                  .filter(
                    (a) =>
                      want.some((w) => w.name === `${a.namespace}/${a.name}`) ||
                      aps.some((x) => x.metadata.name === a.name && x.metadata.namespace === a.namespace),
                  )
                  .map((a) => ({
                    name: `${a.namespace}/${a.name}`,
                    action: (a.action ?? 'ALLOW') as 'ALLOW' | 'DENY',
                    rules: (a.groups ?? []).map((g) =>
                      (g.rules ?? []).map((r) => (r.matches ?? []).map((m) => Object.keys(m).length === 0)),
                    ),
                  }))
                  .sort((a, b) => a.name.localeCompare(b.name));
                if (JSON.stringify(got) === JSON.stringify(want)) break;
                await sleep(250);
              }
              rows.push(`ztunnel: ${JSON.stringify(got)}`);
              expect(got, said).toEqual(want);
            }
          }
          process.stderr.write(`[mesh-hops] ${name}: ${rows.join(' | ')}\n`);
          expect(hops.length, said).toBeGreaterThan(0);
        } finally {
          for (const c of conns) c.close();
          await applied?.cleanup();
        }
      },
      180_000,
    );
  }
});
