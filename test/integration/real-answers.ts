// The contract's third judge (test/integration/contract.test.ts): what a real Envoy, configured by the same istiod,
// answered to the target's request, against gwdoctor's live verdict. The table "reason code -> what real Envoy
// answered" in test/controlplane/README.md is this file's REAL_ANSWER, measured.

import type { TargetReport } from '../../src/types.js';
import type { ExpectCase } from '../helpers/fixtures.js';
import type { GrpcAnswer, LaneScenario, RealAnswer } from './harness/envoy.js';
import { nginxGaveUp } from './harness/front.js';
import { classifyResponse, type EnvoyFault } from '../../src/net/classify.js';

/** How the answer came: straight through the NodePort stand-in, or through the real nginx in front of it. */
export type Via = 'nodeport' | 'nginx';

export interface RealRow {
  scenario: string;
  target: string;
  verdict: ExpectCase['verdict'];
  layer: string | null;
  code: string | null;
  real: RealAnswer;
  /** Through nginx (gwdoctor networked; `offline`: its verdict with the network layers off), else the NodePort stand-in. */
  via?: Via;
  offline?: ExpectCase;
}

/** A backend answered: 200 with the identity header of one of the lane's backends, over TLS a client would accept. */
export function served(a: RealAnswer): boolean {
  return a.status === 200 && a.backend !== undefined && a.tlsProblem === undefined;
}

/**
 * Envoy answered itself. Straight from Envoy: `server: istio-envoy`. Through nginx, which hides an upstream's `server`
 * header (its proxy_hide_header default list), `server` is nginx's own; the other marks pass through unchanged.
 */
const envoyLocal = (a: RealAnswer, via: Via) =>
  (via === 'nginx' ? /^nginx/.test(a.server ?? '') : a.server === 'istio-envoy') &&
  a.upstreamServiceTime === undefined &&
  a.backend === undefined;

/** No HTTP answer from the gateway: `error` straight; through nginx, nginx's own 502 page (it got none either). */
const noAnswer = (a: RealAnswer, via: Via, error: RegExp) =>
  via === 'nginx' ? nginxGaveUp(a) : a.status === undefined && error.test(a.error ?? '');

interface Answer {
  /** How the README names it. */
  says: string;
  /** The Envoy response flag gwdoctor's classifier must give this answer (src/net/classify.ts), when Envoy answered. */
  fault?: EnvoyFault;
  test(a: RealAnswer, via: Via): boolean;
  /** The same answer to a gRPC call: Envoy's local reply as gRPC (HTTP 200, grpc-status from its HTTP status); absent: no claim. */
  grpc?: (g: GrpcAnswer) => boolean;
}

/** Envoy answered the gRPC call itself (a trailers-only answer, no backend) with this grpc-status. */
const grpcLocal = (code: number, message?: string) => (g: GrpcAnswer) =>
  g.status === 200 &&
  g.server === 'istio-envoy' &&
  g.backend === undefined &&
  g.grpcStatus === code &&
  (message === undefined || g.grpcMessage === message);

