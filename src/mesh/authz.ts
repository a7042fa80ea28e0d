// Istio AuthorizationPolicy, as istiod turns it into Envoy RBAC filters for one proxy, evaluated for one request.
// Sources (istio/istio at the pinned 1.31-dev module):
//  * which policies reach a proxy: pilot/pkg/model/authorization.go ListAuthorizationPolicies (the root namespace's
//    and the workload's own namespace's policies, oldest first) and pilot/pkg/model/policyattachment.go
//    ShouldAttachPolicy: for a Gateway API gateway (its Pods carry gateway.networking.k8s.io/gateway-name) a policy
//    with targetRefs attaches only through a targetRef {group gateway.networking.k8s.io, kind Gateway, name <gw>} from
//    the gateway's own namespace (a targetRef namespace, if set, must be that one too); a policy without targetRefs
//    falls back to its selector (ENABLE_SELECTOR_BASED_K8S_GATEWAY_POLICY, default true; pilot/pkg/features), and a
//    policy without selector selects every workload of its namespace (and, in the root namespace, of the mesh).
//  * how they are enforced: pilot/pkg/security/authz/builder/builder.go: CUSTOM (ext_authz) first, then DENY, then
//    ALLOW; a policy with no rules generates rbacPolicyMatchNever (an
//    ALLOW policy without rules allows nothing, a DENY policy without rules denies nothing); policies annotated
//    istio.io/dry-run: "true" go to shadow rules and are not enforced; each rule becomes the Envoy policy
//    "ns[<ns>]-policy[<name>]-rule[<i>]". With any ALLOW policy present, a request that no ALLOW rule matches is
//    denied: 403 "RBAC: access denied".
//  * what a rule matches: pilot/pkg/security/authz/model (a rule matches when one of its `from` AND one of its `to`
//    AND every `when` match; inside a source or an operation every field set must match; values of one field are ORed;
//    `not*` fields exclude). Strings: "*" any, "prefix*", "*suffix", else exact (pilot/pkg/security/authz/matcher);
//    hosts are compared case-insensitively. principals/namespaces come from the peer's mTLS certificate: a request that
//    reaches the ingress gateway from outside the mesh has none, so such a field never matches there.

import type {
  AuthorizationPolicy,
  AuthzOperation,
  AuthzRule,
  AuthzSource,
  PolicyTargetRef,
} from '../cluster/objects.js';
import { describe } from '../cluster/objects.js';

export const GATEWAY_NAME_LABEL = 'gateway.networking.k8s.io/gateway-name';
/** The mesh config's rootNamespace default (istio.io/api mesh/v1alpha1 MeshConfig.root_namespace). */
export const DEFAULT_ROOT_NAMESPACE = 'istio-system';

/** The request as the proxy sees it. */
export interface MeshRequest {
  host: string;
  path: string;
  method: string;
  /** The port the proxy received it on (the gateway's container port). */
  port: number | null;
  /** The peer's identity ("cluster.local/ns/<ns>/sa/<sa>"), null when the peer is outside the mesh (plaintext). */
  principal: string | null;
}

/** The workload whose proxy enforces the policies. */
export interface MeshWorkload {
  namespace: string;
  labels: Record<string, string>;
  /** Gateway API gateway (or waypoint) name: its Pods' gateway.networking.k8s.io/gateway-name label. */
  gatewayName: string | null;
  isWaypoint: boolean;
}

export type Action = 'ALLOW' | 'DENY' | 'AUDIT' | 'CUSTOM';

export function actionOf(p: AuthorizationPolicy): Action | null {
  const a = p.spec?.action ?? 'ALLOW';
  return a === 'ALLOW' || a === 'DENY' || a === 'AUDIT' || a === 'CUSTOM' ? a : null;
}

export function targetRefsOf(p: AuthorizationPolicy): PolicyTargetRef[] {
  const refs = p.spec?.targetRefs ?? [];
  return refs.length === 0 && p.spec?.targetRef ? [p.spec.targetRef] : refs;
}

const isGatewayRef = (r: PolicyTargetRef) => (r.group ?? '') === 'gateway.networking.k8s.io' && r.kind === 'Gateway';

export function isDryRun(p: AuthorizationPolicy): boolean {
  return (p.metadata.annotations?.['istio.io/dry-run'] ?? '').toLowerCase() === 'true';
}

