// The registry: every layer and every reason code gwdoctor emits, once. The reason-code reference in README.md is
// generated from it (npm run docs; test/unit/registry.test.ts keeps the two in step), the JSON schema's enums and
// --list-codes are checked against it, and each layer takes its title from here. Codes are stable once released.
// Every finding with a code is built from its entry (emit in src/findings.ts: status, retryable, README anchor).
// Adding a layer: its module in checks/, an entry in LAYERS below (and its codes), and its place in checks/index.ts.

/**
 * The kinds a layer may read through the cluster reader (src/cluster/reader.ts: one list or get per kind; the two
 * live-only debug reads are `IstiodDebug`, istiod's debug port through pods/portforward, and `EnvoyAdmin`, a gateway
 * Pod's admin port through pods/portforward).
 */
export const READ_KINDS = [
  'GatewayClass',
  'Gateway',
  'HTTPRoute',
  'GRPCRoute',
  'ListenerSet',
  'Namespace',
  'ReferenceGrant',
  'Service',
  'ConfigMap',
  'Secret',
  'EndpointSlice',
  'Pod',
  'Node',
  'AuthorizationPolicy',
  'PeerAuthentication',
  'DestinationRule',
  'ServiceEntry',
  'IstiodDebug',
  'EnvoyAdmin',
] as const;
export type ReadKind = (typeof READ_KINDS)[number];

/**
 * A lane is a chain of layers that stop together, named after the source its layers read: the network lane (what a
 * client sees, probed again on every attempt) and the cluster lane (the objects; between --wait attempts only a live
 * cluster changes). How a fail or error stops the layers declared `after` it (src/pipeline.ts stopOf):
 * - a layer is stopped by the first fail or error of the layers it comes after (its `after`, transitively);
 * - one of its own lane before that of another lane, when it reads its lane's source (`needs` names the lane);
 * - a fail of another lane stops it unless the code says it stops only its own lane (`stops: 'lane'`: an internal
 *   host the proxy serves, the cluster layers still run to name the route behind it), and an error (a layer that
 *   could not look) never stops another lane, as long as this layer has what it `needs` (a cluster source): then it
 *   looks for itself, and the run names what it can;
 * - a layer that reads nothing of its lane (the --internal stand-ins that do not apply, `needs: []`) is stopped by
 *   the first fail or error it comes after, whatever its lane.
 */
export const LANES = ['network', 'cluster'] as const;
export type Lane = (typeof LANES)[number];
/** What a layer cannot run without: network probes (skipped by --offline) or a cluster source. */
export type Need = Lane;

/**
 * The layers, in the order the pipeline runs them (checks/index.ts follows it; a test checks that the order is a
 * topological order of `after`). Per layer: `lane` (above), `after` (the layers whose fail or error stops it; the
 * stop rule is the lane's), `needs` (what it is skipped without), `inputs` (the object kinds its check reads, as
 * src/cluster/reader.ts names them: what a per-attempt snapshot reads for it; test/unit/layer-graph.test.ts runs
 * the scenario corpus with a reader that records every kind read and fails on an undeclared one) and `couldNotLook`
 * (the code of a look it could not carry out at all).
 */
export const LAYERS = [
  {
    id: 'dns',
    title: 'the host resolves to the reverse proxy',
    heading: 'DNS layer',
    lane: 'network',
    after: [],
    needs: ['network'],
    inputs: [],
    couldNotLook: 'DnsResolverError',
    readme: `the host resolves (and, with \`--expect-ip\`, to your reverse proxy)`,
    hop: 'DNS',
    internal: {
      passes: 'the host has no public answer (NXDOMAIN/NODATA), or it resolves (the proxy is then asked)',
      fails: '- (a resolver error is inconclusive)',
    },
  },
  {
    id: 'proxy',
    title: 'the reverse proxy answers TLS and forwards to the gateway',
    heading: 'Proxy layer',
    lane: 'network',
    after: ['dns'],
    needs: ['network'],
    // With a cluster source (optional): the direct NodePort probes take their Gateway and listener from the resolved
    // path (the listener stage: what the listener layer reads), then its Service, the Nodes and the gateway Pods.
    inputs: [
      'GatewayClass',
      'Gateway',
      'HTTPRoute',
      'GRPCRoute',
      'ReferenceGrant',
      'Service',
      'ConfigMap',
      'Secret',
      'EndpointSlice',
      'Pod',
      'Node',
    ],
    couldNotLook: 'ProxyProbeError',
    readme: 'the proxy answers TLS for the host and forwards to the gateway',
    hop: 'TLS proxy',
    internal: {
      passes: `every resolved address refuses it: connection refused, TLS refused or no valid certificate for it, Envoy's own \`404\` (no route), Envoy's own \`403\`, any other 4xx/5xx that is not a backend's`,
      fails: `a backend answered through Envoy (\`x-envoy-upstream-service-time\`), any 2xx/3xx, or an Envoy reply that presupposes a route (\`503 UH\`, \`500 NC\`, ...)`,
    },
  },
  {
    id: 'listener',
    title: 'a Gateway listener accepts the host',
    heading: 'Listener layer',
    lane: 'cluster',
    after: ['proxy'],
    needs: ['cluster'],
    inputs: [
      'GatewayClass',
      'Gateway',
      'HTTPRoute',
      'GRPCRoute',
      'ReferenceGrant',
      'Service',
      'ConfigMap',
      'Secret',
      'EndpointSlice',
      'Pod',
    ],
    couldNotLook: 'ClusterUnreachable',
    readme: 'a Gateway listener accepts the host; the Gateway is Accepted and Programmed',
    hop: 'Gateway listener',
    internal: {
      passes: '(information) the public Gateway exists; no listener accepting the host is proof on its own',
      fails: `\`--gateway\` names a Gateway that does not exist (\`GatewayNotFound\`)`,
    },
  },
  {
    id: 'route',
    title: 'an HTTPRoute for the host is attached and matches the path',
    heading: 'Route layer',
    lane: 'cluster',
    after: ['listener'],
    needs: ['cluster'],
    inputs: [
      'GatewayClass',
      'Gateway',
      'HTTPRoute',
      'GRPCRoute',
      'ListenerSet',
      'Namespace',
      'ReferenceGrant',
      'Service',
      'ConfigMap',
      'Secret',
      'EndpointSlice',
      'Pod',
    ],
    couldNotLook: 'ClusterUnreachable',
    readme: 'an HTTPRoute for the host is attached, Accepted, and one of its rules matches the path',
    hop: 'HTTPRoute',
    internal: {
      passes: `no accepted HTTPRoute or GRPCRoute (Istio serves both kinds in one route list) on the public Gateway (the one given with \`--gateway\`, else every ingress Gateway whose listener accepts the host) serves the host, on any path`,
      fails: `a route serves it: the finding names the route and, offline, its \`file:line\``,
    },
  },
  {
    id: 'grant',
    title: 'ReferenceGrants permit cross-namespace backends',
    heading: 'Grant layer',
    lane: 'cluster',
    after: ['route'],
    needs: ['cluster'],
    inputs: [
      'GatewayClass',
      'Gateway',
      'HTTPRoute',
      'GRPCRoute',
      'ListenerSet',
      'Namespace',
      'ReferenceGrant',
      'Service',
      'ConfigMap',
      'Secret',
      'EndpointSlice',
      'Pod',
    ],
    couldNotLook: 'ClusterUnreachable',
    readme: 'a ReferenceGrant permits every cross-namespace backendRef of that rule',
    hop: 'ReferenceGrant',
  },
  {
    id: 'endpoints',
    title: 'the backend Service has ready endpoints',
    heading: 'Endpoints layer',
    lane: 'cluster',
    after: ['grant'],
    needs: ['cluster'],
    inputs: [
      'GatewayClass',
      'Gateway',
      'HTTPRoute',
      'GRPCRoute',
      'ListenerSet',
      'Namespace',
      'ReferenceGrant',
      'Service',
      'ConfigMap',
      'Secret',
      'EndpointSlice',
      'Pod',
      'ServiceEntry',
    ],
    couldNotLook: 'ClusterUnreachable',
    readme: `the backend Service exists, has the backendRef's port, and has ready endpoints`,
    hop: 'Service → Pod',
  },
  {
    id: 'mesh',
    title: 'the mesh lets the request through to the Pod',
    heading: 'Mesh layer',
    lane: 'cluster',
    after: ['endpoints'],
    needs: ['cluster'],
    inputs: [
      'GatewayClass',
      'Gateway',
      'HTTPRoute',
      'GRPCRoute',
      'Namespace',
      'Service',
      'ConfigMap',
      'EndpointSlice',
      'Pod',
      'AuthorizationPolicy',
      'PeerAuthentication',
      'DestinationRule',
    ],
    couldNotLook: 'ClusterUnreachable',
    readme: `Istio lets the request through: no AuthorizationPolicy at the ingress gateway denies \`GET host/path\` (CUSTOM, DENY, ALLOW with no matching rule); the backend's waypoint is bound and has Pods; no DestinationRule TLS mode or STRICT PeerAuthentication the backend cannot speak`,
    hop: 'Mesh policy',
    skips: ['no-mesh-objects'],
  },
  {
    id: 'dataplane',
    title: "the gateway's Envoy serves what the cluster says",
    heading: 'Data plane layer',
    lane: 'cluster',
    after: ['mesh'],
    needs: ['cluster'],
    // Live only: the route and endpoints stages, istiod's debug port, the gateway Pods' Envoy admin port.
    inputs: [
      'GatewayClass',
      'Gateway',
      'HTTPRoute',
      'GRPCRoute',
      'ListenerSet',
      'Namespace',
      'ReferenceGrant',
      'Service',
      'ConfigMap',
      'Secret',
      'EndpointSlice',
      'Pod',
      'ServiceEntry',
      'IstiodDebug',
      'EnvoyAdmin',
    ],
    couldNotLook: 'ClusterUnreachable',
    readme: `(live clusters only) the gateway's Pods are connected to istiod and acknowledged its last push: no NACK (quoted), nothing stale; read from every istiod Pod's \`/debug/syncz\` as \`istioctl proxy-status\` reads it, through \`pods/portforward\` to its monitoring port 15014 (opt-in [\`deploy/rbac-dataplane.yaml\`](deploy/rbac-dataplane.yaml); without it "not checked" with the missing verbs). Then each gateway Pod's Envoy itself, read like \`istioctl proxy-config\` through \`pods/portforward\` to its admin port (opt-in [\`deploy/rbac-envoy-admin.yaml\`](deploy/rbac-envoy-admin.yaml); without it "Envoy not checked" with the verbs): the listener, virtual host, route and cluster it uses for the request against gwdoctor's prediction, pushes it rejected (its own error text), hosts it ejected while the EndpointSlices call them ready, and Pods whose Envoys disagree`,
    hop: 'Gateway Envoy',
    skips: ['not-live', 'no-istiod', 'forbidden'],
  },
] as const satisfies readonly (Omit<LayerDecl<string>, 'after'> & LayerDocs & { after: readonly string[] })[];

