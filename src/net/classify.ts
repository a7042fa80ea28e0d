// Who answered, and what the answer means: gateway-api-rules.md Appendix B and §7.5 as a pure function.
// No I/O here: unit tests feed it headers and bodies.

import type { LayerId } from '../types.js';

export interface ResponseLike {
  statusCode: number;
  headers: Record<string, string>;
  bodySnippet: string;
}

/** Envoy response flags for the local replies gwdoctor tells apart (RBAC: the rbac filter's 403, flag RBAC). */
export type EnvoyFault = 'NR' | 'NC' | 'UH' | 'UF' | 'UT' | 'RBAC';

export type Classification =
  /** An upstream (the app) answered through Envoy: x-envoy-upstream-service-time. Layers 3-6 carried the request. */
  | { kind: 'upstream'; statusCode: number }
  /** Envoy answered itself. `sure` = its own answer proves it (header or body); false = the proxy hid Envoy's headers
   *  and only the direct NodePort probe, answering the same, shows that it was Envoy. */
  | { kind: 'envoy'; fault: EnvoyFault; statusCode: number; sure: boolean }
  /** Envoy answered (headers prove it) something gwdoctor has no rule for. */
  | { kind: 'envoy-other'; statusCode: number }
  /** A proxy error page (nginx/HAProxy/Caddy 502/503/504) without Envoy headers: the proxy could not reach its upstream. */
  | { kind: 'proxy-error'; statusCode: number; server: string | null }
  /** 426 Upgrade Required: the upstream (Istio's gateway Envoy: accept_http_10 is off) refuses an HTTP/1.0 request. */
  | { kind: 'upgrade-required'; statusCode: 426; server: string | null }
  /** A redirect back to the very URL asked: the client would loop. */
  | { kind: 'redirect-loop'; statusCode: number; location: string }
  /** Any other redirect (not followed). */
  | { kind: 'redirect'; statusCode: number; location: string }
  /** An answer without any Envoy signature (a default page, the proxy's own 404, a static site). */
  | { kind: 'other'; statusCode: number; server: string | null };

export function hasEnvoyHeader(h: Record<string, string>): boolean {
  return Object.keys(h).some((k) => k.toLowerCase().startsWith('x-envoy-'));
}

function header(h: Record<string, string>, name: string): string | null {
  const k = Object.keys(h).find((x) => x.toLowerCase() === name);
  return k === undefined ? null : (h[k] ?? null);
}

export function envoyServer(h: Record<string, string>): boolean {
  const s = (header(h, 'server') ?? '').toLowerCase();
  return s === 'istio-envoy' || s === 'envoy';
}

/** Same scheme, host, port, path and query (default ports folded). */
export function sameUrl(a: URL, b: URL): boolean {
  const norm = (u: URL) =>
    `${u.protocol}//${u.hostname.toLowerCase().replace(/\.$/, '')}:${u.port || (u.protocol === 'https:' ? '443' : '80')}${u.pathname}${u.search}`;
  return norm(a) === norm(b);
}

/**
 * Envoy is named only by evidence: its `server` header (istio-envoy, envoy), an `x-envoy-*` header, or one of its
 * local-reply bodies ("no healthy upstream", "upstream connect error ...", "upstream request timeout"). An empty 404
 * or 500 is only the *shape* of Envoy's NR/NC reply: any web server can send one, so on its own it is `other`.
 * `direct` = the answer came straight from the NodePort, with no proxy in between: there a `server` header that is
 * not Envoy's rules Envoy out altogether (through a proxy it may be the proxy's own, e.g. nginx replaces it).
 */
export function classifyResponse(
  res: ResponseLike,
  requested: URL,
  publicUrl: URL = requested,
  opts: { direct?: boolean } = {},
): Classification {
  const code = res.statusCode;
  const body = res.bodySnippet.trim();
  const h = res.headers;
  const server = header(h, 'server');

  if (code >= 300 && code < 400) {
    const loc = header(h, 'location');
    if (loc) {
      let target: URL | null = null;
      try {
        target = new URL(loc, requested);
      } catch {
        target = null;
      }
      if (target && (sameUrl(target, requested) || sameUrl(target, publicUrl)))
        return { kind: 'redirect-loop', statusCode: code, location: loc };
      return { kind: 'redirect', statusCode: code, location: loc };
    }
  }
  // Envoy answers an HTTP/1.0 request `426 Upgrade Required` (http_protocol_options.accept_http_10 is false in every
  // listener istiod writes for a gateway). Through a proxy it means the proxy speaks HTTP/1.0 upstream.
  if (code === 426) return { kind: 'upgrade-required', statusCode: 426, server };
  const headerEvidence = hasEnvoyHeader(h) || envoyServer(h);
  const ruledOut = !headerEvidence && server !== null && opts.direct === true;
  if (!ruledOut) {
    if (header(h, 'x-envoy-upstream-service-time') !== null) return { kind: 'upstream', statusCode: code };
    if (code === 503 && body === 'no healthy upstream')
      return { kind: 'envoy', fault: 'UH', statusCode: code, sure: true };
    if ((code === 503 || code === 502) && body.startsWith('upstream connect error or disconnect/reset before headers'))
      return { kind: 'envoy', fault: 'UF', statusCode: code, sure: true };
    if (code === 504 && body === 'upstream request timeout')
      return { kind: 'envoy', fault: 'UT', statusCode: code, sure: true };
    if (code === 403 && body === 'RBAC: access denied')
      return { kind: 'envoy', fault: 'RBAC', statusCode: code, sure: true };
  }
  if (headerEvidence) {
    const fault = localReplyShape(res);
    if (fault === 'NR' || fault === 'NC') return { kind: 'envoy', fault, statusCode: code, sure: true };
    return { kind: 'envoy-other', statusCode: code };
  }
  if (!opts.direct && (code === 502 || code === 503 || code === 504))
    return { kind: 'proxy-error', statusCode: code, server };
  return { kind: 'other', statusCode: code, server };
}

