// The mesh layer's rules (src/mesh/authz.ts, after Istio's policyattachment.go, authorization.go and authz/builder) and
// its fixes: the deny exemption leaves every other denied path denied; the ALLOW rule opens this request only.

import { describe, expect, it } from 'vitest';
import { ManifestCluster, loadManifests } from '../../src/cluster/manifests.js';
import type { AuthorizationPolicy } from '../../src/cluster/objects.js';
import {
  attachesTo,
  decide,
  policiesFor,
  strMatch,
  type MeshRequest,
  type MeshWorkload,
} from '../../src/mesh/authz.js';
import { runOnCluster, scenarioDir } from '../helpers/fixtures.js';
import { applyFixToObjects, stripControllerStatus } from '../helpers/roundtrip.js';

const gw: MeshWorkload = {
  namespace: 'istio-ingress',
  labels: { 'gateway.networking.k8s.io/gateway-name': 'gw', app: 'x' },
  gatewayName: 'gw',
  isWaypoint: false,
};
const sidecar: MeshWorkload = { namespace: 'app', labels: { app: 'x' }, gatewayName: null, isWaypoint: false };
const waypoint: MeshWorkload = {
  namespace: 'app',
  labels: { 'gateway.networking.k8s.io/gateway-name': 'wp' },
  gatewayName: 'wp',
  isWaypoint: true,
};
const req: MeshRequest = { host: 'api.example.com', path: '/v1/items', method: 'GET', port: 80, principal: null };

let seq = 0;
function ap(
  ns: string,
  spec: NonNullable<AuthorizationPolicy['spec']>,
  annotations?: Record<string, string>,
): AuthorizationPolicy {
  seq++;
  return {
    apiVersion: 'security.istio.io/v1',
    kind: 'AuthorizationPolicy',
    metadata: {
      name: `p${seq}`,
      namespace: ns,
      creationTimestamp: `2026-11-01T10:${String(seq).padStart(2, '0')}:00Z`,
      ...(annotations ? { annotations } : {}),
    },
    spec,
  };
}
const ref = (name: string, namespace?: string) => ({
  group: 'gateway.networking.k8s.io',
  kind: 'Gateway',
  name,
  ...(namespace ? { namespace } : {}),
});

describe('which policies reach a proxy (policyattachment.go ShouldAttachPolicy)', () => {
  it('a Gateway API gateway: targetRefs from its own namespace, a matching selector, no selector in its namespace or the root namespace', () => {
    expect(attachesTo(ap('istio-ingress', { targetRefs: [ref('gw')] }), gw, 'istio-system')).toMatch(/targetRefs/);
    expect(attachesTo(ap('istio-ingress', { targetRefs: [ref('other')] }), gw, 'istio-system')).toBeNull();
    expect(attachesTo(ap('istio-ingress', { targetRefs: [ref('gw', 'elsewhere')] }), gw, 'istio-system')).toBeNull();
    expect(attachesTo(ap('app', { targetRefs: [ref('gw', 'istio-ingress')] }), gw, 'istio-system')).toBeNull();
    expect(attachesTo(ap('istio-ingress', { selector: { matchLabels: { app: 'x' } } }), gw, 'istio-system')).toMatch(
      /selector/,
    );
    expect(attachesTo(ap('istio-ingress', { selector: { matchLabels: { app: 'y' } } }), gw, 'istio-system')).toBeNull();
    expect(attachesTo(ap('istio-ingress', {}), gw, 'istio-system')).toMatch(
      /every workload of namespace istio-ingress/,
    );
    expect(attachesTo(ap('istio-system', {}), gw, 'istio-system')).toMatch(/root-namespace/);
    expect(attachesTo(ap('mesh-root', {}), gw, 'mesh-root')).toMatch(/root-namespace/);
    expect(attachesTo(ap('istio-system', {}), gw, 'mesh-root')).toBeNull();
    expect(attachesTo(ap('app', {}), gw, 'istio-system')).toBeNull();
  });
  it('a targetRefs policy never reaches a workload that is not a gateway; a waypoint never uses selectors', () => {
    expect(attachesTo(ap('app', { targetRefs: [ref('gw')] }), sidecar, 'istio-system')).toBeNull();
    expect(attachesTo(ap('app', {}), sidecar, 'istio-system')).toMatch(/workload namespace/);
    expect(
      attachesTo(
        ap('app', { selector: { matchLabels: { 'gateway.networking.k8s.io/gateway-name': 'wp' } } }),
        waypoint,
        'istio-system',
      ),
    ).toBeNull();
    expect(attachesTo(ap('app', { targetRefs: [ref('wp')] }), waypoint, 'istio-system')).toMatch(/targetRefs/);
  });
});

