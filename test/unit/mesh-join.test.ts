// The proxy layer joins the mesh layer (issue 18, item 3): a 403 "RBAC: access denied" or a 503 "upstream connect
// error" seen through the proxy (nginx hides Envoy's headers; the gateway's NodePort answers the same) runs the whole
// pipeline to the mesh layer, which names the policy or DestinationRule behind it, or says honestly that it cannot.
// The answers are Envoy's own bodies (as the real Envoy lane measured them: test/controlplane/README.md).

import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ManifestCluster } from '../../src/cluster/manifests.js';
import { ClusterAccessError } from '../../src/errors.js';
import type { Finding, TargetReport } from '../../src/types.js';
import { objects, run } from '../helpers/behind-nginx.js';
import { outcome, scenarioDir } from '../helpers/fixtures.js';

const RBAC = 'RBAC: access denied';
const UF_TLS =
  'upstream connect error or disconnect/reset before headers. retried and the latest reset reason: remote connection failure, transport failure reason: TLS_error:|268435703:SSL routines:OPENSSL_internal:WRONG_VERSION_NUMBER:TLS_error_end';

/** A reader on which listing Istio's policy kinds is forbidden (the role without the mesh kinds). */
class NoMeshRole extends ManifestCluster {
  override async meshObjects(): Promise<never> {
    throw new ClusterAccessError(
      'forbidden',
      'authorizationpolicies.security.istio.io is forbidden: User "gwdoctor" cannot list resource "authorizationpolicies" in API group "security.istio.io" at the cluster scope',
    );
  }
}

const layer = (r: TargetReport, id: string) => r.layers.find((l) => l.id === id) as Finding;
const text = (f: Finding) => `${f.summary}\n${f.evidence.map((e) => `${e.ref}: ${e.detail}`).join('\n')}`;

