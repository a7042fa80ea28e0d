// A small admin REST client for the test harness (it writes: creates fixtures, status, pods' status).
// gwdoctor itself never writes; this is test-only code.

import { Agent, fetch } from 'undici';

const PLURALS: Record<string, string> = {
  Namespace: 'namespaces',
  Node: 'nodes',
  Service: 'services',
  Pod: 'pods',
  ConfigMap: 'configmaps',
  Secret: 'secrets',
  EndpointSlice: 'endpointslices',
  Endpoints: 'endpoints',
  Role: 'roles',
  RoleBinding: 'rolebindings',
  GatewayClass: 'gatewayclasses',
  Gateway: 'gateways',
  HTTPRoute: 'httproutes',
  GRPCRoute: 'grpcroutes',
  TLSRoute: 'tlsroutes',
  ListenerSet: 'listenersets',
  ReferenceGrant: 'referencegrants',
  CustomResourceDefinition: 'customresourcedefinitions',
  ClusterRole: 'clusterroles',
  ClusterRoleBinding: 'clusterrolebindings',
  ServiceAccount: 'serviceaccounts',
  Deployment: 'deployments',
  ReplicaSet: 'replicasets',
  ServiceEntry: 'serviceentries',
  EnvoyFilter: 'envoyfilters',
  AuthorizationPolicy: 'authorizationpolicies',
  PeerAuthentication: 'peerauthentications',
  DestinationRule: 'destinationrules',
};
const CLUSTER_SCOPED = new Set([
  'Namespace',
  'Node',
  'GatewayClass',
  'CustomResourceDefinition',
  'ClusterRole',
  'ClusterRoleBinding',
]);

export interface Obj {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string; [k: string]: unknown };
  [k: string]: unknown;
}

/** resourceAttributes of a SubjectAccessReview. */
export interface Access {
  verb: string;
  resource: string;
  group?: string;
  namespace?: string;
  name?: string;
}

export class KubeError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

export class Kube {
  private readonly agent: Agent;
  constructor(
    readonly server: string,
    ca: Buffer,
    private readonly token: string,
  ) {
    this.agent = new Agent({ connect: { ca } });
  }

  path(
    o: { apiVersion: string; kind: string; metadata: { name?: string; namespace?: string } },
    withName = true,
  ): string {
    const plural = PLURALS[o.kind];
    if (!plural) throw new Error(`harness does not know kind ${o.kind}`);
    const base = o.apiVersion.includes('/') ? `/apis/${o.apiVersion}` : `/api/${o.apiVersion}`;
    const ns = CLUSTER_SCOPED.has(o.kind) ? '' : `/namespaces/${o.metadata.namespace ?? 'default'}`;
    return `${base}${ns}/${plural}${withName && o.metadata.name ? `/${o.metadata.name}` : ''}`;
  }

  async raw(
    method: string,
    path: string,
    body?: unknown,
    contentType = 'application/json',
  ): Promise<{ status: number; json: unknown }> {
    const res = await fetch(`${this.server}${path}`, {
      method,
      dispatcher: this.agent,
      headers: { authorization: `Bearer ${this.token}`, 'content-type': contentType, accept: 'application/json' },
      ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
    });
    const text = await res.text();
    let json: unknown = text;
    try {
      json = JSON.parse(text);
    } catch {
      // plain text (e.g. /readyz)
    }
    return { status: res.status, json };
  }

  private async ok(method: string, path: string, body?: unknown, ct?: string): Promise<unknown> {
    const r = await this.raw(method, path, body, ct);
    if (r.status >= 300)
      throw new KubeError(r.status, `${method} ${path}: ${r.status} ${JSON.stringify(r.json).slice(0, 400)}`);
    return r.json;
  }

  get(path: string): Promise<unknown> {
    return this.ok('GET', path);
  }

  /** The authorizer's answer (SubjectAccessReview) to: may `user` do `verb` on `resource`? */
  async can(user: string, a: Access): Promise<boolean> {
    const r = await this.ok('POST', '/apis/authorization.k8s.io/v1/subjectaccessreviews', {
      apiVersion: 'authorization.k8s.io/v1',
      kind: 'SubjectAccessReview',
      spec: {
        user,
        ...(user.startsWith('system:serviceaccount:')
          ? { groups: ['system:serviceaccounts', 'system:authenticated'] }
          : { groups: ['system:authenticated'] }),
        resourceAttributes: a,
      },
    });
    return (r as { status: { allowed: boolean } }).status.allowed;
  }

