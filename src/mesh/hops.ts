// The hops after the ingress gateway, for the request gwdoctor diagnoses: the waypoint (when ingress traffic uses it),
// ztunnel at the destination Pod (ambient, L4 only) and the destination Pod's sidecar (if one is injected).
// Sources (istio/istio at the pinned module v0.0.0-20260827124520-eed52ebb66ad, scripts/build-istiod.sh):
//  * Which policies reach a waypoint: pilot/pkg/model/policyattachment.go ShouldAttachPolicy with IsWaypoint: a
//    targetRef to a Service (or ServiceEntry) the waypoint serves, from the Service's own namespace; a targetRef to the
//    waypoint Gateway from its namespace; a targetRef to GatewayClass istio-waypoint from the root namespace. Waypoints
//    never use selectors. The waypoint's RBAC filter is built like any proxy's (pilot/pkg/security/authz/builder):
//    CUSTOM, DENY, ALLOW; src/mesh/authz.ts decide(). The peer the waypoint sees is the gateway (HBONE mTLS): its
//    principal is the gateway's ServiceAccount identity.
//  * ztunnel: pilot/pkg/serviceregistry/ambient/authorization.go convertAuthorizationPolicy: a policy with targetRefs is
//    not for ztunnel; CUSTOM/AUDIT are refused (ZtunnelAccepted=False UnsupportedValue), a dry-run policy too unless
//    PILOT_ENABLE_WDS_DRY_RUN_AUTHZ; scope WORKLOAD_SELECTOR (selector), NAMESPACE (no selector) or GLOBAL (no selector
//    in the root namespace). handleRule keeps only L4 attributes (ports, ipBlocks, principals, namespaces,
//    serviceAccounts, when source.ip/source.namespace/source.principal/destination.ip/destination.port): each `to`
//    becomes a match of its ports only, each `from` a match of its L4 fields; an ALLOW rule with any L7 attribute
//    (hosts, methods, paths, their not*, requestPrincipals, remoteIpBlocks, other when keys) is dropped entirely
//    ("rules matching HTTP attributes are omitted"); a DENY rule keeps its L4 part. ZtunnelAccepted carries the
//    UnsupportedValue message. Which selector policies reach a workload: workloads.go buildWorkloadPolicies (its own
//    namespace's and the root namespace's whose selector matches).
//  * How ztunnel evaluates (istio/ztunnel src/rbac.rs Authorization::matches, not pinned by the lane): a policy without
//    rules matches nothing; a rule matches when every clause does; a clause when one of its non-empty matches does: a
//    match with no field set never matches (test rbac_empty_policy). So a DENY rule whose `to` had only HTTP fields
//    becomes a clause with one empty match and never matches at ztunnel. DENY first, then ALLOW (any ALLOW policy and
//    none matches: denied). The source identity is the peer's: the waypoint's when the traffic came through one, else
//    the gateway's. A denied connection is reset: the gateway answers 503.
//  * The sidecar: the Pod's own proxy with the selector policies of its namespace and the root namespace
//    (ShouldAttachPolicy for a non-gateway workload), L7, decide(). The principal is the gateway's only when the
//    gateway talks mTLS to it (ISTIO_MUTUAL, or automatic mTLS to a Pod labelled security.istio.io/tlsMode=istio).

import type { AuthorizationPolicy, AuthzRule, Namespace, Pod, Service } from '../cluster/objects.js';
import { describe } from '../cluster/objects.js';
import {
  actionOf,
  decide,
  isDryRun,
  policiesFor,
  strMatch,
  targetRefsOf,
  type AuthzDecision,
  type MeshRequest,
  type PolicyOnPath,
  type Tri,
} from './authz.js';

/** The waypoint a backend's ingress traffic goes through (bound by istiod and used for ingress). */
export interface HopWaypoint {
  name: string;
  namespace: string;
}

// ------------------------------------------------------------------------------------------------ waypoint

