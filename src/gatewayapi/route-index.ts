// Per-snapshot indexes, built once for the route list an attempt read and shared by every target, so the work per
// target follows the routes of its own host, not the size of the cluster:
//   routes by hostname (exact names, "*.suffix" wildcards, and routes without hostnames),
//   attachments per (route, Gateway), computed once per Gateway.
// Keyed by the identity of the arrays the reader returns (one per attempt: a --wait retry reads new ones).
// HTTPRoutes and GRPCRoutes are indexed together: Istio merges both kinds attached to one listener and hostname into
// one VirtualService, ordered as one list (pilot/pkg/config/kube/gateway/controller.go "HTTPAndGRPCMerged":
// mergeHTTPRoutes over httpRoutes.BaseVirtualServices + grpcRoutes.BaseVirtualServices).

import type { Gateway, GRPCRoute, HTTPRoute, Namespace, ParentReference, Route } from '../cluster/objects.js';
import { attachToGateway, refersTo, type ParentAttachment } from './attachment.js';
import { compareRoutes } from './matching.js';

/** A route's parentRef that names a Gateway, and what attaching to it gives. */
export interface Attachment {
  route: Route;
  parentRef: ParentReference;
  /** Index of parentRef in route.spec.parentRefs (for patches). */
  parentIndex: number;
  gateway: Gateway;
  result: ParentAttachment;
}

interface RouteIndex {
  /** Routes in precedence order (oldest first, then namespace/name). */
  sorted: Route[];
  order: Map<Route, number>;
  byHost: Map<string, Route[]>;
  noHost: Route[];
  /** Per Gateway: the attachments of every parentRef naming it, per route. */
  attachments: WeakMap<Gateway, Map<Route, Attachment[]>>;
}

const indexes = new WeakMap<Route[], RouteIndex>();
const combined = new WeakMap<HTTPRoute[], WeakMap<GRPCRoute[], Route[]>>();

/** The HTTPRoutes and GRPCRoutes of one read as one list, the same array for the same pair (so its index is reused). */
export function httpAndGrpcRoutes(http: HTTPRoute[], grpc: GRPCRoute[]): Route[] {
  if (grpc.length === 0) return http;
  let per = combined.get(http);
  if (!per) combined.set(http, (per = new WeakMap()));
  let all = per.get(grpc);
  if (!all) per.set(grpc, (all = [...http, ...grpc]));
  return all;
}

function indexOf(routes: Route[]): RouteIndex {
  let ix = indexes.get(routes);
  if (ix) return ix;
  const sorted = [...routes].sort(compareRoutes);
  const byHost = new Map<string, Route[]>();
  const noHost: Route[] = [];
  for (const r of sorted) {
    const hs = r.spec.hostnames ?? [];
    if (hs.length === 0) noHost.push(r);
    for (const h of new Set(hs.map((x) => x.toLowerCase()))) {
      const list = byHost.get(h) ?? [];
      list.push(r);
      byHost.set(h, list);
    }
  }
  ix = { sorted, order: new Map(sorted.map((r, i) => [r, i])), byHost, noHost, attachments: new WeakMap() };
  indexes.set(routes, ix);
  return ix;
}

/**
 * The routes whose hostnames accept the host (or that have none), oldest first: the exact name, then every
 * "*.suffix" of it (a wildcard matches one or more labels, gateway-api HTTPRouteSpec.Hostnames), then "*".
 */
export function routesForHost<R extends Route>(routes: R[], host: string): R[] {
  const ix = indexOf(routes);
  const hit = new Set<Route>(ix.noHost);
  for (const r of ix.byHost.get(host) ?? []) hit.add(r);
  const labels = host.split('.');
  for (let i = 1; i < labels.length; i++)
    for (const r of ix.byHost.get(`*.${labels.slice(i).join('.')}`) ?? []) hit.add(r);
  for (const r of ix.byHost.get('*') ?? []) hit.add(r);
  return ([...hit] as R[]).sort((a, b) => (ix.order.get(a) as number) - (ix.order.get(b) as number));
}

/** Attachments of the given routes' parentRefs to the Gateway, computed once per (route list, Gateway). */
export function attachmentsTo(
  routes: Route[],
  gw: Gateway,
  nsObjs: Map<string, Namespace | undefined>,
  only: Route[],
): Attachment[] {
  const ix = indexOf(routes);
  let per = ix.attachments.get(gw);
  if (!per) {
    per = new Map();
    for (const r of ix.sorted) {
      const list: Attachment[] = [];
      (r.spec.parentRefs ?? []).forEach((p, parentIndex) => {
        if (refersTo(p, r, gw))
          list.push({
            route: r,
            parentRef: p,
            parentIndex,
            gateway: gw,
            result: attachToGateway(r, p, gw, nsObjs.get(r.metadata.namespace ?? 'default')),
          });
      });
      if (list.length > 0) per.set(r, list);
    }
    ix.attachments.set(gw, per);
  }
  return only.flatMap((r) => per.get(r) ?? []);
}
