// The read-once snapshot (src/cluster/snapshot.ts, src/cluster/view.ts): per attempt, every read a stage points at is
// made once, whatever the number of targets; what a read failed with is kept and thrown to every stage that reads it;
// a refresh starts a new snapshot.

import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ManifestCluster, loadManifests } from '../../src/cluster/manifests.js';
import type { ClusterReader } from '../../src/cluster/reader.js';
import { Snapshot } from '../../src/cluster/snapshot.js';
import { ClusterAccessError } from '../../src/errors.js';
import { PathResolver } from '../../src/gatewayapi/resolver.js';
import { parseTarget } from '../../src/target.js';
import { FIXTURES, offlineEnv } from '../helpers/fixtures.js';
import { toClusterError, unreadableOf } from '../../src/cluster/live.js';
import { prefetch, viewOf } from '../../src/cluster/view.js';
import { inputsToRead, runTarget, runTargets } from '../../src/pipeline.js';
import { LAYERS as CHECKS } from '../../checks/index.js';
import { layer, layerMeta, type ReadKind } from '../../src/registry.js';
import { pass } from '../../src/findings.js';
import type { Check } from '../../src/check.js';
import { KIND_OF_READ } from '../helpers/recording-reader.js';

const once = { until: null, intervalMs: 0 };

/** The seed manifests behind a reader that counts each call (method and arguments) and can fail one method. */
function counted(fail: string | null = null) {
  const base = new ManifestCluster(loadManifests([join(FIXTURES, 'seed-healthy')]));
  const calls = new Map<string, number>();
  let snap = base.snapshot();
  const reader = new Proxy(base, {
    get(target, prop, receiver) {
      if (prop === 'snapshot') return () => snap;
      if (prop === 'refresh') return () => (snap = new Snapshot('manifests'));
      const value = Reflect.get(target, prop, receiver) as unknown;
      if (typeof value !== 'function' || ['origin', 'describeSource', 'notApplied'].includes(String(prop)))
        return value;
      return (...args: unknown[]) => {
        const key = `${String(prop)}${JSON.stringify(args)}`;
        calls.set(key, (calls.get(key) ?? 0) + 1);
        if (prop === fail) return Promise.reject(new ClusterAccessError('forbidden', `cannot list ${String(prop)}`));
        return (value as (...a: unknown[]) => unknown).apply(target, args);
      };
    },
  }) as ClusterReader;
  return { reader, calls };
}

const resolveAll = async (reader: ClusterReader, host: string) => {
  const p = new PathResolver(reader, parseTarget(host), null);
  expect((await p.listener()).kind).toBe('ok');
  expect((await p.route()).kind).toBe('matched');
  await p.grant();
  await p.endpoints();
  return p;
};

describe('the snapshot', () => {
  it('makes each read once per attempt, for every target of the attempt', async () => {
    const { reader, calls } = counted();
    await resolveAll(reader, 'api.example.com');
    const one = new Map(calls);
    expect(one.get('gateways[]')).toBe(1);
    expect([...one.keys()].some((k) => k.startsWith('service['))).toBe(true);
    await resolveAll(reader, 'api.example.com');
    expect(new Map(calls)).toEqual(one); // the later targets read nothing: the snapshot holds it all
    expect(Math.max(...calls.values())).toBe(1);
  });

  it('starts again after a refresh (a --wait retry sees the cluster as it is then)', async () => {
    const { reader, calls } = counted();
    await resolveAll(reader, 'api.example.com');
    reader.refresh();
    await resolveAll(reader, 'api.example.com');
    expect(calls.get('gateways[]')).toBe(2);
  });

  it('keeps what a read failed with and throws it to every stage that reads it, without reading again', async () => {
    const { reader, calls } = counted('gateways');
    for (const host of ['api.example.com', 'other.example.com']) {
      const p = new PathResolver(reader, parseTarget(host), null);
      await expect(p.listener()).rejects.toThrow(/cannot list gateways/);
    }
    expect(calls.get('gateways[]')).toBe(1);
  });

  it('keeps a read that throws before it returns a promise like one that rejects (a prefetch never rejects)', async () => {
    const snap = new Snapshot('live');
    const boom = new Error('thrown at once');
    const load = (): Promise<unknown> => {
      throw boom;
    };
    await expect(snap.fill([{ key: 'k', load }])).resolves.toBeUndefined();
    expect(() => snap.read('k', load)).toThrow(boom);
  });

  it('gives evidence the objects a stage read, though another target made the read', async () => {
    const { reader } = counted();
    await resolveAll(reader, 'api.example.com');
    const p = await resolveAll(reader, 'api.example.com');
    const rs = await p.route();
    if (rs.kind !== 'matched') throw new Error(rs.kind);
    const route = rs.attachment.route;
    expect(
      p.objectOf({ kind: 'HTTPRoute', namespace: route.metadata.namespace as string, name: route.metadata.name }),
    ).toBe(route);
  });
});

