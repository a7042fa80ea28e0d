// The hops after the gateway (src/mesh/hops.ts): their fixes open exactly this request for exactly this peer, and an
// Envoy answer seen through the proxy (a 403 from the waypoint, a 503 when ztunnel resets) is explained by the hop.
// What istiod generates for each hop is judged in test/integration/mesh-hops.test.ts.

import { describe, expect, it } from 'vitest';
import { loadManifests, ManifestCluster } from '../../src/cluster/manifests.js';
import type { AuthorizationPolicy, K8sObject } from '../../src/cluster/objects.js';
import { ztunnelDecide, ztunnelPolicy } from '../../src/mesh/hops.js';
import type { Finding } from '../../src/types.js';
import { run } from '../helpers/behind-nginx.js';
import { outcome, runOnCluster, scenarioDir } from '../helpers/fixtures.js';
import { applyFixToObjects, stripControllerStatus } from '../helpers/roundtrip.js';

const load = (name: string) => stripControllerStatus(loadManifests([scenarioDir(name)]));
const mesh = async (objs: K8sObject[], target: string) =>
  (await runOnCluster(new ManifestCluster(objs, ['fixture']), target)).layers.find((l) => l.id === 'mesh') as Finding;
const GW = 'cluster.local/ns/istio-ingress/sa/example-istio-gateway-istio';
const WP = 'cluster.local/ns/example-api/sa/example-api-waypoint';

describe('fixes at the hops after the gateway, applied and re-run', () => {
  it('waypoint DENY: the notPaths exemption lets GET / through, every other path stays denied at the waypoint', async () => {
    const objs = load('mesh-hop-waypoint-deny');
    const before = await mesh(objs, 'api.example.com');
    expect(before).toMatchObject({
      code: 'DestinationAuthorizationDenied',
      summary: expect.stringMatching(
        /at waypoint example-api\/example-api-waypoint by DENY rules\[0\] of AuthorizationPolicy example-api\/deny-root/,
      ),
    });
    const after = applyFixToObjects(objs, before.fix!);
    expect((await mesh(after, 'api.example.com')).status).toBe('pass');
    expect((await mesh(after, 'https://api.example.com/other')).code).toBe('DestinationAuthorizationDenied');
  });

  it('waypoint ALLOW without a matching rule: the added rule opens GET / for the gateway only; /v2 stays refused', async () => {
    const objs = load('mesh-hop-waypoint-allow-other-path');
    const before = await mesh(objs, 'api.example.com');
    expect(before.code).toBe('DestinationAuthorizationNotAllowed');
    expect(before.fix).toMatchObject({
      kind: 'patch',
      patch: [
        { op: 'test' },
        {
          op: 'add',
          path: '/spec/rules/-',
          value: { from: [{ source: { principals: [GW] } }], to: [{ operation: { methods: ['GET'], paths: ['/'] } }] },
        },
      ],
    });
    const after = applyFixToObjects(objs, before.fix!);
    expect((await mesh(after, 'api.example.com')).status).toBe('pass');
    expect((await mesh(after, 'https://api.example.com/v2')).code).toBe('DestinationAuthorizationNotAllowed');
  });

  it('ztunnel ALLOW whose only rule istiod drops: the added L4 rule admits the gateway on port 3000, not the waypoint', async () => {
    const objs = load('mesh-hop-ztunnel-l7-allow');
    const before = await mesh(objs, 'api.example.com');
    expect(before.code).toBe('DestinationAuthorizationNotAllowed');
    const after = applyFixToObjects(objs, before.fix!);
    expect((await mesh(after, 'api.example.com')).status).toBe('pass');
    // Through a waypoint, ztunnel sees the waypoint's identity: the rule for the gateway does not admit it.
    const viaWaypoint = after.map((o) =>
      o.kind === 'Namespace' && o.metadata.name === 'example-api'
        ? {
            ...o,
            metadata: {
              ...o.metadata,
              labels: {
                ...o.metadata.labels,
                'istio.io/use-waypoint': 'example-api-waypoint',
                'istio.io/ingress-use-waypoint': 'true',
              },
            },
          }
        : o,
    );
    const f = await mesh(viaWaypoint, 'api.example.com');
    expect(f).toMatchObject({
      code: 'DestinationAuthorizationNotAllowed',
      summary: expect.stringContaining(`from ${WP}`),
    });
  });

  it('an ALLOW policy that covers the whole mesh (root namespace, no selector): never patched, the rule goes into a policy of its own for this Pod', async () => {
    const f = await mesh(load('mesh-authz-root-allow'), 'api.example.com');
    expect(f.code).toBe('DestinationAuthorizationNotAllowed');
    expect(f.fix).toMatchObject({ kind: 'manual' });
    const words = (f.fix as { explain: string }).explain;
    expect(words).toContain(
      'AuthorizationPolicy istio-system/allow-api applies to every workload of namespace istio-system',
    );
    expect(words).toContain(`"principals":["${GW}"]`);
    // The same policy given a selector for the backend Pods only: the rule is added to it (nothing else is opened).
    const scoped = load('mesh-authz-root-allow').map((o) =>
      o.kind === 'AuthorizationPolicy' && o.metadata.name === 'allow-api'
        ? {
            ...o,
            metadata: { ...o.metadata, namespace: 'example-api' },
            spec: {
              ...(o as AuthorizationPolicy).spec,
              selector: { matchLabels: { 'app.kubernetes.io/name': 'example-api' } },
            },
          }
        : o,
    );
    const g = await mesh(scoped, 'api.example.com');
    expect(g).toMatchObject({ code: 'DestinationAuthorizationNotAllowed', fix: { kind: 'patch' } });
    expect((await mesh(applyFixToObjects(scoped, g.fix!), 'api.example.com')).status).toBe('pass');
  });

  it('ztunnel DENY of a principal: the fix is words (ztunnel cannot see paths), never a patch that drops the deny', async () => {
    const f = await mesh(load('mesh-hop-ztunnel-deny-gateway'), 'api.example.com');
    expect(f).toMatchObject({ code: 'DestinationAuthorizationDenied', fix: { kind: 'manual' } });
  });
});

