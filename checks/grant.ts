// Layer 5: a ReferenceGrant in the backend's namespace permits every cross-namespace backendRef of the matched rule.
// Judge of the path's grant stage (src/gatewayapi/path.ts resolveGrant; grant semantics in grants.ts).

import { serviceNotFound } from '../src/backend-findings.js';
import { describe } from '../src/cluster/objects.js';
import { about, emit, pass, type Draft } from '../src/findings.js';
import { applyFix, closest, manual, uniqueName } from '../src/fix/build.js';
import { isGatewayService } from '../src/fix/candidates.js';
import { grantPermits, referenceGrantObject, whyNot } from '../src/gatewayapi/grants.js';
import type { GrantStage, RouteStage } from '../src/gatewayapi/path.js';
import { condition, controllerConditions, describeCondition, routeParentStatus } from '../src/gatewayapi/status.js';
import { layerMeta } from '../src/registry.js';
import { clusterLayer } from '../src/layer.js';
import type { Evidence, Facts } from '../src/types.js';

type Matched = Extract<RouteStage, { kind: 'matched' }>;

export function judgeGrant(this: { id: 'grant'; title: string }, { rs, gs }: { rs: Matched; gs: GrantStage }): Draft {
  const route = rs.attachment.route;
  const routeNs = route.metadata.namespace ?? 'default';
  const st = routeParentStatus(route, rs.attachment.parentRef);
  const resolved = condition(controllerConditions(st?.conditions), 'ResolvedRefs');
  const statusSaysNotPermitted = resolved?.status === 'False' && resolved.reason === 'RefNotPermitted';
  const { refs, missing } = gs;

  // A missing Service that no grant permits: a grant for it would not make the request work. Say the Service is
  // missing (closest names first), before any grant is printed.
  const statusNote: Evidence[] = resolved ? [about(route, describeCondition(resolved), ` status`)] : [];
  const ungrantedMissing = missing.find(
    (r) => !(gs.grants.get(r.namespace) ?? []).some((g) => grantPermits(g, routeNs, r, route.kind)),
  );
  if (ungrantedMissing) {
    return serviceNotFound(
      this,
      ungrantedMissing,
      route,
      gs.siblings.get(ungrantedMissing.namespace) ?? [],
      gs.grants.get(ungrantedMissing.namespace) ?? [],
      statusNote,
      gs.nsPods.get(ungrantedMissing.namespace) ?? null,
    );
  }
  if (rs.redirect)
    return pass(
      this,
      `not needed: the rule answers with a redirect (${rs.redirect.statusCode} to ${rs.redirect.location}), no backend is involved`,
    );
  if (refs.length === 0) {
    const mirror = mirrorProblem(this, rs, gs, statusNote);
    if (mirror) return mirror;
    if (missing.length > 0) {
      return pass(
        this,
        `a ReferenceGrant permits ${missing.map((r) => `${r.kind} ${r.namespace}/${r.name}`).join(', ')}, which does not exist (see endpoints)`,
        {
          evidence: missing.map((r) => ({
            ref: `${r.kind} ${r.namespace}/${r.name}`,
            detail: `not found (${r.where})`,
          })),
        },
      );
    }
    return pass(
      this,
      `no cross-namespace backendRefs: the rule's backends are in ${routeNs}, no ReferenceGrant needed`,
    );
  }

  const evidence: Evidence[] = [];
  const uncovered = refs.filter((ref) => {
    const grants = gs.grants.get(ref.namespace) ?? [];
    const ok = grants.find((g) => grantPermits(g, routeNs, ref, route.kind));
    if (ok) {
      evidence.push(
        about(ok, `permits ${route.kind} in ${routeNs} -> ${ref.kind} ${ref.namespace}/${ref.name} (${ref.where})`),
      );
      return false;
    }
    for (const g of grants) evidence.push(about(g, `does not apply: ${whyNot(g, routeNs, ref, route.kind)}`));
    const ignored = gs.notApplied?.get(ref.namespace) ?? [];
    for (const n of ignored) evidence.push(about(n.object, `not counted: ${n.why}`));
    if (grants.length === 0)
      evidence.push({
        ref: `namespace ${ref.namespace}`,
        detail: `has no ReferenceGrant${ignored.length ? ' the API server would keep' : ' at all'}`,
      });
    return true;
  });
  if (resolved) evidence.push(about(route, describeCondition(resolved), ` status`));

  if (uncovered.length > 0) {
    const first = uncovered[0] as (typeof uncovered)[number];
    const sameNs = uncovered.filter((r) => r.namespace === first.namespace);
    const taken = (gs.grants.get(first.namespace) ?? []).map((g) => g.metadata.name);
    const name = uniqueName(`allow-${routeNs}-${route.kind.toLowerCase()}s-to-${first.name}`, taken);
    const object = referenceGrantObject(route, sameNs, gs.apiVersion, name);
    return emit(
      this,
      'ReferenceGrantMissing',
      `no ReferenceGrant in namespace ${first.namespace} lets ${describe(route)} use ${first.kind} ${first.name}${uncovered.length > 1 ? ` (+${uncovered.length - 1} more)` : ''}: the gateway answers 500`,
      {
        evidence,
        fix: applyFix(
          object,
          `creates ReferenceGrant ${first.namespace}/${name} (a new name) in the backend's namespace (not the route's), letting ${route.kind}s in ${routeNs} use ${sameNs.map((r) => `${r.kind} ${r.name}`).join(', ')}${uncovered.length > sameNs.length ? '; the next run prints the grant for the other namespace' : ''}`,
        ),
      },
    );
  }
  const mirror = mirrorProblem(this, rs, gs, evidence);
  if (mirror) return mirror;
  const otherRule = gs.elsewhere.find((x) => x.reason === 'RefNotPermitted');
  if (statusSaysNotPermitted && otherRule) {
    evidence.push(
      about(
        route,
        `${otherRule.ref.kind} ${otherRule.ref.namespace}/${otherRule.ref.name} is not permitted: the status's RefNotPermitted is about that rule, not the one serving this request`,
        ` ${otherRule.ref.where}`,
      ),
    );
  }
  if (statusSaysNotPermitted && !otherRule) {
    return emit(
      this,
      'StatusDisagrees',
      'the controller reports RefNotPermitted, but the ReferenceGrants permit every backendRef; trusting the spec (status may lag)',
      {
        evidence,
      },
    );
  }
  return pass(this, `ReferenceGrants permit ${refs.length} cross-namespace backendRef${refs.length > 1 ? 's' : ''}`, {
    evidence,
  });
}

