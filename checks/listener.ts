// Layer 3: a Gateway listener accepts the hostname, and the Gateway is Accepted and Programmed.
// Judge of the path's listener stage (src/gatewayapi/path.ts resolveListener, health.ts gatewayHealth).

import type { Gateway, GatewayClass, GatewayListener, Route } from '../src/cluster/objects.js';
import { describe, nsName } from '../src/cluster/objects.js';
import { about, emit, pass, type Draft } from '../src/findings.js';
import { applyFix, command, jsonPatch, manual, ptr, refOf, uniqueName } from '../src/fix/build.js';
import type { CertJudgement } from '../src/gatewayapi/certs.js';
import { secretGrantObject } from '../src/gatewayapi/grants.js';
import type { Fix } from '../src/fix/fix.js';
import { kindAllowed } from '../src/gatewayapi/attachment.js';
import { hostMatches } from '../src/gatewayapi/hostnames.js';
import { describeListener, isHttpListener } from '../src/gatewayapi/listeners.js';
import type { GatewayChoice, ListenerStage } from '../src/gatewayapi/path.js';
import { ISTIO_CONTROLLER } from '../src/gatewayapi/status.js';
import { layerMeta } from '../src/registry.js';
import { clusterLayer, type JudgeInput } from '../src/layer.js';
import type { Evidence, Facts, ListenerFact } from '../src/types.js';

const GATEWAYS = 'gateways.gateway.networking.k8s.io';

/**
 * A JSON patch that adds a listener for exactly `host`, copied from a listener that can carry an HTTPRoute (HTTP or
 * HTTPS, allowedRoutes.kinds admitting HTTPRoute): same port, protocol, tls and allowedRoutes, so it joins the
 * existing port without a conflict and admits the same namespaces. Appending never changes existing listeners.
 */
function listenerFix(gw: Gateway, host: string, port?: number): Fix {
  const listeners = gw.spec.listeners ?? [];
  // On the port the proxy forwards to (--gateway NS/NAME:PORT), copy a listener of that port when there is one.
  const onPort = listeners.filter((l) => port === undefined || l.port === port);
  const model =
    [...onPort, ...listeners].find((l) => l.protocol === 'HTTP' && kindAllowed(l)) ??
    [...onPort, ...listeners].find((l) => l.protocol === 'HTTPS' && kindAllowed(l) && l.tls);
  const hosts = listeners.map((l) => l.hostname ?? '*').join(', ');
  if (!model) {
    return manual(
      `${describe(gw)} has no listener that can carry an HTTPRoute (protocol HTTP/HTTPS and allowedRoutes.kinds admitting HTTPRoute): add one for ${host} on the port your gateway Service exposes`,
    );
  }
  const name = uniqueName(
    `${model.protocol.toLowerCase()}-${host.replace(/\./g, '-')}`,
    listeners.map((l) => l.name),
  );
  const value: Record<string, unknown> = { name, hostname: host, port: port ?? model.port, protocol: model.protocol };
  if (model.tls) value['tls'] = model.tls;
  if (model.allowedRoutes) value['allowedRoutes'] = model.allowedRoutes;
  return jsonPatch(
    gw,
    [{ op: 'add', path: ptr('spec', 'listeners', '-'), value }],
    `adds listener "${name}" for ${host} to ${describe(gw)} (a copy of listener "${model.name}", port ${port ?? model.port}/${model.protocol}${port !== undefined && port !== model.port ? `, on port ${port} that the proxy forwards to; Istio adds the port to the gateway Service` : ''}); or widen a listener hostname (listeners have ${hosts}; a wildcard "*.d" matches one or more labels under d, never d itself)${model.tls ? `; the copied certificate must cover ${host}` : ''}`,
  );
}

/**
 * A Gateway with no listener for HTTPRoutes: append a plain HTTP listener for the host (port 80, what a
 * TLS-terminating proxy forwards to), admitting the route's namespace and the Gateway's own; never a copy of a TLS/TCP
 * listener. Istio's automated deployment adds the port to the gateway Service.
 */
