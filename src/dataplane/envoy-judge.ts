// The Envoy part of the dataplane layer: what each gateway Pod's Envoy does with the request, judged against what
// gwdoctor predicts from the objects (the route layer's rule and its backends) and against the EndpointSlices.
// Pure: reads in (src/dataplane/envoy-admin.ts), a verdict out; checks/dataplane.ts turns it into the finding.
// Order (the first that holds is the finding): a push Envoy rejected (its error text, verbatim); Pods whose Envoys
// do different things with the request; the route gwdoctor predicts missing or different in Envoy; the route's
// cluster with no healthy host while the EndpointSlices have ready endpoints.

import { command, manual } from '../fix/build.js';
import type { EnvoyFact, EnvoyPodFact, Evidence, Fix, ObjectRef } from '../types.js';
import type { EnvoyRead } from './envoy-admin.js';
import {
  serviceOfCluster,
  viewOf,
  type ClusterHost,
  type EnvoyMatch,
  type EnvoyRequest,
  type EnvoyView,
  type HostHealth,
  type Rejected,
} from './envoy-config.js';

export type EnvoyCode =
  | 'EnvoyConfigRejected'
  | 'EnvoyPodsDisagree'
  | 'EnvoyRouteMissing'
  | 'EnvoyRouteDiffers'
  | 'EnvoyNoHealthyHost';

/** What gwdoctor predicts Envoy does with the request (the route layer's matched rule). */
export interface EnvoyPrediction {
  route: ObjectRef;
  rule: number;
  /** The Envoy route name istiod gives the rule: the rule's name, else <ns>.<name>.<rule> (gateway/conversion.go convertHTTPRoute). */
  envoyRoute: string;
  /** Istio cluster names of the rule's Service backends that carry traffic (weight > 0). */
  clusters: string[];
  redirect: boolean;
  /** Ready endpoint addresses per cluster, from the Service's EndpointSlices. */
  ready: Record<string, string[]>;
}

export type PodRead =
  | { kind: 'ok'; read: EnvoyRead }
  | { kind: 'forbidden'; namespace: string; resource: string; verbs: readonly string[]; why: string }
  | { kind: 'unreachable'; why: string };

export interface PodEnvoy {
  /** namespace/name */
  pod: string;
  node: string | null;
  /** The controller that recreates the Pod when it is deleted (ownerReferences, controller: true); null: a bare Pod. */
  controller: { kind: string; name: string } | null;
  read: PodRead;
}

export interface EnvoyVerdict {
  /** null: the Envoys do what gwdoctor predicts (or nothing could be judged, see `judged`). */
  code: EnvoyCode | null;
  /** false when no Envoy could be judged (no gateway Pod, or the route could not be evaluated). */
  judged: boolean;
  summary: string;
  evidence: Evidence[];
  fix: Fix | null;
  facts: EnvoyFact;
}

const HEALTH_WORDS: Record<HostHealth, string> = {
  healthy: 'healthy',
  failed_outlier_check: 'failed_outlier_check: ejected by outlier detection (it answered 5xx or refused connections)',
  failed_active_health_check: 'failed_active_health_check: failing active health checks',
  active_hc_timeout: 'active_hc_timeout: active health checks time out',
  pending_active_hc: 'pending_active_hc: awaiting its first active health check',
  excluded_via_immediate_hc_fail: 'excluded_via_immediate_hc_fail: it asked to be taken out of rotation',
  pending_dynamic_removal: 'pending_dynamic_removal: removed from service discovery',
  eds_unhealthy: 'UNHEALTHY in the endpoints istiod sent',
  eds_draining: 'DRAINING in the endpoints istiod sent',
  eds_timeout: 'TIMEOUT in the endpoints istiod sent',
};

const isHealthy = (h: ClusterHost) => h.health.length === 1 && h.health[0] === 'healthy';

