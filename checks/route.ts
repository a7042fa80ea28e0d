// Layer 4: an HTTPRoute for the host is attached to the listener, Accepted, and one of its rules matches the path.

import type { Gateway, HTTPRoute, Namespace, Route, Service } from '../src/cluster/objects.js';
import { describe, isGrpcRoute, nsName } from '../src/cluster/objects.js';
import { about, emit, pass, type Draft } from '../src/findings.js';
import { applyFix, command, GW_API, jsonPatch, manual, ptr, refOf, uniqueName } from '../src/fix/build.js';
import { listenerPortSuffix } from '../src/gatewayapi/ports.js';
import { describeCandidate, serviceCandidates, type ServiceCandidate } from '../src/fix/candidates.js';
import type { Fix, JsonPatchOp } from '../src/fix/fix.js';
import { namespaceAllowed, routeServesHost, type ListenerSetUse } from '../src/gatewayapi/attachment.js';
import { describeEntryMatch, type Entry } from '../src/gatewayapi/matching.js';
import { ISTIO_FILTERS, routeDroppedBy } from '../src/gatewayapi/grants.js';
import type { Attachment, Orphan, RouteStage } from '../src/gatewayapi/path.js';
import {
  condition,
  controllerConditions,
  describeCondition,
  freshness,
  normalizeParentRef,
  routeParentStatus,
} from '../src/gatewayapi/status.js';
import { layerMeta } from '../src/registry.js';
import { clusterLayer, type JudgeInput } from '../src/layer.js';
import type { Evidence, Facts, ListenerCandidate, ProxyAnswer, UnreadFact } from '../src/types.js';
import type { Unreadable } from '../src/cluster/snapshot.js';
import type { Redirect } from '../src/gatewayapi/redirect.js';
import { sameUrl } from '../src/net/classify.js';

/** Istio "general" route errors drop the whole route (istio gateway/route_collections.go computeRoute). */
const ROUTE_DROPPING = new Set(['InvalidDestination', 'InvalidFilter', 'InvalidConfiguration']);

function gatewayHasFreshStatus(gw: Gateway): boolean {
  const conds = controllerConditions(gw.status?.conditions);
  return freshness(conds, gw.metadata.generation) === 'fresh';
}

export function judgeRoute(this: { id: 'route'; title: string }, s: RouteStage, input: JudgeInput): Draft {
  return withUnreadable(this, s, withPorts(this, s, judgeListenerRoutes.call(this, s, input), input.target.host));
}

/**
 * GRPCRoutes or ListenerSets that could not be read (a 403 on their LIST; src/cluster/live.ts) were taken as none.
 * A GRPCRoute shares the listener's route list with the HTTPRoutes (Istio merges them), so one could take this
 * request: a pass becomes the kind's not-checked warning, any other verdict carries the note.
 */
function withUnreadable(check: { id: 'route'; title: string }, s: RouteStage, d: Draft): Draft {
  if (s.unreadable.length === 0) return d;
  const evidence: Evidence[] = [
    ...d.evidence,
    ...s.unreadable.map((u) => ({ ref: `${u.kind}s`, detail: `not read: ${describeUnread(u)}; taken as none` })),
  ];
  const facts = { ...d.facts, unread: s.unreadable.map(unreadFact) };
  const note = `; ${s.unreadable.map((u) => `${u.kind}s could not be read (${u.reason})`).join(' and ')}, so ${s.unreadable.some((u) => u.kind === 'GRPCRoute') ? 'a GRPCRoute for this host, which would share the route list, was' : 'a ListenerSet for this host was'} not checked`;
  const fix = manual(
    `let gwdoctor's user list ${s.unreadable.map((u) => `${u.kind.toLowerCase()}s.gateway.networking.k8s.io`).join(' and ')} (deploy/rbac.yaml grants them), or confirm by hand: kubectl get ${s.unreadable.map((u) => `${u.kind.toLowerCase()}s`).join(',')} -A`,
  );
  if (d.status !== 'pass') return { ...d, summary: `${d.summary}${note}`, evidence, facts };
  const code = s.unreadable.some((u) => u.kind === 'GRPCRoute') ? 'GRPCRouteNotChecked' : 'ListenerSetNotChecked';
  return emit(check, code, `${d.summary}${note}`, { evidence, fix, facts });
}

/** The typed record as the report carries it (the API server's own words stay in the evidence). */
function unreadFact({ message: _, ...fact }: Unreadable): UnreadFact {
  return fact;
}

/** A read that failed, in words, from its typed record: what was asked, why it failed, what the API server said. */
function describeUnread(u: Unreadable): string {
  const where = u.namespace === undefined ? 'at the cluster scope' : `in namespace ${u.namespace}`;
  const why =
    u.reason === 'forbidden'
      ? 'forbidden'
      : u.reason === 'not-served'
        ? 'not served by the API server'
        : `error${u.status !== undefined ? ` (HTTP ${u.status})` : ''}`;
  return `${why}: cannot ${u.verb} ${u.resource} ${where}${u.message ? ` (${u.message})` : ''}`;
}

/**
 * The Gateway accepts the host on several ports that answer differently (src/gatewayapi/ports.ts): every port's
 * answer is evidence; when the port the proxy forwards to is not known, the judged port and why are said, and a
 * verdict that would pass is a ListenerPortsDiffer warning (a fail stays a fail, with the other ports' answers).
 */
