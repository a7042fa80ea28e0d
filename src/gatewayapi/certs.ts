// The certificates of an HTTPS listener that terminates TLS (listener.tls.certificateRefs), judged the way istiod
// judges them, plus what istiod does not check but a TLS client does (expiry, the names the certificate covers).
//
// What istiod does (istio pilot/pkg/config/kube/gateway/conversion.go, buildListener -> buildTLS -> buildSecretReference):
//   * tls.options["gateway.istio.io/tls-terminate-mode"] ISTIO_SIMPLE / ISTIO_MUTUAL: Istio's own workload
//     certificate, certificateRefs are not read.
//   * more than 2 certificateRefs: InvalidCertificateRef "TLS mode can only support up to 2 server certificates".
//   * per ref, in this order: group/kind must be core Secret ("only secret is allowed"); the Secret must exist among the
//     Secrets istiod watches (pilot/pkg/credentials/kube/secrets.go SecretsFieldSelector: every type except
//     helm.sh/release.v1 and kubernetes.io/service-account-token) ("secret NS/NAME not found"); it must hold non-empty
//     `cert`+`key` or `tls.crt`+`tls.key` (ExtractCertInfo; the Secret's *type* is not checked: an Opaque Secret with
//     those keys works); crypto/tls X509KeyPair must accept them (PEM certificate + matching private key, else "the
//     certificate is malformed"); then, for a Secret in another namespace, a ReferenceGrant from Gateway to Secret
//     (gatewaycommon/references.go SecretAllowed) else RefNotPermitted.
//   * the listener is fine as long as ONE ref is valid (validCertCount > 0); otherwise the listener gets
//     ResolvedRefs=False (InvalidCertificateRef or RefNotPermitted), Programmed=False/Invalid "Bad TLS configuration"
//     (RefNotPermitted also Accepted=False/NoValidCACertificate), and a Gateway without any valid listener is
//     Accepted=False/ListenersNotValid. Seen on real istiod (test/integration/contract.test.ts, listener-https-cert-*).
//   * expiry and names are NOT checked by istiod (pilot/pkg/xds/sds.go ValidateCertificate only logs an expired
//     certificate and serves it anyway): the listener stays Programmed=True and a client that verifies the
//     certificate (a browser, a proxy that verifies its upstream) fails the handshake. gwdoctor checks both.
//
// Secret data never leaves this file: what is returned is subject, issuer, SANs and validity dates.

import type { X509Certificate } from 'node:crypto';
import type { Gateway, GatewayListener, ReferenceGrant, Secret } from '../cluster/objects.js';
import { all, type ClusterView } from '../cluster/view.js';
import { ClusterAccessError } from '../errors.js';
import type { Evidence } from '../types.js';
import { about } from '../evidence.js';
import { describe } from '../cluster/objects.js';
import { secretGrantPermits, whyNotSecret } from './grants.js';

const DAY_MS = 86_400_000;
/** The same threshold as the proxy layer's TlsCertificateExpiring. */
export const CERT_EXPIRY_WARN_DAYS = 14;
const TERMINATE_MODE = 'gateway.istio.io/tls-terminate-mode';
/** Secret types istiod's informer never sees (SecretsFieldSelector): for istiod such a Secret does not exist. */
const UNWATCHED_TYPES = new Set(['helm.sh/release.v1', 'kubernetes.io/service-account-token']);

export interface CertRef {
  index: number;
  group: string;
  kind: string;
  name: string;
  /** The Secret's namespace (the Gateway's when the ref names none). */
  namespace: string;
}

/** What may be said about a certificate: no key material, nothing that could be used to impersonate. */
export interface CertFacts {
  subject: string;
  issuer: string;
  san: string[];
  notBefore: string;
  notAfter: string;
  daysLeft: number;
}

