// The pipeline contract: order, stop at the first fail/error, every later layer recorded as skip, warn continues,
// unexpected exceptions are bugs, --wait retries only retryable findings (fake clock).

import { describe, expect, it } from 'vitest';
import { emit, pass } from '../../src/findings.js';
import { ClusterAccessError } from '../../src/errors.js';
import { runTarget, verdictOf } from '../../src/pipeline.js';
import { parseTarget } from '../../src/target.js';
import type { LayerId } from '../../src/types.js';
import { layer } from '../../src/registry.js';
import type { Check } from '../../src/check.js';
import { withEnvoy } from '../../src/layer.js';
import { offlineEnv } from '../helpers/fixtures.js';
import { ManifestCluster } from '../../src/cluster/manifests.js';

/** A layer with its literal id, as a judge has it (emit accepts only that layer's codes). */
const on = <I extends LayerId>(id: I) => ({ id, title: id });
const ids: LayerId[] = ['dns', 'proxy', 'listener', 'route', 'grant', 'endpoints'];
function layers(behave: Partial<Record<LayerId, Check['run']>>): Check[] {
  // Stand-ins that read nothing (`needs: []`): they run offline and without a cluster, unless a test gives them
  // their registry declaration back.
  return ids.map((id) => ({
    ...layer(id),
    title: id,
    needs: [],
    run:
      behave[id] ??
      async function (this: Check) {
        return pass(this, `${id} ok`);
      },
  }));
}
const target = parseTarget('api.example.com');
const env = offlineEnv(new ManifestCluster([]));
const once = { until: null, intervalMs: 0 };
/** The same layers against a cluster source that can change between attempts (a live cluster). */
const liveEnv = offlineEnv(Object.defineProperty(new ManifestCluster([]), 'mode', { value: 'live' }));

describe('runTarget', () => {
  it('runs every layer in order when all pass', async () => {
    const r = await runTarget(layers({}), target, env, once);
    expect(r.layers.map((l) => [l.id, l.status])).toEqual(ids.map((i) => [i, 'pass']));
    expect([r.verdict, r.failedLayer]).toEqual(['pass', null]);
  });
  it('stops at the first fail and records later layers as skip with the reason', async () => {
    const r = await runTarget(
      layers({
        route: async function (this: Check) {
          return emit(on('route'), 'NoRouteForHost', 'none');
        },
      }),
      target,
      env,
      once,
    );
    expect(r.layers.map((l) => l.status)).toEqual(['pass', 'pass', 'pass', 'fail', 'skip', 'skip']);
    expect(r.layers[4]?.summary).toBe('not checked: route failed');
    expect([r.verdict, r.failedLayer]).toEqual(['fail', 'route']);
  });
  it('continues after a warn, and the verdict is warn', async () => {
    const r = await runTarget(
      layers({
        listener: async function (this: Check) {
          return emit(on('listener'), 'GatewayStatusStale', 'stale');
        },
      }),
      target,
      env,
      once,
    );
    expect(r.layers.map((l) => l.status)).toEqual(['pass', 'pass', 'warn', 'pass', 'pass', 'pass']);
    expect(r.verdict).toBe('warn');
  });
  it('turns a cluster access error into an error finding (inconclusive), naming what could not be read', async () => {
    const r = await runTarget(
      layers({
        grant: async () => {
          throw new ClusterAccessError('forbidden', 'forbidden: cannot list referencegrants in namespace example-api');
        },
      }),
      target,
      env,
      once,
    );
    expect(r.layers[4]).toMatchObject({
      status: 'error',
      code: 'ClusterForbidden',
      summary: expect.stringMatching(/referencegrants/),
    });
    expect([r.verdict, r.failedLayer]).toEqual(['error', 'grant']);
    expect(r.layers[5]?.summary).toBe('not checked: grant could not be checked');
  });
  it('rethrows an unexpected exception: it is a bug, not a finding', async () => {
    await expect(
      runTarget(
        layers({
          dns: async () => {
            throw new TypeError('boom');
          },
        }),
        target,
        env,
        once,
      ),
    ).rejects.toThrow('boom');
  });
  it('reports a layer that outlives the deadline as a Timeout error', async () => {
    const slow = layers({ listener: () => new Promise(() => undefined) });
    const r = await runTarget(slow, target, { ...env, signal: AbortSignal.timeout(50) }, once);
    expect(r.layers[2]).toMatchObject({ status: 'error', code: 'Timeout' });
  });
  it('skips network layers with --offline and cluster layers without a cluster source', async () => {
    const ls = layers({}).map((c) => ({ ...c, needs: layer(c.id).needs }));
    const r = await runTarget(
      ls,
      target,
      { ...env, offline: true, cluster: null, clusterUnavailable: 'no kubeconfig found' },
      once,
    );
    expect(r.layers.map((l) => l.summary)).toEqual([
      'not checked: --offline (no network probes)',
      'not checked: --offline (no network probes)',
      ...Array(4).fill('not checked: no kubeconfig found'),
    ]);
    expect(r.verdict).toBe('error'); // nothing could be concluded
  });
});

