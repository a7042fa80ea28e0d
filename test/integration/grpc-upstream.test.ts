// What Istio's gateway speaks to a GRPCRoute's backend, judged by the real lane: istiod configures a real Envoy, the
// backend is a gRPC server (HTTP/2 only: harness/envoy.ts BACKEND_PROTOCOL_ANNOTATION), and a real unary gRPC call
// goes through the NodePort stand-in. Istio takes the upstream protocol from the Service port (appProtocol, else the
// port name's prefix: pkg/config/kube/conversion.go ConvertProtocol) and sets HTTP/2 upstream only for HTTP2/gRPC
// (pilot/pkg/networking/core/cluster_builder.go setUpstreamProtocol; use_downstream_protocol is for sidecars and
// waypoints only, never gateways).

import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect } from 'vitest';
import { loadManifests } from '../../src/cluster/manifests.js';
import { scenarioDir } from '../helpers/fixtures.js';
import { BACKEND_PROTOCOL_ANNOTATION } from './harness/envoy.js';
import { itEnvoy, scenarioWithEnvoy } from './live.js';

const GRPC_POD = 'example-api/example-api-grpc-5b7c9d6f8-g4r7t';
const dirs: string[] = [];
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

/** grpc-route-wins with its gRPC backend a real gRPC server, and the backend Service's port as `port` says. */
function variant(name: string, port: { name: string; appProtocol?: string }): string {
  const dir = mkdtempSync(join(tmpdir(), `gwdoctor-grpc-${name}-`));
  dirs.push(dir);
  const objs = loadManifests([scenarioDir('grpc-route-wins')], { keep: 'all' }) as unknown as Record<string, any>[];
  for (const o of objs) {
    const m = o['metadata'];
    if (o['kind'] === 'Pod' && m.name === GRPC_POD.split('/')[1])
      m.annotations = { ...(m.annotations ?? {}), [BACKEND_PROTOCOL_ANNOTATION]: 'h2' };
    if (o['kind'] === 'Service' && m.namespace === 'example-api' && m.name === 'example-api-grpc')
      o['spec'].ports = o['spec'].ports.map((p: object) => ({ ...p, ...port }));
    if (o['kind'] === 'EndpointSlice' && m.labels?.['kubernetes.io/service-name'] === 'example-api-grpc')
      o['ports'] = o['ports'].map((p: object) => ({ ...p, ...port }));
  }
  writeFileSync(join(dir, 'cluster.json'), JSON.stringify({ apiVersion: 'v1', kind: 'List', items: objs }));
  return dir;
}

const TARGET = 'http://api.example.com/example.v1.Api/Get';

describe.each([
  // No HTTP/2 declared: Envoy speaks HTTP/1.1, the gRPC server closes the connection, the call fails UNAVAILABLE.
  { name: 'http', port: { name: 'http' }, served: false },
  { name: 'h2c', port: { name: 'http', appProtocol: 'kubernetes.io/h2c' }, served: true },
  { name: 'grpc', port: { name: 'grpc' }, served: true },
])('a gRPC server behind a GRPCRoute, Service port $port', ({ name, port, served }) => {
  const s = scenarioWithEnvoy(variant(name, port));
  itEnvoy(served ? 'is reached over HTTP/2' : 'is spoken to in HTTP/1.1 and refuses it: UNAVAILABLE', async () => {
    const st = s.get();
    if (!st) throw new Error('no lane');
    const g = await st.sc.grpc(TARGET);
    process.stderr.write(`[grpc-upstream] port ${JSON.stringify(port)}: ${JSON.stringify(g)}\n`);
    if (served) expect(g).toMatchObject({ status: 200, backend: GRPC_POD, backendProtocol: 'h2', grpcStatus: 0 });
    else {
      expect(g).toMatchObject({ status: 200, server: 'istio-envoy', grpcStatus: 14 });
      expect(g.backend).toBeUndefined();
      expect(g.grpcMessage).toMatch(
        /^upstream connect error or disconnect\/reset before headers\. .*reset reason: connection termination$/,
      );
      // The backend is the lane's gRPC server (HTTP/2 only); the lane's other backends also answer HTTP/1.1.
      expect(st.sc.backends.find((b) => b.pod === GRPC_POD)?.h2only).toBe(true);
    }
  });
});
