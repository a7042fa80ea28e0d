// What one gateway Envoy does with GET host/path, read from its own admin interface the way `istioctl proxy-config`
// reads it: /config_dump?include_eds (listeners, route configurations, clusters, endpoints, and every resource Envoy
// rejected) and /clusters?format=json (each host's health). Pure: the JSON in, typed data out; the transport is
// src/dataplane/envoy-admin.ts.
//
// Matching follows Envoy, not Gateway API:
// - the virtual host: envoy/config/route/v3/route_components.proto VirtualHost.domains, "Domain search order: 1. Exact
//   domain names 2. Suffix domain wildcards (*.foo.com, *-bar.foo.com) 3. Prefix domain wildcards (foo.*, foo-*)
//   4. Special wildcard * ... The wildcard will not match the empty string ... The longest wildcards match first";
//   the host is compared lower-cased, and without its port when the route configuration sets
//   ignore_port_in_host_matching (istiod sets it for gateways);
// - the route: docs/root/configuration/http/http_conn_man/route_matching.rst, "Each route entry in the virtual host is
//   checked, in order. If there is a match, the route is used and no further route checks are made"; prefix/path
//   compare the path without its query string (case_sensitive, default true); safe_regex must match the whole path.

import { compileRe2 } from '../gatewayapi/matching.js';
import type { EnvoyHostHealth, EnvoyPodFact } from '../types.js';

/** What the request is, as Envoy sees it at the gateway. */
export interface EnvoyRequest {
  host: string;
  /** Path with query string. */
  path: string;
  /** The port Envoy's listener binds (the gateway Service's targetPort). */
  port: number;
  method?: string;
}

/** One rejected xDS resource, in Envoy's own words (admin.v3.UpdateFailureState). */
export type Rejected = EnvoyPodFact['rejected'][number];

export type HostHealth = EnvoyHostHealth;

export interface ClusterHost {
  address: string;
  port: number | null;
  /** Every reason Envoy gives for not sending to the host; ['healthy'] when none. */
  health: HostHealth[];
}

export interface ClusterState {
  name: string;
  /** null: Envoy has no such cluster. */
  hosts: ClusterHost[] | null;
  /** The cluster is still warming (dynamic_warming_clusters): Envoy does not use it yet. */
  warming: boolean;
}

export type RouteAction =
  | { kind: 'cluster'; clusters: { name: string; weight: number }[] }
  | { kind: 'redirect'; redirect: Record<string, unknown> }
  | { kind: 'direct'; status: number }
  | { kind: 'other' };

export type EnvoyMatch =
  | { kind: 'no-listener'; port: number; listeners: string[] }
  | { kind: 'no-route-config'; listener: string; routeConfig: string | null }
  | { kind: 'no-virtual-host'; listener: string; routeConfig: string; version: string | null; domains: string[] }
  | {
      kind: 'no-route';
      listener: string;
      routeConfig: string;
      version: string | null;
      virtualHost: string;
      routes: string[];
    }
  | {
      kind: 'undetermined';
      listener: string;
      routeConfig: string;
      version: string | null;
      virtualHost: string;
      route: string;
      why: string;
    }
  | {
      kind: 'route';
      listener: string;
      routeConfig: string;
      version: string | null;
      virtualHost: string;
      /** How the virtual host matched the host (Envoy's search order). */
      matchedBy: 'exact' | 'suffix' | 'prefix' | 'any';
      domain: string;
      route: string;
      /** Position of the route in the virtual host (0-based). */
      index: number;
      action: RouteAction;
    };

/** One Envoy as read from its admin interface, for one request. */
export interface EnvoyView {
  match: EnvoyMatch;
  /** The route's clusters (weight > 0) with their hosts' health from /clusters. */
  clusters: ClusterState[];
  rejected: Rejected[];
  /** The version of the listeners (LDS) and clusters (CDS) Envoy last accepted. */
  versions: { listeners: string | null; clusters: string | null };
}

type Json = Record<string, unknown>;
const obj = (x: unknown): Json => (x && typeof x === 'object' && !Array.isArray(x) ? (x as Json) : {});
const arr = (x: unknown): unknown[] => (Array.isArray(x) ? x : []);
const str = (x: unknown): string | null => (typeof x === 'string' ? x : null);

/** The config_dump sections by their @type's message name (ListenersConfigDump, RoutesConfigDump, ...). */
function sections(dump: unknown): Map<string, Json> {
  const out = new Map<string, Json>();
  for (const c of arr(obj(dump)['configs'])) {
    const t = str(obj(c)['@type']) ?? '';
    out.set(t.slice(t.lastIndexOf('.') + 1), obj(c));
  }
  return out;
}

