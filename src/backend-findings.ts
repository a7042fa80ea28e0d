// Findings about a backendRef that the grant and endpoints layers both give (so no layer imports another).

import type { Pod, ReferenceGrant, Route, Service } from './cluster/objects.js';
import { describe } from './cluster/objects.js';
import { emit, type Draft } from './findings.js';
import { applyFix, closest, manual } from './fix/build.js';
import type { ApplyFix } from './fix/fix.js';
import {
  containerPorts,
  NAME_LABELS,
  selectorFor,
  selectorText,
  targetPortFor,
  workloadsFor,
} from './fix/workloads.js';
import { isGatewayService } from './fix/candidates.js';
import { grantPermits } from './gatewayapi/grants.js';
import type { Evidence, LayerId, ResolvedBackendRef } from './types.js';

/**
 * The Service a backendRef names does not exist. Creating it is safe (the route already names it; nothing else
 * changes) when the Pods that would back it run in its namespace: the fix is that Service, selecting exactly those
 * Pods, on the backendRef's port, to their container port (src/fix/workloads.ts). Re-pointing the route at another
 * Service is never printed as a fix: a similar name is not the same Service (example-api-admin for example-api is an
 * internal admin Service). Those names are candidates in a `manual` fix, for a person to choose. A grant is never
 * printed for a Service that does not exist.
 */
export function serviceNotFound(
  check: { id: 'grant' | 'endpoints'; title: string },
  ref: ResolvedBackendRef,
  route: Route,
  siblings: Service[],
  grants: ReferenceGrant[],
  statusNote: Evidence[],
  nsPods: Pod[] | null,
): Draft {
  const routeDesc = describe(route);
  const where = `${routeDesc} ${ref.where}`;
  const svcRef = `Service ${ref.namespace}/${ref.name}`;
  const routeNs = route.metadata.namespace ?? 'default';
  const names = siblings.filter((s) => !isGatewayService(s)).map((s) => s.metadata.name);
  const cross = ref.namespace !== routeNs;
  const granted = (n: string) =>
    !cross || grants.some((g) => grantPermits(g, routeNs, { ...ref, name: n }, route.kind));
  const near = closest(ref.name, names).sort((a, b) => Number(granted(b)) - Number(granted(a)));
  const all = siblings.map((s) => s.metadata.name);
  const evidence: Evidence[] = [
    ...statusNote,
    {
      ref: `namespace ${ref.namespace}`,
      detail: all.length
        ? `has Services ${all.slice(0, 10).join(', ')}${all.length > 10 ? ', …' : ''}`
        : 'has no Service',
    },
  ];
  const create = createService(ref, nsPods, evidence);
  const candidates = [...near, ...names.filter((n) => !near.includes(n)).sort()].slice(0, 10);
  return emit(
    check,
    'ServiceNotFound',
    `${svcRef} does not exist (referenced by ${where}): the gateway answers 500${near.length ? `; similar names in ${ref.namespace}: ${near.join(', ')}` : ''}`,
    {
      evidence,
      fix:
        'object' in create
          ? applyFix(
              create.object,
              `${create.explain}${cross && !granted(ref.name) ? '; a cross-namespace backendRef also needs a ReferenceGrant (the next run prints it)' : ''}`,
            )
          : manual(
              `create ${svcRef} (${create.why}), or make the backendRef at ${ref.where} of ${routeDesc} name the Service it means${candidates.length ? `; Services in ${ref.namespace}: ${candidates.join(', ')} (a similar name is not the same Service: gwdoctor does not choose one)` : ''}`,
            ),
    },
  );
}

/** The Service to create for a missing backendRef from the Pods that would back it, or why there is none. */
function createService(
  ref: ResolvedBackendRef,
  nsPods: Pod[] | null,
  evidence: Evidence[],
): { object: ApplyFix['object']; explain: string } | { why: string } {
  if (nsPods === null) return { why: `gwdoctor cannot see the Pods of ${ref.namespace}` };
  const backing = workloadsFor(ref.name, nsPods);
  if (backing.length === 0)
    return {
      why: `no workload in ${ref.namespace} is named ${ref.name} or has Pods labelled ${NAME_LABELS.join(', ')} = ${ref.name}`,
    };
  const group = backing.flatMap((w) => w.pods);
  const what = `${backing.map((w) => w.describe).join(', ')} (${group.length} Pod${group.length === 1 ? '' : 's'})`;
  evidence.push({ ref: `namespace ${ref.namespace}`, detail: `runs ${what}, which would back ${ref.name}` });
  const selector = selectorFor(group, nsPods);
  if (!selector) return { why: `the Pods of ${what} share no label that selects only them` };
  if (ref.port === null) return { why: `the backendRef at ${ref.where} has no port` };
  const target = targetPortFor(group, ref.port);
  if (!target) {
    const ports = [...new Set(group.flatMap((p) => containerPorts(p).map((c) => c.port)))];
    return { why: `the container ports of ${what} (${ports.join(', ') || 'none'}) leave the targetPort open` };
  }
  const object: ApplyFix['object'] = {
    apiVersion: 'v1',
    kind: 'Service',
    metadata: { name: ref.name, namespace: ref.namespace },
    spec: {
      selector,
      ports: [
        { ...(target.name ? { name: target.name } : {}), port: ref.port, targetPort: target.port, protocol: 'TCP' },
      ],
    },
  };
  return {
    object,
    explain: `creates Service ${ref.namespace}/${ref.name}, the name the backendRef ${ref.where} already uses, selecting ${selectorText(selector)} — exactly the Pods of ${what} — on port ${ref.port} (the backendRef's) to their container port ${target.port}; it re-points nothing`,
  };
}
