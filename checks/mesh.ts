// Layer 7: the request reaches a ready Pod only through what the mesh allows. Istio's AuthorizationPolicies at the
// ingress gateway are evaluated for GET host/path the way istiod builds the gateway's RBAC filters (src/mesh/authz.ts);
// then how the gateway connects to each backend (DestinationRule TLS) and whether the Pod accepts it (what the port
// speaks, sidecar or ambient, PeerAuthentication: src/mesh/upstream.ts); then the hops after the gateway, each with the
// AuthorizationPolicies it enforces: the waypoint ingress traffic uses, ztunnel at an ambient Pod (L4), the Pod's
// sidecar (src/mesh/hops.ts).

import type {
  AuthorizationPolicy,
  DestinationRule,
  Gateway,
  K8sObject,
  Namespace,
  PeerAuthentication,
  Pod,
  Service,
  ServicePort,
} from '../src/cluster/objects.js';
import { describe, nsName } from '../src/cluster/objects.js';
import { load as loadYaml } from 'js-yaml';
import { all as allOf, both, type ClusterView } from '../src/cluster/view.js';
import { ClusterAccessError } from '../src/errors.js';
import { emit, pass, skip, type Draft } from '../src/findings.js';
import { applyFix, command, GW_API, jsonPatch, manual, ptr, refOf } from '../src/fix/build.js';
import type { PathResolver } from '../src/gatewayapi/resolver.js';
import type { EndpointsStage, RouteStage, WaypointInfo } from '../src/gatewayapi/path.js';
import { layerMeta } from '../src/registry.js';
import { clusterLayer, type JudgeInput } from '../src/layer.js';
import type { EnvoyAnswer, Evidence, Facts, Target } from '../src/types.js';
import {
  decide,
  DEFAULT_ROOT_NAMESPACE,
  envoyPolicyName,
  extensionProviders,
  GATEWAY_NAME_LABEL,
  attachesTo,
  namesGatewayFromElsewhere,
  policiesFor,
  targetRefsOf,
  type AuthzDecision,
  type MeshRequest,
  type MeshWorkload,
  type PolicyOnPath,
} from '../src/mesh/authz.js';
import {
  destinationRuleFor,
  enrolment,
  peerModeFor,
  portSpeaks,
  tlsFor,
  upstreamFor,
  type Upstream,
} from '../src/mesh/upstream.js';
import { hopsFor, type HopResult, type ZtunnelPolicy } from '../src/mesh/hops.js';

/** A Service backend of the rule, with what the upstream judgement needs. */
export interface MeshBackend {
  service: Service;
  port: ServicePort;
  /** null when Pods cannot be known (manifests without Pods). */
  pods: Pod[] | null;
  namespace: Namespace | undefined;
}

type Matched = Extract<RouteStage, { kind: 'matched' }>;

/** A backend Service that names a waypoint (src/gatewayapi/waypoint.ts). */
export interface MeshWaypoint {
  service: Service;
  info: WaypointInfo;
}

export type MeshStage =
  | { kind: 'not-checked'; why: string; waypoints: MeshWaypoint[] }
  | { kind: 'forbidden'; why: string }
  | {
      kind: 'ok';
      gateway: Gateway;
      /** The gateway's Pod labels (null: no Pod known; the labels Istio's deployment gives it are assumed). */
      gatewayPod: Pod | null;
      workload: MeshWorkload;
      request: MeshRequest;
      rootNamespace: string;
      /** Where the root namespace came from. */
      rootFrom: string;
      /** The mesh config's extensionProviders (null: not known). */
      providers: string[] | null;
      /** The mesh's trust domain (mesh config trustDomain, default cluster.local). */
      trustDomain: string;
      authz: AuthorizationPolicy[];
      peer: PeerAuthentication[];
      destinationRules: DestinationRule[];
      backends: Service[];
      /** The Service backends with a port the Service has (the endpoints layer judged the rest). */
      upstreams: MeshBackend[];
      redirect: boolean;
      waypoints: MeshWaypoint[];
      /** Policies that look as if they protect (or open) the gateway but never reach it, with why. */
      unapplied: { policy: AuthorizationPolicy; why: string }[];
    };

/**
 * The mesh config (ConfigMap istio-system/istio, key `mesh`, what the istiod chart renders): its rootNamespace and
 * extensionProviders. A ConfigMap that does not exist means istiod's defaults (root namespace istio-system, no
 * providers); one that cannot be read (null) leaves the providers unknown.
 */
function meshConfig(v: ClusterView): { ns: string; from: string; providers: string[] | null; trustDomain: string } {
  const cm = v.configMap('istio-system', 'istio') as (K8sObject & { data?: Record<string, string> }) | null | undefined;
  let mesh: { rootNamespace?: unknown } | null = null;
  try {
    mesh = (loadYaml(cm?.data?.['mesh'] ?? '') as { rootNamespace?: unknown } | null) ?? null;
  } catch {
    mesh = null;
  }
  const providers = cm === null ? null : extensionProviders(mesh);
  const td = (mesh as { trustDomain?: unknown } | null)?.trustDomain;
  const trustDomain = typeof td === 'string' && td ? td : 'cluster.local';
  if (typeof mesh?.rootNamespace === 'string' && mesh.rootNamespace)
    return {
      ns: mesh.rootNamespace,
      from: 'ConfigMap istio-system/istio (mesh.rootNamespace)',
      providers,
      trustDomain,
    };
  return {
    ns: DEFAULT_ROOT_NAMESPACE,
    from: `the default (${cm ? 'ConfigMap istio-system/istio sets no rootNamespace' : cm === undefined ? 'no ConfigMap istio-system/istio' : 'the mesh config could not be read'})`,
    providers,
    trustDomain,
  };
}

/** The mesh stage: a synchronous function of this attempt's snapshot (src/cluster/view.ts), after the backend stages. */
export async function resolveMesh(p: PathResolver): Promise<MeshStage> {
  const rs = (await p.route()) as Matched;
  const es = await p.endpoints();
  return p.settle((v) => meshStage(v, p.target, rs, es));
}

