// Route -> Gateway attachment: parentRef matching, allowedRoutes (namespaces, kinds) and hostname intersection.

import type {
  Gateway,
  GatewayListener,
  LabelSelector,
  ListenerSet,
  Namespace,
  ParentReference,
  Route,
} from '../cluster/objects.js';
import { hostMatches, intersect } from './hostnames.js';
import { normalizeParentRef } from './status.js';

export type AttachReason = 'Accepted' | 'NotAllowedByListeners' | 'NoMatchingListenerHostname' | 'NoMatchingParent';

export interface ListenerAttachment {
  listener: GatewayListener;
  reason: AttachReason;
  message: string;
  /** Intersected hostnames served on this listener (only when Accepted). */
  hostnames: (string | undefined)[];
  /** Accepted on an assumption gwdoctor could not check (e.g. the route's Namespace labels were not read). */
  assumed?: string;
}

export interface ParentAttachment {
  parentRef: ParentReference;
  accepted: boolean;
  reason: AttachReason;
  message: string;
  listeners: ListenerAttachment[];
  /** Accepted only on assumptions (every accepting listener has `assumed`): what could not be checked. */
  assumed?: string;
}

const GW_GROUP = 'gateway.networking.k8s.io';

export function refersTo(parentRef: ParentReference, route: Route, gw: Gateway): boolean {
  const p = normalizeParentRef(parentRef, route.metadata.namespace ?? 'default');
  return (
    p.group === GW_GROUP &&
    p.kind === 'Gateway' &&
    p.name === gw.metadata.name &&
    p.namespace === (gw.metadata.namespace ?? 'default')
  );
}

/** Evaluate a LabelSelector (matchLabels AND matchExpressions). */
export function selectorMatches(sel: LabelSelector, labels: Record<string, string>): boolean {
  for (const [k, v] of Object.entries(sel.matchLabels ?? {})) if (labels[k] !== v) return false;
  for (const e of sel.matchExpressions ?? []) {
    const has = Object.hasOwn(labels, e.key);
    const val = labels[e.key];
    switch (e.operator) {
      case 'In':
        if (!has || !(e.values ?? []).includes(val as string)) return false;
        break;
      case 'NotIn':
        if (has && (e.values ?? []).includes(val as string)) return false;
        break;
      case 'Exists':
        if (!has) return false;
        break;
      case 'DoesNotExist':
        if (has) return false;
        break;
      default:
        return false;
    }
  }
  return true;
}

/**
 * allowedRoutes.namespaces: `from` defaults to Same (the Gateway's namespace); Selector is evaluated on the route's
 * Namespace labels (gateway-api apis/v1/gateway_types.go RouteNamespaces). Istio treats a Selector with no selector
 * as All and adds the implicit `kubernetes.io/metadata.name` label (pilot/pkg/config/kube/gateway/conversion.go
 * namespacesFromSelector).
 */
export function namespaceAllowed(
  listener: GatewayListener,
  gw: Gateway,
  routeNs: string,
  nsObj: Namespace | undefined,
): boolean {
  return namespaceDecision(listener, gw, routeNs, nsObj) === 'yes';
}

/**
 * namespaceAllowed, honest about what it cannot know: a Selector on labels other than the implicit
 * `kubernetes.io/metadata.name`, for a route whose Namespace object was not read (manifests from git rarely hold the
 * Namespaces), is 'unknown' rather than a rejection that may be wrong.
 */
export function namespaceDecision(
  listener: GatewayListener,
  gw: Gateway,
  routeNs: string,
  nsObj: Namespace | undefined,
): 'yes' | 'no' | 'unknown' {
  const from = listener.allowedRoutes?.namespaces?.from ?? 'Same';
  if (from === 'All') return 'yes';
  if (from === 'Same') return routeNs === (gw.metadata.namespace ?? 'default') ? 'yes' : 'no';
  const sel = listener.allowedRoutes?.namespaces?.selector;
  if (!sel) return 'yes';
  // Unknown labels can flip any term (In/Exists as much as NotIn/DoesNotExist) except the implicit name label.
  const keys = [...Object.keys(sel.matchLabels ?? {}), ...(sel.matchExpressions ?? []).map((e) => e.key)];
  if (nsObj === undefined && keys.some((k) => k !== 'kubernetes.io/metadata.name')) return 'unknown';
  const labels = { 'kubernetes.io/metadata.name': routeNs, ...(nsObj?.metadata.labels ?? {}) };
  return selectorMatches(sel, labels) ? 'yes' : 'no';
}

