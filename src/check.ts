// A layer as the pipeline runs it, and what it is given. Apart from src/types.ts (the data every module shares), so
// that the data types import no module that imports them back (test/unit/module-graph.test.ts: no type-level cycle).

import type { ClusterReader } from './cluster/reader.js';
import type { LayerDecl } from './registry.js';
import type { PathResolver } from './gatewayapi/resolver.js';
import type {
  Finding,
  GatewayRef,
  HttpProbe,
  LayerId,
  NetworkOptions,
  Observed,
  Probes,
  Resolver,
  Target,
} from './types.js';

export interface CheckContext {
  target: Target;
  /** null when no cluster source is configured (the cluster layers are skipped). */
  cluster: ClusterReader | null;
  clusterUnavailable: string | null;
  gatewayFilter: GatewayRef | null;
  offline: boolean;
  net: NetworkOptions;
  resolver: () => Promise<Resolver>;
  probe: () => Promise<HttpProbe>;
  signal: AbortSignal;
  /** What earlier network layers observed. */
  probes: Probes;
  /** The layers this run has after this one, in order (default: the registry's order). */
  later?: readonly LayerId[];
  /** The resolved request path for this attempt (lazy: a stage is resolved when the first layer needs it). */
  path: PathResolver | null;
  /**
   * Probes that every target of this round of the run shares, by key (the gateway's nodePort on every node: once per
   * Gateway, not per host). A new map each round, as the cluster reader is refreshed then; absent, nothing is shared.
   */
  shared?: Map<string, Promise<unknown>>;
}

/**
 * A layer: its declaration, spread from the registry (`{ ...layer('dns'), run }`: lane, after, needs, inputs; the
 * pipeline derives skips and convergence from it), and its run. Only a stand-in that reads nothing (the --internal
 * layers that do not apply) changes the declaration: `needs: []`.
 */
export interface Check<I extends LayerId = LayerId> extends LayerDecl<I> {
  run(ctx: CheckContext): Promise<Omit<Finding, 'durationMs'> & { observed?: Observed }>;
}