  /**
   * Wait until the authorizer allows `user` each access: the RBAC authorizer reads Roles and bindings from an informer
   * cache, so a binding just created is seen a moment later (under load, after the next request: allowed=false).
   */
  async waitAllowed(user: string, access: Access[], ms = 30_000): Promise<void> {
    const until = Date.now() + ms;
    for (;;) {
      const denied: Access[] = [];
      for (const a of access) if (!(await this.can(user, a))) denied.push(a);
      if (denied.length === 0) return;
      if (Date.now() > until) throw new Error(`RBAC: ${user} still denied ${JSON.stringify(denied)} after ${ms} ms`);
      await new Promise((r) => setTimeout(r, 50));
    }
  }

  /** Wait until the authorizer denies `user` each access (a rule just removed is seen a moment later, as one added). */
  async waitDenied(user: string, access: Access[], ms = 30_000): Promise<void> {
    const until = Date.now() + ms;
    for (;;) {
      const allowed: Access[] = [];
      for (const a of access) if (await this.can(user, a)) allowed.push(a);
      if (allowed.length === 0) return;
      if (Date.now() > until) throw new Error(`RBAC: ${user} still allowed ${JSON.stringify(allowed)} after ${ms} ms`);
      await new Promise((r) => setTimeout(r, 50));
    }
  }

  async create(o: Obj | Record<string, unknown>): Promise<Obj> {
    const obj = o as Obj;
    return (await this.ok('POST', this.path(obj, false), obj)) as Obj;
  }

  /** Create, or replace the labels of an existing object (namespaces are kept between scenarios). */
  async ensure(o: Obj): Promise<Obj> {
    const r = await this.raw('POST', this.path(o, false), o);
    if (r.status === 409) {
      // Make the labels exactly the fixture's: a merge patch sets the wanted ones and removes the others.
      const cur = (await this.get(this.path(o))) as Obj;
      const want = (o.metadata['labels'] ?? {}) as Record<string, string>;
      const labels: Record<string, string | null> = { ...want };
      for (const k of Object.keys((cur.metadata['labels'] ?? {}) as Record<string, string>))
        if (!(k in want) && k !== 'kubernetes.io/metadata.name') labels[k] = null;
      return (await this.ok('PATCH', this.path(o), { metadata: { labels } }, 'application/merge-patch+json')) as Obj;
    }
    if (r.status >= 300)
      throw new KubeError(r.status, `POST ${this.path(o, false)}: ${r.status} ${JSON.stringify(r.json).slice(0, 400)}`);
    return r.json as Obj;
  }

  async putStatus(o: Obj, status: unknown): Promise<Obj> {
    const cur = (await this.get(this.path(o))) as Obj;
    return (await this.ok('PUT', `${this.path(o)}/status`, { ...cur, status })) as Obj;
  }

  async patchStatus(o: Obj, status: unknown): Promise<Obj> {
    return (await this.ok('PATCH', `${this.path(o)}/status`, { status }, 'application/merge-patch+json')) as Obj;
  }

  /** Bind a Pod to a Node, as the scheduler would (POST pods/NAME/binding). */
  async bind(pod: Obj, node: string): Promise<void> {
    await this.ok('POST', `${this.path(pod)}/binding`, {
      apiVersion: 'v1',
      kind: 'Binding',
      metadata: { name: pod.metadata.name },
      target: { apiVersion: 'v1', kind: 'Node', name: node },
    });
  }

  async delete(o: Obj): Promise<void> {
    const r = await this.raw('DELETE', `${this.path(o)}?gracePeriodSeconds=0`);
    if (r.status >= 300 && r.status !== 404) throw new KubeError(r.status, `DELETE ${this.path(o)}: ${r.status}`);
  }

  async list(apiVersion: string, kind: string, namespace?: string, labelSelector?: string): Promise<Obj[]> {
    const p = this.path({ apiVersion, kind, metadata: { ...(namespace ? { namespace } : {}) } }, false);
    const q = labelSelector ? `?labelSelector=${encodeURIComponent(labelSelector)}` : '';
    // List items carry no apiVersion/kind: put them back so they can be passed to delete() and friends.
    return ((await this.get(`${p}${q}`)) as { items: Obj[] }).items.map((o) => ({ ...o, apiVersion, kind }));
  }
}
