// Core types shared by the CLI, the pipeline, the checks and the reporters.
// This file imports no library: checks depend on it, and it must stay cheap to load.

import type { Gateway, GatewayListener, HTTPBackendRef } from './cluster/objects.js';

export { LAYER_IDS, type LayerId } from './registry.js';
import type { Code, LayerId, ReadKind, SkipReason } from './registry.js';

/** fail = looked and found the fault; error = could not look (inconclusive). */
export type Status = 'pass' | 'warn' | 'fail' | 'error' | 'skip';
export type Verdict = 'pass' | 'warn' | 'fail' | 'error';

/** An object, structurally: what evidence and facts name (never parsed from prose). */
export interface ObjectRef {
  apiVersion: string;
  kind: string;
  namespace?: string;
  name: string;
}

export interface Evidence {
  /** The object or probe the detail is about, e.g. "HTTPRoute istio-ingress/example-api" (prose: for people). */
  ref: string;
  detail: string;
  /** The object the line is about, set where the line is made from the object gwdoctor read (SARIF, the PR diff and scripts use it). */
  object?: ObjectRef;
  /** Where that object came from: manifest file and line, or the live object's resourceVersion. */
  origin?: { file: string; line: number } | { resourceVersion: string };
}

export type { Fix } from './fix/fix.js';
import type { Fix } from './fix/fix.js';

export interface Finding {
  id: LayerId;
  title: string;
  status: Status;
  /** Stable reason code (README has one heading per code), null for a plain pass or skip. */
  code: string | null;
  summary: string;
  evidence: Evidence[];
  fix: Fix | null;
  /** README anchor for the code (or the layer). */
  hint: string | null;
  /** true when the finding may change by itself (controller not caught up yet): --wait retries these. */
  retryable: boolean;
  /** What the layer established, as data (reporters and tests read these, never the prose). */
  facts: Facts;
  durationMs: number;
}

/**
 * The facts of a finding, per layer: each layer fills its own fields (none of another layer's). Reporters, the
 * --internal mode and the tests read these; summary and evidence are prose rendered for people and never parsed.
 */
export interface Facts {
  /**
   * Any skipped layer: why it was not checked (src/registry.ts SKIP_REASONS and each layer's `skips`; `after`: the
   * layer whose fail/error stopped it).
   */
  skipped?: {
    reason: SkipReason;
    after?: LayerId;
  };
  /** dns: what each resolver answered. */
  resolvers?: DnsAnswerFact[];
  /** proxy: the certificate each probed address:port presented (when the TLS handshake gave one). */
  tls?: TlsFact[];
  /** proxy: what each probed address answered (no redirect followed). */
  answers?: { address: string; port: number; statusCode: number; location: string | null }[];
  /** proxy: an HTTPS listener's NodePort, asked with the host as SNI and without SNI ('ok' or the handshake failure's code). */
  sni?: SniFact;
  /** proxy: the gateway's nodePort on every Node's InternalIP: who answers, who holds a ready gateway Pod. */
  nodes?: NodeFact[];
  /**
   * proxy: what the client gets (the proxy's own 502, a handshake reset at the gateway, an error nothing attributes) is
   * explained by this cluster layer's fail, which is the verdict (the proxy finding says so and passes).
   */
  explainedBy?: { layer: LayerId; code: string };
  /** proxy (--internal): whether the proxy was asked at all (false: the host has no public address). */
  asked?: boolean;
  /** listener: the Gateway listeners that accept the host (the ones the route layer judges). */
  listeners?: ListenerFact[];
  /** route: the route, rule and redirect that serve the request. */
  route?: RouteFact;
  /** route: when the Gateway accepts the host on several ports, what each port answers. */
  ports?: PortFact[];
  /** route: a route for the host that Istio drops as a whole (none of its rules is programmed), and why. */
  dropped?: { route: ObjectRef; reason: 'InvalidDestination' | 'InvalidFilter'; where: string };
  /** route (--internal): the routes that serve a host that must stay internal. */
  exposedBy?: ObjectRef[];
  /**
   * route: the kinds that could not be read in this attempt and were taken as none (a GRPCRoute or ListenerSet that
   * could take the request): what was not checked, and why. Absent when every kind it reads was read.
   */
  unread?: UnreadFact[];
  /** grant and endpoints: the backends of the matched rule that carry traffic. */
  backends?: BackendFact[];
  /** mesh: the Istio policies on the request's path at the ingress gateway, and how it reaches each backend. */
  mesh?: MeshFact;
  /** dataplane: the gateway's Pods, istiod's sync state for each proxy (and, where read, the Envoy's own state). */
  dataplane?: DataplaneFact;
}

