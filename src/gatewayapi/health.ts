// Is a Gateway usable for a host: what its controller wrote (when fresh), or what Istio will do with its spec.

import { describeListener } from './listeners.js';
import { describe } from '../cluster/objects.js';
import type { Condition, Gateway, GatewayClass, GatewayListener } from '../cluster/objects.js';
import type { Evidence } from '../types.js';
import { about } from '../evidence.js';
import type { CertJudgement, CertProblemCode } from './certs.js';
import type { CauseOf } from '../registry.js';
import { condition, controllerConditions, describeCondition, freshness, ISTIO_CONTROLLERS } from './status.js';
import { assumedBuiltin } from './classes.js';

/** What is wrong, and which kind of remedy the listener layer prints for it. */
export type GatewayProblem = ProblemCode & {
  summary: string;
  remedy: 'describe' | 'gateway-pods' | 'listener-status' | 'set-class' | 'https-tls' | 'certificate' | 'none';
  listener?: GatewayListener;
  /** remedy 'certificate': the listener's certificate judgement (certs.ts), for the fix. */
  cert?: CertJudgement;
  extraEvidence?: Evidence[];
};

/** The code, with the cause where the registry's retryability depends on it (src/registry.ts). */
type ProblemCode =
  | { code: 'GatewayNotAccepted'; cause: CauseOf<'GatewayNotAccepted'> }
  | { code: 'ListenerCertificateRefInvalid'; cause: CauseOf<'ListenerCertificateRefInvalid'> }
  | {
      code:
        | 'GatewayNotProgrammed'
        | 'ListenerNotReady'
        | 'GatewayClassNotIstio'
        | Exclude<CertProblemCode, 'ListenerCertificateRefInvalid'>;
      cause?: never;
    };

export interface Health {
  ok: boolean;
  stale: boolean;
  evidence: Evidence[];
  problem?: GatewayProblem;
  /** A listener certificate that works but expires soon (certs.ts). */
  warning?: { code: 'ListenerCertificateExpiring' | 'StatusDisagrees'; summary: string };
  /** What could not be checked, said in the pass summary (e.g. a certificate without permission to read Secrets). */
  notes?: string[];
}

/** The gateway's own Service (found by the gateway-name label) and how many endpoints its EndpointSlices list. */
export interface GatewayEndpoints {
  service: string;
  total: number;
}

/** What the Gateway's infrastructure.parametersRef points at: 'unsupported' kind, 'missing' ConfigMap, or fine/unknown. */
export type ParametersState = 'none' | 'ok' | 'unknown' | 'missing' | 'unsupported';

/** Istio's Programmed=False/AddressNotAssigned "no instances found for hostname" (gatewaycommon/context.go). */
export function noInstances(conds: Condition[]): boolean {
  const p = condition(conds, 'Programmed');
  return p?.status === 'False' && /no instances found/.test(p.message ?? '');
}

