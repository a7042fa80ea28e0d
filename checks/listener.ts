// Layer 3: a Gateway listener accepts the hostname, and the Gateway is Accepted and Programmed.

import type { Gateway, GatewayClass, GatewayListener } from '../src/cluster/objects.js';
import { describe, nsName } from '../src/cluster/objects.js';
import { fail, pass, warn, type Draft } from '../src/findings.js';
import { command, jsonPatch, manual, ptr, uniqueName } from '../src/fix/build.js';
import type { Fix } from '../src/fix/fix.js';
import { kindAllowed } from '../src/gatewayapi/attachment.js';
import { ISTIO_CONTROLLER } from '../src/gatewayapi/status.js';
import { refersTo, routeServesHost } from '../src/gatewayapi/attachment.js';
import { compareRank, hostMatches, hostnameRank } from '../src/gatewayapi/hostnames.js';
import { condition, controllerConditions, describeCondition, freshness } from '../src/gatewayapi/status.js';
import type { Check, CheckContext, Evidence, ListenerCandidate } from '../src/types.js';
import { needCluster } from './need.js';

const WAYPOINT_CLASSES = new Set(['istio-waypoint', 'istio-east-west']);

function describeListener(l: GatewayListener): string {
  return `listener "${l.name}" (${l.hostname ?? '*'}:${l.port}/${l.protocol})`;
}

/** Listeners that carry HTTP for the host; per port only the most specific hostname wins (listener isolation). */
export function acceptingListeners(gw: Gateway, host: string): GatewayListener[] {
  const byPort = new Map<number, GatewayListener>();
  for (const l of gw.spec.listeners ?? []) {
    if (l.protocol !== 'HTTP' && l.protocol !== 'HTTPS') continue;
    if (!hostMatches(l.hostname, host)) continue;
    const cur = byPort.get(l.port);
    if (!cur || compareRank(hostnameRank(l.hostname), hostnameRank(cur.hostname)) > 0) byPort.set(l.port, l);
  }
  return [...byPort.values()];
}

interface Health {
  ok: boolean;
  draft?: Draft;
  evidence: Evidence[];
  stale: boolean;
}

function gatewayHealth(check: Check, gw: Gateway, listeners: GatewayListener[], classes: GatewayClass[]): Health {
  const ref = describe(gw);
  const evidence: Evidence[] = [];
  const conds = controllerConditions(gw.status?.conditions);
  const fresh = freshness(conds, gw.metadata.generation);
  const cls = classes.find((c) => c.metadata.name === gw.spec.gatewayClassName);
  const classRef = `GatewayClass ${gw.spec.gatewayClassName}`;

  if (fresh === 'fresh') {
    for (const c of conds) evidence.push({ ref, detail: describeCondition(c) });
    const accepted = condition(conds, 'Accepted');
    if (accepted && accepted.status !== 'True') {
      return {
        ok: false,
        stale: false,
        evidence,
        draft: fail(check, 'GatewayNotAccepted', `${ref} is not accepted: ${accepted.reason ?? 'no reason'}${accepted.message ? ` (${accepted.message})` : ''}`, {
          evidence,
          retryable: accepted.status === 'Unknown',
          fix: command(['kubectl', '-n', gw.metadata.namespace ?? 'default', 'describe', 'gateways.gateway.networking.k8s.io', gw.metadata.name], 'read the controller\'s message and fix the Gateway spec it names'),
        }),
      };
    }
    const programmed = condition(conds, 'Programmed');
    if (programmed && programmed.status !== 'True') {
      const svcHint = /no instances found/.test(programmed.message ?? '')
        ? 'the gateway pods are not ready (Istio found no endpoints for the gateway Service)'
        : 'the controller could not program the gateway';
      return {
        ok: false,
        stale: false,
        evidence,
        draft: fail(check, 'GatewayNotProgrammed', `${ref} is not programmed: ${programmed.reason ?? 'no reason'}: ${svcHint}`, {
          evidence,
          retryable: true,
          fix: command(
            ['kubectl', '-n', gw.metadata.namespace ?? 'default', 'get', 'pods,services', '-l', `gateway.networking.k8s.io/gateway-name=${gw.metadata.name}`],
            'look at the gateway Deployment\'s pods and Service that Istio generated for this Gateway',
          ),
        }),
      };
    }
    // Listener status (one entry per listener name).
    for (const l of listeners) {
      const ls = gw.status?.listeners?.find((s) => s.name === l.name);
      const lconds = controllerConditions(ls?.conditions);
      if (freshness(lconds, gw.metadata.generation) !== 'fresh') continue;
      const bad = lconds.find(
        (c) => (c.type === 'Conflicted' && c.status === 'True') || (c.type !== 'Conflicted' && c.type !== 'OverlappingTLSConfig' && c.status === 'False'),
      );
      evidence.push({ ref: `${ref} ${describeListener(l)}`, detail: `attachedRoutes=${ls?.attachedRoutes ?? 0}` });
      if (bad) {
        return {
          ok: false,
          stale: false,
          evidence,
          draft: fail(check, 'ListenerNotReady', `${ref} ${describeListener(l)} is not usable: ${describeCondition(bad)}`, {
            evidence,
            fix: command(['kubectl', '-n', gw.metadata.namespace ?? 'default', 'get', 'gateways.gateway.networking.k8s.io', gw.metadata.name, '-o', 'yaml'], 'read status.listeners for this listener and fix what its conditions name'),
          }),
        };
      }
    }
    return { ok: true, stale: false, evidence };
  }

  // No (fresh) controller status: predict from the spec.
  evidence.push({
    ref,
    detail: fresh === 'stale' ? 'status is stale (observedGeneration < metadata.generation): predicted from the spec' : 'no controller has written status: predicted from the spec',
  });
  if (!cls) {
    return {
      ok: false,
      stale: false,
      evidence,
      draft: fail(check, 'GatewayNotAccepted', `${ref} names ${classRef}, which does not exist: no controller will accept it`, {
        evidence,
        fix: classFix(gw, classes),
      }),
    };
  }
  const clsConds = controllerConditions(cls.status?.conditions);
  const clsAccepted = condition(clsConds, 'Accepted');
  if (clsAccepted && clsAccepted.status === 'False') {
    return {
      ok: false,
      stale: false,
      evidence,
      draft: fail(check, 'GatewayNotAccepted', `${classRef} is not accepted (${clsAccepted.reason ?? ''}), so ${ref} will not be`, {
        evidence: [...evidence, { ref: classRef, detail: describeCondition(clsAccepted) }],
      }),
    };
  }
  for (const l of listeners) {
    if (l.protocol === 'HTTPS' && !l.tls) {
      return {
        ok: false,
        stale: false,
        evidence,
        // istio pilot/pkg/config/kube/gateway/conversion.go buildListener: "protocol is HTTPS but no TLS section is
        // defined, skipping listener creation".
        draft: fail(check, 'ListenerNotReady', `${ref} ${describeListener(l)} is HTTPS without a tls section: Istio skips it`, {
          evidence,
          fix: manual(`add spec.listeners[${(gw.spec.listeners ?? []).indexOf(l)}].tls (mode: Terminate, certificateRefs naming a kubernetes.io/tls Secret) to ${ref}, or use protocol: HTTP behind the TLS proxy`),
        }),
      };
    }
  }
  return { ok: true, stale: fresh === 'stale', evidence };
}