describe('evaluation (builder.go: CUSTOM, DENY, ALLOW; authz/model matchers)', () => {
  const on = (...ps: AuthorizationPolicy[]) => policiesFor(ps, gw, 'istio-system');
  it('string matches: "*", prefix*, *suffix, exact; hosts case-insensitive', () => {
    expect(strMatch('*', 'a')).toBe(true);
    expect(strMatch('/v1/*', '/v1/items')).toBe(true);
    expect(strMatch('*.example.com', 'API.example.com', true)).toBe(true);
    expect(strMatch('/v1', '/v1/items')).toBe(false);
  });
  it('no policy, or only DENY that does not match: allowed', () => {
    expect(decide(on(), req).kind).toBe('allowed');
    expect(
      decide(on(ap('istio-ingress', { action: 'DENY', rules: [{ to: [{ operation: { paths: ['/admin*'] } }] }] })), req)
        .kind,
    ).toBe('allowed');
  });
  it('DENY wins over a matching ALLOW; a DENY without rules denies nothing; an ALLOW without rules allows nothing', () => {
    const allow = ap('istio-ingress', { rules: [{}] });
    const deny = ap('istio-ingress', {
      action: 'DENY',
      rules: [{ to: [{ operation: { hosts: ['api.example.com'] } }] }],
    });
    expect(decide(on(allow, deny), req)).toMatchObject({ kind: 'denied', by: { policy: deny, index: 0 } });
    expect(decide(on(ap('istio-ingress', { action: 'DENY' })), req).kind).toBe('allowed');
    expect(decide(on(ap('istio-ingress', {})), req).kind).toBe('not-allowed');
  });
  it('CUSTOM goes first (its provider defined, or the mesh config unknown); a provider the mesh config lacks makes it a DENY; AUDIT and dry-run policies are not enforced', () => {
    const custom = ap('istio-ingress', { action: 'CUSTOM', provider: { name: 'ext' }, rules: [{}] });
    const deny = ap('istio-ingress', { action: 'DENY', rules: [{}] });
    expect(decide(on(custom, deny), req)).toMatchObject({ kind: 'custom', provider: 'ext' });
    expect(decide(on(custom, deny), req, ['ext'])).toMatchObject({ kind: 'custom', provider: 'ext' });
    expect(decide(on(custom), req, [])).toMatchObject({ kind: 'denied', badProvider: 'ext', by: { policy: custom } });
    expect(decide(on(custom), req, ['other'])).toMatchObject({ kind: 'denied', badProvider: 'ext' });
    expect(decide(on(ap('istio-ingress', { action: 'AUDIT', rules: [{}] })), req).kind).toBe('allowed');
    expect(
      decide(on(ap('istio-ingress', { action: 'DENY', rules: [{}] }, { 'istio.io/dry-run': 'true' })), req).kind,
    ).toBe('allowed');
  });
  it('principals never match a client outside the mesh; notPrincipals always does; client addresses are unknown', () => {
    expect(decide(on(ap('istio-ingress', { rules: [{ from: [{ source: { principals: ['*'] } }] }] })), req).kind).toBe(
      'not-allowed',
    );
    expect(
      decide(
        on(ap('istio-ingress', { action: 'DENY', rules: [{ from: [{ source: { notPrincipals: ['*'] } }] }] })),
        req,
      ).kind,
    ).toBe('denied');
    expect(
      decide(on(ap('istio-ingress', { rules: [{ from: [{ source: { remoteIpBlocks: ['10.0.0.0/8'] } }] }] })), req),
    ).toMatchObject({ kind: 'unknown', action: 'ALLOW' });
    expect(
      decide(on(ap('istio-ingress', { rules: [{ when: [{ key: 'request.headers[x-env]', values: ['prod'] }] }] })), req)
        .kind,
    ).toBe('unknown');
    // A known no-match in the same rule decides: the rule cannot match whatever the client sends.
    expect(
      decide(
        on(
          ap('istio-ingress', {
            rules: [
              { from: [{ source: { remoteIpBlocks: ['10.0.0.0/8'] } }], to: [{ operation: { hosts: ['other'] } }] },
            ],
          }),
        ),
        req,
      ).kind,
    ).toBe('not-allowed');
  });
  it('an operation matches when every field it sets matches; not-fields exclude', () => {
    const r = (operation: object) => decide(on(ap('istio-ingress', { rules: [{ to: [{ operation }] }] })), req).kind;
    expect(r({ hosts: ['api.example.com'], paths: ['/v1/*'], methods: ['GET'], ports: ['80'] })).toBe('allowed');
    expect(r({ hosts: ['api.example.com'], methods: ['POST'] })).toBe('not-allowed');
    expect(r({ notPaths: ['/v1/*'] })).toBe('not-allowed');
    expect(r({ ports: ['8080'] })).toBe('not-allowed');
  });
});

