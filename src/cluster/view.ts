// The synchronous side of a snapshot: the reader's look-ups, answered from what this attempt has read (src/cluster/
// snapshot.ts). The stages (src/gatewayapi/path.ts) are plain synchronous functions of a view; settle() is their
// async shell: it runs the stage, makes the reads the stage found missing (each once per attempt, shared by every
// target), and runs it again until it is whole. A read's error is stored like its value and thrown to the stage that
// reads it, so it surfaces at the layer that needs it, as before.

import type { ClusterReader } from './reader.js';
import type { ReadKind } from '../registry.js';
import { Unread, type Need, type Snapshot, type Unreadable } from './snapshot.js';

/** The reader's look-ups a stage makes, in the snapshot's synchronous form. */
const READS = [
  'gatewayClasses',
  'gateways',
  'httpRoutes',
  'grpcRoutes',
  'listenerSets',
  'namespace',
  'referenceGrants',
  'service',
  'configMap',
  'secret',
  'allServices',
  'servicesByLabel',
  'endpointSlices',
  'pods',
  'nodes',
  'serviceEntries',
  'meshObjects',
  'referenceGrantApiVersion',
] as const;
type ReadName = (typeof READS)[number];

/** The snapshot's key of a read: the reader's method and its arguments (the same read is made once per attempt). */
export const readKey = (name: string, args: readonly unknown[]): string => `${name}\0${JSON.stringify(args)}`;

/**
 * The kinds a stage reads as one cluster-wide list every time a layer that declares them runs (src/registry.ts
 * `inputs`): the lists the by-name reads point from, each as the view's read (method and arguments). They are read
 * together before the stages run (prefetch below). Every other kind is read by name or namespace where a list points
 * at it (a backend's Service, a namespace's ReferenceGrants, a listener's Secret), or as a list only when something
 * points at it: ListenerSets when a Gateway admits any (allowedListeners), Nodes for the proxy's direct NodePort
 * probe, ServiceEntries for a Hostname backend, every Service for a fix's candidates. Reading those up front would add
 * requests most runs never make. So would the mesh layer's three Istio lists: it runs after the endpoints layer,
 * which stops it when it fails (measured: 100 hosts whose Services have no Pods, 21 requests -> 24); they are read
 * together when it runs (checks/mesh.ts).
 */
export const LIST_READS: Partial<Record<ReadKind, { name: ReadName; args: readonly unknown[] }>> = {
  GatewayClass: { name: 'gatewayClasses', args: [] },
  Gateway: { name: 'gateways', args: [] },
  HTTPRoute: { name: 'httpRoutes', args: [] },
  GRPCRoute: { name: 'grpcRoutes', args: [] },
};

/**
 * Start, together, the list reads of `kinds` (the inputs of the layers an attempt will run) in `reader`'s snapshot,
 * before any stage runs: lists first, then the stages' settle() makes the by-name reads they point at. Each read is
 * made once per attempt; what it gives (or fails with) is kept for the stage that reads it, which joins a read still
 * in flight. Returns when every read has settled (nothing is thrown here: a failure surfaces at the layer that needs
 * it); a caller need not wait for it.
 */
export function prefetch(reader: ClusterReader, kinds: Iterable<ReadKind>): Promise<void> {
  const needs = new Map<string, Need>();
  for (const k of kinds) {
    const read = LIST_READS[k];
    if (!read) continue;
    const key = readKey(read.name, read.args);
    const method = reader[read.name] as (...a: unknown[]) => Promise<unknown>;
    needs.set(key, { key, load: () => method.apply(reader, [...read.args]) });
  }
  return reader.snapshot().fill([...needs.values()]);
}

export type ClusterView = {
  readonly mode: ClusterReader['mode'];
  /** What this attempt could not read, one typed record per kind (Snapshot.unreadable). */
  unreadable(): Unreadable[];
  notApplied: ClusterReader['notApplied'];
  /** Something a stage needs that is not a cluster read (a library loaded on demand), once per attempt. */
  load<T>(key: string, load: () => Promise<T>): T;
} & {
  [K in ReadName]: (...args: Parameters<ClusterReader[K]>) => Awaited<ReturnType<ClusterReader[K]>>;
};

/**
 * A view of `reader`'s snapshot; `record` sees every value the view returns (the path's evidence finds the objects it
 * names among them: src/gatewayapi/resolver.ts objectOf).
 */
export function viewOf(reader: ClusterReader, record: (v: unknown) => void = () => {}): ClusterView {
  const snap: Snapshot = reader.snapshot();
  const view: Record<string, unknown> = {
    mode: reader.mode,
    unreadable: () => snap.unreadable(),
    notApplied: reader.notApplied?.bind(reader),
    load: <T>(key: string, load: () => Promise<T>): T => snap.read(`load\0${key}`, load),
  };
  for (const name of READS) {
    const method = reader[name] as (...a: unknown[]) => Promise<unknown>;
    view[name] = (...args: unknown[]) => {
      const v = snap.read(readKey(name, args), () => method.apply(reader, args));
      record(v);
      return v;
    };
  }
  return view as ClusterView;
}

/** Run the look-ups of `fns` as one step: every read any of them misses is made together (what Promise.all was). */
export function both<A, B>(a: () => A, b: () => B): [A, B] {
  const [x, y] = all<A | B>([a, b]);
  return [x as A, y as B];
}
export function all<T>(fns: (() => T)[]): T[] {
  const needs: Need[] = [];
  const out: T[] = [];
  for (const f of fns) {
    try {
      out.push(f());
    } catch (err) {
      if (!(err instanceof Unread)) throw err;
      needs.push(...err.needs);
    }
  }
  if (needs.length > 0) throw new Unread(needs);
  return out;
}

/** The async shell of a synchronous stage: run it, make the reads it missed, run it again, until it is whole. */
export async function settle<T>(reader: ClusterReader, stage: () => T): Promise<T> {
  const snap = reader.snapshot();
  for (;;) {
    try {
      return stage();
    } catch (err) {
      if (!(err instanceof Unread)) throw err;
      await snap.fill(err.needs);
    }
  }
}