function withPorts(check: { id: 'route'; title: string }, s: RouteStage, d: Draft, host: string): Draft {
  const pc = s.ports;
  if (!pc?.differ) return d;
  const gw = s.chosen.cand.gateway;
  const evidence: Evidence[] = [
    ...d.evidence,
    ...pc.answers.map((a) =>
      about(
        a.cand.gateway,
        `${a.cand.listener.port === pc.judged ? 'judged' : 'not judged'}: ${a.answer}`,
        listenerPortSuffix(a.cand),
      ),
    ),
    { ref: 'gwdoctor', detail: `judged port ${pc.judged}: ${pc.why}` },
  ];
  if (pc.known) return { ...d, evidence };
  const others = pc.answers.filter((a) => a.cand.listener.port !== pc.judged);
  const note = `; ${describe(gw)} answers ${host} differently on port ${others.map((a) => a.cand.listener.port).join(', ')} (${others.map((a) => a.answer).join('; ')}): judged port ${pc.judged}, ${pc.why}`;
  const fix = manual(
    `rerun with --gateway ${nsName(gw)}:PORT, PORT being the port your proxy forwards to (${pc.answers.map((a) => a.cand.listener.port).join(' or ')}, or its nodePort), so gwdoctor judges what your clients get`,
  );
  if (d.status === 'pass') return emit(check, 'ListenerPortsDiffer', `${d.summary}${note}`, { evidence, fix });
  return { ...d, summary: `${d.summary}${note}`, evidence };
}