describe('403 "RBAC: access denied" through the proxy: the mesh layer names the policy', () => {
  it('a DENY at the gateway: mesh AuthorizationDenied carrying the 403, with the DENY exemption fix; the proxy passes and hands it on', async () => {
    const r = await run('mesh-authz-deny-gateway', 403, RBAC);
    expect(outcome(r)).toMatchObject({ verdict: 'fail', layer: 'mesh', code: 'AuthorizationDenied' });
    expect(layer(r, 'proxy').status).toBe('pass');
    expect(text(layer(r, 'proxy'))).toMatch(/server: nginx/);
    for (const id of ['listener', 'route', 'grant', 'endpoints']) expect(layer(r, id).status, id).toBe('pass');
    expect(text(layer(r, 'mesh'))).toMatch(/HTTP 403 "RBAC: access denied" from Envoy/);
    expect(r.layers.every((l) => l.code !== 'GatewayRbacDenied' && l.code !== 'GatewayErrorResponse')).toBe(true);
    expect(layer(r, 'mesh').fix?.kind).toBe('patch');
  });

  it('an ALLOW policy with no rules: mesh AuthorizationNotAllowed carrying the 403', async () => {
    const r = await run('mesh-authz-allow-nothing', 403, RBAC, 'https://worker.example.com/');
    expect(outcome(r)).toMatchObject({ verdict: 'fail', layer: 'mesh', code: 'AuthorizationNotAllowed' });
    expect(text(layer(r, 'mesh'))).toMatch(/RBAC: access denied/);
  });

  it('an ALLOW rule that depends on the client address: the 403 settles it (GatewayRbacDenied at mesh naming the rule), never a warning', async () => {
    const r = await run('mesh-authz-undetermined', 403, RBAC);
    expect(outcome(r)).toMatchObject({ verdict: 'fail', layer: 'mesh', code: 'GatewayRbacDenied' });
    expect(layer(r, 'mesh').summary).toMatch(
      /depends on ALLOW rules\[0\] of AuthorizationPolicy istio-ingress\/.*and for the request as it reached the gateway it was not/,
    );
  });

  it('policies that allow the request: GatewayRbacDenied at mesh says what was read allows it (never a pass)', async () => {
    const r = await run('mesh-unrelated-policies', 403, RBAC);
    expect(outcome(r)).toMatchObject({ verdict: 'fail', layer: 'mesh', code: 'GatewayRbacDenied' });
    expect(layer(r, 'mesh').summary).toMatch(
      /the mesh layer cannot name the cause: by the AuthorizationPolicies read, GET api\.example\.com\/ at gateway istio-ingress\/example-istio-gateway: no DENY rule matches/,
    );
  });

  it('manifests without any mesh object: GatewayRbacDenied at mesh, "not checked", never a skip that passes the run', async () => {
    const r = await run('seed-healthy', 403, RBAC);
    expect(outcome(r)).toMatchObject({ verdict: 'fail', layer: 'mesh', code: 'GatewayRbacDenied' });
    expect(layer(r, 'mesh').summary).toMatch(
      /the mesh policies were not checked \(the manifests hold no AuthorizationPolicy/,
    );
  });

  it('policies the user may not list: GatewayRbacDenied at mesh naming the forbidden list, never the MeshNotChecked warning', async () => {
    const r = await run(
      'mesh-authz-deny-gateway',
      403,
      RBAC,
      'https://api.example.com/',
      new NoMeshRole(objects('mesh-authz-deny-gateway')),
    );
    expect(outcome(r)).toMatchObject({ verdict: 'fail', layer: 'mesh', code: 'GatewayRbacDenied' });
    expect(layer(r, 'mesh').summary).toMatch(
      /the mesh policies could not be read \(authorizationpolicies\.security\.istio\.io is forbidden/,
    );
  });
});

describe('503 "upstream connect error" (TLS) through the proxy: endpoints hands it to the mesh layer', () => {
  it('a DestinationRule tls.mode SIMPLE to a plaintext port: mesh DestinationRuleTlsMismatch carrying the 503', async () => {
    const r = await run('mesh-dr-simple-to-plaintext', 503, UF_TLS);
    expect(outcome(r)).toMatchObject({ verdict: 'fail', layer: 'mesh', code: 'DestinationRuleTlsMismatch' });
    expect(text(layer(r, 'endpoints'))).toContain('the mesh layer can, and checks next');
    expect(text(layer(r, 'mesh'))).toMatch(
      /reset reason: remote connection failure, transport failure reason: TLS_error/,
    );
  });

  it('STRICT PeerAuthentication on a plaintext hop: mesh PeerAuthenticationStrict carrying the 503', async () => {
    const r = await run(
      'mesh-pa-strict-plaintext',
      503,
      'upstream connect error or disconnect/reset before headers. reset reason: connection termination',
    );
    expect(outcome(r)).toMatchObject({ verdict: 'fail', layer: 'mesh', code: 'PeerAuthenticationStrict' });
  });

  it('nothing in the mesh explains it: BackendConnectFailed at mesh (how the gateway connects looks right), not a pass nor a waypoint warning', async () => {
    const r = await run('mesh-unrelated-policies', 503, UF_TLS);
    expect(outcome(r)).toMatchObject({ verdict: 'fail', layer: 'mesh', code: 'BackendConnectFailed' });
    expect(layer(r, 'mesh').fix?.explain).toMatch(/reset reason: remote connection failure/);
  });

  it('manifests without mesh objects: BackendConnectFailed at mesh, saying the mesh was not checked', async () => {
    const r = await run('seed-healthy', 503, UF_TLS);
    expect(outcome(r)).toMatchObject({ verdict: 'fail', layer: 'mesh', code: 'BackendConnectFailed' });
    expect(layer(r, 'mesh').summary).toMatch(/the mesh policies were not checked/);
  });

  it('no ready endpoints: endpoints explains the 503 itself (NoReadyEndpoints), the mesh layer is not asked', async () => {
    const r = await run('no-ready-endpoints', 503, UF_TLS);
    expect(outcome(r)).toMatchObject({ verdict: 'fail', layer: 'endpoints', code: 'NoReadyEndpoints' });
    expect(layer(r, 'mesh').status).toBe('skip');
  });
});

describe('DestinationRule subsets on an HTTPRoute backend (issue 18: what is real for the ingress path)', () => {
  it('a subset that selects no Pod, with its own TLS policy, changes nothing for the gateway: pass, and the evidence says the subsets are not used', async () => {
    const { runScenario } = await import('../helpers/fixtures.js');
    const r = await runScenario(scenarioDir('mesh-dr-subset-no-pods'), 'api.example.com');
    expect(outcome(r)).toMatchObject({ verdict: 'pass' });
    expect(text(layer(r, 'mesh'))).toMatch(
      /DestinationRule example-api\/example-api: host example-api; subsets v2: not used by HTTPRoute backends/,
    );
    expect(r.layers.find((l) => l.id === 'mesh')?.facts.mesh?.upstreams).toEqual([
      expect.objectContaining({ port: 3000, kind: 'auto' }),
    ]);
  });
});
