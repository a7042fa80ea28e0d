// The resolved path of one request: everything the cluster layers judge, computed from what the cluster source
// holds, before any judging. Each stage (listener -> route -> grant -> endpoints) is a synchronous function of the
// attempt's snapshot (src/cluster/view.ts): its async shell makes the reads the stage points at (each once per
// attempt, shared by every target) and runs it again, so a read that fails surfaces at the layer that needs it and a
// layer that is never reached costs nothing. The judges in checks/ are pure functions of this.

import type {
  Gateway,
  GatewayClass,
  GatewayListener,
  Namespace,
  ParentReference,
  Pod,
  ReferenceGrant,
  Route,
  Service,
  EndpointSlice,
} from '../cluster/objects.js';
import type { Snapshot, Unreadable } from '../cluster/snapshot.js';
import { all as allOf, both, type ClusterView } from '../cluster/view.js';
import { describe as describeObj, nsName } from '../cluster/objects.js';
import { ClusterAccessError } from '../errors.js';
import type { ListenerCandidate, PortInUse, ResolvedBackendRef, Target } from '../types.js';
import {
  admitsListenerSets,
  kindAllowed,
  listenerSetUses,
  refersTo,
  routeServesHost,
  type ListenerSetUse,
  type ParentAttachment,
} from './attachment.js';
import { judgeListenerCerts, readListenerCerts, terminatesTls } from './certs.js';
import { grantPermits, ISTIO_BACKEND_KINDS, resolveBackendRefs, routeDroppedBy, type RouteDrop } from './grants.js';
import { gatewayHealth, noInstances, type GatewayEndpoints, type Health, type ParametersState } from './health.js';
import { acceptingListeners, isHttpListener, isIngressGateway, MESH_CLASSES } from './listeners.js';
import { compareRoutes, loadRe2, mayUseRe2, selectRule, type AttachedRoute, type Selection } from './matching.js';
import type { Attachment } from './route-index.js';
import { predictRedirect, type Redirect } from './redirect.js';
import { isHostnameRef, resolveHostname, type HostnameResolution } from './service-entry.js';
import { waypointBound, waypointFor, type WaypointBinding, type WaypointBound } from './waypoint.js';
import { controllerConditions, freshness, normalizeParentRef } from './status.js';
import {
  choosePort,
  gatewayService,
  nodePortsOf,
  pinPort,
  type PinnedPort,
  type PortAnswer,
  type PortChoice,
} from './ports.js';
import type { GatewayRef } from '../target.js';

export interface GatewayChoice {
  gw: Gateway;
  listeners: GatewayListener[];
  health: Health;
}

export type ListenerStage = { classes: GatewayClass[]; routes: Route[] } & (
  | { kind: 'filter-missing'; filter: { namespace: string; name: string }; all: Gateway[] }
  | { kind: 'no-http-gateway'; all: Gateway[]; parents: string[] }
  | { kind: 'no-listener'; considered: Gateway[]; addTo: Gateway; port?: PinnedPort }
  | { kind: 'no-http-listener'; gateway: Gateway; route: Route | null }
  | { kind: 'unhealthy'; choice: GatewayChoice; pinned: PinnedPort | null }
  | {
      kind: 'ok';
      healthy: GatewayChoice[];
      candidates: ListenerCandidate[];
      filtered: boolean;
      /** --gateway NS/NAME:PORT: the listener port the proxy forwards to (candidates are on it). */
      pinned: PinnedPort | null;
      /** Listeners of the healthy Gateways that accept the host on other ports than the pinned one. */
      otherPorts: ListenerCandidate[];
    }
);

export type { Attachment } from './route-index.js';

export interface Orphan {
  route: Route;
  index: number;
  parent: ReturnType<typeof normalizeParentRef>;
}

export interface Chosen {
  cand: ListenerCandidate;
  attached: AttachedRoute[];
  sel: Selection;
}

