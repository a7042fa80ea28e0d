// Layer 8 (live only): the gateway's Envoy serves what the cluster says. Every layer before judges objects and
// their status; this one asks the data plane itself, for the gateway Pods behind the resolved Gateway:
// - istiod's view of each proxy (its `/debug/syncz`, read once per run through the API server's services/proxy to
//   istiod's Service, port 15014): connected at all, and per xDS type the nonce sent and acked and the NACK's error
//   text, classified as istiod classifies them (pilot/pkg/xds/statusgen.go debugSyncStatus: lastError -> ERROR, nothing
//   sent -> NOT_SENT, acked == sent -> SYNCED, else STALE);
// - (the Envoy's own state is added by its own stage: `envoy` below.)
// With --manifests there is no data plane to ask: "not checked".

import type { Gateway, Pod, Service } from '../src/cluster/objects.js';
import { nsName } from '../src/cluster/objects.js';
import type { ProxyAnswer } from '../src/cluster/reader.js';
import { ClusterAccessError } from '../src/errors.js';
import { about } from '../src/evidence.js';
import { emit, pass, skip, type Draft } from '../src/findings.js';
import { command, manual, refOf } from '../src/fix/build.js';
import type { PathResolver } from '../src/gatewayapi/resolver.js';
import type { RouteStage } from '../src/gatewayapi/path.js';
import { layerMeta } from '../src/registry.js';
import { clusterLayer } from '../src/layer.js';
import type { Evidence, Facts, XdsTypeFact } from '../src/types.js';

type Matched = Extract<RouteStage, { kind: 'matched' }>;

const GATEWAY_NAME_LABEL = 'gateway.networking.k8s.io/gateway-name';
/** istiod's Service and its monitoring port, where the pinned istiod serves /debug/* (bootstrap/server.go monitoringMux). */
export const ISTIOD = { namespace: 'istio-system', name: 'istiod', port: 15014 } as const;

/** One entry of istiod's /debug/syncz (pilot/pkg/xds/debug.go SyncStatus; only the fields read here). */
export interface SyncStatus {
  proxy?: string;
  proxy_type?: string;
  cluster_id?: string;
  istio_version?: string;
  resources?: Record<string, { sent?: string; acked?: string; lastError?: string }>;
}

/** istiod's debug state as read for this run. */
export type IstiodView =
  | { kind: 'ok'; service: Service; syncz: SyncStatus[]; replicas: number }
  | { kind: 'forbidden'; service: Service; why: string }
  | { kind: 'refused'; service: Service; answer: ProxyAnswer; path: string }
  | { kind: 'unreachable'; service: Service; answer: ProxyAnswer; path: string };

export interface GatewayProxy {
  pod: Pod;
  /** istiod's proxy id for the Pod: POD.NAMESPACE (the `proxy` of /debug/syncz, `proxyID` of /debug/config_dump). */
  proxyId: string;
  node: string | null;
}

export type DataplaneStage =
  | { kind: 'not-live' }
  | { kind: 'no-istiod'; gateway: Gateway }
  | { kind: 'no-pods'; gateway: Gateway; service: Service | undefined }
  | { kind: 'ok'; gateway: Gateway; proxies: GatewayProxy[]; istiod: IstiodView };

const SHORT: Record<string, string> = {
  'type.googleapis.com/envoy.config.listener.v3.Listener': 'LDS',
  'type.googleapis.com/envoy.config.route.v3.RouteConfiguration': 'RDS',
  'type.googleapis.com/envoy.config.cluster.v3.Cluster': 'CDS',
  'type.googleapis.com/envoy.config.endpoint.v3.ClusterLoadAssignment': 'EDS',
  'type.googleapis.com/envoy.config.core.v3.TypedExtensionConfig': 'ECDS',
};

/** istiod's own classification of one watched type (pilot/pkg/xds/statusgen.go debugSyncStatus). */
export function syncStatus(r: { sent?: string; acked?: string; lastError?: string }): XdsTypeFact['status'] {
  if (r.lastError) return 'ERROR';
  if (!r.sent) return 'NOT_SENT';
  if (r.acked === r.sent) return 'SYNCED';
  return 'STALE';
}

