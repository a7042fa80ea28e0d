// Guards for facts that earlier layers must have produced. A missing one is a pipeline bug, not a user error.

import type { ClusterReader } from '../src/cluster/reader.js';
import type { CheckContext, Facts } from '../src/types.js';

export class PipelineBug extends Error {}

export function need<K extends keyof Facts>(facts: Facts, key: K): NonNullable<Facts[K]> {
  const v = facts[key];
  if (v === undefined || v === null) throw new PipelineBug(`layer ran without the "${key}" fact of an earlier layer`);
  return v as NonNullable<Facts[K]>;
}

export function needCluster(ctx: CheckContext): ClusterReader {
  if (!ctx.cluster) throw new PipelineBug('cluster layer ran without a cluster source');
  return ctx.cluster;
}
