// ReferenceGrant semantics (gateway-api apis/v1/referencegrant_types.go; site docs api-types/referencegrant.md).

import type { HTTPBackendRef, ReferenceGrant, Route } from '../cluster/objects.js';
import type { ResolvedBackendRef } from '../types.js';

const GW_GROUP = 'gateway.networking.k8s.io';

/**
 * Backend kinds Istio routes to besides core Services; anything else is ResolvedRefs=False/InvalidKind and 500
 * (istio pilot/pkg/config/kube/gateway/conversion.go buildDestination: "referencing unsupported backendRef").
 */
export const ISTIO_BACKEND_KINDS = new Set([
  'networking.istio.io/Hostname',
  'inference.networking.k8s.io/InferencePool',
]);

/** Normalise a backendRef with the API server's defaults (group "", kind Service, namespace = route's, weight 1). */
export function resolveBackendRefs(route: Route, ruleIndex: number): ResolvedBackendRef[] {
  const ns = route.metadata.namespace ?? 'default';
  const rule = route.spec.rules?.[ruleIndex];
  if (!rule) return [];
  const resolve = (
    ref: HTTPBackendRef,
    weight: number,
    pointer: (string | number)[],
    mirror: boolean,
  ): ResolvedBackendRef => ({
    ref,
    group: ref.group ?? '',
    kind: ref.kind ?? 'Service',
    name: ref.name,
    namespace: ref.namespace ?? ns,
    port: ref.port ?? null,
    weight,
    pointer,
    mirror,
    where: pointer
      .slice(1)
      .map((t) => (typeof t === 'number' ? `[${t}]` : `.${t}`))
      .join('')
      .slice(1),
  });
  const out = (rule.backendRefs ?? []).map((ref, i) =>
    resolve(ref, ref.weight ?? 1, ['spec', 'rules', ruleIndex, 'backendRefs', i], false),
  );
  // Mirror targets cross namespaces under the same grant rules (istio gateway/conversion.go createMirrorFilter).
  (rule.filters ?? []).forEach((f, i) => {
    const ref = f.type === 'RequestMirror' ? f.requestMirror?.backendRef : undefined;
    if (ref) out.push(resolve(ref, 0, ['spec', 'rules', ruleIndex, 'filters', i, 'requestMirror', 'backendRef'], true));
  });
  return out;
}

/**
 * Does any grant in the backend's namespace permit <fromKind> <routeNs>/* -> <group>/<kind> <name>?
 * from: group + kind + namespace must all match; to: group + kind, and name when set (omitted = every object).
 * A grant in any other namespace never counts. The from kind is the route's own: a GRPCRoute needs a grant from
 * GRPCRoute (istio conversion.go buildGRPCDestination checks the grant for gvk.GRPCRoute).
 */
export function grantPermits(
  grant: ReferenceGrant,
  routeNs: string,
  ref: ResolvedBackendRef,
  fromKind = 'HTTPRoute',
): boolean {
  if ((grant.metadata.namespace ?? 'default') !== ref.namespace) return false;
  const fromOk = (grant.spec.from ?? []).some(
    (f) => (f.group ?? '') === GW_GROUP && f.kind === fromKind && f.namespace === routeNs,
  );
  if (!fromOk) return false;
  return (grant.spec.to ?? []).some(
    (t) =>
      (t.group ?? '') === ref.group &&
      t.kind === ref.kind &&
      (t.name === undefined || t.name === '' || t.name === ref.name),
  );
}

/** Explain why a grant in the right namespace does not cover the reference (for near-miss evidence). */
export function whyNot(
  grant: ReferenceGrant,
  routeNs: string,
  ref: ResolvedBackendRef,
  fromKind = 'HTTPRoute',
): string {
  const froms = grant.spec.from ?? [];
  if (!froms.some((f) => (f.group ?? '') === GW_GROUP && f.kind === fromKind && f.namespace === routeNs)) {
    const got = froms.map((f) => `{group: "${f.group ?? ''}", kind: ${f.kind}, namespace: ${f.namespace}}`).join(', ');
    return `from does not list {group: ${GW_GROUP}, kind: ${fromKind}, namespace: ${routeNs}} (has ${got || 'nothing'})`;
  }
  const tos = grant.spec.to ?? [];
  const got = tos
    .map((t) => `{group: "${t.group ?? ''}", kind: ${t.kind}${t.name ? `, name: ${t.name}` : ''}}`)
    .join(', ');
  return `to does not cover {group: "${ref.group}", kind: ${ref.kind}, name: ${ref.name}} (has ${got || 'nothing'})`;
}

