// Error classes. A GwdoctorError is something a user can act on; anything else is a bug (exit 70).

export class GwdoctorError extends Error {
  constructor(
    message: string,
    readonly hint?: string,
    options?: ErrorOptions,
  ) {
    super(message, options);
    this.name = new.target.name;
  }
}

/** Bad flags, malformed targets, unreadable files: exit 3, before any check ran. */
export class UsageError extends GwdoctorError {}

export type ClusterErrorKind =
  | 'forbidden'
  | 'unauthorized'
  | 'crd-missing'
  | 'unreachable'
  | 'tls'
  | 'timeout'
  | 'api'
  | 'credential-plugin';

/** Could not read the cluster: the layer becomes `error` (exit 2). */
export class ClusterAccessError extends GwdoctorError {
  /** The API server's HTTP status, when it answered (403, 404, 500, ...); unset when it did not (unreachable, TLS). */
  status?: number;
  /** What the API server said (its Status message), quoted as evidence, never parsed. */
  serverMessage?: string;
  constructor(
    readonly kind: ClusterErrorKind,
    message: string,
    hint?: string,
    options?: ErrorOptions,
  ) {
    super(message, hint, options);
  }
}

/** A network probe could not be carried out (not a finding about the target). */
export class ProbeError extends GwdoctorError {}

/** First line of the root cause, for messages that must stay one line. */
export function rootMessage(err: unknown): string {
  let e: unknown = err;
  const seen = new Set<unknown>();
  while (e instanceof Error && e.cause !== undefined && !seen.has(e.cause)) {
    seen.add(e);
    e = e.cause;
  }
  const msg = e instanceof Error ? e.message : String(e);
  return msg.split('\n')[0] ?? msg;
}
