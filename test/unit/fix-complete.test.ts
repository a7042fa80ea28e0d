// Fixes that complete what is missing around Pods that run, and never re-point a route to a guess (issue 20, items 9
// and 12). The round trip (test/unit/roundtrip.test.ts, test/integration/roundtrip.test.ts) proves each printed fix
// works; these say which fix is printed at all.

import { describe, expect, it } from 'vitest';
import type { Pod } from '../../src/cluster/objects.js';
import type { Fix } from '../../src/fix/fix.js';
import { selectorFor, sharedLabels, targetPortFor, workloads, workloadsFor } from '../../src/fix/workloads.js';
import { loadManifests, ManifestCluster } from '../../src/cluster/manifests.js';
import type { K8sObject } from '../../src/cluster/objects.js';
import { runOnCluster, runScenario, scenarios } from '../helpers/fixtures.js';
import {
  applyFixToObjects,
  reconcileEndpointSlices,
  roundTrip,
  serviceOf,
  stripControllerStatus,
} from '../helpers/roundtrip.js';

const blockingFix = async (scenario: string, target = 'api.example.com'): Promise<Fix | undefined> => {
  const s = scenarios().find((x) => x.name === scenario);
  if (!s) throw new Error(`no scenario ${scenario}`);
  const r = await runScenario(s.dir, target);
  return r.layers.find((l) => l.status === 'fail')?.fix ?? undefined;
};

describe('ServiceNotFound never re-points a route at another Service', () => {
  it('a Service sharing the name prefix (example-api-admin for example-api) is named as a candidate, not patched in', async () => {
    const fix = await blockingFix('service-not-found-similar-name');
    expect(fix?.kind).toBe('manual');
    expect(fix?.explain).toContain('example-api-admin');
    expect(fix?.explain).toContain('gwdoctor does not choose');
  });

  it('no ServiceNotFound of any fixture prints a patch (a rename of the backendRef is a guess)', async () => {
    let seen = 0;
    for (const s of scenarios()) {
      for (const c of s.cases.filter((x) => x.code === 'ServiceNotFound')) {
        const r = await runScenario(s.dir, c.target, c.gateway);
        const f = r.layers.find((l) => l.code === 'ServiceNotFound');
        expect(f?.fix?.kind, `${s.name} ${c.target}`).not.toBe('patch');
        seen++;
      }
    }
    expect(seen).toBeGreaterThanOrEqual(8);
  });
});

describe('ServiceNotFound while the Pods that would back it run: the Service to apply', () => {
  it('service-not-found: the selector the Pods share, the backendRef port, their container port', async () => {
    const fix = await blockingFix('service-not-found');
    expect(fix?.kind).toBe('apply');
    expect(fix?.kind === 'apply' && fix.object).toEqual({
      apiVersion: 'v1',
      kind: 'Service',
      metadata: { name: 'example-api', namespace: 'example-api' },
      spec: {
        selector: { 'app.kubernetes.io/name': 'example-api' },
        ports: [{ name: 'http', port: 3000, targetPort: 3000, protocol: 'TCP' }],
      },
    });
  });
  it("service-not-found-pods-run: port 80 from the backendRef to container port 8080, only the Deployment's two Pods", async () => {
    const fix = await blockingFix('service-not-found-pods-run');
    expect(fix?.kind === 'apply' && fix.object['spec']).toEqual({
      selector: { 'app.kubernetes.io/name': 'example-api' },
      ports: [{ name: 'http', port: 80, targetPort: 8080, protocol: 'TCP' }],
    });
    expect(fix?.explain).toContain('Deployment example-api (2 Pods)');
  });
  it('manifests without Pods (from git) cannot say what would back it: manual', async () => {
    expect((await blockingFix('service-not-found-presync'))?.kind).toBe('manual');
  });
});

describe('NoPodsSelected: the selector patch when exactly one workload serves the port', () => {
  it('no-pods-selected: a JSON patch guarded by a test of the current selector', async () => {
    const fix = await blockingFix('no-pods-selected');
    expect(fix).toMatchObject({
      kind: 'patch',
      target: { apiVersion: 'v1', kind: 'Service', namespace: 'example-api', name: 'example-api' },
      patchType: 'json',
      patch: [
        { op: 'test', path: '/spec/selector', value: { 'app.kubernetes.io/name': 'example-api-server' } },
        { op: 'replace', path: '/spec/selector', value: { 'app.kubernetes.io/name': 'example-api' } },
      ],
    });
  });
  it('two workloads serve the port: both named, nothing patched', async () => {
    const fix = await blockingFix('no-pods-selected-two-workloads');
    expect(fix?.kind).toBe('command');
    expect(fix?.explain).toContain('Deployment example-api,');
    expect(fix?.explain).toContain('Deployment example-api-v2');
  });
});

const pod = (
  name: string,
  labels: Record<string, string>,
  ports: { name?: string; containerPort: number; protocol?: string }[],
  owner?: { kind: string; name: string },
  extra: Record<string, unknown> = {},
): Pod => ({
  apiVersion: 'v1',
  kind: 'Pod',
  metadata: {
    name,
    namespace: 'ns',
    labels,
    ...(owner ? { ownerReferences: [{ ...owner, controller: true }] } : {}),
  } as Pod['metadata'],
  spec: { containers: [{ name: 'c', ports }] },
  status: { phase: 'Running', podIP: '10.0.0.1' },
  ...extra,
});