/**
 * A kind that could not be read in an attempt (src/cluster/snapshot.ts keeps one per kind): the request that was
 * refused, why, and how the run went on without it.
 */
export interface UnreadFact {
  kind: ReadKind;
  /**
   * 'forbidden': RBAC refused it (HTTP 403); 'not-served': the API server does not serve the kind (its CRD is absent,
   * HTTP 404: no such object can exist); 'error': any other failure (`status` when the API server answered).
   */
  reason: 'forbidden' | 'not-served' | 'error';
  /** 'create' (and get): a port-forward to a Pod's debug or admin port (IstiodDebug, EnvoyAdmin). */
  verb: 'list' | 'get' | 'create';
  /** The resource asked for: `plural.group` (`plural` for the core group; `pods/portforward`). */
  resource: string;
  /** The namespace asked in; absent: at the cluster scope. */
  namespace?: string;
  /** The API server's HTTP status, when it answered. */
  status?: number;
  /**
   * How the run went on: 'none' (taken as no objects of the kind; the layers that read it say what was not checked),
   * 'unknown' (taken as not knowable: the layer that reads it says "not checked"), 'failed' (the read's error went to
   * the layer that needed it: that layer could not look).
   */
  outcome: 'none' | 'unknown' | 'failed';
}

/** One xDS type of one proxy as istiod's /debug/syncz has it, classified as istiod does (statusgen.go debugSyncStatus). */
export interface XdsTypeFact {
  /** The short type: LDS, RDS, CDS, EDS, ECDS, or the type URL when it is none of those. */
  type: string;
  status: 'SYNCED' | 'STALE' | 'NOT_SENT' | 'ERROR';
  sent: string;
  acked: string;
  /** The NACK's error text (Envoy's error_detail), when the last push was rejected. */
  error: string | null;
}

export interface DataplaneFact {
  gateway: ObjectRef;
  /** How istiod's debug state was read: 'ok', or why not (the finding's evidence says more). */
  istiod: {
    /** The running istiod Pods asked (label app=istiod in istio-system), each through pods/portforward. */
    pods: ObjectRef[];
    /** 'ok': at least one answered (a Pod that did not is named in the evidence). */
    read: 'ok' | 'forbidden' | 'refused' | 'unreachable';
  };
  /** The gateway Pods judged, each with istiod's view of its proxy. */
  proxies: {
    pod: ObjectRef;
    proxyId: string;
    node: string | null;
    connected: boolean | null;
    xds: XdsTypeFact[];
    route: GeneratedRouteFact | null;
  }[];
  /** The clusters gwdoctor predicts for GET host/path (`outbound|PORT||NAME.NS.svc.`; null: a redirect), when it compared. */
  predicted?: string[] | null;
  /** The Envoy's own state, read from each gateway Pod's admin port (pods/portforward), for this request. */
  envoy?: EnvoyFact;
  /** Which gateway Pods were judged for this request, and why (checks/dataplane.ts Scope). */
  scope: DataplaneScopeFact;
}

/**
 * The gateway Pods judged: every running one. With externalTrafficPolicy Local a node's nodePort sends outside clients
 * only to the gateway Pods on it, but kube-proxy sends a connection that starts on a node (or in a Pod) to any ready
 * endpoint; the node the evidence names is the one the proxy runs on, so its connections reach every gateway Pod.
 */
