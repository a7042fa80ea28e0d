// The index of one snapshot's routes, built once for the route list an attempt read and shared by every target (the
// snapshot holds it: src/cluster/snapshot.ts), so the work per target follows the routes of its own host, not the size
// of the cluster:
//   routes by hostname (exact names, "*.suffix" wildcards, and routes without hostnames),
//   attachments per (route, Gateway), computed once per Gateway.
// HTTPRoutes and GRPCRoutes are indexed together: Istio merges both kinds attached to one listener and hostname into
// one VirtualService, ordered as one list (pilot/pkg/config/kube/gateway/controller.go "HTTPAndGRPCMerged":
// mergeHTTPRoutes over httpRoutes.BaseVirtualServices + grpcRoutes.BaseVirtualServices).

import type { Gateway, Namespace, ParentReference, Route } from '../cluster/objects.js';
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

/**
 * The routes of one snapshot, indexed once (src/cluster/snapshot.ts holds it for the attempt, so every target of the
 * attempt shares it): routes in precedence order (oldest first, then namespace/name), by hostname, and, per Gateway,
 * the attachment of every parentRef naming it (computed when the first target asks for that Gateway).
 */
export class RouteIndex {
  private readonly sorted: Route[];
  private readonly order: Map<Route, number>;
  private readonly byHost = new Map<string, Route[]>();
  private readonly noHost: Route[] = [];
  /** Per Gateway: the attachments of every parentRef naming it, per route. */
  private readonly attachments = new Map<Gateway, Map<Route, Attachment[]>>();

  constructor(readonly routes: Route[]) {
    this.sorted = [...routes].sort(compareRoutes);
    for (const r of this.sorted) {
      const hs = r.spec.hostnames ?? [];
      if (hs.length === 0) this.noHost.push(r);
      for (const h of new Set(hs.map((x) => x.toLowerCase()))) {
        const list = this.byHost.get(h) ?? [];
        list.push(r);
        this.byHost.set(h, list);
      }
    }
    this.order = new Map(this.sorted.map((r, i) => [r, i]));
  }

  /**
   * The routes whose hostnames accept the host (or that have none), oldest first: the exact name, then every
   * "*.suffix" of it (a wildcard matches one or more labels, gateway-api HTTPRouteSpec.Hostnames), then "*".
   */
  forHost(host: string): Route[] {
    const hit = new Set<Route>(this.noHost);
    for (const r of this.byHost.get(host) ?? []) hit.add(r);
    const labels = host.split('.');
    for (let i = 1; i < labels.length; i++)
      for (const r of this.byHost.get(`*.${labels.slice(i).join('.')}`) ?? []) hit.add(r);
    for (const r of this.byHost.get('*') ?? []) hit.add(r);
    return [...hit].sort((a, b) => (this.order.get(a) as number) - (this.order.get(b) as number));
  }

  /** Attachments of the given routes' parentRefs to the Gateway, computed once per Gateway. */
  attachmentsTo(gw: Gateway, nsObjs: Map<string, Namespace | undefined>, only: Route[]): Attachment[] {
    let per = this.attachments.get(gw);
    if (!per) {
      per = new Map();
      for (const r of this.sorted) {
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
      this.attachments.set(gw, per);
    }
    return only.flatMap((r) => per.get(r) ?? []);
  }
}
