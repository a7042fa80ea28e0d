// Layer 6: the backend Service exists, has the backendRef's port, and has ready endpoints for it.

import type { EndpointSlice, Pod, Route, Service, ServicePort } from '../src/cluster/objects.js';
import type { Fix } from '../src/fix/fix.js';
import {
  selectorFor,
  selectorText,
  selectsExactly,
  servesPort,
  sharedLabels,
  workloads,
} from '../src/fix/workloads.js';
import { describe } from '../src/cluster/objects.js';
import { about, emit, pass, type Draft } from '../src/findings.js';
import { serviceNotFound } from '../src/backend-findings.js';
import { command, jsonPatch, manual, ptr } from '../src/fix/build.js';
import {
  condition,
  controllerConditions,
  describeCondition,
  freshness,
  routeParentStatus,
} from '../src/gatewayapi/status.js';
import type { Evidence, Facts } from '../src/types.js';
import type { BackendInfo, EndpointsStage, RouteStage, WaypointInfo } from '../src/gatewayapi/path.js';
import type { HostnameResolution } from '../src/gatewayapi/service-entry.js';
import { ISTIO_BACKEND_KINDS } from '../src/gatewayapi/grants.js';
import { layerMeta } from '../src/registry.js';
import { clusterLayer } from '../src/layer.js';

/** EndpointSlice `conditions.ready`: nil means true (k8s.io/api discovery/v1 EndpointConditions). */
function isReady(e: NonNullable<EndpointSlice['endpoints']>[number]): boolean {
  return e.conditions?.ready !== false;
}

/**
 * Ready addresses for one Service port. Slices name their ports after the Service port name ("" when unnamed) and
 * carry the resolved targetPort as the number: match by name, never by number (discovery/v1 EndpointPort).
 */
export function readyEndpoints(slices: EndpointSlice[], svcPort: ServicePort): { ready: string[]; notReady: string[] } {
  const ready: string[] = [];
  const notReady: string[] = [];
  const want = svcPort.name ?? '';
  for (const s of slices) {
    if (s.addressType === 'FQDN') continue; // Istio ignores FQDN slices
    const ports = s.ports ?? [];
    if (ports.length > 0 && !ports.some((p) => (p.name ?? '') === want)) continue;
    for (const e of s.endpoints ?? []) {
      const name = e.targetRef?.name ? `${e.targetRef.name} (${e.addresses.join(', ')})` : e.addresses.join(', ');
      (isReady(e) ? ready : notReady).push(name);
    }
  }
  return { ready, notReady };
}

/** Why a pod is not ready, in the words kubectl uses. */
export function podProblem(pod: Pod, targetPort: number | string | undefined): string {
  const parts: string[] = [];
  const phase = pod.status?.phase ?? 'Unknown';
  if (phase !== 'Running') parts.push(`phase ${phase}`);
  if (!pod.spec?.nodeName) parts.push('not scheduled to a node');
  for (const cs of pod.status?.containerStatuses ?? []) {
    const w = cs.state?.waiting;
    const t = cs.state?.terminated;
    if (w?.reason)
      parts.push(`container ${cs.name} waiting: ${w.reason}${w.message ? ` (${w.message.split('\n')[0]})` : ''}`);
    else if (t?.reason) parts.push(`container ${cs.name} terminated: ${t.reason} (exit ${t.exitCode ?? '?'})`);
    else if (cs.ready === false) parts.push(`container ${cs.name} not ready`);
    if ((cs.restartCount ?? 0) > 0) parts.push(`${cs.restartCount} restarts`);
  }
  const ready = condition(pod.status?.conditions ?? [], 'Ready');
  if (ready && ready.status !== 'True') parts.push(describeCondition(ready));
  if (typeof targetPort === 'string') {
    const has = (pod.spec?.containers ?? []).some((c) => (c.ports ?? []).some((p) => p.name === targetPort));
    if (!has) parts.push(`no container port named "${targetPort}" (the Service's targetPort)`);
  }
  if (!pod.status?.podIP) parts.push('no pod IP');
  return parts.length > 0 ? parts.join('; ') : 'Ready';
}