const NR: Answer = {
  fault: 'NR',
  says: '`404`, empty body, `server: istio-envoy` (no route)',
  test: (a, v) => a.status === 404 && a.body === '' && envoyLocal(a, v),
  grpc: grpcLocal(12),
};
const NC: Answer = {
  fault: 'NC',
  says: '`500`, empty body, `server: istio-envoy` (route to a cluster that does not exist)',
  test: (a, v) => a.status === 500 && a.body === '' && envoyLocal(a, v),
  grpc: grpcLocal(2),
};
const UH: Answer = {
  fault: 'UH',
  says: '`503` `no healthy upstream`',
  test: (a, v) => a.status === 503 && a.body === 'no healthy upstream' && envoyLocal(a, v),
  grpc: grpcLocal(14, 'no healthy upstream'),
};
const CLOSED: Answer = {
  says: 'no HTTP answer: connection refused (no gateway Pod, so nothing on the NodePort) or reset (the stand-in accepts, the gateway has no listener for the port)',
  test: (a, v) => noAnswer(a, v, /^(refused|reset)$/),
  grpc: (g) => g.status === undefined && /^(refused|reset)$/.test(g.error ?? ''),
};
const NO_TLS: Answer = {
  says: 'no HTTP answer: the TLS handshake is reset (no usable certificate for the listener)',
  test: (a, v) => noAnswer(a, v, /^reset$/),
  grpc: (g) => g.status === undefined && g.error === 'reset',
};
const BAD_CERT: Answer = {
  says: 'the listener presents a certificate a client refuses (expired, or not for the host); behind it the route would answer',
  test: (a) => a.tlsProblem !== undefined,
};
const NO_GATEWAY: Answer = {
  says: 'nothing to send to: no Gateway of an Istio class, so no gateway Service or NodePort',
  test: (a) => a.status === undefined && /^no Gateway/.test(a.error ?? ''),
  grpc: (g) => g.status === undefined && /^no Gateway/.test(g.error ?? ''),
};
const RBAC: Answer = {
  fault: 'RBAC',
  says: "`403` `RBAC: access denied` (the gateway's RBAC filter)",
  test: (a, v) => a.status === 403 && a.body === 'RBAC: access denied' && envoyLocal(a, v),
  grpc: grpcLocal(7, 'RBAC: access denied'),
};
const UF: Answer = {
  fault: 'UF',
  says: '`503` `upstream connect error or disconnect/reset before headers ...`',
  test: (a) => a.status === 503 && /^upstream connect error or disconnect\/reset before headers/.test(a.body ?? ''),
};
const anyOf = (...xs: Answer[]): Answer => ({
  says: xs.map((x) => x.says).join('; or '),
  test: (a, v) => xs.some((x) => x.test(a, v)),
  ...(xs.every((x) => x.grpc) ? { grpc: (g: GrpcAnswer) => xs.some((x) => x.grpc?.(g)) } : {}),
});

/**
 * For each failing reason code gwdoctor gives on a scenario istiod reconciles: the answer the real Envoy gave (measured
 * with istiod 1.31-dev and Envoy 1.40.0 through the NodePort stand-in; the README table). `layer/code` keys where the
 * same code means another answer at another layer. A code missing here is judged only by "no backend answered".
 */
export const REAL_ANSWER: Record<string, Answer> = {
  NoRouteForHost: NR,
  RouteNoMatchingRule: NR,
  RouteNotAccepted: NR,
  RouteParentNotFound: NR,
  // 404 when another listener on the proxy's port takes the request; closed when that port has no listener at all.
  ListenerHostnameMismatch: anyOf(NR, CLOSED),
  // gateway-tls-only: the only listener is TLS passthrough; a plain HTTP request there is reset.
  'listener/RouteNotAccepted': CLOSED,
  GatewayNotFound: anyOf(NO_GATEWAY, CLOSED),
  GatewayClassNotIstio: anyOf(NO_GATEWAY, CLOSED),
  // A Gateway whose class does not exist is no Istio Gateway to the lane: nothing to send to (which Gateway a request
  // picks depends on the Gateways the lane already knows, i.e. on the order scenarios ran).
  GatewayNotAccepted: anyOf(NO_GATEWAY, CLOSED),
  GatewayNotProgrammed: CLOSED,
  ReferenceGrantMissing: NC,
  // A certificateRef into another namespace without a grant: the HTTPS listener has no certificate.
  'listener/ReferenceGrantMissing': NO_TLS,
  ServiceNotFound: NC,
  // No ServiceEntry the gateway sees defines the Hostname: istiod keeps host:port in the route, the cluster does not exist.
  ServiceEntryNotFound: NC,
  BackendKindInvalid: NC,
  ServicePortMismatch: NC,
  RouteNoBackends: NC,
  NoReadyEndpoints: UH,
  NoPodsSelected: UH,
  WaypointNotReady: UH,
  ListenerCertificateRefInvalid: NO_TLS,
  // istiod serves an expired certificate, or one for another host, as it is (it checks neither): clients refuse it.
  ListenerCertificateInvalid: anyOf(NO_TLS, BAD_CERT),
  ListenerNotReady: anyOf(NO_TLS, CLOSED),
  AuthorizationDenied: RBAC,
  AuthorizationNotAllowed: RBAC,
  // TLS origination to a plaintext port; without an SDS server for the lane's Envoy such a cluster may stay warming.
  DestinationRuleTlsMismatch: anyOf(UF, CLOSED),
  // The networked run (nginx in front): the proxy layer's codes, each with what came back through nginx.
  // nginx got no HTTP answer from the gateway (refused, reset, a reset TLS handshake): its own 502 page.
  ProxyUpstreamError: {
    says: "nginx's own 502 page: the gateway gave nginx no HTTP answer",
    test: (a, v) => v === 'nginx' && nginxGaveUp(a),
  },
  GatewayNoListenerForSni: {
    says: "nginx's own 502 page: the gateway reset nginx's TLS handshake",
    test: (a, v) => v === 'nginx' && nginxGaveUp(a),
  },
  // Envoy's empty 404 (NR) through nginx, when no direct probe could show that Envoy sent it (README: the networked judge).
  ProxyErrorResponse: NR,
  GatewayRbacDenied: RBAC,
  BackendConnectFailed: UF,
};

