// The Envoy part's stage: the gateway Pods behind the resolved Gateway, each one's Envoy read once per run through the
// cluster reader (pods/portforward to the admin port, src/dataplane/envoy-admin.ts; the objects through the snapshot), and gwdoctor's own prediction for
// the request (the route layer's rule, its Service backends as Istio names their clusters, their ready endpoints).

import type { Pod, Service } from '../cluster/objects.js';
import type { PathResolver } from '../gatewayapi/resolver.js';
import type { RouteStage } from '../gatewayapi/path.js';
import { refOf } from '../fix/build.js';
import { GATEWAY_NAME_LABEL } from '../mesh/authz.js';
import { loadRe2 } from '../gatewayapi/matching.js';
import type { EnvoyRequest } from './envoy-config.js';
import { istioClusterName } from './envoy-config.js';
import type { EnvoyPrediction, PodEnvoy, PodRead } from './envoy-judge.js';
import { controllerOf } from './controller.js';

type Matched = Extract<RouteStage, { kind: 'matched' }>;

export type EnvoyStage =
  /** Manifests (no Envoy to ask), or a reader without the port-forward. */
  | { kind: 'not-live'; why: string }
  | {
      kind: 'read';
      gateway: string;
      service: Service | null;
      pods: PodEnvoy[];
      prediction: EnvoyPrediction;
      request: EnvoyRequest;
    };

const isReady = (p: Pod) => p.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True') === true;

export function predictionOf(rs: Matched, ready: Record<string, string[]>): EnvoyPrediction {
  const route = rs.attachment.route;
  const ns = route.metadata.namespace ?? 'default';
  const rule = (route.spec.rules ?? [])[rs.ruleIndex] as { name?: string } | undefined;
  const clusters = rs.refs
    .filter((r) => !r.mirror && r.weight > 0 && r.group === '' && r.kind === 'Service' && r.port !== null)
    .map((r) => istioClusterName(r.namespace, r.name, r.port as number));
  return {
    route: refOf(route),
    rule: rs.ruleIndex,
    envoyRoute: rule?.name ?? `${ns}.${route.metadata.name}.${rs.ruleIndex}`,
    clusters: [...new Set(clusters)],
    redirect: rs.redirect !== null,
    ready,
  };
}

export async function resolveEnvoys(p: PathResolver): Promise<EnvoyStage> {
  const cluster = p.source;
  if (cluster.mode !== 'live' || !cluster.envoyRead)
    return {
      kind: 'not-live',
      why: cluster.mode === 'live' ? 'this cluster reader cannot port-forward' : 'manifests: there is no Envoy to ask',
    };
  const rs = (await p.route()) as Matched;
  const es = await p.endpoints();
  const gw = rs.chosen.cand.gateway;
  const gwNs = gw.metadata.namespace ?? 'default';
  // The gateway's Service and Pods through this attempt's snapshot; the Envoy reads go to the reader (port-forward).
  const [svc, pods] = await p.settle((v) => {
    const s = v.servicesByLabel(gwNs, { [GATEWAY_NAME_LABEL]: gw.metadata.name })[0] ?? null;
    const ps = s?.spec?.selector
      ? v.pods(gwNs, s.spec.selector)
      : v.pods(gwNs, { [GATEWAY_NAME_LABEL]: gw.metadata.name });
    return [s, (ps ?? []).filter(isReady)] as const;
  });
  const listenerPort = rs.chosen.cand.listener.port;
  const sp = (svc?.spec?.ports ?? []).find((x) => x.port === listenerPort);
  const port = typeof sp?.targetPort === 'number' ? sp.targetPort : listenerPort;
  const ready: Record<string, string[]> = {};
  for (const b of es.backends) {
    if (!b.service || b.ref.port === null) continue;
    const name = istioClusterName(b.ref.namespace, b.ref.name, b.ref.port);
    ready[name] = [
      ...new Set(
        b.slices.flatMap((s) =>
          (s.endpoints ?? []).filter((e) => e.conditions?.ready !== false).flatMap((e) => e.addresses),
        ),
      ),
    ];
  }
  const prediction = predictionOf(rs, ready);
  const request: EnvoyRequest = {
    host: p.target.host,
    path: `${p.target.path}${p.target.query ? `?${p.target.query}` : ''}`,
    port,
    method: 'GET',
  };
  const reads: PodEnvoy[] = [];
  for (const pod of pods) {
    const read: PodRead = await cluster.envoyRead(gwNs, pod.metadata.name);
    reads.push({
      pod: `${gwNs}/${pod.metadata.name}`,
      node: pod.spec?.nodeName ?? null,
      controller: controllerOf(pod),
      read,
    });
  }
  // Envoy's safe_regex route matches are evaluated with re2js, loaded only when a dump holds one.
  if (reads.some((r) => r.read.kind === 'ok' && JSON.stringify(r.read.read.dump).includes('"safe_regex"')))
    await loadRe2();
  return { kind: 'read', gateway: `${gwNs}/${gw.metadata.name}`, service: svc, pods: reads, prediction, request };
}