function checkBackend(
  check: { id: 'endpoints'; title: string },
  b: BackendInfo,
  route: Route,
  statusNote: Evidence[],
): Draft {
  const ref = b.ref;
  const routeDesc = describe(route);
  const where = `${routeDesc} ${ref.where}`;
  if (b.hostname) return checkHostname(check, b.hostname, ref, routeDesc, statusNote);
  if (ref.group !== '' || ref.kind !== 'Service') {
    const gk = `${ref.group || 'core'}/${ref.kind}`;
    if (!ISTIO_BACKEND_KINDS.has(`${ref.group}/${ref.kind}`)) {
      return emit(
        check,
        'BackendKindInvalid',
        `${where} points at ${gk} ${ref.name}, a kind Istio does not route to (ResolvedRefs=False/InvalidKind): the gateway answers 500`,
        {
          evidence: statusNote,
          fix: manual(
            `make ${where} reference a Service (group: "", kind: Service, name, port), or a networking.istio.io/Hostname defined by a ServiceEntry: Istio routes only to Service, networking.istio.io/Hostname and InferencePool backendRefs`,
          ),
        },
      );
    }
    return emit(
      check,
      'BackendKindUnsupported',
      `${where} points at ${gk} ${ref.namespace}/${ref.name}: gwdoctor checks only Service backends`,
      {
        evidence: statusNote,
      },
    );
  }
  const svcRef = `Service ${ref.namespace}/${ref.name}`;
  const svc = b.service;
  if (!svc) return serviceNotFound(check, ref, route, b.siblings, b.grants, statusNote, b.nsPods);
  if (svc.spec?.type === 'ExternalName') {
    return emit(
      check,
      'BackendKindUnsupported',
      `${svcRef} is an ExternalName Service (${svc.spec.externalName}): Istio routes it only if a ServiceEntry defines that host`,
      {
        evidence: statusNote,
      },
    );
  }
  const ports = svc.spec?.ports ?? [];
  const portDesc = ports.map((p) => `${p.name ? `${p.name} ` : ''}${p.port}->${p.targetPort ?? p.port}`).join(', ');
  const svcPort = ports.find((p) => p.port === ref.port);
  if (!svcPort) {
    const byTarget = ports.find((p) => p.targetPort === ref.port);
    const suggestion = byTarget ?? (ports.length === 1 ? ports[0] : undefined);
    return emit(
      check,
      'ServicePortMismatch',
      `${where} uses port ${ref.port ?? '(none)'}, but ${svcRef} has ports ${portDesc || '(none)'}${byTarget ? ` (${ref.port} is the targetPort; use the Service port ${byTarget.port})` : ''}`,
      {
        evidence: [...statusNote, about(svc, `spec.ports: ${portDesc || '(none)'}`)],
        fix: suggestion
          ? jsonPatch(
              route,
              [
                { op: 'test', path: ptr(...ref.pointer, 'name'), value: ref.name },
                {
                  op: ref.port === null ? 'add' : 'replace',
                  path: ptr(...ref.pointer, 'port'),
                  value: suggestion.port,
                },
              ],
              `sets the port of backendRef ${ref.where} of ${routeDesc} to the Service port ${suggestion.port} (backendRef.port is the Service port, not the container port)`,
              ports.length > 1
                ? [
                    {
                      field: ptr(...ref.pointer, 'port'),
                      about: `the port of ${svcRef}`,
                      candidates: [suggestion, ...ports.filter((p) => p !== suggestion)].map((p) => String(p.port)),
                    },
                  ]
                : undefined,
            )
          : manual(
              `set the port of backendRef ${ref.where} of ${routeDesc} to one of the ports of ${svcRef}: ${portDesc || '(none: add a port to the Service)'}`,
            ),
      },
    );
  }

  // Ingress traffic through a waypoint reaches the waypoint before any backend Pod: judge it first.
  const wpNotes: Evidence[] = [];
  const wp = b.waypoint ? waypointProblem(check, b.waypoint, svc, wpNotes) : null;
  if (wp) return { ...wp, evidence: [...statusNote, ...wp.evidence] };
  const { slices, pods } = b;
  const { ready, notReady } = readyEndpoints(slices, svcPort);
  const portLabel = `${svcRef}:${svcPort.port}${svcPort.name ? ` (${svcPort.name})` : ''}`;
  if (ready.length > 0) {
    const evidence = [
      ...statusNote,
      ...wpNotes,
      ...ready.slice(0, 5).map((r) => ({ ref: portLabel, detail: `ready: ${r}` })),
    ];
    return pass(
      check,
      `${portLabel} has ${ready.length} ready endpoint${ready.length > 1 ? 's' : ''}${notReady.length ? ` (${notReady.length} not ready)` : ''}${b.waypoint?.binding.ingress && b.waypoint.bound.bound ? `, through waypoint ${b.waypoint.binding.namespace}/${b.waypoint.binding.name}` : ''}`,
      {
        evidence,
      },
    );
  }
  const selector = svc.spec?.selector;
  if (!selector) {
    return emit(
      check,
      'NoReadyEndpoints',
      `${portLabel} has no selector and no ready endpoints in its EndpointSlices: the gateway answers 503 "no healthy upstream"`,
      {
        evidence: statusNote,
        fix: command(
          [
            'kubectl',
            '-n',
            ref.namespace,
            'get',
            'endpointslices',
            '-l',
            `kubernetes.io/service-name=${ref.name}`,
            '-o',
            'yaml',
          ],
          'a Service without a selector needs EndpointSlices written for it (or add a selector)',
        ),
      },
    );
  }
  const selStr = Object.entries(selector)
    .map(([k, v]) => `${k}=${v}`)
    .join(',');
  if (pods === null) {
    if (slices.length === 0) {
      return emit(
        check,
        'EndpointsUnknown',
        `the manifests hold no EndpointSlices or Pods for ${svcRef}: endpoint readiness was not checked`,
        {
          evidence: statusNote,
          fix: command(
            ['kubectl', '-n', ref.namespace, 'get', 'endpointslices', '-l', `kubernetes.io/service-name=${ref.name}`],
            'run against the live cluster (or include EndpointSlices and Pods in --manifests) to check readiness',
          ),
        },
      );
    }
  } else if (pods.length === 0) {
    const evidence = [...statusNote];
    return emit(
      check,
      'NoPodsSelected',
      `${svcRef} selects ${selStr}, but no Pod in ${ref.namespace} has those labels: the gateway answers 503 "no healthy upstream"`,
      {
        evidence,
        fix: selectorFix(svc, selector, svcPort, b.nsPods, evidence),
      },
    );
  }
  const evidence: Evidence[] = [...statusNote];
  for (const n of notReady.slice(0, 5)) evidence.push({ ref: portLabel, detail: `not ready: ${n}` });
  for (const p of (pods ?? []).slice(0, 5)) evidence.push(about(p, podProblem(p, svcPort.targetPort)));
  const first = (pods ?? [])[0];
  return emit(
    check,
    'NoReadyEndpoints',
    `${portLabel} has no ready endpoints${pods ? ` (${pods.length} pod${pods.length === 1 ? '' : 's'} selected, none ready)` : ''}: the gateway answers 503 "no healthy upstream"`,
    {
      evidence,
      fix: first
        ? command(
            ['kubectl', '-n', ref.namespace, 'describe', 'pod', first.metadata.name],
            `find why the pod is not Ready (events, probe failures); then \`kubectl -n ${ref.namespace} logs ${first.metadata.name} --all-containers --previous\` for crash logs`,
          )
        : command(
            ['kubectl', '-n', ref.namespace, 'get', 'pods', '-l', selStr, '-o', 'wide'],
            'find why the selected pods are not Ready',
          ),
    },
  );
}