function httpListenerFix(gw: Gateway, host: string, route: Route | null): Fix {
  const listeners = gw.spec.listeners ?? [];
  const gwNs = gw.metadata.namespace ?? 'default';
  const routeNs = route?.metadata.namespace ?? gwNs;
  if (listeners.some((l) => l.port === 80 && !isHttpListener(l))) {
    return manual(
      `add an HTTP listener for ${host} to ${describe(gw)} on a free port (port 80 is taken by a ${listeners.find((l) => l.port === 80)?.protocol} listener), and point the proxy at its NodePort`,
    );
  }
  const name = uniqueName(
    `http-${host.replace(/\./g, '-')}`,
    listeners.map((l) => l.name),
  );
  const namespaces =
    routeNs === gwNs
      ? { from: 'Same' }
      : {
          from: 'Selector',
          selector: {
            matchExpressions: [{ key: 'kubernetes.io/metadata.name', operator: 'In', values: [gwNs, routeNs] }],
          },
        };
  return jsonPatch(
    gw,
    [
      {
        op: 'add',
        path: ptr('spec', 'listeners', '-'),
        value: { name, hostname: host, port: 80, protocol: 'HTTP', allowedRoutes: { namespaces } },
      },
    ],
    `appends an HTTP listener "${name}" (port 80, hostname ${host}) to ${describe(gw)} for HTTPRoutes from ${routeNs === gwNs ? gwNs : `${gwNs} and ${routeNs}`}; the existing listeners stay as they are`,
  );
}

/** Point the Gateway at a GatewayClass that exists and that Istio owns (guarded: only if the class name is unchanged). */
function classFix(gw: Gateway, classes: GatewayClass[]): Fix {
  const istio = classes.filter((c) => c.spec?.controllerName === ISTIO_CONTROLLER).map((c) => c.metadata.name);
  if (istio.length === 0) {
    return manual(
      `no GatewayClass with controllerName ${ISTIO_CONTROLLER} exists: install Istio with Gateway API support (it creates class "istio"), then set spec.gatewayClassName of ${describe(gw)}`,
    );
  }
  const choice = istio.includes('istio') ? ['istio', ...istio.filter((n) => n !== 'istio')] : istio;
  return jsonPatch(
    gw,
    [
      { op: 'test', path: '/spec/gatewayClassName', value: gw.spec.gatewayClassName },
      { op: 'replace', path: '/spec/gatewayClassName', value: choice[0] },
    ],
    `sets spec.gatewayClassName of ${describe(gw)} to ${choice[0]}, a class Istio's controller owns (Istio's gateway controller reconciles only Gateways of its classes)`,
    [{ field: '/spec/gatewayClassName', about: 'GatewayClass owned by Istio', candidates: choice }],
  );
}

/**
 * The fix for a listener certificate. A Secret in another namespace without a grant: the exact ReferenceGrant (in the
 * Secret's namespace, from Gateway in the Gateway's namespace, to that Secret by name; a name no grant there has; the
 * served version). istiod judges it at the listener (not programmed), so the finding is the listener's, but the
 * object to create is the grant. Anything about the certificate itself (missing Secret, wrong keys, expired, another
 * host) needs key material gwdoctor does not have and must never print: a manual fix naming the Secret.
 */
