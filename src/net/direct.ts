// Where the gateway can be reached without the proxy: the NodePort of the Gateway's generated Service on a node.
// The Gateway and listener are the resolved path's (src/gatewayapi/path.ts resolveListener: the ones the listener
// layer reports; --internal: the public Gateways of the exposure stage), never a rule of this module's own; then that
// Gateway's Service -> the nodePort of the listener's port -> the node addresses. Istio names the Service
// <gateway>-<class>, but the label gateway.networking.k8s.io/gateway-name=<gateway> is what finds it reliably
// (gateway-api-rules.md trap 24).

import type { Gateway, GatewayListener, Node, Service } from '../cluster/objects.js';
import type { ClusterView } from '../cluster/view.js';
import type { ExposureStage } from '../gatewayapi/exposure.js';
import type { ListenerStage } from '../gatewayapi/path.js';
import type { PathResolver } from '../gatewayapi/resolver.js';
import { pickGatewayService, pinPort, type PinnedPort } from '../gatewayapi/ports.js';

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
  | { ok: false; why: NoDirect };

/** A Gateway named in a NoDirect, as data. */
type GatewayName = { namespace: string; name: string };

/** Why there is no NodePort to probe, as data (rendered by describeNoDirect, never read back). */
export type NoDirect =
  /** The resolved path has no Gateway for the host: the listener (or --internal exposure) stage's kind says why. */
  | {
      kind: 'no-gateway';
      stage: Exclude<ListenerStage['kind'] | ExposureStage['kind'], 'ok' | 'unhealthy' | 'checked'>;
      host: string;
      /** --gateway NS/NAME, when given. */
      filter: { namespace: string; name: string } | null;
      /** The listener port --gateway's port stands for, when given. */
      port: number | null;
      /** no-http-listener: the Gateway whose listeners carry no HTTPRoute. */
      gateway?: GatewayName;
    }
  | { kind: 'no-nodes' }
  /** The path's Gateways, none reachable on a nodePort: per Gateway, its Service and listener port (service null: none found). */
  | {
      kind: 'no-node-port';
      gateways: { gateway: GatewayName; service: { name: string; type: string; port: number } | null }[];
    };

export function describeNoDirect(n: NoDirect): string {
  switch (n.kind) {
    case 'no-gateway': {
      const gw = n.filter ? ` ${n.filter.namespace}/${n.filter.name}` : '';
      const port = n.port !== null ? ` on port ${n.port}` : '';
      switch (n.stage) {
        case 'filter-missing':
          return `the Gateway${gw} given with --gateway does not exist`;
        case 'no-http-gateway':
          return 'no Gateway has an HTTP or HTTPS listener';
        case 'no-http-listener':
          return `Gateway ${n.gateway ? `${n.gateway.namespace}/${n.gateway.name}` : gw.trim()} has no HTTP or HTTPS listener that carries an HTTPRoute`;
        case 'no-listener':
          return `no Gateway${gw} has a listener for ${n.host}${port}`;
      }
      return '';
    }
    case 'no-nodes':
      return 'no Node addresses are visible (nodes cannot be listed)';
    case 'no-node-port':
      return n.gateways
        .map((g) => {
          const { namespace, name } = g.gateway;
          return g.service
            ? `Service ${namespace}/${g.service.name} (type ${g.service.type}) has no nodePort for port ${g.service.port}`
            : `no Service labelled gateway.networking.k8s.io/gateway-name=${name} in ${namespace}`;
        })
        .join('; ');
  }
}

/** The Gateways the resolved path carries the host on, in the path's order, each with its listeners that accept it. */
type PathGateways =
  | { ok: true; gateways: { gw: Gateway; listeners: GatewayListener[] }[]; pinned: PinnedPort | null }
  | { ok: false; why: Extract<NoDirect, { kind: 'no-gateway' }> };

/**
 * The listener stage's Gateways: the healthy ones that accept the host (ok; on --gateway's port when one was given),
 * or the one it judged unhealthy (its NodePort may still answer, and what it answers is evidence).
 */
function pathGateways(ls: ListenerStage, host: string, filter: GatewayRefLike | null): PathGateways {
  switch (ls.kind) {
    case 'ok':
      return { ok: true, gateways: ls.healthy.map((h) => ({ gw: h.gw, listeners: h.listeners })), pinned: ls.pinned };
    case 'unhealthy':
      return { ok: true, gateways: [{ gw: ls.choice.gw, listeners: ls.choice.listeners }], pinned: ls.pinned };
    default:
      return {
        ok: false,
        why: {
          kind: 'no-gateway',
          stage: ls.kind,
          host,
          filter: filter ? { namespace: filter.namespace, name: filter.name } : null,
          port: ls.kind === 'no-listener' && ls.port ? ls.port.port : null,
          ...(ls.kind === 'no-http-listener'
            ? { gateway: { namespace: ls.gateway.metadata.namespace ?? 'default', name: ls.gateway.metadata.name } }
            : {}),
        },
      };
  }
}

