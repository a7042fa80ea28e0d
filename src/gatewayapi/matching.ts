// Which route rule serves a request: virtual-host choice, then match precedence across rules and routes, HTTPRoutes
// and GRPCRoutes together (Istio merges both kinds of one listener and hostname into one list).

import {
  isGrpcRoute,
  type GRPCRoute,
  type GRPCRouteMatch,
  type GRPCRouteRule,
  type HTTPRoute,
  type HTTPRouteMatch,
  type HTTPRouteRule,
  type Route,
} from '../cluster/objects.js';
import type { RE2JS } from 're2js';
import { compareRank, hostMatches, hostnameRank } from './hostnames.js';

export interface Request {
  host: string;
  path: string;
  query: string;
  method: string;
}

/** A route attached to the listener, with the intersected hostnames it serves there. */
export interface AttachedRoute {
  route: Route;
  hostnames: (string | undefined)[];
}

/**
 * The path match Istio generates for one match, as Envoy applies it: Exact = whole path, Prefix = Envoy's
 * path_separated_prefix (whole segments), Regex = RE2 full match; null = no path condition (matches every path).
 */
export interface UriMatch {
  type: 'Exact' | 'Prefix' | 'Regex';
  value: string;
  /** The length Istio sorts by (getURILength: the generated string, before Envoy trims a prefix's trailing "/"). */
  sortLength: number;
}

interface EntryBase {
  ruleIndex: number;
  order: number;
  uri: UriMatch | null;
  /** The rule has no match at all (a GRPCRoute rule without matches): Istio sorts it after every other entry. */
  noMatch: boolean;
  method: string | null;
  headers: number;
  query: number;
}

export type Entry = EntryBase &
  (
    | { route: HTTPRoute; rule: HTTPRouteRule; match: HTTPRouteMatch; grpc?: undefined }
    | { route: GRPCRoute; rule: GRPCRouteRule; match?: undefined; grpc: GRPCRouteMatch | null }
  );