export interface DataplaneScopeFact {
  /** The gateway Service's externalTrafficPolicy ('Cluster' when unset; null: no gateway Service). */
  policy: string | null;
  /** The nodes the proxy runs on (its DNS answer or --expect-ip is their InternalIP; the every-node probe); null: none named. */
  proxyNodes: string[] | null;
  /**
   * Why every gateway Pod answers the proxy: 'cluster' (policy Cluster: any node forwards to any Pod); 'node-local'
   * (Local, and the proxy runs on a node: node-local connections go to any ready Pod); 'node-unknown' (Local, and no
   * evidence names the node the proxy forwards to).
   */
  why: 'cluster' | 'node-local' | 'node-unknown';
  judged: { pod: ObjectRef; node: string | null }[];
}

/** istiod's generated route for the request on one proxy (/debug/config_dump): found, or what is missing. */
export interface GeneratedRouteFact {
  kind: 'route' | 'no-vhost' | 'no-route' | 'unread';
  routeConfig: string | null;
  vhost: string | null;
  route: string | null;
  /** The route's clusters (null: a redirect or direct response, or no route). */
  clusters: string[] | null;
}

/** What each gateway Pod's Envoy does with the request (src/dataplane/envoy-judge.ts), and what gwdoctor predicts. */
export interface EnvoyFact {
  /** The request as Envoy sees it: Host, path with query, and the port its listener binds (the Service's targetPort). */
  request: { host: string; path: string; port: number };
  /** The route layer's rule: the HTTPRoute, the Envoy route name istiod gives it, Istio's cluster names of its backends. */
  predicted: { route: ObjectRef; rule: number; envoyRoute: string; clusters: string[]; redirect: boolean };
  pods: EnvoyPodFact[];
}

export type EnvoyHostHealth =
  | 'healthy'
  | 'failed_outlier_check'
  | 'failed_active_health_check'
  | 'active_hc_timeout'
  | 'pending_active_hc'
  | 'excluded_via_immediate_hc_fail'
  | 'pending_dynamic_removal'
  | 'eds_unhealthy'
  | 'eds_draining'
  | 'eds_timeout';

export interface EnvoyPodFact {
  /** namespace/name of the gateway Pod. */
  pod: string;
  node: string | null;
  /** Whether its admin interface was read: 'forbidden' (RBAC: pods/portforward), 'unreachable' (why says). */
  read: 'ok' | 'forbidden' | 'unreachable';
  why: string | null;
  /** control_plane.connected_state: its xDS stream to istiod is up (null: not read). */
  connected: boolean | null;
  /** How far Envoy's matching got: a route, or where it stopped (null: not read). */
  match: 'route' | 'no-listener' | 'no-route-config' | 'no-virtual-host' | 'no-route' | 'undetermined' | null;
  listener: string | null;
  routeConfig: string | null;
  /** The route configuration's version_info (istiod's push time/number). */
  version: string | null;
  virtualHost: string | null;
  route: string | null;
  action: 'cluster' | 'redirect' | 'direct' | 'other' | null;
  /** The route's clusters (weight > 0) and their hosts' health (hosts null: Envoy has no such cluster). */
  clusters: { name: string; hosts: { address: string; port: number | null; health: EnvoyHostHealth[] }[] | null }[];
  /** Resources Envoy rejected (its error_state), its error text verbatim and the version it still serves. */
  rejected: {
    type: 'listener' | 'route' | 'cluster' | 'endpoint';
    name: string;
    details: string;
    lastUpdateAttempt: string | null;
    activeVersion: string | null;
  }[];
}

export interface MeshFact {
  gateway: ObjectRef;
  rootNamespace: string;
  /** The AuthorizationPolicies that reach the gateway's proxy (src/mesh/authz.ts policiesFor), oldest first. */
  policies: {
    policy: ObjectRef;
    action: 'ALLOW' | 'DENY' | 'AUDIT' | 'CUSTOM';
    dryRun: boolean;
    rules: number;
    badProvider: string | null;
  }[];
  /** How the gateway connects to each backend Service port (src/mesh/upstream.ts). */
  upstreams: {
    service: ObjectRef;
    port: number;
    kind: 'tls' | 'istio-mutual' | 'plaintext' | 'auto';
    rule: ObjectRef | null;
  }[];
  /** The hops after the gateway that enforce AuthorizationPolicies for each backend (src/mesh/hops.ts). */
  hops?: MeshHopFact[];
}