export type LayerId = (typeof LAYERS)[number]['id'];

/**
 * Why a layer was not checked (facts.skipped.reason): the pipeline's and the run's reasons (`stopped`: after the layer
 * whose fail or error stopped it; `offline`, `no-cluster`: a need the run does not have; `interrupted`, `deadline`:
 * the run ended first; `internal`: it does not apply to an internal host), then each layer's own (`skips`).
 */
export const SKIP_REASONS = ['stopped', 'offline', 'no-cluster', 'interrupted', 'deadline', 'internal'] as const;
type LayerSkips = (typeof LAYERS)[number] extends infer L
  ? L extends { skips: readonly (infer R)[] }
    ? R
    : never
  : never;
export type SkipReason = (typeof SKIP_REASONS)[number] | LayerSkips;
/** Every skip reason, in the order the JSON schema lists them (npm run docs). */
export const ALL_SKIP_REASONS: readonly SkipReason[] = [
  ...SKIP_REASONS,
  ...LAYERS.flatMap((l): readonly SkipReason[] => ('skips' in l ? l.skips : [])),
];
/** Every layer named in an `after` is a layer (a type error otherwise). */
const afterNamesLayers: [(typeof LAYERS)[number]['after'][number]] extends [LayerId] ? true : never = true;
void afterNamesLayers;
/** The code of a look a layer could not carry out at all (an unexpected GwdoctorError in it, findings.ts). */
export type CouldNotLook = 'DnsResolverError' | 'ProxyProbeError' | 'ClusterUnreachable';

/** How a layer is shown: what the README and the reports say about it (generated from here: npm run docs). */
interface LayerDocs {
  /** The heading of its reason codes in the README. */
  heading: string;
  /** What it checks: its row of the README's layer table (markdown). */
  readme: string;
  /** Its short name: its hop in the HTML report's path. */
  hop: string;
  /**
   * For an --internal host (checks/internal.ts): when it passes and when it fails, for a layer with a judge of its own
   * there; a layer without does not apply to an internal host (skipped, reason `internal`).
   */
  internal?: { passes: string; fails: string };
  /** The reasons it may give for not checking, besides the pipeline's (SKIP_REASONS; facts.skipped.reason). */
  skips?: readonly string[];
}

/**
 * What a layer declares: the registry's entries, and what a Check carries (spread from `layer(id)`, so that the
 * pipeline reads the declaration from the layers it is given). `I` is the id type (a string for a layer a test
 * declares).
 */
export interface LayerDecl<I extends string = LayerId> {
  id: I;
  title: string;
  lane: Lane;
  after: readonly (LayerId | I)[];
  needs: readonly Need[];
  inputs: readonly ReadKind[];
  couldNotLook: CouldNotLook;
}

function entry(id: LayerId): (typeof LAYERS)[number] {
  const l = LAYERS.find((x) => x.id === id);
  if (!l) throw new Error(`unknown layer ${id}`);
  return l;
}
export function couldNotLookCode(id: LayerId): CouldNotLook {
  return entry(id).couldNotLook;
}
export function laneOf(id: LayerId): Lane {
  return entry(id).lane;
}
export const LAYER_IDS = LAYERS.map((l) => l.id) as readonly LayerId[];

export function layerMeta<I extends LayerId>(id: I): { id: I; title: string } {
  return { id, title: entry(id).title };
}

/** A layer's short name (its hop in the HTML report). */
export function hopName(id: LayerId): string {
  return entry(id).hop;
}

/** A layer's whole declaration (what a Check spreads: `{ ...layer('dns'), run }`). */
export function layer<I extends LayerId>(id: I): LayerDecl<I> {
  const { heading: _, readme: _r, hop: _h, ...rest } = entry(id);
  const { skips: _s, internal: _i, ...decl } = rest as typeof rest & { skips?: unknown; internal?: unknown };
  return { ...decl, id };
}

export interface CodeInfo {
  /** The layer(s) that emit it; 'any' for cluster-access problems any cluster layer can hit. */
  layer: LayerId | readonly LayerId[] | 'any';
  /** The status a finding with this code has: fail (found the fault), warn, or error (could not look). */
  severity: 'fail' | 'warn' | 'error';
  /**
   * Can --wait see it change by itself (a controller or rollout catching up)? A map when it depends on the cause: the
   * finding's constructor then takes one of its keys (`emit(check, code, summary, { cause })`, src/findings.ts).
   */
  retryable: boolean | Readonly<Record<string, boolean>>;
  /** The README entry (markdown). */
  doc: string;
  /** 'lane': a fail with this code stops only its own lane (Lane above); the other lanes still run. */
  stops?: 'lane';
}