function judgeListenerRoutes(this: { id: 'route'; title: string }, s: RouteStage, input: JudgeInput): Draft {
  const { host, path, query } = input.target;
  const { chosen, attachments, routes, nsObjs } = s;
  const listenerDesc = `${nsName(chosen.cand.gateway)} listener "${chosen.cand.listener.name}"`;
  switch (s.kind) {
    case 'no-rule': {
      // Routes for the host exist on the listener but no rule matches the path.
      const evidence: Evidence[] = chosen.sel.entries.map((e) =>
        about(
          e.route,
          `${describeEntryMatch(e)} does not match GET ${path}${query ? `?${query}` : ''}${e.headers ? ' (gwdoctor sends no custom headers)' : ''}`,
          ` rules[${e.ruleIndex}]`,
        ),
      );
      evidence.push(...unreachableEvidence(chosen.sel.unreachable));
      for (const sh of chosen.sel.shadowed) {
        evidence.push(
          about(
            sh,
            `not consulted: its hostnames are less specific than "${chosen.sel.vhost}" (Envoy picks one virtual host; no fall-through)`,
          ),
        );
      }
      evidence.push(...droppedEvidence(s));
      evidence.push(...listenerSetEvidence(s.listenerSets));
      // The rule to add goes to an HTTPRoute (a GRPCRoute matches gRPC methods, not paths).
      const r0 = chosen.sel.routes.find((r): r is HTTPRoute => !isGrpcRoute(r));
      return emit(
        this,
        'RouteNoMatchingRule',
        `no rule of ${chosen.sel.routes.map(describe).join(', ')} matches the path ${path} (Envoy answers 404)`,
        {
          evidence,
          fix: r0
            ? noMatchingRuleFix(r0, path, s.services, host)
            : manual(
                `add an HTTPRoute for ${host} with a rule matching PathPrefix ${path} on listener "${chosen.cand.listener.name}" of ${describe(chosen.cand.gateway)}: only GRPCRoutes serve the host there, and they match gRPC methods (paths /service/method)`,
              ),
        },
      );
    }
    case 'rejected': {
      // A route for the host names a candidate Gateway but is not accepted.
      const a = s.attachment;
      const evidence: Evidence[] = a.result.listeners.map((l) =>
        about(a.gateway, `${l.reason}: ${l.message}`, ` listener "${l.listener.name}"`),
      );
      const st = routeParentStatus(a.route, a.parentRef);
      if (st)
        for (const c of controllerConditions(st.conditions))
          evidence.push(about(a.route, describeCondition(c), ` status`));
      evidence.push(...listenerSetEvidence(s.listenerSets));
      // Status that contradicts the prediction is said, with which side gwdoctor trusts and why (as at every layer).
      const saysAccepted =
        st &&
        condition(controllerConditions(st.conditions), 'Accepted')?.status === 'True' &&
        freshness(controllerConditions(st.conditions), a.route.metadata.generation) === 'fresh';
      if (saysAccepted) {
        evidence.push(
          about(
            a.route,
            `disagrees: the controller reports Accepted=True for this generation, the spec says ${a.result.reason}; gwdoctor trusts the spec as it is now (the status may predate a change to the Gateway's listeners or the namespace labels); rerun with --wait to see whether the controller catches up`,
            ` status`,
          ),
        );
      }
      return emit(
        this,
        'RouteNotAccepted',
        `${describe(a.route)} is not accepted by ${describe(a.gateway)}: ${a.result.reason} (${a.result.message})${saysAccepted ? ' (its status still says Accepted=True)' : ''}`,
        {
          evidence,
          fix: notAcceptedFix(a, chosen.cand, nsObjs.get(a.route.metadata.namespace ?? 'default')),
        },
      );
    }
    case 'orphan': {
      // Routes for the host whose parentRef names a Gateway that does not exist.
      const o = s.orphans[0] as Orphan;
      const gw = chosen.cand.gateway;
      return emit(
        this,
        'RouteParentNotFound',
        `${describe(o.route)} names parent Gateway ${o.parent.namespace}/${o.parent.name}, which does not exist${o.route.spec.parentRefs?.some((p) => p.namespace === undefined) ? " (parentRef.namespace defaults to the route's own namespace)" : ''}`,
        {
          evidence: [
            ...s.orphans.map(({ route: r, parent: p }) =>
              about(r, `parentRef -> Gateway ${p.namespace}/${p.name}: not found`),
            ),
            ...listenerSetEvidence(s.listenerSets),
          ],
          fix: jsonPatch(
            o.route,
            [
              { op: 'test', path: ptr('spec', 'parentRefs', o.index, 'name'), value: o.parent.name },
              { op: 'replace', path: ptr('spec', 'parentRefs', o.index, 'name'), value: gw.metadata.name },
              {
                op: 'add',
                path: ptr('spec', 'parentRefs', o.index, 'namespace'),
                value: gw.metadata.namespace ?? 'default',
              },
            ],
            `points parentRefs[${o.index}] of ${describe(o.route)} at ${describe(gw)}, which accepts ${host}; its other parentRefs stay as they are`,
          ),
        },
      );
    }
    case 'no-route': {
      // Nothing serves the host on this listener (the evidence names the Gateway, so SARIF and annotations point at it).
      const evidence: Evidence[] = [
        about(
          chosen.cand.gateway,
          `accepts ${host}; no HTTPRoute attached to it serves the host`,
          ` listener "${chosen.cand.listener.name}"`,
        ),
      ];
      for (const a of attachments) {
        if (!routeServesHost(a.route, host)) continue;
        for (const l of a.result.listeners.filter(
          (x) => x.reason === 'Accepted' && x.listener !== chosen.cand.listener,
        )) {
          evidence.push(
            about(
              a.route,
              l.listener.port === chosen.cand.listener.port
                ? `attached to listener "${l.listener.name}", but ${host} is handled by the more specific listener "${chosen.cand.listener.name}" (listener isolation)`
                : `attached to listener "${l.listener.name}" on port ${l.listener.port}, not to port ${chosen.cand.listener.port} (each port is served on its own)`,
            ),
          );
        }
      }
      for (const r of s.forHost) {
        if (attachments.some((a) => a.route === r)) continue;
        const parents = (r.spec.parentRefs ?? []).map((p) => normalizeParentRef(p, r.metadata.namespace ?? 'default'));
        evidence.push(
          about(
            r,
            `serves ${host} but is attached to ${parents.map((p) => `${p.kind} ${p.namespace}/${p.name}`).join(', ') || 'no parent'}`,
          ),
        );
      }
      evidence.push(grpcReadEvidence(s, host));
      return emit(
        this,
        'NoRouteForHost',
        `no HTTPRoute attached to ${listenerDesc} serves ${host} (Envoy answers 404)`,
        {
          evidence,
          fix: newRouteFix(
            chosen.cand,
            host,
            routes.filter((r): r is HTTPRoute => !isGrpcRoute(r)),
            s.services,
            nsObjs,
          ),
        },
      );
    }
    case 'dropped': {
      // Istio drops the whole route (routeDroppedBy cites the source): a Service backendRef named by its hostname, or
      // a filter type it does not implement.
      const { route: r, drop } = s;
      const evidence: Evidence[] = [about(r, drop.message, ` ${drop.where}`)];
      for (const a of attachments.filter((x) => x.route === r && x.gateway === chosen.cand.gateway)) {
        const st = routeParentStatus(r, a.parentRef);
        if (st)
          for (const c of controllerConditions(st.conditions)) evidence.push(about(r, describeCondition(c), ` status`));
      }
      if (drop.reason === 'InvalidFilter') {
        const kinds = ISTIO_FILTERS[isGrpcRoute(r) ? 'GRPCRoute' : 'HTTPRoute'];
        const place = drop.pointer.includes('backendRefs') ? 'backendRef' : 'rule';
        const supported = [...kinds[place]].join(', ');
        return emit(
          this,
          'RouteNotAccepted',
          `Istio drops ${describe(r)}: ${drop.where} has filter type ${JSON.stringify(drop.type)}, which Istio does not implement (ResolvedRefs=False/InvalidFilter "${drop.message}"); none of its rules is programmed and ${host} gets 404`,
          {
            evidence,
            fix: manual(
              `Istio implements only ${supported} as ${r.kind} ${place} filters: remove the ${JSON.stringify(drop.type)} filter at ${drop.where} of ${describe(r)}, or do what it was meant to do with an Istio resource (an AuthorizationPolicy, a WasmPlugin or an EnvoyFilter on the gateway). Removing it drops whatever the filter was meant to enforce, so decide which before you change the route`,
            ),
          },
        );
      }
      const ref = drop.ref;
      const [svc, ns] = ref.name.split('.');
      const ops: JsonPatchOp[] = [
        { op: 'test', path: ptr(...ref.pointer, 'name'), value: ref.name },
        { op: 'replace', path: ptr(...ref.pointer, 'name'), value: svc as string },
      ];
      if (ns && ns !== 'svc') ops.push({ op: 'add', path: ptr(...ref.pointer, 'namespace'), value: ns });
      return emit(
        this,
        'RouteNotAccepted',
        `Istio drops ${describe(r)}: ${ref.where} names the Service by its hostname "${ref.name}" (ResolvedRefs=False/InvalidDestination); none of its rules is programmed and ${host} gets 404`,
        {
          evidence,
          fix: jsonPatch(
            r,
            ops,
            `names the Service ${svc}${ns && ns !== 'svc' ? ` in namespace ${ns}` : ''} instead of its hostname in ${ref.where} of ${describe(r)}`,
          ),
        },
      );
    }
    case 'listener-set': {
      // Nothing on the Gateway's own listeners serves the host, but something about it goes through a ListenerSet,
      // which gwdoctor does not model: never "no route" for a route that exists, never a silent pass.
      return emit(
        this,
        'RouteParentNotChecked',
        `${listenerSetSummary(s.uses)}: parent kind ListenerSet not checked (gwdoctor models only routes attached to a Gateway's own listeners)`,
        {
          evidence: [
            about(
              chosen.cand.gateway,
              `accepts ${host}; no route attached to it serves the host`,
              ` listener "${chosen.cand.listener.name}"`,
            ),
            ...listenerSetEvidence(s.uses),
          ],
          fix: command(
            ['kubectl', 'get', 'listenersets.gateway.networking.k8s.io', '-A', '-o', 'wide'],
            `check the ListenerSet's status (Accepted, Programmed, attachedRoutes) and the route's status.parents for it: gwdoctor does not check routes attached through a ListenerSet`,
          ),
        },
      );
    }
    case 'matched':
      return judgeMatched.call(this, s, input, listenerDesc);
  }
}