export interface MeshHopFact {
  service: ObjectRef;
  hop: 'waypoint' | 'ztunnel' | 'sidecar';
  /** Who enforces: "waypoint ns/name", "ztunnel for Pod ns/name", "sidecar of Pod ns/name". */
  at: string;
  /** The peer identity the hop sees (null: plaintext, no identity). */
  principal: string | null;
  /** The policies that reach the hop; `enforced` false: istiod does not give it to this hop (ztunnel: CUSTOM, AUDIT, dry-run). */
  policies: { policy: ObjectRef; action: 'ALLOW' | 'DENY' | 'AUDIT' | 'CUSTOM'; enforced: boolean }[];
  decision: 'allowed' | 'denied' | 'not-allowed' | 'custom' | 'unknown';
  /** The rule that decided (null: no policy rule decided, or none matched). */
  by: { policy: ObjectRef; rule: number } | null;
}

export interface DnsAnswerFact {
  resolver: string;
  status: 'ok' | 'nxdomain' | 'nodata' | 'servfail' | 'refused' | 'timeout' | 'unreachable' | 'error';
  addresses: string[];
  cnames: string[];
}

export interface NodeFact {
  node: string;
  /** The Node's InternalIP. */
  address: string;
  nodePort: number;
  /** A ready gateway Pod runs on the node (null: the Pods could not be listed). */
  readyGatewayPod: boolean | null;
  answered: boolean;
  /** The HTTP status it answered (null: silent). */
  statusCode: number | null;
  /** Why it is silent: the connection failure's code (null: it answered). */
  error: string | null;
  /** The DNS answer or --expect-ip names this node's address: the proxy uses it. */
  usedByProxy: boolean;
}

export interface SniFact {
  /** "address:port" of the NodePort. */
  address: string;
  gateway: string;
  listener: string;
  /** The hostnames of the Gateway's HTTPS listeners on that port ('*': none set). */
  listenerHostnames: string[];
  host: string;
  withHost: string;
  /** null: not tried (the handshake with the host as SNI already failed). */
  withoutSni: string | null;
}

export interface TlsFact {
  /** "address:port" probed. */
  address: string;
  notBefore: string | null;
  notAfter: string | null;
  daysLeft: number | null;
  sans: string[];
  subject: string | null;
  issuer: string | null;
}

export interface ListenerFact {
  gateway: ObjectRef;
  listener: string;
  port: number;
  protocol: string;
  hostname: string | null;
}

export interface RouteFact {
  route: ObjectRef;
  /** Index into spec.rules. */
  rule: number;
  /** The listener of the route's Gateway the rule is served on. */
  gateway: ObjectRef;
  listener: string;
  redirect: { statusCode: number; scheme: string; location: string } | null;
}

export interface PortFact {
  gateway: ObjectRef;
  port: number;
  listener: string;
  judged: boolean;
  /** The rule that answers on this port, and its backends (Service refs, namespace/name:port). */
  route: ObjectRef | null;
  rule: number | null;
  backends: { kind: string; namespace: string; name: string; port: number | null }[];
  failing: boolean;
}

export interface BackendFact {
  kind: string;
  namespace: string;
  name: string;
  port: number | null;
  weight: number;
  /** endpoints: ready / not-ready endpoints of the Service port (null: readiness could not be known, or not judged). */
  ready?: number | null;
  notReady?: number | null;
}