function failure(type: Rejected['type'], name: string, e: unknown, activeVersion: string | null): Rejected | null {
  const es = obj(e);
  const details = str(es['details']);
  if (details === null) return null;
  return { type, name, details, lastUpdateAttempt: str(es['last_update_attempt']), activeVersion };
}

/** Every resource Envoy rejected, from the error_state of listeners, route configurations, clusters and endpoints. */
export function rejectedOf(dump: unknown): Rejected[] {
  const s = sections(dump);
  const out: (Rejected | null)[] = [];
  for (const l of arr(s.get('ListenersConfigDump')?.['dynamic_listeners'])) {
    const lo = obj(l);
    out.push(
      failure('listener', str(lo['name']) ?? '', lo['error_state'], str(obj(lo['active_state'])['version_info'])),
    );
  }
  for (const r of arr(s.get('RoutesConfigDump')?.['dynamic_route_configs'])) {
    const ro = obj(r);
    out.push(failure('route', str(obj(ro['route_config'])['name']) ?? '', ro['error_state'], str(ro['version_info'])));
  }
  const cds = s.get('ClustersConfigDump');
  for (const key of ['dynamic_active_clusters', 'dynamic_warming_clusters']) {
    for (const c of arr(cds?.[key])) {
      const co = obj(c);
      out.push(
        failure(
          'cluster',
          str(obj(co['cluster'])['name']) ?? '',
          co['error_state'],
          key === 'dynamic_active_clusters' ? str(co['version_info']) : null,
        ),
      );
    }
  }
  for (const e of arr(s.get('EndpointsConfigDump')?.['dynamic_endpoint_configs'])) {
    const eo = obj(e);
    out.push(
      failure(
        'endpoint',
        str(obj(eo['endpoint_config'])['cluster_name']) ?? '',
        eo['error_state'],
        str(eo['version_info']),
      ),
    );
  }
  return out.filter((x): x is Rejected => x !== null);
}

function portOf(listener: Json): number | null {
  const p = obj(obj(listener['address'])['socket_address'])['port_value'];
  return typeof p === 'number' ? p : null;
}

/**
 * The active listener for the port: the one Envoy binds on it, else the one istiod names <bind>_<port> (Istio's
 * listener names, pilot/pkg/networking/core: getListenerName), for a listener whose address an EnvoyFilter moved.
 */
function listenerFor(dump: unknown, port: number): { name: string; listener: Json } | { names: string[] } {
  const all = arr(sections(dump).get('ListenersConfigDump')?.['dynamic_listeners'])
    .map((l) => ({ name: str(obj(l)['name']) ?? '', listener: obj(obj(obj(l)['active_state'])['listener']) }))
    .filter((l) => Object.keys(l.listener).length > 0);
  const hit = all.find((l) => portOf(l.listener) === port) ?? all.find((l) => l.name.endsWith(`_${port}`));
  return hit ?? { names: all.map((l) => l.name) };
}

const HCM = 'envoy.filters.network.http_connection_manager';

/** The HTTP connection manager of the filter chain that serves the host (server_names for TLS, else the chain without). */
function hcmFor(listener: Json, host: string): Json | null {
  const chains = arr(listener['filter_chains']).map(obj);
  const names = (c: Json) => arr(obj(c['filter_chain_match'])['server_names']).map((x) => String(x).toLowerCase());
  const chain =
    chains.find((c) =>
      names(c).some(
        (n) => n === host || (n.startsWith('*.') && host.endsWith(n.slice(1)) && host.length > n.length - 1),
      ),
    ) ?? chains.find((c) => names(c).length === 0);
  if (!chain) return null;
  const f = arr(chain['filters'])
    .map(obj)
    .find((x) => x['name'] === HCM);
  return f ? obj(f['typed_config']) : null;
}

function routeConfigs(dump: unknown): Map<string, { config: Json; version: string | null }> {
  const out = new Map<string, { config: Json; version: string | null }>();
  for (const r of arr(sections(dump).get('RoutesConfigDump')?.['dynamic_route_configs'])) {
    const c = obj(obj(r)['route_config']);
    const name = str(c['name']);
    if (name) out.set(name, { config: c, version: str(obj(r)['version_info']) });
  }
  return out;
}