/**
 * Where the real answer and gwdoctor's verdict disagree today, one by one, with the reason (the real answer wins;
 * fixing gwdoctor, or the lane, makes the test fail until the entry goes). scenario -> target -> what Envoy answers.
 */
export const REAL_DISAGREEMENTS: Record<string, Record<string, { real: (a: RealAnswer) => boolean; why: string }>> = {
  'mesh-pa-strict-plaintext': {
    'api.example.com': {
      real: (a) => served(a),
      why: "gwdoctor: mesh/PeerAuthenticationStrict (the Pod's sidecar resets plaintext); the lane's backends are plain servers with no sidecar to enforce STRICT, so the plaintext request is served",
    },
  },
  'mesh-authz-deny-gateway-presync': {
    'api.example.com': {
      real: (a) => a.status === 403 && a.body === 'RBAC: access denied',
      why: "gwdoctor live: endpoints/NoPodsSelected (the git manifests have no Pods); Envoy: 403, because the gateway's RBAC filter runs before routing, so the DENY answers first. The mesh layer runs after endpoints and is not reached (two real faults; the layers report the first in path order, and a 403 seen by the proxy layer does not change that order)",
    },
  },
  'mesh-authz-undetermined': {
    'api.example.com': {
      real: (a) => a.status === 403 && a.body === 'RBAC: access denied',
      why: "gwdoctor (the contract runs without network layers): mesh/AuthorizationUndetermined (the ALLOW rule depends on the client address, remoteIpBlocks 203.0.113.0/24); the lane's client is on loopback, outside it, so the gateway denies. With the proxy layer the 403 reaches the mesh layer, which then fails GatewayRbacDenied naming the rule (test/integration/mesh-lane.test.ts)",
    },
  },
  // The hops after the gateway (src/mesh/hops.ts): this lane has no waypoint data plane, no ztunnel and no sidecar (its
  // backends are plain servers, istiod runs without ambient), so the gateway's Envoy reaches the backend and it answers.
  // Those hops are judged by istiod's generated configuration and status instead (test/controlplane/README.md).
  ...Object.fromEntries(
    [
      ['mesh-hop-waypoint-deny', "the waypoint's RBAC (DENY)"],
      ['mesh-hop-waypoint-allow-other-path', "the waypoint's RBAC (ALLOW, no rule matches)"],
      ['mesh-hop-ztunnel-deny-gateway', "ztunnel (DENY of the gateway's principal)"],
      ['mesh-hop-ztunnel-deny-waypoint', "ztunnel (DENY of the waypoint's principal)"],
      ['mesh-hop-ztunnel-l7-allow', 'ztunnel (an ALLOW whose only rule istiod drops for HTTP attributes)'],
      ['mesh-hop-sidecar-deny', "the Pod's sidecar (DENY)"],
      ['mesh-authz-root-allow', 'ztunnel (a root-namespace ALLOW whose only rule istiod drops for HTTP attributes)'],
    ].map(([scenario, hop]) => [
      scenario as string,
      {
        'api.example.com': {
          real: (a: RealAnswer) => served(a),
          why: `gwdoctor: mesh refuses at ${hop}; the lane has no such hop (no ambient, no waypoint or sidecar data plane), so the backend answers`,
        },
      },
    ]),
  ),
  'waypoint-not-ready': {
    'api.example.com': {
      real: (a) => served(a),
      why:
        'gwdoctor: endpoints/WaypointNotReady (a 503); Envoy: 200 from the example-api Pod. The waypoint never had status.addresses, and istiod ' +
        "routes around a waypoint that was never ready (istio.io/WaypointBound=False WaypointIsNotReady; the gateway's EDS names the Pod " +
        'itself: shared/docs/envoy-lane.md "Waypoints"); this lane also runs without ambient. Owned by the mesh-layer work',
    },
  },
};

