// The mesh and data plane stages read the cluster's objects through the attempt's view (src/cluster/view.ts), like
// the path's other stages: each read once per attempt, and every object they read is one evidence can name
// (PathResolver.objectOf, with its origin), with no recording wrapper around the reader.

import { describe, expect, it } from 'vitest';
import { resolveMesh } from '../../checks/mesh.js';
import { loadManifests, ManifestCluster } from '../../src/cluster/manifests.js';
import type { ClusterReader } from '../../src/cluster/reader.js';
import { resolveEnvoys } from '../../src/dataplane/envoy-stage.js';
import { PathResolver } from '../../src/gatewayapi/resolver.js';
import { parseTarget } from '../../src/target.js';
import { scenarioDir } from '../helpers/fixtures.js';

/** A fixture behind a reader that counts each call; `live` makes it look like a live reader whose Envoy reads fail. */
function counted(fixture: string, live = false) {
  const base = new ManifestCluster(loadManifests([scenarioDir(fixture)]));
  const calls = new Map<string, number>();
  const reader = new Proxy(base, {
    get(target, prop, receiver) {
      if (live && prop === 'mode') return 'live';
      if (live && prop === 'envoyRead') return async () => ({ kind: 'unreachable', why: 'no Envoy in a unit test' });
      const value = Reflect.get(target, prop, receiver) as unknown;
      if (typeof value !== 'function' || ['origin', 'describeSource', 'notApplied', 'snapshot'].includes(String(prop)))
        return typeof value === 'function' ? (value as (...a: unknown[]) => unknown).bind(target) : value;
      return (...args: unknown[]) => {
        const key = `${String(prop)}${JSON.stringify(args)}`;
        calls.set(key, (calls.get(key) ?? 0) + 1);
        return (value as (...a: unknown[]) => unknown).apply(target, args);
      };
    },
  }) as ClusterReader;
  return { reader, calls };
}

describe('the mesh and data plane stages read through the view', () => {
  it('mesh: the policies and the gateway Pod it read are objects evidence can name, read once for two targets', async () => {
    const { reader, calls } = counted('mesh-authz-deny-gateway');
    const stages = [];
    for (const host of ['api.example.com', 'worker.example.com']) {
      const p = new PathResolver(reader, parseTarget(host), null);
      const s = await resolveMesh(p);
      expect(s.kind).toBe('ok');
      stages.push({ p, s });
    }
    expect(calls.get('meshObjects["AuthorizationPolicy"]')).toBe(1);
    expect(Math.max(...calls.values())).toBe(1);
    const { p, s } = stages[1] as (typeof stages)[number];
    if (s.kind !== 'ok') throw new Error(s.kind);
    const policy = s.authz.find((a) => a.metadata.name === 'deny-api');
    expect(policy).toBeDefined();
    // Read by the mesh stage only (no other stage reads AuthorizationPolicies): found, with its file and line.
    const found = p.objectOf({ kind: 'AuthorizationPolicy', namespace: 'istio-ingress', name: 'deny-api' });
    expect(found).toBe(policy);
    expect(p.source.origin(found as NonNullable<typeof found>)).toMatchObject({ line: expect.any(Number) });
    const pod = s.gatewayPod;
    expect(pod).not.toBeNull();
    expect(p.objectOf({ kind: 'Pod', namespace: 'istio-ingress', name: pod?.metadata.name as string })).toBe(pod);
  });

  it('data plane: the gateway Service and Pods behind the Envoy reads are objects evidence can name', async () => {
    const { reader, calls } = counted('seed-healthy', true);
    const p = new PathResolver(reader, parseTarget('api.example.com'), null);
    const s = await resolveEnvoys(p);
    if (s.kind !== 'read') throw new Error(s.kind);
    expect(s.pods.map((x) => x.read.kind)).toEqual(['unreachable']);
    const svc = s.service;
    expect(svc).not.toBeNull();
    expect(p.objectOf({ kind: 'Service', namespace: 'istio-ingress', name: svc?.metadata.name as string })).toBe(svc);
    const podName = s.pods[0]?.pod.split('/')[1] as string;
    expect(p.objectOf({ kind: 'Pod', namespace: 'istio-ingress', name: podName })?.metadata.name).toBe(podName);
    // A second stage of the attempt asks nothing again.
    const before = new Map(calls);
    await resolveEnvoys(new PathResolver(reader, parseTarget('worker.example.com'), null));
    const pods = [...calls.keys()].filter((k) => k.startsWith('pods['));
    for (const k of pods) expect(calls.get(k), k).toBe(before.get(k) ?? 1);
  });

  it('the resolver has no reader of its own that bypasses the view', () => {
    const p = new PathResolver(counted('seed-healthy').reader, parseTarget('api.example.com'), null);
    expect('cluster' in p).toBe(false);
  });
});
