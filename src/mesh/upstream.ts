// How the ingress gateway connects to a backend Service's Pods, and whether the Pods accept it.
// Sources (istio/istio at the pinned 1.31-dev module):
//  * which DestinationRule the gateway uses for a host: pilot/pkg/model/push_context.go destinationRule(proxyNs, svc):
//    one in the gateway's own namespace first, then one in the Service's namespace exported to the gateway's
//    (exportTo, default "*"; "." keeps it private), then the root namespace's; an exact host beats a wildcard
//    (host.go, MostSpecificHostMatch); a short host is qualified with the rule's namespace
//    (model.ResolveShortnameToFQDN). A rule with a workloadSelector applies only to the workloads it selects.
//  * the TLS the gateway originates: pilot/pkg/networking/core/cluster_tls.go buildUpstreamTLSSettings: the port's
//    portLevelSettings tls, else trafficPolicy.tls; with none (or no rule) and enableAutoMtls (the default), Istio mTLS
//    to endpoints labelled security.istio.io/tlsMode=istio (a sidecar) and plaintext to the others
//    (transport_socket_matches tlsMode-istio / tlsMode-disabled).
//  * what the backend speaks: pkg/config/protocol (the Service port's appProtocol, else its name prefix: http, http2,
//    grpc, h2c are plaintext HTTP; https, tls are TLS).
//  * who enforces a PeerAuthentication: the Pod's sidecar (annotation sidecar.istio.io/status), or ztunnel for an
//    ambient Pod (istio.io/dataplane-mode=ambient on the Pod or its Namespace); a Pod outside the mesh enforces nothing.
//    The effective mode: a workload-selector policy of the Pod's namespace, else the namespace's, else the root
//    namespace's; a port-level mode for the container port wins; UNSET inherits (pilot/pkg/security/authn, model
//    authentication.go); the default is PERMISSIVE.

import type {
  DestinationRule,
  Namespace,
  PeerAuthentication,
  Pod,
  Service,
  ServicePort,
  TrafficPolicyTls,
} from '../cluster/objects.js';
import { describe } from '../cluster/objects.js';

export type Upstream =
  /** TLS origination from a DestinationRule (SIMPLE or MUTUAL). */
  | { kind: 'tls'; mode: 'SIMPLE' | 'MUTUAL'; rule: DestinationRule; where: string }
  | { kind: 'istio-mutual'; rule: DestinationRule; where: string }
  | { kind: 'plaintext'; rule: DestinationRule | null; where: string }
  /** No TLS set: Istio mTLS to sidecar endpoints, plaintext to the others. */
  | { kind: 'auto'; rule: DestinationRule | null; where: string };

const fqdn = (host: string, ns: string) =>
  host.includes('.') || host === '*' ? host : `${host}.${ns}.svc.cluster.local`;

function hostMatches(pattern: string, host: string): number {
  if (pattern === host) return 1_000;
  if (pattern === '*') return 1;
  if (pattern.startsWith('*.') && host.endsWith(pattern.slice(1))) return pattern.length;
  return -1;
}

function exportedTo(dr: DestinationRule, ns: string): boolean {
  const to = dr.spec?.exportTo ?? ['*'];
  const own = dr.metadata.namespace ?? 'default';
  return to.some((x) => x === '*' || x === ns || (x === '.' && ns === own));
}

/** The DestinationRule the gateway (namespace `gwNs`, Pod labels `gwLabels`) uses for the Service, and why. */
export function destinationRuleFor(
  all: DestinationRule[],
  svc: Service,
  gwNs: string,
  gwLabels: Record<string, string>,
  rootNs: string,
): { rule: DestinationRule; why: string } | null {
  const svcNs = svc.metadata.namespace ?? 'default';
  const host = `${svc.metadata.name}.${svcNs}.svc.cluster.local`;
  const best = (ns: string, why: string) => {
    let hit: { rule: DestinationRule; rank: number } | undefined;
    for (const dr of all) {
      if ((dr.metadata.namespace ?? 'default') !== ns || !dr.spec?.host) continue;
      if (!exportedTo(dr, gwNs)) continue;
      const sel = dr.spec.workloadSelector?.matchLabels;
      if (sel && !Object.entries(sel).every(([k, v]) => gwLabels[k] === v)) continue;
      const rank = hostMatches(fqdn(dr.spec.host, ns), host);
      if (rank < 0) continue;
      const older =
        hit &&
        hit.rank === rank &&
        (dr.metadata.creationTimestamp ?? '') >= (hit.rule.metadata.creationTimestamp ?? '');
      if (!hit || rank > hit.rank || (rank === hit.rank && !older)) hit = { rule: dr, rank };
    }
    return hit ? { rule: hit.rule, why } : null;
  };
  return (
    best(gwNs, `in the gateway's namespace ${gwNs}`) ??
    (svcNs !== gwNs ? best(svcNs, `in the Service's namespace ${svcNs}, exported to ${gwNs}`) : null) ??
    (rootNs !== gwNs && rootNs !== svcNs ? best(rootNs, `in the root namespace ${rootNs}`) : null)
  );
}

