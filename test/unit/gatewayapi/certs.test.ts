// HTTPS listener certificates: istiod's rules (pilot/pkg/config/kube/gateway/conversion.go buildTLS /
// buildSecretReference, pilot/pkg/credentials/kube/secrets.go ExtractCertInfo / SecretsFieldSelector) and what a
// verifying client checks (validity, names). Certificates are the committed test-only ones in fixtures/_certs/.

import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ManifestCluster, loadManifests } from '../../../src/cluster/manifests.js';
import { settle, viewOf } from '../../../src/cluster/view.js';
import { secretView, type Gateway, type K8sObject, type ReferenceGrant } from '../../../src/cluster/objects.js';
import {
  judgeListenerCerts,
  judgeSecret,
  parseKeyPair,
  readListenerCerts,
  type CertRef,
  type ListenerCerts,
} from '../../../src/gatewayapi/certs.js';
import { FIXTURES, runOnCluster, scenarioDir } from '../../helpers/fixtures.js';

const pem = (stem: string, part: 'crt' | 'key') => readFileSync(join(FIXTURES, '_certs', `${stem}.${part}.pem`));
const b64 = (b: Buffer) => b.toString('base64');
const NOW = Date.parse('2026-11-27T12:00:00Z');
const DAY = 86_400_000;

const gw = (refs: unknown[], options?: Record<string, string>): Gateway => ({
  apiVersion: 'gateway.networking.k8s.io/v1',
  kind: 'Gateway',
  metadata: { name: 'gw', namespace: 'istio-ingress' },
  spec: {
    gatewayClassName: 'istio',
    listeners: [
      {
        name: 'https',
        hostname: '*.example.com',
        port: 443,
        protocol: 'HTTPS',
        tls: { mode: 'Terminate', certificateRefs: refs, ...(options ? { options } : {}) },
      },
    ],
  },
});
const secret = (name: string, ns: string, data: Record<string, string>, type = 'kubernetes.io/tls') => ({
  apiVersion: 'v1',
  kind: 'Secret',
  metadata: { name, namespace: ns },
  type,
  data,
});
const tls = (name: string, ns = 'istio-ingress', cert = 'example-com', key = cert, type?: string) =>
  secret(name, ns, { 'tls.crt': b64(pem(cert, 'crt')), 'tls.key': b64(pem(key, 'key')) }, type);
const grant = (
  ns: string,
  from: { kind: string; namespace: string },
  to: { kind: string; name?: string },
): ReferenceGrant => ({
  apiVersion: 'gateway.networking.k8s.io/v1',
  kind: 'ReferenceGrant',
  metadata: { name: 'g', namespace: ns },
  spec: { from: [{ group: 'gateway.networking.k8s.io', ...from }], to: [{ group: '', ...to }] },
});

async function judge(
  objects: object[],
  refs: unknown[],
  host = 'api.example.com',
  now = NOW,
  options?: Record<string, string>,
) {
  const g = gw(refs, options);
  const cluster = new ManifestCluster([g, ...objects] as K8sObject[]);
  const lc: ListenerCerts = await settle(cluster, () =>
    readListenerCerts(viewOf(cluster), g, g.spec.listeners?.[0] as never, now),
  );
  return judgeListenerCerts(lc, host, now);
}
const ref = (name: string, namespace?: string) => ({
  group: '',
  kind: 'Secret',
  name,
  ...(namespace ? { namespace } : {}),
});
const R: CertRef = { index: 0, group: '', kind: 'Secret', name: 'x', namespace: 'istio-ingress' };