function certificateFix(gw: Gateway, cert: CertJudgement | undefined): Fix | null {
  const p = cert?.problem;
  if (!cert || !p) return null;
  const gwNs = gw.metadata.namespace ?? 'default';
  const idx = (gw.spec.listeners ?? []).indexOf(cert.listener);
  const at = `spec.listeners[${idx}].tls.certificateRefs[${p.ref.index}]`;
  if (p.code === 'ReferenceGrantMissing') {
    const taken = (cert.grants.get(p.ref.namespace) ?? []).map((g) => g.metadata.name);
    const name = uniqueName(`allow-${gwNs}-gateways-to-${p.ref.name}`, taken);
    const apiVersion = cert.grantApiVersion || 'gateway.networking.k8s.io/v1beta1';
    return applyFix(
      secretGrantObject(gwNs, p.ref.namespace, [p.ref.name], apiVersion, name),
      `creates ReferenceGrant ${p.ref.namespace}/${name} (a new name) in the Secret's namespace, letting Gateways in ${gwNs} use Secret ${p.ref.name} (only that Secret); or move the Secret into ${gwNs}`,
    );
  }
  const secret = `Secret ${p.ref.namespace}/${p.ref.name}`;
  switch (p.state) {
    case 'unsupported':
      return manual(
        `${at} of ${describe(gw)} must name a core Secret (group "", kind Secret) holding tls.crt and tls.key: Istio supports no other kind`,
      );
    case 'missing':
      return manual(
        `create ${secret} of type kubernetes.io/tls (kubectl -n ${p.ref.namespace} create secret tls ${p.ref.name} --cert=fullchain.pem --key=privkey.pem, or a cert-manager Certificate with secretName ${p.ref.name}), or point ${at} of ${describe(gw)} at the Secret that exists`,
      );
    case 'expired':
    case 'not-yet-valid':
    case 'other-host':
      return manual(
        `renew or re-issue the certificate in ${secret} so that it covers ${cert.host} and is valid now (cert-manager: cmctl renew, or fix the Certificate's dnsNames); gwdoctor does not print Secret data`,
      );
    default:
      return manual(
        `replace ${secret} with a kubernetes.io/tls Secret whose tls.crt (PEM certificate chain, leaf first) matches its tls.key (PEM private key): kubectl -n ${p.ref.namespace} create secret tls ${p.ref.name} --cert=fullchain.pem --key=privkey.pem --dry-run=client -o yaml | kubectl apply -f -`,
      );
  }
}

function problemFinding(check: { id: 'listener'; title: string }, c: GatewayChoice, classes: GatewayClass[]): Draft {
  const p = c.health.problem;
  const gw = c.gw;
  const ns = gw.metadata.namespace ?? 'default';
  if (!p) throw new Error('unhealthy gateway without a problem');
  const evidence = [...c.health.evidence, ...(p.extraEvidence ?? [])];
  let fix: Fix | null = null;
  switch (p.remedy) {
    case 'describe':
      fix = command(
        ['kubectl', '-n', ns, 'describe', GATEWAYS, gw.metadata.name],
        "read the controller's message and fix the Gateway spec it names",
      );
      break;
    case 'gateway-pods':
      fix = command(
        [
          'kubectl',
          '-n',
          ns,
          'get',
          'pods,services',
          '-l',
          `gateway.networking.k8s.io/gateway-name=${gw.metadata.name}`,
        ],
        "look at the gateway Deployment's pods and Service that Istio generated for this Gateway",
      );
      break;
    case 'listener-status':
      fix = command(
        ['kubectl', '-n', ns, 'get', GATEWAYS, gw.metadata.name, '-o', 'yaml'],
        'read status.listeners for this listener and fix what its conditions name',
      );
      break;
    case 'set-class':
      fix = classFix(gw, classes);
      break;
    case 'certificate':
      fix = certificateFix(gw, p.cert);
      break;
    case 'https-tls':
      fix = manual(
        `add spec.listeners[${(gw.spec.listeners ?? []).indexOf(p.listener as GatewayListener)}].tls (mode: Terminate, certificateRefs naming a kubernetes.io/tls Secret) to ${describe(gw)}, or use protocol: HTTP behind the TLS proxy`,
      );
      break;
    case 'none':
      fix = null;
  }
  const x = { evidence, fix };
  switch (p.code) {
    case 'GatewayNotAccepted':
      return emit(check, p.code, p.summary, { ...x, cause: p.cause });
    case 'ListenerCertificateRefInvalid':
      return emit(check, p.code, p.summary, { ...x, cause: p.cause });
    default:
      return emit(check, p.code, p.summary, x);
  }
}

/**
 * Istio matches listener protocols case-sensitively: "http" or "Https" is Accepted=False/UnsupportedProtocol ('protocol
 * "http" is unsupported. hint: "HTTP" (uppercase) may be supported'), and when no listener is valid the Gateway is
 * Accepted=False/ListenersNotValid (istio pilot/pkg/config/kube/gateway/conversion.go listenerProtocolToIstio and
 * the Gateway conditions in convertGateways). The CRD admits such a protocol, so only Istio rejects it.
 */
