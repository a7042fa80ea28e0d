// Core types shared by the CLI, the pipeline, the checks and the reporters.
// This file imports no library: checks depend on it, and it must stay cheap to load.

import type { ClusterReader } from './cluster/reader.js';
import type { PathResolver } from './gatewayapi/resolver.js';
import type { Gateway, GatewayListener, HTTPBackendRef } from './cluster/objects.js';
import type { GatewayRef } from './target.js';

export { LAYER_IDS, type LayerId } from './registry.js';
import type { Code, LayerId } from './registry.js';

/** fail = looked and found the fault; error = could not look (inconclusive). */
export type Status = 'pass' | 'warn' | 'fail' | 'error' | 'skip';
export type Verdict = 'pass' | 'warn' | 'fail' | 'error';

export interface Evidence {
  /** The object or probe the detail is about, e.g. "HTTPRoute istio-ingress/example-api". */
  ref: string;
  detail: string;
  /** The object the line is about, when gwdoctor read it (SARIF, the PR diff and scripts use it). */
  object?: { apiVersion: string; kind: string; namespace?: string; name: string };
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
  durationMs: number;
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
  trailingDot: boolean;  /** --internal: the host must NOT be public (the checks prove nothing serves it); absent for a public target. */
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
  tls: { authorized: boolean; error: string | null; subject: string | null; issuer: string | null; validTo: string | null; san: string[] } | null;
}

export interface HttpProbe {
  get(url: URL, opts: { address?: string; hostHeader?: string; signal: AbortSignal; caFile?: string }): Promise<HttpProbeResult>;
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
}

/**
 * An error Envoy answered, handed by the proxy layer to the cluster layers that can explain it. The first of them
 * that runs weighs it against its verdict (src/layer.ts): a finding explains it; a pass hands it on to the next one
 * the run has; when none is left, the last one says that nothing explains it (`unexplained`, else GatewayErrorResponse).
 */
/** The codes an Envoy answer that no layer explains can end in, besides GatewayErrorResponse (registry: endpoints, proxy). */
export type UnexplainedCode = Extract<Code, 'BackendConnectFailed'>;

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

export interface NetworkOptions {
  resolvers: string[];
  expectIps: string[];
  caFile: string | null;
  port: number | null;
}

export interface CheckContext {
  target: Target;
  /** null when no cluster source is configured (the cluster layers are skipped). */
  cluster: ClusterReader | null;
  clusterUnavailable: string | null;
  gatewayFilter: GatewayRef | null;
  offline: boolean;
  net: NetworkOptions;
  resolver: () => Promise<Resolver>;
  probe: () => Promise<HttpProbe>;
  signal: AbortSignal;
  /** What earlier network layers observed. */
  probes: Probes;
  /** The layers this run has after this one, in order (default: the registry's order). */
  later?: readonly LayerId[];
  /** The resolved request path for this attempt (lazy: a stage is resolved when the first layer needs it). */
  path: PathResolver | null;
}

export interface Check<I extends LayerId = LayerId> {
  id: I;
  title: string;
  /** Does this layer need cluster access? */
  needsCluster: boolean;
  /** Does this layer send network probes (skipped by --offline)? */
  network: boolean;
  run(ctx: CheckContext): Promise<Omit<Finding, 'durationMs'> & { observed?: Observed }>;
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
  waited?: { attempts: number; durationMs: number; stopped: 'single-attempt' | 'passed' | 'nothing-retryable' | 'only-settled-warnings' | 'deadline' };
}

export interface Report {
  schemaVersion: 'gwdoctor.report/v2';
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
