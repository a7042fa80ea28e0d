// One attempt's lazily resolved path: each stage is computed once, when the first layer needs it, from the
// cluster source's memoised reads. A new PathResolver per --wait attempt sees the cluster as it is then.

import type { ClusterReader } from '../cluster/reader.js';
import type { Target } from '../types.js';
import { resolveEndpoints, resolveGrant, resolveListener, resolveRoute, type EndpointsStage, type GrantStage, type ListenerStage, type RouteStage } from './path.js';

export class PipelineBug extends Error {}

export class PathResolver {
  private l?: Promise<ListenerStage>;
  private r?: Promise<RouteStage>;
  private g?: Promise<GrantStage>;
  private e?: Promise<EndpointsStage>;

  constructor(
    readonly cluster: ClusterReader,
    readonly target: Target,
    readonly filter: { namespace: string; name: string } | null,
  ) {}

  listener(): Promise<ListenerStage> {
    return (this.l ??= resolveListener(this.cluster, this.target, this.filter));
  }

  route(): Promise<RouteStage> {
    return (this.r ??= this.listener().then((ls) => {
      if (ls.kind !== 'ok') throw new PipelineBug('the route stage needs a listener that accepts the host');
      return resolveRoute(this.cluster, this.target, ls);
    }));
  }

  private matched() {
    return this.route().then((rs) => {
      if (rs.kind !== 'matched') throw new PipelineBug('the backend stages need a matched rule');
      return rs;
    });
  }

  grant(): Promise<GrantStage> {
    return (this.g ??= this.matched().then((rs) => resolveGrant(this.cluster, rs)));
  }

  endpoints(): Promise<EndpointsStage> {
    return (this.e ??= this.matched().then((rs) => resolveEndpoints(this.cluster, rs)));
  }
}
