// A cluster layer = a stage of the resolved path + a pure judge of it. This adapter turns the pair into the Check
// the pipeline runs: it awaits the stage (a failed read becomes an `error` finding of this layer), calls the judge,
// and weighs what Envoy answered (an explicit input from the proxy layer) against the judge's verdict.

import { LAYER_IDS, layer, layerMayEmit } from './registry.js';
import { refOf } from './fix/build.js';
import { PipelineBug, type PathResolver } from './gatewayapi/resolver.js';
import { emit, type Draft, type LayerOf } from './findings.js';
import type { EnvoyAnswer, Facts, LayerId, Observed, Probes, Target } from './types.js';
import type { Check, CheckContext } from './check.js';
import type { GatewayRef } from './target.js';

export interface JudgeInput {
  target: Target;
  probes: Probes;
  gatewayFilter: GatewayRef | null;
}

export function clusterLayer<S, I extends LayerId>(
  meta: { id: I; title: string },
  stage: (p: PathResolver, probes: Probes) => Promise<S>,
  judge: (this: { id: I; title: string }, s: S, input: JudgeInput) => Draft,
  /** What the stage establishes, as data: the finding's facts, whatever the verdict. */
  facts: (s: S) => Facts = () => ({}),
): Check {
  // The declaration (lane, after, needs: the cluster, inputs) is the registry's.
  return {
    ...layer(meta.id),
    async run(ctx: CheckContext) {
      if (!ctx.path) throw new PipelineBug(`${meta.id} ran without a cluster source`);
      const s = await stage(ctx.path, ctx.probes);
      const d = judge.call(meta, s, { target: ctx.target, probes: ctx.probes, gatewayFilter: ctx.gatewayFilter });
      return withEnvoy(withOrigins({ ...d, facts: { ...facts(s), ...d.facts } }, ctx.path), ctx.probes, ctx.later);
    },
  };
}

/**
 * Evidence made from an object (findings.ts about()) keeps its reference when a stage of this path read that object,
 * and gets the object's origin (file:line or resourceVersion). Looked up by kind, namespace and name: never by
 * parsing the line's prose.
 */
export function withOrigins(d: Draft, path: PathResolver): Draft {
  const evidence = d.evidence.map((e) => {
    const o = e.object ? path.objectOf(e.object) : undefined;
    if (!o) {
      const { object: _, ...rest } = e;
      return rest;
    }
    const origin = path.source.origin(o);
    return { ...e, object: refOf(o), ...(origin ? { origin } : {}) };
  });
  return { ...d, evidence };
}

/** The layers after `id` in the registry's order: what a run of every layer has left. */
export function layersAfter(id: LayerId): LayerId[] {
  return LAYER_IDS.slice(LAYER_IDS.indexOf(id) + 1);
}

function explainers(e: EnvoyAnswer): LayerId[] {
  return [e.layer, ...(e.also ?? [])];
}

/**
 * Weigh what Envoy answered against this layer's verdict. Envoy's error answers arrive from the proxy layer, each
 * with the cluster layers that can explain it (404 NR -> route; 500 NC -> grant, then endpoints; 503 UH ->
 * endpoints; 503 UF -> endpoints, then mesh; 403 RBAC -> mesh). The rule, the same for every answer and layer:
 * - a layer that found a fault (fail, error, warn) explains the answers it can: they join its evidence;
 * - a layer that passes hands them on to the next layer of the run that can explain them (a backendRef to a missing
 *   Service: the grant layer finds its refs permitted, the endpoints layer names the missing Service). A generic
 *   "the gateway disagrees" never cuts the run short while a later layer may know the cause;
 * - when no layer is left, the objects look right and the gateway still answers an error: the answer's own code
 *   (BackendConnectFailed for a 503 upstream connect error to ready endpoints, GatewayRbacDenied for the RBAC filter's
 *   403), else GatewayErrorResponse — never a
 *   pass, nor a warning that exits 0: the user's request ends in that error.
 */
export function withEnvoy(
  d: Draft,
  probes: Probes,
  later: readonly LayerId[] = layersAfter(d.id),
): Draft & { observed?: Observed } {
  const mine = probes.envoy.filter((e) => explainers(e).includes(d.id));
  if (mine.length === 0 || d.status === 'skip') return d;
  const out: Draft = { ...d, evidence: [...d.evidence, ...mine.map((e) => e.evidence)] };
  if (d.status !== 'pass') return { ...out, observed: { explained: mine } };
  const open = mine.filter((e) => !explainers(e).some((l) => later.includes(l)));
  if (open.length === 0) {
    const next = [...new Set(mine.map((e) => explainers(e).find((l) => later.includes(l)) as LayerId))];
    return {
      ...out,
      evidence: [
        ...out.evidence,
        {
          ref: 'gwdoctor',
          detail: `nothing in this layer explains the gateway's answer; the ${next.join(' and ')} layer${next.length > 1 ? 's' : ''} can, and ${next.length > 1 ? 'check' : 'checks'} next`,
        },
      ],
    };
  }
  const own = open.find((e) => e.unexplained)?.unexplained;
  const summary = `${d.summary}; but the gateway answered ${open.map((e) => e.evidence.detail).join('; ')}`;
  // The answer's own code when the registry lets this layer emit it: checked at run time (the layer is any of them),
  // which is what the cast to a layer that may emit every UnexplainedCode stands for.
  if (own && layerMayEmit(d.id, own.code))
    return emit(d as LayerOf<'mesh'>, own.code, summary, { evidence: out.evidence, fix: own.fix, facts: out.facts });
  return emit(d, 'GatewayErrorResponse', summary, { evidence: out.evidence, fix: out.fix, facts: out.facts });
}
