// Layer 4: an HTTPRoute for the host is attached to the listener, Accepted, and one of its rules matches the path.

import type { Gateway, HTTPRoute, Namespace, ParentReference } from '../src/cluster/objects.js';
import { describe, nsName } from '../src/cluster/objects.js';
import type { ClusterReader } from '../src/cluster/reader.js';
import { commandFix, fail, pass, textFix, warn, yamlFix, type Draft } from '../src/findings.js';
import { attachToGateway, refersTo, routeServesHost, type ParentAttachment } from '../src/gatewayapi/attachment.js';
import { resolveBackendRefs } from '../src/gatewayapi/grants.js';
import { compareRoutes, describeMatch, selectRule, type AttachedRoute } from '../src/gatewayapi/matching.js';
import {
  condition,
  controllerConditions,
  describeCondition,
  freshness,
  normalizeParentRef,
  routeParentStatus,
} from '../src/gatewayapi/status.js';
import type { Check, CheckContext, Evidence, ListenerCandidate } from '../src/types.js';
import { need, needCluster } from './need.js';

interface Attachment {
  route: HTTPRoute;
  parentRef: ParentReference;
  gateway: Gateway;
  result: ParentAttachment;
}

async function namespacesFor(cluster: ClusterReader, routes: HTTPRoute[], gateways: Gateway[]): Promise<Map<string, Namespace | undefined>> {
  const needSelector = gateways.some((g) => (g.spec.listeners ?? []).some((l) => l.allowedRoutes?.namespaces?.from === 'Selector'));
  const out = new Map<string, Namespace | undefined>();
  if (!needSelector) return out;
  const names = [...new Set(routes.map((r) => r.metadata.namespace ?? 'default'))];
  const got = await Promise.all(names.map((n) => cluster.namespace(n)));
  names.forEach((n, i) => out.set(n, got[i]));
  return out;
}

/** Istio "general" route errors drop the whole route (istio gateway/route_collections.go computeRoute). */
const ROUTE_DROPPING = new Set(['InvalidDestination', 'InvalidFilter', 'InvalidConfiguration']);

function gatewayHasFreshStatus(gw: Gateway): boolean {
  const conds = controllerConditions(gw.status?.conditions);
  return freshness(conds, gw.metadata.generation) === 'fresh';
}

function parentYaml(gw: Gateway, sectionName?: string): string {
  return [
    'spec:',
    '  parentRefs:',
    `  - name: ${gw.metadata.name}`,
    `    namespace: ${gw.metadata.namespace}`,
    ...(sectionName ? [`    sectionName: ${sectionName}`] : []),
    '',
  ].join('\n');
}