export const CODES = {
  DnsNoRecords: {
    layer: 'dns',
    severity: 'fail',
    retryable: false,
    doc: `The host has no A/AAAA records (NXDOMAIN or NODATA). Fix: create an A record (or a CNAME) pointing at the reverse
proxy; check with \`dig +short A api.example.com\`.`,
  },
  DnsResolverError: {
    layer: 'dns',
    severity: 'error',
    retryable: true,
    doc: `No resolver gave an answer (SERVFAIL, REFUSED, timeout). Inconclusive. Fix: check \`/etc/resolv.conf\` or the server given
with \`--resolver\`.`,
  },
  DnsUnexpectedAddress: {
    layer: 'dns',
    severity: 'fail',
    retryable: false,
    doc: `The host resolves, but not to the address given with \`--expect-ip\` (the reverse proxy). Fix: point the record at the
proxy; a record pointing at a node or at the Gateway's in-cluster address bypasses TLS termination.`,
  },
  DnsLinkLocalAddress: {
    layer: 'dns',
    severity: 'fail',
    retryable: false,
    doc: `The host resolves to a link-local address (169.254.0.0/16, fe80::/10) or to a cloud metadata service
(169.254.169.254, AWS's fd00:ec2::254, Alibaba Cloud's 100.100.100.200). A public host never does: clients are sent to
their own network link, and on a cloud machine to the service that hands out the instance's credentials (what a
DNS-rebinding attack aims at). gwdoctor does not send its probe there unless \`--expect-ip\` names the address, and the
proxy layer is not checked. Fix: point the record at the reverse proxy; if that address really is your proxy, pass it
with \`--expect-ip\`.`,
  },
  DnsInconsistent: {
    layer: 'dns',
    severity: 'warn',
    retryable: false,
    doc: `(warning) Resolvers disagree about the host (split horizon, stale record). Fix: make the records agree, or know which
resolver your clients use.`,
  },
  ProxyUnreachable: {
    layer: 'proxy',
    severity: 'fail',
    retryable: true,
    doc: `Nothing answers HTTPS on the resolved address and port (refused, reset, timeout). Fix: check that the proxy listens
there (\`curl -v https://api.example.com/\`) and that no firewall drops it.`,
  },
  ProxyProbeError: {
    layer: 'proxy',
    severity: 'error',
    retryable: true,
    doc: `(inconclusive, exit 2) The proxy layer could not carry out its probe at all (not an answer from the network: e.g. a
file it needs became unreadable during the run); the message says what. Fix: correct what the message names and rerun.`,
  },
  TlsCertificateInvalid: {
    layer: 'proxy',
    severity: 'fail',
    retryable: false,
    doc: `The certificate the proxy serves for this name is expired, for another name, or from an untrusted CA. Fix: inspect it
with the printed \`openssl s_client\` command and renew or re-issue it; pass \`--ca-file\` for a private CA. Note that a
\`*.example.com\` certificate covers one label only (\`a.b.example.com\` needs its own).`,
  },
  TlsCertificateExpiring: {
    layer: 'proxy',
    severity: 'warn',
    retryable: false,
    doc: `(warning) The certificate expires within 14 days. Fix: renew it (check the ACME client or cert-manager).`,
  },
  ProxyUpstreamError: {
    layer: 'proxy',
    severity: 'fail',
    retryable: true,
    doc: `The proxy itself answered 502/503/504 (no \`x-envoy-*\` headers): it cannot reach the Gateway's NodePort. Fix: the
proxy's upstream must be \`<node-ip>:<gateway nodePort>\` (e.g. \`32080\`). When the gateway does not answer straight
at its NodePort either (or no listener accepts the host, so there is no NodePort to ask), the 502 is only what the
client gets: with cluster access the cluster layers still run, and a listener or data plane layer fail (a Gateway
istiod does not program, no listener for the host or port) is the verdict instead; this code remains when none
explains it.`,
  },
  GatewayNoListenerForSni: {
    layer: 'proxy',
    severity: 'fail',
    retryable: false,
    doc: `The Gateway listener the path uses is HTTPS, so the proxy re-encrypts to the gateway's NodePort, and the gateway's
Envoy resets the TLS handshake for the server name (SNI) the proxy sends: it has no filter chain for it (a handshake
reset, no HTTP status at all; the proxy answers 502). gwdoctor's direct probe speaks TLS to the NodePort with the SNI
the listener's hostname requires (the requested host) and without SNI, and names the listener hostnames. Fix: make the
proxy send the host as SNI: nginx \`proxy_ssl_server_name on; proxy_ssl_name $host;\` (the default is off: no SNI);
HAProxy \`server gw <node-ip>:<nodePort> ssl sni req.hdr(host) ...\`; Caddy \`transport http { tls_server_name <host> }\`
in the \`reverse_proxy\` block. When the gateway resets even the handshake with the host as SNI, the reset is only what
the client gets: with cluster access a listener or data plane layer fail (no certificate istiod could load: a missing
Secret or ReferenceGrant, a listener not ready) is the verdict instead; this code remains when none explains it.`,
  },
  GatewayProxyNodeSilent: {
    layer: 'proxy',
    severity: 'fail',
    retryable: true,
    doc: `The proxy forwards to the gateway's NodePort on one node (the DNS answer or \`--expect-ip\` names a Node's
InternalIP), its request fails with no answer from the gateway, and nothing answers on that node's nodePort, while other
nodes answer on the same nodePort. With \`externalTrafficPolicy: Local\` only the nodes that run a ready gateway Pod
answer clients from outside the node: after a reschedule the proxy points at a silent node. (A proxy that runs on that
node and is served is not this fault: kube-proxy sends traffic that starts on the node to every ready endpoint; that
is [\`GatewayNodesPartlySilent\`](#gatewaynodespartlysilent).)
gwdoctor probes the nodePort on every Node's InternalIP and lists which answer and which hold a ready gateway Pod
(\`facts.nodes\`). Fix: point the proxy at a node that runs a gateway Pod; or set \`externalTrafficPolicy: Cluster\`
(every node forwards, at the cost of the client's source IP, which is replaced by SNAT, and an extra hop; Istio writes
the Service from the Gateway, so set it through the Gateway's \`infrastructure.parametersRef\` ConfigMap, key
\`service\`); or run a gateway Pod on every node the proxy may use.`,
  },
  GatewayNodesPartlySilent: {
    layer: 'proxy',
    severity: 'warn',
    retryable: true,
    doc: `(warning) The gateway's nodePort answers on some Nodes' InternalIPs and not on others (with \`externalTrafficPolicy:
Local\`, the nodes without a ready gateway Pod), and nothing names the node the proxy uses, or the proxy runs on a silent
node and is served anyway (kube-proxy sends traffic that starts on a node to every ready endpoint, even with
\`Local\`: \`pkg/proxy/nftables/proxier.go\` "short-circuit local traffic"). The request worked this time; a proxy
elsewhere pointed at a silent node fails. \`facts.nodes\` lists every node, whether it answered and whether it holds a
ready gateway Pod. Fix: pass \`--expect-ip\` with the address the proxy forwards to so gwdoctor can judge that node, and
see [\`GatewayProxyNodeSilent\`](#gatewayproxynodesilent) for the remedies.`,
  },
  ProxyErrorResponse: {
    layer: 'proxy',
    severity: 'fail',
    retryable: true,
    doc: `The request ends in a 4xx/5xx that nothing identifies as the Istio gateway's: no \`server: istio-envoy\`/\`envoy\`, no
\`x-envoy-*\` header, no Envoy body, and the direct NodePort probe (when gwdoctor can make it) does not show Envoy
answering the same. An empty \`404\` is only the *shape* of Envoy's "no route" reply; any web server can send one, so
gwdoctor never takes it for Envoy's on its own. Fix: see who answers with the printed \`curl -sv\`; the proxy's upstream
must be \`<node-ip>:<gateway nodePort>\` with \`Host $host\`. Rerun with cluster access so the direct probe can compare.
When the answer has the shape of an Envoy reply (an empty 404) and the gateway cannot be asked (no listener accepts the
host) or gives no HTTP answer, a fail of the listener layer, or of the layers that reply points at (an empty 404: the
route layer), is the verdict instead.`,
  },
  ProxyNotForwardingToGateway: {
    layer: 'proxy',
    severity: 'fail',
    retryable: false,
    doc: `The proxy answers, but the answer does not come from the Istio gateway, while the gateway answers correctly when asked
directly. Fix: point the proxy at the gateway and send the client's host: nginx needs \`proxy_set_header Host $host;\`
(its default is the upstream address, which matches no route: Envoy answers 404).`,
  },
  ProxyHttp10Upstream: {
    layer: 'proxy',
    severity: 'fail',
    retryable: false,
    doc: `The proxy forwards the request to the gateway as HTTP/1.0, and Istio's gateway Envoy refuses HTTP/1.0: it answers
\`426 Upgrade Required\` (every listener istiod writes for a gateway has \`accept_http_10\` off). gwdoctor asks the proxy in
HTTP/1.1 and the gateway's NodePort answers it, so the downgrade is the proxy's. Fix for nginx, whose default
\`proxy_http_version\` is 1.0: \`proxy_http_version 1.1;\` in the \`location\` that proxies to the gateway. Caddy's
\`reverse_proxy\` speaks HTTP/1.1 or 2 upstream by default (transport \`versions\`, default \`1.1 2\`), and HAProxy sends
HTTP/1.1 upstream for HTTP/1.1 and HTTP/2 clients (it keeps only an HTTP/1.0 client's version): behind either, look for
another hop between it and the gateway that speaks HTTP/1.0. The \`server\` header of the answer names the proxy when it
sends one.`,
  },
  RedirectLoop: {
    layer: 'proxy',
    severity: 'fail',
    retryable: false,
    doc: `The proxy redirects \`https://host/path\` to itself (typically an HTTP->HTTPS redirect behind a TLS-terminating proxy).
Fix: do not redirect on the cluster side, or forward \`X-Forwarded-Proto\` and trust it.`,
  },
  GatewayNotFound: {
    layer: 'listener',
    severity: 'fail',
    retryable: false,
    doc: `No Gateway with an HTTP/HTTPS listener exists (or the one given with \`--gateway\`). Fix: \`kubectl get gateways -A\`;
create the Gateway the routes name, or check that gwdoctor reads the right cluster/context.`,
  },
  GatewayNotAccepted: {
    layer: 'listener',
    severity: 'fail',
    retryable: { pending: true, rejected: false },
    doc: `Predicted without status when its \`infrastructure.parametersRef\` is not a core ConfigMap, or names a ConfigMap that
does not exist (live; with manifests only when they hold ConfigMaps): Istio answers \`Accepted=False/InvalidParameters\`
and deploys nothing. The Gateway is \`Accepted=False\` (e.g. \`InvalidParameters\`: its \`infrastructure.parametersRef\` ConfigMap is missing), or
its \`gatewayClassName\` names a GatewayClass that does not exist, so no controller will accept it. Fix: read the message
with \`kubectl -n <ns> describe gateway <name>\`; Istio's class is \`istio\`.`,
  },
  GatewayNotProgrammed: {
    layer: 'listener',
    severity: 'fail',
    retryable: true,
    doc: `Also predicted without status when the Gateway's own Service (label
\`gateway.networking.k8s.io/gateway-name\`) has no endpoint at all: real istiod then writes \`Programmed=False/AddressNotAssigned\`
(a crash-looping gateway Pod's not-ready endpoint still counts for istiod). The Gateway is \`Programmed=False\`. With Istio, \`AddressNotAssigned\` "no instances found" means the gateway pods are not
ready. Fix: \`kubectl -n <ns> get pods,svc -l gateway.networking.k8s.io/gateway-name=<gateway>\`.`,
  },
  GatewayClassNotIstio: {
    layer: 'listener',
    severity: 'fail',
    retryable: false,
    doc: `The Gateway's GatewayClass is owned by another controller (\`spec.controllerName\` is not \`istio.io/gateway-controller\`,
nor Istio's mesh or unmanaged-gateway controller): Istio never programs it, whatever the status says. Fix: the printed
patch sets \`gatewayClassName\` to a class Istio owns (usually \`istio\`), guarded by a \`test\` of the current value.`,
  },
  GatewayStatusStale: {
    layer: 'listener',
    severity: 'warn',
    retryable: true,
    doc: `(warning) The Gateway's status is older than its spec; the verdict is predicted from the spec. Fix: wait for the
controller (\`--wait\`), or check that istiod runs and is the status leader.`,
  },
  ListenerHostnameMismatch: {
    layer: 'listener',
    severity: 'fail',
    retryable: false,
    doc: `No listener hostname accepts the host. Fix: gwdoctor prints a \`kubectl patch\` that appends a listener for the host — a
copy (port, protocol, tls, allowedRoutes) of a listener that can carry HTTPRoutes, never of a TLS/TCP listener — or
widen the listener's hostname. Remember that \`*.example.com\` never matches \`example.com\`.`,
  },
  ListenerNotReady: {
    layer: 'listener',
    severity: 'fail',
    retryable: false,
    doc: `The listener that accepts the host is not usable: its status says \`Accepted=False\`, \`Conflicted=True\`,
\`Programmed=False\` or \`ResolvedRefs=False\`, or it is \`HTTPS\` without a \`tls\` section (Istio skips it). Fix: read
\`status.listeners\` of the Gateway.`,
  },
  ListenerCertificateRefInvalid: {
    layer: 'listener',
    severity: 'fail',
    retryable: { 'secret-missing': true, rejected: false },
    doc: `The HTTPS listener that accepts the host terminates TLS with a \`certificateRefs\` entry Istio rejects: not a core
\`Secret\` (another group/kind), a Secret that does not exist (or of type \`helm.sh/release.v1\` /
\`kubernetes.io/service-account-token\`, which istiod never watches), a Secret without non-empty \`tls.crt\`+\`tls.key\`
(or \`cert\`+\`key\`), a certificate or key that does not parse, a key that does not match the certificate, or more than 2
refs. Istio then reports the listener \`ResolvedRefs=False/InvalidCertificateRef\` and \`Programmed=False/Invalid\` "Bad
TLS configuration" (and the Gateway \`Accepted=False/ListenersNotValid\` when no listener is valid); nothing is served on
it. A missing Secret is re-checked by \`--wait\` (cert-manager or an external-secrets operator may be about to write it); the
other causes are not. Istio does not check the Secret's \`type\`: an \`Opaque\` Secret with \`tls.crt\`/\`tls.key\` works (shown as evidence).
gwdoctor reads only the referenced Secrets (GET by name) and never prints their data: evidence is subject, SANs, issuer
and validity. Fix: create the Secret (\`kubectl -n NS create secret tls NAME --cert=fullchain.pem --key=privkey.pem\`, or
let cert-manager issue it), or point the ref at an existing one. Reading Secrets is optional: without permission (or
with manifests that hold no Secret) the listener passes with "certificate not checked" and the reason; see
[\`deploy/rbac-secrets.yaml\`](deploy/rbac-secrets.yaml) to grant it narrowly.`,
  },
  ListenerCertificateInvalid: {
    layer: 'listener',
    severity: 'fail',
    retryable: false,
    doc: `The HTTPS listener's certificate loads, but cannot serve the host: it is expired (or not yet valid), or none of its
DNS SANs covers the host (a wildcard covers exactly one label; the subject CN is not used, as by browsers and Go). Istio
does not check this (the listener stays \`Programmed=True\`, Envoy serves the certificate anyway): every client that
verifies it — a browser, or a reverse proxy that verifies its upstream — fails the TLS handshake. Fix: renew or re-issue
the certificate in the named Secret for the host.`,
  },
  ListenerCertificateExpiring: {
    layer: 'listener',
    severity: 'warn',
    retryable: false,
    doc: `(warning) The HTTPS listener's certificate for the host expires within 14 days (the days left are shown). Fix: renew it
(check cert-manager or whatever writes the Secret).`,
  },
  NoRouteForHost: {
    layer: 'route',
    severity: 'fail',
    retryable: false,
    doc: `No HTTPRoute attached to the listener serves the host; Envoy answers 404. The evidence names routes that serve the host
but are attached elsewhere (another Gateway, or a less specific listener). Fix: a new HTTPRoute (a name no route in that
namespace has) on the listener that accepts the host, forwarding to the likeliest Service (by the host's first label);
\`choices\` lists the other candidates. When no Service matches, the fix is \`manual\`.`,
  },
  RouteNotAccepted: {
    layer: ['listener', 'route'],
    severity: 'fail',
    retryable: false,
    doc: `Also when Istio drops the whole route: a Service backendRef named by its hostname
(\`example-api.example-api.svc.cluster.local\`) is \`ResolvedRefs=False/InvalidDestination\` and none of the route's rules is
programmed; the fix names the Service (and its namespace) instead. The same for a filter type Istio does not implement
(an \`ExtensionRef\`, an experimental filter) on any rule or backendRef of the route: Istio answers
\`ResolvedRefs=False/InvalidFilter\` "unsupported filter type" and programs none of its rules, so the host gets 404
unless another route serves it (HTTPRoute rules: \`RequestHeaderModifier\`, \`ResponseHeaderModifier\`, \`RequestRedirect\`,
\`RequestMirror\`, \`URLRewrite\`, \`CORS\`; GRPCRoute rules: the header modifiers and \`RequestMirror\`; backendRefs: the
header modifiers). That fix is \`manual\`: removing the filter would also drop what it enforced. Reported at the **listener** layer when the Gateway the route names has no listener that can carry an HTTPRoute at
all (only TLS/TCP listeners, or \`allowedRoutes.kinds\` that leave HTTPRoute out): Istio marks the route
\`Accepted=False/NotAllowedByListeners\` — not a hostname mismatch — and the fix appends a plain HTTP listener for the
host (never a copy of a TLS/TCP listener). Otherwise at the route layer: A route for the host names the Gateway but is not accepted: \`NotAllowedByListeners\` (the route's namespace is not
allowed by \`allowedRoutes\`, which defaults to \`from: Same\`; a ReferenceGrant does not help here),
\`NoMatchingListenerHostname\` (its \`sectionName\` points at a listener whose hostname does not intersect) or
\`NoMatchingParent\` (\`sectionName\`/\`port\` not on the Gateway). Also used when Istio dropped the route
(\`ResolvedRefs=False\` with \`InvalidDestination\`/\`InvalidFilter\`/\`InvalidConfiguration\`). When several routes for the
host are not accepted, gwdoctor blames the one whose parentRef targets the listener that accepts the host. Fix: for a
namespace not allowed by \`from: Same\`, a patch to a Selector that admits the Gateway's namespace and the route's; for
\`from: Selector\`, a label on the route's namespace that the selector asks for (the listener stays as it is); for a
wrong \`sectionName\`/\`port\`, a patch of that one parentRef.`,
  },
  RouteParentNotFound: {
    layer: 'route',
    severity: 'fail',
    retryable: false,
    doc: `A route for the host names a parent Gateway that does not exist, often because \`parentRefs[].namespace\` was left out
and defaults to the route's own namespace. Fix: set the parentRef's name and namespace as printed.`,
  },
  RouteNoMatchingRule: {
    layer: 'route',
    severity: 'fail',
    retryable: false,
    doc: `Routes serve the host, but none of their rules matches the path (Envoy answers 404). The evidence lists every rule
tried and any wildcard route shadowed by an exact-host route. Fix: add a rule for the path, or request a path that a rule
matches.`,
  },
  RouteNoBackends: {
    layer: 'route',
    severity: 'fail',
    retryable: false,
    doc: `The matching rule has no backendRefs, or only weight-0 ones: the gateway answers 500. Fix: weight 1 for the first
backendRef, or a backendRef to the likeliest Service.`,
  },
  NamespaceLabelsUnknown: {
    layer: 'route',
    severity: 'warn',
    retryable: false,
    doc: `(warning, manifests only) The listener admits routes by a namespace \`selector\`, and the route's Namespace object is not in the
manifests, so its labels (other than the implicit \`kubernetes.io/metadata.name\`) are unknown: gwdoctor assumes the route
attaches and says so instead of guessing. Fix: include the Namespace manifests, or run against the cluster.`,
  },
  RouteStatusStale: {
    layer: 'route',
    severity: 'warn',
    retryable: true,
    doc: `(warning) The route's status is older than its spec (\`observedGeneration < generation\`): the controller has not caught
up. The verdict follows the spec. Fix: wait (\`--wait\`); if it stays stale, check istiod.`,
  },
  RouteStatusMissing: {
    layer: 'route',
    severity: 'fail',
    retryable: true,
    doc: `The Gateway has fresh controller status, but the route has none for it although its spec attaches it: the controller
did not process it. Fix: \`kubectl get httproute <name> -o yaml\`, istiod logs; \`--wait\` retries.`,
  },
  ListenerPortsDiffer: {
    layer: 'route',
    severity: 'warn',
    retryable: false,
    doc: `(warning) The Gateway accepts the host on several ports (e.g. listeners on 80 and 8080) and the ports answer
differently (another route wins, another backend, or one port fails), but gwdoctor cannot tell which port your proxy
forwards to. Each listener port is served on its own (Istio builds one Envoy listener and route configuration per
port), so the evidence lists every port's answer and which port was judged and why (the port the direct NodePort
probes showed the proxy reaching is judged without a warning; else the only port the gateway Service exposes as a
NodePort, else the only plain-HTTP port, else the lowest). Fix: rerun with \`--gateway NS/NAME:PORT\`, PORT being the listener
port or the nodePort your proxy forwards to; with it, a failing port fails and the others are shown as evidence.`,
  },
  RedirectDisagrees: {
    layer: 'route',
    severity: 'warn',
    retryable: true,
    doc: `(warning) The rule that serves the request has a \`RequestRedirect\` filter, so Envoy itself answers with the
predicted status code and \`Location\`, but the proxy probe got another answer (another status code or Location, or
an answer from the backend). The evidence shows both. Likely causes: istiod has not pushed the route yet, another
route or port serves the host, or the proxy rewrites \`Location\` (nginx \`proxy_redirect\`). Fix: compare with
\`curl -sI https://host/path\` and \`istioctl proxy-config routes\` on the gateway pod; \`--wait\` retries.`,
  },
  InternalHostExposed: {
    layer: ['proxy', 'route'],
    severity: 'fail',
    retryable: false,
    // Exposed at the proxy: the cluster lane still runs, to name the route behind it.
    stops: 'lane',
    doc: `A host given with \`--internal\` (or \`internal:\` in \`gwdoctor.yaml\`) must not be public, but it is: at the **route**
layer an HTTPRoute attached to the public Gateway (the one given with \`--gateway\`, else every ingress Gateway whose
listener accepts the host) serves it (the evidence names the route and, offline, its file:line); at the **proxy** layer the
request through the reverse proxy reached a backend (a 2xx/3xx, or any answer an upstream gave through Envoy). Envoy's own
404 (no route), a refused connection or TLS handshake, or no public DNS answer are what an internal host should get.
Fix: when the route also serves other hostnames, a JSON patch that removes just this hostname (guarded by \`test\`); when
it serves only this host, a patch that detaches it from the public Gateway (removes that parentRef; an internal Gateway
it also names keeps it). A route that serves the host through a wildcard or without hostnames gets a \`manual\` fix:
removing the wildcard would unpublish other hosts.`,
  },
  RouteParentNotChecked: {
    layer: 'route',
    severity: 'error',
    retryable: false,
    doc: `(inconclusive) No route attached to the Gateway's own listener serves the host, but a route for the host attaches
to a \`ListenerSet\` (or a ListenerSet of that Gateway has a listener for the host). Istio programs a ListenerSet's
listeners on its parent Gateway; gwdoctor does not model them, so it says "parent kind ListenerSet not checked" instead
of claiming that no route exists. Fix: read the ListenerSet's status and the route's \`status.parents\`.`,
  },
  GRPCRouteNotChecked: {
    layer: 'route',
    severity: 'warn',
    retryable: false,
    doc: `(warning) gwdoctor's user may not list GRPCRoutes (a role written before gwdoctor read them): the run goes on
with none, and a rule that would pass says a GRPCRoute for the host was not checked (any other verdict carries the
note). A GRPCRoute could take the request: Istio merges GRPCRoutes and HTTPRoutes of a listener and hostname into one
route list and matches gRPC methods by path only (\`/service/method\`, no POST or content-type condition). The refused
read is in \`facts.unread\` (\`reason: forbidden\`, verb, resource, HTTP status). Fix: let the user list \`grpcroutes\`
(\`deploy/rbac.yaml\` grants it).`,
  },
  ListenerSetNotChecked: {
    layer: 'route',
    severity: 'warn',
    retryable: false,
    doc: `(warning) A rule on the Gateway's own listener serves the host, but a ListenerSet is in the picture (a route for the
host attaches to one, or a ListenerSet of the Gateway has a listener accepting the host, which may be the more specific
listener): parent kind ListenerSet not checked. Fix: check that the ListenerSet's listener and routes do what you expect.
Also when gwdoctor's user may not list ListenerSets (and GRPCRoutes are readable): the run goes on without them and
says so. Fix: let the user list \`listenersets\` (\`deploy/rbac.yaml\` grants it).`,
  },
  ReferenceGrantMissing: {
    layer: ['listener', 'grant'],
    severity: 'fail',
    retryable: false,
    doc: `A backendRef of the matching rule points into another namespace and no ReferenceGrant there permits it; the route stays
\`Accepted=True\`, its status says \`ResolvedRefs=False/RefNotPermitted\`, and the gateway answers 500. Near misses
(grant in the route's namespace, wrong \`from.namespace\`, \`from.kind: Gateway\`, \`to.name\` of another Service) are listed
as evidence. Fix: gwdoctor prints the complete ReferenceGrant to apply in the backend's namespace. Also reported at the
**listener** layer for an HTTPS listener whose \`certificateRefs\` Secret is in another namespace without a ReferenceGrant
there \`from: {group: gateway.networking.k8s.io, kind: Gateway, namespace: <gateway ns>}\` \`to: {group: "", kind: Secret}\`:
istiod then marks the listener \`ResolvedRefs=False/RefNotPermitted\`, \`Accepted=False\`, \`Programmed=False\` and serves
nothing on it, so the request fails at the listener before any route is chosen; the fix is the exact ReferenceGrant for
that Secret (in the Secret's namespace, a name no grant there has, the version the API server serves).`,
  },
  ServiceNotFound: {
    layer: ['grant', 'endpoints'],
    severity: 'fail',
    retryable: false,
    doc: `The backendRef's Service does not exist (\`ResolvedRefs=False/BackendNotFound\`; the gateway answers 500). Reported at
the **grant** layer when the ref crosses namespaces and no ReferenceGrant permits it (a grant for a Service that does not
exist would not help, so gwdoctor never prints one), else at endpoints. Fix: when the Pods that would back it run in that
namespace (a workload named like the Service, or Pods labelled \`app.kubernetes.io/name\`, \`app\`, \`k8s-app\` or \`name\`
with exactly its name), the Service to apply: the selector those Pods share that selects only them (per-revision labels
such as \`pod-template-hash\` left out), the backendRef's port, and the targetPort from their container port. It
re-points nothing: the route already names it. Otherwise \`manual\`: create it, or make the backendRef name the Service it
means, with the namespace's Services as candidates (closest names first). gwdoctor never renames the backendRef
itself: a similar name is not the same Service (\`example-api-admin\` is not \`example-api\`). Manifests without Pods
(from git) cannot show what would back it, so the fix there is \`manual\`.`,
  },
  MirrorBackendUnresolved: {
    layer: 'grant',
    severity: 'warn',
    retryable: false,
    doc: `(warning) A \`RequestMirror\` filter of the matched rule names a Service that does not exist, or one in another namespace
that no ReferenceGrant permits. Istio drops only the mirror (the route's status says \`ResolvedRefs=False\`) and still
serves the request from the rule's backends, so nothing fails, but no copies are sent. Fix: the ReferenceGrant
printed, or correct/remove the mirror's backendRef.`,
  },
  ServicePortMismatch: {
    layer: 'endpoints',
    severity: 'fail',
    retryable: false,
    doc: `The backendRef's port is not one of the Service's ports (Istio does not check this: status stays \`ResolvedRefs=True\`,
requests get 500). Usually the targetPort or container port was used. Fix: the printed \`kubectl patch\` sets the Service
port.`,
  },
  NoReadyEndpoints: {
    layer: 'endpoints',
    severity: 'fail',
    retryable: true,
    doc: `The Service has no ready endpoints for the port: the gateway answers 503 "no healthy upstream". The evidence lists the
pods and why they are not ready. Fix: the printed \`kubectl describe pod\` / \`kubectl logs --previous\`.`,
  },
  BackendConnectFailed: {
    layer: ['endpoints', 'mesh', 'proxy'],
    severity: 'fail',
    retryable: true,
    doc: `The Service has ready endpoints, and the gateway still answers 503 \`upstream connect error or disconnect/reset before
headers. ... reset reason: ...\`: Envoy cannot connect to them, or they reset the connection. Nothing gwdoctor reads
explains it: nothing listens on the targetPort, a NetworkPolicy drops the gateway's traffic, or the gateway and the backend
disagree on TLS (a DestinationRule \`tls.mode\` SIMPLE or ISTIO_MUTUAL to a plaintext backend; the reset reason then names
TLS or the connection's termination). The finding quotes Envoy's reset reason. The endpoints layer hands the answer to the
[mesh layer](#mesh-layer), which names a DestinationRule TLS mode the Pods cannot speak
([\`DestinationRuleTlsMismatch\`](#destinationruletlsmismatch)) or STRICT PeerAuthentication on a plaintext hop
([\`PeerAuthenticationStrict\`](#peerauthenticationstrict)); this code is what is left when neither applies (or the mesh
objects could not be read). Fix: check the Pods' listening port and the DestinationRules for the host
(\`kubectl get destinationrules.networking.istio.io -A\`).`,
  },
  NoPodsSelected: {
    layer: 'endpoints',
    severity: 'fail',
    retryable: false,
    doc: `The Service's selector matches no Pod. Fix: when exactly one workload in the namespace has the Service's targetPort
as a container port, the selector patch (JSON patch: a \`test\` of the current selector, then the selector that selects
exactly that workload's Pods, keeping the current keys where those Pods have them). When several do, they are named and
\`kubectl -n <ns> get pods --show-labels\` is printed: which one the Service means is a person's choice.`,
  },
  WaypointNotReady: {
    layer: 'endpoints',
    severity: 'fail',
    retryable: true,
    doc: `Ambient mode: the backend Service (or its Namespace) has \`istio.io/use-waypoint: NAME\` and
\`istio.io/ingress-use-waypoint: "true"\`, istiod binds the Service to that waypoint (it was ready once: its Gateway has
\`status.addresses\`, which istiod never removes), and the waypoint has no ready endpoint now: the ingress gateway still
sends the request there and answers \`503 no healthy upstream\`. A waypoint that never became ready, does not exist,
serves another traffic type or does not admit the Service's namespace is not used at all (traffic goes straight to the
Pods): that is [\`WaypointNotBound\`](#waypointnotbound) at the mesh layer, a warning. Fix: look at the waypoint's Pods
(the printed \`kubectl get pods,services\`).`,
  },
  EndpointsUnknown: {
    layer: 'endpoints',
    severity: 'warn',
    retryable: false,
    doc: `(warning) The manifests hold no EndpointSlices or Pods for the Service (manifests from git), so readiness was not
checked. Fix: run against the live cluster, or include a \`kubectl get -o yaml\` dump of EndpointSlices and Pods.`,
  },
  BackendKindUnsupported: {
    layer: 'endpoints',
    severity: 'warn',
    retryable: false,
    doc: `(warning) The backendRef is a kind Istio supports but gwdoctor does not check (\`InferencePool\`), an
\`ExternalName\` Service, or a \`networking.istio.io/Hostname\` whose endpoints the gateway decides at request time (a
ServiceEntry with resolution \`DNS\`, \`DNS_ROUND_ROBIN\` or \`NONE\`, or a workloadSelector that selects no Pod gwdoctor
can see: WorkloadEntries are not read), whose ServiceEntry could not be read, or that is a Kubernetes Service's own
hostname (\`NAME.NS.svc.cluster.local\`: istiod resolves it like that Service): its endpoints were not checked. A
Hostname backend with a \`STATIC\` ServiceEntry is checked: the entry must be in the route's namespace
([\`ServiceEntryNotFound\`](#serviceentrynotfound)), have the backendRef's port
([\`ServicePortMismatch\`](#serviceportmismatch)) and endpoints ([\`NoReadyEndpoints\`](#noreadyendpoints)).`,
  },
  ServiceEntryNotFound: {
    layer: 'endpoints',
    severity: 'fail',
    retryable: false,
    doc: `The backendRef is a \`networking.istio.io/Hostname\` (a host a ServiceEntry defines), and no ServiceEntry in the
route's own namespace lists that host. istiod looks a Hostname backendRef up only among the Services and ServiceEntries
of the route's namespace (the kind takes no \`namespace\`; \`conversion.go\` buildDestination, \`LookupHostname\`): a
ServiceEntry for the same host in \`istio-system\` or the app's namespace does not count. istiod reports
\`ResolvedRefs=False/BackendNotFound\` "backend(HOST) not found"; when no ServiceEntry the gateway sees (\`exportTo\`)
lists the host either, the gateway has no cluster for it and answers 500 (one it sees still carries the traffic:
[\`ServiceEntryNotInRouteNamespace\`](#serviceentrynotinroutenamespace)). The evidence names the ServiceEntries of other
namespaces that list the host. Fix (manual): define the ServiceEntry in the route's namespace, or move the route to
the ServiceEntry's.`,
  },
  ServiceEntryNotInRouteNamespace: {
    layer: 'endpoints',
    severity: 'warn',
    retryable: false,
    doc: `(warning) The \`networking.istio.io/Hostname\` backendRef is served through a ServiceEntry of another namespace that
is exported to the gateway's namespace: istiod resolves the ref only in the route's namespace and reports
\`ResolvedRefs=False/BackendNotFound\`, but it keeps the host and port in the route (\`conversion.go\`: invalid backends
are kept), and the gateway, which sees the entry, routes to it. The request works (measured: the real Envoy answers
200 from the entry's endpoint) while the route's status says it is broken (Argo CD health, \`kubectl wait\`). Fix
(manual): define the ServiceEntry in the route's namespace.`,
  },
  BackendKindInvalid: {
    layer: 'endpoints',
    severity: 'fail',
    retryable: false,
    doc: `The backendRef is a group/kind Istio does not route to (for example a \`ServiceEntry\` itself, or a ConfigMap):
\`ResolvedRefs=False/InvalidKind\`, and the gateway answers 500. Fix: reference a Service, or a
\`networking.istio.io/Hostname\` that a ServiceEntry defines.`,
  },
  MeshNotChecked: {
    layer: 'mesh',
    severity: 'warn',
    retryable: false,
    doc: `(warning) gwdoctor's user may not list \`authorizationpolicies\`/\`peerauthentications\` (security.istio.io) or
\`destinationrules\` (networking.istio.io): the mesh was not checked, and the reason (verb, resource) is shown — never a
silent pass. Fix: bind the ClusterRole in [\`deploy/rbac.yaml\`](deploy/rbac.yaml), which grants \`list\` on exactly those
three. (With \`--manifests\` that hold none of the three kinds, the layer is shown as not checked instead.)`,
  },
  AuthorizationDenied: {
    layer: 'mesh',
    severity: 'fail',
    retryable: false,
    doc: `An Istio \`AuthorizationPolicy\` with \`action: DENY\` that reaches the ingress gateway (a \`targetRefs\` entry naming the
Gateway from its own namespace, a \`selector\` matching the gateway Pods' labels, or no selector in the gateway's
namespace or in the root namespace \`istio-system\`) has a rule that matches \`GET host/path\`: Envoy answers \`403\`
\`RBAC: access denied\`. DENY is evaluated before ALLOW, so no ALLOW rule can help. The finding names the policy, the
rule and the Envoy RBAC policy istiod generates for it (\`ns[NS]-policy[NAME]-rule[I]\`). Fix (only if the request is
meant to be served): a JSON patch that adds this path to \`notPaths\` of the rule's operations, guarded by a \`test\` of
the rule; every other request the rule denies stays denied. gwdoctor never deletes a policy.`,
  },
  AuthorizationNotAllowed: {
    layer: 'mesh',
    severity: 'fail',
    retryable: false,
    doc: `At least one \`ALLOW\` AuthorizationPolicy reaches the ingress gateway and none of its rules matches \`GET host/path\`
(including an ALLOW policy without rules, \`spec: {}\`, which allows nothing): once any ALLOW policy applies, everything
it does not allow is denied, and Envoy answers \`403 RBAC: access denied\`. The evidence says, rule by rule, why none
matched (a host, path or method not listed; \`principals\`/\`namespaces\`, which never match a client outside the mesh).
Fix: a JSON patch that appends one rule to the policy nearest the gateway, for exactly this host, \`GET\` and this path
(\`to: [{operation: {hosts, methods, paths}}]\`), guarded by a \`test\` of the current rules; nothing is widened to
\`{}\`.`,
  },
  AuthorizationCustom: {
    layer: 'mesh',
    severity: 'warn',
    retryable: false,
    doc: `(warning) A \`CUSTOM\` AuthorizationPolicy at the gateway sends this request to an external authorizer (its
\`provider\`), whose answer gwdoctor cannot know. Fix: check the authorizer's decision for the request (and that the
provider is defined in the mesh config's \`extensionProviders\`: istiod denies what the rules match otherwise).`,
  },
  AuthorizationUndetermined: {
    layer: 'mesh',
    severity: 'warn',
    retryable: false,
    doc: `(warning) Whether an AuthorizationPolicy at the gateway allows the request depends on something gwdoctor does not know:
the client's address (\`ipBlocks\`, \`remoteIpBlocks\`), a JWT (\`requestPrincipals\`, \`request.auth.*\`) or a header
(\`when: request.headers[...]\`). The policy and rule are named. Fix: check the rule against what your clients send.`,
  },
  AuthorizationPolicyNotApplied: {
    layer: 'mesh',
    severity: 'warn',
    retryable: false,
    doc: `(warning) An AuthorizationPolicy names the ingress Gateway in \`targetRefs\` but never reaches it: it is in another
namespace than the Gateway (Istio attaches a policy only to a Gateway of its own namespace), or its targetRef names
another namespace. The policy you meant to protect (or open) the host with does nothing. Fix: create it in the
Gateway's namespace.`,
  },
  DestinationRuleTlsMismatch: {
    layer: 'mesh',
    severity: 'fail',
    retryable: false,
    doc: `The DestinationRule the ingress gateway uses for the backend (one in the gateway's namespace first, then one in the
Service's namespace exported to it, then the root namespace's; a \`portLevelSettings\` entry for the port wins) sets a TLS
mode the backend cannot speak: \`SIMPLE\`/\`MUTUAL\` TLS origination to a port that speaks plaintext HTTP (its
\`appProtocol\` or name says \`http\`, \`http2\`, \`grpc\`, \`h2c\`), or \`ISTIO_MUTUAL\` to Pods outside the mesh (no
sidecar, not ambient). The handshake fails: Envoy answers \`503 upstream connect error or disconnect/reset before
headers ... remote connection failure\`. The evidence says how the gateway connects, what the port speaks and whether
the Pod is in the mesh. Fix: a JSON patch of that one \`tls.mode\` (guarded by a \`test\` of the current value): \`DISABLE\`
for a plaintext Pod outside the mesh, \`ISTIO_MUTUAL\` for a Pod with a sidecar.`,
  },
  PeerAuthenticationStrict: {
    layer: 'mesh',
    severity: 'fail',
    retryable: false,
    doc: `A \`PeerAuthentication\` with \`mtls.mode: STRICT\` applies to the backend Pod (a workload-selector policy of its
namespace, else the namespace's, else the root namespace's; a port-level mode wins) and the Pod's sidecar enforces it,
but the gateway reaches the Pod in plaintext: a DestinationRule sets \`tls.mode: DISABLE\`, or automatic mTLS does not
apply because the Pod lacks the label \`security.istio.io/tlsMode=istio\`. The sidecar resets the connection: 503. Fix:
\`tls.mode: ISTIO_MUTUAL\` in that DestinationRule (JSON patch guarded by \`test\`). A STRICT policy on a Pod outside the
mesh has nothing to enforce it and is shown as evidence only.`,
  },
  WaypointNotBound: {
    layer: 'mesh',
    severity: 'warn',
    retryable: true,
    doc: `(warning) The backend Service asks ingress traffic to go through a waypoint (\`istio.io/use-waypoint\` and
\`istio.io/ingress-use-waypoint: "true"\` on the Service or its Namespace), but istiod does not bind it: the waypoint
Gateway does not exist, never became ready (no \`status.addresses\`; istiod writes \`istio.io/WaypointBound=False\`
\`WaypointIsNotReady\` on the Service), is for another traffic type (\`istio.io/waypoint-for: workload\`), or its HBONE
listener does not admit the Service's namespace (\`AttachmentDenied\`). The request still works — istiod sends it
straight to the Pods — but the waypoint's L7 policies (named in the evidence) are silently absent: a security surprise,
not an outage. Fix: create the waypoint (printed: the Gateway \`istioctl waypoint apply\` creates), find why its Pods
never became ready, or correct its traffic type or allowed namespaces.`,
  },
  WaypointBypassedByIngress: {
    layer: 'mesh',
    severity: 'warn',
    retryable: false,
    doc: `(warning) The backend Service is bound to a waypoint that AuthorizationPolicies are written for (\`targetRefs\` to the
Service, the waypoint Gateway, or the \`istio-waypoint\` GatewayClass), but it lacks \`istio.io/ingress-use-waypoint:
"true"\` (on the Service or its Namespace): the ingress gateway sends its traffic straight to the Pods, and those
policies never see requests from the internet. Fix: a JSON patch that labels the Service
\`istio.io/ingress-use-waypoint=true\`.`,
  },
  DataplaneNotChecked: {
    layer: 'dataplane',
    severity: 'warn',
    retryable: false,
    doc: `(warning) The user may read istiod's debug state (the opt-in [\`deploy/rbac-dataplane.yaml\`](deploy/rbac-dataplane.yaml)
is bound), but it could not be read, and the reason is shown — never a silent pass. gwdoctor reads it as \`istioctl
proxy-status\` does: a port-forward through the API server to each running istiod Pod (label \`app=istiod\` in
\`istio-system\`) on its monitoring port (its \`prometheus.io/port\` annotation, else 15014), then \`GET /debug/syncz\`;
a port-forward lands on the Pod's loopback, the caller istiod serves \`/debug/*\` to (pilot/pkg/xds/debug.go
\`allowAuthenticatedOrLocalhost\`; through \`services/proxy\` istiod answers 401, so gwdoctor never asks there). The
reasons: no istiod Pod could be read (the API server could not reach the kubelet of its node, istiod did not answer:
the error is quoted), istiod answered something else than its sync state, the gateway has no running Pod to ask about,
or a gateway Pod is missing from the istiod replicas that answered while another replica could not be read (each
replica lists only the proxies connected to it). Fix: the step shown (look at istiod's Pods; \`istioctl proxy-status\`
uses the same port-forward). Without the opt-in role (the API server's 403: \`cannot get+create pods/portforward in
namespace istio-system\`), or without a live cluster (\`--manifests\`), the layer is shown as not checked instead, with
the reason.`,
  },
  GatewayProxyNotConnected: {
    layer: 'dataplane',
    severity: 'fail',
    retryable: true,
    doc: `A gateway Pod behind the Gateway is not connected to istiod (its proxy id \`POD.NAMESPACE\` is not in istiod's
\`/debug/syncz\`): its Envoy serves whatever it had when the connection dropped, or nothing if it never got a
configuration. Fix (a manual step, never a command to paste): look at the Pod's log, then restart that one Pod; the
step names \`kubectl delete pod POD -n NS\` only when a controller (the Gateway's Deployment) recreates it.`,
  },
  GatewayProxyRejected: {
    layer: 'dataplane',
    severity: 'fail',
    retryable: false,
    doc: `The gateway's Envoy rejected istiod's last push (NACK): istiod's \`/debug/syncz\` has a \`lastError\` for the type
(listeners, routes, clusters, …), quoted in the evidence with the nonce sent and the last one accepted. Envoy keeps
serving the last configuration it accepted, so the cluster's objects and their status say one thing and the gateway does
another. Fix: the object istiod could not translate into something Envoy accepts (the error text names the field; an
EnvoyFilter is the usual suspect: \`kubectl get envoyfilters -A\`); istiod pushes again once it is fixed.`,
  },
  GatewayProxyStale: {
    layer: 'dataplane',
    severity: 'fail',
    retryable: true,
    doc: `istiod sent the gateway's Envoy a configuration it has not acknowledged (the nonce sent is not the one acked, and no
error): the Envoy serves an older configuration until it does. Seen when the Envoy is stuck or overloaded while its
connection stays open. Fix: wait (\`--wait\`), then restart the Pod if it stays stale.`,
  },
  DestinationAuthorizationDenied: {
    layer: 'mesh',
    severity: 'fail',
    retryable: false,
    doc: `A DENY AuthorizationPolicy at a hop after the gateway matches the request: the **waypoint** ingress traffic goes
through (a \`targetRefs\` entry naming the backend Service, the waypoint Gateway, or GatewayClass \`istio-waypoint\` from
the root namespace; L7, the peer is the gateway's identity), **ztunnel** at an ambient Pod (a selector or namespace-wide
policy of the Pod's namespace or the root namespace, L4 only: principals, namespaces, service accounts, ports; the peer
is the waypoint's identity when the traffic came through one, else the gateway's), or the Pod's **sidecar** (selector
policies, L7). The finding names the hop, the policy and the rule. The waypoint and the sidecar answer \`403 RBAC: access
denied\`; ztunnel resets the connection and the gateway answers \`503\`. Fix (waypoint, sidecar): a JSON patch that adds
this path to \`notPaths\` of the rule, guarded by a \`test\`; (ztunnel, which cannot see paths) what to change, in words.`,
  },
  DestinationAuthorizationNotAllowed: {
    layer: 'mesh',
    severity: 'fail',
    retryable: false,
    doc: `ALLOW AuthorizationPolicies reach a hop after the gateway (waypoint, ztunnel or sidecar, as for
[\`DestinationAuthorizationDenied\`](#destinationauthorizationdenied)) and none of their rules matches the request. At
ztunnel, an ALLOW rule with any HTTP attribute (\`hosts\`, \`methods\`, \`paths\`, \`requestPrincipals\`, ...) is dropped by
istiod (\`ZtunnelAccepted\` says "rules matching HTTP attributes are omitted"): such a policy allows nothing there.
Fix: a JSON patch that appends one rule to the policy for exactly this peer (the gateway's or the waypoint's principal)
and this request (\`GET\` and the path at a waypoint or sidecar; the Pod port at ztunnel), guarded by a \`test\`.`,
  },
  DestinationPolicyNotEnforced: {
    layer: 'mesh',
    severity: 'warn',
    retryable: false,
    doc: `(warning) An AuthorizationPolicy looks as if it acted on ingress traffic at a hop after the gateway but does not:
a DENY rule with HTTP attributes selecting an ambient Pod (istiod gives ztunnel only its L4 part; a \`to\` with only
paths or methods becomes an empty match, which ztunnel never matches: the deny does nothing for this request), or a
CUSTOM/AUDIT/dry-run policy that istiod does not give ztunnel. The request passes; the policy you meant does not apply.
Fix: enforce HTTP rules on a waypoint (\`targetRefs\` to the Service, with \`istio.io/ingress-use-waypoint\`).`,
  },
  GatewayRouteMissing: {
    layer: 'dataplane',
    severity: 'fail',
    retryable: false,
    doc: `istiod's configuration for the gateway proxy (its \`/debug/config_dump?proxyID=POD.NAMESPACE\`) has no virtual host for
the host, or none of its routes matches the path, while the objects say a rule serves it (the route layer passed): the
request gets Envoy's \`404\`. Both sides are named: what gwdoctor predicts (the rule's clusters) and what istiod generated.
Fix: an EnvoyFilter that removes or rewrites the route (\`kubectl get envoyfilters -A\`), or a route istiod could not
translate; \`istioctl proxy-config routes POD -n NAMESPACE\` shows the same configuration.`,
  },
  GatewayRouteDiffers: {
    layer: 'dataplane',
    severity: 'fail',
    retryable: false,
    doc: `istiod's route for the host and path on the gateway proxy sends the request to other clusters than the rule's
backends (\`outbound|PORT||SERVICE.NAMESPACE.svc...\`), or redirects where no redirect is configured: the request reaches
another backend than the objects say. When several gateway Pods get different routes, the finding says how many agree.
Fix: what rewrites the route after Gateway API translation, usually an EnvoyFilter patch (\`ROUTE_CONFIGURATION\`,
\`VIRTUAL_HOST\`, \`HTTP_ROUTE\`) on the gateway.`,
  },
  EnvoyConfigRejected: {
    layer: 'dataplane',
    severity: 'fail',
    retryable: false,
    doc: `A gateway Pod's Envoy rejected a resource istiod pushed (its own \`error_state\` in \`/config_dump\`, read through
\`pods/portforward\` to the admin port like \`istioctl proxy-config\`): the listener, route configuration or cluster and
Envoy's error text, quoted verbatim, with the version it still serves. Envoy keeps the last configuration it accepted
(or, for a resource it never accepted, has none: a new listener is then not there at all), so every status stays green
while the gateway serves something else. Fix: the object istiod could not translate into configuration Envoy accepts
(the error names it; an EnvoyFilter is the usual cause: \`kubectl get envoyfilters.networking.istio.io -A\`).`,
  },
  EnvoyPodsDisagree: {
    layer: 'dataplane',
    severity: 'fail',
    retryable: true,
    doc: `The gateway Pods' Envoys do different things with the request (another virtual host, route or cluster, or none):
requests succeed or fail depending on the Pod they land on. Each Pod is named with what its Envoy does, the version
of its route configuration, whether its xDS stream to istiod is up, and which Pods serve what gwdoctor predicts from the
objects. Fix: when some Pods serve the prediction and each of the others has a controller (ownerReferences) that
recreates it, \`kubectl -n NS delete pod …\` of the others (the new Envoys fetch the current configuration; the
agreeing Pods keep serving meanwhile); otherwise find out first (\`istioctl proxy-status\`), and a bare Pod is
restarted the way it was created.`,
  },
  EnvoyRouteMissing: {
    layer: 'dataplane',
    severity: 'fail',
    retryable: true,
    doc: `gwdoctor predicts a route for the request (the HTTPRoute rule, the Envoy route name istiod gives it, the cluster),
but the gateway's Envoy has none: no listener on the port, no virtual host for the host (Envoy's search order: exact
domain, then the longest \`*.suffix\`, the longest \`prefix.*\`, then \`*\`), or no route of that virtual host matching the
path (routes in order, the first match wins): Envoy answers 404. Both are named. Usually the Envoy has not received the
change (disconnected from istiod: said when its \`control_plane.connected_state\` is 0). Fix: the printed check of
istiod and the gateway Pods.`,
  },
  EnvoyRouteDiffers: {
    layer: 'dataplane',
    severity: 'fail',
    retryable: true,
    doc: `The gateway's Envoy matches the request with another route than the one gwdoctor predicts (another HTTPRoute rule,
another cluster, a redirect instead of a backend or the other way round): both are named, with the route
configuration's version. Usually an Envoy serving an old configuration (disconnected from istiod, or a push it
rejected), else a precedence gwdoctor got wrong. Fix: the printed check of istiod and the gateway Pods.`,
  },
  EnvoyNoHealthyHost: {
    layer: 'dataplane',
    severity: 'fail',
    retryable: true,
    doc: `The EndpointSlices list ready endpoints for the backend, but the gateway's Envoy has no healthy host in the route's
cluster (\`/clusters?format=json\`): each ready address is named with Envoy's reason — \`failed_outlier_check\` (ejected
by a DestinationRule's outlierDetection after 5xx answers or refused connections), \`failed_active_health_check\`, an
EDS status, or missing (istiod has not sent it). Envoy answers 503 \`no healthy upstream\`. Fix: look at the backend
Pods (\`kubectl -n NS get pods -o wide\`, their logs) and fix what fails; Envoy takes an ejected host back after its
ejection time.`,
  },
  ClusterForbidden: {
    layer: 'any',
    severity: 'error',
    retryable: false,
    doc: `The API server refused a read (HTTP 403); the message names verb, resource and namespace. Inconclusive (exit 2). Fix:
bind the read-only ClusterRole in [\`deploy/rbac.yaml\`](deploy/rbac.yaml). Three reads are optional and never make a
run inconclusive: a listener's certificate Secret and the parametersRef ConfigMap ("not checked"), and the GRPCRoute and
ListenerSet lists (taken as none, with [\`GRPCRouteNotChecked\`](#grpcroutenotchecked) or
[\`ListenerSetNotChecked\`](#listenersetnotchecked) at route).`,
  },
  ClusterUnauthorized: {
    layer: 'any',
    severity: 'error',
    retryable: false,
    doc: `The API server rejected the credentials (HTTP 401). Fix: refresh them (\`kubectl auth whoami\`).`,
  },
  ClusterUnreachable: {
    layer: 'any',
    severity: 'error',
    retryable: { unreachable: true, 'api-error': false },
    doc: `The API server cannot be reached (refused, DNS, reset). Fix: \`kubectl cluster-info\`; check VPN/address.`,
  },
  ClusterTlsError: {
    layer: 'any',
    severity: 'error',
    retryable: false,
    doc: `The API server's certificate does not verify against the kubeconfig's CA. Fix: check \`certificate-authority(-data)\`.`,
  },
  GatewayApiMissing: {
    layer: 'any',
    severity: 'error',
    retryable: false,
    doc: `The API server serves no \`gateway.networking.k8s.io\` group: the Gateway API CRDs are not installed. Fix: install the
standard-channel CRDs.`,
  },
  StatusDisagrees: {
    layer: 'any',
    severity: 'warn',
    retryable: true,
    doc: `(warning) Fresh controller status contradicts the spec-based prediction (e.g. \`RefNotPermitted\` although a grant
permits the ref). gwdoctor trusts the spec and says so; status may lag. Fix: wait, or compare the objects by hand. The same rule at every layer: listener
(\`Programmed=False\` "no instances found" although the gateway Service has endpoints: istiod recomputes that condition
only when some Service changes, so it can outlive a replaced gateway Pod), route (\`Accepted\` false although the spec attaches), grant (\`RefNotPermitted\` although a
grant permits), endpoints (\`BackendNotFound\`/\`InvalidKind\` although every backend exists with endpoints).`,
  },
  GatewayErrorResponse: {
    layer: 'any',
    severity: 'error',
    retryable: true,
    doc: `(inconclusive, exit 2) Envoy answered an error for the request (404 no route, 500 invalid backend, 503 no healthy
upstream, or any other 4xx/5xx of its own, such as a rate limit's 429), but nothing gwdoctor checked explains it: either
the cluster layers could not run (no cluster access), or every layer that could explain the answer found the objects
right (the last of them reports it) and the gateway disagrees (istiod has not pushed the config yet, or something
gwdoctor does not model). Fix: rerun with cluster access; compare with \`istioctl proxy-config routes\` on the gateway
pod; \`--wait\` retries.`,
  },
  GatewayRbacDenied: {
    layer: ['mesh', 'proxy'],
    severity: 'fail',
    retryable: false,
    doc: `The gateway's Envoy refuses the request with \`403 RBAC: access denied\` (recognised by its body even behind a proxy
that hides Envoy's headers; the direct NodePort probe answers the same): an Istio AuthorizationPolicy that applies to the
gateway (\`targetRefs\` naming the Gateway, a \`selector\` on the gateway Pods' labels, or a policy without selector in
the root namespace, \`istio-system\` by default) denies it. Envoy's RBAC filter runs before routing. With cluster access
(or \`--manifests\` holding the policies) the proxy hands the 403 to the [mesh layer](#mesh-layer), which names the
policy and rule that deny it with the smallest fix (\`AuthorizationDenied\`, \`AuthorizationNotAllowed\`). This code is
what is left when it cannot: at the proxy layer without cluster access; at the mesh layer when the policies could not be
read or listed (a forbidden list, manifests without them), when what it read allows the request (istiod has not pushed a
change yet, or the gateway's policies differ), or when an ALLOW rule depends on the client address and the 403 shows it
did not match. Fix: \`kubectl get authorizationpolicies.security.istio.io -A\`, then allow the request or send the
identity the policy requires.`,
  },
  ClusterCredentialPluginFailed: {
    layer: 'any',
    severity: 'error',
    retryable: false,
    doc: `The kubeconfig user gets its credentials from an \`exec\` plugin (\`aws eks get-token\`, \`gke-gcloud-auth-plugin\`,
\`kubelogin\`, ...) and the plugin failed: it is not installed, exited non-zero (its last stderr line is shown,
redacted), or did not finish within \`--timeout\` (gwdoctor then kills its whole process group). Inconclusive (exit 2).
Fix: run the plugin yourself, e.g. \`kubectl auth whoami\`, and log in again if its credentials expired
(\`aws sso login\`, \`gcloud auth login\`, ...). See [Reliability](#reliability) for how plugins are run.`,
  },
  Interrupted: {
    layer: 'any',
    severity: 'error',
    retryable: false,
    doc: `The run was stopped with Ctrl-C (SIGINT) or SIGTERM while this layer was being checked. The report shows what was
checked up to then; the exit code is \`130\` (SIGTERM: \`143\`). Fix: rerun and let it finish (see \`--timeout\`).`,
  },
  Timeout: {
    layer: 'any',
    severity: 'error',
    retryable: true,
    doc: `The run's \`--timeout\` expired before the layer finished. Inconclusive. Fix: a larger \`--timeout\`, or find what hangs.`,
  },
} as const satisfies Record<string, CodeInfo>;