describe('what istiod accepts as a certificateRef Secret (buildSecretReference, ExtractCertInfo, X509KeyPair)', () => {
  it('a kubernetes.io/tls Secret whose tls.crt and tls.key parse and match is valid; its facts carry no key material', () => {
    const s = judgeSecret(R, secretView(tls('x')), NOW);
    expect(s.state).toBe('valid');
    if (s.state !== 'valid') return;
    expect(s.cert).toMatchObject({
      subject: 'O=gwdoctor fixtures, CN=*.example.com',
      san: ['*.example.com', 'example.com'],
      notAfter: '2099-12-31T00:00:00.000Z',
    });
    expect(JSON.stringify(s.cert)).not.toMatch(/BEGIN|PRIVATE/);
  });
  it('the Secret type is not checked: Opaque with tls.crt/tls.key works; so do the generic cert/key keys (checked first)', () => {
    expect(judgeSecret(R, secretView(tls('x', 'ns', 'example-com', 'example-com', 'Opaque')), NOW).state).toBe('valid');
    expect(
      judgeSecret(
        R,
        secretView(
          secret('x', 'ns', { cert: b64(pem('example-com', 'crt')), key: b64(pem('example-com', 'key')) }, 'Opaque'),
        ),
        NOW,
      ).state,
    ).toBe('valid');
    // stringData (manifests from git) is read like data
    expect(
      judgeSecret(
        R,
        secretView({
          ...secret('x', 'ns', {}),
          stringData: {
            'tls.crt': pem('example-com', 'crt').toString(),
            'tls.key': pem('example-com', 'key').toString(),
          },
        }),
        NOW,
      ).state,
    ).toBe('valid');
  });
  it('missing, invisible to istiod (helm release / service-account token), without the keys, or with empty keys: rejected', () => {
    expect(judgeSecret(R, undefined, NOW)).toMatchObject({ state: 'missing' });
    expect(
      judgeSecret(R, secretView(tls('x', 'ns', 'example-com', 'example-com', 'helm.sh/release.v1')), NOW),
    ).toMatchObject({ state: 'missing', unwatchedType: 'helm.sh/release.v1' });
    expect(
      judgeSecret(
        R,
        secretView(secret('x', 'ns', { '.dockerconfigjson': 'e30=' }, 'kubernetes.io/dockerconfigjson')),
        NOW,
      ),
    ).toMatchObject({ state: 'invalid', why: expect.stringContaining('"tls.crt" and "tls.key"') });
    expect(judgeSecret(R, secretView(secret('x', 'ns', { 'tls.crt': '', 'tls.key': '' })), NOW)).toMatchObject({
      state: 'invalid',
      why: expect.stringContaining('empty'),
    });
  });
  it('a key that does not match, a key that does not parse, a certificate that is not PEM: "the certificate is malformed"', () => {
    expect(parseKeyPair(pem('example-com', 'crt'), pem('example-org', 'key'))).toEqual({
      why: expect.stringContaining('does not match'),
    });
    expect(
      parseKeyPair(
        pem('example-com', 'crt'),
        Buffer.from('-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n'),
      ),
    ).toEqual({ why: expect.stringContaining('does not parse') });
    expect(parseKeyPair(Buffer.from('not a certificate'), pem('example-com', 'key'))).toEqual({
      why: expect.stringContaining('no CERTIFICATE PEM block'),
    });
  });
});

describe('the listener verdict for a host', () => {
  it('a valid certificate covering the host passes, with subject, SANs, issuer and days left as evidence', async () => {
    const j = await judge([tls('example-com-tls')], [ref('example-com-tls')]);
    expect(j.problem).toBeUndefined();
    expect(j.warning).toBeUndefined();
    expect(j.evidence.map((e) => e.detail).join('\n')).toMatch(
      /SANs \*\.example\.com, example\.com, issuer O=gwdoctor fixtures, CN=gwdoctor test CA, .* days left/,
    );
  });
  it('a wildcard covers exactly one label; the subject CN is never used (as browsers and Go verify)', async () => {
    expect((await judge([tls('t')], [ref('t')], 'example.com')).problem).toBeUndefined(); // explicit SAN
    expect((await judge([tls('t')], [ref('t')], 'a.b.example.com')).problem).toMatchObject({
      code: 'ListenerCertificateInvalid',
      state: 'other-host',
    });
    expect((await judge([tls('t', 'istio-ingress', 'example-org')], [ref('t')])).problem).toMatchObject({
      code: 'ListenerCertificateInvalid',
      state: 'other-host',
    });
  });
  it('expired, not yet valid, expiring within 14 days (warning, days left said)', async () => {
    expect((await judge([tls('t', 'istio-ingress', 'expired')], [ref('t')])).problem).toMatchObject({
      code: 'ListenerCertificateInvalid',
      state: 'expired',
    });
    expect(
      (await judge([tls('t')], [ref('t')], 'api.example.com', Date.parse('2025-06-01T00:00:00Z'))).problem,
    ).toMatchObject({ state: 'not-yet-valid' });
    const soon = Date.parse('2099-12-31T00:00:00Z') - 5 * DAY - 1000;
    expect((await judge([tls('t')], [ref('t')], 'api.example.com', soon)).warning).toEqual({
      code: 'ListenerCertificateExpiring',
      summary: expect.stringContaining('expires in 5 days (2099-12-31T00:00:00.000Z)'),
    });
    expect((await judge([tls('t')], [ref('t')], 'api.example.com', soon - 10 * DAY)).warning).toBeUndefined();
  });
  it('a ref that is not a core Secret, and more than 2 refs: InvalidCertificateRef', async () => {
    expect((await judge([], [{ group: 'cert-manager.io', kind: 'Certificate', name: 't' }])).problem).toMatchObject({
      code: 'ListenerCertificateRefInvalid',
      state: 'unsupported',
    });
    expect((await judge([tls('t')], [ref('t'), ref('t'), ref('t')])).problem).toMatchObject({
      code: 'ListenerCertificateRefInvalid',
      summary: expect.stringContaining('at most 2'),
    });
  });
  it('two refs, one valid: istiod programs the listener (validCertCount > 0); the bad one is evidence only', async () => {
    const j = await judge([tls('t')], [ref('missing'), ref('t')]);
    expect(j.problem).toBeUndefined();
    expect(j.evidence.map((e) => e.detail)).toContainEqual(
      expect.stringContaining('ignored by Istio (another certificateRef is valid)'),
    );
  });
  it("tls-terminate-mode ISTIO_SIMPLE / ISTIO_MUTUAL use Istio's own certificate: nothing is read", async () => {
    const j = await judge([], [ref('missing')], 'api.example.com', NOW, {
      'gateway.istio.io/tls-terminate-mode': 'ISTIO_SIMPLE',
    });
    expect(j.problem).toBeUndefined();
    expect(j.evidence[0]?.detail).toMatch(/ISTIO_SIMPLE/);
  });
});

