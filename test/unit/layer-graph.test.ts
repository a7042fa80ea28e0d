// The layer graph (src/registry.ts LAYERS: lane, after, needs, inputs) is what the pipeline runs by. These tests keep
// the declarations true: every kind a layer's check reads is among its declared `inputs` (the scenario corpus run
// through a reader that records each read), the run order follows `after`, and the pipeline names no layer.

import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { INTERNAL_LAYERS, LAYERS as CHECKS } from '../../checks/index.js';
import { loadManifests, ManifestCluster } from '../../src/cluster/manifests.js';
import type { Check } from '../../src/check.js';
import type { K8sObject } from '../../src/cluster/objects.js';
import { runTarget, stopOf, type Env } from '../../src/pipeline.js';
import { LAYER_IDS, LAYERS, layer, READ_KINDS, type LayerId, type ReadKind } from '../../src/registry.js';
import type { Finding } from '../../src/types.js';
import { parseTarget } from '../../src/target.js';
import { objects, probe } from '../helpers/behind-nginx.js';
import { gatewayEnv, offlineEnv, scenarios } from '../helpers/fixtures.js';
import { recording, type Recording } from '../helpers/recording-reader.js';
import { LIST_READS } from '../../src/cluster/view.js';

const root = join(import.meta.dirname, '..', '..');
const once = { until: null, intervalMs: 0 };
const INTERNAL = 'internal:';
/** Who reads before the first layer starts: the attempt's prefetch of the lists its layers declare (src/cluster/view.ts). */
const PREFETCH = '(prefetch)';

/** What each layer read, over every run given, and the reader members nobody mapped to a kind. */
function merge(into: Map<string, Set<ReadKind>>, rec: Recording, unknown: Set<string>): void {
  for (const [layer, kinds] of rec.reads) {
    const set = into.get(layer) ?? new Set();
    for (const k of kinds) set.add(k);
    into.set(layer, set);
  }
  for (const u of rec.unknown) unknown.add(u);
}

function undeclared(read: Map<string, Set<ReadKind>>): string[] {
  const bad: string[] = [];
  for (const [layer, kinds] of read) {
    const decl = LAYERS.find((l) => l.id === layer);
    // The prefetch reads lists only, and only of kinds some layer of the run declares (the runs here run them all).
    const inputs: readonly string[] =
      layer === PREFETCH
        ? LAYERS.flatMap((l) => l.inputs).filter((k) => LIST_READS[k] !== undefined)
        : (decl?.inputs ?? []);
    for (const k of kinds) if (!inputs.includes(k)) bad.push(`${layer} reads ${k}, not among its inputs`);
  }
  return bad.sort();
}

describe('inputs: every kind a layer reads is declared', () => {
  const read = new Map<string, Set<ReadKind>>();
  const unknown = new Set<string>();

  it('over the scenario corpus, each layer run alone (its stages resolved from nothing) and in order', async () => {
    for (const s of scenarios()) {
      const objs = loadManifests([s.dir]);
      for (const c of s.cases) {
        const internal = c.target.startsWith(INTERNAL);
        const target = internal
          ? { ...parseTarget(c.target.slice(INTERNAL.length)), expect: 'internal' as const }
          : parseTarget(c.target);
        const layers = internal ? INTERNAL_LAYERS : CHECKS;
        const runOn = async (ls: readonly Check[], alone: string | null): Promise<string[]> => {
          const rec = recording(new ManifestCluster(objs));
          rec.current.layer = alone ?? PREFETCH;
          const env = offlineEnv(rec.reader, gatewayEnv(c.gateway));
          const r = await runTarget(ls, target, env, once, {
            onLayerStart: (_t, id) => {
              rec.current.layer = id;
            },
          });
          merge(read, rec, unknown);
          return r.layers.filter((f) => f.status !== 'skip').map((f) => f.id);
        };
        // Alone: every layer that ran in order (a stage needs what the earlier stages found: a matched rule).
        const ran = await runOn(layers, null);
        for (const l of layers) if (ran.includes(l.id)) await runOn([l], l.id);
      }
    }
    expect([...unknown]).toEqual([]);
    expect(undeclared(read)).toEqual([]);
  }, 600_000);

  it('with the network layers on (the proxy asks the cluster for the direct NodePort probes)', async () => {
    // The proxy's Gateway is the listener stage's: an HTTPS listener's certificate in another namespace (its Secret
    // and ReferenceGrant) and a Gateway istiod says has no instances (its Service's EndpointSlices) are read for it too.
    for (const fixture of [
      'seed-healthy',
      'grant-missing',
      'listener-https-cert-foreign-ns-granted',
      'gateway-not-programmed',
    ])
      for (const [status, body] of [
        [200, 'ok'],
        [404, ''],
        [502, '<html>502 Bad Gateway</html>'],
        [503, 'no healthy upstream'],
      ] as const) {
        // Two Nodes and externalTrafficPolicy Local: the proxy then asks every node's nodePort (and reads which
        // hold a ready gateway Pod).
        const objs = objects(fixture) as (K8sObject & Record<string, any>)[];
        for (const o of objs)
          if (o.kind === 'Service' && o.metadata.labels?.['gateway.networking.k8s.io/gateway-name'])
            o.spec.externalTrafficPolicy = 'Local';
        const node = objs.find((o) => o.kind === 'Node') as K8sObject & Record<string, any>;
        const second = structuredClone(node);
        second.metadata.name = `${node.metadata.name}-2`;
        second.status.addresses = [{ type: 'InternalIP', address: '192.0.2.21' }];
        const rec = recording(new ManifestCluster([...objs, second]));
        const env: Env = {
          ...offlineEnv(rec.reader),
          offline: false,
          resolver: async () => ({ resolve: async () => [{ family: 4 as const, address: '192.0.2.10' }] }),
          probe: async () => probe(status, body),
        };
        rec.current.layer = PREFETCH;
        await runTarget(CHECKS, parseTarget('https://api.example.com/'), env, once, {
          onLayerStart: (_t, id) => {
            rec.current.layer = id;
          },
        });
        merge(read, rec, unknown);
        // The network lane alone: the lists prefetched are the proxy's own inputs (no cluster layer runs).
        const alone = recording(new ManifestCluster([...objs, second]));
        alone.current.layer = 'proxy';
        const lane = CHECKS.filter((c) => c.lane === 'network');
        await runTarget(lane, parseTarget('https://api.example.com/'), { ...env, cluster: alone.reader }, once, {
          onLayerStart: (_t, id) => {
            alone.current.layer = id;
          },
        });
        merge(read, alone, unknown);
      }
    expect([...unknown]).toEqual([]);
    expect(undeclared(read)).toEqual([]);
    // The proxy layer did ask the cluster: the check above saw its reads.
    expect([...(read.get('proxy') ?? [])].length).toBeGreaterThan(0);
  }, 120_000);

  it('declares nothing the runs above never read (but for a layer that reads a live cluster only)', () => {
    // A layer that reads nothing from manifests (the data plane: istiod's debug port and the gateway Pods' Envoy,
    // through the API server) is checked against what it reads in test/integration/dataplane*.test.ts only.
    const never = LAYERS.filter((l) => read.has(l.id)).flatMap((l) =>
      (l.inputs as readonly ReadKind[]).filter((k) => !read.get(l.id)?.has(k)).map((k) => `${l.id}: ${k}`),
    );
    expect(never).toEqual([]);
    expect(LAYERS.flatMap((l) => l.inputs).every((k) => (READ_KINDS as readonly string[]).includes(k))).toBe(true);
  });
});

