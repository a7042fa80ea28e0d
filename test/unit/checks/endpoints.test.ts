// The endpoints layer on hand-built objects: backend kinds Istio does and does not route to.

import { describe, expect, it } from 'vitest';
import { ManifestCluster } from '../../../src/cluster/manifests.js';
import type { HTTPRoute } from '../../../src/cluster/objects.js';
import { runOnCluster } from '../../helpers/fixtures.js';

function clusterWith(backend: { group: string; kind: string; name: string; port?: number }) {
  const route: HTTPRoute = {
    apiVersion: 'gateway.networking.k8s.io/v1',
    kind: 'HTTPRoute',
    metadata: { name: 'r', namespace: 'gw' },
    spec: {
      parentRefs: [{ name: 'g' }],
      hostnames: ['api.example.com'],
      rules: [{ backendRefs: [{ ...backend, port: backend.port ?? 80 }] }],
    },
  };
  return new ManifestCluster([
    { apiVersion: 'gateway.networking.k8s.io/v1', kind: 'GatewayClass', metadata: { name: 'istio' } },
    {
      apiVersion: 'gateway.networking.k8s.io/v1',
      kind: 'Gateway',
      metadata: { name: 'g', namespace: 'gw' },
      spec: { gatewayClassName: 'istio', listeners: [{ name: 'http', port: 80, protocol: 'HTTP' }] },
    } as never,
    route,
  ]);
}

describe('backendRef kinds', () => {
  it('fails a ServiceEntry backendRef: Istio answers 500 (InvalidKind)', async () => {
    const r = await runOnCluster(
      clusterWith({ group: 'networking.istio.io', kind: 'ServiceEntry', name: 'ext' }),
      'api.example.com',
    );
    expect(r.layers[5]).toMatchObject({ status: 'fail', code: 'BackendKindInvalid' });
  });
  it('warns (does not check) an Istio Hostname backendRef', async () => {
    const r = await runOnCluster(
      clusterWith({ group: 'networking.istio.io', kind: 'Hostname', name: 'api.vendor.example' }),
      'api.example.com',
    );
    expect(r.layers[5]).toMatchObject({ status: 'warn', code: 'BackendKindUnsupported' });
  });
});
