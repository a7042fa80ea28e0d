// networking.istio.io/Hostname backendRefs resolved as istiod resolves them (src/gatewayapi/service-entry.ts, after
// pilot/pkg/config/kube/gateway/conversion.go buildDestination and model/push_context.go's HostnameAndNamespace index):
// only a ServiceEntry of the route's own namespace counts, the oldest of several; then its port and STATIC endpoints.
// The fixture cases (backend-service-entry*) are judged by real istiod and the lane's Envoy in the contract; these are
// the cases the lane cannot answer (DNS resolution: its Envoy has no resolver) and the reads that fail.

import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadManifests, ManifestCluster } from '../../src/cluster/manifests.js';
import type { K8sObject, ServiceEntry } from '../../src/cluster/objects.js';
import { ClusterAccessError } from '../../src/errors.js';
import { entryFor, exportedTo } from '../../src/gatewayapi/service-entry.js';
import type { Finding, TargetReport } from '../../src/types.js';
import { outcome, runOnCluster, scenarioDir } from '../helpers/fixtures.js';

const objects = (): K8sObject[] => loadManifests([scenarioDir('backend-service-entry')]);
const entryOf = (objs: K8sObject[]) => objs.find((o) => o.kind === 'ServiceEntry') as ServiceEntry;
const endpointsOf = (r: TargetReport) => r.layers.find((l) => l.id === 'endpoints') as Finding;
const text = (f: Finding) => `${f.summary}\n${f.evidence.map((e) => `${e.ref}: ${e.detail}`).join('\n')}`;

function se(ns: string, name: string, created: string, hosts = ['api.internal.example.com']): ServiceEntry {
  return {
    apiVersion: 'networking.istio.io/v1',
    kind: 'ServiceEntry',
    metadata: { name, namespace: ns, creationTimestamp: created },
    spec: { hosts },
  };
}

describe('which ServiceEntry a Hostname backendRef resolves to (HostnameAndNamespace[host][route namespace])', () => {
  it('the oldest entry of the route\'s namespace that lists the host exactly; entries of other namespaces only as "elsewhere"', () => {
    const old = se('istio-ingress', 'old', '2026-01-01T00:00:00Z');
    const young = se('istio-ingress', 'young', '2026-06-01T00:00:00Z');
    const other = se('example-api', 'other', '2025-01-01T00:00:00Z');
    const wild = se('istio-ingress', 'wild', '2025-01-01T00:00:00Z', ['*.example.com']);
    expect(entryFor([young, other, old, wild], 'api.internal.example.com', 'istio-ingress')).toEqual({
      entry: old,
      elsewhere: [other],
    });
    expect(entryFor([other], 'api.internal.example.com', 'istio-ingress')).toEqual({ entry: null, elsewhere: [other] });
    expect(entryFor([wild], 'api.internal.example.com', 'istio-ingress').entry).toBeNull();
  });
  it('exportTo: unset or "*" everywhere, "." its own namespace, names those namespaces, "~" nowhere', () => {
    const e = (exportTo?: string[]) =>
      ({
        ...se('example-api', 'x', '2026-01-01T00:00:00Z'),
        spec: { hosts: ['h'], ...(exportTo ? { exportTo } : {}) },
      }) as ServiceEntry;
    expect(
      [e(), e(['*']), e(['.']), e(['istio-ingress']), e(['~'])].map((x) => exportedTo(x, 'istio-ingress')),
    ).toEqual([true, true, false, true, false]);
    expect(exportedTo(e(['.']), 'example-api')).toBe(true);
  });
});