describe('the graph', () => {
  it('runs the layers in an order that follows `after` (each layer after the layers it names)', () => {
    for (const [i, l] of LAYERS.entries())
      for (const a of l.after) expect(LAYER_IDS.indexOf(a), `${l.id} after ${a}`).toBeLessThan(i);
    expect(CHECKS.map((c) => c.id)).toEqual([...LAYER_IDS]);
    expect(INTERNAL_LAYERS.map((c) => c.id)).toEqual([...LAYER_IDS]);
  });
  it('names no layer in the pipeline or the finding constructors: they read the declarations', () => {
    for (const file of ['src/pipeline.ts', 'src/findings.ts']) {
      const src = readFileSync(join(root, file), 'utf8').replace(/\/\/[^\n]*|\/\*[\s\S]*?\*\//g, '');
      const named = LAYER_IDS.filter((id) => new RegExp(`['"\`]${id}['"\`]`).test(src));
      expect(named, file).toEqual([]);
    }
  });
});

describe('the lane rule (stopOf), on the registry declarations', () => {
  const graph = (id: LayerId) => layer(id);
  const f = (id: LayerId, status: 'fail' | 'error', code: string): Finding =>
    ({ id, status, code, facts: {} }) as unknown as Finding;
  const withCluster = offlineEnv(new ManifestCluster([]), { offline: false });
  const noCluster = offlineEnv(null, { offline: false });
  const first = LAYER_IDS[0] as LayerId;
  const network = LAYER_IDS.filter((id) => layer(id).lane === 'network');
  const cluster = LAYER_IDS.filter((id) => layer(id).lane === 'cluster');
  const [c1, c2] = cluster as [LayerId, LayerId];
  const n2 = network[1] as LayerId;

  it('a fail stops every later layer of every lane; an error its own lane only', () => {
    expect(stopOf(layer(n2), [f(first, 'fail', 'DnsNoRecords')], graph, withCluster)?.id).toBe(first);
    expect(stopOf(layer(c1), [f(first, 'fail', 'DnsNoRecords')], graph, withCluster)?.id).toBe(first);
    expect(stopOf(layer(n2), [f(first, 'error', 'DnsResolverError')], graph, withCluster)?.id).toBe(first);
    expect(stopOf(layer(c1), [f(first, 'error', 'DnsResolverError')], graph, withCluster)).toBeNull();
  });
  it("a fail whose code stops only its own lane (stops: 'lane') lets the other lane run", () => {
    expect(stopOf(layer(c1), [f(n2, 'fail', 'InternalHostExposed')], graph, withCluster)).toBeNull();
  });
  it('a layer without what it needs (no cluster source) is stopped by any earlier stop', () => {
    expect(stopOf(layer(c1), [f(first, 'error', 'DnsResolverError')], graph, noCluster)?.id).toBe(first);
  });
  it('its own lane first: a cluster layer after a network error and a cluster fail names the cluster fail', () => {
    const earlier = [f(first, 'error', 'DnsResolverError'), f(c1, 'fail', 'GatewayNotFound')];
    expect(stopOf(layer(c2), earlier, graph, withCluster)?.id).toBe(c1);
  });
  it('a stand-in that reads nothing (needs: []) is stopped by the first stop, whatever its lane', () => {
    const standIn = { ...layer(c2), needs: [] };
    expect(stopOf(standIn, [f(n2, 'fail', 'InternalHostExposed')], graph, withCluster)?.id).toBe(n2);
  });
  it('only the layers it comes after stop it', () => {
    expect(stopOf(layer(c1), [f(c2, 'fail', 'NoRouteForHost')], graph, withCluster)).toBeNull();
  });
});