export type RefState =
  | { state: 'unsupported'; ref: CertRef }
  | { state: 'missing'; ref: CertRef; unwatchedType?: string }
  | { state: 'unknown'; ref: CertRef; why: string /** The reason alone, for the pass summary. */; reason: string }
  | { state: 'invalid'; ref: CertRef; secret: Secret; why: string }
  | { state: 'valid'; ref: CertRef; secret: Secret; cert: CertFacts; pem: X509Certificate };

/** One HTTPS listener's certificates as read (resolve stage). */
export interface ListenerCerts {
  gateway: Gateway;
  listener: GatewayListener;
  /** Istio's built-in certificate (ISTIO_SIMPLE / ISTIO_MUTUAL): nothing to read. */
  builtin: string | null;
  refs: RefState[];
  /** ReferenceGrants of each foreign Secret namespace. */
  grants: Map<string, ReferenceGrant[]>;
  /** apiVersion to write a ReferenceGrant with (only read when a grant is missing). */
  grantApiVersion: string;
}

export function certificateRefs(gw: Gateway, l: GatewayListener): CertRef[] {
  const ns = gw.metadata.namespace ?? 'default';
  return (l.tls?.certificateRefs ?? []).map((raw, index) => {
    const r = (raw ?? {}) as { group?: unknown; kind?: unknown; name?: unknown; namespace?: unknown };
    return {
      index,
      group: typeof r.group === 'string' ? r.group : '',
      kind: typeof r.kind === 'string' ? r.kind : 'Secret',
      name: typeof r.name === 'string' ? r.name : '',
      namespace: typeof r.namespace === 'string' && r.namespace !== '' ? r.namespace : ns,
    };
  });
}

/** Does this listener terminate TLS with certificates gwdoctor should read? (HTTPS, tls present, mode Terminate) */
export function terminatesTls(l: GatewayListener): boolean {
  return l.protocol === 'HTTPS' && !!l.tls && (l.tls.mode ?? 'Terminate') === 'Terminate';
}

function value(s: Secret, key: string): Buffer | undefined {
  const d = s.data?.[key];
  if (typeof d === 'string' && d !== '') return Buffer.from(d, 'base64');
  const sd = s.stringData?.[key];
  if (typeof sd === 'string' && sd !== '') return Buffer.from(sd, 'utf8');
  return undefined;
}

function keysOf(s: Secret): string[] {
  return [...new Set([...Object.keys(s.data ?? {}), ...Object.keys(s.stringData ?? {})])].sort();
}

function dn(s: string): string {
  return s.split('\n').filter(Boolean).join(', ');
}

/** The SAN list, DNS names and IP addresses only ("DNS:a, IP Address:b" -> ["a", "b"]). */
function sans(c: X509Certificate): string[] {
  return (c.subjectAltName ?? '')
    .split(/,\s*/)
    .map((x) =>
      x
        .replace(/^DNS:/, '')
        .replace(/^IP Address:/, '')
        .trim(),
    )
    .filter(Boolean);
}

/**
 * The certificate and key as Go's crypto/tls X509KeyPair takes them (what istiod runs): every CERTIFICATE block of the
 * certificate input, the leaf first; the first PRIVATE KEY block of the key input; the key must match the leaf.
 * Returns a reason (never quoting the input) when istiod would call it malformed.
 */
export function parseKeyPair(certPem: Buffer, keyPem: Buffer): { cert: X509Certificate } | { why: string } {
  const text = certPem.toString('latin1');
  const block = /-----BEGIN CERTIFICATE-----[\s\S]*?-----END CERTIFICATE-----/.exec(text);
  if (!block) return { why: 'the certificate is malformed: no CERTIFICATE PEM block in the certificate data' };
  // node:crypto only when a certificate is read (as src/net/ca-file.ts): a run whose listeners have none never loads it.
  const { X509Certificate, createPrivateKey } = process.getBuiltinModule('node:crypto');
  let cert: X509Certificate;
  try {
    cert = new X509Certificate(block[0]);
  } catch {
    return { why: 'the certificate is malformed: its first CERTIFICATE block does not parse as X.509' };
  }
  const keyText = keyPem.toString('latin1');
  const keyBlock = /-----BEGIN ([A-Z0-9 ]*PRIVATE KEY)-----[\s\S]*?-----END \1-----/.exec(keyText);
  if (!keyBlock) return { why: 'the certificate is malformed: no PRIVATE KEY PEM block in the key data' };
  let key;
  try {
    key = createPrivateKey(keyBlock[0]);
  } catch {
    return { why: `the certificate is malformed: the ${keyBlock[1]} block does not parse` };
  }
  if (!cert.checkPrivateKey(key))
    return { why: 'the certificate is malformed: the private key does not match the certificate' };
  return { cert };
}