/** Envoy's virtual host search (see the header): exact, then the longest suffix wildcard, the longest prefix wildcard, then `*`. */
export function virtualHostFor(
  vhosts: Json[],
  hostIn: string,
): { vh: Json; by: 'exact' | 'suffix' | 'prefix' | 'any'; domain: string } | null {
  const host = hostIn.toLowerCase();
  const all = vhosts.flatMap((vh) => arr(vh['domains']).map((d) => ({ vh, d: String(d).toLowerCase() })));
  const exact = all.find((x) => x.d === host);
  if (exact) return { vh: exact.vh, by: 'exact', domain: exact.d };
  const suffix = all
    .filter((x) => x.d.length > 1 && x.d.startsWith('*') && host.length > x.d.length - 1 && host.endsWith(x.d.slice(1)))
    .sort((a, b) => b.d.length - a.d.length)[0];
  if (suffix) return { vh: suffix.vh, by: 'suffix', domain: suffix.d };
  const prefix = all
    .filter(
      (x) => x.d.length > 1 && x.d.endsWith('*') && host.length > x.d.length - 1 && host.startsWith(x.d.slice(0, -1)),
    )
    .sort((a, b) => b.d.length - a.d.length)[0];
  if (prefix) return { vh: prefix.vh, by: 'prefix', domain: prefix.d };
  const any = all.find((x) => x.d === '*');
  return any ? { vh: any.vh, by: 'any', domain: '*' } : null;
}

/** A StringMatcher (type.matcher.v3) against a value; null when it cannot be evaluated here. */
function stringMatches(m: Json, value: string): boolean | null {
  const ci = m['ignore_case'] === true;
  const v = ci ? value.toLowerCase() : value;
  const norm = (x: unknown) => (ci ? String(x).toLowerCase() : String(x));
  if ('exact' in m) return v === norm(m['exact']);
  if ('prefix' in m) return v.startsWith(norm(m['prefix']));
  if ('suffix' in m) return v.endsWith(norm(m['suffix']));
  if ('contains' in m) return v.includes(norm(m['contains']));
  if ('safe_regex' in m) return fullRegex(str(obj(m['safe_regex'])['regex']), value);
  return null;
}

/**
 * RE2 full match (Envoy's safe_regex is google_re2), with gwdoctor's linear-time re2js (src/gatewayapi/matching.ts):
 * never JavaScript's backtracking RegExp on a pattern read from a cluster. null when it cannot be told here (re2js
 * not loaded: the stage loads it when a dump holds a regex; a pattern RE2 rejects, which Envoy would have rejected).
 */
function fullRegex(re: string | null, value: string): boolean | null {
  if (re === null) return null;
  try {
    const c = compileRe2(re);
    return typeof c === 'string' ? null : c.matches(value);
  } catch {
    return null;
  }
}

/** Whether route `r` matches the request; a string when that cannot be told (a header or matcher gwdoctor does not know). */
function routeMatches(r: Json, req: EnvoyRequest): boolean | string {
  const m = obj(r['match']);
  const full = req.path || '/';
  const q = full.indexOf('?');
  const path = q >= 0 ? full.slice(0, q) : full;
  const query = new URLSearchParams(q >= 0 ? full.slice(q + 1) : '');
  const cs = m['case_sensitive'] !== false;
  const cmp = (a: string) => (cs ? a : a.toLowerCase());
  if ('prefix' in m) {
    if (!cmp(path).startsWith(cmp(String(m['prefix'])))) return false;
  } else if ('path' in m) {
    if (cmp(path) !== cmp(String(m['path']))) return false;
  } else if ('path_separated_prefix' in m) {
    const p = cmp(String(m['path_separated_prefix']));
    const x = cmp(path);
    if (!(x === p || x.startsWith(`${p}/`))) return false;
  } else if ('safe_regex' in m) {
    const ok = fullRegex(str(obj(m['safe_regex'])['regex']), path);
    if (ok === null)
      return `its path regex ${JSON.stringify(obj(m['safe_regex'])['regex'])} is not one gwdoctor can evaluate`;
    if (!ok) return false;
  } else if ('connect_matcher' in m || 'path_match_policy' in m) {
    return 'it matches on something other than the path (CONNECT or a path template)';
  }
  if ('grpc' in m) return false; // a plain GET carries no content-type application/grpc
  if ('runtime_fraction' in m) return 'it matches a runtime fraction of requests';
  const pseudo: Record<string, string> = {
    ':method': req.method ?? 'GET',
    ':authority': req.host,
    ':path': full,
    ':scheme': 'http',
  };
  for (const h of arr(m['headers']).map(obj)) {
    const name = String(h['name'] ?? '').toLowerCase();
    const value = name === 'host' ? req.host : pseudo[name];
    let hit: boolean | null;
    if (value === undefined) {
      // A header gwdoctor's request does not define: it matches only by its absence.
      if (h['present_match'] === false) hit = true;
      else if (
        h['present_match'] === true ||
        'string_match' in h ||
        'exact_match' in h ||
        'prefix_match' in h ||
        'safe_regex_match' in h
      )
        return `it needs request header ${name}, which a request for the URL alone does not carry`;
      else hit = null;
    } else if ('string_match' in h) hit = stringMatches(obj(h['string_match']), value);
    else if ('exact_match' in h) hit = value === h['exact_match'];
    else if ('prefix_match' in h) hit = value.startsWith(String(h['prefix_match']));
    else if ('present_match' in h) hit = h['present_match'] === true;
    else if ('safe_regex_match' in h) hit = fullRegex(str(obj(h['safe_regex_match'])['regex']), value);
    else hit = null;
    if (hit === null) return `its match on header ${name} is not one gwdoctor can evaluate`;
    if ((h['invert_match'] === true) === hit) return false;
  }
  for (const qp of arr(m['query_parameters']).map(obj)) {
    const name = String(qp['name'] ?? '');
    const value = query.get(name);
    if ('present_match' in qp) {
      if ((value !== null) !== (qp['present_match'] === true)) return false;
      continue;
    }
    if (value === null) return false;
    const hit = 'string_match' in qp ? stringMatches(obj(qp['string_match']), value) : null;
    if (hit === null) return `its match on query parameter ${name} is not one gwdoctor can evaluate`;
    if (!hit) return false;
  }
  return true;
}