/**
 * A JSON patch that adds a listener for exactly `host` to the Gateway, copied from a listener that can carry an
 * HTTPRoute (HTTP or HTTPS protocol, allowedRoutes.kinds admitting HTTPRoute): same port, protocol, tls and
 * allowedRoutes, so it joins the existing port without a conflict and admits the same namespaces. Appending never
 * changes the existing listeners.
 */
function listenerFix(gw: Gateway, host: string): Fix {
  const listeners = gw.spec.listeners ?? [];
  const model = listeners.find((l) => l.protocol === 'HTTP' && kindAllowed(l)) ?? listeners.find((l) => l.protocol === 'HTTPS' && kindAllowed(l) && l.tls);
  const hosts = listeners.map((l) => l.hostname ?? '*').join(', ');
  if (!model) {
    return manual(`${describe(gw)} has no listener that can carry an HTTPRoute (protocol HTTP/HTTPS and allowedRoutes.kinds admitting HTTPRoute): add one for ${host} with the port your gateway Service exposes`);
  }
  const name = uniqueName(`${model.protocol.toLowerCase()}-${host.replace(/\./g, '-')}`, listeners.map((l) => l.name));
  const value: Record<string, unknown> = { name, hostname: host, port: model.port, protocol: model.protocol };
  if (model.tls) value['tls'] = model.tls;
  if (model.allowedRoutes) value['allowedRoutes'] = model.allowedRoutes;
  return jsonPatch(gw, [{ op: 'add', path: ptr('spec', 'listeners', '-'), value }],
    `adds listener "${name}" for ${host} to ${describe(gw)} (a copy of listener "${model.name}", port ${model.port}/${model.protocol}); or widen a listener hostname (listeners have ${hosts}; a wildcard "*.d" matches one or more labels under d, never d itself)${model.tls ? '; the copied certificate must cover ' + host : ''}`);
}

/** Point the Gateway at a GatewayClass that exists and that Istio owns (guarded: only if the class name is unchanged). */
function classFix(gw: Gateway, classes: GatewayClass[]): Fix {
  const istio = classes.filter((c) => c.spec?.controllerName === ISTIO_CONTROLLER).map((c) => c.metadata.name);
  if (istio.length === 0) {
    return manual(`no GatewayClass with controllerName ${ISTIO_CONTROLLER} exists: install Istio with Gateway API support (it creates class "istio"), then set spec.gatewayClassName of ${describe(gw)}`);
  }
  const choice = istio.includes('istio') ? ['istio', ...istio.filter((n) => n !== 'istio')] : istio;
  return jsonPatch(
    gw,
    [
      { op: 'test', path: '/spec/gatewayClassName', value: gw.spec.gatewayClassName },
      { op: 'replace', path: '/spec/gatewayClassName', value: choice[0] },
    ],
    `sets spec.gatewayClassName of ${describe(gw)} to ${choice[0]}, a class Istio's controller owns`,
    [{ field: '/spec/gatewayClassName', about: 'GatewayClass owned by Istio', candidates: choice }],
  );
}