/**
 * HTTPRoute and GRPCRoute are allowed on HTTP/HTTPS listeners unless allowedRoutes.kinds leaves them out (GW
 * AllowedRoutes.Kinds; Istio's supported kinds per protocol: pilot/pkg/config/kube/gatewaycommon
 * GenerateGatewaySupportedKinds, HTTP/HTTPS -> HTTPRoute + GRPCRoute, TLS -> TLSRoute, TCP -> TCPRoute).
 */
export function kindAllowed(listener: GatewayListener, kind: 'HTTPRoute' | 'GRPCRoute' = 'HTTPRoute'): boolean {
  if (listener.protocol !== 'HTTP' && listener.protocol !== 'HTTPS') return false;
  const kinds = listener.allowedRoutes?.kinds;
  if (!kinds || kinds.length === 0) return true;
  return kinds.some((k) => (k.group ?? GW_GROUP) === GW_GROUP && k.kind === kind);
}

function describeFrom(listener: GatewayListener): string {
  const ns = listener.allowedRoutes?.namespaces;
  const from = ns?.from ?? 'Same';
  if (from !== 'Selector') return `allowedRoutes.namespaces.from: ${from}${ns?.from ? '' : ' (default)'}`;
  return `allowedRoutes.namespaces.from: Selector ${JSON.stringify(ns?.selector ?? {})}`;
}

/**
 * Attachment of one route parentRef to one Gateway, per listener, in Istio's order
 * (pilot/pkg/config/kube/gateway/conversion.go referenceAllowed): port, sectionName, hostnames (then namespace),
 * kind. Folded per parentRef as Istio does (gateway/conditions.go createRouteStatus): any listener accepts ->
 * Accepted; otherwise the reason ranked NotAllowedByListeners > NoMatchingListenerHostname > NoMatchingParent.
 */
export function attachToGateway(
  route: Route,
  parentRef: ParentReference,
  gw: Gateway,
  nsObj: Namespace | undefined,
): ParentAttachment {
  const routeNs = route.metadata.namespace ?? 'default';
  const kind = route.kind === 'GRPCRoute' ? 'GRPCRoute' : 'HTTPRoute';
  const listeners: ListenerAttachment[] = [];
  for (const l of gw.spec.listeners ?? []) {
    if (parentRef.port !== undefined && parentRef.port !== l.port) {
      listeners.push({
        listener: l,
        reason: 'NoMatchingParent',
        message: `port ${parentRef.port} not found`,
        hostnames: [],
      });
      continue;
    }
    if (parentRef.sectionName !== undefined && parentRef.sectionName !== l.name) {
      listeners.push({
        listener: l,
        reason: 'NoMatchingParent',
        message: `sectionName "${parentRef.sectionName}" not found`,
        hostnames: [],
      });
      continue;
    }
    const routeHosts: (string | undefined)[] = route.spec.hostnames?.length ? route.spec.hostnames : [undefined];
    const inter = routeHosts.map((h) => intersect(l.hostname, h)).filter((h): h is string => h !== undefined);
    if (inter.length === 0) {
      listeners.push({
        listener: l,
        reason: 'NoMatchingListenerHostname',
        message: `no hostnames matched parent hostname "${l.hostname ?? '*'}"`,
        hostnames: [],
      });
      continue;
    }
    const nsDecision = namespaceDecision(l, gw, routeNs, nsObj);
    if (nsDecision === 'no') {
      listeners.push({
        listener: l,
        reason: 'NotAllowedByListeners',
        message: `hostnames matched parent hostname "${l.hostname ?? '*'}", but namespace "${routeNs}" is not allowed by the parent (${describeFrom(l)})`,
        hostnames: [],
      });
      continue;
    }
    if (!kindAllowed(l, kind)) {
      listeners.push({
        listener: l,
        reason: 'NotAllowedByListeners',
        message: `kind gateway.networking.k8s.io/${kind} is not allowed on listener "${l.name}" (protocol ${l.protocol})`,
        hostnames: [],
      });
      continue;
    }
    const assumed =
      nsDecision === 'unknown'
        ? `listener "${l.name}" admits routes from namespaces matching ${JSON.stringify(l.allowedRoutes?.namespaces?.selector ?? {})}, and the labels of Namespace ${routeNs} were not read (no Namespace object): assumed to match`
        : undefined;
    listeners.push({
      listener: l,
      reason: 'Accepted',
      message: 'Route was valid',
      hostnames: inter,
      ...(assumed ? { assumed } : {}),
    });
  }
  const ok = listeners.filter((x) => x.reason === 'Accepted');
  if (ok.length > 0) {
    const sure = ok.find((x) => !x.assumed);
    return {
      parentRef,
      accepted: true,
      reason: 'Accepted',
      message: 'Route was valid',
      listeners,
      ...(sure ? {} : { assumed: ok[0]?.assumed as string }),
    };
  }
  const rank: AttachReason[] = ['NotAllowedByListeners', 'NoMatchingListenerHostname', 'NoMatchingParent'];
  for (const r of rank) {
    const hits = listeners.filter((x) => x.reason === r);
    if (hits.length > 0)
      return {
        parentRef,
        accepted: false,
        reason: r,
        message: [...new Set(hits.map((h) => h.message))].join('; '),
        listeners,
      };
  }
  return { parentRef, accepted: false, reason: 'NoMatchingParent', message: 'the Gateway has no listeners', listeners };
}