/** A ReferenceGrant object that lets routes of the route's kind in its namespace use exactly these backends. */
export function referenceGrantObject(route: Route, refs: ResolvedBackendRef[], apiVersion: string, name: string) {
  const routeNs = route.metadata.namespace ?? 'default';
  const ns = (refs[0] as ResolvedBackendRef).namespace;
  const to = [
    ...new Map(
      refs.map((r) => [`${r.group}/${r.kind}/${r.name}`, { group: r.group, kind: r.kind, name: r.name }]),
    ).values(),
  ];
  return {
    apiVersion,
    kind: 'ReferenceGrant',
    metadata: { name, namespace: ns },
    spec: { from: [{ group: GW_GROUP, kind: route.kind, namespace: routeNs }], to },
  };
}

/**
 * Filter types Istio implements, per route kind and place (istio pilot/pkg/config/kube/gateway/conversion.go:
 * convertHTTPRoute and convertGRPCRoute switch over the rule's filters, buildHTTPDestination/buildGRPCDestination over
 * a backendRef's). Any other type (ExtensionRef, an experimental filter) is `default:` there: ConfigError
 * {Reason: InvalidFilter, Message: "unsupported filter type %q"}, a hard error that drops the whole route.
 */
export const ISTIO_FILTERS: Record<
  'HTTPRoute' | 'GRPCRoute',
  { rule: ReadonlySet<string>; backendRef: ReadonlySet<string> }
> = {
  HTTPRoute: {
    rule: new Set([
      'RequestHeaderModifier',
      'ResponseHeaderModifier',
      'RequestRedirect',
      'RequestMirror',
      'URLRewrite',
      'CORS',
    ]),
    backendRef: new Set(['RequestHeaderModifier', 'ResponseHeaderModifier']),
  },
  GRPCRoute: {
    rule: new Set(['RequestHeaderModifier', 'ResponseHeaderModifier', 'RequestMirror']),
    backendRef: new Set(['RequestHeaderModifier', 'ResponseHeaderModifier']),
  },
};

/** Why Istio programs none of a route's rules (ResolvedRefs=False with a "general" reason), and where in the route. */
export type RouteDrop =
  /** A Service backendRef named by its hostname. */
  | { reason: 'InvalidDestination'; ref: ResolvedBackendRef; where: string; message: string }
  /** A filter type Istio does not implement (ExtensionRef, an experimental one) on a rule or a backendRef. */
  | {
      reason: 'InvalidFilter';
      type: string;
      ruleIndex: number;
      where: string;
      pointer: (string | number)[];
      message: string;
    };

/**
 * What makes Istio drop a route as a whole, or null. Istio converts the rules in order and stops at the first hard
 * error (route_collections.go computeRoute: a rule that yields no route and an error ends the conversion, and no
 * rule of the route is programmed). Within a rule (conversion.go convertHTTPRoute/convertGRPCRoute): its filters
 * first, then, only when the weights sum above 0, each backendRef of weight > 0 in order (buildHTTPDestination):
 * buildDestination (a Service named by its hostname: InvalidDestination "service name invalid; the name of the
 * Service must be used, not the hostname"), then that backendRef's own filters. Weight-0 backendRefs and RequestMirror
 * targets are never hard errors (skipped, resp. reported as mirrorBackendErr while the rule is kept).
 */
