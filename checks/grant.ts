// Layer 5: a ReferenceGrant in the backend's namespace permits every cross-namespace backendRef of the matched rule.

import { describe } from '../src/cluster/objects.js';
import { fail, pass, warn } from '../src/findings.js';
import { applyFix, uniqueName } from '../src/fix/build.js';
import { grantPermits, isCrossNamespace, referenceGrantObject, whyNot } from '../src/gatewayapi/grants.js';
import { condition, controllerConditions, describeCondition, routeParentStatus } from '../src/gatewayapi/status.js';
import type { Check, CheckContext, Evidence } from '../src/types.js';
import { need, needCluster } from './need.js';

export const grant: Check = {
  id: 'grant',
  title: 'ReferenceGrants permit cross-namespace backends',
  needsCluster: true,
  network: false,
  async run(ctx: CheckContext) {
    const cluster = needCluster(ctx);
    const matched = need(ctx.facts, 'matched');
    const route = matched.route;
    const routeNs = route.metadata.namespace ?? 'default';
    // Istio never validates weight-0 backendRefs (gateway/conversion.go buildHTTPDestination); mirrors are checked.
    const crossNs = need(ctx.facts, 'backendRefs').filter((r) => isCrossNamespace(route, r) && (r.weight > 0 || r.mirror));
    // A grant for a Service that does not exist cannot make the request work: such refs are judged (with the
    // closest existing names) at the endpoints layer, before anyone writes a grant for them.
    const exists = await Promise.all(crossNs.map(async (r) => r.group !== '' || r.kind !== 'Service' || (await cluster.service(r.namespace, r.name)) !== undefined));
    const refs = crossNs.filter((_, i) => exists[i]);
    const missing = crossNs.filter((_, i) => !exists[i]);
    const st = routeParentStatus(route, matched.parentRef);
    const resolved = condition(controllerConditions(st?.conditions), 'ResolvedRefs');
    const statusSaysNotPermitted = resolved?.status === 'False' && resolved.reason === 'RefNotPermitted';

    if (refs.length === 0) {
      if (missing.length > 0) {
        return pass(this, `the cross-namespace backend ${missing.map((r) => `${r.kind} ${r.namespace}/${r.name}`).join(', ')} does not exist: checked at endpoints first`, {
          evidence: missing.map((r) => ({ ref: `${r.kind} ${r.namespace}/${r.name}`, detail: `not found (${r.where}); a ReferenceGrant cannot help until it exists` })),
        });
      }
      return pass(this, `no cross-namespace backendRefs: the rule's backends are in ${routeNs}, no ReferenceGrant needed`);
    }
    const namespaces = [...new Set(refs.map((r) => r.namespace))];
    const grantsByNs = new Map(await Promise.all(namespaces.map(async (ns) => [ns, await cluster.referenceGrants(ns)] as const)));

    const evidence: Evidence[] = [];
    const uncovered = refs.filter((ref) => {
      const grants = grantsByNs.get(ref.namespace) ?? [];
      const ok = grants.find((g) => grantPermits(g, routeNs, ref));
      if (ok) {
        evidence.push({ ref: describe(ok), detail: `permits HTTPRoute in ${routeNs} -> ${ref.kind} ${ref.namespace}/${ref.name} (${ref.where})` });
        return false;
      }
      for (const g of grants) evidence.push({ ref: describe(g), detail: `does not apply: ${whyNot(g, routeNs, ref)}` });
      if (grants.length === 0) evidence.push({ ref: `namespace ${ref.namespace}`, detail: 'has no ReferenceGrant at all' });
      return true;
    });
    if (resolved) evidence.push({ ref: `${describe(route)} status`, detail: describeCondition(resolved) });

    if (uncovered.length > 0) {
      const version = await cluster.referenceGrantApiVersion();
      const first = uncovered[0] as (typeof uncovered)[number];
      const sameNs = uncovered.filter((r) => r.namespace === first.namespace);
      const taken = (grantsByNs.get(first.namespace) ?? []).map((g) => g.metadata.name);
      const name = uniqueName(`allow-${routeNs}-httproutes-to-${first.name}`, taken);
      const object = referenceGrantObject(route, sameNs, version, name);
      return fail(
        this,
        'ReferenceGrantMissing',
        `no ReferenceGrant in namespace ${first.namespace} lets ${describe(route)} use ${first.kind} ${first.name}${uncovered.length > 1 ? ` (+${uncovered.length - 1} more)` : ''}: the gateway answers 500`,
        {
          evidence,
          fix: applyFix(object, `creates ReferenceGrant ${first.namespace}/${name} (a new name) in the backend's namespace (not the route's), letting HTTPRoutes in ${routeNs} use ${sameNs.map((r) => `${r.kind} ${r.name}`).join(', ')}${uncovered.length > sameNs.length ? '; the next run prints the grant for the other namespace' : ''}`),
        },
      );
    }
    if (statusSaysNotPermitted) {
      return warn(this, 'StatusDisagrees', `the controller reports RefNotPermitted, but the ReferenceGrants permit every backendRef; trusting the spec (status may lag)`, {
        evidence,
        retryable: true,
      });
    }
    return pass(this, `ReferenceGrants permit ${refs.length} cross-namespace backendRef${refs.length > 1 ? 's' : ''}`, { evidence });
  },
};
