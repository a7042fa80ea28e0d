// The one place that removes credentials from text before it is printed: every URL, server address, error text and
// finding passes through redact() on its way to stdout/stderr (text, tty, JSON and --debug alike). It imports nothing.
//
// Removed: URL userinfo (https://user:pass@host -> https://***@host), bearer/basic credentials, token-like query
// parameters, kubeconfig credential fields (token, password, client-key-data, ...), JWTs and PEM private keys.
// The patterns are linear: each is anchored on a literal and uses bounded, non-nested repetition.

const MASK = '***';

const RULES: [RegExp, string][] = [
  // PEM private keys (a kubeconfig's client-key, a --ca-file that holds a key by mistake).
  [
    /-----BEGIN [A-Z0-9 ]{0,40}PRIVATE KEY-----[^-]{0,16384}(?:-----END [A-Z0-9 ]{0,40}PRIVATE KEY-----)?/g,
    `[private key ${MASK}]`,
  ],
  // userinfo in any URL: scheme://user:pass@host, scheme://token@host
  [/([a-zA-Z][a-zA-Z0-9+.-]{0,30}:\/\/)[^/\s@?#"'<>]{1,2048}@/g, `$1${MASK}@`],
  // user:password@host without a scheme (what a user may type as a target).
  [/(^|[\s"'(=])([^\s/@:"'(=]{1,256}):[^\s/@"']{1,2048}@/g, `$1$2:${MASK}@`],
  // Authorization header values.
  [/\b([Bb]earer|Basic)(\s+)[A-Za-z0-9._~+/=-]{8,8192}/g, `$1$2${MASK}`],
  // Token-like query parameters and form fields.
  [
    /([?&;](?:access_token|id_token|refresh_token|token|auth|password|passwd|pwd|secret|client_secret|api_key|apikey|key|sig|signature|x-amz-signature|x-amz-credential|x-goog-signature)=)[^&\s#"']{0,4096}/gi,
    `$1${MASK}`,
  ],
  // Credential fields of a kubeconfig or a JSON/YAML dump of one (token: ..., "client-key-data": "...").
  [
    /((?:^|[\s{,"'(\[&;?])(?:client-key-data|client-certificate-data|client-key|token|id-token|refresh-token|access-token|client-secret|password|passwd|secret|tokenFile|token-file|apiKey|api-key)["']?\s{0,8}[:=]\s{0,8}["']?)[^\s"',}\])&;#]{1,8192}/gi,
    `$1${MASK}`,
  ],
  // JSON Web Tokens (service account tokens, OIDC id-tokens) wherever they appear.
  [/\beyJ[A-Za-z0-9_-]{8,4096}\.[A-Za-z0-9_-]{8,4096}\.[A-Za-z0-9_-]{0,4096}/g, MASK],
];

/** Text with every credential removed. Safe on any string; idempotent. */
export function redact(text: string): string {
  let s = text;
  for (const [re, to] of RULES) s = s.replace(re, to);
  return s;
}

/** A URL or server address for display: userinfo and token-like query parameters removed. */
export function redactUrl(url: string): string {
  return redact(url);
}

/** Every string inside a JSON-like value, redacted (for findings and reports). Returns a new value. */
export function redactDeep<T>(value: T): T {
  if (typeof value === 'string') return redact(value) as T;
  if (Array.isArray(value)) return value.map((v) => redactDeep(v)) as T;
  if (value !== null && typeof value === 'object') {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) out[k] = redactDeep(v);
    return out as T;
  }
  return value;
}

export const MAX_LINE = 400;

/**
 * One line for an error message: redacted, control and non-printable bytes shown as \xNN (a binary file must not
 * write raw bytes to a terminal) and cut to `max` characters with a note of how much was left out.
 */
export function errorLine(text: string, max = MAX_LINE): string {
  // Cut well beyond `max` before redacting (bounded work on huge input); a credential split by this cut lies past
  // `max` and is dropped below with the rest.
  const first = redact((text.split(/\r?\n/, 1)[0] ?? '').slice(0, 16 * 1024));
  // eslint-disable-next-line no-control-regex
  const printable = first.replace(/[\u0000-\u0008\u000b-\u001f\u007f-\u009f\ufffd]/g, (c) =>
    c === '\ufffd' ? '?' : `\\x${c.charCodeAt(0).toString(16).padStart(2, '0')}`,
  );
  if (printable.length <= max) return printable;
  return `${printable.slice(0, max)}... (${printable.length - max} more characters)`;
}