/** The Envoy fault an answer of this status and body would be, if Envoy sent it (it proves nothing by itself). */
export function localReplyShape(res: ResponseLike): EnvoyFault | null {
  const body = res.bodySnippet.trim();
  if (res.statusCode === 404 && body === '') return 'NR';
  if (res.statusCode === 500 && body === '') return 'NC';
  if (res.statusCode === 503 && body === 'no healthy upstream') return 'UH';
  if (
    (res.statusCode === 503 || res.statusCode === 502) &&
    body.startsWith('upstream connect error or disconnect/reset before headers')
  )
    return 'UF';
  if (res.statusCode === 504 && body === 'upstream request timeout') return 'UT';
  if (res.statusCode === 403 && body === 'RBAC: access denied') return 'RBAC';
  return null;
}

/** An error status (4xx/5xx): a request that ends in one never passes unexplained. */
export function isErrorStatus(statusCode: number): boolean {
  return statusCode >= 400;
}

/** Does the gateway answer at all (upstream or its own reply)? */
export function gatewayAnswered(c: Classification): boolean {
  return c.kind === 'upstream' || c.kind === 'envoy' || c.kind === 'envoy-other';
}

export function describeClassification(c: Classification): string {
  switch (c.kind) {
    case 'upstream':
      return `HTTP ${c.statusCode} from the backend through Envoy (x-envoy-upstream-service-time)`;
    case 'envoy':
      return `HTTP ${c.statusCode} ${FAULT_TEXT[c.fault]}${c.sure ? '' : ' (no Envoy header visible through the proxy; the gateway answers the same directly)'}`;
    case 'envoy-other':
      return `HTTP ${c.statusCode} from Envoy`;
    case 'proxy-error':
      return `HTTP ${c.statusCode} error page from ${c.server ?? 'the proxy'} (no x-envoy-* header)`;
    case 'upgrade-required':
      return `HTTP 426 Upgrade Required from ${c.server ?? 'an unknown server'} (the request reached its upstream as HTTP/1.0)`;
    case 'redirect-loop':
      return `HTTP ${c.statusCode} redirect to the same URL (${c.location})`;
    case 'redirect':
      return `HTTP ${c.statusCode} redirect to ${c.location} (not followed)`;
    case 'other':
      return `HTTP ${c.statusCode} from ${c.server ?? 'an unknown server'} without any Envoy signature`;
  }
}

export const FAULT_TEXT: Record<EnvoyFault, string> = {
  NR: 'from Envoy with an empty body (NR: no route for this host and path)',
  NC: "from Envoy with an empty body (NC: the route's backendRef is unusable: missing ReferenceGrant, missing Service or port)",
  UH: '"no healthy upstream" from Envoy (UH: the backend Service has no ready endpoints)',
  UF: '"upstream connect error" from Envoy (UF: endpoints exist but refuse or reset the connection)',
  UT: '"upstream request timeout" from Envoy (UT: the backend is slower than the route timeout)',
  RBAC: '"RBAC: access denied" from Envoy (an AuthorizationPolicy that applies to the gateway denies the request)',
};

/**
 * The cluster layers that can explain an Envoy local reply, in pipeline order (Appendix B). The first one gets it;
 * one that finds nothing wrong hands it on to the next (a 500 NC is a missing ReferenceGrant, or a backendRef to a
 * Service or port that does not exist: grant, then endpoints). A 503 UF to ready endpoints is a TLS or connection
 * failure the mesh layer may know (a DestinationRule TLS mode the Pod cannot speak, STRICT PeerAuthentication on a
 * plaintext hop): endpoints, then mesh. The RBAC 403 is the gateway's RBAC filter, i.e. an AuthorizationPolicy: the
 * mesh layer reads them. A layer listed here must weigh the answer with withEnvoy (src/layer.ts; clusterLayer does),
 * or the answer is never judged.
 */
export const FAULT_LAYERS: Record<EnvoyFault, readonly LayerId[]> = {
  NR: ['route'],
  NC: ['grant', 'endpoints'],
  UH: ['endpoints'],
  UF: ['endpoints', 'mesh'],
  UT: ['endpoints'],
  RBAC: ['mesh'],
};

/** The reset reason Envoy names in a UF body ("... reset reason: connection failure, transport failure reason: TLS_error: ..."). */
export function resetReason(body: string): string | null {
  const m = /reset reason: (.+)$/s.exec(body.trim());
  return m ? (m[1] as string).trim() : null;
}