function meshStage(v: ClusterView, target: Target, rs: Matched, es: EndpointsStage): MeshStage {
  const waypoints: MeshWaypoint[] = es.backends.flatMap((b) =>
    b.service && b.waypoint ? [{ service: b.service, info: b.waypoint }] : [],
  );
  let authz: AuthorizationPolicy[] | null;
  let peer: PeerAuthentication[] | null;
  let destinationRules: DestinationRule[] | null;
  try {
    // The three lists, read together (what Promise.all was).
    [[authz, peer], destinationRules] = both(
      () =>
        both(
          () => v.meshObjects('AuthorizationPolicy') as AuthorizationPolicy[] | null,
          () => v.meshObjects('PeerAuthentication') as PeerAuthentication[] | null,
        ),
      () => v.meshObjects('DestinationRule') as DestinationRule[] | null,
    );
  } catch (err) {
    if (err instanceof ClusterAccessError && err.kind === 'forbidden') return { kind: 'forbidden', why: err.message };
    throw err;
  }
  if (authz === null || peer === null || destinationRules === null) {
    return {
      kind: 'not-checked',
      why: 'the manifests hold no AuthorizationPolicy, PeerAuthentication or DestinationRule',
      waypoints,
    };
  }
  const gateway = rs.chosen.cand.gateway;
  const gwNs = gateway.metadata.namespace ?? 'default';
  // The gateway's Service and Pods (its port, its labels) and the mesh config's root namespace only matter when some
  // Istio policy exists: with none, none of them is read (fewer API requests per run).
  const svc =
    authz.length > 0 ? v.servicesByLabel(gwNs, { [GATEWAY_NAME_LABEL]: gateway.metadata.name })[0] : undefined;
  const pods = svc?.spec?.selector ? v.pods(gwNs, svc.spec.selector) : null;
  const gatewayPod = pods?.[0] ?? null;
  // Without a Pod, the labels Istio's kube-gateway template gives every gateway Pod (gateway/deploymentcontroller.go).
  const labels = gatewayPod?.metadata.labels ?? {
    [GATEWAY_NAME_LABEL]: gateway.metadata.name,
    'gateway.networking.k8s.io/gateway-class-name': gateway.spec.gatewayClassName,
  };
  const listenerPort = rs.chosen.cand.listener.port;
  const sp = (svc?.spec?.ports ?? []).find((x) => x.port === listenerPort);
  const port = typeof sp?.targetPort === 'number' ? sp.targetPort : listenerPort;
  const root =
    authz.length + peer.length + destinationRules.length > 0
      ? meshConfig(v)
      : {
          ns: DEFAULT_ROOT_NAMESPACE,
          from: 'the default (no Istio policy in the cluster)',
          providers: null,
          trustDomain: 'cluster.local',
        };
  const backends = es.backends.map((b) => b.service).filter((s): s is Service => s !== undefined);
  const withPort = es.backends.flatMap((b) => {
    const sport = b.service?.spec?.ports?.find((x) => x.port === b.ref.port);
    return b.service && sport ? [{ b, service: b.service, port: sport }] : [];
  });
  const namespaces = allOf(withPort.map((x) => () => v.namespace(x.service.metadata.namespace ?? 'default')));
  const upstreams: MeshBackend[] = withPort.map((x, i) => ({
    service: x.service,
    port: x.port,
    pods: x.b.pods,
    namespace: namespaces[i],
  }));
  const workload: MeshWorkload = { namespace: gwNs, labels, gatewayName: gateway.metadata.name, isWaypoint: false };
  const unapplied = unappliedPolicies(v, authz, workload, root.ns);
  return {
    kind: 'ok',
    gateway,
    gatewayPod,
    workload,
    unapplied,
    request: { host: target.host, path: target.path, method: 'GET', port, principal: null },
    rootNamespace: root.ns,
    rootFrom: root.from,
    providers: root.providers,
    trustDomain: root.trustDomain,
    authz,
    peer,
    destinationRules,
    backends,
    upstreams,
    waypoints,
    redirect: rs.redirect !== null,
  };
}

/**
 * Policies that name the gateway but never reach it, and policies of the gateway's namespace whose selector matches no
 * Pod there (e.g. istio: ingressgateway, the classic ingress Deployment's label): each looks as if it acted on the
 * host, and does nothing.
 */
function unappliedPolicies(
  v: ClusterView,
  authz: AuthorizationPolicy[],
  w: MeshWorkload,
  rootNs: string,
): { policy: AuthorizationPolicy; why: string }[] {
  const gateways = v.gateways();
  const judged = authz.map((ap) => {
    const ns = ap.metadata.namespace ?? 'default';
    const sameNameHere = gateways.some(
      (g) => g.metadata.name === w.gatewayName && (g.metadata.namespace ?? 'default') === ns,
    );
    const why = namesGatewayFromElsewhere(ap, w, sameNameHere);
    if (why) return { ap, ns, why, selector: undefined };
    const selector = ap.spec?.selector?.matchLabels;
    if (
      ns !== w.namespace ||
      ns === rootNs ||
      !selector ||
      Object.keys(selector).length === 0 ||
      (ap.spec?.targetRefs ?? []).length > 0 ||
      attachesTo(ap, w, rootNs)
    )
      return { ap, ns, why: null, selector: undefined };
    return { ap, ns, why: null, selector };
  });
  // The Pods each remaining policy's selector matches, read together.
  const pods = allOf(judged.map((j) => () => (j.selector ? v.pods(j.ns, j.selector) : null)));
  const out: { policy: AuthorizationPolicy; why: string }[] = [];
  judged.forEach((j, i) => {
    if (j.why) {
      out.push({ policy: j.ap, why: j.why });
      return;
    }
    const matched = pods[i];
    if (j.selector && matched !== null && matched !== undefined && matched.length === 0) {
      out.push({
        policy: j.ap,
        why: `its selector ${Object.entries(j.selector)
          .map(([k, val]) => `${k}=${val}`)
          .join(
            ',',
          )} matches no Pod of namespace ${j.ns}, and not the Pods of Gateway ${j.ns}/${w.gatewayName}: it acts on nothing`,
      });
    }
  });
  return out;
}

const req = (r: MeshRequest) => `GET ${r.host}${r.path}`;