describe('a network layer that could not look', () => {
  const netLayers = (dnsResult: 'error', route: 'fail' | 'pass') =>
    layers({
      dns: async function (this: Check) {
        return emit(on('dns'), 'DnsResolverError', 'resolver timed out');
      },
      route: async function (this: Check) {
        return route === 'fail' ? emit(on('route'), 'NoRouteForHost', 'none') : pass(this, 'ok');
      },
    }).map((c) => ({ ...c, needs: layer(c.id).needs }));
  it('does not hide the cluster layers when a cluster source was given: a fault there is the verdict', async () => {
    const r = await runTarget(netLayers('error', 'fail'), target, { ...env, offline: false }, once);
    expect(r.layers.map((l) => l.status)).toEqual(['error', 'skip', 'pass', 'fail', 'skip', 'skip']);
    expect([r.verdict, r.failedLayer]).toEqual(['fail', 'route']);
    expect(r.layers[1]?.summary).toBe('not checked: dns could not be checked');
  });
  it('leaves the run inconclusive when the cluster layers all pass', async () => {
    const r = await runTarget(netLayers('error', 'pass'), target, { ...env, offline: false }, once);
    expect([r.verdict, r.failedLayer]).toEqual(['error', 'dns']);
  });
});

describe('--wait', () => {
  it('re-runs while the blocking finding is retryable, until it passes', async () => {
    let calls = 0;
    let clock = 0;
    const ls = layers({
      endpoints: async function (this: Check) {
        calls++;
        return calls < 3 ? emit(on('endpoints'), 'NoReadyEndpoints', 'not yet') : pass(this, 'ready');
      },
    });
    const r = await runTarget(ls, target, liveEnv, {
      until: 60_000,
      intervalMs: 5_000,
      now: () => clock,
      sleep: async (ms) => {
        clock += ms;
      },
    });
    expect([r.verdict, r.attempts, clock]).toEqual(['pass', 3, 10_000]);
  });
  it('gives up at the deadline and reports the last attempt', async () => {
    let clock = 0;
    const ls = layers({
      endpoints: async function (this: Check) {
        return emit(on('endpoints'), 'NoReadyEndpoints', 'never');
      },
    });
    const r = await runTarget(ls, target, liveEnv, {
      until: 12_000,
      intervalMs: 5_000,
      now: () => clock,
      sleep: async (ms) => {
        clock += ms;
      },
    });
    expect([r.verdict, r.attempts]).toEqual(['fail', 3]); // at 0 s, 5 s and 10 s; a 4th at 15 s would pass the deadline
  });
  it('shows the view only the final attempt, and says how many attempts over how long and why it stopped', async () => {
    let calls = 0;
    let clock = 0;
    const ended: string[] = [];
    const ls = layers({
      endpoints: async function (this: Check) {
        calls++;
        return calls < 2 ? emit(on('endpoints'), 'NoReadyEndpoints', 'not yet') : pass(this, 'ready');
      },
    });
    const r = await runTarget(
      ls,
      target,
      liveEnv,
      {
        until: 60_000,
        intervalMs: 5_000,
        now: () => clock,
        sleep: async (ms) => {
          clock += ms;
        },
      },
      {
        onLayerEnd: (_t, f) => ended.push(`${f.id}:${f.status}`),
      },
    );
    expect(ended).toEqual(['dns:pass', 'proxy:pass', 'listener:pass', 'route:pass', 'grant:pass', 'endpoints:pass']);
    expect(r.waited).toEqual({ attempts: 2, durationMs: 5_000, stopped: 'passed' });
  });
  it('stops at once when only warnings that waiting cannot change remain', async () => {
    const ls = layers({
      endpoints: async function (this: Check) {
        return emit(on('endpoints'), 'EndpointsUnknown', 'manifests hold no pods');
      },
    });
    const r = await runTarget(ls, target, liveEnv, {
      until: 60_000,
      intervalMs: 1,
      now: () => 0,
      sleep: async () => undefined,
    });
    expect([r.attempts, r.waited?.stopped]).toEqual([1, 'only-settled-warnings']);
  });
  it('does not retry what manifests say: files do not change between attempts', async () => {
    const ls = layers({
      grant: async function (this: Check) {
        return emit(on('grant'), 'ReferenceGrantMissing', 'missing');
      },
    });
    const r = await runTarget(ls, target, env, {
      until: 60_000,
      intervalMs: 1,
      now: () => 0,
      sleep: async () => undefined,
    });
    expect([r.attempts, r.waited?.stopped]).toEqual([1, 'nothing-retryable']);
  });
  it('re-checks a live fault a GitOps sync can still fix (a ReferenceGrant that arrives seconds later)', async () => {
    let calls = 0;
    let clock = 0;
    const ls = layers({
      grant: async function (this: Check) {
        return ++calls < 3 ? emit(on('grant'), 'ReferenceGrantMissing', 'missing') : pass(this, 'granted');
      },
    });
    const r = await runTarget(ls, target, liveEnv, {
      until: 60_000,
      intervalMs: 2_000,
      now: () => clock,
      sleep: async (ms) => {
        clock += ms;
      },
    });
    expect([r.verdict, r.attempts, r.waited?.stopped]).toEqual(['pass', 3, 'passed']);
  });
});