export type RouteStage = {
  chosen: Chosen;
  attachments: Attachment[];
  routes: Route[];
  /** The routes whose hostnames accept the host (or that have none), oldest first. */
  forHost: Route[];
  gateways: Gateway[];
  nsObjs: Map<string, Namespace | undefined>;
  /** ListenerSets that take part in serving the host (read only when a candidate Gateway admits any): not checked. */
  listenerSets: ListenerSetUse[];
  /** Set when the chosen Gateway accepts the host on several ports: what each answers and which one is judged. */
  ports?: PortChoice;
  /**
   * Route kinds this attempt could not read and took as none (a 403 on the GRPCRoute or ListenerSet list: one could
   * take the request), from the snapshot's per-kind record: the route layer says what was not checked. A kind the
   * API server does not serve is not among them (no such object can exist).
   */
  unreadable: Unreadable[];
} & (
  | { kind: 'no-rule'; services: Service[] }
  | { kind: 'rejected'; attachment: Attachment; services: Service[] }
  | { kind: 'orphan'; orphans: Orphan[] }
  | { kind: 'dropped'; route: Route; drop: RouteDrop }
  | { kind: 'listener-set'; uses: ListenerSetUse[] }
  | { kind: 'no-route'; services: Service[] }
  | {
      kind: 'matched';
      attachment: Attachment;
      ruleIndex: number;
      refs: ResolvedBackendRef[];
      services: Service[];
      redirect: Redirect | null;
    }
);

export interface GrantStage {
  /** Cross-namespace refs that carry traffic (weight > 0), whose target exists. */
  refs: ResolvedBackendRef[];
  /**
   * The rule's RequestMirror Service refs and whether their Service exists. Istio drops a mirror it cannot resolve
   * (missing, not permitted) and still serves the rule (gateway/conversion.go: createMirrorFilter's error only goes
   * to status as mirrorBackendErr), so they never fail the request.
   */
  mirrors: { ref: ResolvedBackendRef; exists: boolean }[];
  /** What the route's other rules give Istio to report in the route-wide ResolvedRefs condition. */
  elsewhere: RefProblem[];
  /** Cross-namespace Service refs whose Service does not exist. */
  missing: ResolvedBackendRef[];
  /** Every Service of a missing ref's namespace (for closest names). */
  siblings: Map<string, Service[]>;
  /** Every Pod of a missing ref's namespace (the Pods a Service to create would select); null when unknown. */
  nsPods: Map<string, Pod[] | null>;
  grants: Map<string, ReferenceGrant[]>;
  /** Manifests only: grants in those namespaces that kubectl apply would not leave (unserved version, overwritten copy). */
  notApplied: Map<string, { object: ReferenceGrant; why: string }[]>;
  apiVersion: string;
}

export interface BackendInfo {
  ref: ResolvedBackendRef;
  service: Service | undefined;
  /** Every Service of the ref's namespace, read only when the Service is missing (for closest names). */
  siblings: Service[];
  /** The ReferenceGrants of the ref's namespace, read only when the Service is missing (to prefer granted names). */
  grants: ReferenceGrant[];
  slices: EndpointSlice[];
  pods: Pod[] | null;
  /**
   * Every Pod of the ref's namespace, read only when the Service is missing or its selector selects no Pod (what a
   * fix may complete the Service with); null when unknown (manifests without Pods, or no permission).
   */
  nsPods: Pod[] | null;
  /** The waypoint ingress traffic for this Service goes through, if any (ambient mode). */
  waypoint: WaypointInfo | null;
  /** A networking.istio.io/Hostname ref: the ServiceEntry it resolves to (service-entry.ts); null for other kinds. */
  hostname?: HostnameResolution | null;
}

export interface WaypointInfo {
  binding: WaypointBinding;
  /** Whether istiod binds the Service to it at all (waypoint.ts waypointBound). */
  bound: WaypointBound;
  gateway: Gateway | undefined;
  service: Service | undefined;
  slices: EndpointSlice[];
  /** null when readiness cannot be known (manifests without Pods). */
  pods: Pod[] | null;
}

export interface EndpointsStage {
  backends: BackendInfo[];
  /** A RequestMirror Service of the rule is missing (its BackendNotFound in status is the grant layer's warning). */
  mirrorMissing: boolean;
  /** What the route's other rules give Istio to report in the route-wide ResolvedRefs condition. */
  elsewhere: RefProblem[];
}

/** A backendRef Istio reports in ResolvedRefs (conversion.go buildDestination: permission first, then existence/kind). */
export interface RefProblem {
  reason: 'RefNotPermitted' | 'BackendNotFound' | 'InvalidKind';
  ref: ResolvedBackendRef;
}

/**
 * ResolvedRefs is one condition per route and parent, written from every rule (istio gateway/conversion.go
 * convertHTTPRoute joins the rules' errors): a RefNotPermitted/BackendNotFound/InvalidKind may come from a rule other
 * than the one serving this request. Those problems, so a judge does not call such status a disagreement.
 * Weight-0 refs are skipped as Istio skips them (buildHTTPDestination).
 */