describe('a Secret in another namespace needs a ReferenceGrant from Gateway to Secret (SecretAllowed)', () => {
  const foreign = tls('example-com-tls', 'cert-manager');
  it('without a grant: ReferenceGrantMissing (RefNotPermitted); a grant for HTTPRoutes or for Services is a near miss', async () => {
    const j = await judge(
      [foreign, grant('cert-manager', { kind: 'HTTPRoute', namespace: 'istio-ingress' }, { kind: 'Secret' })],
      [ref('example-com-tls', 'cert-manager')],
    );
    expect(j.problem).toMatchObject({ code: 'ReferenceGrantMissing', state: 'not-permitted' });
    expect(j.evidence.map((e) => e.detail)).toContainEqual(
      expect.stringContaining(
        'from does not list {group: gateway.networking.k8s.io, kind: Gateway, namespace: istio-ingress}',
      ),
    );
  });
  it('with a grant naming the Secret, or every Secret of the namespace: permitted; a grant for another Secret name is not', async () => {
    expect(
      (
        await judge(
          [
            foreign,
            grant(
              'cert-manager',
              { kind: 'Gateway', namespace: 'istio-ingress' },
              { kind: 'Secret', name: 'example-com-tls' },
            ),
          ],
          [ref('example-com-tls', 'cert-manager')],
        )
      ).problem,
    ).toBeUndefined();
    expect(
      (
        await judge(
          [foreign, grant('cert-manager', { kind: 'Gateway', namespace: 'istio-ingress' }, { kind: 'Secret' })],
          [ref('example-com-tls', 'cert-manager')],
        )
      ).problem,
    ).toBeUndefined();
    expect(
      (
        await judge(
          [
            foreign,
            grant('cert-manager', { kind: 'Gateway', namespace: 'istio-ingress' }, { kind: 'Secret', name: 'other' }),
          ],
          [ref('example-com-tls', 'cert-manager')],
        )
      ).problem,
    ).toMatchObject({ code: 'ReferenceGrantMissing' });
  });
  it('a missing foreign Secret is InvalidCertificateRef, not RefNotPermitted (istiod checks existence first)', async () => {
    expect(
      (await judge([tls('unrelated', 'cert-manager')], [ref('example-com-tls', 'cert-manager')])).problem,
    ).toMatchObject({ code: 'ListenerCertificateRefInvalid', state: 'missing' });
  });
});