export function xdsTypes(s: SyncStatus): XdsTypeFact[] {
  return Object.entries(s.resources ?? {})
    .map(([url, r]) => ({ type: SHORT[url] ?? url, status: syncStatus(r), sent: r.sent ?? '', acked: r.acked ?? '', error: r.lastError ? r.lastError : null }))
    .sort((a, b) => a.type.localeCompare(b.type));
}

/** istiod's ready endpoints: services/proxy reaches one of them, and each knows only the proxies connected to it. */
async function istiodReplicas(p: PathResolver): Promise<number> {
  const slices = await p.cluster.endpointSlices(ISTIOD.namespace, ISTIOD.name);
  return new Set(slices.flatMap((sl) => (sl.endpoints ?? []).filter((e) => e.conditions?.ready !== false).flatMap((e) => e.addresses ?? []))).size;
}

async function readIstiod(p: PathResolver, service: Service): Promise<IstiodView> {
  const get = p.cluster.serviceProxyGet?.bind(p.cluster);
  if (!get) throw new Error('dataplane: a live reader without services/proxy');
  const path = '/debug/syncz';
  let answer: ProxyAnswer;
  try {
    answer = await get(ISTIOD.namespace, ISTIOD.name, ISTIOD.port, path);
  } catch (err) {
    if (err instanceof ClusterAccessError && err.kind === 'forbidden') return { kind: 'forbidden', service, why: err.message };
    throw err;
  }
  if (answer.from === 'apiserver') return { kind: 'unreachable', service, answer, path };
  if (answer.status !== 200) return { kind: 'refused', service, answer, path };
  let syncz: unknown;
  try {
    syncz = JSON.parse(answer.body);
  } catch {
    return { kind: 'refused', service, answer: { ...answer, body: 'not JSON' }, path };
  }
  return { kind: 'ok', service, syncz: Array.isArray(syncz) ? (syncz as SyncStatus[]) : [], replicas: await istiodReplicas(p) };
}

export async function resolveDataplane(p: PathResolver): Promise<DataplaneStage> {
  if (p.cluster.mode !== 'live' || !p.cluster.serviceProxyGet) return { kind: 'not-live' };
  const rs = (await p.route()) as Matched;
  const gateway = rs.chosen.cand.gateway;
  const gwNs = gateway.metadata.namespace ?? 'default';
  const istiod = await p.cluster.service(ISTIOD.namespace, ISTIOD.name);
  if (!istiod) return { kind: 'no-istiod', gateway };
  const svc = (await p.cluster.servicesByLabel(gwNs, { [GATEWAY_NAME_LABEL]: gateway.metadata.name }))[0];
  const pods = svc?.spec?.selector ? ((await p.cluster.pods(gwNs, svc.spec.selector)) ?? []) : [];
  const running = pods.filter((x) => (x.status as { phase?: unknown } | undefined)?.phase === 'Running');
  if (running.length === 0) return { kind: 'no-pods', gateway, service: svc };
  const proxies = running.map((pod) => ({ pod, proxyId: `${pod.metadata.name}.${pod.metadata.namespace ?? gwNs}`, node: (pod.spec as { nodeName?: string } | undefined)?.nodeName ?? null }));
  return { kind: 'ok', gateway, proxies, istiod: await readIstiod(p, istiod) };
}

/** The controller that recreates a deleted Pod, from its ownerReferences (null: a bare Pod, nothing recreates it). */
function controllerOf(pod: Pod): { kind: string; name: string } | null {
  const refs = (pod.metadata as { ownerReferences?: unknown }).ownerReferences;
  if (!Array.isArray(refs)) return null;
  const c = refs.find((r: unknown) => typeof r === 'object' && r !== null && (r as { controller?: unknown }).controller === true) as { kind?: unknown; name?: unknown } | undefined;
  return c && typeof c.kind === 'string' && typeof c.name === 'string' ? { kind: c.kind, name: c.name } : null;
}

/** Restart one gateway Pod: delete it when a controller recreates it; otherwise say what to do by hand. */
function restartFix(proxy: GatewayProxy, why: string) {
  const ns = proxy.pod.metadata.namespace ?? 'default';
  const ctl = controllerOf(proxy.pod);
  if (ctl) return command(['kubectl', 'delete', 'pod', proxy.pod.metadata.name, '-n', ns], `${why}; its ${ctl.kind} ${ctl.name} recreates it, and the new Envoy fetches its configuration from istiod`);
  return manual(`${why}; Pod ${ns}/${proxy.pod.metadata.name} has no controller that would recreate it: restart its istio-proxy container the way it was created`);
}