/** Why a policy reaches the workload's proxy (for evidence), or null when it does not (ShouldAttachPolicy). */
export function attachesTo(p: AuthorizationPolicy, w: MeshWorkload, rootNs: string): string | null {
  const ns = p.metadata.namespace ?? 'default';
  if (ns !== rootNs && ns !== w.namespace) return null;
  const refs = targetRefsOf(p);
  const selector = p.spec?.selector?.matchLabels;
  const selected = !selector || Object.entries(selector).every(([k, v]) => w.labels[k] === v);
  if (w.gatewayName === null) {
    if (refs.length > 0) return null;
    return selected
      ? selector
        ? 'its selector matches the Pod labels'
        : ns === rootNs
          ? 'no selector, in the root namespace'
          : 'no selector, in the workload namespace'
      : null;
  }
  if (refs.length === 0) {
    if (w.isWaypoint) return null; // waypoints never use selectors
    if (!selected) return null;
    return selector
      ? `its selector matches the gateway Pods' labels`
      : ns === rootNs
        ? `no selector: a root-namespace (${rootNs}) policy applies to every workload`
        : `no selector: applies to every workload of namespace ${ns}`;
  }
  for (const r of refs) {
    if (ns !== w.namespace) continue;
    if (r.namespace && r.namespace !== w.namespace) continue;
    if (isGatewayRef(r) && r.name === w.gatewayName) return `targetRefs names Gateway ${ns}/${w.gatewayName}`;
  }
  return null;
}

/**
 * A policy that names the gateway in targetRefs but never reaches it (policyattachment.go: a Gateway targetRef matches
 * only from the gateway's own namespace, and a targetRef namespace other than the policy's never matches):
 * `sameNameHere` says whether a Gateway of that name exists in the policy's own namespace (then it targets that one).
 */
export function namesGatewayFromElsewhere(
  p: AuthorizationPolicy,
  w: MeshWorkload,
  sameNameHere: boolean,
): string | null {
  if (w.gatewayName === null) return null;
  const ns = p.metadata.namespace ?? 'default';
  for (const r of targetRefsOf(p)) {
    if (!isGatewayRef(r) || r.name !== w.gatewayName) continue;
    if (
      ns !== w.namespace &&
      (r.namespace ?? w.namespace) === w.namespace &&
      !(r.namespace === undefined && sameNameHere)
    ) {
      return `its targetRef names Gateway ${w.gatewayName}, but the policy is in namespace ${ns} and attaches only to a Gateway of its own namespace: Istio never applies it to ${w.namespace}/${w.gatewayName}`;
    }
    if (ns === w.namespace && r.namespace && r.namespace !== ns)
      return `its targetRef's namespace ${r.namespace} is not the policy's own: Istio never matches it`;
  }
  return null;
}

/** Istio's string match: "*" any non-empty, "prefix*", "*suffix", else exact. */
export function strMatch(pattern: string, value: string, caseInsensitive = false): boolean {
  const p = caseInsensitive ? pattern.toLowerCase() : pattern;
  const v = caseInsensitive ? value.toLowerCase() : value;
  if (p === '*') return v !== '';
  if (p.startsWith('*')) return v.endsWith(p.slice(1));
  if (p.endsWith('*')) return v.startsWith(p.slice(0, -1));
  return p === v;
}

/** match, no-match, or unknown (gwdoctor cannot know the value: the client's address, a header, a JWT). */
export type Tri = 'match' | 'no-match' | 'unknown';
interface Judged {
  result: Tri;
  /** What decided (or what gwdoctor could not know). */
  why: string;
}

const and = (parts: Judged[]): Judged => {
  const no = parts.find((p) => p.result === 'no-match');
  if (no) return no;
  const unk = parts.find((p) => p.result === 'unknown');
  if (unk) return unk;
  return {
    result: 'match',
    why: parts
      .map((p) => p.why)
      .filter(Boolean)
      .join(', '),
  };
};

const or = (parts: Judged[], none: string): Judged => {
  const yes = parts.find((p) => p.result === 'match');
  if (yes) return yes;
  const unk = parts.find((p) => p.result === 'unknown');
  if (unk) return unk;
  return parts[0] ?? { result: 'no-match', why: none };
};

/** One field with values and not-values, for a value gwdoctor knows (null: the request has none). */
function field(
  name: string,
  values: string[] | null | undefined,
  notValues: string[] | null | undefined,
  value: string | null,
  ci = false,
): Judged | null {
  if (values == null && notValues == null) return null;
  if (values != null && values.length > 0) {
    if (value === null || !values.some((v) => strMatch(v, value, ci)))
      return { result: 'no-match', why: `${name} ${value ?? '(none)'} is not in [${values.join(', ')}]` };
  }
  if (notValues != null && notValues.length > 0 && value !== null && notValues.some((v) => strMatch(v, value, ci))) {
    return {
      result: 'no-match',
      why: `${name} ${value} is in not${name[0]?.toUpperCase()}${name.slice(1)} [${notValues.join(', ')}]`,
    };
  }
  return { result: 'match', why: values?.length ? `${name} ${value}` : '' };
}