/**
 * A Service whose selector matches no Pod: when exactly one workload in its namespace serves the Service's targetPort,
 * the fix is the selector that selects exactly that workload's Pods (a JSON patch guarded by a `test` of the current
 * selector; the old selector's keys kept where those Pods have them). The Service already is the route's backend, so
 * this completes it rather than re-pointing anything. Several such workloads: a person chooses (named, no patch).
 */
function selectorFix(
  svc: Service,
  selector: Record<string, string>,
  svcPort: ServicePort,
  nsPods: Pod[] | null,
  evidence: Evidence[],
): Fix {
  const ns = svc.metadata.namespace ?? 'default';
  const selStr = selectorText(selector);
  const look = command(
    ['kubectl', '-n', ns, 'get', 'pods', '--show-labels'],
    `make the Service selector (${selStr}) match the Pods' labels, or deploy the Pods`,
  );
  if (nsPods === null) return look;
  const target = svcPort.targetPort ?? svcPort.port;
  const serving = workloads(nsPods).filter((w) => w.pods.every((p) => servesPort(p, target)));
  for (const w of serving)
    evidence.push({
      ref: w.describe,
      detail: `serves container port ${target}; labels ${selectorText(sharedLabels(w.pods)) || '(none shared)'}`,
    });
  if (serving.length > 1) {
    return command(
      ['kubectl', '-n', ns, 'get', 'pods', '--show-labels'],
      `make the selector of Service ${ns}/${svc.metadata.name} (${selStr}) match the Pods it should serve: ${serving.map((w) => w.describe).join(', ')} each serve port ${target} (gwdoctor does not choose)`,
    );
  }
  const w = serving[0];
  if (!w) return look;
  const shared = sharedLabels(w.pods);
  const kept = Object.fromEntries(
    Object.keys(selector)
      .filter((k) => shared[k] !== undefined)
      .map((k) => [k, shared[k] as string]),
  );
  const next = selectsExactly(kept, w.pods, nsPods) ? kept : selectorFor(w.pods, nsPods);
  if (!next) return look;
  return jsonPatch(
    svc,
    [
      { op: 'test', path: ptr('spec', 'selector'), value: selector },
      { op: 'replace', path: ptr('spec', 'selector'), value: next },
    ],
    `sets the selector of Service ${ns}/${svc.metadata.name} from ${selStr} (no Pod has it) to ${selectorText(next)}, which selects exactly the ${w.pods.length} Pod${w.pods.length === 1 ? '' : 's'} of ${w.describe}, the only workload in ${ns} with container port ${target}`,
  );
}

