// --all: every hostname of every HTTPRoute attached (by parentRef) to the selected Gateway(s), as targets.
// A route without hostnames takes the hostnames of the listeners it attaches to. Wildcard hostnames cannot be
// requested as such: they are listed, and checked only through a host the user names that they match.

import type { ClusterReader } from './cluster/reader.js';
import type { Gateway, HTTPRoute } from './cluster/objects.js';
import { refersTo } from './gatewayapi/attachment.js';
import { hostMatches } from './gatewayapi/hostnames.js';

export interface HostList {
  /** Concrete hostnames, sorted, each once. */
  hosts: string[];
  /** Wildcard hostnames ("*.example.com", or "*" for a route and listener without any), with the routes that declare them. */
  wildcards: { pattern: string; routes: string[] }[];
  gateways: string[];
}

function nsName(o: { metadata: { namespace?: string | undefined; name: string } }): string {
  return `${o.metadata.namespace ?? 'default'}/${o.metadata.name}`;
}

/** The hostnames a route asks for on one Gateway (its own, else those of the listeners its parentRef selects). */
function routeHostnames(route: HTTPRoute, gw: Gateway): string[] {
  const own = route.spec.hostnames ?? [];
  if (own.length > 0) return own.map((h) => h.toLowerCase());
  const out: string[] = [];
  for (const p of route.spec.parentRefs ?? []) {
    if (!refersTo(p, route, gw)) continue;
    for (const l of gw.spec.listeners ?? []) {
      if (p.sectionName !== undefined && p.sectionName !== l.name) continue;
      if (p.port !== undefined && p.port !== l.port) continue;
      out.push((l.hostname ?? '*').toLowerCase());
    }
  }
  return out;
}

export async function hostsOnGateways(
  cluster: ClusterReader,
  only: { namespace: string; name: string } | null,
): Promise<HostList> {
  const [gateways, routes] = await Promise.all([cluster.gateways(), cluster.httpRoutes()]);
  const selected = gateways.filter(
    (g) => !only || (g.metadata.name === only.name && (g.metadata.namespace ?? 'default') === only.namespace),
  );
  const hosts = new Set<string>();
  const wild = new Map<string, Set<string>>();
  for (const gw of selected) {
    for (const route of routes) {
      if (!(route.spec.parentRefs ?? []).some((p) => refersTo(p, route, gw))) continue;
      for (const h of routeHostnames(route, gw)) {
        if (h === '*' || h.startsWith('*.')) wild.set(h, (wild.get(h) ?? new Set()).add(`HTTPRoute ${nsName(route)}`));
        else hosts.add(h);
      }
    }
  }
  return {
    hosts: [...hosts].sort(),
    wildcards: [...wild]
      .sort(([a], [b]) => a.localeCompare(b))
      .map(([pattern, r]) => ({ pattern, routes: [...r].sort() })),
    gateways: selected.map(nsName),
  };
}

/** Wildcards that no named host exercises: what the user is told was not checked. */
export function uncheckedWildcards(list: HostList, named: string[]): HostList['wildcards'] {
  return list.wildcards.filter((w) => !named.some((h) => hostMatches(w.pattern, h)));
}