export const listener: Check = {
  id: 'listener',
  title: 'a Gateway listener accepts the host',
  needsCluster: true,
  network: false,
  async run(ctx: CheckContext) {
    const cluster = needCluster(ctx);
    const host = ctx.target.host;
    const [classes, all, routes] = await Promise.all([cluster.gatewayClasses(), cluster.gateways(), cluster.httpRoutes()]);
    const filter = ctx.gatewayFilter;
    let gateways: Gateway[];
    if (filter) {
      gateways = all.filter((g) => g.metadata.name === filter.name && (g.metadata.namespace ?? 'default') === filter.namespace);
      if (gateways.length === 0) {
        return fail(this, 'GatewayNotFound', `Gateway ${filter.namespace}/${filter.name} does not exist`, {
          evidence: all.map((g) => ({ ref: describe(g), detail: `class ${g.spec.gatewayClassName}` })),
          fix: command(['kubectl', 'get', 'gateways.gateway.networking.k8s.io', '-A'], 'pick an existing Gateway for --gateway, or create this one'),
        });
      }
    } else {
      gateways = all.filter((g) => !WAYPOINT_CLASSES.has(g.spec.gatewayClassName) && (g.spec.listeners ?? []).some((l) => l.protocol === 'HTTP' || l.protocol === 'HTTPS'));
      if (gateways.length === 0) {
        const parents = [...new Set(routes.filter((r) => routeServesHost(r, host)).flatMap((r) => (r.spec.parentRefs ?? []).map((p) => `${p.namespace ?? r.metadata.namespace}/${p.name}`)))];
        return fail(this, 'GatewayNotFound', `no Gateway with an HTTP or HTTPS listener exists${parents.length ? ` (routes for ${host} name ${parents.join(', ')})` : ''}`, {
          evidence: all.map((g) => ({ ref: describe(g), detail: `class ${g.spec.gatewayClassName}, no HTTP/HTTPS listener` })),
          fix: command(['kubectl', 'get', 'gateways.gateway.networking.k8s.io', '-A'], 'create the Gateway the routes name (see the seed setup), or check that gwdoctor reads the right cluster/context'),
        });
      }
    }

    let matching = gateways.map((g) => ({ gw: g, listeners: acceptingListeners(g, host) })).filter((x) => x.listeners.length > 0);
    if (matching.length === 0) {
      const evidence = gateways.flatMap((g) => (g.spec.listeners ?? []).map((l) => ({ ref: describe(g), detail: `${describeListener(l)} does not accept ${host}` })));
      // Add the listener to the Gateway that the routes for this host name as their parent, if any.
      const named = gateways.find((g) => routes.some((r) => routeServesHost(r, host) && (r.spec.parentRefs ?? []).some((p) => refersTo(p, r, g))));
      const gw = named ?? (gateways[0] as Gateway);
      return fail(this, 'ListenerHostnameMismatch', `no listener of ${gateways.map(describe).join(', ')} accepts ${host}`, {
        evidence,
        fix: listenerFix(gw, host),
      });
    }
    if (matching.length > 1 && !filter) {
      // Prefer the Gateways that a route for this host names as its parent.
      const named = matching.filter((m) => routes.some((r) => routeServesHost(r, host) && (r.spec.parentRefs ?? []).some((p) => refersTo(p, r, m.gw))));
      if (named.length > 0) matching = named;
    }

    const results = matching.map((m) => ({ ...m, health: gatewayHealth(this, m.gw, m.listeners, classes) }));
    const healthy = results.filter((r) => r.health.ok);
    if (healthy.length === 0) return (results[0] as (typeof results)[number]).health.draft as Draft;

    const candidates: ListenerCandidate[] = healthy.flatMap((h) => h.listeners.map((l) => ({ gateway: h.gw, listener: l })));
    ctx.facts.candidates = candidates;
    const evidence = healthy.flatMap((h) => h.health.evidence);
    if (ctx.target.trailingDot) {
      // Neither the spec nor Istio strips a trailing dot from Host: Envoy matches no virtual host (gateway-api-rules
      // §3.2, inference from Istio not setting strip_trailing_host_dot).
      evidence.push({ ref: ctx.target.input, detail: `checked as ${host}; clients that send "Host: ${host}." get 404 from Envoy` });
    }
    const names = candidates.map((c) => `${nsName(c.gateway)} ${describeListener(c.listener)}`).join(', ');
    if (healthy.length > 1) {
      evidence.push({ ref: 'gwdoctor', detail: `${healthy.length} Gateways accept ${host}; pass --gateway NS/NAME to check only the one your proxy forwards to` });
    }
    if (healthy.some((h) => h.health.stale)) {
      return warn(this, 'GatewayStatusStale', `${names} accepts ${host}, but the Gateway status is stale (spec changed since the controller last wrote it)`, {
        evidence,
        retryable: true,
      });
    }
    return pass(this, `${names} accepts ${host}`, { evidence });
  },
};
