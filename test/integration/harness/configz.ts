// What istiod would program Envoy with, read from its /debug/configz (the Istio Gateway and VirtualService objects it
// generates from the Gateway API objects; no Envoy or xDS client needed), and the route Envoy would pick for a
// request: the most specific virtual host for the Host, then the first http entry whose match fits GET <path>.

interface UriMatch {
  exact?: string;
  prefix?: string;
  regex?: string;
}
interface HttpMatch {
  uri?: UriMatch;
  method?: UriMatch;
  headers?: Record<string, unknown>;
  queryParams?: Record<string, unknown>;
}
interface HttpRoute {
  name?: string;
  match?: HttpMatch[];
  route?: { destination: { host: string; port?: { number: number } }; weight?: number }[];
  redirect?: unknown;
  directResponse?: unknown;
}
interface IstioObject {
  kind: string;
  metadata: { name: string; namespace?: string };
  spec: { hosts?: string[]; gateways?: string[]; http?: HttpRoute[]; servers?: { port: { number: number }; hosts: string[] }[] };
}

export interface Programmed {
  virtualService: string;
  vhost: string;
  /** The http entry's name: "<route namespace>.<route name>.<rule index>". */
  route: string | undefined;
  destinations: string[];
  /** The Istio HTTPRedirect istiod programmed instead of destinations, if any. */
  redirect: { scheme?: string; redirectCode?: number; authority?: string; uri?: string } | null;
}

export async function configz(httpUrl: string): Promise<IstioObject[]> {
  const r = await fetch(`${httpUrl}/debug/configz`);
  if (!r.ok) throw new Error(`GET ${httpUrl}/debug/configz: ${r.status}`);
  return (await r.json()) as IstioObject[];
}

function uriMatches(m: UriMatch, s: string): boolean {
  if (m.exact !== undefined) return s === m.exact;
  // Gateway routes get Envoy's path_separated_prefix (whole segments; a trailing "/" dropped) unless the prefix is "/"
  // (istio pilot/pkg/networking/core/route/route.go TranslateRouteMatch).
  if (m.prefix !== undefined) {
    if (m.prefix === '/') return true;
    const p = m.prefix.replace(/\/$/, '');
    return s === p || s.startsWith(`${p}/`);
  }
  if (m.regex !== undefined) return new RegExp(`^(?:${m.regex})$`).test(s);
  return true;
}

function hostRank(pattern: string, host: string): number {
  if (pattern === host) return 1_000;
  if (pattern === '*') return 0;
  if (pattern.startsWith('*.') && host.endsWith(pattern.slice(1))) return pattern.length;
  return -1;
}

/** The VirtualService entry istiod generated for GET host+path on the given gateway (namespace/name of the Gateway). */
export function programmedRoute(objs: IstioObject[], gateway: string, host: string, path: string): Programmed | null {
  const [gwNs, gwName] = gateway.split('/') as [string, string];
  // Only HTTP virtual services (HTTPRoutes and GRPCRoutes, merged): a TLSRoute's VirtualService (tls, no http) for the
  // same hostname is another listener's and never serves HTTP.
  const vss = objs.filter((o) => o.kind === 'VirtualService' && (o.spec.http ?? []).length > 0 && (o.spec.gateways ?? []).some((g) => g.startsWith(`${gwNs}/${gwName}~`)));
  let best: { vs: IstioObject; vhost: string; rank: number } | undefined;
  for (const vs of vss) {
    for (const h of vs.spec.hosts ?? []) {
      const rank = hostRank(h, host);
      if (rank >= 0 && (!best || rank > best.rank)) best = { vs, vhost: h, rank };
    }
  }
  if (!best) return null;
  const pathOnly = path.split('?')[0] as string;
  for (const h of best.vs.spec.http ?? []) {
    const fits = (h.match ?? [{}]).some(
      (m) => (!m.uri || uriMatches(m.uri, pathOnly)) && (!m.method || uriMatches(m.method, 'GET')) && !m.headers && !m.queryParams,
    );
    if (!fits) continue;
    return {
      virtualService: best.vs.metadata.name,
      vhost: best.vhost,
      route: h.name,
      destinations: (h.route ?? []).map((r) => `${r.destination.host}:${r.destination.port?.number ?? ''}`),
      redirect: (h as { redirect?: { scheme?: string; redirectCode?: number; authority?: string; uri?: string } }).redirect ?? null,
    };
  }
  return { virtualService: best.vs.metadata.name, vhost: best.vhost, route: undefined, destinations: [], redirect: null };
}