function problemsInOtherRules(v: ClusterView, route: Route, ruleIndex: number): RefProblem[] {
  const routeNs = route.metadata.namespace ?? 'default';
  const rules = route.spec.rules ?? [];
  const out: RefProblem[] = [];
  for (let i = 0; i < rules.length; i++) {
    if (i === ruleIndex) continue;
    for (const ref of resolveBackendRefs(route, i)) {
      if (!ref.mirror && ref.weight === 0) continue;
      const svc = isService(ref);
      if (!svc && !ISTIO_BACKEND_KINDS.has(`${ref.group}/${ref.kind}`)) {
        out.push({ reason: 'InvalidKind', ref });
        continue;
      }
      if (ref.namespace !== routeNs && !v.referenceGrants(ref.namespace).some((g) => grantPermits(g, routeNs, ref))) {
        out.push({ reason: 'RefNotPermitted', ref });
        continue;
      }
      if (svc && v.service(ref.namespace, ref.name) === undefined) out.push({ reason: 'BackendNotFound', ref });
    }
  }
  return out;
}

/** Namespace objects of the routes' namespaces (for allowedRoutes Selectors), read once per route list and attempt. */
export function namespacesFor(
  v: ClusterView,
  snapshot: Snapshot,
  routes: Route[],
  gateways: Gateway[],
): Map<string, Namespace | undefined> {
  const needSelector = gateways.some((g) =>
    (g.spec.listeners ?? []).some((l) => l.allowedRoutes?.namespaces?.from === 'Selector'),
  );
  if (!needSelector) return new Map();
  return snapshot.namespaces(routes, (names) => allOf(names.map((n) => () => v.namespace(n))));
}

/** The Gateway's generated Service (label gateway.networking.k8s.io/gateway-name) and its endpoint count; null when unknown. */
function gatewayEndpoints(v: ClusterView, gw: Gateway): GatewayEndpoints | null {
  const ns = gw.metadata.namespace ?? 'default';
  let svc;
  try {
    svc = v.servicesByLabel(ns, { 'gateway.networking.k8s.io/gateway-name': gw.metadata.name })[0];
  } catch (err) {
    if (err instanceof ClusterAccessError && err.kind === 'forbidden') return null;
    throw err;
  }
  if (!svc) return null;
  try {
    // Manifests without any Pod (from git, or a dump of some kinds only) cannot say the Service has no endpoint.
    if (v.mode !== 'live' && svc.spec?.selector && v.pods(ns, svc.spec.selector) === null) return null;
    const slices = v.endpointSlices(ns, svc.metadata.name);
    return { service: svc.metadata.name, total: slices.reduce((n, sl) => n + (sl.endpoints ?? []).length, 0) };
  } catch (err) {
    // Reading them is an extra for a prediction: without the permission, the prediction is simply not made.
    if (err instanceof ClusterAccessError && err.kind === 'forbidden') return null;
    throw err;
  }
}

/** Is the Gateway's infrastructure.parametersRef a ConfigMap that exists? (read only when one is set) */
function parametersState(v: ClusterView, gw: Gateway): ParametersState {
  const pref = gw.spec.infrastructure?.parametersRef;
  if (!pref) return 'none';
  if ((pref.group ?? '') !== '' || pref.kind !== 'ConfigMap' || !pref.name) return 'unsupported';
  const cm = v.configMap(gw.metadata.namespace ?? 'default', pref.name);
  return cm === null ? 'unknown' : cm === undefined ? 'missing' : 'ok';
}

/** The lists every path starts from, read together. */
function lists(v: ClusterView) {
  const [[classes, gateways], [http, grpc]] = both(
    () => both(v.gatewayClasses, v.gateways),
    () => both(v.httpRoutes, v.grpcRoutes),
  );
  return [classes, gateways, http, grpc] as const;
}

/** Can any listener of the Gateway carry an HTTPRoute (HTTP/HTTPS protocol, allowedRoutes.kinds admitting it)? */
export function carriesHttpRoute(gw: Gateway): boolean {
  return (gw.spec.listeners ?? []).some((l) => isHttpListener(l) && kindAllowed(l));
}