describe('ztunnel rules as istiod converts them and ztunnel matches them', () => {
  const ap = (spec: NonNullable<AuthorizationPolicy['spec']>): AuthorizationPolicy => ({
    apiVersion: 'security.istio.io/v1',
    kind: 'AuthorizationPolicy',
    metadata: { name: 'p', namespace: 'example-api' },
    spec,
  });
  it('a DENY rule whose `to` had only paths keeps one empty match: it never matches, a principal in `from` does not change that; an L4-only rule matches', () => {
    const onlyPaths = ztunnelPolicy(ap({ action: 'DENY', rules: [{ to: [{ operation: { paths: ['/admin/*'] } }] }] }))!;
    expect(ztunnelDecide([onlyPaths], { principal: GW, port: 3000 })).toEqual({ kind: 'allowed', by: null });
    const principal = ztunnelPolicy(
      ap({
        action: 'DENY',
        rules: [{ from: [{ source: { principals: [GW] } }], to: [{ operation: { paths: ['/admin/*'] } }] }],
      }),
    )!;
    expect(ztunnelDecide([principal], { principal: GW, port: 3000 }).kind).toBe('allowed');
    const l4 = ztunnelPolicy(
      ap({ action: 'DENY', rules: [{ from: [{ source: { namespaces: ['istio-ingress'] } }] }] }),
    )!;
    expect(ztunnelDecide([l4], { principal: GW, port: 3000 }).kind).toBe('denied');
  });
  it("service accounts without a namespace are the policy's namespace (stringToServiceAccountMatch)", () => {
    const p = ztunnelPolicy(ap({ rules: [{ from: [{ source: { serviceAccounts: ['example-api-waypoint'] } }] }] }))!;
    expect(ztunnelDecide([p], { principal: WP, port: 3000 }).kind).toBe('allowed');
    expect(ztunnelDecide([p], { principal: GW, port: 3000 }).kind).toBe('not-allowed');
  });
  it('targetRefs: not for ztunnel; CUSTOM: refused', () => {
    expect(
      ztunnelPolicy(ap({ targetRefs: [{ group: '', kind: 'Service', name: 'example-api' }], rules: [{}] })),
    ).toBeNull();
    expect(ztunnelPolicy(ap({ action: 'CUSTOM', provider: { name: 'x' }, rules: [{}] }))).toMatchObject({
      kind: 'refused',
    });
  });
});

describe("Envoy's answer through the proxy, explained by the hop that gave it", () => {
  it('503 "upstream connect error" when ztunnel resets: DestinationAuthorizationDenied at ztunnel, not BackendConnectFailed', async () => {
    const r = await run(
      'mesh-hop-ztunnel-deny-gateway',
      503,
      'upstream connect error or disconnect/reset before headers. reset reason: connection termination',
    );
    expect(outcome(r)).toMatchObject({ verdict: 'fail', layer: 'mesh', code: 'DestinationAuthorizationDenied' });
  });

  it('403 "RBAC: access denied" with a DENY at the waypoint: DestinationAuthorizationDenied at the waypoint', async () => {
    const r = await run('mesh-hop-waypoint-deny', 403, 'RBAC: access denied');
    expect(outcome(r)).toMatchObject({ verdict: 'fail', layer: 'mesh', code: 'DestinationAuthorizationDenied' });
  });
});