export function certFacts(c: X509Certificate, now: number): CertFacts {
  const notAfter = new Date(c.validTo);
  return {
    subject: dn(c.subject),
    issuer: dn(c.issuer),
    san: sans(c),
    notBefore: new Date(c.validFrom).toISOString(),
    notAfter: notAfter.toISOString(),
    daysLeft: Math.floor((notAfter.getTime() - now) / DAY_MS),
  };
}

/** istiod's buildSecretReference for one Secret that was read (kind already checked). */
export function judgeSecret(ref: CertRef, secret: Secret | undefined, now: number): RefState {
  if (!secret) return { state: 'missing', ref };
  if (secret.type && UNWATCHED_TYPES.has(secret.type)) return { state: 'missing', ref, unwatchedType: secret.type };
  const pair = value(secret, 'cert') && value(secret, 'key') ? ['cert', 'key'] : ['tls.crt', 'tls.key'];
  const crt = value(secret, pair[0] as string);
  const key = value(secret, pair[1] as string);
  if (!crt || !key) {
    const keys = keysOf(secret);
    const has = (k: string) => keys.includes(k);
    const why =
      (has('tls.crt') && has('tls.key')) || (has('cert') && has('key'))
        ? `it has the keys ${has('tls.crt') ? '"tls.crt" and "tls.key"' : '"cert" and "key"'}, but they are empty`
        : `it has no "tls.crt" and "tls.key" (nor "cert" and "key"); type ${secret.type ?? 'Opaque'}, keys: ${keys.length ? keys.map((k) => `"${k}"`).join(', ') : 'none'}`;
    return { state: 'invalid', ref, secret, why };
  }
  const parsed = parseKeyPair(crt, key);
  if ('why' in parsed) return { state: 'invalid', ref, secret, why: parsed.why };
  return { state: 'valid', ref, secret, cert: certFacts(parsed.cert, now), pem: parsed.cert };
}

/** Read the listener's Secrets (GET by name, each once) and the ReferenceGrants of foreign Secret namespaces. */
export function readListenerCerts(v: ClusterView, gw: Gateway, l: GatewayListener, now: number): ListenerCerts {
  const mode = l.tls?.options?.[TERMINATE_MODE];
  const builtin = mode === 'ISTIO_SIMPLE' || mode === 'ISTIO_MUTUAL' ? mode : null;
  const gwNs = gw.metadata.namespace ?? 'default';
  const refs = builtin ? [] : certificateRefs(gw, l);
  const states = all(
    refs.map((ref) => (): RefState => {
      if (ref.group !== '' || ref.kind !== 'Secret') return { state: 'unsupported', ref };
      let secret;
      try {
        secret = v.secret(ref.namespace, ref.name);
      } catch (err) {
        // Reading Secrets is optional: without the permission the certificate is simply not checked.
        if (err instanceof ClusterAccessError && err.kind === 'forbidden')
          return { state: 'unknown', ref, why: err.message, reason: err.message };
        throw err;
      }
      if (secret === null)
        return {
          state: 'unknown',
          ref,
          why: 'not checked (no Secrets in the manifests)',
          reason: 'no Secrets in the manifests',
        };
      return judgeSecret(ref, secret, now);
    }),
  );
  const foreign = [
    ...new Set(
      refs.filter((r) => r.namespace !== gwNs && r.group === '' && r.kind === 'Secret').map((r) => r.namespace),
    ),
  ];
  const grants = new Map(all(foreign.map((ns) => () => [ns, v.referenceGrants(ns)] as const)));
  const ungranted = refs.some(
    (r) =>
      r.namespace !== gwNs &&
      !(grants.get(r.namespace) ?? []).some((g) => secretGrantPermits(g, gwNs, r.namespace, r.name)),
  );
  const grantApiVersion = ungranted ? v.referenceGrantApiVersion() : '';
  return { gateway: gw, listener: l, builtin, refs: states, grants, grantApiVersion };
}

