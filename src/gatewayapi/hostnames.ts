// Hostname rules of Gateway API (listener hostnames, route hostnames, their intersection, listener precedence).

/**
 * Does a Gateway API hostname (listener or route; undefined = no hostname) accept a concrete host?
 * A leading `*.` wildcard matches ONE OR MORE labels (`*.example.com` matches `a.b.example.com`) but not
 * `example.com` itself. Source: gateway-api apis/v1/gateway_types.go `Listener.Hostname`,
 * apis/v1/httproute_types.go `HTTPRouteSpec.Hostnames`; conformance httproute-hostname-intersection.
 * (TLS certificate wildcards are different: one label only; see src/net.)
 */
export function hostMatches(pattern: string | undefined, host: string): boolean {
  if (pattern === undefined || pattern === '' || pattern === '*') return true;
  const p = pattern.toLowerCase();
  if (p.startsWith('*.')) {
    const suffix = p.slice(1);
    return host.endsWith(suffix) && host.length > suffix.length;
  }
  return host === p;
}

/**
 * Listener hostname ∩ route hostname -> the intersected hostname, or undefined when they do not intersect.
 * Source: gateway-api site/content/en/docs/concepts/hostnames.md "Hostname Intersection";
 * httproute_types.go `HTTPRouteSpec.Hostnames`.
 */
export function intersect(listener: string | undefined, route: string | undefined): string | undefined {
  const L = listener || '*';
  const R = route || '*';
  if (L === '*') return R;
  if (R === '*') return L;
  const lw = L.startsWith('*.');
  const rw = R.startsWith('*.');
  if (!lw && !rw) return L === R ? L : undefined;
  if (lw && !rw) return hostMatches(L, R) ? R : undefined;
  if (!lw && rw) return hostMatches(R, L) ? L : undefined;
  if (R.endsWith(L.slice(1))) return R; // both wildcards: keep the more specific one
  if (L.endsWith(R.slice(1))) return L;
  return undefined;
}

/**
 * Rank of a hostname for "most specific wins": exact > wildcard (more labels right of `*` first) > none/`*`.
 * Used for listener precedence (gateway_types.go `GatewaySpec.Listeners`, "Listeners that are distinct only by
 * Hostname") and for Envoy's virtual-host choice (exact domain, then longest wildcard suffix, then `*`).
 */
export function hostnameRank(h: string | undefined): [number, number] {
  if (!h || h === '*') return [0, 0];
  if (h.startsWith('*.')) return [1, h.length];
  return [2, h.length];
}

export function compareRank(a: [number, number], b: [number, number]): number {
  return a[0] - b[0] || a[1] - b[1];
}
