// A fixture cluster whose "node" is 127.0.0.1 and whose gateway NodePort is a stub Envoy's port, so the proxy
// layer's direct NodePort probe reaches the stub.

import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { loadManifests, ManifestCluster } from '../../../src/cluster/manifests.js';
import type { K8sObject, Node, Service } from '../../../src/cluster/objects.js';
import { scenarioDir } from '../fixtures.js';

export function fixtureObjects(scenario: string, nodePort: number): K8sObject[] {
  const objs = loadManifests([scenarioDir(scenario)]);
  for (const o of objs) {
    if (o.kind === 'Node') (o as Node).status = { addresses: [{ type: 'InternalIP', address: '127.0.0.1' }] };
    if (
      o.kind === 'Service' &&
      o.metadata.labels?.['gateway.networking.k8s.io/gateway-name'] === 'example-istio-gateway'
    ) {
      for (const p of (o as Service).spec?.ports ?? []) if (p.port === 80) p.nodePort = nodePort;
    }
  }
  return objs;
}

export function fixtureCluster(scenario: string, nodePort: number): ManifestCluster {
  return new ManifestCluster(fixtureObjects(scenario, nodePort));
}

/** The same objects written as a manifests directory, for the CLI's --manifests. */
export function writeFixture(dir: string, scenario: string, nodePort: number): string {
  mkdirSync(dir, { recursive: true });
  writeFileSync(
    join(dir, 'cluster.json'),
    JSON.stringify({ apiVersion: 'v1', kind: 'List', items: fixtureObjects(scenario, nodePort) }),
  );
  return dir;
}