const ISTIO_LISTENER_PROTOCOLS = new Set(['HTTP', 'HTTPS', 'TLS', 'TCP']);
function misspelledHttpListener(check: { id: 'listener'; title: string }, gw: Gateway, host: string): Draft | null {
  const listeners = gw.spec.listeners ?? [];
  const i = listeners.findIndex((l) => ['HTTP', 'HTTPS'].includes(l.protocol.toUpperCase()) && !isHttpListener(l));
  const l = listeners[i];
  if (!l) return null;
  const upper = l.protocol.toUpperCase();
  const noneValid = listeners.every((x) => !ISTIO_LISTENER_PROTOCOLS.has(x.protocol));
  const summary = `${describe(gw)} ${describeListener(l)} has protocol "${l.protocol}": Istio only knows "${upper}" (protocol names are case-sensitive), so the listener is Accepted=False/UnsupportedProtocol${noneValid ? ' and, with no valid listener, the Gateway is Accepted=False/ListenersNotValid' : ''}; ${host} is not served`;
  const x = {
    evidence: [
      about(
        gw,
        `protocol "${l.protocol}" is unsupported. hint: "${upper}" (uppercase) may be supported`,
        ` ${describeListener(l)}`,
      ),
    ],
    fix: jsonPatch(
      gw,
      [
        { op: 'test', path: ptr('spec', 'listeners', i, 'name'), value: l.name },
        { op: 'test', path: ptr('spec', 'listeners', i, 'protocol'), value: l.protocol },
        { op: 'replace', path: ptr('spec', 'listeners', i, 'protocol'), value: upper },
      ],
      `spells the protocol of listener "${l.name}" of ${describe(gw)} as ${upper}`,
    ),
  };
  return noneValid
    ? emit(check, 'GatewayNotAccepted', summary, { ...x, cause: 'rejected' })
    : emit(check, 'ListenerNotReady', summary, x);
}