/** Why a policy reaches the waypoint for this Service (policyattachment.go, IsWaypoint), or null. */
export function waypointAttach(ap: AuthorizationPolicy, svc: Service, wp: HopWaypoint, rootNs: string): string | null {
  const ns = ap.metadata.namespace ?? 'default';
  const svcNs = svc.metadata.namespace ?? 'default';
  for (const r of targetRefsOf(ap)) {
    const group = r.group ?? '';
    if (group === '' && r.kind === 'Service' && r.name === svc.metadata.name && ns === svcNs)
      return `targetRefs names Service ${svcNs}/${svc.metadata.name}`;
    if (
      group === 'gateway.networking.k8s.io' &&
      r.kind === 'GatewayClass' &&
      r.name === 'istio-waypoint' &&
      ns === rootNs
    )
      return `targetRefs names GatewayClass istio-waypoint from the root namespace ${rootNs}`;
    if (ns !== wp.namespace || (r.namespace && r.namespace !== wp.namespace)) continue;
    if (group === 'gateway.networking.k8s.io' && r.kind === 'Gateway' && r.name === wp.name)
      return `targetRefs names waypoint Gateway ${wp.namespace}/${wp.name}`;
  }
  return null;
}

export function waypointPoliciesFor(
  all: AuthorizationPolicy[],
  svc: Service,
  wp: HopWaypoint,
  rootNs: string,
): PolicyOnPath[] {
  return all
    .map((policy) => ({ policy, action: actionOf(policy), attached: waypointAttach(policy, svc, wp, rootNs) }))
    .filter(
      (x): x is { policy: AuthorizationPolicy; action: NonNullable<ReturnType<typeof actionOf>>; attached: string } =>
        x.attached !== null && x.action !== null,
    )
    .map((x) => ({ ...x, dryRun: isDryRun(x.policy) }))
    .sort(
      (a, b) =>
        (a.policy.metadata.creationTimestamp ?? '').localeCompare(b.policy.metadata.creationTimestamp ?? '') ||
        describe(a.policy).localeCompare(describe(b.policy)),
    );
}

// ------------------------------------------------------------------------------------------------ ztunnel

/** One ztunnel match: the L4 fields istiod keeps (security.Match). Empty: never matches (ztunnel rbac.rs). */
export interface ZMatch {
  ports?: string[] | undefined;
  notPorts?: string[] | undefined;
  principals?: string[] | undefined;
  notPrincipals?: string[] | undefined;
  namespaces?: string[] | undefined;
  notNamespaces?: string[] | undefined;
  /** "ns/sa" (a bare "sa" is in the policy's namespace: stringToServiceAccountMatch). */
  serviceAccounts?: string[] | undefined;
  notServiceAccounts?: string[] | undefined;
  /** Source or destination addresses: gwdoctor does not judge them (unknown). */
  ips?: string[] | undefined;
}

/** A rule as ztunnel gets it: clauses, each a list of matches (one must match), all clauses must match. */
export interface ZRule {
  index: number;
  clauses: ZMatch[][];
}

export type ZtunnelPolicy =
  | {
      kind: 'enforced';
      policy: AuthorizationPolicy;
      action: 'ALLOW' | 'DENY';
      rules: ZRule[];
      l7: string[];
      droppedRules: number[];
    }
  /** istiod refuses it for ztunnel (ZtunnelAccepted=False UnsupportedValue). */
  | { kind: 'refused'; policy: AuthorizationPolicy; why: string };

const L4_WHEN = new Set(['source.ip', 'source.namespace', 'source.principal', 'destination.ip', 'destination.port']);
const some = (xs: string[] | undefined) => (xs && xs.length > 0 ? xs : undefined);

