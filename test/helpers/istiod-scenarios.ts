// Which fixture scenarios real istiod reconciles in test/integration/contract.test.ts, and where it does not (yet):
// shared with test/unit/istiod-coverage.test.ts, which checks that every reason code of the cluster layers is judged
// by istiod at least once.

import type { ExpectCase } from './fixtures.js';

/** Scenarios whose status istiod cannot produce, and why (shown in the test names). */
export const HAND_WRITTEN: Record<string, string> = {
  'gateway-status-stale': 'istiod writes status for the current generation; a lagging controller is needed',
  'route-status-stale': 'istiod writes status for the current generation; a lagging controller is needed',
  'route-status-missing': 'istiod writes status for every route it handles; a route it never processed is needed',
  'status-disagrees': 'istiod recomputes ResolvedRefs from the spec; status left over from an older spec is needed',
  'listener-https-cert-status-disagrees':
    'istiod recomputes the listener as soon as the ReferenceGrant exists; RefNotPermitted from before the grant is needed',
  'gateway-status-no-instances-stale':
    'istiod recomputes the address on the next Service change, which loading a scenario always makes; the stuck state itself is reproduced step by step in istiod-resync.test.ts',
  'mesh-waypoint-never-ready':
    'the harness runs istiod without ambient (PILOT_ENABLE_AMBIENT off), so it writes no waypoint status; the status here (no status.addresses, Programmed=False, the Service\'s istio.io/WaypointBound=False WaypointIsNotReady) is what the pinned istiod wrote with ambient on (envoy-lane.md, "Learned later")',
  'listener-conflicted':
    "istiod never marks a Gateway's own listeners Conflicted (only ListenerSet conflicts); it accepts *.example.com and api.example.com on port 80",
};

/**
 * Where gwdoctor today disagrees with istiod (istiod wins; recorded in the issue): the wrong side's answer is pinned,
 * so fixing gwdoctor makes the test fail until the entry is removed. `side` is the half of the contract that is wrong.
 */
export interface Known {
  side: 'predicted' | 'live' | 'both';
  got: Pick<ExpectCase, 'verdict' | 'layer' | 'code'>;
  why: string;
}
const both = (k: Known): Record<string, Known> => ({ 'api.example.com': k, 'worker.example.com': k });
export const KNOWN_DISAGREEMENTS: Record<string, Record<string, Known>> = {
  'gateway-not-accepted': both({
    side: 'predicted',
    got: { verdict: 'pass', layer: null, code: null },
    why: "the fixture's manifests hold no ConfigMap at all, so the prediction cannot tell a missing parametersRef ConfigMap from one not included (live it is predicted: test/unit/rules-issue8.test.ts)",
  }),
};

/**
 * Codes of the cluster layers the fixtures cannot exercise, proven by the named test instead (test/unit/istiod-coverage
 * and test/unit/scenarios check both): one depends on the day the test runs (a fixed
 * clock there), one on what a real proxy answered (the contract runs without network layers; real nginx there).
 */
export const NOT_A_FIXTURE_OUTCOME: Record<string, string> = {
  ListenerCertificateExpiring:
    'a certificate "expiring within 14 days" of whatever day CI runs cannot be a fixed fixture: test/unit/gatewayapi/certs.test.ts',
  BackendConnectFailed:
    'what the gateway answers when ready endpoints refuse or reset its connection (503 upstream connect error), so it needs a real Envoy behind the network layers: test/integration/net/real-envoy.test.ts',
  AuthorizationCustom:
    'needs an external authorizer that the mesh config defines (meshConfig.extensionProviders); the harness istiod defines none, and istiod denies a CUSTOM policy with an unknown provider (mesh-authz-custom): test/unit/mesh.test.ts',
  GatewayRbacDenied:
    "what is left of the gateway's 403 RBAC: access denied when the mesh layer cannot name the policy (the contract runs without network layers, so no answer reaches the mesh layer there): test/unit/mesh-join.test.ts, and through real nginx and a real Envoy in test/integration/net/real-envoy.test.ts",
  BackendKindUnsupported:
    "a Hostname backend whose endpoints the gateway resolves by DNS at request time, an ExternalName Service or an InferencePool: the lane's Envoy has no DNS and istiod here no inference extension, so a real answer would contradict a warning; the ServiceEntry cases istiod can judge are fixtures (backend-service-entry*): test/unit/service-entry.test.ts",
  MeshNotChecked:
    'a 403 on an Istio kind needs a user without the permission, which a fixture cannot express: test/integration/live-behaviour.test.ts (the legacy role)',
  RedirectDisagrees:
    'compares the redirect a live proxy returned with the prediction, so it needs the network layers: test/integration/net/layers.test.ts',
  GRPCRouteNotChecked:
    'only a live user who may not list GRPCRoutes gets it (a filter Istio does not implement is predicted as the drop istiod makes of the route): test/integration/live-behaviour.test.ts',
};
