// Builders for findings: every layer reports through these, so hints and shapes stay uniform.

import { hintFor, type Code } from './codes.js';
import { ClusterAccessError, GwdoctorError, rootMessage } from './errors.js';
import { command, manual } from './fix/build.js';
import type { Check, Evidence, Finding, Fix } from './types.js';

export type Draft = Omit<Finding, 'durationMs'>;

interface Extra {
  evidence?: Evidence[];
  fix?: Fix | null;
  retryable?: boolean;
}

function make(check: Pick<Check, 'id' | 'title'>, status: Draft['status'], code: Code | null, summary: string, x: Extra = {}): Draft {
  return {
    id: check.id,
    title: check.title,
    status,
    code,
    summary,
    evidence: x.evidence ?? [],
    fix: x.fix ?? null,
    hint: code ? hintFor(code) : null,
    retryable: x.retryable ?? false,
  };
}

export const pass = (c: Pick<Check, 'id' | 'title'>, summary: string, x?: Extra): Draft => make(c, 'pass', null, summary, x);
export const warn = (c: Pick<Check, 'id' | 'title'>, code: Code, summary: string, x?: Extra): Draft => make(c, 'warn', code, summary, x);
export const fail = (c: Pick<Check, 'id' | 'title'>, code: Code, summary: string, x?: Extra): Draft => make(c, 'fail', code, summary, x);
export const errorFinding = (c: Pick<Check, 'id' | 'title'>, code: Code, summary: string, x?: Extra): Draft =>
  make(c, 'error', code, summary, x);
export const skip = (c: Pick<Check, 'id' | 'title'>, reason: string): Draft => make(c, 'skip', null, reason);

/**
 * Fixes for the network layers (proxy configuration, DNS records: nothing gwdoctor can express as a Kubernetes
 * object). A one-line command with no shell syntax becomes argv; anything else runs through sh -c, exactly as written.
 */
export function commandFix(text: string, explain: string): Fix {
  const plain = /^[^\n<>|&;$`'"\\()]+$/.test(text.trim());
  return command(plain ? text.trim().split(/\s+/) : ['sh', '-c', text], explain);
}
/** Advice with no object or command behind it (what to change at the proxy or DNS provider). */
export function textFix(text: string, explain: string): Fix {
  return manual(`${text.replace(/\.$/, '')} (${explain})`);
}

const KIND_CODE: Record<ClusterAccessError['kind'], Code> = {
  forbidden: 'ClusterForbidden',
  unauthorized: 'ClusterUnauthorized',
  'crd-missing': 'GatewayApiMissing',
  unreachable: 'ClusterUnreachable',
  tls: 'ClusterTlsError',
  timeout: 'Timeout',
  api: 'ClusterUnreachable',
  'credential-plugin': 'ClusterCredentialPluginFailed',
};

/** A GwdoctorError thrown inside a check becomes an `error` finding; anything else is a bug and is rethrown. */
export function findingFromError(c: Pick<Check, 'id' | 'title'>, err: unknown): Draft {
  if (err instanceof ClusterAccessError) {
    return errorFinding(c, KIND_CODE[err.kind], err.message, {
      retryable: err.kind === 'unreachable' || err.kind === 'timeout',
      fix: err.hint ? manual(err.hint) : null,
    });
  }
  if (err instanceof GwdoctorError) {
    const code: Code = c.id === 'dns' ? 'DnsResolverError' : c.id === 'proxy' ? 'ProxyUnreachable' : 'ClusterUnreachable';
    return errorFinding(c, code, rootMessage(err), { retryable: true, fix: err.hint ? manual(err.hint) : null });
  }
  throw err;
}