function describeMatch(m: EnvoyMatch, req: EnvoyRequest): string {
  switch (m.kind) {
    case 'no-listener':
      return `no listener on port ${m.port} (listeners: ${m.listeners.join(', ') || 'none'})`;
    case 'no-route-config':
      return `listener ${m.listener} has no route configuration${m.routeConfig ? ` ${m.routeConfig} (not received)` : ' for this host'}`;
    case 'no-virtual-host':
      return `route configuration ${m.routeConfig} (version ${m.version ?? '?'}) has no virtual host for ${req.host} (domains: ${m.domains.slice(0, 8).join(', ') || 'none'}${m.domains.length > 8 ? ', …' : ''}): Envoy answers 404`;
    case 'no-route':
      return `virtual host ${m.virtualHost} in ${m.routeConfig} (version ${m.version ?? '?'}) has no route matching ${req.path} (routes in order: ${m.routes.join(', ') || 'none'}): Envoy answers 404`;
    case 'undetermined':
      return `virtual host ${m.virtualHost}: route ${m.route} may match, but ${m.why}`;
    case 'route': {
      const a = m.action;
      const to =
        a.kind === 'cluster'
          ? `cluster${a.clusters.length > 1 ? 's' : ''} ${a.clusters.map((c) => (a.clusters.length > 1 ? `${c.name} (weight ${c.weight})` : c.name)).join(', ')}`
          : a.kind === 'redirect'
            ? 'a redirect'
            : a.kind === 'direct'
              ? `a direct response ${a.status}`
              : 'an action gwdoctor does not read';
      return `listener ${m.listener}, route configuration ${m.routeConfig} (version ${m.version ?? '?'}), virtual host ${m.virtualHost} (${m.matchedBy === 'exact' ? 'exact domain' : m.matchedBy === 'any' ? 'the * domain' : `${m.matchedBy} wildcard ${m.domain}`}), route ${m.route} (#${m.index}) -> ${to}`;
    }
  }
}

/** What an Envoy does with the request, reduced to what two Pods must agree on. */
function signature(v: EnvoyView): string {
  const m = v.match;
  if (m.kind !== 'route') return m.kind;
  const a = m.action;
  return `${m.virtualHost}|${m.route}|${
    a.kind === 'cluster'
      ? a.clusters
          .filter((c) => c.weight > 0)
          .map((c) => c.name)
          .sort()
          .join(',')
      : a.kind
  }`;
}

function agreesWithPrediction(v: EnvoyView, p: EnvoyPrediction): boolean {
  const m = v.match;
  if (m.kind !== 'route') return false;
  if (p.redirect) return m.action.kind === 'redirect';
  if (m.action.kind !== 'cluster') return false;
  const got = m.action.clusters
    .filter((c) => c.weight > 0)
    .map((c) => c.name)
    .sort();
  return got.join(',') === [...p.clusters].sort().join(',') && m.route === p.envoyRoute;
}

const describeRef = (r: ObjectRef) => `${r.kind} ${r.namespace ? `${r.namespace}/` : ''}${r.name}`;

function predictedText(p: EnvoyPrediction): string {
  return `${describeRef(p.route)} rules[${p.rule}] (Envoy route ${p.envoyRoute}) -> ${p.redirect ? 'a redirect' : p.clusters.join(', ') || 'no cluster'}`;
}

export function envoyFacts(
  pods: PodEnvoy[],
  views: Map<string, EnvoyView>,
  p: EnvoyPrediction,
  req: EnvoyRequest,
): EnvoyFact {
  const none = {
    connected: null,
    match: null,
    listener: null,
    routeConfig: null,
    version: null,
    virtualHost: null,
    route: null,
    action: null,
    clusters: [],
    rejected: [],
  };
  return {
    request: { host: req.host, path: req.path, port: req.port },
    predicted: { route: p.route, rule: p.rule, envoyRoute: p.envoyRoute, clusters: p.clusters, redirect: p.redirect },
    pods: pods.map((x): EnvoyPodFact => {
      if (x.read.kind !== 'ok') return { pod: x.pod, node: x.node, read: x.read.kind, why: x.read.why, ...none };
      const v = views.get(x.pod) as EnvoyView;
      const m = v.match;
      return {
        pod: x.pod,
        node: x.node,
        read: 'ok',
        why: null,
        connected: x.read.read.connected,
        match: m.kind,
        listener: 'listener' in m ? m.listener : null,
        routeConfig: 'routeConfig' in m ? m.routeConfig : null,
        version: 'version' in m ? m.version : null,
        virtualHost: 'virtualHost' in m ? m.virtualHost : null,
        route: m.kind === 'route' || m.kind === 'undetermined' ? m.route : null,
        action: m.kind === 'route' ? m.action.kind : null,
        clusters: v.clusters.map((c) => ({ name: c.name, hosts: c.hosts })),
        rejected: v.rejected,
      };
    }),
  };
}

