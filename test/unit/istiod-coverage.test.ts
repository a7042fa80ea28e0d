// Real istiod is the judge of every cluster-layer rule: each reason code the listener, route, grant and endpoints
// layers can give must be the expected outcome of at least one fixture case that test/integration/contract.test.ts
// reconciles with real istiod (and that is not a pinned known disagreement). A code istiod cannot produce is listed
// below with the reason and must still be covered by a hand-written-status scenario. Adding a code without a
// scenario, or a scenario that only istiod-less tests see, fails here.

import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ROOT } from '../helpers/cli.js';
import { CODES } from '../../src/registry.js';
import { scenarios } from '../helpers/fixtures.js';
import { HAND_WRITTEN, KNOWN_DISAGREEMENTS } from '../helpers/istiod-scenarios.js';

const CLUSTER_LAYERS = ['listener', 'route', 'grant', 'endpoints', 'mesh'];

/** Codes no scenario istiod reconciles can expect, and why; each must still have a scenario (hand-written status). */
const ONLY_HAND_WRITTEN: Record<string, string> = {
  GatewayStatusStale: 'needs status for an older generation of the Gateway',
  RouteStatusStale: 'needs status for an older generation of the route',
  RouteStatusMissing: 'needs a route the controller never processed',
};

/**
 * Codes the fixtures cannot exercise, proven by the named test instead: one depends on the day the test runs (a fixed
 * clock there), one on what a real proxy answered (the contract runs without network layers; real nginx there).
 */
const ELSEWHERE: Record<string, string> = {
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

const clusterCodes = Object.entries(CODES)
  .filter(([, info]) => {
    const layers = info.layer === 'any' ? [] : typeof info.layer === 'string' ? [info.layer] : [...info.layer];
    return layers.some((l) => CLUSTER_LAYERS.includes(l));
  })
  .map(([code]) => code);

function coveredBy(filter: (scenario: string, target: string) => boolean): Map<string, string[]> {
  const out = new Map<string, string[]>();
  for (const s of scenarios()) {
    for (const c of s.cases) {
      if (!c.code || !filter(s.name, c.target)) continue;
      out.set(c.code, [...(out.get(c.code) ?? []), `${s.name} ${c.target}`]);
    }
  }
  return out;
}

describe('every reason code of the cluster layers is judged by real istiod', () => {
  const byIstiod = coveredBy((s, t) => !(s in HAND_WRITTEN) && !KNOWN_DISAGREEMENTS[s]?.[t]);
  const byHand = coveredBy((s) => s in HAND_WRITTEN);

  it.each(clusterCodes.filter((c) => !(c in ONLY_HAND_WRITTEN) && !(c in ELSEWHERE)))(
    '%s is the expected outcome of a scenario istiod reconciles',
    (code) => {
      expect(
        byIstiod.get(code) ?? [],
        `no fixture case istiod reconciles expects ${code}: add a scenario to fixtures/_generate.py`,
      ).not.toEqual([]);
    },
  );

  it.each(Object.keys(ONLY_HAND_WRITTEN))(
    '%s (istiod cannot produce it) has a hand-written-status scenario',
    (code) => {
      expect(clusterCodes).toContain(code);
      expect(byHand.get(code) ?? [], ONLY_HAND_WRITTEN[code]).not.toEqual([]);
    },
  );

  it.each(Object.keys(ELSEWHERE))('%s cannot be a fixture outcome and is proven by the test it names', (code) => {
    expect(clusterCodes).toContain(code);
    const file = /test\/\S+\.test\.ts/.exec(ELSEWHERE[code] as string)?.[0] as string;
    expect(readFileSync(join(ROOT, file), 'utf8')).toContain(code);
  });

  it('names only scenarios that exist', () => {
    const names = new Set(scenarios().map((s) => s.name));
    expect([...Object.keys(HAND_WRITTEN), ...Object.keys(KNOWN_DISAGREEMENTS)].filter((n) => !names.has(n))).toEqual(
      [],
    );
  });
});