export type Code = keyof typeof CODES;

// What the registry fixes for a code, as types: the layers that may emit it, its status, and (for a code whose
// retryability depends on the cause) the causes. src/findings.ts builds every finding from these, so a judge typed
// with its layer id cannot emit another layer's code, nor choose a status or retryability the registry does not give.
type LayerField<C extends Code> = (typeof CODES)[C]['layer'];
/** The layers that may emit code C ('any' codes: every layer). */
export type LayersOf<C extends Code> =
  LayerField<C> extends 'any' ? LayerId : LayerField<C> extends readonly (infer L)[] ? L : LayerField<C>;
/** The codes layer L may emit; for the union LayerId (a check whose layer is not known) only the 'any' codes. */
export type CodeOf<L extends LayerId> = { [C in Code]: [L] extends [LayersOf<C>] ? C : never }[Code];
/** The causes of a code whose retryability depends on them (never for the others). */
export type CauseOf<C extends Code> = C extends Code
  ? (typeof CODES)[C]['retryable'] extends boolean
    ? never
    : keyof (typeof CODES)[C]['retryable'] & string
  : never;

/** Does code C, for this cause, say that --wait can see it change? */
export function retryableOf(code: Code, cause?: string): boolean {
  const r: CodeInfo['retryable'] = CODES[code].retryable;
  if (typeof r === 'boolean') return r;
  const v = cause === undefined ? undefined : r[cause];
  if (v === undefined)
    throw new Error(`reason code ${code} needs a cause (${Object.keys(r).join(', ')}), got ${String(cause)}`);
  return v;
}