export interface Selection {
  /** The virtual-host domain that Envoy picks for the host ("*" when the routes have no hostnames). */
  vhost: string | null;
  /** Routes contributing to that vhost, in merge order. */
  routes: Route[];
  /** Routes that serve the host but are shadowed by a more specific vhost. */
  shadowed: Route[];
  winner: Entry | null;
  /** Every entry considered, sorted as Envoy would try them. */
  entries: Entry[];
  /** Entries Envoy never sees: they sort after a catch-all of the same virtual host (Istio stops there). */
  unreachable: Entry[];
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

/** A match as written in the route (GRPCRoute: its method and headers; null: a rule without matches). */
export function describeEntryMatch(e: Entry): string {
  if (e.grpc === undefined && e.match) return describeMatch(e.match);
  const g = e.grpc;
  if (!g) return 'no matches (every request)';
  const m = g.method;
  const parts: string[] = [];
  if (m)
    parts.push(
      `gRPC ${m.type ?? 'Exact'} ${m.service ?? '*'}/${m.method ?? '*'} (path ${e.uri ? `${e.uri.type} "${e.uri.value}"` : 'any'})`,
    );
  for (const h of g.headers ?? []) parts.push(`header ${h.name}=${h.value}`);
  return parts.join(', ') || 'any gRPC method';
}

export function describeMatch(m: HTTPRouteMatch): string {
  const parts = [`${m.path?.type ?? 'PathPrefix'} "${m.path?.value ?? '/'}"`];
  if (m.method) parts.push(`method ${m.method}`);
  for (const h of m.headers ?? []) parts.push(`header ${h.name}=${h.value}`);
  for (const q of m.queryParams ?? []) parts.push(`query ${q.name}=${q.value}`);
  return parts.join(', ');
}

function uriMatches(u: UriMatch | null, path: string): boolean {
  if (!u) return true;
  if (u.type === 'Exact') return path === u.value;
  if (u.type === 'Prefix') return pathMatches('PathPrefix', u.value, path);
  return re2FullMatch(u.value, path);
}

function requestMatches(e: Entry, req: Request): boolean {
  if (!uriMatches(e.uri, req.path)) return false;
  if (e.method && e.method !== req.method) return false;
  // gwdoctor's request carries no headers besides Host, so any header match fails (said in the evidence).
  if (e.headers > 0) return false;
  if (e.grpc !== undefined || !e.match) return true;
  const params = new URLSearchParams(req.query);
  for (const q of e.match.queryParams ?? []) {
    const got = params.get(q.name); // names are case-sensitive; first value counts
    if (got === null) return false;
    if ((q.type ?? 'Exact') === 'Exact' ? got !== q.value : !re2FullMatch(q.value, got)) return false;
  }
  return true;
}

/**
 * The path match Istio generates for an HTTPRoute match (pilot/pkg/config/kube/gateway/conversion.go createURIMatch:
 * a PathPrefix drops its trailing "/" unless it is "/").
 */
export function httpUriMatch(m: HTTPRouteMatch): UriMatch {
  const type = m.path?.type ?? 'PathPrefix';
  const value = m.path?.value ?? '/';
  if (type === 'Exact') return { type: 'Exact', value, sortLength: value.length };
  if (type === 'RegularExpression') return { type: 'Regex', value, sortLength: value.length };
  const v = value !== '/' ? value.replace(/\/$/, '') : value;
  return { type: 'Prefix', value: v, sortLength: v.length };
}

/**
 * The path match Istio generates for a GRPCRoute method match (conversion.go createGRPCURIMatch): gRPC calls are
 * POST /<service>/<method>, but Istio matches them by path only (no method or content-type condition), so a plain
 * GET of that path is routed the same way. Exact service+method -> Exact "/S/M"; service only -> Prefix "/S/" (Envoy:
 * whole segments under "/S"); method only -> Regex "/[^/]+/M"; RegularExpression -> Regex "/S/M", "/S/.+" or
 * "/[^/]+/M". No method match -> no path condition.
 */
export function grpcUriMatch(m: GRPCRouteMatch): UriMatch | null {
  const g = m.method;
  if (!g || (g.service === undefined && g.method === undefined)) return null;
  const rx = (value: string): UriMatch => ({ type: 'Regex', value, sortLength: value.length });
  if ((g.type ?? 'Exact') === 'RegularExpression') {
    if (g.method === undefined) return rx(`/${g.service}/.+`);
    if (g.service === undefined) return rx(`/[^/]+/${g.method}`);
    return rx(`/${g.service}/${g.method}`);
  }
  if (g.method === undefined) {
    const p = `/${g.service}/`;
    return { type: 'Prefix', value: p.slice(0, -1), sortLength: p.length };
  }
  if (g.service === undefined) return rx(`/[^/]+/${g.method}`);
  const v = `/${g.service}/${g.method}`;
  return { type: 'Exact', value: v, sortLength: v.length };
}

const compiled = new Map<string, RE2JS | string>();

/**
 * re2js is most of the bundle's weight and an offline run without a regular-expression match never needs it: it is
 * loaded by loadRe2(), which the route stage awaits when a route it selects among could hold one (mayUseRe2).
 */
let re2: typeof import('re2js') | null = null;
export async function loadRe2(): Promise<void> {
  re2 ??= await import('re2js');
}

/** Could selecting among these routes evaluate a regular expression (RE2 path/header/query, or any GRPCRoute method)? */
export function mayUseRe2(routes: readonly Route[]): boolean {
  return routes.some((r) => isGrpcRoute(r) || JSON.stringify(r.spec.rules ?? []).includes('"RegularExpression"'));
}

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
      if (!re2) throw new Error('re2js is not loaded: the route stage awaits loadRe2() when mayUseRe2()');
      re = re2.RE2JS.compile(pattern);
    } catch (err) {
      if (!re2 || !(err instanceof re2.RE2JSSyntaxException)) throw err;
      re = err.message;
    }
    if (compiled.size > 1000) compiled.clear();
    compiled.set(pattern, re);
  }
  return re;
}

const URI_RANK: Record<UriMatch['type'], number> = { Exact: 3, Prefix: 2, Regex: 1 };

/**
 * Envoy's catch-all (pilot/pkg/networking/core/route/route.go IsCatchAllRoute): path prefix "/" (or no path
 * condition), no header (a method match is a ":method" header) and no query condition.
 */
function isCatchAll(e: Entry): boolean {
  return (!e.uri || (e.uri.type === 'Prefix' && e.uri.value === '/')) && !e.method && e.headers === 0 && e.query === 0;
}

