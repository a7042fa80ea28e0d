// Where the gateway can be reached without the proxy: the NodePort of the Gateway's generated Service on a node.
// Istio names the Service <gateway>-<class>, but the label gateway.networking.k8s.io/gateway-name=<gateway> is what
// finds it reliably (gateway-api-rules.md trap 24).

import type { Gateway, GatewayListener, Node, Service } from '../cluster/objects.js';
import type { ClusterReader } from '../cluster/reader.js';
import { directListener, MESH_CLASSES } from '../gatewayapi/listeners.js';

export interface DirectTarget {
  gateway: string;
  listener: string;
  protocol: string;
  service: string;
  servicePort: number;
  nodePort: number;
  node: string;
  address: string;
}

export type DirectPlan = { ok: true; targets: DirectTarget[] } | { ok: false; why: string };

const MAX_NODES = 2;

export function nodeAddresses(nodes: Node[]): { node: string; address: string }[] {
  const out: { node: string; address: string }[] = [];
  for (const type of ['InternalIP', 'ExternalIP']) {
    for (const n of nodes) {
      for (const a of n.status?.addresses ?? []) {
        if (a.type === type && !out.some((o) => o.address === a.address)) out.push({ node: n.metadata.name, address: a.address });
      }
    }
  }
  return out;
}

/** Plan the direct probe: Gateway accepting the host -> its Service -> nodePort of the listener port -> node addresses. */
export async function planDirect(cluster: ClusterReader, host: string, filter: { namespace: string; name: string } | null): Promise<DirectPlan> {
  const gws = (await cluster.gateways()).filter((g) =>
    filter ? g.metadata.name === filter.name && (g.metadata.namespace ?? 'default') === filter.namespace : !MESH_CLASSES.has(g.spec.gatewayClassName),
  );
  const pairs = gws.map((g) => ({ g, l: directListener(g, host) })).filter((p): p is { g: Gateway; l: GatewayListener } => p.l !== undefined);
  if (pairs.length === 0) return { ok: false, why: `no Gateway${filter ? ` ${filter.namespace}/${filter.name}` : ''} has a listener for ${host}` };
  const nodes = nodeAddresses(await cluster.nodes()).slice(0, MAX_NODES);
  if (nodes.length === 0) return { ok: false, why: 'no Node addresses are visible (nodes cannot be listed)' };
  const reasons: string[] = [];
  const targets: DirectTarget[] = [];
  for (const { g, l } of pairs) {
    const ns = g.metadata.namespace ?? 'default';
    const svcs: Service[] = await cluster.servicesByLabel(ns, { 'gateway.networking.k8s.io/gateway-name': g.metadata.name });
    const svc = svcs.find((s) => s.metadata.name === `${g.metadata.name}-${g.spec.gatewayClassName}`) ?? svcs[0];
    if (!svc) {
      reasons.push(`no Service labelled gateway.networking.k8s.io/gateway-name=${g.metadata.name} in ${ns}`);
      continue;
    }
    const port = svc.spec?.ports?.find((p) => p.port === l.port);
    if (!port?.nodePort) {
      reasons.push(`Service ${ns}/${svc.metadata.name} (type ${svc.spec?.type ?? 'ClusterIP'}) has no nodePort for port ${l.port}`);
      continue;
    }
    for (const n of nodes) {
      targets.push({
        gateway: `${ns}/${g.metadata.name}`,
        listener: l.name,
        protocol: l.protocol,
        service: `${ns}/${svc.metadata.name}`,
        servicePort: l.port,
        nodePort: port.nodePort,
        node: n.node,
        address: n.address,
      });
    }
    break; // one Gateway is enough: the first that accepts the host and has a NodePort
  }
  if (targets.length === 0) return { ok: false, why: reasons.join('; ') };
  return { ok: true, targets };
}