/**
 * A RequestMirror whose Service is missing or not permitted: Istio drops just the mirror and still serves the rule
 * (istio pilot/pkg/config/kube/gateway/conversion.go: createMirrorFilter's error becomes mirrorBackendErr, which only
 * reaches the route's ResolvedRefs status), so requests work but no copies are sent. A warning, never a failure.
 */
function mirrorProblem(
  check: { id: 'grant'; title: string },
  rs: Matched,
  gs: GrantStage,
  evidence: Evidence[],
): Draft | null {
  const route = rs.attachment.route;
  const routeNs = route.metadata.namespace ?? 'default';
  const routeDesc = describe(route);
  for (const { ref, exists } of gs.mirrors) {
    const svcRef = `Service ${ref.namespace}/${ref.name}`;
    const served =
      "requests are still served by the rule's backends, but no copies are mirrored (Istio drops the mirror and reports ResolvedRefs=False)";
    if (!exists) {
      const names = (gs.siblings.get(ref.namespace) ?? [])
        .filter((s) => !isGatewayService(s))
        .map((s) => s.metadata.name);
      const near = closest(ref.name, names);
      return emit(
        check,
        'MirrorBackendUnresolved',
        `the RequestMirror target ${svcRef} does not exist (${routeDesc} ${ref.where}): ${served}${near.length ? `; did you mean ${near.join(', ')}?` : ''}`,
        {
          evidence: [...evidence, { ref: svcRef, detail: `not found (${ref.where})` }],
          fix: manual(
            `create ${svcRef}, or correct the RequestMirror backendRef at ${ref.where} of ${routeDesc}${near.length ? ` (closest existing: ${near.join(', ')})` : ''}, or remove that RequestMirror filter if copies are no longer wanted`,
          ),
        },
      );
    }
    if (ref.namespace === routeNs) continue;
    const grants = gs.grants.get(ref.namespace) ?? [];
    if (grants.some((g) => grantPermits(g, routeNs, ref))) continue;
    const name = uniqueName(
      `allow-${routeNs}-httproutes-to-${ref.name}`,
      grants.map((g) => g.metadata.name),
    );
    return emit(
      check,
      'MirrorBackendUnresolved',
      `no ReferenceGrant in namespace ${ref.namespace} lets ${routeDesc} mirror to ${svcRef}: ${served}`,
      {
        evidence: [
          ...evidence,
          ...grants.map((g) => about(g, `does not apply: ${whyNot(g, routeNs, ref)}`)),
          ...(grants.length === 0
            ? [{ ref: `namespace ${ref.namespace}`, detail: 'has no ReferenceGrant at all' }]
            : []),
        ],
        fix: applyFix(
          referenceGrantObject(route, [ref], gs.apiVersion, name),
          `creates ReferenceGrant ${ref.namespace}/${name} (a new name) in the mirror's namespace, letting HTTPRoutes in ${routeNs} use Service ${ref.name}`,
        ),
      },
    );
  }
  return null;
}

/** The backendRefs of the matched rule that carry traffic. */
export function grantFacts({ rs }: { rs: Matched }): Facts {
  return {
    backends: rs.refs
      .filter((r) => !r.mirror && r.weight > 0)
      .map((r) => ({ kind: r.kind, namespace: r.namespace, name: r.name, port: r.port, weight: r.weight })),
  };
}

export const grant = clusterLayer(
  layerMeta('grant'),
  async (p) => ({ rs: (await p.route()) as Matched, gs: await p.grant() }),
  judgeGrant,
  grantFacts,
);
