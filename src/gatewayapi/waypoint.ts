// Ambient mode: does ingress traffic for a Service go through a waypoint, and which one?
// istio.io/use-waypoint on the Service, else on its Namespace, names the waypoint ("none" opts out);
// istio.io/use-waypoint-namespace names its namespace (default: the Service's); ingress gateways send traffic through
// it only with istio.io/ingress-use-waypoint: "true" on the Service or Namespace (istio pilot/pkg/serviceregistry/
// ambient/services.go ingressUseWaypointFromLabels; label/labels.yaml). The waypoint's Deployment and Service are named
// exactly like its Gateway (gateway/conversion.go, classinfo.go).

import type { Namespace, Service } from '../cluster/objects.js';

export interface WaypointBinding {
  name: string;
  namespace: string;
  /** Does ingress traffic go through it (istio.io/ingress-use-waypoint: "true")? */
  ingress: boolean;
  /** Where the binding came from, for evidence. */
  from: 'Service' | 'Namespace';
}

export function waypointFor(svc: Service, ns: Namespace | undefined): WaypointBinding | null {
  const sl = svc.metadata.labels ?? {};
  const nl = ns?.metadata.labels ?? {};
  const fromSvc = sl['istio.io/use-waypoint'] !== undefined;
  const name = sl['istio.io/use-waypoint'] ?? nl['istio.io/use-waypoint'];
  if (!name || name === 'none') return null;
  const namespace = (fromSvc ? sl['istio.io/use-waypoint-namespace'] : nl['istio.io/use-waypoint-namespace']) ?? svc.metadata.namespace ?? 'default';
  const ingress = (sl['istio.io/ingress-use-waypoint'] ?? nl['istio.io/ingress-use-waypoint']) === 'true';
  return { name, namespace, ingress, from: fromSvc ? 'Service' : 'Namespace' };
}