function listenerSetSummary(uses: ListenerSetUse[]): string {
  const u = uses[0] as ListenerSetUse;
  return u.kind === 'route-parent'
    ? `${describe(u.route)} attaches to ListenerSet ${u.parent.namespace}/${u.parent.name}`
    : `ListenerSet ${nsName(u.listenerSet)} adds listener "${u.listener}" (${u.hostname ?? '*'}:${u.port ?? '?'}) to ${describe(u.gateway)}`;
}

function listenerSetEvidence(uses: ListenerSetUse[]): Evidence[] {
  return uses.map((u) =>
    u.kind === 'route-parent'
      ? about(
          u.route,
          `parentRefs[${u.index}] -> ListenerSet ${u.parent.namespace}/${u.parent.name}${u.parent.sectionName ? ` sectionName ${u.parent.sectionName}` : ''}: parent kind ListenerSet not checked`,
        )
      : about(
          u.listenerSet,
          `listener "${u.listener}" (${u.hostname ?? '*'}:${u.port ?? '?'}) on ${describe(u.gateway)} accepts the host: ListenerSet listeners are not checked (one may be the more specific listener for the host)`,
        ),
  );
}

/** Entries Envoy never sees because they sort after a catch-all (Istio stops translating there). */
function unreachableEvidence(entries: Entry[]): Evidence[] {
  return entries.map((e) =>
    about(
      e.route,
      `${describeEntryMatch(e)}: never reached (Istio orders it after a catch-all PathPrefix "/" of the same virtual host and programs nothing after that)`,
      ` rules[${e.ruleIndex}]`,
    ),
  );
}

/** Say that GRPCRoutes were read: they share the virtual host with HTTPRoutes and take part in precedence. */
function grpcReadEvidence(s: Pick<RouteStage, 'routes' | 'forHost'>, host: string): Evidence {
  const grpc = s.routes.filter(isGrpcRoute);
  const forHost = s.forHost.filter(isGrpcRoute);
  return {
    ref: 'GRPCRoutes',
    detail:
      grpc.length === 0
        ? "none in the cluster (read with the HTTPRoutes: both kinds share a listener's virtual hosts)"
        : `${grpc.length} read, ${forHost.length} for ${host}${forHost.length ? `: ${forHost.map(describe).join(', ')}` : ''}; none attached to this listener serves the path`,
  };
}

/** Routes for the host on the chosen listener's Gateway that Istio drops as a whole: they take no part in the selection. */
function droppedEvidence(s: RouteStage): Evidence[] {
  const out: Evidence[] = [];
  const seen = new Set<Route>();
  for (const a of s.attachments) {
    if (!a.result.accepted || a.gateway !== s.chosen.cand.gateway || seen.has(a.route)) continue;
    seen.add(a.route);
    const drop = routeDroppedBy(a.route);
    if (drop)
      out.push(
        about(
          a.route,
          `${drop.message}: Istio drops this ${a.route.kind} (ResolvedRefs=False/${drop.reason}), so none of its rules serves the host`,
          ` ${drop.where}`,
        ),
      );
  }
  return out;
}

/** kubectl resource name of a route kind. */
const resourceOf = (r: Route) =>
  isGrpcRoute(r) ? 'grpcroutes.gateway.networking.k8s.io' : 'httproutes.gateway.networking.k8s.io';