describe('verdictOf', () => {
  it('names the first failing layer, fail and error alike', () => {
    const f = (id: LayerId, status: 'pass' | 'fail' | 'error' | 'skip' | 'warn') => ({ id, status }) as never;
    expect(verdictOf([f('dns', 'pass'), f('proxy', 'error'), f('listener', 'skip')])).toEqual({
      verdict: 'error',
      failedLayer: 'proxy',
    });
    expect(verdictOf([f('dns', 'skip'), f('proxy', 'warn')])).toEqual({ verdict: 'warn', failedLayer: null });
  });
});

describe('an Envoy error that no cluster layer explains', () => {
  it('is handed by the proxy layer to the later layers as explicit input (probes.envoy), never shared state', async () => {
    const seen: unknown[] = [];
    const ls = layers({
      proxy: async function (this: Check) {
        return {
          ...pass(this, 'forwarded; Envoy answered 404'),
          observed: {
            envoy: [{ layer: 'route' as const, evidence: { ref: 'proxy', detail: 'HTTP 404 no route (NR)' } }],
          },
        };
      },
      route: async function (this: Check, ctx) {
        seen.push(ctx.probes.envoy);
        return pass(this, 'forwarded');
      },
    });
    await runTarget(ls, target, env, once);
    expect(seen).toEqual([[{ layer: 'route', evidence: { ref: 'proxy', detail: 'HTTP 404 no route (NR)' } }]]);
  });
  it("hands the proxy layer's every-node probe (observed.nodes) to the later layers (probes.nodes: the dataplane layer's scope)", async () => {
    const nodes = {
      service: 'istio-ingress/gw-istio',
      nodes: [
        {
          node: 'node-a',
          address: '192.0.2.1',
          nodePort: 32080,
          readyGatewayPod: true,
          answered: true,
          statusCode: 200,
          error: null,
          usedByProxy: true,
        },
      ],
    };
    const seen: unknown[] = [];
    const ls = layers({
      proxy: async function (this: Check) {
        return { ...pass(this, 'forwarded'), observed: { nodes } };
      },
      route: async function (this: Check, ctx) {
        seen.push(ctx.probes.nodes);
        return pass(this, 'forwarded');
      },
    });
    await runTarget(ls, target, env, once);
    expect(seen).toEqual([nodes]);
  });
  it('turns the pass of the layer it points at into a GatewayErrorResponse error: the run never exits 0', () => {
    const route = { id: 'route' as const, title: 'route' };
    const d = withEnvoy(pass(route, 'forwarded'), {
      addresses: null,
      envoy: [{ layer: 'route', evidence: { ref: 'proxy', detail: 'HTTP 404 no route (NR)' } }],
    });
    expect(d).toMatchObject({ status: 'error', code: 'GatewayErrorResponse', retryable: true });
    expect(d.summary).toMatch(/but the gateway answered HTTP 404 no route/);
  });
  it('a layer that passes hands the answer on to a later layer that can explain it (500 NC: grant, then endpoints)', () => {
    const grant = { id: 'grant' as const, title: 'grant' };
    const nc = {
      layer: 'grant' as const,
      also: ['endpoints' as const],
      evidence: { ref: 'proxy', detail: 'HTTP 500 NC' },
    };
    const d = withEnvoy(pass(grant, 'refs permitted'), { addresses: null, envoy: [nc] }, ['endpoints']);
    expect(d.status).toBe('pass');
    expect(d.evidence.map((e) => e.detail)).toEqual([
      'HTTP 500 NC',
      "nothing in this layer explains the gateway's answer; the endpoints layer can, and checks next",
    ]);
    // A run without the endpoints layer: nothing is left to explain it.
    expect(withEnvoy(pass(grant, 'refs permitted'), { addresses: null, envoy: [nc] }, [])).toMatchObject({
      status: 'error',
      code: 'GatewayErrorResponse',
    });
  });
  it("when no layer is left, the answer's own code says it (with its fix), else GatewayErrorResponse", () => {
    const ep = { id: 'endpoints' as const, title: 'endpoints' };
    const fix = { kind: 'manual' as const, explain: 'check the port' };
    const d = withEnvoy(
      pass(ep, '1 ready'),
      {
        addresses: null,
        envoy: [
          {
            layer: 'endpoints',
            evidence: { ref: 'proxy', detail: 'HTTP 503 UF' },
            unexplained: { code: 'BackendConnectFailed', fix },
          },
        ],
      },
      [],
    );
    expect(d).toMatchObject({
      status: 'fail',
      code: 'BackendConnectFailed',
      fix,
      retryable: true,
      summary: '1 ready; but the gateway answered HTTP 503 UF',
    });
  });
  it("in a run: grant passes, endpoints names the missing Service with Envoy's 500; a warning explains an answer for good", async () => {
    const nc = {
      layer: 'grant' as const,
      also: ['endpoints' as const],
      evidence: { ref: 'proxy', detail: 'HTTP 500 NC' },
    };
    const proxy = async function (this: Check) {
      return { ...pass(this, 'forwarded'), observed: { envoy: [nc] } };
    };
    const judged = (status: 'pass' | 'warn' | 'fail') =>
      async function (this: Check, ctx: Parameters<Check['run']>[0]) {
        const ep = { id: 'endpoints' as const, title: this.title };
        const d =
          status === 'pass'
            ? pass(this, `${this.id} ok`)
            : status === 'warn'
              ? emit(ep, 'EndpointsUnknown', 'unknown')
              : emit(ep, 'ServiceNotFound', 'no Service');
        return withEnvoy(d, ctx.probes, ctx.later);
      };
    const r = await runTarget(layers({ proxy, grant: judged('pass'), endpoints: judged('fail') }), target, env, once);
    expect(r.layers.map((l) => [l.id, l.status, l.code])).toEqual([
      ['dns', 'pass', null],
      ['proxy', 'pass', null],
      ['listener', 'pass', null],
      ['route', 'pass', null],
      ['grant', 'pass', null],
      ['endpoints', 'fail', 'ServiceNotFound'],
    ]);
    expect(r.layers[5]?.evidence).toContainEqual(nc.evidence);
    const w = await runTarget(layers({ proxy, grant: judged('warn'), endpoints: judged('pass') }), target, env, once);
    expect(w.layers.map((l) => l.status)).toEqual(['pass', 'pass', 'pass', 'pass', 'warn', 'pass']);
    expect(w.layers[5]?.evidence).toEqual([]);
  });
  it('leaves a failing layer failing and adds the evidence', () => {
    const ep = { id: 'endpoints' as const, title: 'endpoints' };
    const d = withEnvoy(emit(ep, 'NoReadyEndpoints', 'none ready'), {
      addresses: null,
      envoy: [{ layer: 'endpoints', evidence: { ref: 'proxy', detail: 'HTTP 503 no healthy upstream' } }],
    });
    expect(d).toMatchObject({ status: 'fail', code: 'NoReadyEndpoints' });
    expect(d.evidence).toContainEqual({ ref: 'proxy', detail: 'HTTP 503 no healthy upstream' });
  });
});