export function gatewayHealth(
  gw: Gateway,
  listeners: GatewayListener[],
  classes: GatewayClass[],
  endpoints: GatewayEndpoints | null = null,
  params: ParametersState = 'none',
  certs: CertJudgement[] = [],
): Health {
  const ref = describe(gw);
  const evidence: Evidence[] = [];
  const conds = controllerConditions(gw.status?.conditions);
  const fresh = freshness(conds, gw.metadata.generation);
  const cls = classes.find((c) => c.metadata.name === gw.spec.gatewayClassName);
  const classRef = `GatewayClass ${gw.spec.gatewayClassName}`;
  const bad = (problem: GatewayProblem): Health => ({ ok: false, stale: false, evidence, problem });
  if (cls && assumedBuiltin(cls)) {
    evidence.push({
      ref: classRef,
      detail: `not in the manifests: created by Istio (istiod creates its built-in class ${cls.metadata.name}, controllerName ${cls.spec?.controllerName ?? ''}, when it starts)`,
    });
  }

  // A class owned by another controller: Istio never programs this Gateway, whatever its status says
  // (istio pilot/pkg/config/kube/gateway: GatewayClasses are filtered by controllerName before any Gateway is converted).
  if (cls?.spec?.controllerName && !ISTIO_CONTROLLERS.has(cls.spec.controllerName)) {
    evidence.push(about(cls, `controllerName ${cls.spec.controllerName}`));
    return bad({
      code: 'GatewayClassNotIstio',
      summary: `${ref} uses ${classRef}, owned by controller ${cls.spec.controllerName}, not Istio: Istio never programs it`,
      remedy: 'set-class',
    });
  }

  // The listener's certificates, read from the Secrets themselves: the same verdict with and without status (istiod
  // decides from the same Secrets; its status only says so later, and a Secret change does not bump the Gateway's
  // generation, so "fresh" status can be older than the Secret). istiod's conditions are shown beside it.
  const certProblem = certs.find((c) => c.problem);
  if (certProblem?.problem) {
    const p = certProblem.problem;
    if (fresh === 'fresh') {
      for (const c of conds) evidence.push(about(gw, describeCondition(c)));
      const ls = gw.status?.listeners?.find((x) => x.name === certProblem.listener.name);
      for (const c of controllerConditions(ls?.conditions))
        evidence.push(about(gw, describeCondition(c), ` ${describeListener(certProblem.listener)}`));
    } else {
      evidence.push(
        about(
          gw,
          fresh === 'stale'
            ? 'status is stale: predicted from the spec and the Secret'
            : 'no controller has written status: predicted from the spec and the Secret',
        ),
      );
    }
    evidence.push(...certProblem.evidence);
    // A missing Secret may be about to be written (cert-manager issuing, an external-secrets sync): --wait re-checks it.
    const code: ProblemCode =
      p.code === 'ListenerCertificateRefInvalid'
        ? { code: p.code, cause: p.state === 'missing' ? 'secret-missing' : 'rejected' }
        : { code: p.code };
    return bad({
      ...code,
      summary: p.summary,
      remedy: 'certificate',
      listener: certProblem.listener,
      cert: certProblem,
    });
  }
  const certEvidence = certs.flatMap((c) => c.evidence);
  let warning: Health['warning'] = certs.find((c) => c.warning)?.warning;
  const notes = certs
    .filter((c) => c.unchecked)
    .map((c) => `certificate of listener "${c.listener.name}" not checked: ${c.unchecked}`);

  if (fresh === 'fresh') {
    for (const c of conds) evidence.push(about(gw, describeCondition(c)));
    evidence.push(...certEvidence);
    // Status that blames a certificate reference gwdoctor read and found valid and permitted: RefNotPermitted while a
    // ReferenceGrant permits the Secret (written before the grant existed; a grant does not bump the Gateway's
    // generation). The same rule as the grant layer's: the grant semantics are certain, so trust the spec and warn;
    // --wait retries. (InvalidCertificateRef over a key pair gwdoctor parsed is left to the status: Go's crypto/tls is
    // istiod's judge of a key pair, not Node's.)
    const accepted0 = condition(conds, 'Accepted');
    const disagree = certs
      .filter((c) => c.verified)
      .map((c) => ({
        c,
        rr: condition(
          controllerConditions(gw.status?.listeners?.find((x) => x.name === c.listener.name)?.conditions),
          'ResolvedRefs',
        ),
      }))
      .find((x) => x.rr?.status === 'False' && x.rr.reason === 'RefNotPermitted');
    if (disagree && (!accepted0 || accepted0.status === 'True' || accepted0.reason === 'ListenersNotValid')) {
      const summary = `the controller reports ${describeListener(disagree.c.listener)} ResolvedRefs=False/RefNotPermitted, but ${disagree.c.verified}; trusting the spec (status may lag)`;
      return { ok: true, stale: false, evidence, warning: { code: 'StatusDisagrees', summary } };
    }
    const accepted = condition(conds, 'Accepted');
    if (accepted && accepted.status !== 'True') {
      return bad({
        code: 'GatewayNotAccepted',
        summary: `${ref} is not accepted: ${accepted.reason ?? 'no reason'}${accepted.message ? ` (${accepted.message})` : ''}`,
        cause: accepted.status === 'Unknown' ? 'pending' : 'rejected',
        remedy: 'describe',
      });
    }
    const programmed = condition(conds, 'Programmed');
    // "no instances found" although the gateway Service has endpoints: istiod recomputes a Gateway's addresses only on
    // a push that changes some Service (pilot/pkg/model/push_context.go: initKubernetesGateways runs only when
    // servicesChanged), and endpoints that come back for a known service are an incremental push
    // (pilot/pkg/model/endpointshards.go UpdateServiceEndpoints), so after a gateway Pod is replaced the status can
    // stay False while the new Pod serves (reproduced on real istiod: test/integration/istiod-resync.test.ts). The
    // endpoints are read now, the status is not: trust the endpoints and say so.
    // The listeners' own status is still judged below.
    const staleNoInstances = noInstances(conds) && endpoints !== null && endpoints.total > 0;
    if (staleNoInstances) {
      const summary = `the controller reports ${ref} Programmed=False/${programmed?.reason ?? ''} "no instances found", but its Service ${gw.metadata.namespace ?? 'default'}/${endpoints.service} has ${endpoints.total} endpoint(s); trusting the endpoints (istiod recomputes this condition only when some Service changes)`;
      warning = { code: 'StatusDisagrees', summary };
    } else if (programmed && programmed.status !== 'True') {
      const why = noInstances(conds)
        ? 'the gateway pods are not ready (Istio found no endpoints for the gateway Service)'
        : 'the controller could not program the gateway';
      return bad({
        code: 'GatewayNotProgrammed',
        summary: `${ref} is not programmed: ${programmed.reason ?? 'no reason'}: ${why}`,
        remedy: 'gateway-pods',
      });
    }
    for (const l of listeners) {
      const ls = gw.status?.listeners?.find((s) => s.name === l.name);
      const lconds = controllerConditions(ls?.conditions);
      if (freshness(lconds, gw.metadata.generation) !== 'fresh') continue;
      const off = lconds.find(
        (c) =>
          (c.type === 'Conflicted' && c.status === 'True') ||
          (c.type !== 'Conflicted' && c.type !== 'OverlappingTLSConfig' && c.status === 'False'),
      );
      evidence.push(about(gw, `attachedRoutes=${ls?.attachedRoutes ?? 0}`, ` ${describeListener(l)}`));
      if (off) {
        return bad({
          code: 'ListenerNotReady',
          summary: `${ref} ${describeListener(l)} is not usable: ${describeCondition(off)}`,
          remedy: 'listener-status',
          listener: l,
        });
      }
    }
  } else {
    evidence.push(
      about(
        gw,
        fresh === 'stale'
          ? 'status is stale (observedGeneration < metadata.generation): predicted from the spec'
          : 'no controller has written status: predicted from the spec',
      ),
    );
    evidence.push(...certEvidence);
    if (!cls) {
      return bad({
        code: 'GatewayNotAccepted',
        summary: `${ref} names ${classRef}, which does not exist: no controller will accept it`,
        cause: 'rejected',
        remedy: 'set-class',
      });
    }
    // Istio writes Programmed=False/AddressNotAssigned "no instances found" while the gateway Service has no endpoint
    // at all (a not-ready one counts: istiod reports Programmed=True for a crash-looping gateway Pod), seen on real
    // istiod (test/controlplane/README.md; istio gateway/conditions.go, the service registry's instances).
    if (endpoints && endpoints.total === 0) {
      return bad({
        code: 'GatewayNotProgrammed',
        summary: `${ref} will not be programmed: its Service ${gw.metadata.namespace ?? 'default'}/${endpoints.service} has no endpoint (no gateway Pod has an address), so Istio reports Programmed=False/AddressNotAssigned "no instances found"`,
        remedy: 'gateway-pods',
      });
    }
    // istio pilot/pkg/config/kube/gateway/gateway_collection.go validateParametersRef: a parametersRef that is not a
    // core ConfigMap, or a ConfigMap that does not exist, is Accepted=False/InvalidParameters and nothing is deployed.
    const pref = gw.spec.infrastructure?.parametersRef;
    if (pref && (params === 'missing' || params === 'unsupported')) {
      return bad({
        code: 'GatewayNotAccepted',
        summary:
          params === 'missing'
            ? `${ref} names parametersRef ConfigMap ${gw.metadata.namespace ?? 'default'}/${pref.name}, which does not exist: Istio reports Accepted=False/InvalidParameters and deploys nothing`
            : `${ref} names a parametersRef of kind ${pref.group ?? ''}/${pref.kind ?? ''}: Istio supports only a core ConfigMap (Accepted=False/InvalidParameters)`,
        cause: 'rejected',
        remedy: 'none',
      });
    }
    if (pref && params === 'unknown') {
      evidence.push(
        about(
          gw,
          `parametersRef ConfigMap ${pref.name}: not checked (not among what gwdoctor read; Istio rejects the Gateway if it does not exist)`,
        ),
      );
    }
    const clsAccepted = condition(controllerConditions(cls.status?.conditions), 'Accepted');
    if (clsAccepted && clsAccepted.status === 'False') {
      return bad({
        code: 'GatewayNotAccepted',
        summary: `${classRef} is not accepted (${clsAccepted.reason ?? ''}), so ${ref} will not be`,
        cause: 'rejected',
        remedy: 'none',
        extraEvidence: [about(cls, describeCondition(clsAccepted))],
      });
    }
  }
  // The same with or without status: Istio skips an HTTPS listener that has no tls section
  // (istio pilot/pkg/config/kube/gateway/conversion.go buildListener: "protocol is HTTPS but no TLS section is
  // defined, skipping listener creation"), so the host has no server on that port.
  for (const l of listeners) {
    if (l.protocol === 'HTTPS' && !l.tls) {
      return bad({
        code: 'ListenerNotReady',
        summary: `${ref} ${describeListener(l)} is HTTPS without a tls section: Istio skips it`,
        remedy: 'https-tls',
        listener: l,
      });
    }
  }
  return {
    ok: true,
    stale: fresh === 'stale',
    evidence,
    ...(warning ? { warning } : {}),
    ...(notes.length ? { notes } : {}),
  };
}
