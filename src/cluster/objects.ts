// The shapes gwdoctor reads, as the API server serves them in JSON (and `kubectl get -o yaml` prints them).
// Only the fields gwdoctor looks at are typed; everything is optional because manifests may omit defaults.

export interface ObjectMeta {
  name: string;
  namespace?: string;
  uid?: string;
  generation?: number;
  creationTimestamp?: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
}

export interface K8sObject {
  apiVersion: string;
  kind: string;
  metadata: ObjectMeta;
}

export interface Condition {
  type: string;
  status: 'True' | 'False' | 'Unknown';
  reason?: string;
  message?: string;
  observedGeneration?: number;
  lastTransitionTime?: string;
}

export interface GatewayClass extends K8sObject {
  spec?: { controllerName?: string };
  status?: { conditions?: Condition[] };
}

export interface LabelSelector {
  matchLabels?: Record<string, string>;
  matchExpressions?: { key: string; operator: 'In' | 'NotIn' | 'Exists' | 'DoesNotExist'; values?: string[] }[];
}

export interface GatewayListener {
  name: string;
  hostname?: string;
  port: number;
  protocol: string;
  tls?: { mode?: string; certificateRefs?: unknown[]; options?: Record<string, string> };
  allowedRoutes?: {
    namespaces?: { from?: 'All' | 'Same' | 'Selector'; selector?: LabelSelector };
    kinds?: { group?: string; kind: string }[];
  };
}

export interface ListenerStatus {
  name: string;
  attachedRoutes?: number;
  conditions?: Condition[];
  supportedKinds?: { group?: string; kind: string }[];
}

export interface Gateway extends K8sObject {
  spec: {
    gatewayClassName: string;
    listeners?: GatewayListener[];
    infrastructure?: { parametersRef?: { group?: string; kind?: string; name?: string } };
    /** Which ListenerSets may attach (gateway-api GatewaySpec.AllowedListeners; default: none). */
    allowedListeners?: { namespaces?: { from?: string; selector?: LabelSelector } };
  };
  status?: { conditions?: Condition[]; listeners?: ListenerStatus[]; addresses?: { type?: string; value: string }[] };
}

export interface ParentReference {
  group?: string;
  kind?: string;
  namespace?: string;
  name: string;
  sectionName?: string;
  port?: number;
}

export interface HTTPPathMatch {
  type?: 'Exact' | 'PathPrefix' | 'RegularExpression' | string;
  value?: string;
}

export interface HTTPRouteMatch {
  path?: HTTPPathMatch;
  headers?: { type?: string; name: string; value: string }[];
  queryParams?: { type?: string; name: string; value: string }[];
  method?: string;
}

export interface HTTPBackendRef {
  group?: string;
  kind?: string;
  name: string;
  namespace?: string;
  port?: number;
  weight?: number;
  filters?: HTTPRouteFilter[];
}

export interface HTTPRequestRedirect {
  scheme?: string;
  hostname?: string;
  path?: {
    type: 'ReplaceFullPath' | 'ReplacePrefixMatch' | string;
    replaceFullPath?: string;
    replacePrefixMatch?: string;
  };
  port?: number;
  statusCode?: number;
}

export interface HTTPRouteFilter {
  type: string;
  requestMirror?: { backendRef?: HTTPBackendRef };
  requestRedirect?: HTTPRequestRedirect;
  urlRewrite?: { hostname?: string; path?: HTTPRequestRedirect['path'] };
}

export interface HTTPRouteRule {
  name?: string;
  matches?: HTTPRouteMatch[];
  backendRefs?: HTTPBackendRef[];
  filters?: HTTPRouteFilter[];
}

export interface RouteParentStatus {
  parentRef: ParentReference;
  controllerName: string;
  conditions?: Condition[];
}

export interface HTTPRoute extends K8sObject {
  spec: { parentRefs?: ParentReference[]; hostnames?: string[]; rules?: HTTPRouteRule[] };
  status?: { parents?: RouteParentStatus[] };
}

/**
 * GRPCRoute (gateway-api apis/v1/grpcroute_types.go): Istio turns each rule into HTTP routes of the same virtual host
 * as the HTTPRoutes of that listener and hostname (see src/gatewayapi/matching.ts grpcEntryMatch).
 */
export interface GRPCMethodMatch {
  type?: 'Exact' | 'RegularExpression' | string;
  service?: string;
  method?: string;
}

export interface GRPCRouteMatch {
  method?: GRPCMethodMatch;
  headers?: { type?: string; name: string; value: string }[];
}