/**
 * A networking.istio.io/Hostname backendRef (src/gatewayapi/service-entry.ts): the ServiceEntry of the route's
 * namespace that lists the host, the port of the ref's number, and its endpoints (STATIC: spec.endpoints, or the
 * Pods its workloadSelector selects). DNS and NONE resolution are decided by the gateway at request time: not checked.
 */
function checkHostname(
  check: { id: 'endpoints'; title: string },
  h: HostnameResolution,
  ref: BackendInfo['ref'],
  routeDesc: string,
  statusNote: Evidence[],
): Draft {
  const where = `${routeDesc} ${ref.where}`;
  const host = `${ref.name}:${ref.port ?? '(no port)'}`;
  if (h.kind === 'unknown' || h.kind === 'forbidden') {
    return emit(
      check,
      'BackendKindUnsupported',
      `${where} points at networking.istio.io/Hostname ${host}: ${h.kind === 'unknown' ? 'the manifests hold no ServiceEntry' : `ServiceEntries could not be listed (${h.why})`}, so the ServiceEntry that defines it was not checked`,
      { evidence: statusNote },
    );
  }
  if (h.kind === 'service') {
    return emit(
      check,
      'BackendKindUnsupported',
      `${where} points at networking.istio.io/Hostname ${host}, the hostname of ${describe(h.service)}: istiod resolves it like that Service, whose endpoints are not checked for a Hostname backendRef (reference it as kind Service to have them checked)`,
      {
        evidence: [...statusNote, about(h.service, `its cluster-local hostname is ${ref.name}`)],
      },
    );
  }
  if (h.kind === 'missing') {
    const elsewhere = h.elsewhere.map((e) =>
      about(
        e,
        `lists host ${ref.name}, but in namespace ${e.metadata.namespace ?? 'default'} (istiod looks a Hostname backendRef up only among the ServiceEntries of the route's namespace ${h.namespace}), and its exportTo ${JSON.stringify(e.spec?.exportTo ?? [])} hides it from the gateway`,
      ),
    );
    return emit(
      check,
      'ServiceEntryNotFound',
      `${where} points at networking.istio.io/Hostname ${host}, but no ServiceEntry in namespace ${h.namespace} (the route's) lists host ${ref.name}, and none the gateway sees does${h.elsewhere.length ? ` (${h.elsewhere.map(describe).join(', ')} is not exported to it)` : ''}: istiod reports ResolvedRefs=False (BackendNotFound) and the gateway answers 500`,
      {
        evidence: [...statusNote, ...elsewhere],
        fix: manual(
          h.elsewhere.length
            ? `define the ServiceEntry for ${ref.name} in namespace ${h.namespace} (the route's), or move ${routeDesc} to namespace ${h.elsewhere[0]?.metadata.namespace}: a Hostname backendRef takes no namespace and is looked up in the route's own`
            : `create a ServiceEntry in namespace ${h.namespace} whose hosts lists ${ref.name}, with port ${ref.port ?? '(the backendRef needs a port)'} and its endpoints (resolution STATIC with endpoints, or DNS)`,
        ),
      },
    );
  }
  const se = describe(h.entry);
  const ports =
    (h.entry.spec?.ports ?? [])
      .map((p) => `${p.name ? `${p.name} ` : ''}${p.number}${p.protocol ? `/${p.protocol}` : ''}`)
      .join(', ') || '(none)';
  const lines: Evidence[] = [
    ...statusNote,
    about(
      h.entry,
      `hosts ${(h.entry.spec?.hosts ?? []).join(', ')}; ports ${ports}; resolution ${h.resolution}${h.entry.spec?.location ? `; location ${h.entry.spec.location}` : ''}`,
    ),
  ];
  if (!h.port) {
    return emit(
      check,
      'ServicePortMismatch',
      `${where} uses port ${ref.port ?? '(none)'}, but ${se}, which defines ${ref.name}, has ports ${ports}: the gateway has no cluster for that port and answers 500`,
      {
        evidence: lines,
        fix: manual(
          `set the port of backendRef ${ref.where} to one of the ports of ${se} (${ports}), or add port ${ref.port} to it`,
        ),
      },
    );
  }
  if (h.resolution !== 'STATIC') {
    return emit(
      check,
      'BackendKindUnsupported',
      `${where} points at ${se} (host ${host}), whose endpoints the gateway ${h.resolution === 'NONE' ? "takes from the connection's original destination (resolution NONE)" : `resolves by DNS at request time (resolution ${h.resolution})`}: not checked`,
      { evidence: lines },
    );
  }
  const ready = (h.pods ?? []).filter(
    (p) => p.status?.podIP && p.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True'),
  );
  const selector = h.entry.spec?.workloadSelector?.labels;
  const endpoints = [...h.addresses, ...ready.map((p) => `${p.metadata.name} (${p.status?.podIP})`)];
  if (endpoints.length > 0 && h.outside) {
    return emit(
      check,
      'ServiceEntryNotInRouteNamespace',
      `${where} reaches ${host} through ${se} (${endpoints.length} endpoint${endpoints.length === 1 ? '' : 's'}), which the gateway sees, but istiod resolves a Hostname backendRef only among the ServiceEntries of the route's namespace ${h.outside.routeNamespace}: the route reports ResolvedRefs=False (BackendNotFound) while the gateway serves it`,
      {
        evidence: [
          ...lines,
          ...endpoints.slice(0, 5).map((e) => ({ ref: `${se}:${ref.port}`, detail: `endpoint: ${e}` })),
        ],
        fix: manual(
          `define the ServiceEntry for ${ref.name} in namespace ${h.outside.routeNamespace} (the route's), so that the route's status says what the gateway does; until then anything that reads the route's status (Argo CD health, kubectl wait) sees it broken`,
        ),
      },
    );
  }
  if (endpoints.length > 0) {
    return pass(
      check,
      `${se} defines ${host} with ${endpoints.length} endpoint${endpoints.length === 1 ? '' : 's'} (resolution STATIC)`,
      {
        evidence: [
          ...lines,
          ...endpoints.slice(0, 5).map((e) => ({ ref: `${se}:${ref.port}`, detail: `endpoint: ${e}` })),
        ],
      },
    );
  }
  if (selector && Object.keys(selector).length > 0) {
    return emit(
      check,
      'BackendKindUnsupported',
      `${se} (host ${host}) selects its endpoints with workloadSelector ${Object.entries(selector)
        .map(([k, v]) => `${k}=${v}`)
        .join(
          ',',
        )}: ${h.pods === null ? 'the manifests hold no Pods' : 'no ready Pod matches it'}, and WorkloadEntries are not read: not checked`,
      { evidence: lines },
    );
  }
  return emit(
    check,
    'NoReadyEndpoints',
    `${se} defines ${host} with resolution STATIC but no endpoints (no spec.endpoints, no workloadSelector): the gateway answers 503 "no healthy upstream"`,
    {
      evidence: lines,
      fix: manual(
        `add the addresses that serve ${ref.name} to spec.endpoints of ${se} (or a workloadSelector for the Pods or WorkloadEntries that do)`,
      ),
    },
  );
}