function actionOf(r: Json): RouteAction {
  if ('redirect' in r) return { kind: 'redirect', redirect: obj(r['redirect']) };
  if ('direct_response' in r) return { kind: 'direct', status: Number(obj(r['direct_response'])['status'] ?? 0) };
  const ra = obj(r['route']);
  if (typeof ra['cluster'] === 'string') return { kind: 'cluster', clusters: [{ name: ra['cluster'], weight: 1 }] };
  if ('weighted_clusters' in ra) {
    const cs = arr(obj(ra['weighted_clusters'])['clusters']).map(obj);
    return {
      kind: 'cluster',
      clusters: cs.map((c) => ({
        name: String(c['name'] ?? ''),
        weight: typeof c['weight'] === 'number' ? c['weight'] : 1,
      })),
    };
  }
  return { kind: 'other' };
}

const routeName = (r: Json, i: number) => str(r['name']) ?? `#${i}`;

/** What Envoy's configuration does with the request: listener, route configuration, virtual host, route, action. */
export function matchRequest(dump: unknown, req: EnvoyRequest): EnvoyMatch {
  const l = listenerFor(dump, req.port);
  if ('names' in l) return { kind: 'no-listener', port: req.port, listeners: l.names };
  const host = req.host.toLowerCase();
  const hcm = hcmFor(l.listener, host);
  if (!hcm) return { kind: 'no-route-config', listener: l.name, routeConfig: null };
  let rc: { config: Json; version: string | null } | undefined;
  let rcName: string;
  if ('route_config' in hcm) {
    rc = {
      config: obj(hcm['route_config']),
      version: str(obj(sections(dump).get('ListenersConfigDump'))['version_info']),
    };
    rcName = str(rc.config['name']) ?? '(inline)';
  } else {
    rcName = str(obj(hcm['rds'])['route_config_name']) ?? '';
    rc = routeConfigs(dump).get(rcName);
  }
  if (!rc) return { kind: 'no-route-config', listener: l.name, routeConfig: rcName || null };
  const vhosts = arr(rc.config['virtual_hosts']).map(obj);
  const ignorePort = rc.config['ignore_port_in_host_matching'] === true;
  const vhost = virtualHostFor(vhosts, ignorePort ? host.replace(/:\d+$/, '') : host);
  if (!vhost)
    return {
      kind: 'no-virtual-host',
      listener: l.name,
      routeConfig: rcName,
      version: rc.version,
      domains: vhosts.flatMap((v) => arr(v['domains']).map(String)),
    };
  const routes = arr(vhost.vh['routes']).map(obj);
  const vhName = str(vhost.vh['name']) ?? vhost.domain;
  for (let i = 0; i < routes.length; i++) {
    const r = routes[i] as Json;
    const m = routeMatches(r, req);
    if (m === false) continue;
    if (typeof m === 'string')
      return {
        kind: 'undetermined',
        listener: l.name,
        routeConfig: rcName,
        version: rc.version,
        virtualHost: vhName,
        route: routeName(r, i),
        why: m,
      };
    return {
      kind: 'route',
      listener: l.name,
      routeConfig: rcName,
      version: rc.version,
      virtualHost: vhName,
      matchedBy: vhost.by,
      domain: vhost.domain,
      route: routeName(r, i),
      index: i,
      action: actionOf(r),
    };
  }
  return {
    kind: 'no-route',
    listener: l.name,
    routeConfig: rcName,
    version: rc.version,
    virtualHost: vhName,
    routes: routes.map(routeName),
  };
}

