// Every fixture scenario, run through the whole pipeline on the manifests backend (network layers off).
// Each case states the verdict, the first failing (or warning) layer and its reason code.

import { describe, expect, it } from 'vitest';
import { LAYER_IDS } from '../../src/registry.js';
import { expected, outcome, runScenario, scenarios } from '../helpers/fixtures.js';

const all = scenarios();

describe.each(all)('scenario $name ($status): $description', (s) => {
  it.each(s.cases.map((c) => ({ ...c, name: c.gateway ? `${c.target} --gateway ${c.gateway}` : c.target })))(
    '$name -> $verdict at $layer ($code)',
    async (c) => {
      const report = await runScenario(s.dir, c.target, c.gateway);
      expect(outcome(report)).toEqual(expected(c));
      expect(report.layers.map((l) => l.id)).toEqual([...LAYER_IDS]);
    },
  );
});

it('has a scenario for every fixture directory', () => {
  expect(all.length).toBeGreaterThanOrEqual(20);
});

it('covers every reason code of the cluster layers with at least one fixture case', () => {
  const seen = new Set(all.flatMap((s) => s.cases.map((c) => c.code)));
  const required = [
    'GatewayNotFound',
    'GatewayNotAccepted',
    'GatewayNotProgrammed',
    'ListenerHostnameMismatch',
    'NoRouteForHost',
    'RouteNotAccepted',
    'RouteParentNotFound',
    'RouteNoMatchingRule',
    'RouteStatusStale',
    'RouteStatusMissing',
    'ReferenceGrantMissing',
    'ServiceNotFound',
    'ServicePortMismatch',
    'NoReadyEndpoints',
    'NoPodsSelected',
  ];
  expect(required.filter((c) => !seen.has(c))).toEqual([]);
});

it('checks a host written with a trailing dot as the plain host, and warns that Envoy will not match it', async () => {
  const r = await runScenario(all.find((s) => s.name === 'seed-healthy')!.dir, 'api.example.com.');
  expect(r.verdict).toBe('pass');
  expect(r.layers[2]?.evidence.map((e) => e.detail)).toContain(
    'checked as api.example.com; clients that send "Host: api.example.com." get 404 from Envoy',
  );
});