const NGINX_NO_VERIFY =
  'nginx re-encrypts to the HTTPS listener without verifying its certificate (ngx_http_proxy_module: `proxy_ssl_verify` defaults to off, ' +
  'https://nginx.org/en/docs/http/ngx_http_proxy_module.html#proxy_ssl_verify), so the certificate a verifying client refuses ' +
  "(the straight answer's tlsProblem) does not stop this request; gwdoctor still reports it for every client that connects to the gateway itself";

/**
 * The networked judge's disagreements (gwdoctor with its probes on, the request through the real nginx), one by one:
 * scenario -> target -> what the answer through nginx is, and why. Beside them REAL_DISAGREEMENTS holds too.
 */
export const NGINX_DISAGREEMENTS: Record<string, Record<string, { real: (a: RealAnswer) => boolean; why: string }>> = {
  'listener-https-cert-expired': {
    'api.example.com': { real: (a) => served(a), why: NGINX_NO_VERIFY },
    'worker.example.com': { real: (a) => served(a), why: NGINX_NO_VERIFY },
  },
  'listener-https-cert-other-host': {
    'api.example.com': { real: (a) => served(a), why: NGINX_NO_VERIFY },
    'worker.example.com': { real: (a) => served(a), why: NGINX_NO_VERIFY },
  },
};