describe('the printed grant for a foreign certificate Secret', () => {
  it("is the exact ReferenceGrant (Gateway -> that Secret) in the Secret's namespace, under a name no grant there has, in the version the source uses (manifests: their grants' version; live: the served one)", async () => {
    const objects = loadManifests([scenarioDir('listener-https-cert-foreign-ns-presync')]);
    const taken = {
      ...grant('cert-manager', { kind: 'HTTPRoute', namespace: 'istio-ingress' }, { kind: 'Secret' }),
      metadata: { name: 'allow-istio-ingress-gateways-to-example-com-tls', namespace: 'cert-manager' },
    };
    const r = await runOnCluster(new ManifestCluster([...objects, taken] as K8sObject[], ['x']), 'api.example.com');
    const l = r.layers[2];
    expect(l).toMatchObject({ status: 'fail', code: 'ReferenceGrantMissing' });
    expect(l?.fix).toMatchObject({
      kind: 'apply',
      object: {
        apiVersion: 'gateway.networking.k8s.io/v1beta1', // the fixture's other grants are v1beta1
        kind: 'ReferenceGrant',
        metadata: { name: 'allow-istio-ingress-gateways-to-example-com-tls-2', namespace: 'cert-manager' },
        spec: {
          from: [{ group: 'gateway.networking.k8s.io', kind: 'Gateway', namespace: 'istio-ingress' }],
          to: [{ group: '', kind: 'Secret', name: 'example-com-tls' }],
        },
      },
    });
    // the near miss is named as evidence
    expect(l?.evidence.map((e) => e.detail)).toContainEqual(
      expect.stringContaining('from does not list {group: gateway.networking.k8s.io, kind: Gateway'),
    );
  });
});

describe('reading Secrets is optional', () => {
  it('manifests that hold no Secret at all: "not checked (no Secrets in the manifests)", the listener passes', async () => {
    const j = await judge([], [ref('example-com-tls')]);
    expect(j.problem).toBeUndefined();
    expect(j.unchecked).toBe('Secret istio-ingress/example-com-tls: no Secrets in the manifests');
    // ... but a foreign Secret still needs its grant, which the manifests can tell
    expect((await judge([], [ref('example-com-tls', 'cert-manager')])).problem).toMatchObject({
      code: 'ReferenceGrantMissing',
    });
  });
  it('the whole run: a pre-sync HTTPS setup without its Secret in git passes the listener layer and says why it did not look', async () => {
    const objects = loadManifests([scenarioDir('listener-https-cert-valid')]).filter((o) => o.kind !== 'Secret');
    const r = await runOnCluster(new ManifestCluster(objects, ['x']), 'api.example.com');
    expect(r.layers[2]).toMatchObject({
      status: 'pass',
      summary: expect.stringContaining(
        'certificate of listener "https" not checked: Secret istio-ingress/example-com-tls: no Secrets in the manifests',
      ),
    });
    expect(r.verdict).toBe('pass');
  });
  it('a forbidden read (403) is "not checked" with the API server\'s reason, never a failure', async () => {
    const g = gw([ref('example-com-tls')]);
    const base = new ManifestCluster([g] as K8sObject[]);
    const { ClusterAccessError } = await import('../../../src/errors.js');
    const forbidden = Object.assign(Object.create(base) as ManifestCluster, {
      secret: async () => {
        throw new ClusterAccessError(
          'forbidden',
          'forbidden: cannot get secret istio-ingress/example-com-tls (secrets "example-com-tls" is forbidden: User "viewer" cannot get resource "secrets" in API group "" in the namespace "istio-ingress")',
        );
      },
    });
    const j = judgeListenerCerts(
      await settle(forbidden, () => readListenerCerts(viewOf(forbidden), g, g.spec.listeners?.[0] as never, NOW)),
      'api.example.com',
      NOW,
    );
    expect(j.problem).toBeUndefined();
    expect(j.unchecked).toMatch(/cannot get resource "secrets" in API group "" in the namespace "istio-ingress"/);
  });
  it('a Secret read from manifests keeps no labels or annotations, and its data is not enumerable (never serialised)', async () => {
    const s = {
      ...tls('t'),
      metadata: {
        name: 't',
        namespace: 'istio-ingress',
        annotations: { 'kubectl.kubernetes.io/last-applied-configuration': 'x' },
      },
    };
    const got = await new ManifestCluster([s] as K8sObject[]).secret('istio-ingress', 't');
    expect(JSON.stringify(got)).toBe(
      '{"apiVersion":"v1","kind":"Secret","metadata":{"name":"t","namespace":"istio-ingress"},"type":"kubernetes.io/tls"}',
    );
    expect(got?.data?.['tls.key']).toBe(b64(pem('example-com', 'key')));
  });
});