/** The seed manifests behind a reader whose GRPCRoute list goes as the live reader's does when it is refused or not served. */
function grpcUnread(reason: 'forbidden' | 'not-served') {
  const base = new ManifestCluster(loadManifests([join(FIXTURES, 'seed-healthy')]));
  return new Proxy(base, {
    get(target, prop, receiver) {
      if (prop !== 'grpcRoutes') return Reflect.get(target, prop, receiver);
      return async () => {
        const ask = { verb: 'list' as const, resource: 'grpcroutes.gateway.networking.k8s.io' };
        const err = toClusterError(
          { code: reason === 'forbidden' ? 403 : 404, body: { message: 'grpcroutes is forbidden: User "u"' } },
          'list grpcroutes.gateway.networking.k8s.io at the cluster scope',
          'https://api.test',
        );
        target.snapshot().recordUnreadable(unreadableOf('GRPCRoute', ask, err, 'none'));
        return [];
      };
    },
  }) as ClusterReader;
}

describe('what could not be read, per kind (Snapshot.unreadable)', () => {
  const ask = { verb: 'list' as const, resource: 'referencegrants.gateway.networking.k8s.io', namespace: 'apps' };
  const what = 'list referencegrants.gateway.networking.k8s.io in namespace apps';

  it('types the reason from the API server answer: forbidden (403), not served (404), error (other, with status)', () => {
    const of = (e: unknown) =>
      unreadableOf('ReferenceGrant', ask, toClusterError(e, what, 'https://api.test'), 'failed');
    expect(of({ code: 403, body: { message: 'no' } })).toEqual({
      kind: 'ReferenceGrant',
      reason: 'forbidden',
      ...ask,
      status: 403,
      outcome: 'failed',
      message: 'no',
    });
    expect(of({ code: 404 })).toMatchObject({ reason: 'not-served', status: 404 });
    expect(of({ code: 500, body: '{"message":"etcd timeout"}' })).toMatchObject({
      reason: 'error',
      status: 500,
      message: 'etcd timeout',
    });
    // No answer at all (connection refused): an error without a status.
    const refused = of(Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' }));
    expect(refused.reason).toBe('error');
    expect('status' in refused).toBe(false);
  });

  it('keeps one record per kind (the first failure), in the order the kinds failed', () => {
    const snap = new Snapshot('live');
    const rec = (kind: 'Secret' | 'ConfigMap', namespace: string) => ({
      kind,
      reason: 'forbidden' as const,
      verb: 'get' as const,
      resource: `${kind.toLowerCase()}s`,
      namespace,
      outcome: 'unknown' as const,
    });
    snap.recordUnreadable(rec('Secret', 'a'));
    snap.recordUnreadable(rec('ConfigMap', 'a'));
    snap.recordUnreadable(rec('Secret', 'b'));
    expect(snap.unreadable().map((u) => `${u.kind} ${u.namespace}`)).toEqual(['Secret a', 'ConfigMap a']);
  });

  it('a refused GRPCRoute list: the route layer says GRPCRoutes were not checked, as typed facts, rendered to text', async () => {
    const r = await runTarget(CHECKS, parseTarget('api.example.com'), offlineEnv(grpcUnread('forbidden')), once);
    const route = r.layers.find((l) => l.id === 'route');
    expect([route?.status, route?.code]).toEqual(['warn', 'GRPCRouteNotChecked']);
    expect(route?.facts.unread).toEqual([
      {
        kind: 'GRPCRoute',
        reason: 'forbidden',
        verb: 'list',
        resource: 'grpcroutes.gateway.networking.k8s.io',
        status: 403,
        outcome: 'none',
      },
    ]);
    expect(route?.evidence).toContainEqual({
      ref: 'GRPCRoutes',
      detail:
        'not read: forbidden: cannot list grpcroutes.gateway.networking.k8s.io at the cluster scope (grpcroutes is forbidden: User "u"); taken as none',
    });
    expect(route?.summary).toContain('GRPCRoutes could not be read (forbidden)');
  });

  it('a kind the API server does not serve is recorded, but nothing was missed: the route layer passes', async () => {
    const reader = grpcUnread('not-served');
    const r = await runTarget(CHECKS, parseTarget('api.example.com'), offlineEnv(reader), once);
    expect(reader.snapshot().unreadable()).toMatchObject([
      { kind: 'GRPCRoute', reason: 'not-served', outcome: 'none' },
    ]);
    const route = r.layers.find((l) => l.id === 'route');
    expect(route?.status).toBe('pass');
    expect(route?.facts.unread).toBeUndefined();
  });
});

describe('prefetch: the lists the layers to run declare, read together before the stages', () => {
  const seed = () => new ManifestCluster(loadManifests([join(FIXTURES, 'seed-healthy')]));
  /** A reader that notes each read (method), and who was running then (null: before any layer started). */
  function noted() {
    const calls: { read: string; during: string | null }[] = [];
    let during: string | null = null;
    const base = seed();
    const reader = new Proxy(base, {
      get(target, prop, receiver) {
        const value = Reflect.get(target, prop, receiver) as unknown;
        if (typeof value !== 'function' || typeof prop !== 'string' || !(prop in KIND_OF_READ)) return value;
        return (...args: unknown[]) => {
          calls.push({ read: prop, during });
          return (value as (...a: unknown[]) => unknown).apply(target, args);
        };
      },
    }) as ClusterReader;
    return { reader, calls, onLayerStart: (_t: unknown, id: string) => void (during = id) };
  }
  // Layers that read nothing themselves: what is read is the prefetch.
  const idle = (id: 'proxy' | 'listener' | 'route', inputs: ReadKind[], needs?: ('network' | 'cluster')[]): Check => ({
    ...layer(id),
    inputs,
    ...(needs ? { needs } : {}),
    run: async () => pass(layerMeta(id), 'ok'),
  });
  const layers = [
    idle('proxy', ['Gateway', 'Node', 'Service']),
    idle('listener', ['GatewayClass', 'HTTPRoute', 'Secret']),
    idle('route', ['GRPCRoute', 'Namespace']),
  ];

  it('starts every list read at once (before any of them answers), and no by-name read', () => {
    const { reader, calls } = noted();
    const done = prefetch(reader, [
      'HTTPRoute',
      'Gateway',
      'Secret',
      'Namespace',
      'GatewayClass',
      'Node',
      'AuthorizationPolicy',
      'Gateway',
    ]);
    // Synchronously: every list read has started (once), nothing awaited between them.
    expect(calls.map((c) => c.read).sort()).toEqual(['gatewayClasses', 'gateways', 'httpRoutes']);
    return done;
  });

  it('reads, before the first layer starts, the lists of the layers this run will run, once', async () => {
    const { reader, calls, onLayerStart } = noted();
    const env = { ...offlineEnv(reader), offline: false };
    await runTargets(layers, [parseTarget('api.example.com'), parseTarget('b.example.com')], env, once, {
      onLayerStart,
    });
    expect(calls.map((c) => `${c.during ?? 'before'}: ${c.read}`).sort()).toEqual([
      'before: gatewayClasses',
      'before: gateways',
      'before: grpcRoutes',
      'before: httpRoutes',
    ]);
    // The stages of the same attempt read from the snapshot: a stage's list read joins the prefetch.
    const v = viewOf(reader);
    expect(v.gateways()).toBe(await reader.gateways());
  });

  it("offline: not the network layers' lists; without a cluster source, or for a layer that reads nothing: none", async () => {
    const off = noted();
    await runTarget(layers, parseTarget('api.example.com'), offlineEnv(off.reader), once);
    expect(off.calls.map((c) => c.read).sort()).toEqual(['gatewayClasses', 'grpcRoutes', 'httpRoutes']);

    const stand = noted();
    const standIns = layers.map((l) => ({ ...l, needs: [] }));
    await runTarget(standIns, parseTarget('api.example.com'), offlineEnv(stand.reader), once);
    expect(stand.calls).toEqual([]);

    expect(inputsToRead(layers, { offline: false, cluster: null })).toEqual(new Set());
  });
});
