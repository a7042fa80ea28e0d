// Where the gateway can be reached without the proxy: the NodePort of the Gateway's generated Service on a node.
// Istio names the Service <gateway>-<class>, but the label gateway.networking.k8s.io/gateway-name=<gateway> is what
// finds it reliably (gateway-api-rules.md trap 24).

import type { Gateway, GatewayListener, Node, Service } from '../cluster/objects.js';
import type { ClusterReader } from '../cluster/reader.js';
import { settle, viewOf, type ClusterView } from '../cluster/view.js';
import { acceptingListeners, directListener, MESH_CLASSES } from '../gatewayapi/listeners.js';
import { pickGatewayService, pinPort } from '../gatewayapi/ports.js';
import type { GatewayRef } from '../target.js';

export interface DirectTarget {
  gateway: string;
  listener: string;
  protocol: string;
  service: string;
  servicePort: number;
  nodePort: number;
  node: string;
  address: string;
  /** The hostnames of the Gateway's HTTPS listeners on this port ('*' for one without hostname): the SNI names its Envoy has a filter chain for. */
  sniNames: string[];
}

/**
 * targets: the listener to probe on each node (the port given with --gateway NS/NAME:PORT, else plain HTTP first).
 * otherPorts: the Gateway's other HTTP listener ports that accept the host and have a nodePort, on the first node:
 * their answers tell which port the proxy forwards to (a Gateway serves each port on its own, ports.ts).
 * pinned: how --gateway's port was read (a nodePort mapped to its Service port), if it was given.
 */
export type DirectPlan =
  | { ok: true; targets: DirectTarget[]; otherPorts: DirectTarget[]; pinned: string | null; survey: NodeSurvey }
  | { ok: false; why: string };

/** Every Node's InternalIP, for the probe of the nodePort on every node; the Service's traffic policy and Pod selector. */
export interface NodeSurvey {
  nodes: { node: string; address: string }[];
  externalTrafficPolicy: string;
  namespace: string;
  selector: Record<string, string>;
}

export function internalIps(nodes: Node[]): { node: string; address: string }[] {
  return nodes.flatMap((n) =>
    (n.status?.addresses ?? [])
      .filter((a) => a.type === 'InternalIP')
      .map((a) => ({ node: n.metadata.name, address: a.address })),
  );
}

const MAX_NODES = 2;

export function nodeAddresses(nodes: Node[]): { node: string; address: string }[] {
  const out: { node: string; address: string }[] = [];
  for (const type of ['InternalIP', 'ExternalIP']) {
    for (const n of nodes) {
      for (const a of n.status?.addresses ?? []) {
        if (a.type === type && !out.some((o) => o.address === a.address))
          out.push({ node: n.metadata.name, address: a.address });
      }
    }
  }
  return out;
}

/** Plan the direct probe: Gateway accepting the host -> its Service -> nodePort of the listener port -> node addresses. */
export function planDirect(cluster: ClusterReader, host: string, filter: GatewayRef | null): Promise<DirectPlan> {
  const v = viewOf(cluster);
  return settle(cluster, () => plan(v, host, filter));
}

function plan(v: ClusterView, host: string, filter: GatewayRef | null): DirectPlan {
  const gws = v
    .gateways()
    .filter((g) =>
      filter
        ? g.metadata.name === filter.name && (g.metadata.namespace ?? 'default') === filter.namespace
        : !MESH_CLASSES.has(g.spec.gatewayClassName),
    );
  const pin = filter?.port !== undefined && gws[0] ? pinPort(v, gws[0], filter.port) : null;
  const pick = (g: Gateway) =>
    pin ? acceptingListeners(g, host).find((l) => l.port === pin.port) : directListener(g, host);
  const pairs = gws
    .map((g) => ({ g, l: pick(g) }))
    .filter((p): p is { g: Gateway; l: GatewayListener } => p.l !== undefined);
  if (pairs.length === 0)
    return {
      ok: false,
      why: `no Gateway${filter ? ` ${filter.namespace}/${filter.name}` : ''} has a listener for ${host}${pin ? ` on port ${pin.port}` : ''}`,
    };
  const allNodes = v.nodes();
  const nodes = nodeAddresses(allNodes).slice(0, MAX_NODES);
  if (nodes.length === 0) return { ok: false, why: 'no Node addresses are visible (nodes cannot be listed)' };
  const reasons: string[] = [];
  const targets: DirectTarget[] = [];
  const otherPorts: DirectTarget[] = [];
  let survey: NodeSurvey | null = null;
  for (const { g, l } of pairs) {
    const ns = g.metadata.namespace ?? 'default';
    const svcs: Service[] = v.servicesByLabel(ns, {
      'gateway.networking.k8s.io/gateway-name': g.metadata.name,
    });
    const svc = pickGatewayService(g, svcs);
    if (!svc) {
      reasons.push(`no Service labelled gateway.networking.k8s.io/gateway-name=${g.metadata.name} in ${ns}`);
      continue;
    }
    const target = (lis: GatewayListener, n: { node: string; address: string }): DirectTarget | null => {
      const port = svc.spec?.ports?.find((p) => p.port === lis.port);
      if (!port?.nodePort) return null;
      const sniNames = (g.spec.listeners ?? [])
        .filter((x) => x.port === lis.port && x.protocol === 'HTTPS')
        .map((x) => x.hostname ?? '*');
      return {
        gateway: `${ns}/${g.metadata.name}`,
        listener: lis.name,
        protocol: lis.protocol,
        service: `${ns}/${svc.metadata.name}`,
        servicePort: lis.port,
        nodePort: port.nodePort,
        node: n.node,
        address: n.address,
        sniNames,
      };
    };
    const first = nodes.map((n) => target(l, n)).filter((t): t is DirectTarget => t !== null);
    if (first.length === 0) {
      reasons.push(
        `Service ${ns}/${svc.metadata.name} (type ${svc.spec?.type ?? 'ClusterIP'}) has no nodePort for port ${l.port}`,
      );
      continue;
    }
    targets.push(...first);
    survey = {
      nodes: internalIps(allNodes),
      externalTrafficPolicy: svc.spec?.externalTrafficPolicy ?? 'Cluster',
      namespace: ns,
      selector: svc.spec?.selector ?? {},
    };
    // Without a port from --gateway: the other plain-HTTP ports that accept the host, to tell which one the proxy uses.
    if (!pin) {
      for (const o of acceptingListeners(g, host)) {
        const t =
          o.port !== l.port && o.protocol === 'HTTP' ? target(o, nodes[0] as { node: string; address: string }) : null;
        if (t) otherPorts.push(t);
      }
    }
    break; // one Gateway is enough: the first that accepts the host and has a NodePort
  }
  if (targets.length === 0 || !survey) return { ok: false, why: reasons.join('; ') };
  return { ok: true, targets, otherPorts, pinned: pin?.via ?? null, survey };
}