/** --internal: the public Gateways whose listeners accept the host (the exposure stage; health does not matter there). */
function exposureGateways(x: ExposureStage, host: string, filter: GatewayRefLike | null): PathGateways {
  if (x.kind === 'checked') return { ok: true, gateways: x.gateways, pinned: null };
  return {
    ok: false,
    why: {
      kind: 'no-gateway',
      stage: x.kind,
      host,
      filter: filter ? { namespace: filter.namespace, name: filter.name } : null,
      port: null,
    },
  };
}

type GatewayRefLike = { namespace: string; name: string };

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

/** The direct probe of the target's resolved path (its listener stage), made from this attempt's snapshot. */
export async function planDirect(path: PathResolver): Promise<DirectPlan> {
  const ls = await path.listener();
  const gws = pathGateways(ls, path.target.host, path.filter);
  return path.settle((v) => plan(v, gws));
}

/**
 * --internal: the direct probe of the public Gateways that accept the host (the exposure stage); --gateway's port
 * keeps only the listeners on it, read as the listener stage reads it (ports.ts pinPort).
 */
export async function planDirectExposure(path: PathResolver): Promise<DirectPlan> {
  const x = await path.exposure();
  const { host } = path.target;
  const filter = path.filter;
  return path.settle((v) => {
    const gws = exposureGateways(x, host, filter);
    const first = gws.ok ? gws.gateways[0] : undefined;
    if (!gws.ok || filter?.port === undefined || !first) return plan(v, gws);
    const pinned = pinPort(v, first.gw, filter.port);
    const on = gws.gateways
      .map((g) => ({ gw: g.gw, listeners: g.listeners.filter((l) => l.port === pinned.port) }))
      .filter((g) => g.listeners.length > 0);
    if (on.length === 0)
      return plan(v, {
        ok: false,
        why: {
          kind: 'no-gateway',
          stage: 'no-listener',
          host,
          filter: { namespace: filter.namespace, name: filter.name },
          port: pinned.port,
        },
      });
    return plan(v, { ok: true, gateways: on, pinned });
  });
}

/**
 * Plan the direct probe: the path's Gateways in its order -> the Service -> nodePort of the listener port -> node
 * addresses. Per Gateway the listener probed is its plain-HTTP one among the path's (what a TLS-terminating proxy
 * forwards to), else the first; the first Gateway with a nodePort for it is the one probed.
 */
function plan(v: ClusterView, path: PathGateways): DirectPlan {
  if (!path.ok) return { ok: false, why: path.why };
  const pin = path.pinned;
  const pairs = path.gateways.flatMap(({ gw, listeners }) => {
    const l = listeners.find((x) => x.protocol === 'HTTP') ?? listeners[0];
    return l ? [{ g: gw, l, listeners }] : [];
  });
  const allNodes = v.nodes();
  const nodes = nodeAddresses(allNodes).slice(0, MAX_NODES);
  if (nodes.length === 0) return { ok: false, why: { kind: 'no-nodes' } };
  const unreachable: Extract<NoDirect, { kind: 'no-node-port' }>['gateways'] = [];
  const targets: DirectTarget[] = [];
  const otherPorts: DirectTarget[] = [];
  let survey: NodeSurvey | null = null;
  for (const { g, l, listeners } of pairs) {
    const ns = g.metadata.namespace ?? 'default';
    const svcs: Service[] = v.servicesByLabel(ns, {
      'gateway.networking.k8s.io/gateway-name': g.metadata.name,
    });
    const svc = pickGatewayService(g, svcs);
    if (!svc) {
      unreachable.push({ gateway: { namespace: ns, name: g.metadata.name }, service: null });
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
      unreachable.push({
        gateway: { namespace: ns, name: g.metadata.name },
        service: { name: svc.metadata.name, type: svc.spec?.type ?? 'ClusterIP', port: l.port },
      });
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
      for (const o of listeners) {
        const t =
          o.port !== l.port && o.protocol === 'HTTP' ? target(o, nodes[0] as { node: string; address: string }) : null;
        if (t) otherPorts.push(t);
      }
    }
    break; // one Gateway is enough: the first that accepts the host and has a NodePort
  }
  if (targets.length === 0 || !survey) return { ok: false, why: { kind: 'no-node-port', gateways: unreachable } };
  return { ok: true, targets, otherPorts, pinned: pin?.via ?? null, survey };
}