/** Whether any cause of the code is retryable (what SARIF's rule properties say). */
export function mayRetry(code: Code): boolean {
  const r: CodeInfo['retryable'] = CODES[code].retryable;
  return typeof r === 'boolean' ? r : Object.values(r).some(Boolean);
}

/** Does a fail or error with this finding's status and code stop the lanes other than its own? */
export function stopsOtherLanes(status: 'fail' | 'error', code: string | null): boolean {
  if (status === 'error') return false;
  const info: CodeInfo | undefined = code !== null && Object.hasOwn(CODES, code) ? CODES[code as Code] : undefined;
  return info?.stops !== 'lane';
}

/** May layer `id` emit `code` (the run-time form of CodeOf)? */
export function layerMayEmit(id: LayerId, code: Code): boolean {
  const l: CodeInfo['layer'] = CODES[code].layer;
  return l === 'any' || l === id || (Array.isArray(l) && l.includes(id));
}

export const README_URL = 'https://github.com/gwdoctor/gwdoctor/blob/main/README.md';

/** GitHub's anchor for a heading that is exactly the code. */
export function hintFor(code: Code): string {
  return `${README_URL}#${code.toLowerCase()}`;
}

/** The README's table of layers (what each checks), generated from the registry. */
export function layersMarkdown(): string {
  return ['| layer | checks |', '|---|---|', ...LAYERS.map((l) => `| \`${l.id}\` | ${l.readme} |`)].join('\n');
}