function istiodRef(s: Service): string {
  return `Service ${nsName(s)}:${ISTIOD.port}`;
}

export function judgeDataplane(this: { id: 'dataplane'; title: string }, s: DataplaneStage): Draft {
  if (s.kind === 'not-live') return skip(this, 'not checked: the data plane is read from a live cluster (istiod and the gateway\'s Envoy), not from manifests', { reason: 'not-live' });
  const gw = nsName(s.gateway);
  if (s.kind === 'no-istiod') return skip(this, `not checked: no Service ${ISTIOD.namespace}/${ISTIOD.name} to ask for istiod's view of gateway ${gw}'s proxies`, { reason: 'no-istiod' });
  if (s.kind === 'no-pods') {
    return emit(this, 'DataplaneNotChecked', `gateway ${gw} has no running Pod to ask about${s.service ? ` (Service ${nsName(s.service)})` : ''}`, {
      evidence: s.service ? [about(s.service, 'selects no running Pod')] : [],
      fix: manual(`find why gateway ${gw} has no running Pod: kubectl get pods -n ${s.gateway.metadata.namespace ?? 'default'} -l ${GATEWAY_NAME_LABEL}=${s.gateway.metadata.name}`),
    });
  }
  const i = s.istiod;
  const pods: Evidence[] = s.proxies.map((x) => about(x.pod, `gateway Pod, proxy id ${x.proxyId}${x.node ? ` on node ${x.node}` : ''}`));
  // Reading istiod's debug state is opt-in (deploy/rbac-dataplane.yaml), like the Secrets: without it, "not checked"
  // with the missing verb, never a warning on every run.
  if (i.kind === 'forbidden') return skip(this, `not checked: ${i.why} (opt-in: deploy/rbac-dataplane.yaml)`, { reason: 'forbidden' });
  if (i.kind === 'unreachable') {
    return emit(this, 'DataplaneNotChecked', `istiod's view of gateway ${gw}'s proxies not checked: the API server could not reach istiod (HTTP ${i.answer.status}: ${i.answer.body || 'no message'})`, {
      evidence: [{ ref: istiodRef(i.service), detail: `GET ${i.path} through services/proxy: HTTP ${i.answer.status} from the API server` }, ...pods],
      fix: manual(`look at istiod's endpoints: kubectl get endpointslices -n ${ISTIOD.namespace} -l kubernetes.io/service-name=${ISTIOD.name}`),
    });
  }
  if (i.kind === 'refused') {
    return emit(this, 'DataplaneNotChecked', `istiod's view of gateway ${gw}'s proxies not checked: istiod answered HTTP ${i.answer.status} to ${i.path}${i.answer.status === 401 ? ' (istiod serves /debug/* to loopback callers and to callers with a token it trusts; a request the API server proxies is neither)' : ''}`, {
      evidence: [{ ref: istiodRef(i.service), detail: `GET ${i.path} through services/proxy: HTTP ${i.answer.status} from istiod` }, ...pods],
      fix: manual(`read istiod's view the way istioctl does (a port-forward to istiod): istioctl proxy-status ${s.proxies.map((x) => x.proxyId).join(' ')}`.trim()),
    });
  }
  const byId = new Map(i.syncz.filter((x) => typeof x.proxy === 'string').map((x) => [x.proxy as string, x]));
  const evidence: Evidence[] = [];
  const notConnected: GatewayProxy[] = [];
  const rejected: { proxy: GatewayProxy; t: XdsTypeFact }[] = [];
  const stale: { proxy: GatewayProxy; t: XdsTypeFact }[] = [];
  for (const x of s.proxies) {
    const st = byId.get(x.proxyId);
    if (!st) {
      notConnected.push(x);
      evidence.push(about(x.pod, `proxy ${x.proxyId} is not in istiod's /debug/syncz: not connected to istiod`));
      continue;
    }
    const types = xdsTypes(st);
    evidence.push(about(x.pod, `proxy ${x.proxyId}: ${types.map((t) => `${t.type} ${t.status}${t.status === 'SYNCED' ? '' : ` (sent ${t.sent || '-'}, acked ${t.acked || '-'})`}`).join(', ') || 'no xDS type watched'}`));
    for (const t of types) {
      if (t.status === 'ERROR') rejected.push({ proxy: x, t });
      else if (t.status === 'STALE') stale.push({ proxy: x, t });
    }
  }
  const src = { ref: istiodRef(i.service), detail: `GET /debug/syncz through services/proxy: ${i.syncz.length} proxies connected to this istiod` };
  if (rejected.length > 0) {
    const r = rejected[0] as { proxy: GatewayProxy; t: XdsTypeFact };
    return emit(this, 'GatewayProxyRejected', `gateway Pod ${r.proxy.proxyId} rejected istiod's last ${r.t.type} push (nonce ${r.t.sent}; it still serves ${r.t.acked || 'nothing accepted so far'}): "${r.t.error}"`, {
      evidence: [src, ...evidence, ...rejected.map((x) => ({ ref: `proxy ${x.proxy.proxyId}`, detail: `${x.t.type} NACK: ${x.t.error}` }))],
      fix: manual(`fix the object istiod translated into what the Envoy rejects (the error names the field; EnvoyFilters are the usual suspect: kubectl get envoyfilters -A); istiod pushes again once it changes. The Envoy's own view: kubectl exec -n ${r.proxy.pod.metadata.namespace ?? 'default'} ${r.proxy.pod.metadata.name} -c istio-proxy -- pilot-agent request GET config_dump`),
    });
  }
  if (notConnected.length > 0 && i.replicas > 1) {
    // One replica answered; a proxy missing from its list may be connected to another one.
    return emit(this, 'DataplaneNotChecked', `gateway Pod ${notConnected.map((x) => x.proxyId).join(', ')} is not connected to the istiod replica that answered; istiod has ${i.replicas} ready endpoints, and services/proxy reaches one of them`, {
      evidence: [src, ...evidence],
      fix: manual(`ask every istiod replica, as istioctl does: istioctl proxy-status ${notConnected.map((x) => x.proxyId).join(' ')}`),
    });
  }
  if (notConnected.length > 0) {
    const first = notConnected[0] as GatewayProxy;
    const of = s.proxies.length > 1 ? ` (${notConnected.length} of ${s.proxies.length} gateway Pods)` : '';
    return emit(this, 'GatewayProxyNotConnected', `gateway Pod ${notConnected.map((x) => x.proxyId).join(', ')} of Gateway ${gw} is not connected to istiod${of}: it serves whatever it had before, or nothing`, {
      evidence: [src, ...evidence],
      fix: restartFix(first, `restart gateway Pod ${first.proxyId}, which is not connected to istiod`),
    });
  }
  if (stale.length > 0) {
    const r = stale[0] as { proxy: GatewayProxy; t: XdsTypeFact };
    return emit(this, 'GatewayProxyStale', `gateway Pod ${r.proxy.proxyId} has not acknowledged istiod's last ${r.t.type} push (sent ${r.t.sent}, acked ${r.t.acked || 'none'}): it serves an older configuration`, {
      evidence: [src, ...evidence],
      fix: restartFix(r.proxy, `if it stays stale, restart gateway Pod ${r.proxy.proxyId}`),
    });
  }
  return pass(this, `${s.proxies.length === 1 ? 'the gateway Pod is' : `all ${s.proxies.length} gateway Pods are`} connected to istiod and acknowledged its last push`, { evidence: [src, ...evidence] });
}

/** The stage as data (facts.dataplane). */
export function dataplaneFacts(s: DataplaneStage): Facts {
  if (s.kind !== 'ok') return {};
  const byId = new Map(s.istiod.kind === 'ok' ? s.istiod.syncz.filter((x) => typeof x.proxy === 'string').map((x) => [x.proxy as string, x]) : []);
  return {
    dataplane: {
      gateway: refOf(s.gateway),
      istiod: { service: refOf(s.istiod.service), read: s.istiod.kind },
      proxies: s.proxies.map((x) => {
        const st = byId.get(x.proxyId);
        return { pod: refOf(x.pod), proxyId: x.proxyId, node: x.node, connected: s.istiod.kind === 'ok' ? st !== undefined : null, xds: st ? xdsTypes(st) : [] };
      }),
    },
  };
}

export const dataplane = clusterLayer(layerMeta('dataplane'), (p) => resolveDataplane(p), judgeDataplane, dataplaneFacts);
