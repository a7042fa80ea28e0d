// A cluster reader that records which kinds are read (src/registry.ts READ_KINDS), and by which layer: the check of
// each layer's declared `inputs` (test/unit/layer-graph.test.ts). Every method of the reader is either a read of one
// kind or named as not a read; a method that is neither fails the test, so a new read gets a kind.

import type { ClusterReader } from '../../src/cluster/reader.js';
import type { MeshKind } from '../../src/cluster/objects.js';
import type { ReadKind } from '../../src/registry.js';

/** Which kind each read of ClusterReader reads. */
export const KIND_OF_READ: Record<string, ReadKind | ((...args: unknown[]) => ReadKind)> = {
  gatewayClasses: 'GatewayClass',
  gateways: 'Gateway',
  httpRoutes: 'HTTPRoute',
  grpcRoutes: 'GRPCRoute',
  listenerSets: 'ListenerSet',
  namespace: 'Namespace',
  referenceGrants: 'ReferenceGrant',
  referenceGrantApiVersion: 'ReferenceGrant',
  service: 'Service',
  allServices: 'Service',
  servicesByLabel: 'Service',
  configMap: 'ConfigMap',
  secret: 'Secret',
  endpointSlices: 'EndpointSlice',
  pods: 'Pod',
  nodes: 'Node',
  meshObjects: (kind) => kind as MeshKind,
  serviceEntries: 'ServiceEntry',
  podPortGet: 'IstiodDebug',
  envoyRead: 'EnvoyAdmin',
};
/** Members of ClusterReader that read nothing from the cluster. */
// snapshot(): the attempt's indexes over what was read (src/cluster/snapshot.ts); its reads go through the reader.
const NOT_READS = new Set(['mode', 'describeSource', 'origin', 'notApplied', 'refresh', 'snapshot']);

export interface Recording {
  reader: ClusterReader;
  /** Who is reading now (set by the test, e.g. from the pipeline's onLayerStart). */
  current: { layer: string | null };
  /** layer -> kinds read while it was current. */
  reads: Map<string, Set<ReadKind>>;
  /** Members called that are neither a known read nor known not to read. */
  unknown: Set<string>;
}

export function recording(inner: ClusterReader): Recording {
  const rec: Recording = { reader: inner, current: { layer: null }, reads: new Map(), unknown: new Set() };
  rec.reader = new Proxy(inner, {
    get(target, prop, _receiver) {
      const v = Reflect.get(target, prop, target);
      if (typeof prop !== 'string' || typeof v !== 'function') return v;
      return (...args: unknown[]) => {
        const k = KIND_OF_READ[prop];
        if (k !== undefined) {
          const kind = typeof k === 'function' ? k(...args) : k;
          const who = rec.current.layer ?? '(no layer)';
          let set = rec.reads.get(who);
          if (!set) rec.reads.set(who, (set = new Set()));
          set.add(kind);
        } else if (!NOT_READS.has(prop)) rec.unknown.add(prop);
        return v.apply(target, args);
      };
    },
  });
  return rec;
}