/** Did gwdoctor's verdict (`fromLive`, from `report`) agree with the real answer `a`? */
export function judgeReal(
  scenario: string,
  target: string,
  report: TargetReport,
  fromLive: ExpectCase,
  a: RealAnswer,
  sc: LaneScenario,
  via: Via = 'nodeport',
): { ok: boolean; why: string } {
  // An error is gwdoctor saying it could not tell: no claim about the answer.
  if (fromLive.verdict === 'error') return { ok: true, why: '' };
  const known =
    (via === 'nginx' ? NGINX_DISAGREEMENTS[scenario]?.[target] : undefined) ?? REAL_DISAGREEMENTS[scenario]?.[target];
  if (known) return { ok: known.real(a), why: `known disagreement (${known.why}): the real answer changed` };
  if (target.startsWith('internal:')) {
    // --internal: pass = the host is not served publicly; InternalHostExposed = a backend answers it.
    if (fromLive.verdict === 'pass')
      return { ok: !served(a), why: 'gwdoctor says the internal host is not served publicly, but a backend answered' };
    if (fromLive.code === 'InternalHostExposed')
      return { ok: served(a), why: 'gwdoctor says the internal host is exposed, but no backend answered' };
    return { ok: true, why: '' };
  }
  if (fromLive.verdict === 'pass' || fromLive.verdict === 'warn') {
    const facts = (id: string) => report.layers.find((l) => l.id === id)?.facts ?? {};
    const redirect = facts('route').route?.redirect;
    if (redirect) {
      return {
        ok: a.status === redirect.statusCode && a.location === redirect.location && a.backend === undefined,
        why: `gwdoctor predicts ${redirect.statusCode} Location: ${redirect.location}, Envoy answered ${a.status ?? a.error} Location: ${a.location}`,
      };
    }
    if (!served(a))
      return {
        ok: false,
        why: `gwdoctor says ${fromLive.verdict}, but no backend answered${a.tlsProblem ? ` (${a.tlsProblem})` : ''}`,
      };
    // The backend that answered is behind a Service gwdoctor names (same namespace, one of the lane's backends).
    const svcs = (facts('endpoints').backends ?? facts('grant').backends ?? []).filter((x) => x.kind === 'Service');
    const ns = (a.backend ?? '').split('/')[0];
    if (!sc.backends.some((x) => x.pod === a.backend))
      return { ok: false, why: `${a.backend} is none of the lane's backends` };
    if (svcs.length > 0 && !svcs.some((x) => x.namespace === ns))
      return {
        ok: false,
        why: `gwdoctor names ${svcs.map((x) => `${x.namespace}/${x.name}`).join(', ')}, but ${a.backend} answered`,
      };
    return { ok: true, why: '' };
  }
  if (served(a))
    return {
      ok: false,
      why: `gwdoctor says ${fromLive.layer}/${fromLive.code}, but backend ${a.backend} answered 200`,
    };
  const want = fromLive.code
    ? (REAL_ANSWER[`${fromLive.layer}/${fromLive.code}`] ?? REAL_ANSWER[fromLive.code])
    : undefined;
  if (want && !want.test(a, via)) return { ok: false, why: `for ${fromLive.code} the real Envoy answers ${want.says}` };
  return { ok: true, why: '' };
}

export interface GrpcRow {
  scenario: string;
  target: string;
  verdict: ExpectCase['verdict'];
  layer: string | null;
  code: string | null;
  grpc: GrpcAnswer;
}

/**
 * A backend answered the gRPC call. Over HTTP/2 it answers as a gRPC server (grpc-status 0). Istio's gateway speaks
 * HTTP/1.1 to a Service port that does not declare HTTP/2 (its name or appProtocol: cluster_builder.go
 * setUpstreamProtocol; no use_downstream_protocol for gateways), and every GRPCRoute backend in fixtures/ has a port
 * named `http`: the lane's backend answers that too (a real gRPC server, HTTP/2 only, would not: see the README).
 */
export function grpcServed(g: GrpcAnswer): boolean {
  return g.status === 200 && g.backend !== undefined && (g.backendProtocol === 'http/1.1' || g.grpcStatus === 0);
}

/** Did gwdoctor's verdict for the target agree with what a real gRPC call for its host and path got? */
export function judgeGrpc(
  scenario: string,
  target: string,
  report: TargetReport,
  fromLive: ExpectCase,
  g: GrpcAnswer,
  sc: LaneScenario,
): { ok: boolean; why: string } {
  if (fromLive.verdict === 'error') return { ok: true, why: '' };
  if (target.startsWith('internal:')) {
    if (fromLive.verdict === 'pass')
      return {
        ok: g.backend === undefined,
        why: 'gwdoctor says the internal host is not served publicly, but a backend answered the gRPC call',
      };
    if (fromLive.code === 'InternalHostExposed')
      return {
        ok: g.backend !== undefined,
        why: 'gwdoctor says the internal host is exposed, but no backend answered the gRPC call',
      };
    return { ok: true, why: '' };
  }
  if (fromLive.verdict === 'pass' || fromLive.verdict === 'warn') {
    if (!grpcServed(g))
      return { ok: false, why: `gwdoctor says ${fromLive.verdict}, but the gRPC call was not served` };
    if (!sc.backends.some((x) => x.pod === g.backend))
      return { ok: false, why: `${g.backend} is none of the lane's backends` };
    const facts = (id: string) => report.layers.find((l) => l.id === id)?.facts ?? {};
    const svcs = (facts('endpoints').backends ?? facts('grant').backends ?? []).filter((x) => x.kind === 'Service');
    const ns = (g.backend ?? '').split('/')[0];
    if (svcs.length > 0 && !svcs.some((x) => x.namespace === ns))
      return {
        ok: false,
        why: `gwdoctor names ${svcs.map((x) => `${x.namespace}/${x.name}`).join(', ')}, but ${g.backend} answered`,
      };
    return { ok: true, why: '' };
  }
  if (g.backend !== undefined)
    return {
      ok: false,
      why: `gwdoctor says ${fromLive.layer}/${fromLive.code}, but backend ${g.backend} answered the gRPC call`,
    };
  const want = fromLive.code
    ? (REAL_ANSWER[`${fromLive.layer}/${fromLive.code}`] ?? REAL_ANSWER[fromLive.code])
    : undefined;
  if (want?.grpc && !want.grpc(g))
    return { ok: false, why: `for ${fromLive.code} the real Envoy answers ${want.says} (as gRPC: its grpc-status)` };
  return { ok: true, why: '' };
}

