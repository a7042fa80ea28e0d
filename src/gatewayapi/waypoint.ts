// Ambient mode: does ingress traffic for a Service go through a waypoint, and which one?
// istio.io/use-waypoint on the Service, else on its Namespace, names the waypoint ("none" opts out);
// istio.io/use-waypoint-namespace names its namespace (default: the Service's); ingress gateways send traffic through
// it only with istio.io/ingress-use-waypoint: "true" on the Service or Namespace (istio pilot/pkg/serviceregistry/
// ambient/services.go ingressUseWaypointFromLabels; label/labels.yaml). The waypoint's Deployment and Service are named
// exactly like its Gateway (gateway/conversion.go, classinfo.go).

import type { Gateway, GatewayClass, Namespace, Service } from '../cluster/objects.js';
import { controllerConditions } from './status.js';

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
  const namespace =
    (fromSvc ? sl['istio.io/use-waypoint-namespace'] : nl['istio.io/use-waypoint-namespace']) ??
    svc.metadata.namespace ??
    'default';
  const ingress = (sl['istio.io/ingress-use-waypoint'] ?? nl['istio.io/ingress-use-waypoint']) === 'true';
  return { name, namespace, ingress, from: fromSvc ? 'Service' : 'Namespace' };
}

/**
 * Does istiod bind the Service to the waypoint (pilot/pkg/serviceregistry/ambient/waypoints.go)?
 *  * A waypoint exists for istiod only once its Gateway has status.addresses (WaypointsCollection: "should only be
 *    populated once the Waypoint's deployment has at least 1 ready pod, it should never be removed after going
 *    ready"); otherwise fetchWaypointForTarget reports WaypointIsNotReady and the Service gets no waypoint: istiod writes
 *    istio.io/WaypointBound=False on it and ingress traffic goes straight to the Pods.
 *  * Its traffic type (label istio.io/waypoint-for on the Gateway, else on its GatewayClass, default "service") must be
 *    "service" or "all" for a Service (fetchWaypointForService: UnsupportedTrafficType).
 *  * Its HBONE listener (port 15008) must admit the Service's namespace (allowedRoutes, default Same:
 *    AllowsAttachmentFromNamespace: AttachmentDenied).
 * `statusKnown`: a controller wrote status on the waypoint (without any, e.g. manifests from git, readiness is unknown
 * and the waypoint is taken as bound).
 */
export type WaypointBound =
  | { bound: true; why: string }
  | {
      bound: false;
      reason: 'Missing' | 'WaypointIsNotReady' | 'UnsupportedTrafficType' | 'AttachmentDenied';
      why: string;
    };

export function waypointBound(
  b: WaypointBinding,
  gw: Gateway | undefined,
  cls: GatewayClass | undefined,
  svcNs: string,
  svcNsLabels: Record<string, string>,
): WaypointBound {
  const ref = `Gateway ${b.namespace}/${b.name}`;
  if (!gw)
    return {
      bound: false,
      reason: 'Missing',
      why: `${ref} does not exist: istiod reports WaypointIsNotReady and sends traffic straight to the Pods`,
    };
  // The CRD's default "Pending / Waiting for controller" conditions are no controller's word (status.ts).
  const statusKnown = controllerConditions(gw.status?.conditions).length > 0 || (gw.status?.addresses ?? []).length > 0;
  if (statusKnown && (gw.status?.addresses ?? []).length === 0) {
    return {
      bound: false,
      reason: 'WaypointIsNotReady',
      why: `${ref} has no status.addresses (it never had a ready Pod): istiod reports WaypointIsNotReady and sends traffic straight to the Pods`,
    };
  }
  const type =
    gw.metadata.labels?.['istio.io/waypoint-for'] ?? cls?.metadata.labels?.['istio.io/waypoint-for'] ?? 'service';
  if (type !== 'service' && type !== 'all') {
    return {
      bound: false,
      reason: 'UnsupportedTrafficType',
      why: `${ref} is for "${type}" traffic (istio.io/waypoint-for), not for Services: istiod reports UnsupportedTrafficType and the Service gets no waypoint`,
    };
  }
  const hbone = (gw.spec.listeners ?? []).find((l) => l.protocol === 'HBONE' && l.port === 15008);
  const from = hbone?.allowedRoutes?.namespaces?.from ?? 'Same';
  const sel = hbone?.allowedRoutes?.namespaces?.selector?.matchLabels;
  const admitted =
    from === 'All' ||
    (from === 'Same' && svcNs === b.namespace) ||
    (from === 'Selector' && !!sel && Object.entries(sel).every(([k, v]) => svcNsLabels[k] === v));
  if (!admitted) {
    return {
      bound: false,
      reason: 'AttachmentDenied',
      why: `${ref}'s HBONE listener admits ${from === 'Same' ? `only its own namespace ${b.namespace}` : `namespaces by ${from}`}, not ${svcNs}: istiod reports AttachmentDenied and the Service gets no waypoint`,
    };
  }
  return {
    bound: true,
    why: statusKnown
      ? `${ref} is ready (status.addresses) for ${type} traffic`
      : `${ref} exists (no controller status: taken as ready)`,
  };
}
