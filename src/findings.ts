// Builders for findings: every layer reports through these, so hints and shapes stay uniform.

import { hintFor, type Code } from './codes.js';
import { ClusterAccessError, GwdoctorError, rootMessage } from './errors.js';
import { command, manual } from './fix/build.js';
import { CODES, couldNotLookCode, layerMayEmit, retryableOf, type CauseOf, type CodeOf } from './registry.js';
import type { Evidence, Facts, Finding, Fix, LayerId } from './types.js';
import type { Check } from './check.js';

export type Draft = Omit<Finding, 'durationMs'>;

interface Extra {
  evidence?: Evidence[];
  fix?: Fix | null;
  /** What the layer established, as data (src/types.ts Facts). */
  facts?: Facts;
}

/** What a finding with code C takes besides its summary: a `cause` exactly when the registry's retryability needs one. */
export type ExtraFor<C extends Code> = Extra &
  ([CauseOf<C>] extends [never] ? { cause?: never } : { cause: CauseOf<C> });

/** The layer a finding is for: its id (typed, so that only that layer's codes are accepted) and title. */
export type LayerOf<I extends LayerId> = Pick<Check, 'title'> & { id: I };

function make(
  check: Pick<Check, 'id' | 'title'>,
  status: Draft['status'],
  code: Code | null,
  summary: string,
  x: Extra,
  retryable: boolean,
): Draft {
  return {
    id: check.id,
    title: check.title,
    status,
    code,
    summary,
    evidence: x.evidence ?? [],
    fix: x.fix ?? null,
    hint: code ? hintFor(code) : null,
    retryable,
    facts: x.facts ?? {},
  };
}

/**
 * The one constructor of a finding with a reason code. The registry (src/registry.ts) fixes everything but the words:
 * the layer may emit the code (a type error otherwise), the status is the code's severity, retryable is the code's
 * (or its cause's), the hint is the code's README anchor. Adding a code is one entry in CODES; nothing else.
 */
export function emit<I extends LayerId, C extends CodeOf<I>>(
  check: LayerOf<I>,
  code: C,
  summary: string,
  x?: ExtraFor<C>,
): Draft {
  const extra: Extra & { cause?: string } = x ?? {};
  return make(check, CODES[code].severity, code, summary, extra, retryableOf(code, extra.cause));
}

export const pass = (c: Pick<Check, 'id' | 'title'>, summary: string, x: Extra = {}): Draft =>
  make(c, 'pass', null, summary, x, false);
/** A layer not checked: `reason` is said to people, `why` is the same as data (facts.skipped). */
export const skip = (c: Pick<Check, 'id' | 'title'>, reason: string, why: NonNullable<Facts['skipped']>): Draft =>
  make(c, 'skip', null, reason, { facts: { skipped: why } }, false);

export { about } from './evidence.js';

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

const KIND_CODE = {
  forbidden: 'ClusterForbidden',
  unauthorized: 'ClusterUnauthorized',
  'crd-missing': 'GatewayApiMissing',
  unreachable: 'ClusterUnreachable',
  tls: 'ClusterTlsError',
  timeout: 'Timeout',
  api: 'ClusterUnreachable',
  'credential-plugin': 'ClusterCredentialPluginFailed',
} as const satisfies Record<ClusterAccessError['kind'], CodeOf<LayerId>>;

/** A GwdoctorError thrown inside a check becomes an `error` finding; anything else is a bug and is rethrown. */
export function findingFromError(
  c: Pick<Check, 'id' | 'title'> & Partial<Pick<Check, 'couldNotLook'>>,
  err: unknown,
): Draft {
  if (err instanceof ClusterAccessError) {
    const fix = err.hint ? manual(err.hint) : null;
    const code = KIND_CODE[err.kind];
    return code === 'ClusterUnreachable'
      ? emit(c, code, err.message, { fix, cause: err.kind === 'api' ? 'api-error' : 'unreachable' })
      : emit(c, code, err.message, { fix });
  }
  if (err instanceof GwdoctorError) {
    // Not an answer from the network or the cluster: this layer could not carry out its look at all.
    const fix = err.hint ? manual(err.hint) : null;
    // Which code is the layer's own (its declaration's couldNotLook, src/registry.ts LAYERS); the registry checks
    // that it may emit it.
    const code = c.couldNotLook ?? couldNotLookCode(c.id);
    if (code === 'ClusterUnreachable') return emit(c, code, rootMessage(err), { fix, cause: 'unreachable' });
    if (!layerMayEmit(c.id, code))
      throw new Error(`registry: layer ${c.id} may not emit its couldNotLook code ${code}`);
    return emitChecked(c, code, rootMessage(err), { fix });
  }
  throw err;
}

/** emit() for a code checked at run time (layerMayEmit) rather than by the types: what the cast stands for. */
const emitChecked = emit as unknown as (c: Pick<Check, 'id' | 'title'>, code: Code, summary: string, x: Extra) => Draft;
