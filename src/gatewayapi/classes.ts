// GatewayClasses that istiod creates itself (nobody commits them to git). istiod's class controller creates each
// built-in class when it does not exist, and re-creates it when deleted (istio
// pilot/pkg/config/kube/gatewaycommon/gatewayclass.go reconcileClass over classinfo.go GetBuiltinGatewayClasses:
// PILOT_GATEWAY_API_DEFAULT_GATEWAYCLASS_NAME "istio" -> istio.io/gateway-controller always, "istio-remote" ->
// istio.io/unmanaged-gateway with PILOT_MULTI_NETWORK_DISCOVER_GATEWAY_API (default true); the waypoint and east-west
// classes only with ambient enabled, so they are not assumed). Checked on real istiod:
// test/integration/verdicts.test.ts.
//
// Manifests from git therefore lack them: a Gateway of class `istio` there is not "a class that does not exist" but
// one that will exist as soon as istiod runs. A live cluster is different: there the class is missing only when no
// istiod (with the Gateway API controller) runs, and then nothing will accept the Gateway.

import type { GatewayClass } from '../cluster/objects.js';
import { ISTIO_CONTROLLER } from './status.js';

/** Built-in class name -> the controllerName istiod gives it. */
export const ISTIO_BUILTIN_CLASSES: ReadonlyMap<string, string> = new Map([
  ['istio', ISTIO_CONTROLLER],
  ['istio-remote', 'istio.io/unmanaged-gateway'],
]);

const createdByIstio = new WeakSet<GatewayClass>();

/** Is this class one gwdoctor added because the manifests lack it and istiod creates it? */
export function assumedBuiltin(c: GatewayClass): boolean {
  return createdByIstio.has(c);
}

/**
 * The manifests' classes plus every built-in class they lack, each marked (assumedBuiltin) so that the evidence says
 * where it comes from. Made once per snapshot (src/cluster/snapshot.ts).
 */
export function withBuiltinClasses(classes: GatewayClass[]): GatewayClass[] {
  const out = [...classes];
  for (const [name, controllerName] of ISTIO_BUILTIN_CLASSES) {
    if (classes.some((c) => c.metadata.name === name)) continue;
    const c: GatewayClass = {
      apiVersion: 'gateway.networking.k8s.io/v1',
      kind: 'GatewayClass',
      metadata: { name },
      spec: { controllerName },
    };
    createdByIstio.add(c);
    out.push(c);
  }
  return out;
}
