// One attempt's lazily resolved path: each stage is computed once, when the first layer needs it, from the
// cluster source's memoised reads. A new PathResolver per --wait attempt sees the cluster as it is then.

import type { ClusterReader } from '../cluster/reader.js';
import { describe, type K8sObject } from '../cluster/objects.js';
import type { PortInUse, Target } from '../types.js';
import type { GatewayRef } from '../target.js';
import { resolveEndpoints, resolveGrant, resolveListener, resolveRoute, type EndpointsStage, type GrantStage, type ListenerStage, type RouteStage } from './path.js';

export class PipelineBug extends Error {}

/** Record every object a reader returns, by "Kind namespace/name" (how evidence names objects). */
function recording(cluster: ClusterReader, seen: Map<string, K8sObject>): ClusterReader {
  const note = (v: unknown): unknown => {
    if (Array.isArray(v)) for (const o of v) note(o);
    else if (v && typeof v === 'object' && 'kind' in v && 'metadata' in v) seen.set(describe(v as K8sObject), v as K8sObject);
    return v;
  };
  return new Proxy(cluster, {
    get(target, prop, receiver) {
      const value = Reflect.get(target, prop, receiver) as unknown;
      if (typeof value !== 'function') return value;
      return (...args: unknown[]) => {
        const out = (value as (...a: unknown[]) => unknown).apply(target, args);
        return out instanceof Promise ? out.then(note) : note(out);
      };
    },
  });
}

export class PathResolver {
  /** Every object the stages read, for evidence that names it (its reference and where it came from). */
  readonly seen = new Map<string, K8sObject>();
  readonly cluster: ClusterReader;
  private l?: Promise<ListenerStage>;
  private r?: Promise<RouteStage>;
  private g?: Promise<GrantStage>;
  private e?: Promise<EndpointsStage>;

  constructor(
    cluster: ClusterReader,
    readonly target: Target,
    readonly filter: GatewayRef | null,
  ) {
    this.source = cluster;
    this.cluster = recording(cluster, this.seen);
  }

  /** The unwrapped cluster source. */
  readonly source: ClusterReader;

  /** The object an evidence line names ("Kind ns/name …"), if a stage read it. */
  objectNamed(ref: string): K8sObject | undefined {
    const m = /^([A-Z][A-Za-z]+) (\S+)/.exec(ref);
    return m ? this.seen.get(`${m[1]} ${m[2]}`) : undefined;
  }

  listener(): Promise<ListenerStage> {
    return (this.l ??= resolveListener(this.cluster, this.target, this.filter));
  }

  /** `port`: the Gateway port the proxy forwards to, when the proxy layer saw it (the first call resolves the stage). */
  route(port: PortInUse | null = null): Promise<RouteStage> {
    return (this.r ??= this.listener().then((ls) => {
      if (ls.kind !== 'ok') throw new PipelineBug('the route stage needs a listener that accepts the host');
      return resolveRoute(this.cluster, this.target, ls, port);
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