describe('the endpoints layer on a Hostname backend', () => {
  it("a STATIC entry with an endpoint in the route's namespace: pass, naming the entry and its endpoint", async () => {
    const r = await runOnCluster(new ManifestCluster(objects()), 'api.example.com');
    expect(outcome(r)).toMatchObject({ verdict: 'pass' });
    expect(text(endpointsOf(r))).toMatch(
      /ServiceEntry istio-ingress\/example-api-vm defines api\.internal\.example\.com:3000 with 1 endpoint/,
    );
    expect(text(endpointsOf(r))).toContain('endpoint: 192.168.1.20');
  });

  it('resolution DNS: the gateway resolves at request time: BackendKindUnsupported (not checked), never a pass', async () => {
    const objs = objects();
    entryOf(objs).spec!.resolution = 'DNS';
    const r = await runOnCluster(new ManifestCluster(objs), 'api.example.com');
    expect(outcome(r)).toMatchObject({ verdict: 'warn', layer: 'endpoints', code: 'BackendKindUnsupported' });
    expect(endpointsOf(r).summary).toMatch(/resolves by DNS at request time \(resolution DNS\): not checked/);
  });

  it('a workloadSelector that selects no Pod gwdoctor sees: BackendKindUnsupported (WorkloadEntries are not read), not NoReadyEndpoints', async () => {
    const objs = objects();
    delete entryOf(objs).spec!.endpoints;
    entryOf(objs).spec!.workloadSelector = { labels: { app: 'vm-api' } };
    const r = await runOnCluster(new ManifestCluster(objs), 'api.example.com');
    expect(outcome(r)).toMatchObject({ verdict: 'warn', layer: 'endpoints', code: 'BackendKindUnsupported' });
    expect(endpointsOf(r).summary).toMatch(/WorkloadEntries are not read/);
  });

  it('manifests without any ServiceEntry: BackendKindUnsupported, "not checked"', async () => {
    const r = await runOnCluster(
      new ManifestCluster(objects().filter((o) => o.kind !== 'ServiceEntry')),
      'api.example.com',
    );
    expect(outcome(r)).toMatchObject({ verdict: 'warn', layer: 'endpoints', code: 'BackendKindUnsupported' });
    expect(endpointsOf(r).summary).toMatch(/the manifests hold no ServiceEntry/);
  });

  it('a user who may not list serviceentries: BackendKindUnsupported naming the refused list, never a pass', async () => {
    class NoServiceEntries extends ManifestCluster {
      override async serviceEntries(): Promise<never> {
        throw new ClusterAccessError(
          'forbidden',
          'serviceentries.networking.istio.io is forbidden: User "viewer" cannot list resource "serviceentries"',
        );
      }
    }
    const r = await runOnCluster(new NoServiceEntries(objects()), 'api.example.com');
    expect(outcome(r)).toMatchObject({ verdict: 'warn', layer: 'endpoints', code: 'BackendKindUnsupported' });
    expect(endpointsOf(r).summary).toMatch(
      /ServiceEntries could not be listed \(serviceentries\.networking\.istio\.io is forbidden/,
    );
  });

  it("a Hostname that is a Kubernetes Service's own hostname (istiod's index holds Services too): never ServiceEntryNotFound; not checked", async () => {
    const objs = objects().filter((o) => o.kind !== 'ServiceEntry' || o.metadata.name !== 'example-api-vm');
    objs.push({ ...se('example-worker', 'unrelated', '2026-01-01T00:00:00Z', ['other.example.com']) });
    const route = objs.find((o) => o.kind === 'HTTPRoute' && o.metadata.name === 'example-api') as K8sObject & {
      spec: { rules: { backendRefs: { name: string; port: number }[] }[] };
    };
    route.spec.rules[0]!.backendRefs[0]!.name = 'example-api.example-api.svc.cluster.local';
    const r = await runOnCluster(new ManifestCluster(objs), 'api.example.com');
    expect(outcome(r)).toMatchObject({ verdict: 'warn', layer: 'endpoints', code: 'BackendKindUnsupported' });
    expect(endpointsOf(r).summary).toMatch(
      /the hostname of Service example-api\/example-api: istiod resolves it like that Service/,
    );
    route.spec.rules[0]!.backendRefs[0]!.name = 'missing.example-api.svc.cluster.local';
    expect(outcome(await runOnCluster(new ManifestCluster(objs), 'api.example.com'))).toMatchObject({
      verdict: 'fail',
      code: 'ServiceEntryNotFound',
    });
  });

  it('the entry only in another namespace, not exported to the gateway: ServiceEntryNotFound naming it, with a manual fix (copying it would define the host twice in the mesh)', async () => {
    const r = await runOnCluster(
      new ManifestCluster(loadManifests([scenarioDir('backend-service-entry-not-exported')])),
      'api.example.com',
    );
    expect(outcome(r)).toMatchObject({ verdict: 'fail', layer: 'endpoints', code: 'ServiceEntryNotFound' });
    expect(text(endpointsOf(r))).toMatch(
      /ServiceEntry example-api\/example-api-vm: lists host api\.internal\.example\.com, but in namespace example-api .*exportTo \["\."\] hides it from the gateway/,
    );
    expect(endpointsOf(r).fix?.kind).toBe('manual');
  });

  it("the entry in another namespace, exported to the gateway's: the gateway serves it while istiod reports BackendNotFound: ServiceEntryNotInRouteNamespace (warning), its endpoints checked", async () => {
    const r = await runOnCluster(
      new ManifestCluster(loadManifests([scenarioDir('backend-service-entry-other-namespace')])),
      'api.example.com',
    );
    expect(outcome(r)).toMatchObject({ verdict: 'warn', layer: 'endpoints', code: 'ServiceEntryNotInRouteNamespace' });
    expect(text(endpointsOf(r))).toContain('endpoint: 192.168.1.20');
    const objs = loadManifests([scenarioDir('backend-service-entry-other-namespace')]);
    delete entryOf(objs).spec!.endpoints;
    expect(outcome(await runOnCluster(new ManifestCluster(objs), 'api.example.com'))).toMatchObject({
      verdict: 'fail',
      layer: 'endpoints',
      code: 'NoReadyEndpoints',
    });
  });
});