type Matched = Extract<RouteStage, { kind: 'matched' }>;

/**
 * Ingress traffic to this Service goes through a waypoint (istio.io/use-waypoint + istio.io/ingress-use-waypoint):
 * the request also needs the waypoint Gateway to exist, be Programmed and have a ready endpoint (src/gatewayapi/waypoint.ts).
 */
function waypointProblem(
  check: { id: 'endpoints'; title: string },
  w: WaypointInfo,
  svc: Service,
  evidence: Evidence[],
): Draft | null {
  const svcRef = describe(svc);
  const { name, namespace, ingress, from } = w.binding;
  const ref = `Gateway ${namespace}/${name}`;
  if (!w.bound.bound) {
    // Not bound (src/gatewayapi/waypoint.ts waypointBound): istiod sends the traffic straight to the Pods, so the
    // request does not fail here; the mesh layer says that the waypoint's L7 policies are absent.
    evidence.push(
      about(svc, `names waypoint ${namespace}/${name} (istio.io/use-waypoint on the ${from}), but ${w.bound.why}`),
    );
    return null;
  }
  if (!ingress) {
    evidence.push(
      about(
        svc,
        `bound to waypoint ${namespace}/${name} (istio.io/use-waypoint on the ${from}), but ingress traffic bypasses it: no istio.io/ingress-use-waypoint: "true"`,
      ),
    );
    return null;
  }
  evidence.push(
    about(
      svc,
      `ingress traffic goes through waypoint ${namespace}/${name} (istio.io/use-waypoint and istio.io/ingress-use-waypoint on the ${from}); ${w.bound.why}`,
    ),
  );
  const podsCmd = command(
    ['kubectl', '-n', namespace, 'get', 'pods,services', '-l', `gateway.networking.k8s.io/gateway-name=${name}`],
    `look at the waypoint's pods and Service (Istio deploys them named ${name})`,
  );
  const conds = w.gateway ? controllerConditions(w.gateway.status?.conditions) : [];
  const programmed =
    w.gateway && freshness(conds, w.gateway.metadata.generation) === 'fresh'
      ? condition(conds, 'Programmed')
      : undefined;
  if (w.gateway && programmed && programmed.status !== 'True')
    evidence.push(about(w.gateway, describeCondition(programmed)));
  // A waypoint that was ready once keeps its address: istiod keeps sending ingress traffic to it, and with no ready
  // Pod behind it the gateway answers 503 "no healthy upstream" (envoy-lane.md, "Learned later").
  if (w.pods !== null) {
    const ready = w.slices.flatMap((sl) => sl.endpoints ?? []).filter((e) => e.conditions?.ready !== false);
    if (!w.service || ready.length === 0) {
      return emit(
        check,
        'WaypointNotReady',
        `waypoint ${ref}, which ingress traffic to ${svcRef} goes through, has no ready endpoint${w.service ? '' : ' (its Service does not exist)'}: the gateway answers 503 "no healthy upstream"`,
        { evidence, fix: podsCmd },
      );
    }
  }
  return null;
}

