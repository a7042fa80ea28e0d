// Which HTTPRoute rule serves a request: virtual-host choice, then match precedence across rules and routes.

import type { HTTPRoute, HTTPRouteMatch, HTTPRouteRule } from '../cluster/objects.js';
import { RE2JS, RE2JSSyntaxException } from 're2js';
import { compareRank, hostMatches, hostnameRank } from './hostnames.js';

export interface Request {
  host: string;
  path: string;
  query: string;
  method: string;
}

/** A route attached to the listener, with the intersected hostnames it serves there. */
export interface AttachedRoute {
  route: HTTPRoute;
  hostnames: (string | undefined)[];
}

export interface Entry {
  route: HTTPRoute;
  ruleIndex: number;
  rule: HTTPRouteRule;
  match: HTTPRouteMatch;
  order: number;
}

export interface Selection {
  /** The virtual-host domain that Envoy picks for the host ("*" when the routes have no hostnames). */
  vhost: string | null;
  /** Routes contributing to that vhost, in merge order. */
  routes: HTTPRoute[];
  /** Routes that serve the host but are shadowed by a more specific vhost. */
  shadowed: HTTPRoute[];
  winner: Entry | null;
  /** Every entry considered, sorted as Envoy would try them. */
  entries: Entry[];
}

/**
 * PathPrefix matches element-wise on "/" and ignores a trailing "/" in the value; Exact is the whole path; both are
 * case-sensitive (gateway-api apis/v1/httproute_types.go PathMatchType). RegularExpression is RE2, a full match, as in
 * Envoy (re2FullMatch below).
 */
export function pathMatches(type: string, value: string, path: string): boolean {
  if (type === 'Exact') return path === value;
  if (type === 'PathPrefix') {
    const v = value.length > 1 ? value.replace(/\/+$/, '') : value;
    return v === '/' || path === v || path.startsWith(`${v}/`);
  }
  if (type === 'RegularExpression') return re2FullMatch(value, path);
  return false;
}

export function describeMatch(m: HTTPRouteMatch): string {
  const parts = [`${m.path?.type ?? 'PathPrefix'} "${m.path?.value ?? '/'}"`];
  if (m.method) parts.push(`method ${m.method}`);
  for (const h of m.headers ?? []) parts.push(`header ${h.name}=${h.value}`);
  for (const q of m.queryParams ?? []) parts.push(`query ${q.name}=${q.value}`);
  return parts.join(', ');
}

function requestMatches(m: HTTPRouteMatch, req: Request): boolean {
  if (!pathMatches(m.path?.type ?? 'PathPrefix', m.path?.value ?? '/', req.path)) return false;
  if (m.method && m.method !== req.method) return false;
  // gwdoctor's request carries no headers besides Host, so any header match fails (said in the evidence).
  if ((m.headers ?? []).length > 0) return false;
  const params = new URLSearchParams(req.query);
  for (const q of m.queryParams ?? []) {
    const got = params.get(q.name); // names are case-sensitive; first value counts
    if (got === null) return false;
    if ((q.type ?? 'Exact') === 'Exact' ? got !== q.value : !re2FullMatch(q.value, got)) return false;
  }
  return true;
}

const compiled = new Map<string, RE2JS | string>();

/**
 * RE2 syntax and semantics, as Envoy's safe_regex (google_re2) uses them for RegularExpression path, header and query
 * matches: a full match, in linear time (re2js, a JavaScript port of RE2), so no pattern can stall a run the way
 * JavaScript's backtracking RegExp did on "/(a+)+b". A pattern RE2 rejects (backreferences, lookaround, ...) matches
 * nothing: Istio passes HTTPRoute regexes to Envoy unvalidated (istio/istio#49993) and Envoy rejects the route
 * configuration that holds one, so no request is ever routed by it.
 */
export function re2FullMatch(pattern: string, s: string): boolean {
  const re = compileRe2(pattern);
  return typeof re !== 'string' && re.matches(s);
}

/** The compiled pattern, or RE2's reason for rejecting it. */
export function compileRe2(pattern: string): RE2JS | string {
  let re = compiled.get(pattern);
  if (re === undefined) {
    try {
      re = RE2JS.compile(pattern);
    } catch (err) {
      if (!(err instanceof RE2JSSyntaxException)) throw err;
      re = err.message;
    }
    if (compiled.size > 1000) compiled.clear();
    compiled.set(pattern, re);
  }
  return re;
}