export interface Target {
  /** What the user typed. */
  input: string;
  /** Normalised host: lower-case, no trailing dot, IDN as punycode. */
  host: string;
  /** Port from the URL or host:port; null means the scheme default (443). */
  port: number | null;
  /** URL path (no query string), "/" when none was given. */
  path: string;
  /** Query string without "?", "" when none. */
  query: string;
  /** true when the user wrote a trailing dot; Envoy will not match such a Host. */
  trailingDot: boolean /** --internal: the host must NOT be public (the checks prove nothing serves it); absent for a public target. */;
  expect?: 'internal';
}

/** What the network layers need; implemented in src/net. */
export interface AddressAnswer {
  family: 4 | 6;
  address: string;
}

export interface Resolver {
  resolve(host: string, signal: AbortSignal): Promise<AddressAnswer[]>;
}

export interface HttpProbeResult {
  address: string;
  port: number;
  statusCode: number;
  headers: Record<string, string>;
  bodySnippet: string;
  /** The body was still open when the probe stopped reading (a stream): the status and headers are the answer. */
  bodyOpen?: boolean;
  tls: {
    authorized: boolean;
    error: string | null;
    subject: string | null;
    issuer: string | null;
    validTo: string | null;
    san: string[];
  } | null;
}

export interface HttpProbe {
  get(
    url: URL,
    opts: { address?: string; hostHeader?: string; signal: AbortSignal; caFile?: string; insecure?: boolean },
  ): Promise<HttpProbeResult>;
}

/** One Gateway listener that accepts the target host. */
export interface ListenerCandidate {
  gateway: Gateway;
  listener: GatewayListener;
}

/** What a network layer observed, returned with its finding; later layers receive it as input (never shared state). */
export interface Observed {
  /** dns: the addresses the host resolved to. */
  addresses?: AddressAnswer[];
  /** proxy: Envoy's own error answers, each pointing at the cluster layers that can explain it (404 NR -> route...). */
  envoy?: EnvoyAnswer[];
  /** a cluster layer: the Envoy answers its finding explains (a fail or warning); later layers no longer weigh them. */
  explained?: EnvoyAnswer[];
  /** proxy: what the proxy answered, per address (the route layer compares a predicted redirect with it). */
  answers?: ProxyAnswer[];
  /** proxy: the Gateway port the proxy forwards to, when the direct NodePort probes show it. */
  port?: PortInUse;
  /** proxy: the every-node probe of the gateway Service's nodePort (whether the proxy uses each node). */
  nodes?: NodesSeen;
  /** proxy: its fail is what the client gets, not a cause it knows (src/pipeline.ts weighs it against the cluster lane). */
  symptom?: Symptom;
}

/** The every-node probe's answers for one gateway Service ("namespace/name"), as the proxy layer weighed them. */
export interface NodesSeen {
  service: string;
  nodes: NodeFact[];
}

/**
 * A proxy fail that shows what the client gets but not why: nginx's own 502 while the gateway gives no HTTP answer, a
 * TLS handshake the gateway resets for the host, an error answer nothing attributes. The cluster lane still runs
 * (src/pipeline.ts); when its first fail is in one of `layers` (a fault there produces this answer), that fail is the
 * verdict, carries `evidence`, and the proxy finding passes saying `seen` and which layer explains it. Otherwise the
 * proxy's own fail stays the verdict, with its fix.
 */
export interface Symptom {
  layers: LayerId[];
  /** What the client gets, for the proxy finding once a cluster layer explains it. */
  seen: string;
  /** What the client gets, joined to the explaining finding's evidence. */
  evidence: Evidence;
}

/**
 * An error Envoy answered, handed by the proxy layer to the cluster layers that can explain it. The first of them
 * that runs weighs it against its verdict (src/layer.ts): a finding explains it; a pass hands it on to the next one
 * the run has; when none is left, the last one says that nothing explains it (`unexplained`, else GatewayErrorResponse).
 */
/** The codes an Envoy answer that no layer explains can end in, besides GatewayErrorResponse (registry: endpoints, mesh, proxy). */
export type UnexplainedCode = Extract<Code, 'BackendConnectFailed' | 'GatewayRbacDenied'>;

