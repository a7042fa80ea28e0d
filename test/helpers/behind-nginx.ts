// gwdoctor's pipeline on a fixture with the network layers on, behind nginx: the proxy answers over TLS with nginx's
// `server` header (Envoy's headers gone), the gateway's NodePort gives Envoy's own answer, both with the given status
// and body (Envoy's own bodies, as the real Envoy lane measured them: test/controlplane/README.md). Used by the tests
// of the proxy layer joining the mesh layer (test/unit/mesh-join.test.ts, mesh-hops.test.ts).

import { join } from 'node:path';
import { LAYERS } from '../../checks/index.js';
import { loadManifests, ManifestCluster } from '../../src/cluster/manifests.js';
import type { K8sObject } from '../../src/cluster/objects.js';
import { runTarget, type Env } from '../../src/pipeline.js';
import { parseTarget } from '../../src/target.js';
import type { HttpProbe, HttpProbeResult, TargetReport } from '../../src/types.js';
import { scenarioDir } from './fixtures.js';

const answer = (statusCode: number, headers: Record<string, string>, bodySnippet: string): HttpProbeResult => ({
  address: '',
  port: 0,
  statusCode,
  headers,
  bodySnippet,
  tls: {
    authorized: true,
    error: null,
    subject: 'CN=api.example.com',
    issuer: 'CN=Test CA',
    validTo: '2027-06-01T00:00:00.000Z',
    san: ['api.example.com', 'worker.example.com'],
    validFrom: '2026-01-01T00:00:00.000Z',
    daysLeft: 80,
    protocol: 'TLSv1.3',
    chain: [],
    chainError: null,
    nameError: null,
  } as HttpProbeResult['tls'],
});

/** nginx in front (server: nginx, Envoy's headers gone); the gateway's NodePort gives Envoy's own answer. */
export function probe(status: number, body: string): HttpProbe {
  return {
    async get(url) {
      return url.protocol === 'https:'
        ? answer(status, { server: 'nginx' }, body)
        : { ...answer(status, { server: 'istio-envoy' }, body), tls: null };
    },
  };
}

export function objects(fixture: string): K8sObject[] {
  const objs = loadManifests([scenarioDir(fixture)]) as (K8sObject & Record<string, any>)[];
  for (const o of objs) if (o.kind === 'Node') o.status.addresses = [{ type: 'InternalIP', address: '192.0.2.20' }];
  return objs;
}

export async function run(
  fixture: string,
  status: number,
  body: string,
  target = 'https://api.example.com/',
  cluster?: ManifestCluster,
): Promise<TargetReport> {
  const env: Env = {
    cluster: cluster ?? new ManifestCluster(objects(fixture)),
    clusterUnavailable: null,
    gatewayFilter: null,
    offline: false,
    net: { resolvers: [], expectIps: [], caFile: null, port: null },
    resolver: async () => ({ resolve: async () => [{ family: 4 as const, address: '192.0.2.10' }] }),
    probe: async () => probe(status, body),
    signal: AbortSignal.timeout(20_000),
  };
  return runTarget(LAYERS, parseTarget(target), env, { until: null, intervalMs: 0 });
}