describe('workloads (src/fix/workloads.ts)', () => {
  const api1 = pod(
    'api-5d4-a',
    { app: 'api', 'pod-template-hash': '5d4', version: 'v1' },
    [{ name: 'http', containerPort: 8080 }],
    { kind: 'ReplicaSet', name: 'api-5d4' },
  );
  const api2 = pod(
    'api-5d4-b',
    { app: 'api', 'pod-template-hash': '5d4', version: 'v1' },
    [{ name: 'http', containerPort: 8080 }],
    { kind: 'ReplicaSet', name: 'api-5d4' },
  );
  const admin = pod('api-admin-7f1-a', { app: 'api-admin', 'pod-template-hash': '7f1' }, [{ containerPort: 8080 }], {
    kind: 'ReplicaSet',
    name: 'api-admin-7f1',
  });
  const gw = pod('gw-1', { 'gateway.networking.k8s.io/gateway-name': 'gw', app: 'api' }, [{ containerPort: 8080 }]);
  const done = pod(
    'job-x',
    { app: 'api' },
    [{ containerPort: 8080 }],
    { kind: 'Job', name: 'job' },
    { status: { phase: 'Succeeded' } },
  );
  const all = [api1, api2, admin, gw, done];

  it('groups Pods by their controller (a ReplicaSet stands for its Deployment), leaving out gateway and finished Pods', () => {
    expect(workloads(all).map((w) => `${w.describe}:${w.pods.length}`)).toEqual([
      'Deployment api:2',
      'Deployment api-admin:1',
    ]);
  });
  it('a workload backs a name only by its own name or an app-name label equal to it, never by a shared prefix', () => {
    expect(workloadsFor('api', all).map((w) => w.describe)).toEqual(['Deployment api']);
    expect(workloadsFor('ap', all)).toEqual([]);
    expect(workloadsFor('api-admin', all).map((w) => w.describe)).toEqual(['Deployment api-admin']);
  });
  it('the selector leaves out per-revision labels and selects exactly the group', () => {
    expect(sharedLabels([api1, api2])).toEqual({ app: 'api', version: 'v1' });
    expect(selectorFor([api1, api2], all)).toEqual({ app: 'api' });
    // Every shared label already selects another Pod too: no selector.
    const twin = pod('twin', { app: 'api', version: 'v1' }, [{ containerPort: 8080 }]);
    expect(selectorFor([api1, api2], [...all, twin])).toBeNull();
  });
  it('targetPort: the backendRef port when every Pod has it, else the one port they all have, else open', () => {
    expect(targetPortFor([api1, api2], 8080)).toEqual({ port: 8080, name: 'http' });
    expect(targetPortFor([api1, api2], 80)).toEqual({ port: 8080, name: 'http' });
    const two = pod('two', { app: 'x' }, [{ containerPort: 8080 }, { containerPort: 9090 }]);
    expect(targetPortFor([two], 80)).toBeNull();
    const udp = pod('udp', { app: 'x' }, [{ containerPort: 53, protocol: 'UDP' }]);
    expect(targetPortFor([udp], 53)).toBeNull();
  });
  it('reads hostile shapes without throwing', () => {
    const bad = {
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: { name: 'b', labels: 'x', ownerReferences: 'y' },
      spec: { containers: [{ ports: [null, { containerPort: '80' }] }, null] },
    } as unknown as Pod;
    expect(workloads([bad]).map((w) => w.describe)).toEqual(['Pod b']);
    expect(targetPortFor([bad], 80)).toBeNull();
  });
});

describe('the completed fixes reach a pass when applied (in memory; the API server in test/integration/roundtrip.test.ts)', () => {
  const run = (objects: K8sObject[], target: string) => runOnCluster(new ManifestCluster(objects, ['fixture']), target);
  const apply = async (objects: K8sObject[], fix: Fix) => {
    const out = applyFixToObjects(objects, fix);
    const svc = serviceOf(fix);
    return svc ? reconcileEndpointSlices(out, svc.namespace, svc.name) : out;
  };
  it.each([
    ['service-not-found', ['endpoints/ServiceNotFound: apply Service example-api']],
    ['service-not-found-pods-run', ['endpoints/ServiceNotFound: apply Service example-api']],
    [
      'service-not-found-no-grant',
      [
        'grant/ServiceNotFound: apply Service example-api',
        'grant/ReferenceGrantMissing: apply ReferenceGrant allow-istio-ingress-httproutes-to-example-api',
      ],
    ],
    ['no-pods-selected', ['endpoints/NoPodsSelected: patch Service example-api']],
  ])('%s', async (name, steps) => {
    const s = scenarios().find((x) => x.name === name);
    const objects = stripControllerStatus(loadManifests([s?.dir as string]));
    const r = await roundTrip(objects, 'api.example.com', ['worker.example.com'], run, apply);
    expect(r).toMatchObject({ result: 'passes', steps });
  });
});