export function judgeEndpoints(
  this: { id: 'endpoints'; title: string },
  { rs, es }: { rs: Matched; es: EndpointsStage },
): Draft {
  const route = rs.attachment.route;
  const routeDesc = describe(route);
  const st = routeParentStatus(route, rs.attachment.parentRef);
  const resolved = condition(controllerConditions(st?.conditions), 'ResolvedRefs');
  const statusNote: Evidence[] = resolved ? [about(route, describeCondition(resolved), ' status')] : [];
  if (rs.redirect)
    return pass(
      this,
      `not needed: the rule answers with a redirect (${rs.redirect.statusCode} to ${rs.redirect.location}), no backend is involved`,
    );
  const results = es.backends.map((b) => checkBackend(this, b, route, statusNote));
  const order: Draft['status'][] = ['fail', 'error', 'warn'];
  for (const s of order) {
    const hit = results.find((r) => r.status === s);
    if (hit) {
      if (results.length > 1)
        hit.evidence.push(
          ...results.filter((r) => r !== hit).map((r) => ({ ref: 'other backendRef', detail: r.summary })),
        );
      return hit;
    }
  }
  // Status that contradicts the prediction, said the same way at every layer: the controller's fresh ResolvedRefs
  // says a backend is missing or of a wrong kind while every backend checks out. gwdoctor trusts the spec (the
  // objects as they are now) and shows both.
  const conds = controllerConditions(st?.conditions);
  const explainedByMirror = resolved?.reason === 'BackendNotFound' && es.mirrorMissing;
  // ResolvedRefs is route-wide: another rule's missing Service or invalid kind explains it (evidence says which).
  const otherRule = es.elsewhere.find((x) => x.reason === resolved?.reason);
  if (resolved?.status === 'False' && otherRule) {
    statusNote.push(
      about(
        route,
        `${otherRule.ref.kind} ${otherRule.ref.namespace}/${otherRule.ref.name}: ${otherRule.reason}; the status is about that rule, not the one serving this request`,
        ` ${otherRule.ref.where}`,
      ),
    );
  }
  if (
    resolved?.status === 'False' &&
    ['BackendNotFound', 'InvalidKind'].includes(resolved.reason ?? '') &&
    !explainedByMirror &&
    !otherRule &&
    freshness(conds, route.metadata.generation) === 'fresh'
  ) {
    return emit(
      this,
      'StatusDisagrees',
      `the controller reports ${describeCondition(resolved)}, but every backendRef of the rule resolves to an existing Service with endpoints; trusting the spec (status may lag)`,
      {
        evidence: results.flatMap((r) => r.evidence),
      },
    );
  }
  if (results.length === 1) return results[0] as Draft;
  return pass(this, results.map((r) => r.summary).join('; '), { evidence: results.flatMap((r) => r.evidence) });
}

/** Per backend Service of the matched rule: its port and how many endpoints are ready (null: not known). */
export function endpointsFacts({ es }: { es: EndpointsStage }): Facts {
  return {
    backends: es.backends.map(({ ref, service, slices }) => {
      const sp = service?.spec?.ports?.find((p) => p.port === ref.port);
      const counts = sp ? readyEndpoints(slices, sp) : null;
      return {
        kind: ref.kind,
        namespace: ref.namespace,
        name: ref.name,
        port: ref.port,
        weight: ref.weight,
        ready: counts?.ready.length ?? null,
        notReady: counts?.notReady.length ?? null,
      };
    }),
  };
}

export const endpoints = clusterLayer(
  layerMeta('endpoints'),
  async (p) => ({ rs: (await p.route()) as Matched, es: await p.endpoints() }),
  judgeEndpoints,
  endpointsFacts,
);