export interface GRPCRouteRule {
  name?: string;
  matches?: GRPCRouteMatch[];
  backendRefs?: HTTPBackendRef[];
  filters?: HTTPRouteFilter[];
}

export interface GRPCRoute extends K8sObject {
  spec: { parentRefs?: ParentReference[]; hostnames?: string[]; rules?: GRPCRouteRule[] };
  status?: { parents?: RouteParentStatus[] };
}

/** The route kinds that Istio programs as HTTP routes of a listener's virtual hosts. */
export type Route = HTTPRoute | GRPCRoute;

export function isGrpcRoute(r: Route): r is GRPCRoute {
  return r.kind === 'GRPCRoute';
}

/** ListenerSet (gateway-api apis/v1/listenerset_types.go, standard since v1.5): more listeners for a parent Gateway. */
export interface ListenerSet extends K8sObject {
  spec: {
    parentRef: { group?: string; kind?: string; namespace?: string; name: string };
    listeners?: (Omit<GatewayListener, 'port'> & { port?: number })[];
  };
  status?: { conditions?: Condition[] };
}

export interface ReferenceGrant extends K8sObject {
  spec: {
    from?: { group?: string; kind?: string; namespace?: string }[];
    to?: { group?: string; kind?: string; name?: string }[];
  };
}

export interface ServicePort {
  name?: string;
  port: number;
  protocol?: string;
  targetPort?: number | string;
  nodePort?: number;
  appProtocol?: string;
}

export interface Service extends K8sObject {
  spec?: {
    type?: string;
    selector?: Record<string, string>;
    ports?: ServicePort[];
    clusterIP?: string;
    externalName?: string;
    publishNotReadyAddresses?: boolean;
    externalTrafficPolicy?: string;
  };
}

export interface EndpointSlice extends K8sObject {
  addressType?: string;
  endpoints?:
    | {
        addresses: string[];
        conditions?: { ready?: boolean | null; serving?: boolean | null; terminating?: boolean | null };
        nodeName?: string;
        targetRef?: { kind?: string; name?: string; namespace?: string };
      }[]
    | null;
  ports?: { name?: string | null; port?: number | null; protocol?: string }[] | null;
}

export interface ContainerStatus {
  name: string;
  ready?: boolean;
  restartCount?: number;
  state?: {
    waiting?: { reason?: string; message?: string };
    terminated?: { reason?: string; exitCode?: number; message?: string };
    running?: { startedAt?: string };
  };
}

export interface Pod extends K8sObject {
  spec?: {
    nodeName?: string;
    /** The workload's identity in the mesh: spiffe://<trust domain>/ns/<ns>/sa/<this> (default: "default"). */
    serviceAccountName?: string;
    containers?: { name: string; ports?: { name?: string; containerPort: number; protocol?: string }[] }[];
  };
  status?: {
    phase?: string;
    podIP?: string;
    conditions?: Condition[];
    containerStatuses?: ContainerStatus[];
  };
}

export interface Namespace extends K8sObject {}

/**
 * A Secret as gwdoctor keeps it: type and metadata name only (no labels or annotations: `kubectl apply` copies the
 * whole Secret into its last-applied annotation). `data`/`stringData` are NON-ENUMERABLE (see secretView): JSON,
 * YAML and util.inspect never print them; only src/gatewayapi/certs.ts reads them, in memory.
 */
export interface Secret extends K8sObject {
  type?: string;
  readonly data?: Record<string, string>;
  readonly stringData?: Record<string, string>;
}

/** The form in which every reader hands out a Secret: a fresh object whose key material cannot be serialised. */
export function secretView(o: {
  apiVersion?: unknown;
  metadata?: { name?: unknown; namespace?: unknown; resourceVersion?: unknown };
  type?: unknown;
  data?: unknown;
  stringData?: unknown;
}): Secret {
  const md = o.metadata ?? {};
  const out: Secret = {
    apiVersion: 'v1',
    kind: 'Secret',
    metadata: {
      name: String(md.name ?? ''),
      ...(typeof md.namespace === 'string' ? { namespace: md.namespace } : {}),
      ...(typeof md.resourceVersion === 'string' ? { resourceVersion: md.resourceVersion } : {}),
    } as ObjectMeta,
    ...(typeof o.type === 'string' ? { type: o.type } : {}),
  };
  const strMap = (v: unknown): Record<string, string> | undefined =>
    v && typeof v === 'object' && !Array.isArray(v)
      ? Object.fromEntries(Object.entries(v).filter((e): e is [string, string] => typeof e[1] === 'string'))
      : undefined;
  Object.defineProperty(out, 'data', { value: strMap(o.data), enumerable: false });
  Object.defineProperty(out, 'stringData', { value: strMap(o.stringData), enumerable: false });
  return out;
}