/** A rule matches: what does the controller say about this route on this parent, and does the rule forward? */
function judgeMatched(
  this: { id: 'route'; title: string },
  s: Extract<RouteStage, { kind: 'matched' }>,
  input: JudgeInput,
  listenerDesc: string,
): Draft {
  const check = this;
  const { host, path } = input.target;
  const { chosen } = s;
  const w = chosen.sel.winner as NonNullable<typeof chosen.sel.winner>;
  const r = w.route;
  const att = s.attachment;
  const matchDesc = `${describe(r)} rules[${w.ruleIndex}] (${describeEntryMatch(w)})`;
  const evidence: Evidence[] = [
    about(r, `attached to ${listenerDesc}; virtual host "${chosen.sel.vhost}"; rule match ${describeEntryMatch(w)}`),
  ];
  if (isGrpcRoute(r)) {
    evidence.push(
      about(
        r,
        `a GRPCRoute serves GET ${path}: Istio merges GRPCRoutes and HTTPRoutes of a listener and hostname into one route list and matches gRPC by path only (no POST or content-type condition), so this request goes to its gRPC backend${w.grpc === null ? ' (a rule without matches takes every path no HTTPRoute rule takes)' : ''}`,
      ),
    );
  }
  for (const sh of chosen.sel.shadowed)
    evidence.push(about(sh, `shadowed: Envoy uses the more specific virtual host "${chosen.sel.vhost}"`));
  const sameUri = (e: Entry) => e.uri?.type === w.uri?.type && e.uri?.value === w.uri?.value && e.noMatch === w.noMatch;
  const earlier = chosen.sel.entries.filter((e) => e.route !== r && e.order < w.order && sameUri(e));
  for (const e of earlier)
    evidence.push(about(e.route, `also matches; ${describe(r)} wins (older, then namespace/name)`));
  // Entries of the other kind on this virtual host that the winner outranks (the precedence across kinds).
  for (const e of chosen.sel.entries) {
    if (e.route === r || isGrpcRoute(e.route) === isGrpcRoute(r) || e.order === w.order) continue;
    if (chosen.sel.entries.indexOf(e) > chosen.sel.entries.indexOf(w))
      evidence.push(
        about(
          e.route,
          `${describeEntryMatch(e)}: same virtual host, ranks after ${describe(r)} rules[${w.ruleIndex}]`,
          ` rules[${e.ruleIndex}]`,
        ),
      );
  }
  evidence.push(...unreachableEvidence(chosen.sel.unreachable));
  if (!chosen.sel.routes.some(isGrpcRoute)) evidence.push(grpcReadEvidence(s, host));
  evidence.push(...listenerSetEvidence(s.listenerSets));

  const weighted = s.refs.filter((x) => !x.mirror);
  let disagrees: string | null = null;
  if (s.redirect) {
    const rd = s.redirect;
    const seen = compareRedirect(rd, input.probes.answers ?? []);
    disagrees = seen.disagrees;
    evidence.push(...seen.evidence);
    evidence.push(
      about(
        r,
        `RequestRedirect: Envoy answers ${rd.statusCode} with Location: ${rd.location}${rd.schemeFromRequest ? ` (no scheme set: the scheme is the request's as the gateway sees it, ${rd.scheme} on listener "${chosen.cand.listener.name}"; behind a TLS-terminating proxy set scheme: https to keep clients on HTTPS)` : ''}`,
        ` rules[${w.ruleIndex}].${rd.where}`,
      ),
    );
  } else if (weighted.length === 0 || weighted.every((x) => x.weight === 0)) {
    return emit(
      this,
      'RouteNoBackends',
      `${matchDesc} has ${weighted.length === 0 ? 'no backendRefs' : 'only weight-0 backendRefs'}: the gateway answers 500`,
      {
        evidence,
        fix: noBackendsFix(r, w.ruleIndex, host, s.services),
      },
    );
  }

  const st = routeParentStatus(r, att.parentRef);
  const conds = controllerConditions(st?.conditions);
  const fr = freshness(conds, r.metadata.generation);
  if (!st || fr === 'none') {
    if (gatewayHasFreshStatus(chosen.cand.gateway)) {
      return emit(
        this,
        'RouteStatusMissing',
        `${describe(r)} should attach to ${describe(chosen.cand.gateway)}, but the controller wrote no status for it`,
        {
          evidence,
          fix: command(
            ['kubectl', '-n', r.metadata.namespace ?? 'default', 'get', resourceOf(r), r.metadata.name, '-o', 'yaml'],
            'the controller is active (the Gateway has fresh status) but has not processed this route: check istiod logs, or wait and rerun with --wait',
          ),
        },
      );
    }
    evidence.push(about(r, 'no controller status: attachment predicted from the spec'));
    const assumed = att.result.listeners.find(
      (x) => x.listener === chosen.cand.listener && x.reason === 'Accepted',
    )?.assumed;
    if (assumed) {
      const ns = r.metadata.namespace ?? 'default';
      return emit(
        this,
        'NamespaceLabelsUnknown',
        `${matchDesc} ${served(s, host, path)} only if Namespace ${ns} has the labels listener "${chosen.cand.listener.name}" selects; its labels were not read, so the attachment is unknown`,
        {
          evidence: [...evidence, { ref: `Namespace ${ns}`, detail: assumed }],
          fix: manual(
            `include the Namespace ${ns} manifest with the others (kubectl get namespace ${ns} -o yaml), or run gwdoctor against the cluster, so its labels can be checked against the listener's allowedRoutes selector`,
          ),
        },
      );
    }
    if (s.listenerSets.length > 0)
      return listenerSetWarning.call(this, s, `${matchDesc} ${served(s, host, path)} (predicted from spec)`, evidence);
    return passOr(`${matchDesc} ${served(s, host, path)} (predicted from spec)`);
  }
  for (const c of conds)
    evidence.push(about(r, `${describeCondition(c)} (observedGeneration ${c.observedGeneration ?? '?'})`, ` status`));
  if (fr === 'stale') {
    return emit(
      this,
      'RouteStatusStale',
      `${matchDesc} ${served(s, host, path)} by its spec, but its status is older than generation ${r.metadata.generation}: the controller has not caught up`,
      {
        evidence,
      },
    );
  }
  const accepted = condition(conds, 'Accepted');
  const resolved = condition(conds, 'ResolvedRefs');
  if (resolved?.status === 'False' && ROUTE_DROPPING.has(resolved.reason ?? '')) {
    return emit(
      this,
      'RouteNotAccepted',
      `Istio dropped ${describe(r)}: ${resolved.reason} (${resolved.message ?? ''}); requests get 404`,
      {
        evidence,
        fix: command(
          ['kubectl', '-n', r.metadata.namespace ?? 'default', 'get', resourceOf(r), r.metadata.name, '-o', 'yaml'],
          'fix the rule the ResolvedRefs message names (e.g. use the Service name, not its hostname)',
        ),
      },
    );
  }
  if (accepted && accepted.status !== 'True') {
    return emit(
      this,
      'StatusDisagrees',
      `${describe(r)}: the controller reports ${describeCondition(accepted)}, but the spec says it attaches to ${listenerDesc}; trusting the spec`,
      {
        evidence,
      },
    );
  }
  if (s.listenerSets.length > 0)
    return listenerSetWarning.call(this, s, `${matchDesc} ${served(s, host, path)}`, evidence);
  return passOr(`${matchDesc} ${served(s, host, path)}`);

  /** A pass, unless the proxy's live answer contradicts the predicted redirect. */
  function passOr(this: void, summary: string): Draft {
    if (!disagrees) return pass(check, summary, { evidence });
    return emit(check, 'RedirectDisagrees', `${summary}; but ${disagrees}`, { evidence });
  }
}

/**
 * The redirect a rule predicts against what the proxy actually answered (the proxy probe follows no redirect).
 * Envoy sends a route's redirect itself, with no x-envoy-upstream-service-time (that header means the backend
 * answered). Errors (4xx/5xx) are left to the layers they point at; any other answer must be the predicted status
 * code with the predicted Location (resolved against the URL asked, default ports folded).
 */
export function compareRedirect(
  rd: Redirect,
  answers: ProxyAnswer[],
): { evidence: Evidence[]; disagrees: string | null } {
  const evidence: Evidence[] = [];
  const bad: string[] = [];
  for (const a of answers.filter((x) => x.statusCode < 400)) {
    let loc: URL | null = null;
    try {
      loc = a.location === null ? null : new URL(a.location, a.url);
    } catch {
      loc = null; // an unparsable Location is reported as it was sent
    }
    const sameLoc = loc !== null && sameUrl(loc, new URL(rd.location));
    const got = `${a.statusCode}${a.location !== null ? ` Location: ${a.location}` : ' without Location'}${a.fromUpstream ? ' from the backend (x-envoy-upstream-service-time)' : ''}`;
    if (a.statusCode === rd.statusCode && sameLoc && !a.fromUpstream) {
      evidence.push({ ref: a.ref, detail: `answered ${got}, as the rule predicts` });
      continue;
    }
    evidence.push({
      ref: a.ref,
      detail: `answered ${got}; the rule predicts ${rd.statusCode} Location: ${rd.location}`,
    });
    bad.push(`the proxy answered ${got} where the rule predicts ${rd.statusCode} Location: ${rd.location}`);
  }
  return { evidence, disagrees: bad[0] ?? null };
}

/** A rule on the Gateway's own listener serves the host, but a ListenerSet is in the picture: say it was not checked. */
function listenerSetWarning(
  this: { id: 'route'; title: string },
  s: Extract<RouteStage, { kind: 'matched' }>,
  summary: string,
  evidence: Evidence[],
): Draft {
  return emit(
    this,
    'ListenerSetNotChecked',
    `${summary}; but ${listenerSetSummary(s.listenerSets)}: parent kind ListenerSet not checked`,
    { evidence },
  );
}

function served(s: Extract<RouteStage, { kind: 'matched' }>, host: string, path: string): string {
  return s.redirect
    ? `answers ${host}${path} with a ${s.redirect.statusCode} redirect to ${s.redirect.location}`
    : `serves ${host}${path}`;
}

/** The rule that serves the request (and its redirect), and what each port answers when there are several. */
export function routeFacts(s: RouteStage): Facts {
  const out: Facts = {};
  if (s.kind === 'matched') {
    const r = s.redirect;
    out.route = {
      route: refOf(s.attachment.route),
      rule: s.ruleIndex,
      gateway: refOf(s.chosen.cand.gateway),
      listener: s.chosen.cand.listener.name,
      redirect: r ? { statusCode: r.statusCode, scheme: r.scheme, location: r.location } : null,
    };
  }
  if (s.kind === 'dropped') out.dropped = { route: refOf(s.route), reason: s.drop.reason, where: s.drop.where };
  const pc = s.ports;
  if (pc) {
    out.ports = pc.answers.map((a) => ({
      gateway: refOf(a.cand.gateway),
      port: a.cand.listener.port,
      listener: a.cand.listener.name,
      judged: a.cand.listener.port === pc.judged,
      route: a.rule ? refOf(a.rule.route) : null,
      rule: a.rule?.index ?? null,
      backends: a.backends.map((b) => ({ kind: b.kind, namespace: b.namespace, name: b.name, port: b.port })),
      failing: a.failing,
    }));
  }
  return out;
}

export const route = clusterLayer(
  layerMeta('route'),
  (p, probes) => p.route(probes.port ?? null),
  judgeRoute,
  routeFacts,
);

function backendRefFor(c: ServiceCandidate, routeNs: string): Record<string, unknown> {
  return { name: c.name, ...(c.namespace !== routeNs ? { namespace: c.namespace } : {}), port: c.port };
}

function candidateChoice(field: string, host: string, cands: ServiceCandidate[]) {
  return [
    { field, about: `the Service that should serve ${host}`, candidates: cands.slice(0, 6).map(describeCandidate) },
  ];
}

/**
 * Why the route is not accepted decides what changes, and the fix never takes anything away from what works:
 * - NotAllowedByListeners (namespace): from Same -> a Selector that admits the Gateway's namespace AND the route's;
 *   from Selector -> label the route's namespace with what the selector asks for (the listener stays as it is).
 * - NotAllowedByListeners (kind): add HTTPRoute to the listener's allowedRoutes.kinds.
 * - NoMatchingParent / NoMatchingListenerHostname: point this parentRef's sectionName (and port) at the listener
 *   that accepts the host; the route's other parentRefs stay.
 * Every JSON patch starts with `test` operations, so it fails instead of changing another item if the list moved.
 */
function notAcceptedFix(a: Attachment, cand: ListenerCandidate, nsObj: Namespace | undefined): Fix | null {
  const gw = a.gateway;
  const gwNs = gw.metadata.namespace ?? 'default';
  const routeNs = a.route.metadata.namespace ?? 'default';
  const idx = (gw.spec.listeners ?? []).indexOf(cand.listener);
  const l = cand.listener;
  const lp = (...t: (string | number)[]) => ptr('spec', 'listeners', idx, ...t);
  switch (a.result.reason) {
    case 'NotAllowedByListeners': {
      const mine = a.result.listeners.find((x) => x.listener === l);
      if (mine && /kind .* is not allowed/.test(mine.message)) {
        if (l.protocol !== 'HTTP' && l.protocol !== 'HTTPS') {
          return manual(
            `listener "${l.name}" of ${describe(gw)} is ${l.protocol} and can never carry an ${a.route.kind}: attach ${describe(a.route)} to an HTTP/HTTPS listener, or add one`,
          );
        }
        return jsonPatch(
          gw,
          [
            { op: 'test', path: lp('name'), value: l.name },
            {
              op: 'add',
              path: lp('allowedRoutes', 'kinds', '-'),
              value: { group: 'gateway.networking.k8s.io', kind: a.route.kind },
            },
          ],
          `lets listener "${l.name}" of ${describe(gw)} accept ${a.route.kind}s besides the kinds it lists`,
        );
      }
      const from = l.allowedRoutes?.namespaces?.from ?? 'Same';
      if (from === 'Same') {
        const value = {
          ...(l.allowedRoutes ?? {}),
          namespaces: {
            from: 'Selector',
            selector: {
              matchExpressions: [
                { key: 'kubernetes.io/metadata.name', operator: 'In', values: [...new Set([gwNs, routeNs])] },
              ],
            },
          },
        };
        return jsonPatch(
          gw,
          [
            { op: 'test', path: lp('name'), value: l.name },
            { op: 'add', path: lp('allowedRoutes'), value },
          ],
          `lets listener "${l.name}" of ${describe(gw)} accept routes from namespace ${routeNs} as well as from ${gwNs} (routes attached today stay attached); or move ${describe(a.route)} to ${gwNs}. A ReferenceGrant does not help here`,
        );
      }
      const sel = l.allowedRoutes?.namespaces?.selector ?? {};
      const labels: Record<string, string> = { ...(sel.matchLabels ?? {}) };
      const have = nsObj?.metadata.labels ?? {};
      for (const e of sel.matchExpressions ?? []) {
        if (e.operator === 'In' && !(e.values ?? []).includes(have[e.key] ?? '\u0000'))
          labels[e.key] = (e.values ?? [])[0] ?? '';
        else if (e.operator === 'Exists' && have[e.key] === undefined) labels[e.key] = 'true';
        else if (
          (e.operator === 'NotIn' && (e.values ?? []).includes(have[e.key] ?? '\u0000')) ||
          (e.operator === 'DoesNotExist' && have[e.key] !== undefined)
        ) {
          return manual(
            `namespace ${routeNs} carries label ${e.key}=${have[e.key]}, which the selector of listener "${l.name}" (${describe(gw)}) excludes: change that label or the selector`,
          );
        }
      }
      if ('kubernetes.io/metadata.name' in labels && labels['kubernetes.io/metadata.name'] !== routeNs) {
        return manual(
          `the selector of listener "${l.name}" (${describe(gw)}) names namespace ${labels['kubernetes.io/metadata.name']} by its immutable name label: add ${routeNs} to that selector (as a matchExpressions In list) to admit ${describe(a.route)}`,
        );
      }
      delete labels['kubernetes.io/metadata.name'];
      const add = Object.fromEntries(Object.entries(labels).filter(([k, v]) => have[k] !== v));
      if (Object.keys(add).length === 0) return null;
      return {
        kind: 'patch',
        target: { apiVersion: 'v1', kind: 'Namespace', name: routeNs },
        patchType: 'merge',
        patch: { metadata: { labels: add } },
        explain: `labels namespace ${routeNs} with ${Object.entries(add)
          .map(([k, v]) => `${k}=${v}`)
          .join(
            ', ',
          )}, which the selector of listener "${l.name}" (${describe(gw)}) asks for; the listener stays as it is (other selectors that read these labels may match too)`,
      };
    }
    case 'NoMatchingListenerHostname':
    case 'NoMatchingParent': {
      const i = a.parentIndex;
      const pp = (...t: (string | number)[]) => ptr('spec', 'parentRefs', i, ...t);
      const ops: JsonPatchOp[] = [
        { op: 'test', path: pp('name'), value: a.parentRef.name },
        { op: 'add', path: pp('sectionName'), value: l.name },
      ];
      if (a.parentRef.port !== undefined) ops.push({ op: 'replace', path: pp('port'), value: l.port });
      return jsonPatch(
        a.route,
        ops,
        `attaches parentRefs[${i}] of ${describe(a.route)} to listener "${l.name}" (${l.hostname ?? '*'}:${l.port}) of ${describe(gw)}, which accepts the host; its other parentRefs stay`,
      );
    }
    default:
      return null;
  }
}

/** A new HTTPRoute for the host on the accepting listener, named so it overwrites nothing, backed by the likeliest Service. */
function newRouteFix(
  cand: ListenerCandidate,
  host: string,
  routes: HTTPRoute[],
  services: Service[],
  nsObjs: Map<string, Namespace | undefined>,
): Fix {
  const gw = cand.gateway;
  const gwNs = gw.metadata.namespace ?? 'default';
  const cands = serviceCandidates(services, host);
  const c = cands[0];
  if (!c) {
    return manual(
      `create an HTTPRoute for ${host} with parentRef ${gwNs}/${gw.metadata.name} (sectionName ${cand.listener.name}) and a backendRef to the Service that should serve it; gwdoctor found no Service whose name or namespace matches "${host.split('.')[0]}"`,
    );
  }
  // In the Service's namespace when the listener admits routes from there (no ReferenceGrant needed), else next to the Gateway.
  const ns = namespaceAllowed(cand.listener, gw, c.namespace, nsObjs.get(c.namespace)) ? c.namespace : gwNs;
  const name = uniqueName(
    host.split('.')[0] ?? 'route',
    routes.filter((r) => (r.metadata.namespace ?? 'default') === ns).map((r) => r.metadata.name),
  );
  const object = {
    apiVersion: GW_API,
    kind: 'HTTPRoute',
    metadata: { name, namespace: ns },
    spec: {
      parentRefs: [{ name: gw.metadata.name, namespace: gwNs, sectionName: cand.listener.name }],
      hostnames: [host],
      rules: [{ matches: [{ path: { type: 'PathPrefix', value: '/' } }], backendRefs: [backendRefFor(c, ns)] }],
    },
  };
  return applyFix(
    object,
    `creates HTTPRoute ${ns}/${name} (a new name) for ${host} on listener "${cand.listener.name}" of ${describe(gw)}, forwarding to ${describeCandidate(c)}${c.namespace !== ns ? `; a backend in ${c.namespace} also needs a ReferenceGrant there (the next run prints it)` : ''}`,
    candidateChoice('/spec/rules/0/backendRefs/0', host, cands),
  );
}

/** Append a rule for the requested path, forwarding where the route's other rules forward (the existing rules stay). */
function noMatchingRuleFix(route: HTTPRoute, path: string, services: Service[], host: string): Fix {
  const routeNs = route.metadata.namespace ?? 'default';
  const used = (route.spec.rules ?? []).flatMap((r) => r.backendRefs ?? []).filter((b) => (b.weight ?? 1) > 0);
  const backendRefs: Record<string, unknown>[] =
    used.length > 0
      ? [Object.fromEntries(Object.entries(used[0] as object).filter(([k]) => k !== 'weight' && k !== 'filters'))]
      : [];
  const cands = used.length > 0 ? [] : serviceCandidates(services, host, routeNs);
  if (backendRefs.length === 0 && cands[0]) backendRefs.push(backendRefFor(cands[0], routeNs));
  if (backendRefs.length === 0)
    return manual(
      `add a rule matching PathPrefix ${path} with a backendRef to ${describe(route)}, or request a path an existing rule matches`,
    );
  const rules = route.spec.rules ?? [];
  const op: JsonPatchOp =
    rules.length > 0
      ? {
          op: 'add',
          path: ptr('spec', 'rules', '-'),
          value: { matches: [{ path: { type: 'PathPrefix', value: path } }], backendRefs },
        }
      : {
          op: 'add',
          path: ptr('spec', 'rules'),
          value: [{ matches: [{ path: { type: 'PathPrefix', value: path } }], backendRefs }],
        };
  return jsonPatch(
    route,
    [op],
    `adds a rule to ${describe(route)} that sends PathPrefix ${path} to ${String(backendRefs[0]?.['name'])} (the existing rules stay); or request a path an existing rule matches. PathPrefix matches whole path segments and is case-sensitive`,
    used.length > 0 ? undefined : candidateChoice(`/value/backendRefs/0`, host, cands),
  );
}

/** A rule with no usable backend: give it one (weight 0 everywhere: weight 1 for the first; none: the likeliest Service). */
function noBackendsFix(route: Route, ruleIndex: number, host: string, services: Service[]): Fix {
  const rule = route.spec.rules?.[ruleIndex];
  const refs = rule?.backendRefs ?? [];
  const rp = (...t: (string | number)[]) => ptr('spec', 'rules', ruleIndex, ...t);
  if (refs.length > 0) {
    const first = refs[0] as NonNullable<(typeof refs)[0]>;
    return jsonPatch(
      route,
      [
        { op: 'test', path: rp('backendRefs', 0, 'name'), value: first.name },
        { op: 'replace', path: rp('backendRefs', 0, 'weight'), value: 1 },
      ],
      `gives backendRefs[0] (${first.name}) of ${describe(route)} rules[${ruleIndex}] weight 1: with every weight 0 the gateway answers 500`,
    );
  }
  const routeNs = route.metadata.namespace ?? 'default';
  const cands = serviceCandidates(services, host, routeNs);
  const c = cands[0];
  if (!c)
    return manual(
      `add a backendRef (Service name and port) to ${describe(route)} rules[${ruleIndex}]: a rule without backends answers 500`,
    );
  return jsonPatch(
    route,
    [{ op: 'add', path: rp('backendRefs'), value: [backendRefFor(c, routeNs)] }],
    `gives ${describe(route)} rules[${ruleIndex}] a backendRef to ${describeCandidate(c)}: a rule without backends answers 500`,
    candidateChoice('/value/0', host, cands),
  );
}