/** Route hostnames (or none) that accept the host. */
export function routeServesHost(route: Route, host: string): boolean {
  const hs = route.spec.hostnames;
  if (!hs || hs.length === 0) return true;
  return hs.some((h) => hostMatches(h, host));
}

/**
 * Something about the host that goes through a ListenerSet, which gwdoctor does not model (Istio programs a
 * ListenerSet's listeners on its parent Gateway: pilot/pkg/config/kube/gateway/gateway_collection.go
 * ListenerSetCollection): a route for the host whose parentRef is a ListenerSet, or a ListenerSet of a candidate
 * Gateway with a listener whose hostname accepts the host (it may be the more specific listener for the host).
 */
export type ListenerSetUse =
  | { kind: 'route-parent'; route: Route; index: number; parent: ReturnType<typeof normalizeParentRef> }
  | {
      kind: 'listener';
      listenerSet: ListenerSet;
      listener: string;
      hostname: string | undefined;
      port: number | undefined;
      gateway: Gateway;
    };

const isListenerSetRef = (p: ReturnType<typeof normalizeParentRef>) =>
  p.group === 'gateway.networking.k8s.io' && p.kind === 'ListenerSet';

/**
 * Can ListenerSets attach to this Gateway at all? Only when spec.allowedListeners admits some namespace: the default
 * is none (gateway-api GatewaySpec.AllowedListeners; istio pilot/pkg/config/kube/gatewaycommon/gateway_utils.go
 * NamespaceAcceptedByAllowListeners returns false without it, and the ListenerSet gets NotAllowed).
 */
export function admitsListenerSets(gw: Gateway): boolean {
  const from = gw.spec.allowedListeners?.namespaces?.from ?? 'None';
  return from === 'All' || from === 'Same' || from === 'Selector';
}

/** Is a ListenerSet in namespace ns allowed by the Gateway? (Selector: possibly, the labels are not read.) */
function listenerSetAllowed(gw: Gateway, ns: string): boolean {
  const from = gw.spec.allowedListeners?.namespaces?.from ?? 'None';
  if (from === 'Same') return ns === (gw.metadata.namespace ?? 'default');
  return from === 'All' || from === 'Selector';
}

/** Routes for the host attached through a ListenerSet, and ListenerSets of the candidate Gateways accepting the host. */
export function listenerSetUses(
  sets: ListenerSet[],
  forHost: Route[],
  gateways: Gateway[],
  host: string,
): ListenerSetUse[] {
  const out: ListenerSetUse[] = [];
  for (const r of forHost) {
    (r.spec.parentRefs ?? []).forEach((p, index) => {
      const parent = normalizeParentRef(p, r.metadata.namespace ?? 'default');
      if (isListenerSetRef(parent)) out.push({ kind: 'route-parent', route: r, index, parent });
    });
  }
  for (const ls of sets) {
    const pr = ls.spec.parentRef;
    const gw = gateways.find(
      (g) =>
        (pr.group ?? 'gateway.networking.k8s.io') === 'gateway.networking.k8s.io' &&
        (pr.kind ?? 'Gateway') === 'Gateway' &&
        g.metadata.name === pr.name &&
        (g.metadata.namespace ?? 'default') === (pr.namespace ?? ls.metadata.namespace ?? 'default'),
    );
    if (!gw || !listenerSetAllowed(gw, ls.metadata.namespace ?? 'default')) continue;
    for (const l of ls.spec.listeners ?? []) {
      if ((l.protocol === 'HTTP' || l.protocol === 'HTTPS') && hostMatches(l.hostname, host)) {
        out.push({
          kind: 'listener',
          listenerSet: ls,
          listener: l.name,
          hostname: l.hostname,
          port: l.port,
          gateway: gw,
        });
      }
    }
  }
  return out;
}