/** convertAuthorizationPolicy: null when the policy is not for ztunnel (targetRefs). */
export function ztunnelPolicy(ap: AuthorizationPolicy): ZtunnelPolicy | null {
  if (targetRefsOf(ap).length > 0) return null;
  if (isDryRun(ap))
    return {
      kind: 'refused',
      policy: ap,
      why: 'a dry-run policy: ztunnel gets it only with PILOT_ENABLE_WDS_DRY_RUN_AUTHZ',
    };
  const a = ap.spec?.action ?? 'ALLOW';
  if (a !== 'ALLOW' && a !== 'DENY')
    return { kind: 'refused', policy: ap, why: `ztunnel does not support the ${a} action` };
  const l7 = new Set<string>();
  const rules: ZRule[] = [];
  const dropped: number[] = [];
  (ap.spec?.rules ?? []).forEach((rule: AuthzRule | null, index) => {
    if (!rule) return;
    let ruleL7 = false;
    const clauses: ZMatch[][] = [];
    const to: ZMatch[] = (rule.to ?? []).map((t) => {
      const o = t.operation ?? {};
      for (const f of ['hosts', 'notHosts', 'methods', 'notMethods', 'paths', 'notPaths'] as const) {
        if (o[f]?.length) {
          ruleL7 = true;
          l7.add(f);
        }
      }
      return { ports: some(o.ports), notPorts: some(o.notPorts) };
    });
    const from: ZMatch[] = (rule.from ?? []).map((f) => {
      const s = f.source ?? {};
      for (const k of ['remoteIpBlocks', 'notRemoteIpBlocks', 'requestPrincipals', 'notRequestPrincipals'] as const) {
        if (s[k]?.length) {
          ruleL7 = true;
          l7.add(k);
        }
      }
      const ns = ap.metadata.namespace ?? 'default';
      const sa = (xs: string[] | undefined) => some(xs?.map((x) => (x.includes('/') ? x : `${ns}/${x}`)));
      return {
        principals: some(s.principals),
        notPrincipals: some(s.notPrincipals),
        namespaces: some(s.namespaces),
        notNamespaces: some(s.notNamespaces),
        serviceAccounts: sa(s.serviceAccounts),
        notServiceAccounts: sa(s.notServiceAccounts),
        ips: some([...(s.ipBlocks ?? []), ...(s.notIpBlocks ?? [])]),
      };
    });
    if (to.length) clauses.push(to);
    if (from.length) clauses.push(from);
    for (const w of rule.when ?? []) {
      if (!L4_WHEN.has(w.key)) {
        ruleL7 = true;
        l7.add(w.key);
      }
      const m: ZMatch = {};
      if (w.key === 'source.namespace')
        Object.assign(m, { namespaces: some(w.values), notNamespaces: some(w.notValues) });
      if (w.key === 'source.principal')
        Object.assign(m, { principals: some(w.values), notPrincipals: some(w.notValues) });
      if (w.key === 'destination.port') Object.assign(m, { ports: some(w.values), notPorts: some(w.notValues) });
      if (w.key === 'source.ip' || w.key === 'destination.ip')
        Object.assign(m, { ips: some([...(w.values ?? []), ...(w.notValues ?? [])]) });
      clauses.push([m]);
    }
    if (a === 'ALLOW' && ruleL7) {
      dropped.push(index);
      return;
    }
    rules.push({ index, clauses });
  });
  return { kind: 'enforced', policy: ap, action: a, rules, l7: [...l7].sort(), droppedRules: dropped };
}

/** The connection ztunnel sees at the destination Pod. */
export interface ZConn {
  /** The peer's identity: the waypoint's, else the gateway's ("cluster.local/ns/<ns>/sa/<sa>"). */
  principal: string;
  /** The Pod port the connection is for. */
  port: number | null;
}

const isEmpty = (m: ZMatch) => Object.values(m).every((v) => v === undefined || (Array.isArray(v) && v.length === 0));
const nsOf = (p: string) => /\/ns\/([^/]+)\//.exec(p)?.[1] ?? '';
const saOf = (p: string) => /\/ns\/([^/]+)\/sa\/([^/]+)$/.exec(p)?.slice(1).join('/') ?? '';