export const route: Check = {
  id: 'route',
  title: 'an HTTPRoute for the host is attached and matches the path',
  needsCluster: true,
  network: false,
  async run(ctx: CheckContext) {
    const cluster = needCluster(ctx);
    const candidates = need(ctx.facts, 'candidates');
    const { host, path, query } = ctx.target;
    const [routes, gateways] = await Promise.all([cluster.httpRoutes(), cluster.gateways()]);
    const candGateways = [...new Set(candidates.map((c) => c.gateway))];
    const nsObjs = await namespacesFor(cluster, routes, candGateways);

    // Attachment of every parentRef that names a candidate Gateway.
    const attachments: Attachment[] = [];
    for (const r of [...routes].sort(compareRoutes)) {
      for (const p of r.spec.parentRefs ?? []) {
        for (const gw of candGateways) {
          if (!refersTo(p, r, gw)) continue;
          attachments.push({ route: r, parentRef: p, gateway: gw, result: attachToGateway(r, p, gw, nsObjs.get(r.metadata.namespace ?? 'default')) });
        }
      }
    }

    // Per candidate listener: the routes attached to it, and the rule that wins.
    let best: { cand: ListenerCandidate; attached: AttachedRoute[]; sel: ReturnType<typeof selectRule> } | undefined;
    for (const cand of candidates) {
      const attached: AttachedRoute[] = [];
      for (const a of attachments) {
        if (a.gateway !== cand.gateway || !a.result.accepted) continue;
        const la = a.result.listeners.find((x) => x.listener === cand.listener && x.reason === 'Accepted');
        if (la) attached.push({ route: a.route, hostnames: la.hostnames });
      }
      const sel = selectRule(attached, { host, path, query, method: 'GET' });
      if (!best || (sel.winner && !best.sel.winner) || (sel.vhost && !best.sel.vhost)) best = { cand, attached, sel };
      if (sel.winner) break;
    }
    const chosen = best as NonNullable<typeof best>;
    const listenerDesc = `${nsName(chosen.cand.gateway)} listener "${chosen.cand.listener.name}"`;

    if (!chosen.sel.winner) {
      // 1. Routes for the host exist on the listener but no rule matches the path.
      if (chosen.sel.vhost !== null) {
        const evidence: Evidence[] = chosen.sel.entries.map((e) => ({
          ref: `${describe(e.route)} rules[${e.ruleIndex}]`,
          detail: `${describeMatch(e.match)} does not match GET ${path}${query ? `?${query}` : ''}${(e.match.headers ?? []).length ? ' (gwdoctor sends no custom headers)' : ''}`,
        }));
        for (const s of chosen.sel.shadowed) {
          evidence.push({ ref: describe(s), detail: `not consulted: its hostnames are less specific than "${chosen.sel.vhost}" (Envoy picks one virtual host; no fall-through)` });
        }
        const r0 = chosen.sel.routes[0] as HTTPRoute;
        return fail(this, 'RouteNoMatchingRule', `no rule of ${chosen.sel.routes.map(describe).join(', ')} matches the path ${path} (Envoy answers 404)`, {
          evidence,
          fix: yamlFix(
            ['# add to spec.rules of ' + describe(r0) + ', or request a path an existing rule matches', '- matches:', '  - path:', '      type: PathPrefix', `      value: ${path}`, '  backendRefs:', '  - name: <service>', '    port: <service port>', ''].join('\n'),
            'PathPrefix matches whole path segments ("/api" does not match "/apiv2"); Exact and paths are case-sensitive',
          ),
        });
      }

      // 2. Routes for the host that name a candidate Gateway but are not accepted.
      const rejected = attachments.filter((a) => !a.result.accepted && routeServesHost(a.route, host));
      if (rejected.length > 0) {
        const a = rejected[0] as Attachment;
        const evidence: Evidence[] = a.result.listeners.map((l) => ({ ref: `${describe(a.gateway)} listener "${l.listener.name}"`, detail: `${l.reason}: ${l.message}` }));
        const st = routeParentStatus(a.route, a.parentRef);
        if (st) for (const c of controllerConditions(st.conditions)) evidence.push({ ref: `${describe(a.route)} status`, detail: describeCondition(c) });
        return fail(this, 'RouteNotAccepted', `${describe(a.route)} is not accepted by ${describe(a.gateway)}: ${a.result.reason} (${a.result.message})`, {
          evidence,
          fix: notAcceptedFix(a, chosen.cand),
        });
      }

      // 3. Routes for the host whose parentRef names a Gateway that does not exist.
      const orphans = routes
        .filter((r) => routeServesHost(r, host) && (r.spec.hostnames ?? []).length > 0)
        .flatMap((r) =>
          (r.spec.parentRefs ?? [])
            .map((p) => ({ r, p: normalizeParentRef(p, r.metadata.namespace ?? 'default') }))
            .filter(({ p }) => p.kind === 'Gateway' && !gateways.some((g) => g.metadata.name === p.name && (g.metadata.namespace ?? 'default') === p.namespace)),
        )
        .sort((x, y) => compareRoutes(x.r, y.r));
      if (orphans.length > 0) {
        const o = orphans[0] as (typeof orphans)[number];
        const gw = chosen.cand.gateway;
        return fail(this, 'RouteParentNotFound', `${describe(o.r)} names parent Gateway ${o.p.namespace}/${o.p.name}, which does not exist${o.r.spec.parentRefs?.some((p) => p.namespace === undefined) ? ' (parentRef.namespace defaults to the route\'s own namespace)' : ''}`, {
          evidence: orphans.map(({ r, p }) => ({ ref: describe(r), detail: `parentRef -> Gateway ${p.namespace}/${p.name}: not found` })),
          fix: yamlFix(parentYaml(gw), `point ${describe(o.r)} at the Gateway that accepts ${host}`),
        });
      }

      // 4. Nothing serves the host on this listener.
      const evidence: Evidence[] = [];
      for (const a of attachments) {
        if (!routeServesHost(a.route, host)) continue;
        const others = a.result.listeners.filter((l) => l.reason === 'Accepted' && l.listener !== chosen.cand.listener);
        for (const l of others) {
          evidence.push({
            ref: describe(a.route),
            detail: `attached to listener "${l.listener.name}", but ${host} is handled by the more specific listener "${chosen.cand.listener.name}" (listener isolation)`,
          });
        }
      }
      for (const r of routes) {
        if (!routeServesHost(r, host) || attachments.some((a) => a.route === r)) continue;
        const parents = (r.spec.parentRefs ?? []).map((p) => normalizeParentRef(p, r.metadata.namespace ?? 'default'));
        evidence.push({ ref: describe(r), detail: `serves ${host} but is attached to ${parents.map((p) => `${p.kind} ${p.namespace}/${p.name}`).join(', ') || 'no parent'}` });
      }
      const routeNs = chosen.cand.gateway.metadata.namespace ?? 'default';
      return fail(this, 'NoRouteForHost', `no HTTPRoute attached to ${listenerDesc} serves ${host} (Envoy answers 404)`, {
        evidence,
        fix: yamlFix(
          [
            'apiVersion: gateway.networking.k8s.io/v1',
            'kind: HTTPRoute',
            'metadata:',
            `  name: ${host.split('.')[0]}`,
            `  namespace: ${routeNs}`,
            'spec:',
            '  parentRefs:',
            `  - name: ${chosen.cand.gateway.metadata.name}`,
            `    namespace: ${routeNs}`,
            '  hostnames:',
            `  - ${host}`,
            '  rules:',
            '  - matches:',
            '    - path:',
            '        type: PathPrefix',
            '        value: /',
            '    backendRefs:',
            '    - name: <service>',
            '      namespace: <service namespace>',
            '      port: <service port>',
            '',
          ].join('\n'),
          'fill in the Service; a backend in another namespace also needs a ReferenceGrant there',
        ),
      });
    }

    // A rule matches: check what the controller says about this route on this parent.
    const w = chosen.sel.winner;
    const r = w.route;
    const att = attachments.find((a) => a.route === r && a.gateway === chosen.cand.gateway && a.result.accepted) as Attachment;
    const matchDesc = `${describe(r)} rules[${w.ruleIndex}] (${describeMatch(w.match)})`;
    ctx.facts.matched = { route: r, ruleIndex: w.ruleIndex, rule: w.rule, via: chosen.cand, parentRef: att.parentRef, match: describeMatch(w.match) };
    const refs = resolveBackendRefs(r, w.ruleIndex);
    ctx.facts.backendRefs = refs;
    const evidence: Evidence[] = [{ ref: describe(r), detail: `attached to ${listenerDesc}; virtual host "${chosen.sel.vhost}"; rule match ${describeMatch(w.match)}` }];
    for (const s of chosen.sel.shadowed) evidence.push({ ref: describe(s), detail: `shadowed: Envoy uses the more specific virtual host "${chosen.sel.vhost}"` });
    const earlier = chosen.sel.entries.filter((e) => e.route !== r && e.order < w.order && e.match.path?.value === w.match.path?.value && e.match.path?.type === w.match.path?.type);
    for (const e of earlier) evidence.push({ ref: describe(e.route), detail: `also matches; ${describe(r)} wins (older, then namespace/name)` });

    const weighted = refs.filter((x) => !x.where.includes('requestMirror'));
    if (weighted.length === 0 || weighted.every((x) => x.weight === 0)) {
      return fail(this, 'RouteNoBackends', `${matchDesc} has ${weighted.length === 0 ? 'no backendRefs' : 'only weight-0 backendRefs'}: the gateway answers 500`, {
        evidence,
        fix: textFix(`add a backendRef with a Service name and port (weight > 0) to ${describe(r)} rules[${w.ruleIndex}]`, 'a rule without backends has nothing to forward to'),
      });
    }

    const st = routeParentStatus(r, att.parentRef);
    const conds = controllerConditions(st?.conditions);
    const fr = freshness(conds, r.metadata.generation);
    if (!st || fr === 'none') {
      if (gatewayHasFreshStatus(chosen.cand.gateway)) {
        return fail(this, 'RouteStatusMissing', `${describe(r)} should attach to ${describe(chosen.cand.gateway)}, but the controller wrote no status for it`, {
          evidence,
          retryable: true,
          fix: commandFix(
            `kubectl -n ${r.metadata.namespace} get httproute ${r.metadata.name} -o yaml`,
            'the controller is active (the Gateway has fresh status) but has not processed this route: check istiod logs, or wait and rerun with --wait',
          ),
        });
      }
      evidence.push({ ref: describe(r), detail: 'no controller status: attachment predicted from the spec' });
      return pass(this, `${matchDesc} serves ${host}${path} (predicted from spec)`, { evidence });
    }
    for (const c of conds) evidence.push({ ref: `${describe(r)} status`, detail: `${describeCondition(c)} (observedGeneration ${c.observedGeneration ?? '?'})` });
    if (fr === 'stale') {
      return warn(this, 'RouteStatusStale', `${matchDesc} serves ${host}${path} by its spec, but its status is older than generation ${r.metadata.generation}: the controller has not caught up`, {
        evidence,
        retryable: true,
      });
    }
    const accepted = condition(conds, 'Accepted');
    const resolved = condition(conds, 'ResolvedRefs');
    if (resolved?.status === 'False' && ROUTE_DROPPING.has(resolved.reason ?? '')) {
      return fail(this, 'RouteNotAccepted', `Istio dropped ${describe(r)}: ${resolved.reason} (${resolved.message ?? ''}); requests get 404`, {
        evidence,
        fix: commandFix(`kubectl -n ${r.metadata.namespace} get httproute ${r.metadata.name} -o yaml`, 'fix the rule the ResolvedRefs message names (e.g. use the Service name, not its hostname)'),
      });
    }
    if (accepted && accepted.status !== 'True') {
      return warn(this, 'StatusDisagrees', `${describe(r)}: the controller reports ${describeCondition(accepted)}, but the spec says it attaches to ${listenerDesc}; trusting the spec`, {
        evidence,
        retryable: true,
      });
    }
    return pass(this, `${matchDesc} serves ${host}${path}`, { evidence });
  },
};

function notAcceptedFix(a: Attachment, cand: ListenerCandidate): Draft['fix'] {
  const gw = a.gateway;
  const idx = (gw.spec.listeners ?? []).indexOf(cand.listener);
  switch (a.result.reason) {
    case 'NotAllowedByListeners':
      return commandFix(
        `kubectl -n ${gw.metadata.namespace} patch gateway ${gw.metadata.name} --type=json -p '${JSON.stringify([
          { op: 'add', path: `/spec/listeners/${idx}/allowedRoutes`, value: { namespaces: { from: 'Selector', selector: { matchLabels: { 'kubernetes.io/metadata.name': a.route.metadata.namespace } } } } },
        ])}'`,
        `lets listener "${cand.listener.name}" accept routes from namespace ${a.route.metadata.namespace} (or move the route to ${gw.metadata.namespace}); a ReferenceGrant does not help here`,
      );
    case 'NoMatchingListenerHostname':
    case 'NoMatchingParent':
      return yamlFix(parentYaml(gw, cand.listener.name), `attach ${describe(a.route)} to listener "${cand.listener.name}" (${cand.listener.hostname ?? '*'}:${cand.listener.port}), which accepts the host; or drop sectionName/port`);
    default:
      return null;
  }
}