describe('fixes, applied to the fixture and re-run', () => {
  const load = (name: string) => stripControllerStatus(loadManifests([scenarioDir(name)]));
  const run = (objs: ReturnType<typeof load>, target: string) =>
    runOnCluster(new ManifestCluster(objs, ['fixture']), target);
  const mesh = async (objs: ReturnType<typeof load>, target: string) =>
    (await run(objs, target)).layers.find((l) => l.id === 'mesh')!;

  it('the DENY exemption lets this path through and leaves every other path the rule denies denied', async () => {
    const objs = load('mesh-authz-root-deny');
    const before = await mesh(objs, 'https://api.example.com/admin/users');
    expect(before.code).toBe('AuthorizationDenied');
    expect(before.fix).toMatchObject({
      kind: 'patch',
      patch: [
        { op: 'test', path: '/spec/rules/0' },
        { op: 'add', path: '/spec/rules/0/to/0/operation/notPaths', value: ['/admin/users'] },
      ],
    });
    const after = applyFixToObjects(objs, before.fix!);
    expect((await mesh(after, 'https://api.example.com/admin/users')).status).toBe('pass');
    expect((await mesh(after, 'https://api.example.com/admin/other')).code).toBe('AuthorizationDenied');
    expect((await mesh(after, 'https://worker.example.com/admin')).code).toBe('AuthorizationDenied');
  });

  it('the ALLOW rule opens exactly GET host/path: another path and another host stay denied', async () => {
    const objs = load('mesh-authz-allow-nothing');
    const before = await mesh(objs, 'https://api.example.com/v1');
    expect(before.code).toBe('AuthorizationNotAllowed');
    const after = applyFixToObjects(objs, before.fix!);
    expect((await mesh(after, 'https://api.example.com/v1')).status).toBe('pass');
    expect((await mesh(after, 'https://api.example.com/v2')).code).toBe('AuthorizationNotAllowed');
    expect((await mesh(after, 'worker.example.com')).code).toBe('AuthorizationNotAllowed');
  });

  it('a CUSTOM policy whose provider the mesh config defines: AuthorizationCustom (the authorizer decides); undefined: AuthorizationDenied', async () => {
    const objs = load('mesh-authz-custom');
    expect((await mesh(objs, 'https://api.example.com/api/v1')).code).toBe('AuthorizationDenied');
    const meshConfig = {
      apiVersion: 'v1',
      kind: 'ConfigMap',
      metadata: { name: 'istio', namespace: 'istio-system' },
      data: {
        mesh: 'rootNamespace: istio-system\nextensionProviders:\n- name: ext-authz\n  envoyExtAuthzHttp: {service: ext-authz.istio-system.svc.cluster.local, port: 8000}\n',
      },
    };
    const withProvider = [...objs, meshConfig as never];
    const f = await mesh(withProvider, 'https://api.example.com/api/v1');
    expect(f).toMatchObject({
      status: 'warn',
      code: 'AuthorizationCustom',
      summary: expect.stringMatching(/external authorizer "ext-authz"/),
    });
    expect((await mesh(withProvider, 'api.example.com')).status).toBe('pass');
  });

  it('--all -v names the policies on each host path; manifests without mesh objects say the layer was not checked', async () => {
    const unrelated = await mesh(load('mesh-unrelated-policies'), 'api.example.com');
    expect(unrelated.status).toBe('pass');
    expect(unrelated.evidence.map((e) => e.ref)).toEqual(
      expect.arrayContaining([
        'AuthorizationPolicy istio-ingress/audit-deny-all',
        'AuthorizationPolicy example-api/api-from-gateway',
        'PeerAuthentication istio-system/default',
      ]),
    );
    expect(
      unrelated.evidence.find((e) => e.ref === 'AuthorizationPolicy istio-ingress/audit-deny-all')?.detail,
    ).toMatch(/dry-run: not enforced/);
    expect(unrelated.evidence.map((e) => e.ref)).not.toContain('AuthorizationPolicy istio-ingress/lock-internal');
    const seed = await mesh(load('seed-healthy'), 'api.example.com');
    expect(seed).toMatchObject({
      status: 'skip',
      summary: expect.stringMatching(
        /^not checked: the manifests hold no AuthorizationPolicy, PeerAuthentication or DestinationRule/,
      ),
    });
  });
});
