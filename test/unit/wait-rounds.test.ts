// --wait with many targets: every target's attempt n belongs to one round, and the cluster reader is refreshed once
// per round (not once per target per attempt), so the reads of a round are shared by every target.

import { describe, expect, it } from 'vitest';
import { emit, pass } from '../../src/findings.js';
import { runTargets } from '../../src/pipeline.js';
import { parseTarget } from '../../src/target.js';
import { layer } from '../../src/registry.js';
import type { LayerId } from '../../src/types.js';
import type { Check } from '../../src/check.js';
import { offlineEnv } from '../helpers/fixtures.js';
import { ManifestCluster } from '../../src/cluster/manifests.js';

/** A layer with its literal id, as a judge has it (emit accepts only that layer's codes). */
const on = <I extends LayerId>(id: I) => ({ id, title: id });
const ids: LayerId[] = ['dns', 'proxy', 'listener', 'route', 'grant', 'endpoints'];

describe('--wait over many targets', () => {
  it('20 targets that converge on the 3rd attempt: 2 refreshes in all, 3 attempts each, every target waits the same 2 intervals', async () => {
    let refreshes = 0;
    const cluster = Object.defineProperties(new ManifestCluster([]), {
      mode: { value: 'live' },
      refresh: { value: () => refreshes++ },
    });
    const env = offlineEnv(cluster);
    const ls: Check[] = ids.map((id) => ({
      ...layer(id),
      title: id,
      needs: [],
      run: async function (this: Check) {
        return id === 'endpoints' && refreshes < 2
          ? emit(on('endpoints'), 'NoReadyEndpoints', 'not yet')
          : pass(this, 'ok');
      },
    }));
    let clock = 0;
    const sleeps: number[] = [];
    const targets = Array.from({ length: 20 }, (_, i) => parseTarget(`h${i}.example.com`));
    const reports = await runTargets(
      ls,
      targets,
      env,
      {
        until: 60_000,
        intervalMs: 2_000,
        now: () => clock,
        sleep: async (ms) => {
          sleeps.push(ms);
          clock += ms;
        },
      },
      {},
      8,
    );
    expect(refreshes).toBe(2);
    expect(sleeps).toEqual([2_000, 2_000]);
    expect(reports.map((r) => r.host)).toEqual(targets.map((t) => t.host));
    expect(new Set(reports.map((r) => `${r.verdict} ${r.attempts} ${r.waited?.durationMs}`))).toEqual(
      new Set(['pass 3 4000']),
    );
  });

  it('a target that is done leaves the rounds: only the others are run again', async () => {
    let refreshes = 0;
    const cluster = Object.defineProperties(new ManifestCluster([]), {
      mode: { value: 'live' },
      refresh: { value: () => refreshes++ },
    });
    const runs = new Map<string, number>();
    const ls: Check[] = ids.map((id) => ({
      ...layer(id),
      title: id,
      needs: [],
      run: async function (this: Check, ctx) {
        if (id !== 'endpoints') return pass(this, 'ok');
        runs.set(ctx.target.host, (runs.get(ctx.target.host) ?? 0) + 1);
        return ctx.target.host === 'slow.example.com' && refreshes < 3
          ? emit(on('endpoints'), 'NoReadyEndpoints', 'not yet')
          : pass(this, 'ok');
      },
    }));
    let clock = 0;
    const reports = await runTargets(
      ls,
      ['fast.example.com', 'slow.example.com'].map(parseTarget),
      offlineEnv(cluster),
      {
        until: 60_000,
        intervalMs: 1_000,
        now: () => clock,
        sleep: async (ms) => {
          clock += ms;
        },
      },
    );
    expect(Object.fromEntries(runs)).toEqual({ 'fast.example.com': 1, 'slow.example.com': 4 });
    expect(reports.map((r) => [r.host, r.attempts, r.waited?.stopped])).toEqual([
      ['fast.example.com', 1, 'passed'],
      ['slow.example.com', 4, 'passed'],
    ]);
    expect(refreshes).toBe(3);
  });
});
