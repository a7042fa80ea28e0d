// Every fixture scenario, run through the whole pipeline on the manifests backend (network layers off).
// Each case states the verdict, the first failing (or warning) layer and its reason code.

import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { SEED } from '../../scripts/scenario.mjs';
import { CODES, LAYER_IDS, LAYERS } from '../../src/registry.js';
import { expected, FIXTURES, outcome, runScenario, scenarios } from '../helpers/fixtures.js';
import { NOT_A_FIXTURE_OUTCOME } from '../helpers/istiod-scenarios.js';

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

it('has a scenario for every fixture directory, and one directory per scenario of fixtures/_generate.py', () => {
  const dirs = readdirSync(FIXTURES, { withFileTypes: true })
    .filter((d) => d.isDirectory() && !d.name.startsWith('_'))
    .map((d) => d.name)
    .sort((a, b) => a.localeCompare(b));
  expect(all.map((s) => s.name)).toEqual(dirs);
  // the seed is the one full cluster; every other scenario is its overlay and its expectation, nothing else
  for (const name of dirs) {
    expect(`${name}: ${readdirSync(join(FIXTURES, name)).sort().join(' ')}`).toBe(
      `${name}: ${name === SEED ? 'cluster.yaml expect.json' : 'expect.json overlay.yaml'}`,
    );
  }
  const generated = [...readFileSync(join(FIXTURES, '_generate.py'), 'utf8').matchAll(/^@scenario\("([^"]+)"/gm)].map(
    (m) => m[1],
  );
  expect([...generated].sort((a, b) => (a ?? '').localeCompare(b ?? ''))).toEqual(dirs);
});

/**
 * Codes a layer that runs with --manifests --offline can give that no scenario expects, and why. The network layers
 * (dns, proxy) do not run --offline, and codes of layer 'any' (reading a cluster, the run's deadline or interruption)
 * come from no manifest: neither is listed. Every other code of the registry is the expected outcome of a case.
 */
const NOT_IN_A_SCENARIO: Record<string, string> = {
  ...NOT_A_FIXTURE_OUTCOME,
  ...Object.fromEntries(
    Object.entries(CODES)
      .filter(
        ([, info]) =>
          info.layer === 'dataplane' || (Array.isArray(info.layer) && info.layer.every((l) => l === 'dataplane')),
      )
      .map(([code]) => [
        code,
        "the data plane layer asks a live istiod and the gateway's Envoy: with --manifests it is not checked (checks/dataplane.ts)",
      ]),
  ),
};

describe('every reason code a layer can give with --manifests --offline is the expected outcome of a scenario case', () => {
  const offline = LAYERS.filter((l) => !(l.needs as readonly string[]).includes('network')).map((l) => l.id as string);
  const seen = new Set(all.flatMap((s) => s.cases.map((c) => c.code)));
  const codesOf = (layer: string) =>
    Object.entries(CODES)
      .filter(
        ([, info]) =>
          info.layer !== 'any' &&
          (typeof info.layer === 'string' ? [info.layer] : [...info.layer]).includes(layer as never),
      )
      .map(([code]) => code);
  it.each(offline)('%s', (layer) => {
    const missing = codesOf(layer).filter((c) => !seen.has(c) && !(c in NOT_IN_A_SCENARIO));
    expect(missing, 'add a scenario to fixtures/_generate.py, or say why none can give it').toEqual([]);
  });
  it('lists only codes of those layers that no scenario expects', () => {
    const listed = Object.keys(NOT_IN_A_SCENARIO);
    expect(listed.filter((c) => !offline.some((l) => codesOf(l).includes(c)))).toEqual([]);
    expect(listed.filter((c) => seen.has(c))).toEqual([]);
  });
});

it('checks a host written with a trailing dot as the plain host, and warns that Envoy will not match it', async () => {
  const r = await runScenario(all.find((s) => s.name === 'seed-healthy')!.dir, 'api.example.com.');
  expect(r.verdict).toBe('pass');
  expect(r.layers[2]?.evidence.map((e) => e.detail)).toContain(
    'checked as api.example.com; clients that send "Host: api.example.com." get 404 from Envoy',
  );
});