export function resolveListener(
  v: ClusterView,
  snapshot: Snapshot,
  target: Target,
  filter: GatewayRef | null,
): ListenerStage {
  const host = target.host;
  // Lists first: the by-name reads below are the ones these lists point at.
  const [read, all, http, grpc] = lists(v);
  // Manifests lack the classes istiod creates itself (classes.ts); a live cluster has them whenever istiod runs.
  const classes = snapshot.classes(read);
  const { routes, index } = snapshot.routes(http, grpc);
  const hostRoutes = index.forHost(host);
  const namingRoute = (g: Gateway) =>
    hostRoutes.find((r) => (r.spec.parentRefs ?? []).some((p) => refersTo(p, r, g))) ?? null;
  // A Gateway with no listener that can carry an HTTPRoute (only TLS/TCP listeners, or kinds that leave HTTPRoute
  // out): a route naming it is Accepted=False/NotAllowedByListeners (istio conversion.go referenceAllowed checks
  // the listener's allowed kinds), never a hostname mismatch.
  const noHttp = (gws: Gateway[]): ListenerStage | null => {
    const g = gws.find(
      (x) => !MESH_CLASSES.has(x.spec.gatewayClassName) && !carriesHttpRoute(x) && (filter !== null || namingRoute(x)),
    );
    return g ? { classes, routes, kind: 'no-http-listener', gateway: g, route: namingRoute(g) } : null;
  };
  let gateways: Gateway[];
  if (filter) {
    gateways = all.filter(
      (g) => g.metadata.name === filter.name && (g.metadata.namespace ?? 'default') === filter.namespace,
    );
    if (gateways.length === 0) return { classes, routes, kind: 'filter-missing', filter, all };
    const nh = noHttp(gateways);
    if (nh) return nh;
  } else {
    gateways = all.filter(isIngressGateway);
    if (gateways.length === 0) {
      const nh = noHttp(all);
      if (nh) return nh;
      const parents = [
        ...new Set(
          hostRoutes.flatMap((r) =>
            (r.spec.parentRefs ?? []).map((p) => `${p.namespace ?? r.metadata.namespace}/${p.name}`),
          ),
        ),
      ];
      return { classes, routes, kind: 'no-http-gateway', all, parents };
    }
  }
  const namedByRoute = (g: Gateway) => namingRoute(g) !== null;
  // --gateway NS/NAME:PORT: only the listeners on that port (a nodePort is mapped to its Service port, ports.ts).
  const pinned = filter?.port !== undefined ? pinPort(v, gateways[0] as Gateway, filter.port) : null;
  const accepting = gateways.map((g) => ({ gw: g, listeners: acceptingListeners(g, host) }));
  let matching = accepting
    .map((x) => ({ gw: x.gw, listeners: x.listeners.filter((l) => !pinned || l.port === pinned.port) }))
    .filter((x) => x.listeners.length > 0);
  if (matching.length === 0) {
    if (!filter) {
      const nh = noHttp(all);
      if (nh) return nh;
    }
    // The listener to add goes to the Gateway that the routes for this host name as their parent, if any.
    return {
      classes,
      routes,
      kind: 'no-listener',
      considered: gateways,
      addTo: gateways.find(namedByRoute) ?? (gateways[0] as Gateway),
      ...(pinned ? { port: pinned } : {}),
    };
  }
  if (matching.length > 1 && !filter) {
    const named = matching.filter((m) => namedByRoute(m.gw));
    if (named.length > 0) matching = named;
  }
  // The gateway Service's endpoints matter for a prediction (no fresh status) and to check a fresh "no instances
  // found" (health.ts): read them only then. The parametersRef ConfigMap is one GET per Gateway, read either way.
  const choices = allOf(
    matching.map((m) => () => {
      const conds = controllerConditions(m.gw.status?.conditions);
      const fresh = freshness(conds, m.gw.metadata.generation) === 'fresh';
      const now = Date.now();
      // Read together: the gateway Service's endpoints (when needed), the certificates of the HTTPS listeners that
      // accept the host (the Secrets by name, certs.ts) and the parametersRef ConfigMap.
      const [e, [c, p]] = both(
        () => (!fresh || noInstances(conds) ? gatewayEndpoints(v, m.gw) : null),
        () =>
          both(
            () =>
              allOf(
                m.listeners
                  .filter(terminatesTls)
                  .map((l) => () => judgeListenerCerts(readListenerCerts(v, m.gw, l, now), host, now)),
              ),
            () => parametersState(v, m.gw),
          ),
      );
      return { ...m, health: gatewayHealth(m.gw, m.listeners, classes, e, p, c) };
    }),
  );
  const healthy = choices.filter((c) => c.health.ok);
  if (healthy.length === 0) return { classes, routes, kind: 'unhealthy', choice: choices[0] as GatewayChoice, pinned };
  const otherPorts = accepting
    .filter((x) => healthy.some((h) => h.gw === x.gw))
    .flatMap((x) =>
      x.listeners.filter((l) => pinned && l.port !== pinned.port).map((l) => ({ gateway: x.gw, listener: l })),
    );
  return {
    classes,
    routes,
    kind: 'ok',
    healthy,
    candidates: healthy.flatMap((h) => h.listeners.map((l) => ({ gateway: h.gw, listener: l }))),
    filtered: filter !== null,
    pinned,
    otherPorts,
  };
}