export type CertProblemCode = 'ListenerCertificateRefInvalid' | 'ReferenceGrantMissing' | 'ListenerCertificateInvalid';

export interface CertJudgement {
  listener: GatewayListener;
  host: string;
  /** ReferenceGrants of the foreign Secret namespaces and the version to write one with (for the fix). */
  grants: Map<string, ReferenceGrant[]>;
  grantApiVersion: string;
  evidence: Evidence[];
  /** Fails the listener: istiod rejects it, or the certificate cannot serve the host. */
  problem?: {
    code: CertProblemCode;
    summary: string;
    ref: CertRef;
    state: RefState['state'] | 'not-permitted' | 'expired' | 'not-yet-valid' | 'other-host';
  };
  /** Valid and serving, but expiring within CERT_EXPIRY_WARN_DAYS. */
  warning?: { code: 'ListenerCertificateExpiring'; summary: string };
  /** Why the certificate was not (fully) checked; the listener is not failed for it. */
  unchecked?: string;
  /** A certificateRef was read and is valid and permitted: Istio programs the listener (for status disagreements). */
  verified?: string;
}

const secretName = (r: CertRef) => `Secret ${r.namespace}/${r.name}`;

function describeCert(c: CertFacts): string {
  return `subject ${c.subject || '(empty)'}, SANs ${c.san.length ? c.san.join(', ') : 'none'}, issuer ${c.issuer || '(empty)'}, valid ${c.notBefore} to ${c.notAfter} (${c.daysLeft >= 0 ? `${c.daysLeft} days left` : `expired ${-c.daysLeft} days ago`})`;
}

/**
 * Judge one HTTPS listener's certificates for a host: first what istiod decides (the listener is rejected when no
 * ref is valid), then what a TLS client checks of the certificates istiod loads (validity period, names).
 */
