// Findings about a backendRef that the grant and endpoints layers both give (so no layer imports another).

import type { ReferenceGrant, Route, Service } from './cluster/objects.js';
import { describe } from './cluster/objects.js';
import { emit, type Draft } from './findings.js';
import { closest, jsonPatch, manual, ptr } from './fix/build.js';
import { isGatewayService } from './fix/candidates.js';
import { grantPermits } from './gatewayapi/grants.js';
import type { Evidence, LayerId, ResolvedBackendRef } from './types.js';

/**
 * The Service a backendRef names does not exist: likely a wrong name. The fix renames the ref to the closest existing
 * Service of that namespace — preferring one an existing ReferenceGrant already lets the route use — or, when no
 * name is close, says what to create. A grant is never printed for a Service that does not exist.
 */
export function serviceNotFound(
  check: { id: 'grant' | 'endpoints'; title: string },
  ref: ResolvedBackendRef,
  route: Route,
  siblings: Service[],
  grants: ReferenceGrant[],
  statusNote: Evidence[],
): Draft {
  const routeDesc = describe(route);
  const where = `${routeDesc} ${ref.where}`;
  const svcRef = `Service ${ref.namespace}/${ref.name}`;
  const routeNs = route.metadata.namespace ?? 'default';
  const names = siblings.filter((s) => !isGatewayService(s)).map((s) => s.metadata.name);
  const cross = ref.namespace !== routeNs;
  const granted = (n: string) => !cross || grants.some((g) => grantPermits(g, routeNs, { ...ref, name: n }, route.kind));
  const near = closest(ref.name, names).sort((a, b) => Number(granted(b)) - Number(granted(a)));
  const first = near[0];
  const all = siblings.map((s) => s.metadata.name);
  return emit(check, 'ServiceNotFound', `${svcRef} does not exist (referenced by ${where}): the gateway answers 500${near.length ? `; did you mean ${near.join(', ')}?` : ''}`, {
    evidence: [...statusNote, { ref: `namespace ${ref.namespace}`, detail: all.length ? `has Services ${all.slice(0, 10).join(', ')}${all.length > 10 ? ', …' : ''}` : 'has no Service' }],
    fix: first
      ? jsonPatch(
          route,
          [
            { op: 'test', path: ptr(...ref.pointer, 'name'), value: ref.name },
            { op: 'replace', path: ptr(...ref.pointer, 'name'), value: first },
          ],
          `renames the backendRef ${ref.where} of ${routeDesc} from ${ref.name} to ${first}, the closest existing Service in ${ref.namespace}${cross && !granted(first) ? ' (it will also need a ReferenceGrant; the next run prints it)' : ''}; or create ${svcRef}`,
          [{ field: ptr(...ref.pointer, 'name'), about: `the Service ${ref.where} means`, candidates: near }],
        )
      : manual(`create ${svcRef} (no Service in ${ref.namespace} has a similar name), or correct the backendRef name/namespace at ${ref.where} of ${routeDesc}`),
  });
}