/** Does this parentRef select the listener (no sectionName/port, or ones that name it)? */
export function targetsListener(p: ParentReference, cand: ListenerCandidate): boolean {
  return (
    (p.sectionName === undefined || p.sectionName === cand.listener.name) &&
    (p.port === undefined || p.port === cand.listener.port)
  );
}

export function resolveRoute(
  v: ClusterView,
  snapshot: Snapshot,
  target: Target,
  ls: Extract<ListenerStage, { kind: 'ok' }>,
  seen: PortInUse | null = null,
): RouteStage {
  const { host, path, query } = target;
  const { routes, candidates } = ls;
  const gateways = v.gateways();
  const candGateways = [...new Set(candidates.map((c) => c.gateway))];
  const nsObjs = namespacesFor(v, snapshot, routes, candGateways);

  // Attachment of every parentRef that names a candidate Gateway, oldest route first: only the routes whose
  // hostnames accept the host matter for this target (indexes built once per attempt, route-index.ts).
  const index = snapshot.routeIndex(routes);
  const forHost = index.forHost(host);
  const rank = new Map(forHost.map((r, i) => [r, i]));
  const attachments: Attachment[] = candGateways
    .flatMap((gw) => index.attachmentsTo(gw, nsObjs, forHost))
    .sort((a, b) => (rank.get(a.route) as number) - (rank.get(b.route) as number) || a.parentIndex - b.parentIndex);

  if (mayUseRe2(attachments.map((a) => a.route))) v.load('re2', loadRe2);
  // Per candidate listener: the routes attached to it, and the rule that wins.
  const chosenFor = (cand: ListenerCandidate): Chosen => {
    const attached: AttachedRoute[] = [];
    for (const a of attachments) {
      if (a.gateway !== cand.gateway || !a.result.accepted) continue;
      const la = a.result.listeners.find((x) => x.listener === cand.listener && x.reason === 'Accepted');
      // A route Istio drops (routeDroppedBy) programs nothing: it never takes part in the selection.
      if (la && !routeDroppedBy(a.route)) attached.push({ route: a.route, hostnames: la.hostnames });
    }
    return { cand, attached, sel: selectRule(attached, { host, path, query, method: 'GET' }) };
  };
  let best: Chosen | undefined;
  for (const cand of candidates) {
    const c = chosenFor(cand);
    if (!best || (c.sel.winner && !best.sel.winner) || (c.sel.vhost && !best.sel.vhost)) best = c;
    if (c.sel.winner) break;
  }
  const first = best as Chosen;
  // ListenerSets are read only when a candidate Gateway admits any (allowedListeners; the default admits none).
  const listenerSets = listenerSetUses(
    candGateways.some(admitsListenerSets) ? v.listenerSets() : [],
    forHost,
    candGateways,
    host,
  );
  const ctx: StageContext = {
    target,
    attachments,
    routes,
    gateways,
    nsObjs,
    forHost,
    listenerSets,
    unreadable: v
      .unreadable()
      .filter(
        (u) =>
          (u.kind === 'GRPCRoute' || u.kind === 'ListenerSet') && u.outcome === 'none' && u.reason !== 'not-served',
      ),
  };
  const onGateway = [...candidates, ...ls.otherPorts].filter((c) => c.gateway === first.cand.gateway);
  if (onGateway.length < 2) return stageFor(v, first, ctx);

  // The Gateway accepts the host on several ports, and each port is served on its own (ports.ts): never pick one
  // silently. Every port's answer is resolved; when they differ, the port judged is the one the proxy forwards to
  // when known (--gateway NS/NAME:PORT), else one chosen by a stated rule (choosePort), and the judge says so.
  const chosens = onGateway
    .map((c) => (c === first.cand ? first : chosenFor(c)))
    .sort((a, b) => a.cand.listener.port - b.cand.listener.port);
  const stages = allOf(chosens.map((c) => () => (c === first ? null : stageFor(v, c, ctx))));
  const firstStage = stageFor(v, first, ctx);
  const each = stages.map((st) => st ?? firstStage);
  const answers = allOf(each.map((st) => () => answerOf(v, st)));
  const differ = new Set(answers.map((a) => a.answer)).size > 1;
  const inUse = seen && seen.gateway === nsName(first.cand.gateway) ? seen : null;
  const svc = differ && !ls.pinned && !inUse ? gatewayService(v, first.cand.gateway) : null;
  const pick = choosePort(
    chosens.map((c) => c.cand.listener),
    nodePortsOf(svc),
    svc ? nsName(svc) : null,
    ls.pinned,
    inUse,
  );
  const judged =
    differ && !ls.pinned ? (each.find((st) => st.chosen.cand.listener.port === pick.port) as RouteStage) : firstStage;
  return {
    ...judged,
    ports: { answers, differ, judged: judged.chosen.cand.listener.port, known: pick.known, why: pick.why },
  };
}

