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
import { HAND_WRITTEN, KNOWN_DISAGREEMENTS, NOT_A_FIXTURE_OUTCOME } from '../helpers/istiod-scenarios.js';

const CLUSTER_LAYERS = ['listener', 'route', 'grant', 'endpoints', 'mesh'];

/** Codes no scenario istiod reconciles can expect, and why; each must still have a scenario (hand-written status). */
const ONLY_HAND_WRITTEN: Record<string, string> = {
  GatewayStatusStale: 'needs status for an older generation of the Gateway',
  RouteStatusStale: 'needs status for an older generation of the route',
  RouteStatusMissing: 'needs a route the controller never processed',
};

const ELSEWHERE = NOT_A_FIXTURE_OUTCOME;

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