/** Istio's sortHTTPRoutes comparator (conversion.go): match-less last; URI kind, URI length, method, headers, query. */
function compareEntries(a: Entry, b: Entry): number {
  if (a.noMatch !== b.noMatch) return a.noMatch ? 1 : -1;
  if (a.noMatch) return 0;
  const ra = a.uri ? URI_RANK[a.uri.type] : -1;
  const rb = b.uri ? URI_RANK[b.uri.type] : -1;
  if (ra !== rb) return rb - ra;
  const la = a.uri?.sortLength ?? 0;
  const lb = b.uri?.sortLength ?? 0;
  if (la !== lb) return lb - la;
  if (!a.method !== !b.method) return a.method ? -1 : 1;
  if (a.headers !== b.headers) return b.headers - a.headers;
  return b.query - a.query;
}

/** Every match of the route as an entry (a rule with several matches is split, one entry per match, as Istio does). */
function entriesOf(route: Route, next: () => number): Entry[] {
  const out: Entry[] = [];
  if (isGrpcRoute(route)) {
    (route.spec.rules ?? []).forEach((rule, ruleIndex) => {
      const matches: (GRPCRouteMatch | null)[] = rule.matches?.length ? rule.matches : [null];
      for (const grpc of matches) {
        const uri = grpc ? grpcUriMatch(grpc) : null;
        out.push({
          route,
          ruleIndex,
          rule,
          grpc,
          order: next(),
          uri,
          noMatch: grpc === null,
          method: null,
          headers: (grpc?.headers ?? []).length,
          query: 0,
        });
      }
    });
    return out;
  }
  (route.spec.rules ?? [{}]).forEach((rule, ruleIndex) => {
    // The CRD defaults an HTTPRoute rule's matches to [{path: {type: PathPrefix, value: "/"}}].
    const matches = rule.matches?.length ? rule.matches : [{ path: { type: 'PathPrefix', value: '/' } }];
    for (const match of matches) {
      out.push({
        route,
        ruleIndex,
        rule,
        match,
        order: next(),
        uri: httpUriMatch(match),
        noMatch: false,
        method: match.method ?? null,
        headers: (match.headers ?? []).length,
        query: (match.queryParams ?? []).length,
      });
    }
  });
  return out;
}

/** Route order for ties: oldest creationTimestamp, then namespace, then name (GW HTTPRouteRule.Matches). */
export function compareRoutes(a: Route, b: Route): number {
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
 * 2. HTTPRoutes and GRPCRoutes of that vhost are merged by creationTimestamp, namespace, name (istio
 *    pilot/pkg/config/kube/gateway/route_collections.go mergeHTTPRoutes, joined across both kinds in controller.go);
 *    every match is its own entry; entries are stably sorted as conversion.go sortHTTPRoutes does: match-less rules
 *    last, then URI kind (Exact > Prefix > Regex > none), URI length, method, header count, query count.
 * 3. Envoy gets the entries up to the first catch-all and no further (pilot/pkg/networking/core/route/route.go
 *    TranslateRoutes stops at a catch-all): e.g. a PathPrefix "/" sorts before every regex, which then never
 *    matches. The first entry that matches the request wins; none -> 404.
 */
export function selectRule(attached: AttachedRoute[], req: Request): Selection {
  const domains = new Map<string, Route[]>();
  for (const a of attached) {
    for (const h of a.hostnames) {
      if (!hostMatches(h, req.host)) continue;
      const key = h ?? '*';
      const list = domains.get(key) ?? [];
      if (!list.includes(a.route)) list.push(a.route);
      domains.set(key, list);
    }
  }
  if (domains.size === 0) return { vhost: null, routes: [], shadowed: [], winner: null, entries: [], unreachable: [] };
  const sorted = [...domains.keys()].sort((x, y) =>
    compareRank(hostnameRank(y === '*' ? undefined : y), hostnameRank(x === '*' ? undefined : x)),
  );
  const vhost = sorted[0] as string;
  const routes = [...(domains.get(vhost) ?? [])].sort(compareRoutes);
  const shadowed = [...new Set(sorted.slice(1).flatMap((d) => domains.get(d) ?? []))].filter(
    (r) => !routes.includes(r),
  );

  let order = 0;
  const all = routes.flatMap((route) => entriesOf(route, () => order++));
  all.sort((a, b) => compareEntries(a, b) || a.order - b.order);
  const cut = all.findIndex(isCatchAll);
  const entries = cut < 0 ? all : all.slice(0, cut + 1);
  const unreachable = cut < 0 ? [] : all.slice(cut + 1);
  const winner = entries.find((e) => requestMatches(e, req)) ?? null;
  return { vhost, routes, shadowed, winner, entries, unreachable };
}