export interface EnvoyAnswer {
  layer: LayerId;
  /** Later layers that can explain it too (500 NC: grant, then endpoints for a missing Service or port). */
  also?: LayerId[];
  evidence: Evidence;
  /** The code when no layer of the run explains it (default GatewayErrorResponse), with its fix. */
  unexplained?: { code: UnexplainedCode; fix: Fix };
}

/** The Gateway port the proxy's traffic arrives on, as the direct NodePort probes show it. */
export interface PortInUse {
  /** "namespace/name" of the Gateway. */
  gateway: string;
  port: number;
  /** How it was found, for evidence. */
  why: string;
}

/** One answer the proxy gave for the target's request (no redirect followed). */
export interface ProxyAnswer {
  /** The probe, e.g. "GET https://api.example.com/ via 192.0.2.7". */
  ref: string;
  /** The URL asked (a relative Location resolves against it). */
  url: string;
  statusCode: number;
  /** The Location header, as sent. */
  location: string | null;
  /** x-envoy-upstream-service-time was present: the backend answered through Envoy, not Envoy itself. */
  fromUpstream: boolean;
}

/** Everything the network layers observed so far in this attempt (read-only input of the later layers). */
export interface Probes {
  addresses: AddressAnswer[] | null;
  envoy: EnvoyAnswer[];
  /** What the proxy answered (when the proxy layer got an answer). */
  answers?: ProxyAnswer[];
  /** The Gateway port the proxy forwards to, when the proxy layer could tell. */
  port?: PortInUse;
  /** The gateway Service's nodePort on every node, and the node the proxy uses, when the proxy layer probed them. */
  nodes?: NodesSeen;
}

export interface ResolvedBackendRef {
  ref: HTTPBackendRef;
  group: string;
  kind: string;
  name: string;
  namespace: string;
  port: number | null;
  weight: number;
  /** JSON path of the ref inside the route, e.g. ['spec','rules',0,'backendRefs',1]. */
  pointer: (string | number)[];
  /** A RequestMirror filter's backendRef (copies of requests; the answer never comes from it). */
  mirror: boolean;
  /** The same path for messages: "rules[0].backendRefs[1]". */
  where: string;
}

export interface GatewayRef {
  namespace: string;
  name: string;
  port?: number;
}

export interface NetworkOptions {
  resolvers: string[];
  expectIps: string[];
  caFile: string | null;
  port: number | null;
}

export interface TargetReport {
  input: string;
  host: string;
  path: string;
  verdict: Verdict;
  failedLayer: LayerId | null;
  attempts: number;
  layers: Finding[];
  /** Only for a host given with --internal: it passes when nothing public serves it. */
  expect?: 'internal';
  /** With --wait: how long it waited and why it stopped. */
  waited?: {
    attempts: number;
    durationMs: number;
    stopped: 'single-attempt' | 'passed' | 'nothing-retryable' | 'only-settled-warnings' | 'deadline';
  };
}

export interface Report {
  schemaVersion: 'gwdoctor.report/v3';
  generatedAt: string;
  durationMs: number;
  source: {
    mode: 'live' | 'manifests' | 'none';
    context?: string;
    server?: string;
    manifests?: string[];
    offline: boolean;
  };
  targets: TargetReport[];
}

/** What a run tells as it goes (the pipeline calls these; every reporter is one). */
export interface Observer {
  onTargetStart?(target: Target): void;
  onLayerStart?(target: Target, id: LayerId): void;
  onLayerEnd?(target: Target, finding: Finding): void;
  /** --wait: a retryable finding will be checked again after `delayMs`. */
  onRetry?(target: Target, attempt: number, finding: Finding, delayMs: number): void;
  onTargetEnd?(target: Target, report: TargetReport): void;
}

/** One output of a run: src/report/ has one per format (REPORTERS); it writes only to the sink it is given. */
export interface Reporter extends Observer {
  /** Called once with every target before any runs (the interactive view builds its task list here). */
  begin?(targets: Target[]): void;
  onEnd(report: Report): void | Promise<void>;
}
