// TLS pre-flight: connect with SNI, record the certificate chain, and verify it ourselves (chain against system roots
// plus --ca-file; name with tls.checkServerIdentity), so a bad certificate is described rather than just refused.

import { readFileSync } from 'node:fs';
import * as tls from 'node:tls';
import { ProbeFailure } from './probe-errors.js';

export const CONNECT_TIMEOUT_MS = 5000;
const DAY_MS = 86_400_000;

export type { TlsDetails } from './probe-errors.js';
import type { CertSummary, TlsDetails } from './probe-errors.js';

function dn(x: tls.Certificate | undefined): string {
  if (!x) return '';
  const parts: string[] = [];
  for (const k of ['CN', 'O', 'OU'] as const) {
    const v = (x as unknown as Record<string, string | string[] | undefined>)[k];
    if (v) parts.push(`${k}=${Array.isArray(v) ? v.join('+') : v}`);
  }
  return parts.join(', ');
}

export function sanList(c: { subjectaltname?: string | undefined }): string[] {
  return (c.subjectaltname ?? '')
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean)
    .map((s) => s.replace(/^DNS:/, '').replace(/^IP Address:/, ''));
}

function summarize(c: tls.PeerCertificate, now: number): CertSummary {
  return {
    subject: dn(c.subject),
    issuer: dn(c.issuer),
    san: sanList(c),
    validFrom: new Date(c.valid_from).toISOString(),
    validTo: new Date(c.valid_to).toISOString(),
    daysLeft: Math.floor((Date.parse(c.valid_to) - now) / DAY_MS),
    fingerprint256: c.fingerprint256,
  };
}

/** System roots (Node's bundle and the OS store) plus the PEM file given with --ca-file. */
export function trustedCas(caFile: string | null | undefined): string[] | undefined {
  if (!caFile) return undefined;
  const extra = readFileSync(caFile, 'utf8');
  const t = tls as unknown as { getCACertificates?: (type: string) => string[] };
  const base = t.getCACertificates
    ? [...t.getCACertificates('default'), ...safe(() => t.getCACertificates?.('system') ?? [])]
    : [...tls.rootCertificates];
  return [...base, extra];
}

function safe<T>(f: () => T[]): T[] {
  try {
    return f();
  } catch {
    return [];
  }
}

/** One secure context per --ca-file for the whole run: parsing ~150 root certificates per connection costs ~10 ms. */
const contexts = new Map<string, tls.SecureContext>();
export function secureContextFor(caFile: string | null | undefined): tls.SecureContext | undefined {
  if (!caFile) return undefined; // Node's default context: its root store is built once per process
  let c = contexts.get(caFile);
  if (!c) {
    c = tls.createSecureContext({ ca: trustedCas(caFile) });
    contexts.set(caFile, c);
  }
  return c;
}

export interface TlsInspectOptions {
  address: string;
  port: number;
  servername: string;
  ca?: string[] | undefined;
  /** Preferred over `ca`: a context built once (secureContextFor). */
  secureContext?: tls.SecureContext | undefined;
  signal: AbortSignal;
  timeoutMs?: number;
  now?: number;
}

/**
 * Connect and handshake, collect the chain, verify it ourselves; the socket stays open, so the HTTP request can use
 * this very connection (one handshake per probe). Throws ProbeFailure for refused/reset/timeout/handshake failures.
 */