export function judgeListener(this: { id: 'listener'; title: string }, s: ListenerStage, input: JudgeInput): Draft {
  const host = input.target.host;
  switch (s.kind) {
    case 'filter-missing':
      return emit(this, 'GatewayNotFound', `Gateway ${s.filter.namespace}/${s.filter.name} does not exist`, {
        evidence: s.all.map((g) => about(g, `class ${g.spec.gatewayClassName}`)),
        fix: command(['kubectl', 'get', GATEWAYS, '-A'], 'pick an existing Gateway for --gateway, or create this one'),
      });
    case 'no-http-gateway':
      return emit(
        this,
        'GatewayNotFound',
        `no Gateway with an HTTP or HTTPS listener exists${s.parents.length ? ` (routes for ${host} name ${s.parents.join(', ')})` : ''}`,
        {
          evidence: s.all.map((g) => about(g, `class ${g.spec.gatewayClassName}, no HTTP/HTTPS listener`)),
          fix: command(
            ['kubectl', 'get', GATEWAYS, '-A'],
            'create the Gateway the routes name (see the seed setup), or check that gwdoctor reads the right cluster/context',
          ),
        },
      );
    case 'no-listener':
      return emit(
        this,
        'ListenerHostnameMismatch',
        `no listener of ${s.considered.map(describe).join(', ')}${s.port ? ` on port ${s.port.port}` : ''} accepts ${host}${s.port ? ' (the port given with --gateway)' : ''}`,
        {
          evidence: [
            ...s.considered.flatMap((g) =>
              (g.spec.listeners ?? []).map((l) =>
                about(
                  g,
                  s.port && l.port !== s.port.port && isHttpListener(l) && hostMatches(l.hostname, host)
                    ? `${describeListener(l)} accepts ${host}, but on port ${l.port}, not ${s.port.port}`
                    : `${describeListener(l)} does not accept ${host}`,
                ),
              ),
            ),
            ...(s.port?.via ? [{ ref: `--gateway port ${s.port.requested}`, detail: s.port.via }] : []),
          ],
          fix: listenerFix(s.addTo, host, s.port?.port),
        },
      );
    case 'unhealthy':
      return problemFinding(this, s.choice, s.classes);
    case 'no-http-listener': {
      const gw = s.gateway;
      const misspelled = misspelledHttpListener(this, gw, host);
      if (misspelled) return misspelled;
      const have =
        (gw.spec.listeners ?? [])
          .map(
            (l) =>
              `${l.name} (${l.port}/${l.protocol}${l.allowedRoutes?.kinds?.length ? `, kinds ${l.allowedRoutes.kinds.map((k) => k.kind).join('/')}` : ''})`,
          )
          .join(', ') || 'none';
      return emit(
        this,
        'RouteNotAccepted',
        `${s.route ? `${describe(s.route)} names ${describe(gw)}, but` : `${describe(gw)}:`} no listener of ${describe(gw)} can carry an HTTPRoute (listeners: ${have}): the route is Accepted=False/NotAllowedByListeners`,
        {
          evidence: (gw.spec.listeners ?? []).map((l) =>
            about(
              gw,
              isHttpListener(l)
                ? 'allowedRoutes.kinds leaves HTTPRoute out'
                : `protocol ${l.protocol} carries ${l.protocol === 'TLS' ? 'TLSRoute' : 'TCPRoute/UDPRoute'}, never HTTPRoute`,
              ` ${describeListener(l)}`,
            ),
          ),
          fix: httpListenerFix(gw, host, s.route),
        },
      );
    }
    case 'ok': {
      const evidence: Evidence[] = s.healthy.flatMap((h) => h.health.evidence);
      if (input.target.trailingDot) {
        // Neither the spec nor Istio strips a trailing dot from Host: Envoy matches no virtual host (gateway-api-rules
        // §3.2, inference from Istio not setting strip_trailing_host_dot).
        evidence.push({
          ref: input.target.input,
          detail: `checked as ${host}; clients that send "Host: ${host}." get 404 from Envoy`,
        });
      }
      const names = s.candidates.map((c) => `${nsName(c.gateway)} ${describeListener(c.listener)}`).join(', ');
      if (s.healthy.length > 1) {
        evidence.push({
          ref: 'gwdoctor',
          detail: `${s.healthy.length} Gateways accept ${host}; pass --gateway NS/NAME to check only the one your proxy forwards to`,
        });
      }
      if (s.healthy.some((h) => h.health.stale)) {
        return emit(
          this,
          'GatewayStatusStale',
          `${names} accepts ${host}, but the Gateway status is stale (spec changed since the controller last wrote it)`,
          { evidence },
        );
      }
      const expiring =
        s.healthy.find((h) => h.health.warning?.code === 'StatusDisagrees')?.health.warning ??
        s.healthy.find((h) => h.health.warning)?.health.warning;
      if (expiring) return emit(this, expiring.code, `${names} accepts ${host}; ${expiring.summary}`, { evidence });
      const notes = s.healthy.flatMap((h) => h.health.notes ?? []);
      return pass(this, `${names} accepts ${host}${notes.length ? ` (${notes.join('; ')})` : ''}`, { evidence });
    }
  }
}

/** The listeners that accept the host (ok), or the chosen Gateway's that do (unhealthy). */
export function listenerFacts(s: ListenerStage): Facts {
  const fact = (gw: Gateway, l: GatewayListener): ListenerFact => ({
    gateway: refOf(gw),
    listener: l.name,
    port: l.port,
    protocol: l.protocol,
    hostname: l.hostname ?? null,
  });
  if (s.kind === 'ok') return { listeners: s.candidates.map((c) => fact(c.gateway, c.listener)) };
  if (s.kind === 'unhealthy') return { listeners: s.choice.listeners.map((l) => fact(s.choice.gw, l)) };
  return {};
}

export const listener = clusterLayer(layerMeta('listener'), (p) => p.listener(), judgeListener, listenerFacts);
