// What Envoy answers for a rule with a RequestRedirect filter: the status code and the Location header.
// Gateway API HTTPRequestRedirectFilter (apis/v1/httproute_types.go) as Istio converts it
// (pilot/pkg/config/kube/gateway/conversion.go createRedirectFilter): statusCode default 302; hostname default the
// request's Host; scheme default the request's; port: the filter's, else the scheme's well-known port when a scheme
// is set (DerivePort FROM_PROTOCOL_DEFAULT), else the port of the request's Host header (FROM_REQUEST_PORT); a
// well-known port is not written into Location. A rule that redirects answers itself: Istio programs the redirect
// instead of a route to its backends, so a redirect rule without backendRefs is served, not a 500.

import type { HTTPRouteMatch, HTTPRouteRule } from '../cluster/objects.js';

export interface Redirect {
  statusCode: number;
  scheme: string;
  hostname: string;
  port: number | null;
  path: string;
  location: string;
  /** Where the filter sits: "filters[0]" of the rule, or "backendRefs[0].filters[0]". */
  where: string;
  /** The scheme was not set: it is the request's scheme as Envoy sees it (plain http behind a TLS-terminating proxy). */
  schemeFromRequest: boolean;
}

const WELL_KNOWN: Record<string, number> = { http: 80, https: 443 };

/** The redirect filter of a rule (rule-level first, then on a backendRef), if any. */
export function redirectFilterOf(
  rule: HTTPRouteRule,
): { filter: NonNullable<NonNullable<HTTPRouteRule['filters']>[number]['requestRedirect']>; where: string } | null {
  for (const [i, f] of (rule.filters ?? []).entries())
    if (f.type === 'RequestRedirect' && f.requestRedirect) return { filter: f.requestRedirect, where: `filters[${i}]` };
  for (const [j, b] of (rule.backendRefs ?? []).entries()) {
    for (const [i, f] of (b.filters ?? []).entries())
      if (f.type === 'RequestRedirect' && f.requestRedirect)
        return { filter: f.requestRedirect, where: `backendRefs[${j}].filters[${i}]` };
  }
  return null;
}

/** ReplacePrefixMatch: the matched prefix (whole segments) is replaced; "/" as replacement removes it. */
function replacePrefix(path: string, prefix: string, replacement: string): string {
  const p = prefix.length > 1 ? prefix.replace(/\/+$/, '') : '';
  const rest = path.slice(p.length);
  const r = replacement.replace(/\/+$/, '');
  const out = `${r}${rest}`;
  return out.startsWith('/') ? out : `/${out}`;
}

export function predictRedirect(
  rule: HTTPRouteRule,
  match: HTTPRouteMatch,
  req: { host: string; hostPort: number | null; path: string; query: string; listenerProtocol: string },
): Redirect | null {
  const found = redirectFilterOf(rule);
  if (!found) return null;
  const f = found.filter;
  const scheme = f.scheme ?? (req.listenerProtocol === 'HTTPS' ? 'https' : 'http');
  const hostname = f.hostname ?? req.host;
  const port = f.port ?? (f.scheme ? (WELL_KNOWN[f.scheme] ?? null) : req.hostPort);
  let path = req.path;
  if (f.path?.type === 'ReplaceFullPath') path = f.path.replaceFullPath ?? '/';
  else if (f.path?.type === 'ReplacePrefixMatch' && match.path?.type !== 'RegularExpression')
    path = replacePrefix(req.path, match.path?.value ?? '/', f.path.replacePrefixMatch ?? '/');
  const showPort = port !== null && WELL_KNOWN[scheme] !== port;
  const location = `${scheme}://${hostname}${showPort ? `:${port}` : ''}${path}${req.query ? `?${req.query}` : ''}`;
  return {
    statusCode: f.statusCode ?? 302,
    scheme,
    hostname,
    port,
    path,
    location,
    where: found.where,
    schemeFromRequest: f.scheme === undefined,
  };
}
