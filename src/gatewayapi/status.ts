// Reading controller-written status: which conditions are fresh, and which are only the CRD's defaults.

import type { Condition, ParentReference, RouteParentStatus, Route } from '../cluster/objects.js';

/** Istio's route-status controllerName (pilot/pkg/features/pilot.go PILOT_GATEWAY_API_CONTROLLER_NAME default). */
export const ISTIO_CONTROLLER = 'istio.io/gateway-controller';

/**
 * Every controllerName Istio reconciles GatewayClasses for: the ingress controller, the ambient mesh controller
 * (istio-waypoint, istio-east-west classes) and the unmanaged-gateway controller (istio pilot/pkg/features and
 * pilot/pkg/config/constants: ManagedGatewayController, ManagedGatewayMeshController, UnmanagedGatewayController).
 */
export const ISTIO_CONTROLLERS = new Set([ISTIO_CONTROLLER, 'istio.io/mesh-controller', 'istio.io/unmanaged-gateway']);

export type Freshness = 'fresh' | 'stale' | 'none';

/**
 * The CRD defaults a new Gateway's and GatewayClass's conditions to Accepted=Unknown/Pending "Waiting for controller"
 * with lastTransitionTime 1970-01-01 (gateway-api config/crd/standard/gateway.networking.k8s.io_gateways.yaml,
 * status.default). Seeing only that means no controller reconciled the object: treat it as "no status".
 */
export function isCrdDefault(c: Condition): boolean {
  return c.status === 'Unknown' && c.reason === 'Pending' && (c.lastTransitionTime ?? '').startsWith('1970-01-01');
}

export function controllerConditions(conditions: Condition[] | undefined): Condition[] {
  return (conditions ?? []).filter((c) => !isCrdDefault(c));
}

/**
 * Conformance treats a condition as stale when observedGeneration != metadata.generation
 * (conformance/utils/kubernetes/helpers.go ConditionsHaveLatestObservedGeneration). A condition without
 * observedGeneration (omitempty when 0) counts as stale only when the object's generation is known and > 0.
 */
export function freshness(conditions: Condition[], generation: number | undefined): Freshness {
  if (conditions.length === 0) return 'none';
  if (generation === undefined) return 'fresh';
  return conditions.every((c) => (c.observedGeneration ?? 0) >= generation) ? 'fresh' : 'stale';
}

export function condition(conditions: Condition[], type: string): Condition | undefined {
  return conditions.find((c) => c.type === type);
}

export function describeCondition(c: Condition): string {
  const msg = c.message ? `: ${c.message}` : '';
  return `${c.type}=${c.status}${c.reason ? ` (${c.reason})` : ''}${msg}`;
}

/** Defaults the API server fills into a parentRef (gateway-api apis/v1/shared_types.go ParentReference). */
export function normalizeParentRef(
  p: ParentReference,
  routeNamespace: string,
): Required<Omit<ParentReference, 'sectionName' | 'port'>> & Pick<ParentReference, 'sectionName' | 'port'> {
  const out: Required<Omit<ParentReference, 'sectionName' | 'port'>> & Pick<ParentReference, 'sectionName' | 'port'> = {
    group: p.group ?? 'gateway.networking.k8s.io',
    kind: p.kind ?? 'Gateway',
    namespace: p.namespace ?? routeNamespace,
    name: p.name,
  };
  if (p.sectionName !== undefined) out.sectionName = p.sectionName;
  if (p.port !== undefined) out.port = p.port;
  return out;
}

export function sameParent(a: ParentReference, b: ParentReference, routeNamespace: string): boolean {
  const x = normalizeParentRef(a, routeNamespace);
  const y = normalizeParentRef(b, routeNamespace);
  return (
    x.group === y.group &&
    x.kind === y.kind &&
    x.namespace === y.namespace &&
    x.name === y.name &&
    (x.sectionName ?? '') === (y.sectionName ?? '') &&
    (x.port ?? 0) === (y.port ?? 0)
  );
}

/** The status.parents entry Istio wrote for this parentRef, if any. */
export function routeParentStatus(route: Route, parent: ParentReference): RouteParentStatus | undefined {
  const ns = route.metadata.namespace ?? 'default';
  return (
    (route.status?.parents ?? []).find(
      (s) => s.controllerName === ISTIO_CONTROLLER && sameParent(s.parentRef, parent, ns),
    ) ?? (route.status?.parents ?? []).find((s) => sameParent(s.parentRef, parent, ns))
  );
}
