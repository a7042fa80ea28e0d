// Candidates for values a fix needs but gwdoctor cannot know for sure (which Service should serve a host?).
// Ordered so that the likeliest comes first; fixes are filled with the first and list the rest as choices.

import type { Service } from '../cluster/objects.js';

const SYSTEM_NAMESPACES = new Set(['kube-system', 'kube-public', 'kube-node-lease', 'istio-system']);

/** A Service Istio generated for a Gateway or a waypoint: never what a route or backendRef means. */
export function isGatewayService(s: Service): boolean {
  return (
    s.metadata.labels?.['gateway.networking.k8s.io/gateway-name'] !== undefined ||
    s.metadata.labels?.['istio.io/gateway-name'] !== undefined
  );
}

export interface ServiceCandidate {
  service: Service;
  namespace: string;
  name: string;
  port: number;
}

function score(svc: Service, words: string[], preferNs: string | null): number {
  const ns = svc.metadata.namespace ?? 'default';
  const name = svc.metadata.name;
  let s = 0;
  for (const w of words) {
    if (name === w) s += 8;
    else if (name.includes(w)) s += 4;
    if (ns === w || ns.endsWith(`-${w}`)) s += 3;
    else if (ns.includes(w)) s += 2;
  }
  if (preferNs && ns === preferNs) s += 1;
  return s;
}

/**
 * Services that could serve `host`: not a gateway's own Service (label gateway.networking.k8s.io/gateway-name), not in
 * a system namespace, with a port. Ranked by how well the service or namespace name matches the host's first label
 * (admin.example.com -> "admin"), then by namespace/name. Only services with a positive score are offered unless
 * `preferNs` is given (then that namespace's services are candidates too).
 */
export function serviceCandidates(
  services: Service[],
  host: string,
  preferNs: string | null = null,
): ServiceCandidate[] {
  const first = host.split('.')[0] ?? host;
  const words = [first, ...first.split('-').filter((w) => w.length > 2 && w !== first)];
  return services
    .filter((s) => !isGatewayService(s) && !SYSTEM_NAMESPACES.has(s.metadata.namespace ?? 'default'))
    .filter((s) => (s.spec?.ports ?? []).length > 0 && s.spec?.type !== 'ExternalName')
    .map((s) => ({ s, sc: score(s, words, preferNs) }))
    .filter(({ s, sc }) => sc > 1 || (preferNs !== null && (s.metadata.namespace ?? 'default') === preferNs))
    .sort(
      (a, b) =>
        b.sc - a.sc ||
        `${a.s.metadata.namespace}/${a.s.metadata.name}`.localeCompare(
          `${b.s.metadata.namespace}/${b.s.metadata.name}`,
        ),
    )
    .map(({ s }) => ({
      service: s,
      namespace: s.metadata.namespace ?? 'default',
      name: s.metadata.name,
      port: (s.spec?.ports ?? [])[0]?.port as number,
    }));
}

export function describeCandidate(c: ServiceCandidate): string {
  return `Service ${c.namespace}/${c.name}:${c.port}`;
}
