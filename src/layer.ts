// A cluster layer = a stage of the resolved path + a pure judge of it. This adapter turns the pair into the Check
// the pipeline runs: it awaits the stage (a failed read becomes an `error` finding of this layer), calls the judge,
// and weighs what Envoy answered (an explicit input from the proxy layer) against the judge's verdict.

import { refOf } from './fix/build.js';
import { PipelineBug, type PathResolver } from './gatewayapi/resolver.js';
import { emit, type Draft } from './findings.js';
import type { Check, CheckContext, LayerId, Probes, Target } from './types.js';
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
): Check {
  return {
    ...meta,
    needsCluster: true,
    network: false,
    async run(ctx: CheckContext) {
      if (!ctx.path) throw new PipelineBug(`${meta.id} ran without a cluster source`);
      const s = await stage(ctx.path, ctx.probes);
      return withEnvoy(withOrigins(judge.call(meta, s, { target: ctx.target, probes: ctx.probes, gatewayFilter: ctx.gatewayFilter }), ctx.path), ctx.probes);
    },
  };
}

/** Evidence that names an object the path read gets the object's reference and origin (file:line or resourceVersion). */
export function withOrigins(d: Draft, path: PathResolver): Draft {
  const evidence = d.evidence.map((e) => {
    const o = path.objectNamed(e.ref);
    if (!o) return e;
    const origin = path.source.origin(o);
    return { ...e, object: refOf(o), ...(origin ? { origin } : {}) };
  });
  return { ...d, evidence };
}

/**
 * Envoy answered an error that this layer should explain (404 NR -> route, 500 -> grant, 503 UH -> endpoints).
 * The evidence joins the finding; and when the objects look right but the gateway disagrees (config not pushed
 * yet, or something gwdoctor does not model), the layer says so as GatewayErrorResponse: never a pass, nor a
 * warning that exits 0 — the user's request ends in that error, so the run is inconclusive (exit 2).
 */
export function withEnvoy(d: Draft, probes: Probes): Draft {
  const seen = probes.envoy.filter((e) => e.layer === d.id).map((e) => e.evidence);
  if (seen.length === 0 || d.status === 'skip') return d;
  const out: Draft = { ...d, evidence: [...d.evidence, ...seen] };
  if (d.status !== 'pass') return out;
  return emit(d, 'GatewayErrorResponse', `${d.summary}; but the gateway answered ${seen.map((e) => e.detail).join('; ')}`, { evidence: out.evidence, fix: out.fix });
}
