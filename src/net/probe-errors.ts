// Errors of the network probes, kept apart from undici so that importing them stays cheap.

import { ProbeError } from '../errors.js';

/** What a TLS handshake showed (src/net/tls-inspect.ts fills it). */
export interface CertSummary {
  subject: string;
  issuer: string;
  san: string[];
  validFrom: string;
  validTo: string;
  daysLeft: number;
  fingerprint256: string;
}

export interface TlsDetails {
  /** The fields of HttpProbeResult['tls'] (src/types.ts). */
  authorized: boolean;
  error: string | null;
  subject: string | null;
  issuer: string | null;
  validTo: string | null;
  san: string[];
  /** Extra detail for messages. */
  validFrom: string | null;
  daysLeft: number | null;
  protocol: string | null;
  /** Leaf first. */
  chain: CertSummary[];
  /** Chain problem (CERT_HAS_EXPIRED, UNABLE_TO_VERIFY_LEAF_SIGNATURE, ...), null when the chain verifies. */
  chainError: string | null;
  /** Name problem (the certificate does not cover the host), null when it does. */
  nameError: string | null;
}

export class ProbeFailure extends ProbeError {
  constructor(
    readonly code: string,
    message: string,
    options?: ErrorOptions,
  ) {
    super(message, undefined, options);
  }
}

/** The TLS handshake worked but the certificate does not verify; carries what was seen. */
export class TlsProbeFailure extends ProbeFailure {
  /** `problem`: what is wrong with the certificate, in words (the message is "CODE: problem"). */
  constructor(
    code: string,
    readonly problem: string,
    readonly tls: TlsDetails,
  ) {
    super(code, `${code}: ${problem}`);
  }
}

const TLS_CODES = new Set([
  'CERT_HAS_EXPIRED',
  'ERR_TLS_CERT_ALTNAME_INVALID',
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'DEPTH_ZERO_SELF_SIGNED_CERT',
  'SELF_SIGNED_CERT_IN_CHAIN',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
  'CERT_NOT_YET_VALID',
  'CERT_UNTRUSTED',
]);

export function isTlsCode(code: string): boolean {
  return TLS_CODES.has(code) || code.startsWith('ERR_SSL') || code.startsWith('ERR_TLS');
}

/** Connection-level failures: the peer is not there or hung up. */
export function describeNetCode(code: string): string {
  switch (code) {
    case 'ECONNREFUSED':
      return 'connection refused (nothing listens on that port)';
    case 'ECONNRESET':
      return 'connection reset by the peer';
    case 'ETIMEDOUT':
    case 'CONNECT_TIMEOUT':
    case 'UND_ERR_CONNECT_TIMEOUT':
      return 'connect timeout (a firewall drops the packets, or the host is down)';
    case 'UND_ERR_HEADERS_TIMEOUT':
    case 'UND_ERR_BODY_TIMEOUT':
      return 'no response in time (the peer accepted the connection but did not answer)';
    case 'EHOSTUNREACH':
    case 'ENETUNREACH':
      return 'no route to the host';
    case 'UND_ERR_SOCKET':
    case 'EPIPE':
      return 'the peer closed the connection';
    default:
      return code;
  }
}
