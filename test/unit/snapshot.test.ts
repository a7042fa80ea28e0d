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
import { FIXTURES } from '../helpers/fixtures.js';

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
