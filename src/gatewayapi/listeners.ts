// Which Gateways and listeners can carry the ingress request for a host. One place for it: the listener layer, the
// route layer and (through the resolved path) the direct NodePort probe all choose listeners through these functions.

import type { Gateway, GatewayListener } from '../cluster/objects.js';
import { compareRank, hostMatches, hostnameRank } from './hostnames.js';

/**
 * GatewayClasses Istio uses for in-mesh gateways (waypoints, east-west): never the ingress for a host
 * (istio pilot/pkg/config/constants: WaypointGatewayClassName "istio-waypoint", EastWestGatewayClassName "istio-east-west").
 */
export const MESH_CLASSES = new Set(['istio-waypoint', 'istio-east-west']);

/** How a listener is named in findings and evidence (one wording for every layer). */
export function describeListener(l: GatewayListener): string {
  return `listener "${l.name}" (${l.hostname ?? '*'}:${l.port}/${l.protocol})`;
}

export function isHttpListener(l: GatewayListener): boolean {
  return l.protocol === 'HTTP' || l.protocol === 'HTTPS';
}

/** A Gateway that can be the ingress for HTTP traffic: not a waypoint/east-west gateway, and with an HTTP(S) listener. */
export function isIngressGateway(gw: Gateway): boolean {
  return !MESH_CLASSES.has(gw.spec.gatewayClassName) && (gw.spec.listeners ?? []).some(isHttpListener);
}

/**
 * Listeners that carry HTTP for the host; per port only the most specific hostname wins (listener isolation:
 * gateway-api GEP-1713 / Listener.Hostname "the most specific match wins", Istio merges per port into one server).
 */
export function acceptingListeners(gw: Gateway, host: string): GatewayListener[] {
  const byPort = new Map<number, GatewayListener>();
  for (const l of gw.spec.listeners ?? []) {
    if (!isHttpListener(l)) continue;
    if (!hostMatches(l.hostname, host)) continue;
    const cur = byPort.get(l.port);
    if (!cur || compareRank(hostnameRank(l.hostname), hostnameRank(cur.hostname)) > 0) byPort.set(l.port, l);
  }
  return [...byPort.values()];
}
