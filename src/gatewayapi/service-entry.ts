// A backendRef of kind networking.istio.io/Hostname: the ServiceEntry istiod resolves it to, and that entry's endpoints.
//
// Istio (pinned istiod, pilot/pkg/config/kube/gateway/conversion.go buildDestination): the Hostname kind takes no
// namespace ("namespace may not be set with Hostname type"), the destination host is the name itself, and the ref is
// resolved with ctx.LookupHostname(name, <the route's namespace>) = PushContext.ServiceIndex.HostnameAndNamespace
// [host][namespace] (gatewaycommon/context.go GetService), an index keyed by the namespace the ServiceEntry (or Service)
// lives in (model/push_context.go initServiceRegistry; of several in one namespace the oldest wins). So only a
// ServiceEntry in the route's own namespace whose `hosts` lists the name exactly counts; anywhere else istiod reports
// ResolvedRefs=False BackendNotFound "backend(<host>) not found". A backendRef of kind ServiceEntry itself is not a
// kind Istio routes to (buildDestination's default branch: InvalidDestinationKind), which the grant/endpoints layers
// already say (ISTIO_BACKEND_KINDS). The destination is host and port: the gateway's cluster is
// outbound|<port>||<host> (a ServiceEntry port of that number), with the entry's endpoints.

import type { Pod, Service, ServiceEntry } from '../cluster/objects.js';
import type { ClusterView } from '../cluster/view.js';
import { ClusterAccessError } from '../errors.js';
import type { ResolvedBackendRef } from '../types.js';

export const HOSTNAME_KIND = 'networking.istio.io/Hostname';

export function isHostnameRef(ref: Pick<ResolvedBackendRef, 'group' | 'kind'>): boolean {
  return `${ref.group}/${ref.kind}` === HOSTNAME_KIND;
}

export type HostnameResolution =
  /** The manifests hold no ServiceEntry at all: not checked. */
  | { kind: 'unknown' }
  | { kind: 'forbidden'; why: string }
  /**
   * The host is a Kubernetes Service's own name (<name>.<namespace>.svc.cluster.local): istiod's index holds Services
   * too, so it resolves like that Service (in the route's namespace; elsewhere with BackendNotFound but still routed).
   */
  | { kind: 'service'; service: Service }
  /** No ServiceEntry of the route's namespace lists the host; `elsewhere`: entries of other namespaces that do (none exported to the gateway's namespace). */
  | { kind: 'missing'; namespace: string; elsewhere: ServiceEntry[] }
  | {
      kind: 'found';
      entry: ServiceEntry;
      /**
       * The entry is not in the route's namespace, so istiod reports ResolvedRefs=False BackendNotFound; but it keeps
       * the destination (conversion.go: "keep going", the host and port stay in the route) and the gateway, which sees
       * the entry (exportTo), routes to it: the request is served while the status says the backend is missing.
       */
      outside?: { routeNamespace: string };
      /** The entry's port of the backendRef's number (undefined: none). */
      port: NonNullable<NonNullable<ServiceEntry['spec']>['ports']>[number] | undefined;
      resolution: string;
      /** STATIC: the addresses of spec.endpoints. */
      addresses: string[];
      /** STATIC with workloadSelector: the Pods of the entry's namespace it selects (null: unknown). */
      pods: Pod[] | null;
    };

const created = (o: ServiceEntry) => o.metadata.creationTimestamp ?? '';

/** The entry istiod picks for `host` among those of one namespace: the oldest (push_context.go initServiceRegistry). */
export function entryFor(
  entries: ServiceEntry[],
  host: string,
  namespace: string,
): { entry: ServiceEntry | null; elsewhere: ServiceEntry[] } {
  const listing = entries.filter((e) => Array.isArray(e.spec?.hosts) && (e.spec?.hosts ?? []).includes(host));
  const here = listing
    .filter((e) => (e.metadata.namespace ?? 'default') === namespace)
    .sort((a, b) => (created(a) < created(b) ? -1 : created(a) > created(b) ? 1 : 0));
  return {
    entry: here[0] ?? null,
    elsewhere: listing.filter((e) => (e.metadata.namespace ?? 'default') !== namespace),
  };
}

/**
 * Is the entry visible to proxies of `namespace` (istio.io/api ServiceEntry.exportTo: unset = the mesh's default,
 * "*" unless meshConfig.defaultServiceExportTo says otherwise; "." its own namespace; "~" none; else namespace names)?
 */
export function exportedTo(e: ServiceEntry, namespace: string): boolean {
  const to = Array.isArray(e.spec?.exportTo) ? (e.spec?.exportTo ?? []) : [];
  if (to.length === 0 || to.includes('*')) return true;
  return to.includes(namespace) || (to.includes('.') && (e.metadata.namespace ?? 'default') === namespace);
}

/** Resolve a Hostname backendRef of a route in `routeNamespace` (the ref's namespace is the route's: it may not be set). */
export function resolveHostname(
  v: ClusterView,
  ref: ResolvedBackendRef,
  routeNamespace: string,
  gatewayNamespace: string,
): HostnameResolution {
  let entries: ServiceEntry[] | null;
  try {
    entries = v.serviceEntries();
  } catch (err) {
    if (err instanceof ClusterAccessError && err.kind === 'forbidden') return { kind: 'forbidden', why: err.message };
    throw err;
  }
  if (entries === null) return { kind: 'unknown' };
  const found = entryFor(entries, ref.name, routeNamespace);
  // Not in the route's namespace: the route still names host:port, and the gateway's proxy routes there if it sees an
  // entry for the host (one exported to its namespace; of several, one of its own namespace first, else the oldest).
  const visible = found.elsewhere
    .filter((e) => exportedTo(e, gatewayNamespace))
    .sort(
      (a, b) =>
        Number((b.metadata.namespace ?? 'default') === gatewayNamespace) -
          Number((a.metadata.namespace ?? 'default') === gatewayNamespace) ||
        (created(a) < created(b) ? -1 : created(a) > created(b) ? 1 : 0),
    );
  const entry = found.entry ?? visible[0] ?? null;
  if (!entry) {
    // The backendRef's name (data from the route, not gwdoctor's prose): <service>.<namespace>.svc.cluster.local?
    const hostname: string = ref.name;
    const svc = /^([a-z0-9]([-a-z0-9]*[a-z0-9])?)\.([a-z0-9]([-a-z0-9]*[a-z0-9])?)\.svc\.cluster\.local$/.exec(
      hostname,
    );
    const service = svc ? v.service(svc[3] as string, svc[1] as string) : undefined;
    if (service) return { kind: 'service', service };
    return { kind: 'missing', namespace: routeNamespace, elsewhere: found.elsewhere };
  }
  const spec = entry.spec ?? {};
  const port = (Array.isArray(spec.ports) ? spec.ports : []).find((p) => p?.number === ref.port);
  const resolution = spec.resolution ?? 'NONE';
  const addresses = (Array.isArray(spec.endpoints) ? spec.endpoints : [])
    .map((e) => e?.address)
    .filter((a): a is string => typeof a === 'string' && a !== '');
  const selector = spec.workloadSelector?.labels;
  const pods =
    selector && Object.keys(selector).length > 0 ? v.pods(entry.metadata.namespace ?? 'default', selector) : [];
  return {
    kind: 'found',
    entry,
    ...(found.entry ? {} : { outside: { routeNamespace } }),
    port,
    resolution,
    addresses,
    pods,
  };
}