export function judgeListenerCerts(lc: ListenerCerts, host: string, now: number): CertJudgement {
  const l = lc.listener;
  const gwNs = lc.gateway.metadata.namespace ?? 'default';
  const whereSuffix = ` listener "${l.name}"`;
  const where = `${describe(lc.gateway)}${whereSuffix}`;
  const evidence: Evidence[] = [];
  const base = { listener: l, host, grants: lc.grants, grantApiVersion: lc.grantApiVersion };
  if (lc.builtin) {
    evidence.push(
      about(
        lc.gateway,
        `tls.options ${TERMINATE_MODE}: ${lc.builtin}: Istio's own workload certificate, no certificateRefs read`,
        whereSuffix,
      ),
    );
    return { ...base, evidence };
  }
  if (lc.refs.length > 2) {
    const ref = (lc.refs[2] as RefState).ref;
    return {
      ...base,
      evidence,
      problem: {
        code: 'ListenerCertificateRefInvalid',
        ref,
        state: 'invalid',
        summary: `${where} has ${lc.refs.length} certificateRefs: Istio supports at most 2 (ResolvedRefs=False/InvalidCertificateRef "TLS mode can only support up to 2 server certificates"), so the listener is not programmed`,
      },
    };
  }
  const permitted = (r: CertRef) =>
    r.namespace === gwNs ||
    (lc.grants.get(r.namespace) ?? []).some((g) => secretGrantPermits(g, gwNs, r.namespace, r.name));
  const grantOf = (r: CertRef) =>
    (lc.grants.get(r.namespace) ?? []).find((g) => secretGrantPermits(g, gwNs, r.namespace, r.name));
  type Rejection = {
    code: CertProblemCode;
    ref: CertRef;
    state: NonNullable<CertJudgement['problem']>['state'];
    why: string;
  };
  const rejections: Rejection[] = [];
  const usable: Extract<RefState, { state: 'valid' }>[] = [];
  const unknown: Extract<RefState, { state: 'unknown' }>[] = [];
  for (const s of lc.refs) {
    const r = s.ref;
    switch (s.state) {
      case 'unsupported':
        rejections.push({
          code: 'ListenerCertificateRefInvalid',
          ref: r,
          state: s.state,
          why: `names ${r.group || 'core'}/${r.kind} ${r.name}: only a core Secret is allowed (InvalidCertificateRef "only secret is allowed")`,
        });
        evidence.push(
          about(
            lc.gateway,
            `${r.group || 'core'}/${r.kind} ${r.name}: not a Secret`,
            `${whereSuffix} certificateRefs[${r.index}]`,
          ),
        );
        continue;
      case 'missing':
        rejections.push({
          code: 'ListenerCertificateRefInvalid',
          ref: r,
          state: s.state,
          why: s.unwatchedType
            ? `names ${secretName(r)}, of type ${s.unwatchedType}, which istiod does not watch: for Istio it does not exist (InvalidCertificateRef "secret ${r.namespace}/${r.name} not found")`
            : `names ${secretName(r)}, which does not exist (InvalidCertificateRef "secret ${r.namespace}/${r.name} not found")`,
        });
        evidence.push({
          ref: secretName(r),
          detail: s.unwatchedType ? `type ${s.unwatchedType}: invisible to istiod` : 'not found',
        });
        continue;
      case 'invalid':
        rejections.push({
          code: 'ListenerCertificateRefInvalid',
          ref: r,
          state: s.state,
          why: `names ${secretName(r)}: ${s.why} (InvalidCertificateRef)`,
        });
        evidence.push(about(s.secret, `type ${s.secret.type ?? 'Opaque'}: ${s.why}`));
        continue;
      case 'unknown':
        unknown.push(s);
        evidence.push({ ref: secretName(r), detail: s.why });
        // A foreign Secret needs a grant whatever it holds: that much can be judged without reading it.
        if (!permitted(r))
          rejections.push({
            code: 'ReferenceGrantMissing',
            ref: r,
            state: 'not-permitted',
            why: notPermittedWhy(r, gwNs),
          });
        continue;
      case 'valid': {
        const type = s.secret.type ?? 'Opaque';
        const note =
          type === 'kubernetes.io/tls'
            ? ''
            : `; type ${type}: Istio reads its tls.crt/tls.key all the same, the Gateway API only promises kubernetes.io/tls`;
        if (!permitted(r)) {
          rejections.push({
            code: 'ReferenceGrantMissing',
            ref: r,
            state: 'not-permitted',
            why: notPermittedWhy(r, gwNs),
          });
          evidence.push(about(s.secret, `${describeCert(s.cert)}${note}`));
          for (const g of lc.grants.get(r.namespace) ?? [])
            evidence.push(about(g, `does not apply: ${whyNotSecret(g, gwNs, r.name)}`));
          if ((lc.grants.get(r.namespace) ?? []).length === 0)
            evidence.push({ ref: `namespace ${r.namespace}`, detail: 'has no ReferenceGrant at all' });
          continue;
        }
        const g = r.namespace !== gwNs ? grantOf(r) : undefined;
        evidence.push(
          about(
            s.secret,
            `${describeCert(s.cert)}${note}${g ? `; permitted by ReferenceGrant ${g.metadata.namespace ?? r.namespace}/${g.metadata.name}` : ''}`,
          ),
        );
        usable.push(s);
      }
    }
  }
  // istiod: the listener is rejected only when no ref is valid (buildTLS validCertCount == 0). A ref that was not
  // read (no permission, manifests without Secrets) may be valid, unless it needs a grant that is missing.
  const maybe = unknown.filter((u) => permitted(u.ref));
  if (usable.length === 0 && maybe.length === 0) {
    const x = rejections[0];
    if (!x) return { ...base, evidence };
    const tail =
      x.code === 'ReferenceGrantMissing'
        ? 'Istio reports the listener ResolvedRefs=False/RefNotPermitted and does not program it'
        : 'Istio reports the listener ResolvedRefs=False/InvalidCertificateRef, Programmed=False, and serves no TLS for it';
    return {
      ...base,
      evidence,
      problem: { code: x.code, ref: x.ref, state: x.state, summary: `${where} ${x.why}: ${tail}` },
    };
  }
  if (usable.length === 0) {
    return { ...base, evidence, unchecked: maybe.map((u) => `${secretName(u.ref)}: ${u.reason}`).join('; ') };
  }
  for (const x of rejections)
    evidence.push(
      about(
        lc.gateway,
        `ignored by Istio (another certificateRef is valid): ${x.why}`,
        `${whereSuffix} certificateRefs[${x.ref.index}]`,
      ),
    );
  const g0 = usable[0] as Extract<RefState, { state: 'valid' }>;
  const grant0 = g0.ref.namespace !== gwNs ? grantOf(g0.ref) : undefined;
  const verified = `${secretName(g0.ref)} holds a valid key pair${grant0 ? ` and ReferenceGrant ${grant0.metadata.namespace ?? g0.ref.namespace}/${grant0.metadata.name} permits it` : ''}`;
  // What a verifying client sees: a certificate that covers the host and is within its validity period.
  const covers = (s: Extract<RefState, { state: 'valid' }>) =>
    s.pem.checkHost(host, { subject: 'never', partialWildcards: false, multiLabelWildcards: false }) !== undefined;
  const inTime = (s: Extract<RefState, { state: 'valid' }>) =>
    Date.parse(s.cert.notBefore) <= now && now <= Date.parse(s.cert.notAfter);
  const good = usable.filter((s) => covers(s) && inTime(s)).sort((a, b) => b.cert.daysLeft - a.cert.daysLeft);
  const best = good[0];
  if (!best) {
    const s = usable.find(covers) ?? (usable[0] as Extract<RefState, { state: 'valid' }>);
    const c = s.cert;
    const state = !covers(s) ? 'other-host' : now > Date.parse(c.notAfter) ? 'expired' : 'not-yet-valid';
    const what =
      state === 'other-host'
        ? `holds a certificate that does not cover ${host} (SANs: ${c.san.length ? c.san.join(', ') : 'none'}; a wildcard covers exactly one label, the subject CN is not used)`
        : state === 'expired'
          ? `holds a certificate that expired on ${c.notAfter} (${-c.daysLeft} days ago)`
          : `holds a certificate that is not valid before ${c.notBefore}`;
    return {
      ...base,
      evidence,
      problem: {
        code: 'ListenerCertificateInvalid',
        ref: s.ref,
        state,
        summary: `${where} terminates TLS for ${host} with ${secretName(s.ref)}, which ${what}: Istio still programs it (it does not check this), but every client that verifies the certificate fails the TLS handshake`,
      },
    };
  }
  if (best.cert.daysLeft < CERT_EXPIRY_WARN_DAYS) {
    return {
      ...base,
      evidence,
      verified,
      warning: {
        code: 'ListenerCertificateExpiring',
        summary: `${where}: the certificate in ${secretName(best.ref)} for ${host} expires in ${best.cert.daysLeft} days (${best.cert.notAfter})`,
      },
    };
  }
  return { ...base, evidence, verified };
}

function notPermittedWhy(r: CertRef, gwNs: string): string {
  return `names ${secretName(r)} in another namespace, and no ReferenceGrant in ${r.namespace} lets Gateways in ${gwNs} use it (RefNotPermitted "certificateRef ${r.name}/${r.namespace} not accessible to a Gateway in namespace \\"${gwNs}\\" (missing a ReferenceGrant?)")`;
}