const PATH_KIND: Record<string, number> = { Exact: 3, PathPrefix: 2, RegularExpression: 1 };

function isCatchAll(m: HTTPRouteMatch): boolean {
  return (
    (m.path?.type ?? 'PathPrefix') === 'PathPrefix' &&
    (m.path?.value ?? '/') === '/' &&
    !m.method &&
    (m.headers ?? []).length === 0 &&
    (m.queryParams ?? []).length === 0
  );
}

/** Route order for ties: oldest creationTimestamp, then namespace, then name (GW HTTPRouteRule.Matches). */
export function compareRoutes(a: HTTPRoute, b: HTTPRoute): number {
  const ta = a.metadata.creationTimestamp ?? '';
  const tb = b.metadata.creationTimestamp ?? '';
  if (ta !== tb) return ta < tb ? -1 : 1;
  const na = `${a.metadata.namespace ?? ''}/${a.metadata.name}`;
  const nb = `${b.metadata.namespace ?? ''}/${b.metadata.name}`;
  return na < nb ? -1 : na > nb ? 1 : 0;
}

/**
 * Istio/Envoy rule selection for one listener:
 * 1. Envoy picks one virtual host: exact domain, then the longest wildcard suffix, then "*" (envoy
 *    source/common/router/config_impl.cc findVirtualHost). Routes of a less specific vhost are NOT consulted
 *    (an exact-host route shadows a wildcard-host route completely).
 * 2. Routes of that vhost are merged by creationTimestamp, namespace, name; every match is its own entry; entries are
 *    stably sorted by path kind (Exact > PathPrefix > RegularExpression), path length, method, header count, query
 *    count; catch-alls go last (istio pilot/pkg/config/kube/gateway/conversion.go sortHTTPRoutes,
 *    pilot/pkg/networking/core/route/route.go SortVHostRoutes).
 * 3. The first entry that matches the request wins; none -> 404.
 */
export function selectRule(attached: AttachedRoute[], req: Request): Selection {
  const domains = new Map<string, HTTPRoute[]>();
  for (const a of attached) {
    for (const h of a.hostnames) {
      if (!hostMatches(h, req.host)) continue;
      const key = h ?? '*';
      const list = domains.get(key) ?? [];
      if (!list.includes(a.route)) list.push(a.route);
      domains.set(key, list);
    }
  }
  if (domains.size === 0) return { vhost: null, routes: [], shadowed: [], winner: null, entries: [] };
  const sorted = [...domains.keys()].sort((x, y) => compareRank(hostnameRank(y === '*' ? undefined : y), hostnameRank(x === '*' ? undefined : x)));
  const vhost = sorted[0] as string;
  const routes = [...(domains.get(vhost) ?? [])].sort(compareRoutes);
  const shadowed = [...new Set(sorted.slice(1).flatMap((d) => domains.get(d) ?? []))].filter((r) => !routes.includes(r));

  const entries: Entry[] = [];
  let order = 0;
  for (const route of routes) {
    (route.spec.rules ?? [{}]).forEach((rule, ruleIndex) => {
      const matches = rule.matches?.length ? rule.matches : [{ path: { type: 'PathPrefix', value: '/' } }];
      for (const match of matches) entries.push({ route, ruleIndex, rule, match, order: order++ });
    });
  }
  entries.sort((a, b) => {
    const ca = isCatchAll(a.match) ? 1 : 0;
    const cb = isCatchAll(b.match) ? 1 : 0;
    if (ca !== cb) return ca - cb;
    const ka = PATH_KIND[a.match.path?.type ?? 'PathPrefix'] ?? 0;
    const kb = PATH_KIND[b.match.path?.type ?? 'PathPrefix'] ?? 0;
    if (ka !== kb) return kb - ka;
    const la = (a.match.path?.value ?? '/').length;
    const lb = (b.match.path?.value ?? '/').length;
    if (la !== lb) return lb - la;
    const ma = a.match.method ? 1 : 0;
    const mb = b.match.method ? 1 : 0;
    if (ma !== mb) return mb - ma;
    const ha = (a.match.headers ?? []).length;
    const hb = (b.match.headers ?? []).length;
    if (ha !== hb) return hb - ha;
    const qa = (a.match.queryParams ?? []).length;
    const qb = (b.match.queryParams ?? []).length;
    if (qa !== qb) return qb - qa;
    return a.order - b.order;
  });
  const winner = entries.find((e) => requestMatches(e.match, req)) ?? null;
  return { vhost, routes, shadowed, winner, entries };
}