export function routeDroppedBy(route: Route): RouteDrop | null {
  const kinds = ISTIO_FILTERS[route.kind === 'GRPCRoute' ? 'GRPCRoute' : 'HTTPRoute'];
  const rules = route.spec.rules ?? [];
  const unsupported = (type: unknown, ruleIndex: number, pointer: (string | number)[]): RouteDrop => {
    const t = typeof type === 'string' ? type : String(type);
    return {
      reason: 'InvalidFilter',
      type: t,
      ruleIndex,
      pointer,
      where: pointer
        .slice(1)
        .map((x) => (typeof x === 'number' ? `[${x}]` : `.${x}`))
        .join('')
        .slice(1),
      message: `unsupported filter type ${JSON.stringify(t)}`,
    };
  };
  for (let i = 0; i < rules.length; i++) {
    const rule = rules[i];
    const filters = Array.isArray(rule?.filters) ? rule.filters : [];
    for (let f = 0; f < filters.length; f++) {
      const type = filters[f]?.type;
      if (!kinds.rule.has(type as string)) return unsupported(type, i, ['spec', 'rules', i, 'filters', f]);
    }
    const refs = resolveBackendRefs(route, i).filter((r) => !r.mirror);
    if (refs.reduce((n, r) => n + r.weight, 0) <= 0) continue; // a direct 500: no destination is built
    for (const ref of refs) {
      if (ref.weight === 0) continue;
      if (ref.group === '' && ref.kind === 'Service' && ref.name.includes('.')) {
        return {
          reason: 'InvalidDestination',
          ref,
          where: ref.where,
          message: 'service name invalid; the name of the Service must be used, not the hostname',
        };
      }
      const bf = Array.isArray(ref.ref.filters) ? ref.ref.filters : [];
      for (let f = 0; f < bf.length; f++) {
        const type = bf[f]?.type;
        if (!kinds.backendRef.has(type as string)) return unsupported(type, i, [...ref.pointer, 'filters', f]);
      }
    }
  }
  return null;
}

// Certificates of a Gateway listener in another namespace (gateway-api apis/v1/gateway_types.go
// GatewayTLSConfig.CertificateRefs: "a ReferenceGrant is required in the target namespace"; istio
// pilot/pkg/config/kube/gatewaycommon/references.go SecretAllowed: from kind Gateway + the Gateway's namespace, to
// core Secret, to.name unset = every Secret of the namespace).

/** Does this grant (in the Secret's namespace) let Gateways in gwNs use Secret <secretNs>/<name>? */
export function secretGrantPermits(grant: ReferenceGrant, gwNs: string, secretNs: string, name: string): boolean {
  if ((grant.metadata.namespace ?? 'default') !== secretNs) return false;
  const fromOk = (grant.spec.from ?? []).some(
    (f) => (f.group ?? '') === GW_GROUP && f.kind === 'Gateway' && f.namespace === gwNs,
  );
  return (
    fromOk &&
    (grant.spec.to ?? []).some(
      (t) => (t.group ?? '') === '' && t.kind === 'Secret' && (t.name === undefined || t.name === name),
    )
  );
}

/** Why a grant in the Secret's namespace does not cover it (near-miss evidence). */
export function whyNotSecret(grant: ReferenceGrant, gwNs: string, name: string): string {
  const froms = grant.spec.from ?? [];
  if (!froms.some((f) => (f.group ?? '') === GW_GROUP && f.kind === 'Gateway' && f.namespace === gwNs)) {
    const got = froms.map((f) => `{group: "${f.group ?? ''}", kind: ${f.kind}, namespace: ${f.namespace}}`).join(', ');
    return `from does not list {group: ${GW_GROUP}, kind: Gateway, namespace: ${gwNs}} (has ${got || 'nothing'})`;
  }
  const got = (grant.spec.to ?? [])
    .map((t) => `{group: "${t.group ?? ''}", kind: ${t.kind}${t.name ? `, name: ${t.name}` : ''}}`)
    .join(', ');
  return `to does not cover {group: "", kind: Secret, name: ${name}} (has ${got || 'nothing'})`;
}

/** A ReferenceGrant that lets Gateways in gwNs use exactly these Secrets of secretNs. */
export function secretGrantObject(gwNs: string, secretNs: string, names: string[], apiVersion: string, name: string) {
  return {
    apiVersion,
    kind: 'ReferenceGrant',
    metadata: { name, namespace: secretNs },
    spec: {
      from: [{ group: GW_GROUP, kind: 'Gateway', namespace: gwNs }],
      to: [...new Set(names)].map((n) => ({ group: '', kind: 'Secret', name: n })),
    },
  };
}
