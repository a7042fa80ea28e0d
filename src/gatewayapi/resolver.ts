// One attempt's lazily resolved path: each stage is computed once, when the first layer needs it, as a synchronous
// function of this attempt's snapshot (src/cluster/snapshot.ts: the reads and indexes every target of the attempt
// shares; src/cluster/view.ts settle() makes the reads a stage points at). A new PathResolver per --wait attempt sees
// the cluster as it is then.

import type { ClusterReader } from '../cluster/reader.js';
import type { K8sObject } from '../cluster/objects.js';
import { isObject, keyOf, type Snapshot } from '../cluster/snapshot.js';
import { settle, viewOf, type ClusterView } from '../cluster/view.js';
import type { PortInUse, Target } from '../types.js';
import type { GatewayRef } from '../target.js';
import { resolveExposure, type ExposureStage } from './exposure.js';
import {
  resolveEndpoints,
  resolveGrant,
  resolveListener,
  resolveRoute,
  type EndpointsStage,
  type GrantStage,
  type ListenerStage,
  type RouteStage,
} from './path.js';

export class PipelineBug extends Error {}

export class PathResolver {
  /** Every value (object or list) the stages read, in order, for evidence that names an object. */
  private readonly reads: unknown[] = [];
  private readonly recorded = new Set<unknown>();
  /** This attempt's snapshot (the reader's until its next refresh). */
  readonly snapshot: Snapshot;
  /** The snapshot's synchronous look-ups; what they return is recorded for objectOf. */
  readonly view: ClusterView;
  private l?: Promise<ListenerStage>;
  private x?: Promise<ExposureStage>;
  private r?: Promise<RouteStage>;
  private g?: Promise<GrantStage>;
  private e?: Promise<EndpointsStage>;

  constructor(
    cluster: ClusterReader,
    readonly target: Target,
    readonly filter: GatewayRef | null,
  ) {
    this.source = cluster;
    this.snapshot = cluster.snapshot();
    this.view = viewOf(cluster, (v) => {
      if ((Array.isArray(v) || isObject(v)) && !this.recorded.has(v)) {
        this.recorded.add(v);
        this.reads.push(v);
      }
    });
  }

  /**
   * The cluster source, for what is not an object read (origin, mode, the data plane's port-forward reads): every
   * object a layer reads goes through `view` (settle()), whose record callback keeps it for objectOf.
   */
  readonly source: ClusterReader;

  /** The object an evidence line references (by kind, namespace and name), if a stage read it: the latest read wins. */
  objectOf(ref: { kind: string; namespace?: string; name: string }): K8sObject | undefined {
    const key = keyOf(ref.kind, ref.namespace, ref.name);
    for (let i = this.reads.length - 1; i >= 0; i--) {
      const v = this.reads[i];
      const hit = Array.isArray(v)
        ? this.snapshot.indexOf(v).get(key)
        : isObject(v) && keyOf(v.kind, v.metadata.namespace, v.metadata.name) === key
          ? v
          : undefined;
      if (hit) return hit;
    }
    return undefined;
  }

  listener(): Promise<ListenerStage> {
    return (this.l ??= this.settle((v) => resolveListener(v, this.snapshot, this.target, this.filter)));
  }

  /** --internal: which routes make the host public on the public Gateway(s) (gatewayapi/exposure.ts). */
  exposure(): Promise<ExposureStage> {
    return (this.x ??= this.settle((v) => resolveExposure(v, this.snapshot, this.target, this.filter)));
  }

  /** Run a synchronous stage over this attempt's snapshot, making the reads it points at (src/cluster/view.ts). */
  settle<T>(stage: (v: ClusterView) => T): Promise<T> {
    return settle(this.source, () => stage(this.view));
  }

  /** `port`: the Gateway port the proxy forwards to, when the proxy layer saw it (the first call resolves the stage). */
  route(port: PortInUse | null = null): Promise<RouteStage> {
    return (this.r ??= this.listener().then((ls) => {
      if (ls.kind !== 'ok') throw new PipelineBug('the route stage needs a listener that accepts the host');
      return this.settle((v) => resolveRoute(v, this.snapshot, this.target, ls, port));
    }));
  }

  private matched() {
    return this.route().then((rs) => {
      if (rs.kind !== 'matched') throw new PipelineBug('the backend stages need a matched rule');
      return rs;
    });
  }

  grant(): Promise<GrantStage> {
    return (this.g ??= this.matched().then((rs) => this.settle((v) => resolveGrant(v, rs))));
  }

  endpoints(): Promise<EndpointsStage> {
    return (this.e ??= this.matched().then((rs) => this.settle((v) => resolveEndpoints(v, rs))));
  }
}