function field(
  values: string[] | undefined,
  notValues: string[] | undefined,
  value: string,
  match: (p: string, v: string) => boolean,
): boolean {
  if (values && !values.some((p) => match(p, value))) return false;
  if (notValues && notValues.some((p) => match(p, value))) return false;
  return true;
}

function matchOne(m: ZMatch, c: ZConn): Tri {
  if (isEmpty(m)) return 'no-match';
  const port = c.port === null ? null : String(c.port);
  const ok =
    field(m.principals, m.notPrincipals, c.principal, (p, v) => strMatch(p, v)) &&
    field(m.namespaces, m.notNamespaces, nsOf(c.principal), (p, v) => strMatch(p, v)) &&
    field(m.serviceAccounts, m.notServiceAccounts, saOf(c.principal), (p, v) => p === v);
  if (!ok) return 'no-match';
  if ((m.ports || m.notPorts) && port === null) return 'unknown';
  if (port !== null && !field(m.ports, m.notPorts, port, (p, v) => p === v)) return 'no-match';
  if (m.ips) return 'unknown';
  return 'match';
}

/** Does the ztunnel rule match? (every clause: one of its matches) */
export function zRuleMatches(r: ZRule, c: ZConn): Tri {
  let result: Tri = 'match';
  for (const clause of r.clauses) {
    const rs = clause.map((m) => matchOne(m, c));
    const cr: Tri = rs.includes('match') ? 'match' : rs.includes('unknown') ? 'unknown' : 'no-match';
    if (cr === 'no-match') return 'no-match';
    if (cr === 'unknown') result = 'unknown';
  }
  return result;
}

export interface ZHit {
  policy: AuthorizationPolicy;
  index: number;
}

export type ZtunnelDecision =
  | { kind: 'allowed'; by: ZHit | null }
  | { kind: 'denied'; by: ZHit }
  | { kind: 'not-allowed'; allow: Extract<ZtunnelPolicy, { kind: 'enforced' }>[] }
  | { kind: 'unknown'; by: ZHit; action: 'ALLOW' | 'DENY' };

/** ztunnel's decision: DENY first, then ALLOW (rbac.rs; proxy/inbound assert_rbac). */
export function ztunnelDecide(policies: ZtunnelPolicy[], c: ZConn): ZtunnelDecision {
  const enforced = policies.filter((p): p is Extract<ZtunnelPolicy, { kind: 'enforced' }> => p.kind === 'enforced');
  const hits = (action: 'ALLOW' | 'DENY') =>
    enforced
      .filter((p) => p.action === action)
      .flatMap((p) => p.rules.map((r) => ({ policy: p.policy, index: r.index, m: zRuleMatches(r, c) })));
  const deny = hits('DENY');
  const d = deny.find((h) => h.m === 'match');
  if (d) return { kind: 'denied', by: { policy: d.policy, index: d.index } };
  const du = deny.find((h) => h.m === 'unknown');
  if (du) return { kind: 'unknown', action: 'DENY', by: { policy: du.policy, index: du.index } };
  const allowPolicies = enforced.filter((p) => p.action === 'ALLOW');
  if (allowPolicies.length === 0) return { kind: 'allowed', by: null };
  const allow = hits('ALLOW');
  const a = allow.find((h) => h.m === 'match');
  if (a) return { kind: 'allowed', by: { policy: a.policy, index: a.index } };
  const au = allow.find((h) => h.m === 'unknown');
  if (au) return { kind: 'unknown', action: 'ALLOW', by: { policy: au.policy, index: au.index } };
  return { kind: 'not-allowed', allow: allowPolicies };
}

// ------------------------------------------------------------------------------------------------ the path

/** Is an Istio sidecar injected into the Pod? (the injector's status annotation, or an istio-proxy container) */
export function hasSidecar(pod: Pod): boolean {
  return (
    !!pod.metadata.annotations?.['sidecar.istio.io/status'] ||
    (pod.spec?.containers ?? []).some((c) => c.name === 'istio-proxy')
  );
}