interface StageContext {
  target: Target;
  attachments: Attachment[];
  routes: Route[];
  gateways: Gateway[];
  nsObjs: Map<string, Namespace | undefined>;
  forHost: Route[];
  listenerSets: ListenerSetUse[];
  unreadable: RouteStage['unreadable'];
}

/** What the request gets on the chosen listener: the matched rule, or why nothing serves it. */
function stageFor(v: ClusterView, chosen: Chosen, ctx: StageContext): RouteStage {
  const { target, attachments, routes, gateways, nsObjs, forHost, listenerSets, unreadable } = ctx;
  const { host, path, query } = target;
  const base = { chosen, attachments, routes, forHost, gateways, nsObjs, listenerSets, unreadable };

  if (chosen.sel.winner) {
    const w = chosen.sel.winner;
    // The parentRef that attaches the route to this listener (a route may name several listeners of the Gateway).
    const onGw = attachments.filter(
      (a) => a.route === w.route && a.gateway === chosen.cand.gateway && a.result.accepted,
    );
    const attachment = (onGw.find((a) =>
      a.result.listeners.some((x) => x.listener === chosen.cand.listener && x.reason === 'Accepted'),
    ) ?? onGw[0]) as Attachment;
    // A redirect rule answers itself; its backendRefs carry no traffic (createRedirectFilter, see redirect.ts).
    // The Host the gateway sees is the client's, without a port (a reverse proxy forwards `Host: $host`).
    // GRPCRoute rules have no RequestRedirect filter (gateway-api GRPCRouteFilterType).
    const redirect = w.match
      ? predictRedirect(w.rule, w.match, {
          host,
          hostPort: null,
          path,
          query,
          listenerProtocol: chosen.cand.listener.protocol,
        })
      : null;
    const refs = redirect ? [] : resolveBackendRefs(w.route, w.ruleIndex);
    const carrying = refs.filter((x) => !x.mirror && x.weight > 0);
    return {
      ...base,
      kind: 'matched',
      attachment,
      ruleIndex: w.ruleIndex,
      refs,
      redirect,
      services: carrying.length === 0 && !redirect ? v.allServices() : [],
    };
  }
  if (chosen.sel.vhost !== null) return { ...base, kind: 'no-rule', services: v.allServices() };

  // An accepted route for the host that Istio drops as a whole.
  for (const a of attachments) {
    const drop = a.result.accepted && a.gateway === chosen.cand.gateway ? routeDroppedBy(a.route) : null;
    if (drop) return { ...base, kind: 'dropped', route: a.route, drop };
  }

  // Blame the route whose parentRef targets the listener that accepts the host (its sectionName/port point there,
  // or it names none); among those the oldest. A fix to this listener would not help a route that targets another.
  const rejected = attachments
    .filter((a) => !a.result.accepted && routeServesHost(a.route, host))
    .map((a, i) => ({ a, i, t: targetsListener(a.parentRef, chosen.cand) }))
    .sort((x, y) => Number(y.t) - Number(x.t) || x.i - y.i);
  if (rejected.length > 0)
    return { ...base, kind: 'rejected', attachment: (rejected[0] as (typeof rejected)[number]).a, services: [] };

  const orphans = forHost
    .filter((r) => (r.spec.hostnames ?? []).length > 0)
    .flatMap((r) =>
      (r.spec.parentRefs ?? [])
        .map((p, index) => ({ route: r, index, parent: normalizeParentRef(p, r.metadata.namespace ?? 'default') }))
        .filter(
          ({ parent }) =>
            parent.kind === 'Gateway' &&
            !gateways.some(
              (g) => g.metadata.name === parent.name && (g.metadata.namespace ?? 'default') === parent.namespace,
            ),
        ),
    )
    .sort((x, y) => compareRoutes(x.route, y.route));
  if (orphans.length > 0) return { ...base, kind: 'orphan', orphans };
  // Not "no route": the host may well be served through a ListenerSet, which is not checked.
  if (listenerSets.length > 0) return { ...base, kind: 'listener-set', uses: listenerSets };
  return { ...base, kind: 'no-route', services: v.allServices() };
}