const nsOfPrincipal = (p: string | null) => (p ? (/\/ns\/([^/]+)\//.exec(p)?.[1] ?? null) : null);
const saOfPrincipal = (p: string | null) =>
  p ? (/\/ns\/([^/]+)\/sa\/([^/]+)$/.exec(p)?.slice(1).join('/') ?? null) : null;

function unknownField(
  name: string,
  values: string[] | null | undefined,
  notValues: string[] | null | undefined,
): Judged | null {
  if (!values?.length && !notValues?.length) return null;
  return {
    result: 'unknown',
    why: `${name} (${[...(values ?? []), ...(notValues ?? []).map((v) => `not ${v}`)].join(', ')}) depends on the client, which gwdoctor cannot know`,
  };
}

function sourceMatch(s: AuthzSource, r: MeshRequest): Judged {
  const parts = [
    field('principal', s.principals, s.notPrincipals, r.principal),
    field('namespace', s.namespaces, s.notNamespaces, nsOfPrincipal(r.principal)),
    field('serviceAccount', s.serviceAccounts, s.notServiceAccounts, saOfPrincipal(r.principal)),
    unknownField('requestPrincipals', s.requestPrincipals, s.notRequestPrincipals),
    unknownField('ipBlocks', s.ipBlocks, s.notIpBlocks),
    unknownField('remoteIpBlocks', s.remoteIpBlocks, s.notRemoteIpBlocks),
  ].filter((x): x is Judged => x !== null);
  return and(parts);
}

function operationMatch(o: AuthzOperation, r: MeshRequest): Judged {
  const path = r.path.split('?')[0] ?? '/';
  const parts = [
    field('host', o.hosts, o.notHosts, r.host, true),
    field('port', o.ports, o.notPorts, r.port === null ? null : String(r.port)),
    field('method', o.methods, o.notMethods, r.method),
    field('path', o.paths, o.notPaths, path),
  ].filter((x): x is Judged => x !== null);
  if ((o.ports?.length || o.notPorts?.length) && r.port === null)
    return { result: 'unknown', why: 'ports: the gateway port is not known' };
  return and(parts);
}

function whenMatch(c: NonNullable<AuthzRule['when']>[number], r: MeshRequest): Judged {
  const known: Record<string, string | null> = {
    'source.principal': r.principal,
    'source.namespace': nsOfPrincipal(r.principal),
    'destination.port': r.port === null ? null : String(r.port),
    'request.auth.principal': null,
  };
  if (!(c.key in known))
    return { result: 'unknown', why: `when ${c.key} depends on the request or client, which gwdoctor cannot know` };
  return field(c.key, c.values, c.notValues, known[c.key] ?? null) ?? { result: 'match', why: '' };
}

/** Does the rule match the request? (authz/model: from OR, to OR, when AND; the three ANDed.) */
export function ruleMatches(rule: AuthzRule, r: MeshRequest): Judged {
  const from = rule.from?.length
    ? or(
        rule.from.map((f) => sourceMatch(f.source ?? {}, r)),
        'no source matches',
      )
    : { result: 'match' as const, why: '' };
  const to = rule.to?.length
    ? or(
        rule.to.map((t) => operationMatch(t.operation ?? {}, r)),
        'no operation matches',
      )
    : { result: 'match' as const, why: '' };
  const when = and((rule.when ?? []).map((c) => whenMatch(c, r)));
  const all = and([from, to, when]);
  return all.result === 'match'
    ? { result: 'match', why: all.why || 'the rule has no conditions that exclude it' }
    : all;
}

export interface RuleHit {
  policy: AuthorizationPolicy;
  index: number;
  why: string;
}

export interface PolicyOnPath {
  policy: AuthorizationPolicy;
  action: Action;
  /** Why it reaches this proxy. */
  attached: string;
  dryRun: boolean;
}

export type AuthzDecision =
  | { kind: 'allowed'; by: RuleHit | null; policies: PolicyOnPath[] }
  /** `badProvider`: a CUSTOM policy whose provider the mesh config does not define, which istiod turns into a DENY. */
  | { kind: 'denied'; by: RuleHit; policies: PolicyOnPath[]; badProvider?: string }
  | {
      kind: 'not-allowed';
      allow: PolicyOnPath[];
      misses: { policy: AuthorizationPolicy; why: string }[];
      policies: PolicyOnPath[];
    }
  | { kind: 'custom'; by: RuleHit; provider: string; policies: PolicyOnPath[] }
  | { kind: 'unknown'; by: RuleHit; action: Action; policies: PolicyOnPath[] };

/** The policies that reach the workload, oldest first (authorization.go sorts by creation time), with why. */
export function policiesFor(all: AuthorizationPolicy[], w: MeshWorkload, rootNs: string): PolicyOnPath[] {
  return all
    .map((policy) => ({ policy, action: actionOf(policy), attached: attachesTo(policy, w, rootNs) }))
    .filter(
      (x): x is { policy: AuthorizationPolicy; action: Action; attached: string } =>
        x.attached !== null && x.action !== null,
    )
    .map((x) => ({ ...x, dryRun: isDryRun(x.policy) }))
    .sort(
      (a, b) =>
        (a.policy.metadata.creationTimestamp ?? '').localeCompare(b.policy.metadata.creationTimestamp ?? '') ||
        describe(a.policy).localeCompare(describe(b.policy)),
    );
}

/**
 * Evaluate as Envoy would with the filters builder.go generates: CUSTOM, then DENY, then ALLOW. `providers`: the mesh
 * config's extensionProviders names (null: not known). A CUSTOM policy whose provider is not among them gets no
 * ext_authz filter: istiod generates a DENY RBAC filter from its rules instead (builder.go getBadCustomDenyRules,
 * "failed to process CUSTOM action ..., will generate deny configs").
 */
export function decide(policies: PolicyOnPath[], r: MeshRequest, providers: string[] | null = null): AuthzDecision {
  const enforced = policies.filter((p) => !p.dryRun);
  const hits = (action: Action) =>
    enforced
      .filter((p) => p.action === action)
      .flatMap((p) =>
        (p.policy.spec?.rules ?? []).map((rule, index) => ({
          p,
          index,
          m: rule ? ruleMatches(rule, r) : { result: 'no-match' as Tri, why: 'nil rule' },
        })),
      );
  for (const h of hits('CUSTOM')) {
    if (h.m.result === 'no-match') continue;
    const provider = h.p.policy.spec?.provider?.name ?? '';
    const by = { policy: h.p.policy, index: h.index, why: h.m.why };
    if (providers !== null && !providers.includes(provider)) {
      if (h.m.result === 'match') return { kind: 'denied', by, policies, badProvider: provider || '(none)' };
      return { kind: 'unknown', action: 'DENY', by, policies };
    }
    return { kind: 'custom', by, provider: provider || '(none)', policies };
  }
  const deny = hits('DENY');
  const denied = deny.find((h) => h.m.result === 'match');
  if (denied)
    return { kind: 'denied', by: { policy: denied.p.policy, index: denied.index, why: denied.m.why }, policies };
  const denyUnknown = deny.find((h) => h.m.result === 'unknown');
  if (denyUnknown)
    return {
      kind: 'unknown',
      action: 'DENY',
      by: { policy: denyUnknown.p.policy, index: denyUnknown.index, why: denyUnknown.m.why },
      policies,
    };
  const allowPolicies = enforced.filter((p) => p.action === 'ALLOW');
  if (allowPolicies.length === 0) return { kind: 'allowed', by: null, policies };
  const allow = hits('ALLOW');
  const allowed = allow.find((h) => h.m.result === 'match');
  if (allowed)
    return { kind: 'allowed', by: { policy: allowed.p.policy, index: allowed.index, why: allowed.m.why }, policies };
  const allowUnknown = allow.find((h) => h.m.result === 'unknown');
  if (allowUnknown)
    return {
      kind: 'unknown',
      action: 'ALLOW',
      by: { policy: allowUnknown.p.policy, index: allowUnknown.index, why: allowUnknown.m.why },
      policies,
    };
  const misses = allowPolicies.map((p) => {
    const rules = p.policy.spec?.rules ?? [];
    if (rules.length === 0)
      return { policy: p.policy, why: 'it has no rules: an ALLOW policy without rules allows nothing' };
    const first = allow.find((h) => h.p === p);
    return {
      policy: p.policy,
      why:
        rules.map((_, i) => `rules[${i}]: ${allow.find((h) => h.p === p && h.index === i)?.m.why ?? '?'}`).join('; ') ||
        (first?.m.why ?? ''),
    };
  });
  return { kind: 'not-allowed', allow: allowPolicies, misses, policies };
}

/** The mesh config's extensionProviders names (istio.io/api MeshConfig.extension_providers), from its YAML text. */
export function extensionProviders(mesh: unknown): string[] {
  const list = (mesh as { extensionProviders?: { name?: unknown }[] } | null)?.extensionProviders;
  return Array.isArray(list) ? list.map((p) => p?.name).filter((n): n is string => typeof n === 'string') : [];
}

/** The Envoy RBAC policy name istiod generates for a rule (builder.go policyName). */
export function envoyPolicyName(p: AuthorizationPolicy, index: number): string {
  return `ns[${p.metadata.namespace ?? 'default'}]-policy[${p.metadata.name}]-rule[${index}]`;
}