describe('a proxy fail that is only what the client gets (observed.symptom)', () => {
  const symptom = {
    layers: ['listener' as const],
    seen: 'the proxy answers 502 itself: the gateway gives it no HTTP answer',
    evidence: { ref: 'proxy: GET https://api.example.com/', detail: 'HTTP 502 from the proxy itself' },
  };
  const net = (listener: 'fail' | 'pass', endpoints: 'fail' | 'pass' = 'pass', withSymptom = true) =>
    layers({
      proxy: async () => ({
        ...emit(on('proxy'), 'ProxyUpstreamError', 'the proxy answered 502 itself', {
          fix: { kind: 'manual', explain: 'point the proxy at the NodePort' } as never,
        }),
        ...(withSymptom ? { observed: { symptom } } : {}),
      }),
      listener: async function (this: Check) {
        return listener === 'fail' ? emit(on('listener'), 'GatewayNotProgrammed', 'not programmed') : pass(this, 'ok');
      },
      endpoints: async function (this: Check) {
        return endpoints === 'fail' ? emit(on('endpoints'), 'NoReadyEndpoints', 'none ready') : pass(this, 'ok');
      },
    }).map((c) => ({ ...c, needs: layer(c.id).needs }));
  const netEnv = { ...env, offline: false };

  it('the cluster lane runs, and the layer that names the cause is the verdict; the proxy passes saying what the client gets and who explains it', async () => {
    const ended: [string, string][] = [];
    const r = await runTarget(net('fail'), target, netEnv, once, {
      onLayerEnd: (_t, f) => ended.push([f.id, f.status]),
    });
    expect(r.layers.map((l) => l.status)).toEqual(['pass', 'pass', 'fail', 'skip', 'skip', 'skip']);
    expect([r.verdict, r.failedLayer, r.layers[2]?.code]).toEqual(['fail', 'listener', 'GatewayNotProgrammed']);
    expect(r.layers[1]).toMatchObject({
      code: null,
      fix: null,
      facts: { explainedBy: { layer: 'listener', code: 'GatewayNotProgrammed' } },
    });
    expect(r.layers[1]?.summary).toBe(`${symptom.seen}; the listener layer names the cause: GatewayNotProgrammed`);
    expect(r.layers[2]?.evidence).toContainEqual(symptom.evidence);
    // The live view hears of the proxy layer once, with its final finding.
    expect(ended.filter(([id]) => id === 'proxy')).toEqual([['proxy', 'pass']]);
  });
  it('no cluster layer explains it (they pass): the proxy fail stays the verdict, with its fix', async () => {
    const r = await runTarget(net('pass'), target, netEnv, once);
    expect(r.layers.map((l) => l.status)).toEqual(['pass', 'fail', 'pass', 'pass', 'pass', 'pass']);
    expect([r.verdict, r.failedLayer, r.layers[1]?.code]).toEqual(['fail', 'proxy', 'ProxyUpstreamError']);
    expect(r.layers[1]?.fix).not.toBeNull();
  });
  it('a fault of a layer whose fault gives another answer does not explain it: the proxy stays the verdict', async () => {
    const r = await runTarget(net('pass', 'fail'), target, netEnv, once);
    expect([r.verdict, r.failedLayer, r.layers[1]?.code]).toEqual(['fail', 'proxy', 'ProxyUpstreamError']);
    expect(r.layers[1]?.facts.explainedBy).toBeUndefined();
    expect(r.layers[4]?.evidence).not.toContainEqual(symptom.evidence);
  });
  it('a proxy fail that knows its cause (no symptom) stops the cluster lane as before', async () => {
    const r = await runTarget(net('fail', 'pass', false), target, netEnv, once);
    expect(r.layers.map((l) => l.status)).toEqual(['pass', 'fail', 'skip', 'skip', 'skip', 'skip']);
  });
  it('without a cluster source the proxy fail is the verdict', async () => {
    const r = await runTarget(net('fail'), target, { ...netEnv, cluster: null }, once);
    expect([r.verdict, r.failedLayer]).toEqual(['fail', 'proxy']);
  });
});