/** One port's answer in one line: route rule -> backends (and whether they exist), a redirect, or the error. */
function answerOf(v: ClusterView, st: RouteStage): PortAnswer {
  const cand = st.chosen.cand;
  const rule = (r: Route, i: number) => `${describeObj(r)} rules[${i}]`;
  switch (st.kind) {
    case 'matched': {
      const w = st.chosen.sel.winner as NonNullable<Chosen['sel']['winner']>;
      if (st.redirect)
        return {
          cand,
          rule: { route: w.route, index: w.ruleIndex },
          backends: [],
          answer: `${rule(w.route, w.ruleIndex)} -> ${st.redirect.statusCode} redirect to ${st.redirect.location}`,
          failing: false,
        };
      const carrying = st.refs.filter((x) => !x.mirror && x.weight > 0);
      if (carrying.length === 0)
        return {
          cand,
          rule: { route: w.route, index: w.ruleIndex },
          backends: [],
          answer: `${rule(w.route, w.ruleIndex)} -> no backend (500)`,
          failing: true,
        };
      const parts = allOf(
        carrying.map((x) => () => {
          const name = `${x.kind} ${x.namespace}/${x.name}${x.port !== null ? `:${x.port}` : ''}`;
          if (!isService(x)) return { name, ok: true };
          const svc = v.service(x.namespace, x.name);
          const ok = svc !== undefined && (x.port === null || (svc.spec?.ports ?? []).some((p) => p.port === x.port));
          return {
            name: `${name}${svc === undefined ? ' (no such Service)' : ok ? '' : ' (the Service has no such port)'}`,
            ok,
          };
        }),
      );
      return {
        cand,
        rule: { route: w.route, index: w.ruleIndex },
        backends: carrying,
        answer: `${rule(w.route, w.ruleIndex)} -> ${parts.map((p) => p.name).join(', ')}`,
        failing: parts.some((p) => !p.ok),
      };
    }
    case 'no-rule':
      return {
        cand,
        rule: null,
        backends: [],
        answer: `no rule of ${st.chosen.sel.routes.map(describeObj).join(', ')} matches (404)`,
        failing: true,
      };
    case 'rejected':
      return {
        cand,
        rule: null,
        backends: [],
        answer: `${describeObj(st.attachment.route)} not accepted: ${st.attachment.result.reason} (404)`,
        failing: true,
      };
    case 'dropped':
      return {
        cand,
        rule: null,
        backends: [],
        answer: `${describeObj(st.route)} dropped by Istio (404)`,
        failing: true,
      };
    case 'orphan':
    case 'no-route':
      return {
        cand,
        rule: null,
        backends: [],
        answer: 'no HTTPRoute attached to this listener serves the host (404)',
        failing: true,
      };
    case 'listener-set':
      return { cand, rule: null, backends: [], answer: 'served through a ListenerSet (not checked)', failing: false };
  }
}

const isService = (r: ResolvedBackendRef) => r.group === '' && r.kind === 'Service';

function waypointInfo(v: ClusterView, svc: Service): WaypointInfo | null {
  const svcNs = svc.metadata.namespace ?? 'default';
  const ns = v.namespace(svcNs);
  const binding = waypointFor(svc, ns);
  if (!binding) return null;
  const gateway = v
    .gateways()
    .find((g) => g.metadata.name === binding.name && (g.metadata.namespace ?? 'default') === binding.namespace);
  const cls = gateway ? v.gatewayClasses().find((c) => c.metadata.name === gateway.spec.gatewayClassName) : undefined;
  const bound = waypointBound(binding, gateway, cls, svcNs, ns?.metadata.labels ?? {});
  if (!binding.ingress || !bound.bound) return { binding, bound, gateway, service: undefined, slices: [], pods: null };
  const service = v.service(binding.namespace, binding.name);
  const slices = service ? v.endpointSlices(binding.namespace, binding.name) : [];
  const pods = service?.spec?.selector ? v.pods(binding.namespace, service.spec.selector) : null;
  return { binding, bound, gateway, service, slices, pods };
}