/** Does layer `id` have a judge of its own for an --internal host (else it does not apply to one)? */
export function judgesInternal(id: LayerId): boolean {
  return 'internal' in entry(id);
}

/** The README's table of what each layer proves for an --internal host, generated from the registry. */
export function internalMarkdown(): string {
  const judged = LAYERS.flatMap((l) => ('internal' in l ? [l] : []));
  const rest = LAYERS.filter((l) => !('internal' in l));
  return [
    '| layer | passes when | fails (`InternalHostExposed`) when |',
    '|---|---|---|',
    ...judged.map((l) => `| \`${l.id}\` | ${l.internal.passes} | ${l.internal.fails} |`),
    ...(rest.length
      ? [
          `| ${rest.map((l) => `\`${l.id}\``).join(', ')} | not checked (an internal host has no public backend to check) | |`,
        ]
      : []),
  ].join('\n');
}

/** The "Reason codes" section of README.md, generated from the registry. */
export function codesMarkdown(): string {
  const groups: [string, (c: CodeInfo) => boolean][] = [
    ...LAYERS.map(
      (l) =>
        [
          l.heading,
          (c: CodeInfo) => (Array.isArray(c.layer) ? c.layer[c.layer.length - 1] === l.id : c.layer === l.id),
        ] as [string, (c: CodeInfo) => boolean],
    ),
    ['Any cluster layer', (c: CodeInfo) => c.layer === 'any'],
  ];
  const out: string[] = [];
  for (const [heading, pick] of groups) {
    out.push(`### ${heading}`, '');
    for (const [code, info] of Object.entries(CODES) as [Code, CodeInfo][])
      if (pick(info)) out.push(`#### ${code}`, info.doc, '');
  }
  return out.join('\n');
}