function policyLines(on: PolicyOnPath[], gw: string, providers: string[] | null): Evidence[] {
  return on.map((x) => {
    const provider = x.policy.spec?.provider?.name ?? '';
    const bad = x.action === 'CUSTOM' && providers !== null && !providers.includes(provider);
    return {
      ref: describe(x.policy),
      detail: `${x.action}${x.dryRun ? ' (dry-run: not enforced)' : ''}${bad ? ` (provider "${provider}" is not in the mesh config's extensionProviders: istiod denies what its rules match)` : ''} at gateway ${gw}: ${x.attached}; ${(x.policy.spec?.rules ?? []).length} rule(s)`,
    };
  });
}

/** Policies, PeerAuthentications and DestinationRules on the backend's side: named, not judged (yet). */
function backendLines(s: Extract<MeshStage, { kind: 'ok' }>): Evidence[] {
  const out: Evidence[] = [];
  for (const svc of s.backends) {
    const ns = svc.metadata.namespace ?? 'default';
    const host = `${svc.metadata.name}.${ns}.svc.cluster.local`;
    for (const ap of s.authz) {
      const pns = ap.metadata.namespace ?? 'default';
      if (pns !== ns && pns !== s.rootNamespace) continue;
      if (pns === s.workload.namespace) continue;
      out.push({
        ref: describe(ap),
        detail: `${ap.spec?.action ?? 'ALLOW'} in the namespace of ${describe(svc)}${pns === s.rootNamespace ? ' (root namespace)' : ''}: enforced after the gateway (waypoint, ztunnel or sidecar): judged once the gateway lets the request through`,
      });
    }
    for (const pa of s.peer) {
      const pns = pa.metadata.namespace ?? 'default';
      if (pns !== ns && pns !== s.rootNamespace) continue;
      out.push({
        ref: describe(pa),
        detail: `mTLS ${pa.spec?.mtls?.mode ?? 'UNSET'} for ${pa.spec?.selector?.matchLabels ? 'the workloads it selects in' : 'workloads of'} ${pns === s.rootNamespace ? 'the mesh' : `namespace ${ns}`}`,
      });
    }
    for (const dr of s.destinationRules) {
      const h = dr.spec?.host ?? '';
      const short =
        h === svc.metadata.name ||
        h === `${svc.metadata.name}.${ns}` ||
        h === host ||
        h === `${svc.metadata.name}.${ns}.svc`;
      if (!short) continue;
      out.push({
        ref: describe(dr),
        detail: `host ${h}${dr.spec?.trafficPolicy?.tls?.mode ? `, tls.mode ${dr.spec.trafficPolicy.tls.mode}` : ''}${subsetNote(dr)}`,
      });
    }
  }
  return out;
}

/**
 * A DestinationRule's subsets never carry ingress traffic from an HTTPRoute: Istio's gateway conversion builds each
 * backendRef's destination from host and port only, never a subset (pilot/pkg/config/kube/gateway/conversion.go
 * buildDestination), so the gateway routes to the host's cluster (outbound|port||host) with every endpoint, whatever
 * the subsets select or set. Only a VirtualService can route to a subset.
 */
function subsetNote(dr: DestinationRule): string {
  const names = (dr.spec?.subsets ?? []).map((x) => x.name);
  return names.length
    ? `; subsets ${names.join(', ')}: not used by HTTPRoute backends (a backendRef names host and port, never a subset)`
    : '';
}

/** A policy that looks as if it acted on the host but never reaches the gateway. */
function notApplied(s: Extract<MeshStage, { kind: 'ok' }>): Evidence[] {
  return s.unapplied.map((u) => ({ ref: describe(u.policy), detail: u.why }));
}

/** The smallest ALLOW rule for this request at the gateway: its host, method and exact path (no source: the client is outside the mesh). */
function allowFix(d: Extract<AuthzDecision, { kind: 'not-allowed' }>, r: MeshRequest, gw: string) {
  // The policy nearest the gateway: one that targets it, else one of its namespace, else the root namespace's.
  const pick = [...d.allow].sort((a, b) => rank(a) - rank(b))[0] as PolicyOnPath;
  const ap = pick.policy;
  const rule = { to: [{ operation: { hosts: [r.host], methods: [r.method], paths: [r.path.split('?')[0] ?? '/'] } }] };
  const rules = ap.spec?.rules;
  const ops = rules
    ? [
        { op: 'test' as const, path: '/spec/rules', value: rules },
        { op: 'add' as const, path: '/spec/rules/-', value: rule },
      ]
    : [
        { op: 'test' as const, path: '/spec', value: ap.spec ?? {} },
        { op: 'add' as const, path: '/spec/rules', value: [rule] },
      ];
  return jsonPatch(
    ap,
    ops,
    `adds to ${describe(ap)} one ALLOW rule for exactly ${req(r)} at gateway ${gw} (hosts, methods and paths of this request only; no rule is removed or widened). Widen paths (e.g. "${(r.path.split('?')[0] ?? '/').replace(/[^/]*$/, '')}*") or methods only as far as the application needs`,
  );
}

function rank(p: PolicyOnPath): number {
  if (p.attached.startsWith('targetRefs')) return 0;
  if (p.attached.startsWith('its selector')) return 1;
  if (p.attached.includes('root-namespace')) return 3;
  return 2;
}

/** Exempt this path from the DENY rule that matches it (notPaths on the operations that match): other paths stay denied. */
function denyFix(ap: AuthorizationPolicy, index: number, r: MeshRequest) {
  const rule = ap.spec?.rules?.[index];
  const path = r.path.split('?')[0] ?? '/';
  if (!rule) return manual(`change ${describe(ap)} so that it does not deny ${req(r)}`);
  const ops: { op: 'test' | 'add'; path: string; value: unknown }[] = [
    { op: 'test', path: ptr('spec', 'rules', index), value: rule },
  ];
  if (!rule.to?.length)
    ops.push({ op: 'add', path: ptr('spec', 'rules', index, 'to'), value: [{ operation: { notPaths: [path] } }] });
  else {
    rule.to.forEach((t, j) => {
      if (t.operation?.notPaths)
        ops.push({ op: 'add', path: ptr('spec', 'rules', index, 'to', j, 'operation', 'notPaths', '-'), value: path });
      else if (t.operation)
        ops.push({ op: 'add', path: ptr('spec', 'rules', index, 'to', j, 'operation', 'notPaths'), value: [path] });
      else
        ops.push({ op: 'add', path: ptr('spec', 'rules', index, 'to', j, 'operation'), value: { notPaths: [path] } });
    });
  }
  return jsonPatch(
    ap,
    ops,
    `only if ${req(r)} is meant to be served: exempts path ${path} from rules[${index}] of ${describe(ap)} (notPaths); every other request the rule denies stays denied`,
  );
}

const describeUpstream = (u: Upstream) =>
  u.kind === 'tls'
    ? `TLS origination (${u.mode}) set by ${u.where}`
    : u.kind === 'istio-mutual'
      ? `Istio mTLS (ISTIO_MUTUAL) set by ${u.where}`
      : u.kind === 'plaintext'
        ? `plaintext (DISABLE) set by ${u.where}`
        : `automatic: Istio mTLS to sidecar Pods, plaintext to others (${u.where})`;

/** A JSON patch of the DestinationRule's TLS mode for the port, guarded by a test of the current mode. */
function tlsModeFix(
  u: Upstream & { rule: DestinationRule },
  port: number,
  to: 'DISABLE' | 'ISTIO_MUTUAL',
  why: string,
) {
  const { tls, pointer } = tlsFor(u.rule, port);
  return jsonPatch(
    u.rule,
    [
      { op: 'test', path: ptr(...pointer, 'mode'), value: tls?.mode },
      { op: 'replace', path: ptr(...pointer, 'mode'), value: to },
    ],
    `sets tls.mode ${to} in ${describe(u.rule)} for port ${port} (it was ${tls?.mode}): ${why}`,
  );
}

/**
 * How the gateway connects to each backend (DestinationRule TLS) and whether the Pods accept it (what the port speaks,
 * whether the Pod is in the mesh, PeerAuthentication): a fail draft, or evidence lines for a pass.
 */
function judgeUpstreams(
  check: { id: 'mesh'; title: string },
  s: Extract<MeshStage, { kind: 'ok' }>,
  context: Evidence[],
): { draft: Draft | null; lines: Evidence[] } {
  const lines: Evidence[] = [];
  for (const b of s.upstreams) {
    const svcRef = `${describe(b.service)}:${b.port.port}`;
    const found = destinationRuleFor(
      s.destinationRules,
      b.service,
      s.workload.namespace,
      s.workload.labels,
      s.rootNamespace,
    );
    const up = upstreamFor(found, b.port.port);
    const speaks = portSpeaks(b.port);
    const pods = b.pods ?? [];
    const pod =
      pods.find((p) => p.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True')) ?? pods[0];
    const enrolled = pod ? enrolment(pod, b.namespace) : null;
    lines.push({
      ref: svcRef,
      detail: `upstream from the gateway: ${up.kind}: ${describeUpstream(up)}; the port speaks ${speaks ?? 'an unknown protocol'} (${b.port.appProtocol ? `appProtocol ${b.port.appProtocol}` : `name ${b.port.name ?? '(none)'}`})${pod ? `; Pod ${pod.metadata.name} is ${enrolled === 'none' ? 'outside the mesh' : enrolled === 'sidecar' ? 'in the mesh (sidecar)' : 'in the mesh (ambient: with ambient on, istiod sends it HBONE through ztunnel)'}` : ''}`,
    });
    if (up.kind === 'tls' && speaks === 'plaintext') {
      return {
        lines,
        draft: emit(
          check,
          'DestinationRuleTlsMismatch',
          `the gateway originates TLS (${up.mode}, ${describe(up.rule)}) to ${svcRef}, which speaks plaintext HTTP: the handshake fails and Envoy answers 503 "upstream connect error or disconnect/reset before headers ... remote connection failure"`,
          {
            evidence: [...context, ...lines],
            fix: tlsModeFix(
              up,
              b.port.port,
              enrolled === 'sidecar' ? 'ISTIO_MUTUAL' : 'DISABLE',
              enrolled === 'sidecar'
                ? 'the Pod has a sidecar, which terminates Istio mTLS'
                : `port ${b.port.port} speaks plaintext HTTP`,
            ),
          },
        ),
      };
    }
    if (up.kind === 'istio-mutual' && enrolled === 'none') {
      return {
        lines,
        draft: emit(
          check,
          'DestinationRuleTlsMismatch',
          `the gateway sends Istio mTLS (ISTIO_MUTUAL, ${describe(up.rule)}) to ${svcRef}, but Pod ${pod?.metadata.name} is outside the mesh (no sidecar, not ambient): nothing terminates it, and Envoy answers 503`,
          {
            evidence: [...context, ...lines],
            fix: tlsModeFix(up, b.port.port, 'DISABLE', 'the Pods have no sidecar to terminate Istio mTLS'),
          },
        ),
      };
    }
    if (pod && enrolled === 'sidecar') {
      const targetPort = typeof b.port.targetPort === 'number' ? b.port.targetPort : null;
      const pm = peerModeFor(s.peer, pod, targetPort, s.rootNamespace);
      const istioLabelled = pod.metadata.labels?.['security.istio.io/tlsMode'] === 'istio';
      const plaintext = up.kind === 'plaintext' || (up.kind === 'auto' && !istioLabelled);
      lines.push({
        ref: svcRef,
        detail: `PeerAuthentication mode for Pod ${pod.metadata.name}: ${pm.mode}${pm.by ? ` (${describe(pm.by)})` : ' (the default)'}`,
      });
      if (pm.mode === 'STRICT' && plaintext) {
        return {
          lines,
          draft: emit(
            check,
            'PeerAuthenticationStrict',
            `${pm.by ? describe(pm.by) : 'a PeerAuthentication'} requires mTLS (STRICT) on Pod ${pod.metadata.name}'s sidecar, but the gateway reaches ${svcRef} in plaintext (${up.kind === 'plaintext' ? describeUpstream(up) : 'automatic mTLS, but the Pod lacks the label security.istio.io/tlsMode=istio'}): the sidecar resets the connection and Envoy answers 503`,
            {
              evidence: [...context, ...lines],
              fix:
                up.kind === 'plaintext' && up.rule
                  ? tlsModeFix(
                      up as Upstream & { rule: DestinationRule },
                      b.port.port,
                      'ISTIO_MUTUAL',
                      'the sidecar requires Istio mTLS',
                    )
                  : manual(
                      `re-create Pod ${pod.metadata.name} so that injection labels it security.istio.io/tlsMode=istio (automatic mTLS uses that label), or set tls.mode ISTIO_MUTUAL for ${svcRef} in a DestinationRule`,
                    ),
            },
          ),
        };
      }
    }
  }
  return { draft: null, lines };
}

/** AuthorizationPolicies that a waypoint enforces for the Service (policyattachment.go: targetRefs to the Service, to the waypoint Gateway, or the istio-waypoint GatewayClass from the root namespace). */
function waypointPolicies(authz: AuthorizationPolicy[], w: MeshWaypoint, rootNs: string): AuthorizationPolicy[] {
  const svcNs = w.service.metadata.namespace ?? 'default';
  return authz.filter((ap) => {
    const ns = ap.metadata.namespace ?? 'default';
    return targetRefsOf(ap).some(
      (r) =>
        ((r.group ?? '') === '' && r.kind === 'Service' && r.name === w.service.metadata.name && ns === svcNs) ||
        (r.group === 'gateway.networking.k8s.io' &&
          r.kind === 'Gateway' &&
          r.name === w.info.binding.name &&
          ns === w.info.binding.namespace) ||
        (r.group === 'gateway.networking.k8s.io' &&
          r.kind === 'GatewayClass' &&
          r.name === 'istio-waypoint' &&
          ns === rootNs),
    );
  });
}

/**
 * Waypoints on the path: one the backend asks ingress traffic to go through that istiod does not bind (the waypoint's
 * L7 policies are silently absent), and one that is bound but skipped by ingress traffic while policies are written on
 * it. Both are warnings: the request itself gets through.
 */
function judgeWaypoints(
  check: { id: 'mesh'; title: string },
  waypoints: MeshWaypoint[],
  authz: AuthorizationPolicy[] | null,
  rootNs: string,
  context: Evidence[],
): Draft | null {
  for (const w of waypoints) {
    const { binding, bound } = w.info;
    const svc = describe(w.service);
    const wp = `${binding.namespace}/${binding.name}`;
    const policies = authz ? waypointPolicies(authz, w, rootNs) : [];
    const policyLines = policies.map((ap) => ({
      ref: describe(ap),
      detail: `${ap.spec?.action ?? 'ALLOW'} enforced by waypoint ${wp} for ${svc}`,
    }));
    if (binding.ingress && !bound.bound) {
      const cond = (
        w.service as Service & {
          status?: { conditions?: { type: string; status: string; reason?: string; message?: string }[] };
        }
      ).status?.conditions?.find((c) => c?.type === 'istio.io/WaypointBound');
      const fix =
        bound.reason === 'Missing'
          ? applyFix(
              {
                apiVersion: GW_API,
                kind: 'Gateway',
                metadata: {
                  name: binding.name,
                  namespace: binding.namespace,
                  labels: { 'istio.io/waypoint-for': 'service' },
                },
                spec: {
                  gatewayClassName: 'istio-waypoint',
                  listeners: [{ name: 'mesh', port: 15008, protocol: 'HBONE' }],
                },
              },
              `creates the waypoint Gateway ${wp} that istio.io/use-waypoint on the ${binding.from} names (what \`istioctl waypoint apply -n ${binding.namespace} --name ${binding.name}\` creates)`,
            )
          : bound.reason === 'WaypointIsNotReady'
            ? command(
                [
                  'kubectl',
                  '-n',
                  binding.namespace,
                  'get',
                  'pods',
                  '-l',
                  `gateway.networking.k8s.io/gateway-name=${binding.name}`,
                ],
                `find why the waypoint's Pods never became ready (istiod binds it once its Gateway has status.addresses)`,
              )
            : manual(
                bound.reason === 'UnsupportedTrafficType'
                  ? `label Gateway ${wp} istio.io/waypoint-for=service (or all), or bind ${svc} to a waypoint for Service traffic`
                  : `let the waypoint's HBONE listener admit namespace ${w.service.metadata.namespace} (allowedRoutes.namespaces.from: All or a Selector), or use a waypoint in ${w.service.metadata.namespace}`,
              );
      return emit(
        check,
        'WaypointNotBound',
        `${svc} asks ingress traffic to go through waypoint ${wp}, but ${bound.why}${policies.length ? `: the waypoint's policies (${policies.map(describe).join(', ')}) do not apply to this request` : ': whatever L7 policy the waypoint was meant to apply is absent'}`,
        {
          evidence: [
            ...context,
            ...(cond
              ? [
                  {
                    ref: svc,
                    detail: `${cond.type}=${cond.status}${cond.reason ? ` (${cond.reason})` : ''}${cond.message ? `: ${cond.message}` : ''}`,
                  },
                ]
              : []),
            ...policyLines,
          ],
          fix,
        },
      );
    }
    if (!binding.ingress && bound.bound && policies.length > 0) {
      const labels = w.service.metadata.labels;
      return emit(
        check,
        'WaypointBypassedByIngress',
        `${svc} is bound to waypoint ${wp} (istio.io/use-waypoint on the ${binding.from}), but ingress traffic skips it (no istio.io/ingress-use-waypoint: "true"): ${policies.map(describe).join(', ')} never apply${policies.length === 1 ? 'ies' : ''} to requests from the gateway`,
        {
          evidence: [...context, ...policyLines],
          fix: jsonPatch(
            w.service,
            [
              { op: 'test', path: '/metadata/name', value: w.service.metadata.name },
              labels
                ? { op: 'add', path: ptr('metadata', 'labels', 'istio.io/ingress-use-waypoint'), value: 'true' }
                : { op: 'add', path: '/metadata/labels', value: { 'istio.io/ingress-use-waypoint': 'true' } },
            ],
            `labels ${svc} istio.io/ingress-use-waypoint=true: the ingress gateway then sends its traffic through waypoint ${wp}, where those policies apply`,
          ),
        },
      );
    }
  }
  return null;
}

/** Envoy's answers (through the proxy or the direct probe) handed to this layer: the RBAC filter's 403, a 503 UF. */
function pendingAnswers(input: JudgeInput | undefined): {
  rbac: EnvoyAnswer | undefined;
  connect: EnvoyAnswer | undefined;
} {
  const mine = (input?.probes.envoy ?? []).filter((e) => e.layer === 'mesh' || (e.also ?? []).includes('mesh'));
  return {
    rbac: mine.find((e) => e.unexplained?.code === 'GatewayRbacDenied'),
    connect: mine.find((e) => e.unexplained?.code === 'BackendConnectFailed'),
  };
}

/**
 * The gateway answered an error this layer would explain, and it cannot: it could not look (no policies in the
 * manifests, a forbidden list), or what it read lets the request through. Said as the answer's own code (the RBAC
 * filter's 403 is certainly an AuthorizationPolicy's; a 503 UF a failed connection), never a pass or a warning.
 */
function unexplained(
  check: { id: 'mesh'; title: string },
  e: EnvoyAnswer,
  why: string,
  evidence: Evidence[] = [],
): Draft {
  const own = e.unexplained as NonNullable<EnvoyAnswer['unexplained']>;
  const what =
    own.code === 'GatewayRbacDenied'
      ? 'the gateway\'s RBAC filter refused the request (403 "RBAC: access denied": an AuthorizationPolicy that reaches the gateway)'
      : 'the gateway could not connect to the ready endpoints (503 "upstream connect error")';
  return emit(check, own.code, `${what}, and the mesh layer cannot name the cause: ${why}`, { evidence, fix: own.fix });
}

/** The gateway's identity in the mesh: its Pod's ServiceAccount, else the one istiod's template gives it (<name>-<class>, deploymentcontroller.go). */
function gatewayPrincipal(s: Extract<MeshStage, { kind: 'ok' }>): string {
  const sa =
    s.gatewayPod?.spec?.serviceAccountName ??
    s.gateway.metadata.annotations?.['gateway.istio.io/service-account'] ??
    `${s.gateway.metadata.name}-${s.gateway.spec.gatewayClassName}`;
  return `${s.trustDomain}/ns/${s.workload.namespace}/sa/${sa}`;
}

/** The hops after the gateway for every backend (src/mesh/hops.ts). */
function computeHops(s: Extract<MeshStage, { kind: 'ok' }>): { backend: MeshBackend; hops: HopResult[] }[] {
  const gp = gatewayPrincipal(s);
  return s.upstreams.map((b) => {
    const w = s.waypoints.find((x) => x.service === b.service);
    const used = w && w.info.binding.ingress && w.info.bound.bound ? w.info : null;
    const pods = b.pods ?? [];
    const pod =
      pods.find((p) => p.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True')) ?? pods[0] ?? null;
    const up = upstreamFor(
      destinationRuleFor(s.destinationRules, b.service, s.workload.namespace, s.workload.labels, s.rootNamespace),
      b.port.port,
    );
    const mtls =
      up.kind === 'istio-mutual' ||
      (up.kind === 'auto' && pod?.metadata.labels?.['security.istio.io/tlsMode'] === 'istio');
    const hops = hopsFor(
      s.authz,
      {
        service: b.service,
        servicePort: b.port.port,
        podPort:
          typeof b.port.targetPort === 'number'
            ? b.port.targetPort
            : b.port.targetPort === undefined
              ? b.port.port
              : null,
        pod,
        namespace: b.namespace,
        waypoint: used ? { name: used.binding.name, namespace: used.binding.namespace } : null,
        waypointServiceAccount: used?.pods?.[0]?.spec?.serviceAccountName ?? null,
        gatewayPrincipal: gp,
        gatewayMtlsToSidecar: mtls,
        trustDomain: s.trustDomain,
      },
      s.request,
      s.rootNamespace,
    );
    return { backend: b, hops };
  });
}

const hopLines = (h: HopResult): Evidence[] =>
  h.hop === 'ztunnel'
    ? h.policies.map((p) => ({
        ref: describe(p.policy),
        detail:
          p.kind === 'refused'
            ? `not given to ${h.at}: ${p.why}`
            : `${p.action} at ${h.at} (L4; peer ${h.principal})${p.l7.length ? `: istiod drops its HTTP attributes (${p.l7.join(', ')})${p.action === 'ALLOW' ? `, and with them ALLOW rules [${p.droppedRules.join(', ')}]` : ''}` : ''}`,
      }))
    : h.policies.map((p) => ({
        ref: describe(p.policy),
        detail: `${p.action}${p.dryRun ? ' (dry-run: not enforced)' : ''} at ${h.at} (peer ${h.principal ?? 'none: plaintext'}): ${p.attached}; ${(p.policy.spec?.rules ?? []).length} rule(s)`,
      }));

/** A rule that lets exactly this peer make exactly this request at the hop (ztunnel: the peer on the Pod port). */
function destinationAllowFix(h: HopResult, ap: AuthorizationPolicy, r: MeshRequest, podPort: number | null) {
  const path = r.path.split('?')[0] ?? '/';
  const from = h.principal ? [{ source: { principals: [h.principal] } }] : undefined;
  const rule =
    h.hop === 'ztunnel'
      ? {
          ...(from ? { from } : {}),
          ...(podPort !== null ? { to: [{ operation: { ports: [String(podPort)] } }] } : {}),
        }
      : { ...(from ? { from } : {}), to: [{ operation: { methods: [r.method], paths: [path] } }] };
  // A policy that covers more than this destination (no selector or targetRefs: every workload of its namespace, or
  // of the mesh from the root namespace; targetRefs to GatewayClass istio-waypoint: every waypoint) would allow the
  // rule everywhere it applies: never patched, the rule goes into a policy of its own for this destination.
  const spec = ap.spec ?? {};
  const targets = [...(spec.targetRefs ?? []), ...(spec.targetRef ? [spec.targetRef] : [])];
  const broad = (!spec.selector && targets.length === 0) || targets.some((t) => (t.kind ?? '') === 'GatewayClass');
  if (broad) {
    const scope =
      targets.length > 0
        ? 'every waypoint of the mesh (targetRefs GatewayClass)'
        : `every workload of namespace ${ap.metadata.namespace ?? 'default'} (of the whole mesh when that is the root namespace)`;
    return manual(
      `${describe(ap)} applies to ${scope}: a rule added to it would be allowed there too. Instead create an ALLOW AuthorizationPolicy in the destination's namespace that applies to ${h.at} only (${h.hop === 'waypoint' ? 'targetRefs to the Service' : "a selector matching the backend Pods' labels"}) with the one rule ${JSON.stringify(rule)}: ALLOW policies add up, so this request passes and nothing else is opened`,
    );
  }
  const rules = ap.spec?.rules;
  const ops = rules
    ? [
        { op: 'test' as const, path: '/spec/rules', value: rules },
        { op: 'add' as const, path: '/spec/rules/-', value: rule },
      ]
    : [
        { op: 'test' as const, path: '/spec', value: ap.spec ?? {} },
        { op: 'add' as const, path: '/spec/rules', value: [rule] },
      ];
  const what =
    h.hop === 'ztunnel'
      ? `connections from ${h.principal} to port ${podPort}`
      : `${req(r)}${h.principal ? ` from ${h.principal}` : ''}`;
  return jsonPatch(
    ap,
    ops,
    `adds to ${describe(ap)} one ALLOW rule for exactly ${what} at ${h.at} (no rule is removed or widened)`,
  );
}

/**
 * The hops after the gateway (waypoint, ztunnel, sidecar): the first that refuses the request fails the layer, naming
 * the hop, policy and rule; a policy that looks as if it acted on ingress traffic there but does not is a warning.
 */
function judgeHops(
  check: { id: 'mesh'; title: string },
  s: Extract<MeshStage, { kind: 'ok' }>,
  context: Evidence[],
): { draft: Draft | null; lines: Evidence[]; failAt: HopResult['hop'] | null } {
  const lines: Evidence[] = [];
  const warnings: { draft: Draft }[] = [];
  // A policy the gateway's own proxy enforces (L7) acts on ingress traffic there, whatever ztunnel makes of it.
  const atGateway = new Set(policiesFor(s.authz, s.workload, s.rootNamespace).map((p) => p.policy));
  for (const { backend, hops } of computeHops(s)) {
    const podPort = typeof backend.port.targetPort === 'number' ? backend.port.targetPort : null;
    for (const h of hops) {
      const ls = hopLines(h);
      lines.push(...ls);
      const ev = [...context, ...lines];
      if (h.hop === 'ztunnel') {
        const d = h.decision;
        if (d.kind === 'denied') {
          return {
            lines,
            failAt: h.hop,
            draft: emit(
              check,
              'DestinationAuthorizationDenied',
              `${h.at} refuses the connection from ${h.principal} for ${req(s.request)}: DENY rules[${d.by.index}] of ${describe(d.by.policy)} matches at L4; ztunnel resets it and the gateway answers 503`,
              {
                evidence: ev,
                fix: manual(
                  `only if ${h.principal} is meant to reach ${describe(backend.service)}: change rules[${d.by.index}] of ${describe(d.by.policy)} so that it does not match this peer (ztunnel sees no paths: a path-level exception belongs on a waypoint, targetRefs to the Service)`,
                ),
              },
            ),
          };
        }
        if (d.kind === 'not-allowed') {
          const dropped = d.allow.filter((p) => p.droppedRules.length > 0);
          const pick = (d.allow.find((p) => p.droppedRules.length === 0) ?? d.allow[0]) as Extract<
            ZtunnelPolicy,
            { kind: 'enforced' }
          >;
          return {
            lines,
            failAt: h.hop,
            draft: emit(
              check,
              'DestinationAuthorizationNotAllowed',
              `${h.at} allows no connection from ${h.principal} to port ${podPort ?? '?'}: no rule of the ALLOW polic${d.allow.length === 1 ? 'y' : 'ies'} ${d.allow.map((p) => describe(p.policy)).join(', ')} matches${dropped.length ? ` (istiod dropped the ALLOW rules with HTTP attributes of ${dropped.map((p) => describe(p.policy)).join(', ')}: ztunnel enforces L4 only)` : ''}; ztunnel resets the connection and the gateway answers 503`,
              {
                evidence: ev,
                fix: destinationAllowFix(h, pick.policy, s.request, podPort),
              },
            ),
          };
        }
        if (d.kind === 'unknown') {
          return {
            lines,
            failAt: null,
            draft: emit(
              check,
              'AuthorizationUndetermined',
              `whether ${h.at} admits the connection from ${h.principal} depends on ${d.action} rules[${d.by.index}] of ${describe(d.by.policy)} (an address or a port gwdoctor cannot know)`,
              { evidence: ev },
            ),
          };
        }
        for (const p of h.policies) {
          if (atGateway.has(p.policy)) continue;
          if (p.kind === 'enforced' && p.action === 'DENY' && p.l7.length > 0) {
            warnings.push({
              draft: emit(
                check,
                'DestinationPolicyNotEnforced',
                `${describe(p.policy)} is a DENY with HTTP attributes (${p.l7.join(', ')}) on an ambient Pod: ${h.at} gets only its L4 part, and a rule whose HTTP part was all it had never matches there; no waypoint carries it for ingress traffic, so it does not act on ${req(s.request)}`,
                {
                  evidence: ev,
                  fix: manual(
                    `enforce HTTP rules on a waypoint: bind ${describe(backend.service)} to one (istio.io/use-waypoint and istio.io/ingress-use-waypoint: "true") and point the policy at the Service with targetRefs instead of a selector`,
                  ),
                },
              ),
            });
          } else if (p.kind === 'refused') {
            warnings.push({
              draft: emit(
                check,
                'DestinationPolicyNotEnforced',
                `${describe(p.policy)} selects ${h.at.replace(/^ztunnel for /, '')}, but istiod does not give it to ztunnel (${p.why}): it does not act on ${req(s.request)}`,
                {
                  evidence: ev,
                  fix: manual(
                    `enforce it on a waypoint (targetRefs to ${describe(backend.service)}) instead of a selector on ambient Pods`,
                  ),
                },
              ),
            });
          }
        }
        continue;
      }
      const d = h.decision;
      if (d.kind === 'denied') {
        return {
          lines,
          failAt: h.hop,
          draft: emit(
            check,
            'DestinationAuthorizationDenied',
            `${req(s.request)} is denied at ${h.at} by DENY rules[${d.by.index}] of ${describe(d.by.policy)} (${d.by.why}): it answers 403 "RBAC: access denied"`,
            {
              evidence: [
                ...ev,
                {
                  ref: describe(d.by.policy),
                  detail: `Envoy RBAC policy ${envoyPolicyName(d.by.policy, d.by.index)} at ${h.at} matches: ${d.by.why}`,
                },
              ],
              fix: denyFix(d.by.policy, d.by.index, s.request),
            },
          ),
        };
      }
      if (d.kind === 'not-allowed') {
        const pick = [...d.allow].sort((a, b) => rank(a) - rank(b))[0] as PolicyOnPath;
        return {
          lines,
          failAt: h.hop,
          draft: emit(
            check,
            'DestinationAuthorizationNotAllowed',
            `${req(s.request)} from ${h.principal ?? 'a peer without identity (plaintext)'} matches no rule of the ALLOW polic${d.allow.length === 1 ? 'y' : 'ies'} at ${h.at} (${d.allow.map((p) => describe(p.policy)).join(', ')}): it answers 403 "RBAC: access denied"`,
            {
              evidence: [...ev, ...d.misses.map((m) => ({ ref: describe(m.policy), detail: m.why }))],
              fix: destinationAllowFix(h, pick.policy, s.request, podPort),
            },
          ),
        };
      }
      if (d.kind === 'unknown') {
        return {
          lines,
          failAt: null,
          draft: emit(
            check,
            'AuthorizationUndetermined',
            `whether ${req(s.request)} is allowed at ${h.at} depends on ${d.action} rules[${d.by.index}] of ${describe(d.by.policy)}: ${d.by.why}`,
            { evidence: ev },
          ),
        };
      }
      if (d.kind === 'custom') {
        return {
          lines,
          failAt: null,
          draft: emit(
            check,
            'AuthorizationCustom',
            `${req(s.request)} at ${h.at} goes to the external authorizer "${d.provider}" (CUSTOM rules[${d.by.index}] of ${describe(d.by.policy)}): its answer was not checked`,
            { evidence: ev },
          ),
        };
      }
      lines.push({
        ref: h.at,
        detail: d.by
          ? `allows ${req(s.request)}: ALLOW rules[${d.by.index}] of ${describe(d.by.policy)} (${d.by.why})`
          : h.policies.length
            ? 'no DENY rule matches and no ALLOW policy applies'
            : 'no AuthorizationPolicy applies',
      });
    }
  }
  return { draft: warnings[0]?.draft ?? null, lines, failAt: null };
}

/** facts.mesh.hops */
function hopFacts(s: Extract<MeshStage, { kind: 'ok' }>): NonNullable<NonNullable<Facts['mesh']>['hops']> {
  return computeHops(s).flatMap(({ backend, hops }) =>
    hops.map((h) => {
      const d = h.decision;
      const by = 'by' in d && d.by ? { policy: refOf(d.by.policy), rule: d.by.index } : null;
      const policies =
        h.hop === 'ztunnel'
          ? h.policies.map((p) => ({
              policy: refOf(p.policy),
              action: (p.kind === 'enforced' ? p.action : (p.policy.spec?.action ?? 'ALLOW')) as
                | 'ALLOW'
                | 'DENY'
                | 'AUDIT'
                | 'CUSTOM',
              enforced: p.kind === 'enforced',
            }))
          : h.policies.map((p) => ({ policy: refOf(p.policy), action: p.action, enforced: !p.dryRun }));
      return {
        service: refOf(backend.service),
        hop: h.hop,
        at: h.at,
        principal: h.principal,
        policies,
        decision: d.kind,
        by,
      };
    }),
  );
}

export function judgeMesh(this: { id: 'mesh'; title: string }, s: MeshStage, input?: JudgeInput): Draft {
  const pending = pendingAnswers(input);
  const first = pending.rbac ?? pending.connect;
  if (first && s.kind !== 'ok') {
    return unexplained(
      this,
      first,
      s.kind === 'forbidden'
        ? `the mesh policies could not be read (${s.why})`
        : `the mesh policies were not checked (${s.why}; add them to the manifests, or run against the cluster)`,
    );
  }
  if (s.kind === 'not-checked') {
    const wpd = judgeWaypoints(this, s.waypoints, null, DEFAULT_ROOT_NAMESPACE, [
      { ref: 'mesh policies', detail: `not checked: ${s.why}` },
    ]);
    if (wpd) return wpd;
    return skip(
      this,
      `not checked: ${s.why} (add \`kubectl get authorizationpolicies,peerauthentications,destinationrules -A -o yaml\` to the manifests, or run against the cluster)`,
      { reason: 'no-mesh-objects' },
    );
  }
  if (s.kind === 'forbidden') {
    return emit(this, 'MeshNotChecked', `mesh policies not checked: ${s.why}`, {
      fix: manual(
        'let the user list authorizationpolicies and peerauthentications (security.istio.io) and destinationrules (networking.istio.io): deploy/rbac.yaml grants it',
      ),
    });
  }
  const gw = nsName(s.gateway);
  const on = policiesFor(s.authz, s.workload, s.rootNamespace);
  const d = decide(on, s.request, s.providers);
  const evidence: Evidence[] = [
    {
      ref: `Gateway ${gw}`,
      detail: `${req(s.request)} reaches the gateway from outside the mesh (no peer identity); root namespace ${s.rootNamespace} (${s.rootFrom})${s.gatewayPod || s.authz.length === 0 ? '' : '; no gateway Pod known: the labels Istio gives it were assumed'}`,
    },
    ...policyLines(on, gw, s.providers),
  ];
  const unapplied = notApplied(s);
  const backend = backendLines(s);
  switch (d.kind) {
    case 'denied': {
      const hit = `rules[${d.by.index}] of ${describe(d.by.policy)}`;
      if (d.badProvider) {
        return emit(
          this,
          'AuthorizationDenied',
          `${req(s.request)} matches CUSTOM ${hit}, whose provider "${d.badProvider}" the mesh config does not define: istiod turns its rules into a DENY at gateway ${gw}, and Envoy answers 403 "RBAC: access denied"`,
          {
            evidence: [
              ...evidence,
              {
                ref: describe(d.by.policy),
                detail: `Envoy RBAC policy istio-ext-authz-${d.badProvider}-${envoyPolicyName(d.by.policy, d.by.index)}-deny-due-to-bad-CUSTOM-action matches: ${d.by.why}`,
              },
              ...unapplied,
              ...backend,
            ],
            fix: manual(
              `define the extension provider "${d.badProvider}" in the mesh config (meshConfig.extensionProviders: the external authorizer's service and port) so that ${describe(d.by.policy)} asks it, or point the policy's provider.name at one that is defined`,
            ),
          },
        );
      }
      return emit(
        this,
        'AuthorizationDenied',
        `${req(s.request)} is denied at gateway ${gw} by DENY ${hit} (${d.by.why}): Envoy answers 403 "RBAC: access denied"`,
        {
          evidence: [
            ...evidence,
            {
              ref: describe(d.by.policy),
              detail: `Envoy RBAC policy ${envoyPolicyName(d.by.policy, d.by.index)} matches: ${d.by.why}`,
            },
            ...unapplied,
            ...backend,
          ],
          fix: denyFix(d.by.policy, d.by.index, s.request),
        },
      );
    }
    case 'not-allowed':
      return emit(
        this,
        'AuthorizationNotAllowed',
        `${req(s.request)} matches no rule of the ALLOW polic${d.allow.length === 1 ? 'y' : 'ies'} at gateway ${gw} (${d.allow.map((p) => describe(p.policy)).join(', ')}): with any ALLOW policy in place, everything it does not allow is denied; Envoy answers 403 "RBAC: access denied"`,
        {
          evidence: [
            ...evidence,
            ...d.misses.map((m) => ({ ref: describe(m.policy), detail: m.why })),
            ...unapplied,
            ...backend,
          ],
          fix: allowFix(d, s.request, gw),
        },
      );
    case 'custom':
      if (pending.rbac)
        return unexplained(
          this,
          pending.rbac,
          `by the AuthorizationPolicies read, ${req(s.request)} at gateway ${gw} goes to the external authorizer "${d.provider}" (CUSTOM rules[${d.by.index}] of ${describe(d.by.policy)}), whose refusal is not the RBAC filter's`,
          [...evidence, ...unapplied, ...backend],
        );
      return emit(
        this,
        'AuthorizationCustom',
        `${req(s.request)} at gateway ${gw} goes to the external authorizer "${d.provider}" (CUSTOM rules[${d.by.index}] of ${describe(d.by.policy)}): its answer was not checked`,
        {
          evidence: [...evidence, ...unapplied, ...backend],
        },
      );
    case 'unknown':
      // The gateway's 403 settles what gwdoctor could not: for the request as the proxy sent it, the rule did not let it through.
      if (pending.rbac) {
        return emit(
          this,
          'GatewayRbacDenied',
          `the gateway's RBAC filter refused ${req(s.request)} (403 "RBAC: access denied"); whether it is allowed depends on ${d.action} rules[${d.by.index}] of ${describe(d.by.policy)} (${d.by.why}), and for the request as it reached the gateway it was not`,
          {
            evidence: [...evidence, ...unapplied, ...backend],
            fix: manual(
              `${d.action === 'ALLOW' ? 'make' : 'keep'} the request as it reaches gateway ${gw} ${d.action === 'ALLOW' ? 'match' : 'out of'} rules[${d.by.index}] of ${describe(d.by.policy)} (${d.by.why}): e.g. the client address the proxy sends (X-Forwarded-For, with the gateway's numTrustedProxies), or change the rule`,
            ),
          },
        );
      }
      return emit(
        this,
        'AuthorizationUndetermined',
        `whether ${req(s.request)} is allowed at gateway ${gw} depends on ${d.action} rules[${d.by.index}] of ${describe(d.by.policy)}: ${d.by.why}`,
        {
          evidence: [...evidence, ...unapplied, ...backend],
        },
      );
    case 'allowed': {
      const hops = judgeHops(this, s, evidence);
      // A 403 "RBAC: access denied" from the waypoint or the Pod's sidecar reaches the client as the gateway's answer.
      if (pending.rbac && (hops.failAt === 'waypoint' || hops.failAt === 'sidecar') && hops.draft) return hops.draft;
      if (pending.rbac)
        return unexplained(
          this,
          pending.rbac,
          `by the AuthorizationPolicies read, ${req(s.request)} at gateway ${gw}: ${allowedBy(d, on)} (istiod may not have pushed a change yet, or the gateway's policies differ from what was read)`,
          [...evidence, ...unapplied, ...backend],
        );
      const up = judgeUpstreams(this, s, [...evidence, ...backend]);
      if (up.draft) return up.draft;
      evidence.push(...up.lines);
      // A 503 UF: ztunnel refusing the connection explains it; anything else the upstream judgement does not explain is
      // weighed by withEnvoy (BackendConnectFailed), never hidden behind a waypoint or policy warning.
      if (pending.connect) {
        if (hops.failAt === 'ztunnel' && hops.draft) return hops.draft;
        return pass(
          this,
          `${req(s.request)} at gateway ${gw}: ${allowedBy(d, on)}; how the gateway connects to each backend matches what its Pods accept`,
          { evidence: [...evidence, ...backend] },
        );
      }
      if (hops.draft) return hops.draft;
      evidence.push(...hops.lines);
      const wpd = judgeWaypoints(this, s.waypoints, s.authz, s.rootNamespace, [...evidence, ...backend]);
      if (wpd) return wpd;
      if (unapplied.length > 0) {
        return emit(
          this,
          'AuthorizationPolicyNotApplied',
          `${unapplied.map((u) => u.ref).join(', ')} name${unapplied.length === 1 ? 's' : ''} gateway ${gw} but never reach${unapplied.length === 1 ? 'es' : ''} it: ${unapplied[0]?.detail}`,
          {
            evidence: [...evidence, ...unapplied, ...backend],
            fix: manual(
              `to act on ${req(s.request)} at gateway ${gw}, a policy must be in namespace ${s.workload.namespace} and name the Gateway in targetRefs (or select its Pods' label ${GATEWAY_NAME_LABEL}=${s.workload.gatewayName}); otherwise remove the policy that does nothing`,
            ),
          },
        );
      }
      return pass(this, `${req(s.request)} at gateway ${gw}: ${allowedBy(d, on)}`, {
        evidence: [...evidence, ...backend],
      });
    }
  }
}

/** Why an allowed request is allowed, in words. */
function allowedBy(d: Extract<AuthzDecision, { kind: 'allowed' }>, on: PolicyOnPath[]): string {
  return d.by
    ? `allowed by ALLOW rules[${d.by.index}] of ${describe(d.by.policy)} (${d.by.why})`
    : on.length > 0
      ? `no DENY rule matches and no ALLOW policy applies`
      : 'no AuthorizationPolicy applies to it';
}

/** The stage as data (facts.mesh): what reaches the gateway and how it reaches each backend, whatever the verdict. */
export function meshFacts(s: MeshStage): Facts {
  if (s.kind !== 'ok') return {};
  const policies = policiesFor(s.authz, s.workload, s.rootNamespace).map((p) => {
    const provider = p.policy.spec?.provider?.name ?? '';
    return {
      policy: refOf(p.policy),
      action: p.action,
      dryRun: p.dryRun,
      rules: (p.policy.spec?.rules ?? []).length,
      badProvider: p.action === 'CUSTOM' && s.providers !== null && !s.providers.includes(provider) ? provider : null,
    };
  });
  const upstreams = s.upstreams.map((b) => {
    const up = upstreamFor(
      destinationRuleFor(s.destinationRules, b.service, s.workload.namespace, s.workload.labels, s.rootNamespace),
      b.port.port,
    );
    return { service: refOf(b.service), port: b.port.port, kind: up.kind, rule: up.rule ? refOf(up.rule) : null };
  });
  const hops = hopFacts(s);
  return {
    mesh: {
      gateway: refOf(s.gateway),
      rootNamespace: s.rootNamespace,
      policies,
      upstreams,
      ...(hops.length ? { hops } : {}),
    },
  };
}

export const mesh = clusterLayer(layerMeta('mesh'), (p) => resolveMesh(p), judgeMesh, meshFacts);