export function resolveGrant(v: ClusterView, rs: Extract<RouteStage, { kind: 'matched' }>): GrantStage {
  const route = rs.attachment.route;
  const routeNs = route.metadata.namespace ?? 'default';
  // Istio never validates weight-0 backendRefs (gateway/conversion.go buildHTTPDestination skips them).
  const cross = rs.refs.filter((r) => r.namespace !== routeNs && r.weight > 0 && !r.mirror);
  // A grant for a Service that does not exist cannot make the request work: such refs are judged (with the closest
  // existing names) at the endpoints layer first.
  const exists = allOf(cross.map((r) => () => !isService(r) || v.service(r.namespace, r.name) !== undefined));
  const refs = cross.filter((_, i) => exists[i]);
  const missing = cross.filter((_, i) => !exists[i]);
  const mirrorRefs = rs.refs.filter((r) => r.mirror && isService(r));
  const mirrors = allOf(
    mirrorRefs.map((ref) => () => ({ ref, exists: v.service(ref.namespace, ref.name) !== undefined })),
  );
  const crossMirrors = mirrors.filter((m) => m.ref.namespace !== routeNs);
  const namespaces = [...new Set([...cross, ...crossMirrors.map((m) => m.ref)].map((r) => r.namespace))];
  const grants = new Map(allOf(namespaces.map((ns) => () => [ns, v.referenceGrants(ns)] as const)));
  const missingNs = [
    ...new Set([...missing, ...mirrors.filter((m) => !m.exists).map((m) => m.ref)].map((r) => r.namespace)),
  ];
  const siblings = new Map(allOf(missingNs.map((ns) => () => [ns, v.servicesByLabel(ns, {})] as const)));
  const nsPods = new Map(allOf(missingNs.map((ns) => () => [ns, podsOfNamespace(v, ns)] as const)));
  const apiVersion = refs.length > 0 || crossMirrors.some((m) => m.exists) ? v.referenceGrantApiVersion() : '';
  const elsewhere = problemsInOtherRules(v, route, rs.ruleIndex);
  const notApplied = new Map(
    namespaces.map(
      (ns) => [ns, (v.notApplied?.('ReferenceGrant', ns) ?? []) as { object: ReferenceGrant; why: string }[]] as const,
    ),
  );
  return { refs, missing, mirrors, siblings, nsPods, grants, notApplied, apiVersion, elsewhere };
}

/**
 * Every Pod of a namespace, for a fix that completes a Service around Pods that run (src/fix/workloads.ts): an extra,
 * so a read the reader cannot make (forbidden, unreachable) leaves it unknown (null) instead of failing the layer.
 */
function podsOfNamespace(v: ClusterView, ns: string): Pod[] | null {
  try {
    return v.pods(ns, {});
  } catch (err) {
    if (err instanceof ClusterAccessError) return null;
    throw err;
  }
}

export function resolveEndpoints(v: ClusterView, rs: Extract<RouteStage, { kind: 'matched' }>): EndpointsStage {
  const refs = rs.refs.filter((r) => r.weight > 0 && !r.mirror);
  const backends = allOf(
    refs.map((ref) => (): BackendInfo => {
      if (isHostnameRef(ref))
        return {
          ref,
          service: undefined,
          siblings: [],
          grants: [],
          slices: [],
          pods: [],
          nsPods: null,
          waypoint: null,
          hostname: resolveHostname(
            v,
            ref,
            rs.attachment.route.metadata.namespace ?? 'default',
            rs.chosen.cand.gateway.metadata.namespace ?? 'default',
          ),
        };
      if (!isService(ref))
        return {
          ref,
          service: undefined,
          siblings: [],
          grants: [],
          slices: [],
          pods: [],
          nsPods: null,
          waypoint: null,
        };
      const service = v.service(ref.namespace, ref.name);
      if (!service) {
        const cross = ref.namespace !== (rs.attachment.route.metadata.namespace ?? 'default');
        const [[siblings, grants], nsPods] = both(
          () =>
            both(
              () => v.servicesByLabel(ref.namespace, {}),
              () => (cross ? v.referenceGrants(ref.namespace) : []),
            ),
          () => podsOfNamespace(v, ref.namespace),
        );
        return { ref, service, siblings, grants, slices: [], pods: [], nsPods, waypoint: null };
      }
      const selector = service.spec?.selector;
      const [slices, pods] = both(
        () => v.endpointSlices(ref.namespace, ref.name),
        () => (selector ? v.pods(ref.namespace, selector) : ([] as Pod[])),
      );
      const nsPods = selector && pods !== null && pods.length === 0 ? podsOfNamespace(v, ref.namespace) : null;
      return {
        ref,
        service,
        siblings: [],
        grants: [],
        slices,
        pods,
        nsPods,
        waypoint: waypointInfo(v, service),
      };
    }),
  );
  const mirrors = rs.refs.filter((r) => r.mirror && isService(r));
  const mirrorMissing = allOf(mirrors.map((r) => () => v.service(r.namespace, r.name) === undefined)).some(Boolean);
  const elsewhere = problemsInOtherRules(v, rs.attachment.route, rs.ruleIndex);
  return { backends, mirrorMissing, elsewhere };
}