export function handshake(o: TlsInspectOptions): Promise<{ details: TlsDetails; socket: tls.TLSSocket }> {
  const timeoutMs = o.timeoutMs ?? CONNECT_TIMEOUT_MS;
  const now = o.now ?? Date.now();
  return new Promise<{ details: TlsDetails; socket: tls.TLSSocket }>((resolve, reject) => {
    let settled = false;
    const sock = tls.connect({
      host: o.address,
      port: o.port,
      servername: o.servername,
      rejectUnauthorized: false,
      ...(o.secureContext ? { secureContext: o.secureContext } : o.ca ? { ca: o.ca } : {}),
      ALPNProtocols: ['http/1.1'],
    });
    const finish = (err: Error | null, v?: TlsDetails) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      o.signal.removeEventListener('abort', onAbort);
      sock.removeListener('error', onError);
      if (err) {
        sock.destroy();
        reject(err);
        return;
      }
      // Until the HTTP client takes the socket over (it adds its own handlers), an error just closes it.
      sock.on('error', () => sock.destroy());
      resolve({ details: v as TlsDetails, socket: sock });
    };
    const onAbort = () =>
      finish(new ProbeFailure('ABORT_ERR', `TLS to ${o.address}:${o.port} aborted by the run's deadline`));
    const timer = setTimeout(
      () =>
        finish(
          new ProbeFailure('CONNECT_TIMEOUT', `no TLS handshake with ${o.address}:${o.port} within ${timeoutMs} ms`),
        ),
      timeoutMs,
    );
    if (o.signal.aborted) return onAbort();
    o.signal.addEventListener('abort', onAbort, { once: true });
    const onError = (e: NodeJS.ErrnoException) => {
      const code = e.code ?? 'ERR_TLS_HANDSHAKE';
      finish(new ProbeFailure(code, `${code}: ${e.message}`, { cause: e }));
    };
    sock.on('error', onError);
    sock.on('secureConnect', () => {
      const leaf = sock.getPeerCertificate(true);
      const chain: CertSummary[] = [];
      const seen = new Set<string>();
      let c: tls.DetailedPeerCertificate | undefined = leaf && Object.keys(leaf).length ? leaf : undefined;
      while (c && !seen.has(c.fingerprint256)) {
        seen.add(c.fingerprint256);
        chain.push(summarize(c, now));
        c = c.issuerCertificate && c.issuerCertificate !== c ? c.issuerCertificate : undefined;
      }
      const authErr = sock.authorizationError
        ? String((sock.authorizationError as unknown as { code?: string }).code ?? sock.authorizationError)
        : null;
      const chainError = authErr && authErr !== 'ERR_TLS_CERT_ALTNAME_INVALID' ? authErr : null;
      let nameError: string | null = null;
      if (chain.length > 0) {
        const err = tls.checkServerIdentity(o.servername, leaf);
        if (err) nameError = err.message;
      } else nameError = 'the server sent no certificate';
      const first = chain[0];
      resolve_({
        authorized: chainError === null && nameError === null,
        error: chainError ?? (nameError ? 'ERR_TLS_CERT_ALTNAME_INVALID' : null),
        subject: first?.subject ?? null,
        issuer: first?.issuer ?? null,
        validTo: first?.validTo ?? null,
        san: first?.san ?? [],
        validFrom: first?.validFrom ?? null,
        daysLeft: first?.daysLeft ?? null,
        protocol: sock.getProtocol(),
        chain,
        chainError,
        nameError,
      });
    });
    const resolve_ = (v: TlsDetails) => finish(null, v);
  });
}

/** One sentence about what is wrong with the certificate. */
export function describeTlsProblem(t: TlsDetails, host: string): string {
  const parts: string[] = [];
  const leaf = t.chain[0];
  switch (t.chainError) {
    case null:
      break;
    case 'CERT_HAS_EXPIRED':
      parts.push(`it expired on ${leaf?.validTo ?? '?'}`);
      break;
    case 'CERT_NOT_YET_VALID':
      parts.push(`it is not valid before ${leaf?.validFrom ?? '?'}`);
      break;
    case 'UNABLE_TO_VERIFY_LEAF_SIGNATURE':
    case 'UNABLE_TO_GET_ISSUER_CERT_LOCALLY':
    case 'UNABLE_TO_GET_ISSUER_CERT':
    case 'SELF_SIGNED_CERT_IN_CHAIN':
    case 'DEPTH_ZERO_SELF_SIGNED_CERT':
    case 'CERT_UNTRUSTED':
      parts.push(`it is issued by an untrusted CA (${leaf?.issuer || 'unknown issuer'}; ${t.chainError})`);
      break;
    default:
      parts.push(`chain verification failed (${t.chainError})`);
  }
  if (t.nameError) parts.push(`it does not cover ${host} (SANs: ${t.san.join(', ') || 'none'})`);
  return parts.join('; ');
}
