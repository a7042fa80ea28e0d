// One attempt's view of the cluster, shared by every target of the attempt: what the reader's lists give, indexed
// once (routes by hostname and attachments per Gateway, the classes istiod creates itself added to manifests, the
// Namespaces an allowedRoutes selector needs, "kind namespace/name" per list for evidence), and which kinds could not
// be read. The reader owns it (ClusterReader.snapshot()) and makes a new one on refresh(): a --wait retry sees the
// cluster as it is then. Nothing here is module-level state: an attempt's indexes go when the attempt goes.

import type { GatewayClass, GRPCRoute, HTTPRoute, K8sObject, Namespace, Route } from './objects.js';
import type { UnreadFact } from '../types.js';
import { RouteIndex } from '../gatewayapi/route-index.js';
import { withBuiltinClasses } from '../gatewayapi/classes.js';

/**
 * A kind that could not be read in this attempt (the first failure per kind): typed (src/types.ts UnreadFact), with
 * the API server's own words, quoted in evidence and never parsed.
 */
export interface Unreadable extends UnreadFact {
  message?: string;
}

export const keyOf = (kind: string, namespace: string | undefined, name: string) =>
  `${kind}\0${namespace ?? ''}\0${name}`;
export const isObject = (v: unknown): v is K8sObject => !!v && typeof v === 'object' && 'kind' in v && 'metadata' in v;

/** What one read gave in this attempt: its value, or the error it failed with (thrown again to whoever reads it). */
type Settled = { ok: true; value: unknown } | { ok: false; error: unknown };

/** A read the snapshot does not hold yet, with how to make it (thrown by a synchronous stage; settle() makes the reads). */
export interface Need {
  key: string;
  load: () => Promise<unknown>;
}

/**
 * Thrown by a synchronous look-up that needs reads the snapshot does not hold yet: the async shell (src/cluster/view.ts
 * settle) makes them, stores what they gave, and runs the stage again. Never escapes the shell.
 */
export class Unread extends Error {
  constructor(readonly needs: Need[]) {
    super(`not read yet: ${needs.map((n) => n.key).join(', ')}`);
  }
}

export class Snapshot {
  /** Every read made in this attempt, by method and arguments: value or error (lists first, then the by-name reads). */
  private readonly settled = new Map<string, Settled>();
  private readonly pending = new Map<string, Promise<void>>();
  /** The HTTPRoutes and GRPCRoutes of the attempt as one list (for the pair of lists the reader returned). */
  private merged: { http: HTTPRoute[]; grpc: GRPCRoute[]; routes: Route[] } | undefined;
  private readonly routeIndexes = new Map<Route[], RouteIndex>();
  private classLists: { read: GatewayClass[]; all: GatewayClass[] } | undefined;
  private readonly namespaceMaps = new Map<Route[], Map<string, Namespace | undefined>>();
  private readonly arrayIndexes = new Map<readonly unknown[], Map<string, K8sObject>>();
  private readonly unreadableKinds = new Map<Unreadable['kind'], Unreadable>();

  constructor(readonly mode: 'live' | 'manifests') {}

  /**
   * HTTPRoutes and GRPCRoutes as one list with its index: Istio merges both kinds attached to one listener and
   * hostname into one VirtualService, ordered as one list (pilot/pkg/config/kube/gateway/controller.go
   * "HTTPAndGRPCMerged"). The same list and index for the same pair of lists (every target of the attempt).
   */
  routes(http: HTTPRoute[], grpc: GRPCRoute[]): { routes: Route[]; index: RouteIndex } {
    let routes: Route[] = http;
    if (grpc.length > 0) {
      const had = this.merged;
      routes = had && had.http === http && had.grpc === grpc ? had.routes : [...http, ...grpc];
      this.merged = { http, grpc, routes };
    }
    return { routes, index: this.routeIndex(routes) };
  }

  /** The index of a route list (built once per list and attempt). */
  routeIndex(routes: Route[]): RouteIndex {
    let index = this.routeIndexes.get(routes);
    if (!index) this.routeIndexes.set(routes, (index = new RouteIndex(routes)));
    return index;
  }

  /** The classes read, plus (manifests only) the built-in classes istiod creates itself (gatewayapi/classes.ts). */
  classes(read: GatewayClass[]): GatewayClass[] {
    if (this.mode !== 'manifests') return read;
    if (this.classLists?.read !== read) this.classLists = { read, all: withBuiltinClasses(read) };
    return this.classLists.all;
  }

  /** Namespace objects of the routes' namespaces (for allowedRoutes Selectors), looked up once per route list. */
  namespaces(
    routes: Route[],
    read: (names: string[]) => (Namespace | undefined)[],
  ): Map<string, Namespace | undefined> {
    let m = this.namespaceMaps.get(routes);
    if (!m) {
      const names = [...new Set(routes.map((r) => r.metadata.namespace ?? 'default'))];
      const got = read(names); // throws (nothing kept) until every Namespace is read
      m = new Map(names.map((n, i) => [n, got[i]]));
      this.namespaceMaps.set(routes, m);
    }
    return m;
  }

  /** "Kind namespace/name" -> object for one list a reader returned, indexed once per attempt (the last of duplicates). */
  indexOf(arr: readonly unknown[]): Map<string, K8sObject> {
    let idx = this.arrayIndexes.get(arr);
    if (!idx) {
      idx = new Map();
      for (const o of arr) if (isObject(o)) idx.set(keyOf(o.kind, o.metadata.namespace, o.metadata.name), o);
      this.arrayIndexes.set(arr, idx);
    }
    return idx;
  }

  /** The value of a read made in this attempt (or its error, thrown); throws Unread when it has not been made yet. */
  read<T>(key: string, load: () => Promise<T>): T {
    const s = this.settled.get(key);
    if (s) {
      if (s.ok) return s.value as T;
      throw s.error;
    }
    throw new Unread([{ key, load }]);
  }

  /** Make the reads a stage needs (each once per attempt, however many targets ask), and store what they gave. */
  async fill(needs: Need[]): Promise<void> {
    await Promise.all(
      needs.map((n) => {
        let p = this.pending.get(n.key);
        if (!p) {
          // Started now (a prefetch's reads go out at once), and never rejects: a load that throws before it returns a
          // promise is settled as that error, like a rejection.
          let started: Promise<unknown>;
          try {
            started = n.load();
          } catch (error) {
            started = Promise.reject(error);
          }
          p = started.then(
            (value) => void this.settled.set(n.key, { ok: true, value }),
            (error: unknown) => void this.settled.set(n.key, { ok: false, error }),
          );
          this.pending.set(n.key, p);
        }
        return p;
      }),
    );
  }

  /** Record a read that failed (the reader calls it where it gives a read up or takes it as none); the first per kind. */
  recordUnreadable(u: Unreadable): void {
    if (!this.unreadableKinds.has(u.kind)) this.unreadableKinds.set(u.kind, u);
  }

  /** Kinds read so far in this attempt that could not be read, one record each, in the order they failed. */
  unreadable(): Unreadable[] {
    return [...this.unreadableKinds.values()];
  }
}