/** The TLS settings for the Service port: portLevelSettings first, then trafficPolicy.tls. */
export function tlsFor(
  dr: DestinationRule,
  port: number,
): { tls: TrafficPolicyTls | undefined; pointer: (string | number)[] } {
  const pls = dr.spec?.trafficPolicy?.portLevelSettings ?? [];
  const i = pls.findIndex((p) => p.port?.number === port && p.tls);
  if (i >= 0) return { tls: pls[i]?.tls, pointer: ['spec', 'trafficPolicy', 'portLevelSettings', i, 'tls'] };
  return { tls: dr.spec?.trafficPolicy?.tls, pointer: ['spec', 'trafficPolicy', 'tls'] };
}

export function upstreamFor(found: { rule: DestinationRule; why: string } | null, port: number): Upstream {
  if (!found) return { kind: 'auto', rule: null, where: 'no DestinationRule for the host' };
  const { tls } = tlsFor(found.rule, port);
  const where = `${describe(found.rule)} (${found.why})`;
  switch (tls?.mode) {
    case 'SIMPLE':
    case 'MUTUAL':
      return { kind: 'tls', mode: tls.mode, rule: found.rule, where };
    case 'ISTIO_MUTUAL':
      return { kind: 'istio-mutual', rule: found.rule, where };
    case 'DISABLE':
      return { kind: 'plaintext', rule: found.rule, where };
    default:
      return { kind: 'auto', rule: found.rule, where: `${where}, which sets no TLS mode` };
  }
}

/** What the Service port speaks, from appProtocol or the port name (pkg/config/protocol); null when not known. */
export function portSpeaks(p: ServicePort): 'plaintext' | 'tls' | null {
  const proto = (p.appProtocol ?? p.name ?? '').toLowerCase().split('-')[0] ?? '';
  if (['http', 'http2', 'grpc', 'h2c', 'grpc-web', 'kubernetes.io/h2c', 'kubernetes.io/ws'].includes(proto))
    return 'plaintext';
  if (['https', 'tls', 'kubernetes.io/wss'].includes(proto)) return 'tls';
  return null;
}

export type Enrolment = 'sidecar' | 'ambient' | 'none';

export function enrolment(pod: Pod, ns: Namespace | undefined): Enrolment {
  if (pod.metadata.annotations?.['sidecar.istio.io/status']) return 'sidecar';
  const podMode = pod.metadata.labels?.['istio.io/dataplane-mode'];
  if (podMode === 'none') return 'none';
  if (podMode === 'ambient' || ns?.metadata.labels?.['istio.io/dataplane-mode'] === 'ambient') return 'ambient';
  return 'none';
}

/** The PeerAuthentication mode that applies to the Pod's port, and which object set it. */
export function peerModeFor(
  all: PeerAuthentication[],
  pod: Pod,
  targetPort: number | null,
  rootNs: string,
): { mode: string; by: PeerAuthentication | null } {
  const ns = pod.metadata.namespace ?? 'default';
  const labels = pod.metadata.labels ?? {};
  const inNs = (n: string) => all.filter((p) => (p.metadata.namespace ?? 'default') === n);
  const selected = inNs(ns).filter((p) => {
    const sel = p.spec?.selector?.matchLabels;
    return sel && Object.keys(sel).length > 0 && Object.entries(sel).every(([k, v]) => labels[k] === v);
  });
  const nsWide = inNs(ns).filter(
    (p) => !p.spec?.selector?.matchLabels || Object.keys(p.spec.selector.matchLabels).length === 0,
  );
  const root =
    ns === rootNs
      ? []
      : inNs(rootNs).filter(
          (p) => !p.spec?.selector?.matchLabels || Object.keys(p.spec.selector.matchLabels).length === 0,
        );
  const oldest = (xs: PeerAuthentication[]) =>
    [...xs].sort((a, b) => (a.metadata.creationTimestamp ?? '').localeCompare(b.metadata.creationTimestamp ?? ''))[0];
  for (const p of [oldest(selected), oldest(nsWide), oldest(root)]) {
    if (!p) continue;
    const portMode = targetPort !== null ? p.spec?.portLevelMtls?.[String(targetPort)]?.mode : undefined;
    const mode = portMode && portMode !== 'UNSET' ? portMode : p.spec?.mtls?.mode;
    if (mode && mode !== 'UNSET') return { mode, by: p };
  }
  return { mode: 'PERMISSIVE', by: null };
}