// ---- Istio's own kinds (istio.io/api security/v1 and networking/v1): only what the mesh layer reads. ----

/** A policy's targetRefs entry (istio.io/api type/v1beta1 PolicyTargetReference). */
export interface PolicyTargetRef {
  group?: string;
  kind?: string;
  name?: string;
  namespace?: string;
}

export interface AuthzSource {
  principals?: string[];
  notPrincipals?: string[];
  requestPrincipals?: string[];
  notRequestPrincipals?: string[];
  namespaces?: string[];
  notNamespaces?: string[];
  ipBlocks?: string[];
  notIpBlocks?: string[];
  remoteIpBlocks?: string[];
  notRemoteIpBlocks?: string[];
  serviceAccounts?: string[];
  notServiceAccounts?: string[];
}

export interface AuthzOperation {
  hosts?: string[];
  notHosts?: string[];
  ports?: string[];
  notPorts?: string[];
  methods?: string[];
  notMethods?: string[];
  paths?: string[];
  notPaths?: string[];
}

export interface AuthzRule {
  from?: { source?: AuthzSource }[];
  to?: { operation?: AuthzOperation }[];
  when?: { key: string; values?: string[]; notValues?: string[] }[];
}

/** security.istio.io AuthorizationPolicy (istio.io/api security/v1beta1/authorization.proto). */
export interface AuthorizationPolicy extends K8sObject {
  spec?: {
    selector?: { matchLabels?: Record<string, string> };
    targetRef?: PolicyTargetRef;
    targetRefs?: PolicyTargetRef[];
    /** ALLOW when unset. */
    action?: 'ALLOW' | 'DENY' | 'AUDIT' | 'CUSTOM' | string;
    provider?: { name?: string };
    rules?: (AuthzRule | null)[];
  } | null;
  status?: { conditions?: Condition[] };
}

/** security.istio.io PeerAuthentication. */
export interface PeerAuthentication extends K8sObject {
  spec?: {
    selector?: { matchLabels?: Record<string, string> };
    mtls?: { mode?: string };
    portLevelMtls?: Record<string, { mode?: string }>;
  } | null;
}

export interface TrafficPolicyTls {
  mode?: 'DISABLE' | 'SIMPLE' | 'MUTUAL' | 'ISTIO_MUTUAL' | string;
  sni?: string;
}

export interface TrafficPolicy {
  tls?: TrafficPolicyTls;
  portLevelSettings?: { port?: { number?: number }; tls?: TrafficPolicyTls }[];
}

/** networking.istio.io DestinationRule. */
export interface DestinationRule extends K8sObject {
  spec?: {
    host?: string;
    exportTo?: string[];
    workloadSelector?: { matchLabels?: Record<string, string> };
    trafficPolicy?: TrafficPolicy;
    subsets?: { name: string; labels?: Record<string, string>; trafficPolicy?: TrafficPolicy }[];
  } | null;
}

/**
 * networking.istio.io ServiceEntry (istio.io/api networking/v1 service_entry.proto): what an HTTPRoute backendRef of
 * kind networking.istio.io/Hostname resolves to.
 */
export interface ServiceEntry extends K8sObject {
  spec?: {
    hosts?: string[];
    addresses?: string[];
    ports?: { number?: number; protocol?: string; name?: string; targetPort?: number }[];
    /** MESH_EXTERNAL when unset. */
    location?: string;
    /** NONE when unset. */
    resolution?: 'NONE' | 'STATIC' | 'DNS' | 'DNS_ROUND_ROBIN' | string;
    endpoints?: { address?: string; ports?: Record<string, number>; labels?: Record<string, string> }[];
    workloadSelector?: { labels?: Record<string, string> };
    exportTo?: string[];
  } | null;
}

/** The Istio kinds the mesh layer reads. */
export type MeshKind = 'AuthorizationPolicy' | 'PeerAuthentication' | 'DestinationRule';

export interface Node extends K8sObject {
  status?: { addresses?: { type: string; address: string }[] };
}

export function nsName(o: K8sObject): string {
  return o.metadata.namespace ? `${o.metadata.namespace}/${o.metadata.name}` : o.metadata.name;
}

export function describe(o: K8sObject): string {
  return `${o.kind} ${nsName(o)}`;
}
