// One read-only interface over a cluster, with two backends: live (client-node) and manifests (YAML files).
// Read-only by construction: there is no member that creates, patches or deletes.

import type {
  K8sObject,
  AuthorizationPolicy,
  DestinationRule,
  MeshKind,
  PeerAuthentication,
  EndpointSlice,
  Gateway,
  GatewayClass,
  GRPCRoute,
  HTTPRoute,
  ListenerSet,
  Namespace,
  Node,
  Pod,
  ReferenceGrant,
  Secret,
  Service,
  ServiceEntry,
} from './objects.js';
import type { PodRead } from '../dataplane/envoy-judge.js';
import type { Snapshot } from './snapshot.js';
import type { AdminAnswer } from '../dataplane/envoy-admin.js';

export interface ClusterReader {
  readonly mode: 'live' | 'manifests';
  /** Source description for the report (context and server, or the manifest paths). */
  describeSource(): { context?: string; server?: string; manifests?: string[] };
  gatewayClasses(): Promise<GatewayClass[]>;
  gateways(): Promise<Gateway[]>;
  httpRoutes(): Promise<HTTPRoute[]>;
  /** GRPCRoutes ([] when the API server does not serve the kind). */
  grpcRoutes(): Promise<GRPCRoute[]>;
  /** ListenerSets of gateway.networking.k8s.io/v1 ([] when the API server does not serve the kind). */
  listenerSets(): Promise<ListenerSet[]>;
  /**
   * This attempt's snapshot (src/cluster/snapshot.ts): its indexes, shared by every target, and what could not be read,
   * one typed record per kind (Snapshot.unreadable: the live reader records every read it gives up or takes as none);
   * a new one after refresh().
   */
  snapshot(): Snapshot;
  /** undefined when the Namespace object is not visible (manifests without it). */
  namespace(name: string): Promise<Namespace | undefined>;
  referenceGrants(namespace: string): Promise<ReferenceGrant[]>;
  service(namespace: string, name: string): Promise<Service | undefined>;
  /**
   * A ConfigMap (a Gateway's infrastructure.parametersRef): undefined when it does not exist, null when that cannot be
   * known (manifests without ConfigMaps, or no permission to read it).
   */
  configMap(namespace: string, name: string): Promise<K8sObject | undefined | null>;
  /**
   * One Secret by name (a listener's certificateRef; never a LIST): undefined when it does not exist, null when that
   * cannot be known (manifests that hold no Secret at all). A 403 throws ClusterAccessError('forbidden'): reading
   * Secrets is optional, the caller degrades it to "not checked" with the reason. Its data is non-enumerable (secretView).
   */
  secret(namespace: string, name: string): Promise<Secret | undefined | null>;
  /** Every Service the reader can see (candidates for fixes that need a backend). */
  allServices(): Promise<Service[]>;
  /** Services in a namespace carrying the given labels (used to find a Gateway's generated Service). */
  servicesByLabel(namespace: string, labels: Record<string, string>): Promise<Service[]>;
  endpointSlices(namespace: string, service: string): Promise<EndpointSlice[]>;
  /** Pods matching a selector; null when pods cannot be known (manifests that hold no Pods for the namespace). */
  pods(namespace: string, selector: Record<string, string>): Promise<Pod[] | null>;
  nodes(): Promise<Node[]>;
  /**
   * Every object of one of Istio's kinds the mesh layer reads, cluster-wide. [] when the API server does not serve the
   * kind (Istio not installed); null when that cannot be known (manifests that hold none of the three kinds at all:
   * the mesh layer is then not checked). A 403 throws ClusterAccessError('forbidden'): the mesh layer turns it into
   * "not checked" with the reason, never a pass.
   */
  meshObjects<K extends MeshKind>(kind: K): Promise<MeshObjectOf<K>[] | null>;
  /**
   * Every ServiceEntry (networking.istio.io), cluster-wide: what a backendRef of kind networking.istio.io/Hostname
   * names. [] when the API server does not serve the kind; null when that cannot be known (manifests that hold no
   * ServiceEntry). A 403 throws ClusterAccessError('forbidden').
   */
  serviceEntries(): Promise<ServiceEntry[] | null>;
  /** apiVersion to write a ReferenceGrant with: v1 when the server serves it, else v1beta1. */
  referenceGrantApiVersion(): Promise<string>;
  /** Where an object came from: file and line for manifests, resourceVersion for a live cluster. */
  origin(o: K8sObject): { file: string; line: number } | { resourceVersion: string } | undefined;
  /**
   * Manifests only: objects of this kind in this namespace that `kubectl apply` of the manifests would not leave (a
   * version the API server does not serve, an earlier copy of an object defined twice), each with why.
   */
  notApplied?(kind: string, namespace: string): { object: K8sObject; why: string }[];
  /**
   * Live only: GET `path` of a Pod's port through the API server's pods/portforward (client-node's WebSocket
   * port-forward, then plain HTTP/1.1: what `istioctl` does to istiod's monitoring port; the data plane layer), once per
   * run. Never throws: RBAC's 403 is 'forbidden' (with the verbs and namespace), anything else that stops the read
   * 'unreachable' with why. Never sends anything but GET.
   */
  podPortGet?(namespace: string, pod: string, port: number, path: string): Promise<AdminAnswer>;
  /**
   * Live only: what a gateway Pod's Envoy says about itself, read from its admin port through the API server's
   * pods/portforward (src/dataplane/envoy-admin.ts; optional permission, deploy/rbac-envoy-admin.yaml), once per Pod
   * per run. Never throws: a 403 is 'forbidden' (with the verbs), anything else that stops the read 'unreachable'.
   */
  envoyRead?(namespace: string, pod: string): Promise<PodRead>;
  /** Forget cached reads and the snapshot, so that a --wait retry sees the cluster as it is now. */
  refresh(): void;
}

export type MeshObjectOf<K extends MeshKind> = K extends 'AuthorizationPolicy'
  ? AuthorizationPolicy
  : K extends 'PeerAuthentication'
    ? PeerAuthentication
    : DestinationRule;

/** Where each mesh kind is served (istio.io/api: v1 since Istio 1.22; v1beta1 before). */
export const MESH_KINDS: Record<MeshKind, { group: string; plural: string }> = {
  AuthorizationPolicy: { group: 'security.istio.io', plural: 'authorizationpolicies' },
  PeerAuthentication: { group: 'security.istio.io', plural: 'peerauthentications' },
  DestinationRule: { group: 'networking.istio.io', plural: 'destinationrules' },
};

export function selectorString(labels: Record<string, string>): string {
  return Object.entries(labels)
    .map(([k, v]) => `${k}=${v}`)
    .join(',');
}

export function labelsMatch(selector: Record<string, string>, labels: Record<string, string> | undefined): boolean {
  const have = labels ?? {};
  return Object.entries(selector).every(([k, v]) => have[k] === v);
}