/** A host's health flags from /clusters?format=json (admin.v3.HostHealthStatus). */
function healthOf(h: Json): HostHealth[] {
  const hs = obj(h['health_status']);
  const out: HostHealth[] = [];
  if (hs['failed_outlier_check'] === true) out.push('failed_outlier_check');
  if (hs['failed_active_health_check'] === true) out.push('failed_active_health_check');
  if (hs['active_hc_timeout'] === true) out.push('active_hc_timeout');
  if (hs['pending_active_hc'] === true) out.push('pending_active_hc');
  if (hs['excluded_via_immediate_hc_fail'] === true) out.push('excluded_via_immediate_hc_fail');
  if (hs['pending_dynamic_removal'] === true) out.push('pending_dynamic_removal');
  const eds = str(hs['eds_health_status']);
  if (eds === 'UNHEALTHY') out.push('eds_unhealthy');
  if (eds === 'DRAINING') out.push('eds_draining');
  if (eds === 'TIMEOUT') out.push('eds_timeout');
  return out.length ? out : ['healthy'];
}

/** Each named cluster's hosts and their health (/clusters?format=json), and whether the config dump has it warming. */
export function clusterStates(clusters: unknown, dump: unknown, names: string[]): ClusterState[] {
  const statuses = new Map(
    arr(obj(clusters)['cluster_statuses']).map((c) => [str(obj(c)['name']) ?? '', obj(c)] as const),
  );
  const warming = new Set(
    arr(sections(dump).get('ClustersConfigDump')?.['dynamic_warming_clusters']).map((c) =>
      str(obj(obj(c)['cluster'])['name']),
    ),
  );
  return names.map((name) => {
    const st = statuses.get(name);
    const hosts = st
      ? arr(st['host_statuses'])
          .map(obj)
          .map((h) => {
            const sa = obj(obj(h['address'])['socket_address']);
            const internal = obj(obj(h['address'])['envoy_internal_address']);
            const address = str(sa['address']) ?? str(internal['endpoint_id']) ?? '';
            return {
              address,
              port: typeof sa['port_value'] === 'number' ? sa['port_value'] : null,
              health: healthOf(h),
            };
          })
      : null;
    return { name, hosts, warming: warming.has(name) };
  });
}

function versionOf(dump: unknown, section: string): string | null {
  return str(sections(dump).get(section)?.['version_info']);
}

/** One Envoy's answer for the request, from its /config_dump?include_eds and /clusters?format=json. */
export function viewOf(dump: unknown, clusters: unknown, req: EnvoyRequest): EnvoyView {
  const match = matchRequest(dump, req);
  const names =
    match.kind === 'route' && match.action.kind === 'cluster'
      ? match.action.clusters.filter((c) => c.weight > 0).map((c) => c.name)
      : [];
  return {
    match,
    clusters: clusterStates(clusters, dump, names),
    rejected: rejectedOf(dump),
    versions: { listeners: versionOf(dump, 'ListenersConfigDump'), clusters: versionOf(dump, 'ClustersConfigDump') },
  };
}

/** Istio's cluster name for a Service port (pilot/pkg/model/service.go BuildSubsetKey): outbound|<port>|<subset>|<host>. */
export function istioClusterName(namespace: string, service: string, port: number, domain = 'cluster.local'): string {
  return `outbound|${port}||${service}.${namespace}.svc.${domain}`;
}

/** The Service and port an Istio outbound cluster name stands for (null for any other cluster). */
export function serviceOfCluster(
  name: string,
): { namespace: string; service: string; port: number; subset: string } | null {
  const m = /^outbound\|(\d+)\|([^|]*)\|([^.|]+)\.([^.|]+)\.svc\.[^|]+$/.exec(name);
  return m ? { port: Number(m[1]), subset: m[2] ?? '', service: m[3] ?? '', namespace: m[4] ?? '' } : null;
}