/** Does ztunnel handle the Pod's inbound traffic? (ambient namespace or Pod label, no sidecar, not opted out) */
export function ztunnelCaptures(pod: Pod, ns: Namespace | undefined): boolean {
  if (hasSidecar(pod)) return false;
  const podMode = pod.metadata.labels?.['istio.io/dataplane-mode'];
  if (podMode === 'none') return false;
  return podMode === 'ambient' || ns?.metadata.labels?.['istio.io/dataplane-mode'] === 'ambient';
}

export type HopResult =
  | { hop: 'waypoint'; at: string; principal: string | null; policies: PolicyOnPath[]; decision: AuthzDecision }
  | { hop: 'sidecar'; at: string; principal: string | null; policies: PolicyOnPath[]; decision: AuthzDecision }
  | { hop: 'ztunnel'; at: string; principal: string; policies: ZtunnelPolicy[]; decision: ZtunnelDecision };

export interface HopInput {
  service: Service;
  /** The Service port's targetPort when numeric (the Pod port), else the Service port. */
  podPort: number | null;
  servicePort: number;
  pod: Pod | null;
  namespace: Namespace | undefined;
  /** The waypoint ingress traffic goes through (bound and ingress-use-waypoint), or null. */
  waypoint: HopWaypoint | null;
  /** The waypoint Pods' ServiceAccount (default: the waypoint Gateway's name, as istiod's template names it). */
  waypointServiceAccount: string | null;
  gatewayPrincipal: string;
  /** Does the gateway reach the Pod's sidecar over Istio mTLS (then the sidecar sees its principal)? */
  gatewayMtlsToSidecar: boolean;
  trustDomain: string;
}

/** Every hop after the gateway for one backend, in order. */
export function hopsFor(all: AuthorizationPolicy[], h: HopInput, request: MeshRequest, rootNs: string): HopResult[] {
  const out: HopResult[] = [];
  let peer = h.gatewayPrincipal;
  if (h.waypoint) {
    const at = `waypoint ${h.waypoint.namespace}/${h.waypoint.name}`;
    const policies = waypointPoliciesFor(all, h.service, h.waypoint, rootNs);
    const r: MeshRequest = { ...request, port: h.servicePort, principal: h.gatewayPrincipal };
    out.push({ hop: 'waypoint', at, principal: h.gatewayPrincipal, policies, decision: decide(policies, r, null) });
    peer = `${h.trustDomain}/ns/${h.waypoint.namespace}/sa/${h.waypointServiceAccount ?? h.waypoint.name}`;
  }
  if (!h.pod) return out;
  const w = {
    namespace: h.pod.metadata.namespace ?? 'default',
    labels: h.pod.metadata.labels ?? {},
    gatewayName: null,
    isWaypoint: false,
  };
  const selected = policiesFor(all, w, rootNs);
  if (ztunnelCaptures(h.pod, h.namespace)) {
    const policies = selected.map((p) => ztunnelPolicy(p.policy)).filter((p): p is ZtunnelPolicy => p !== null);
    out.push({
      hop: 'ztunnel',
      at: `ztunnel for Pod ${h.pod.metadata.namespace}/${h.pod.metadata.name}`,
      principal: peer,
      policies,
      decision: ztunnelDecide(policies, { principal: peer, port: h.podPort }),
    });
  } else if (hasSidecar(h.pod)) {
    const principal = h.waypoint ? peer : h.gatewayMtlsToSidecar ? h.gatewayPrincipal : null;
    const r: MeshRequest = { ...request, port: h.podPort, principal };
    out.push({
      hop: 'sidecar',
      at: `sidecar of Pod ${h.pod.metadata.namespace}/${h.pod.metadata.name}`,
      principal,
      policies: selected,
      decision: decide(selected, r, null),
    });
  }
  return out;
}
