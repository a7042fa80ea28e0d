// Hosts that must stay internal (--internal): which HTTPRoutes and GRPCRoutes make a host public on the public Gateway(s)?
// Both kinds count: Istio merges the GRPCRoutes of a listener and hostname into the same virtual host as the
// HTTPRoutes (route-index.ts), and a GRPCRoute rule is served to any HTTP client that sends its path.
// The same attachment rules as the request path (attachment.ts, route-index.ts), asked the other way round: not
// "which rule wins for this request" but "does ANY accepted route serve this host, on any path".

import type { Gateway, GatewayListener, Route } from '../cluster/objects.js';
import { both, type ClusterView } from '../cluster/view.js';
import type { Target } from '../types.js';
import { routeDroppedBy } from './grants.js';
import { hostMatches } from './hostnames.js';
import { acceptingListeners, isIngressGateway } from './listeners.js';
import type { Snapshot } from '../cluster/snapshot.js';
import { namespacesFor } from './path.js';

export interface Exposure {
  route: Route;
  gateway: Gateway;
  /** The Gateway's listeners (accepting the host) the route is attached to. */
  listeners: GatewayListener[];
  /** Indexes of the route's parentRefs that attach it to this Gateway (accepted). */
  parentIndexes: number[];
  /** The route's hostnames entries that accept the host; [] when the route has no hostnames (it serves every host its listener accepts). */
  hostnames: { index: number; value: string }[];
}

export type ExposureStage =
  | { kind: 'filter-missing'; filter: { namespace: string; name: string }; all: Gateway[] }
  /** No public Gateway has a listener that accepts the host: nothing can serve it. */
  | { kind: 'no-listener'; considered: Gateway[] }
  | { kind: 'checked'; gateways: { gw: Gateway; listeners: GatewayListener[] }[]; exposed: Exposure[] };

/**
 * The public Gateways are the one given with --gateway, else every ingress Gateway (not a waypoint or east-west
 * gateway, with an HTTP/HTTPS listener). Whether a Gateway is healthy does not matter here: a route attached to it is
 * published as soon as it is. A route Istio drops as a whole (routeDroppedBy) programs nothing and exposes nothing.
 */
export function resolveExposure(
  v: ClusterView,
  snapshot: Snapshot,
  target: Target,
  filter: { namespace: string; name: string } | null,
): ExposureStage {
  const host = target.host;
  const [[all, http], grpc] = both(() => both(v.gateways, v.httpRoutes), v.grpcRoutes);
  const { routes, index } = snapshot.routes(http, grpc);
  let publicGws: Gateway[];
  if (filter) {
    publicGws = all.filter(
      (g) => g.metadata.name === filter.name && (g.metadata.namespace ?? 'default') === filter.namespace,
    );
    if (publicGws.length === 0) return { kind: 'filter-missing', filter, all };
  } else publicGws = all.filter(isIngressGateway);
  const gateways = publicGws
    .map((gw) => ({ gw, listeners: acceptingListeners(gw, host) }))
    .filter((x) => x.listeners.length > 0);
  if (gateways.length === 0) return { kind: 'no-listener', considered: publicGws };

  const forHost = index.forHost(host);
  const nsObjs = namespacesFor(
    v,
    snapshot,
    routes,
    gateways.map((g) => g.gw),
  );
  const exposed: Exposure[] = [];
  for (const { gw, listeners } of gateways) {
    const byRoute = new Map<Route, Exposure>();
    for (const a of index.attachmentsTo(gw, nsObjs, forHost)) {
      if (!a.result.accepted || routeDroppedBy(a.route)) continue;
      const on = a.result.listeners
        .filter(
          (la) =>
            la.reason === 'Accepted' &&
            listeners.includes(la.listener) &&
            la.hostnames.some((h) => hostMatches(h, host)),
        )
        .map((la) => la.listener);
      if (on.length === 0) continue;
      const e = byRoute.get(a.route) ?? {
        route: a.route,
        gateway: gw,
        listeners: [],
        parentIndexes: [],
        hostnames: (a.route.spec.hostnames ?? [])
          .map((value, index) => ({ index, value }))
          .filter((h) => hostMatches(h.value, host)),
      };
      for (const l of on) if (!e.listeners.includes(l)) e.listeners.push(l);
      e.parentIndexes.push(a.parentIndex);
      byRoute.set(a.route, e);
    }
    exposed.push(...byRoute.values());
  }
  return { kind: 'checked', gateways, exposed };
}