/**
 * gwdoctor's response classifier on a real answer straight from Envoy (what the unit tests feed it by hand): a backend's
 * 200 is `upstream`; each local reply above is `envoy` with its response flag, sure (Envoy's own headers prove it).
 */
export function classifierOnReal(a: RealAnswer, target: string): { ok: boolean; why: string } {
  if (a.status === undefined || a.headers === undefined) return { ok: true, why: '' };
  const bare = target.replace(/^internal:/, '');
  const url = /^https?:\/\//i.test(bare) ? new URL(bare) : new URL(`https://${bare}/`);
  const c = classifyResponse({ statusCode: a.status, headers: a.headers, bodySnippet: a.body ?? '' }, url, url, {
    direct: true,
  });
  if (a.backend !== undefined)
    return {
      ok: c.kind === 'upstream',
      why: `a backend answered through Envoy, the classifier says ${JSON.stringify(c)}`,
    };
  const local = [NR, NC, UH, RBAC, UF].find((x) => x.test(a, 'nodeport'));
  if (!local) return { ok: true, why: '' };
  return {
    ok: c.kind === 'envoy' && c.fault === local.fault && c.sure,
    why: `Envoy's ${local.says}: the classifier says ${JSON.stringify(c)}`,
  };
}

/**
 * Where gwdoctor with its probes on (through nginx) gives another verdict than with them off, by layer/code pair:
 * `offline -> networked` with the reason. Anything else must be identical. The answer is judged on its own above.
 */
export const NETWORKED_DIFFERS: Record<string, string> = {
  'route/InternalHostExposed -> proxy/InternalHostExposed':
    'the same finding, proven earlier: a backend answers the internal host through nginx',
  'route/ListenerPortsDiffer -> null/null':
    "the warning is about the Gateway's other ports; the proxy layer proves the request is served, and a pass with probes on ends there",
  'mesh/AuthorizationUndetermined -> mesh/GatewayRbacDenied':
    'the ALLOW rule depends on the client address; the probe sees the gateway deny it (403 RBAC), which settles it for this client',
};

/** Is the networked verdict `net` the offline one, or a difference listed in NETWORKED_DIFFERS? */
export function networkedSame(offline: ExpectCase, net: ExpectCase): { ok: boolean; why: string } {
  if (offline.verdict === net.verdict && offline.layer === net.layer && offline.code === net.code)
    return { ok: true, why: '' };
  const k = `${offline.layer}/${offline.code} -> ${net.layer}/${net.code}`;
  return {
    ok: k in NETWORKED_DIFFERS,
    why: `with probes on: ${net.verdict} ${net.layer}/${net.code}, off: ${offline.verdict} ${offline.layer}/${offline.code} (${k} is not in NETWORKED_DIFFERS)`,
  };
}