/** Judge the gateway Pods' Envoys for the request. `pods` empty: nothing to read (the layer says so). */
export function judgeEnvoys(pods: PodEnvoy[], p: EnvoyPrediction, req: EnvoyRequest): EnvoyVerdict {
  const views = new Map<string, EnvoyView>();
  for (const x of pods) if (x.read.kind === 'ok') views.set(x.pod, viewOf(x.read.read.dump, x.read.read.clusters, req));
  const facts = envoyFacts(pods, views, p, req);
  const verdict = (
    code: EnvoyCode | null,
    summary: string,
    evidence: Evidence[],
    fix: Fix | null = null,
    judged = true,
  ): EnvoyVerdict => ({ code, judged, summary, evidence, fix, facts });
  const request = `GET ${req.host}${req.path}`;
  if (pods.length === 0) return verdict(null, `no gateway Pod to read an Envoy from`, [], null, false);

  const lines: Evidence[] = [];
  for (const x of pods) {
    if (x.read.kind !== 'ok')
      lines.push({
        ref: `Envoy ${x.pod}`,
        detail:
          x.read.kind === 'forbidden' ? `not read: ${x.read.why}` : `could not read its admin interface: ${x.read.why}`,
      });
    else {
      const v = views.get(x.pod) as EnvoyView;
      lines.push({
        ref: `Envoy ${x.pod}`,
        detail: `${request}: ${describeMatch(v.match, req)}${x.read.read.connected === false ? '; its xDS stream to istiod is down (control_plane.connected_state 0)' : ''}`,
      });
      for (const c of v.clusters) {
        lines.push({
          ref: `Envoy ${x.pod}`,
          detail: `cluster ${c.name}${c.warming ? ' (warming: not in use yet)' : ''}: ${c.hosts === null ? 'not in Envoy' : c.hosts.length === 0 ? 'no host' : c.hosts.map((h) => `${h.address}${h.port !== null ? `:${h.port}` : ''} ${h.health.join('+')}`).join(', ')}`,
        });
      }
    }
  }
  const forbidden = pods.filter((x) => x.read.kind === 'forbidden');
  const ok = pods.filter((x) => x.read.kind === 'ok');
  const nsOf = (pod: string) => pod.split('/')[0] ?? '';
  if (ok.length === 0) {
    // Reading Envoy is optional (deploy/rbac-envoy-admin.yaml): not checked, with the verbs and resource; never a fault.
    if (forbidden.length > 0) {
      const f = forbidden[0]?.read as Extract<PodRead, { kind: 'forbidden' }>;
      return verdict(
        null,
        `the gateway's Envoy was not checked: forbidden: cannot ${f.verbs.join('+')} ${f.resource} in namespace ${f.namespace} (deploy/rbac-envoy-admin.yaml grants it)`,
        lines,
        null,
        false,
      );
    }
    return verdict(
      null,
      `could not look at the gateway's Envoy: ${(pods[0]?.read as Extract<PodRead, { kind: 'unreachable' }>).why}`,
      lines,
      null,
      false,
    );
  }

  // 1. A push Envoy rejected: it keeps serving the last configuration it accepted.
  const rejecting = ok.filter((x) => (views.get(x.pod) as EnvoyView).rejected.length > 0);
  if (rejecting.length > 0) {
    const first = rejecting[0] as PodEnvoy;
    const r = (views.get(first.pod) as EnvoyView).rejected[0] as Rejected;
    const rej: Evidence[] = rejecting.flatMap((x) =>
      (views.get(x.pod) as EnvoyView).rejected.map((e) => ({
        ref: `Envoy ${x.pod}`,
        detail: `rejected ${e.type} ${e.name}${e.lastUpdateAttempt ? ` at ${e.lastUpdateAttempt}` : ''}: ${e.details}; ${e.activeVersion ? `it still serves version ${e.activeVersion}` : 'it has no accepted version of it'}`,
      })),
    );
    return verdict(
      'EnvoyConfigRejected',
      `Envoy in Pod ${first.pod}${rejecting.length > 1 ? ` (and ${rejecting.length - 1} more)` : ''} rejected istiod's ${r.type} ${r.name}: "${r.details}"; ${r.activeVersion ? `it keeps serving the version it accepted before (${r.activeVersion}), not what the cluster says now` : 'it has no accepted version of it at all'}`,
      [...rej, ...lines],
      command(
        ['kubectl', 'get', 'envoyfilters.networking.istio.io', '-A'],
        `find the object istiod could not translate into configuration Envoy accepts (Envoy's words: "${r.details.slice(0, 200)}"): an EnvoyFilter is the usual cause; fix or remove it, and istiod's next push is accepted`,
      ),
    );
  }

  // 2. Pods whose Envoys do different things with the request.
  const sigs = new Map<string, PodEnvoy[]>();
  for (const x of ok) {
    const s = signature(views.get(x.pod) as EnvoyView);
    sigs.set(s, [...(sigs.get(s) ?? []), x]);
  }
  if (sigs.size > 1) {
    const right = ok.filter((x) => agreesWithPrediction(views.get(x.pod) as EnvoyView, p));
    const wrong = ok.filter((x) => !right.includes(x));
    const ns = nsOf(wrong[0]?.pod ?? '');
    const fix =
      right.length > 0 && wrong.every((x) => nsOf(x.pod) === ns && x.controller !== null)
        ? command(
            ['kubectl', '-n', ns, 'delete', 'pod', ...wrong.map((x) => x.pod.split('/')[1] ?? '')],
            `replaces the gateway Pod${wrong.length > 1 ? 's' : ''} whose Envoy serves an old configuration (${[...new Set(wrong.map((x) => `its ${x.controller?.kind} ${x.controller?.name}`))].join(', ')} creates a new one, which fetches the current configuration from istiod); ${right.map((x) => x.pod).join(', ')} keep${right.length === 1 ? 's' : ''} serving meanwhile`,
          )
        : manual(
            `find why the gateway Pods' Envoys differ (istiod's sync state: \`istioctl proxy-status\`), then restart the ones that do not serve what the cluster says${
              wrong.some((x) => x.controller === null)
                ? ` (${wrong
                    .filter((x) => x.controller === null)
                    .map((x) => x.pod)
                    .join(
                      ', ',
                    )}: no controller recreates it if deleted; restart its istio-proxy container the way it was created)`
                : ''
            }`,
          );
    return verdict(
      'EnvoyPodsDisagree',
      `the gateway Pods' Envoys do different things with ${request}: ${[...sigs.values()].map((xs) => `${xs.map((x) => x.pod).join(', ')}: ${describeMatch((views.get(xs[0]?.pod ?? '') as EnvoyView).match, req)}`).join('; ')}${right.length ? `; gwdoctor predicts ${predictedText(p)}, which ${right.map((x) => x.pod).join(', ')} serve${right.length === 1 ? 's' : ''}` : ''}`,
      lines,
      fix,
    );
  }

  // 3. The route gwdoctor predicts, missing or different in (all) the Envoys.
  const v = views.get(ok[0]?.pod ?? '') as EnvoyView;
  const who = ok.length > 1 ? `the Envoys of all ${ok.length} gateway Pods` : `Envoy in Pod ${ok[0]?.pod}`;
  const disconnected = ok.some((x) => x.read.kind === 'ok' && x.read.read.connected === false);
  const stale = disconnected ? ' Its xDS stream to istiod is down: it serves the last configuration it received.' : '';
  const staleFix = manual(
    `${disconnected ? "the Envoy is disconnected from istiod: check istiod (kubectl -n istio-system get pods) and the gateway Pod's logs, then restart the gateway Pods" : "istiod did not send what gwdoctor predicts: compare with istiod's view (`istioctl proxy-config routes` for the Pod) and istiod's logs for the route"}`,
  );
  if (v.match.kind === 'undetermined')
    return verdict(null, `${who}: ${describeMatch(v.match, req)}`, lines, null, false);
  if (v.match.kind !== 'route') {
    return verdict(
      'EnvoyRouteMissing',
      `gwdoctor predicts ${predictedText(p)} for ${request}, but ${who} has no such route: ${describeMatch(v.match, req)}.${stale}`,
      lines,
      staleFix,
    );
  }
  if (!agreesWithPrediction(v, p)) {
    return verdict(
      'EnvoyRouteDiffers',
      `gwdoctor predicts ${predictedText(p)} for ${request}, but ${who} routes it by ${describeMatch(v.match, req)}.${stale}`,
      lines,
      staleFix,
    );
  }

  // 4. The route's clusters: no healthy host while the EndpointSlices have ready endpoints.
  for (const x of ok) {
    const xv = views.get(x.pod) as EnvoyView;
    for (const c of xv.clusters) {
      const ready = p.ready[c.name] ?? [];
      if (ready.length === 0) continue; // the endpoints layer judges a Service without ready endpoints
      const healthy = (c.hosts ?? []).filter(isHealthy);
      if (healthy.length > 0) continue;
      const svc = serviceOfCluster(c.name);
      const per = ready.map((addr) => {
        const h = (c.hosts ?? []).find((y) => y.address === addr);
        return {
          addr,
          host: h,
          words: h
            ? h.health.map((w) => HEALTH_WORDS[w]).join('; ')
            : 'missing: Envoy has no such host in the cluster (istiod has not sent it)',
        };
      });
      const ejected = per.some((y) => y.host?.health.includes('failed_outlier_check'));
      const fix =
        c.hosts === null
          ? manual(
              `Envoy has no cluster ${c.name}: compare with istiod's view (\`istioctl proxy-config clusters\` for the Pod)`,
            )
          : per.every((y) => !y.host)
            ? manual(
                `Envoy has not received the ready endpoints of ${svc ? `Service ${svc.namespace}/${svc.service}` : c.name}: check the Envoy's connection to istiod (\`istioctl proxy-status\`)`,
              )
            : svc
              ? command(
                  ['kubectl', '-n', svc.namespace, 'get', 'pods', '-o', 'wide'],
                  `${ejected ? `Envoy ejected the backend${per.length > 1 ? 's' : ''} after errors (outlier detection): look at the Pods' logs and fix what answers 5xx or refuses connections; Envoy takes a host back after its ejection time` : "find why the backend fails Envoy's health checks"}`,
                )
              : null;
      return verdict(
        'EnvoyNoHealthyHost',
        `the EndpointSlices list ${ready.length} ready endpoint${ready.length > 1 ? 's' : ''} for ${svc ? `Service ${svc.namespace}/${svc.service} port ${svc.port}` : c.name}, but Envoy in Pod ${x.pod} has no healthy host in cluster ${c.name}: ${per.map((y) => `${y.addr} ${y.words}`).join('; ')}: Envoy answers 503 "no healthy upstream"`,
        lines,
        fix,
      );
    }
  }
  return verdict(
    null,
    `${who} ${ok.length > 1 ? 'agree and serve' : 'serves'} what gwdoctor predicts: ${describeMatch(v.match, req)}${disconnected ? ' (but its xDS stream to istiod is down)' : ''}`,
    lines,
  );
}
