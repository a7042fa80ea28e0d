// The live backend: @kubernetes/client-node 2.x with kubectl's kubeconfig conventions. Read-only: only list/get.
// Every result is turned into plain JSON (dates as strings), the same shape the manifests backend yields.

import {
  ENVOY_ADMIN_PORT,
  portForwardGet,
  readEnvoy,
  type AdminAnswer,
  type AdminGet,
} from '../dataplane/envoy-admin.js';
import type { PodRead } from '../dataplane/envoy-judge.js';
import { spawn, type ChildProcess, type SpawnOptions } from 'node:child_process';
import { existsSync } from 'node:fs';
import { homedir } from 'node:os';
import { delimiter, join } from 'node:path';
import { ApisApi, CoreV1Api, CustomObjectsApi, DiscoveryV1Api, KubeConfig } from '@kubernetes/client-node';
import { ClusterAccessError, UsageError, rootMessage } from '../errors.js';
import {
  secretView,
  type EndpointSlice,
  type Gateway,
  type GatewayClass,
  type GRPCRoute,
  type HTTPRoute,
  type K8sObject,
  type ListenerSet,
  type MeshKind,
  type Namespace,
  type Node,
  type Pod,
  type ReferenceGrant,
  type Secret,
  type Service,
  type ServiceEntry,
} from './objects.js';
import { labelsMatch, MESH_KINDS, selectorString, type ClusterReader, type MeshObjectOf } from './reader.js';
import { redact, redactUrl } from '../redact.js';
import { DiscoveryCache, type Discovered } from './discovery-cache.js';
import { Snapshot, type Unreadable } from './snapshot.js';
import type { ReadKind } from '../registry.js';

const GROUP = 'gateway.networking.k8s.io';
const SA_DIR = '/var/run/secrets/kubernetes.io/serviceaccount';
const SERVICE_NAME = 'kubernetes.io/service-name';
/** One page of a LIST: typed lists carry `_continue`, custom-object lists the raw `continue`. */
type Page = {
  items?: unknown[];
  metadata?: { _continue?: string | undefined; continue?: string | undefined } | undefined;
};
const KINDS: Record<string, string> = {
  gatewayclasses: 'GatewayClass',
  gateways: 'Gateway',
  httproutes: 'HTTPRoute',
  grpcroutes: 'GRPCRoute',
  listenersets: 'ListenerSet',
};

export type KubeconfigSource =
  | { ok: true; kind: 'files'; files: string[] }
  | { ok: true; kind: 'in-cluster' }
  | { ok: false; why: string };

/**
 * kubectl's order: --kubeconfig (must exist), $KUBECONFIG (list of files, missing ones skipped), ~/.kube/config,
 * then the in-cluster service account. Nothing found is said plainly: client-node would otherwise fall back to
 * http://localhost:8080 and talk to whatever listens there.
 */
export function findKubeconfig(flag: string | null, env: NodeJS.ProcessEnv = process.env): KubeconfigSource {
  if (flag !== null) {
    if (!existsSync(flag)) throw new UsageError(`--kubeconfig ${flag}: no such file`);
    return { ok: true, kind: 'files', files: [flag] };
  }
  const fromEnv = (env['KUBECONFIG'] ?? '').split(delimiter).filter((f) => f !== '');
  if (fromEnv.length > 0) {
    const present = fromEnv.filter((f) => existsSync(f));
    if (present.length > 0) return { ok: true, kind: 'files', files: present };
    return {
      ok: false,
      why: `no kubeconfig found: none of the files in $KUBECONFIG exist (${fromEnv.join(delimiter)})`,
    };
  }
  const home = join(env['HOME'] ?? homedir(), '.kube', 'config');
  if (existsSync(home)) return { ok: true, kind: 'files', files: [home] };
  if (env['KUBERNETES_SERVICE_HOST'] && existsSync(join(SA_DIR, 'token'))) return { ok: true, kind: 'in-cluster' };
  return {
    ok: false,
    why: 'no kubeconfig found ($KUBECONFIG unset, ~/.kube/config missing, not running in a cluster): pass --kubeconfig or --manifests',
  };
}

// ---- kubeconfig exec credential plugins -------------------------------------------------------------------------
// Live mode runs the kubeconfig's `exec` plugin (aws eks get-token, gke-gcloud-auth-plugin, kubelogin, ...) exactly as
// kubectl does: that is how those clusters hand out credentials. gwdoctor runs it in its own process group, with no
// stdin, under the run's deadline: when the deadline passes (or gwdoctor exits) the whole group is killed, so a hung
// plugin never outlives the run. A failing plugin is reported as such (ClusterCredentialPluginFailed), not as an
// unreachable API server.

/** Process groups of plugins still running; killed on deadline and when gwdoctor exits. */
const livePluginGroups = new Set<number>();

function killGroup(pid: number): void {
  try {
    process.kill(-pid, 'SIGKILL');
  } catch (err) {
    // ESRCH: the group is gone already; anything else (EPERM) we cannot act on either.
    if ((err as NodeJS.ErrnoException).code !== 'ESRCH' && (err as NodeJS.ErrnoException).code !== 'EPERM') throw err;
  }
  livePluginGroups.delete(pid);
}

/** Kill every plugin process group still running (called on exit, Ctrl-C and the run's hard deadline). */
export function killCredentialPlugins(): void {
  for (const pid of [...livePluginGroups]) killGroup(pid);
}
process.once('exit', killCredentialPlugins);

interface PluginFailure {
  command: string;
  why: string;
}

/**
 * Make client-node's ExecAuth spawn plugins the way gwdoctor wants (own process group, deadline, no stdin) and note
 * how a plugin failed, so that the API call it broke can say so.
 */
function guardExecPlugins(kc: KubeConfig, signal: AbortSignal, failed: (f: PluginFailure) => void): void {
  const auths = (kc as unknown as { authenticators?: unknown[] }).authenticators ?? [];
  const exec = auths.find(
    (a): a is { execFn: unknown } => typeof a === 'object' && a !== null && 'execFn' in a && 'tokenCache' in a,
  );
  if (!exec) return;
  exec.execFn = (command: string, args: string[] | undefined, opts: SpawnOptions): ChildProcess => {
    const name = command.split('/').pop() ?? command;
    const child = spawn(command, args ?? [], { ...opts, detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
    let timedOut = false;
    let stderr = '';
    child.stderr?.on('data', (d: Buffer | string) => {
      if (stderr.length < 4096) stderr += d.toString();
    });
    const onAbort = () => {
      timedOut = true;
      if (child.pid !== undefined) killGroup(child.pid);
    };
    if (child.pid !== undefined) {
      livePluginGroups.add(child.pid);
      if (signal.aborted) onAbort();
      else signal.addEventListener('abort', onAbort, { once: true });
    }
    child.on('error', (err: NodeJS.ErrnoException) => {
      failed({
        command: name,
        why:
          err.code === 'ENOENT'
            ? `"${command}" is not installed or not on PATH`
            : `cannot start "${command}": ${err.code ?? err.message}`,
      });
    });
    child.on('close', (code, sig) => {
      signal.removeEventListener('abort', onAbort);
      if (child.pid !== undefined) livePluginGroups.delete(child.pid);
      const said = stderr
        .trim()
        .split('\n')
        .filter((l) => l.trim() !== '')
        .pop();
      if (timedOut)
        failed({ command: name, why: 'did not finish within --timeout and was stopped (its whole process group)' });
      else if (code !== 0)
        failed({
          command: name,
          why: `${sig ? `was killed by ${sig}` : `exited with status ${code}`}${said ? `: ${said}` : ''}`,
        });
    });
    return child;
  };
}

function jsonOf<T>(v: unknown): T {
  return JSON.parse(JSON.stringify(v)) as T;
}

/** Items of a list as plain JSON; the API server leaves apiVersion/kind off list items, so put them back. */
function itemsOf<T>(items: unknown[] | undefined, apiVersion: string, kind: string): T[] {
  return jsonOf<Record<string, unknown>[]>(items ?? []).map((o) => ({ ...o, apiVersion, kind })) as T[];
}

function statusMessage(body: unknown): string | undefined {
  try {
    const b =
      typeof body === 'string'
        ? (JSON.parse(body) as { message?: string })
        : (body as { message?: string } | undefined);
    return b?.message;
  } catch {
    return undefined;
  }
}

const TLS_CODES = /^(CERT_|UNABLE_TO_|DEPTH_ZERO|SELF_SIGNED|ERR_TLS|ERR_SSL|ERR_OSSL)/;

function causeCode(err: unknown): string | undefined {
  let e: unknown = err;
  for (let i = 0; i < 6 && e; i++) {
    const c = (e as { code?: unknown }).code;
    if (typeof c === 'string') return c;
    e = (e as { cause?: unknown }).cause;
  }
  return undefined;
}

/** The one place that reads client-node / undici errors. Never includes headers, tokens or the kubeconfig. */
export function toClusterError(err: unknown, what: string, server: string): ClusterAccessError {
  const code = (err as { code?: unknown }).code;
  if (typeof code === 'number') {
    const msg = statusMessage((err as { body?: unknown }).body);
    return Object.assign(httpError(code, msg, what), { status: code, ...(msg ? { serverMessage: msg } : {}) });
  }
  return transportError(err, what, server);
}

function httpError(code: number, msg: string | undefined, what: string): ClusterAccessError {
  if (code === 403) {
    return new ClusterAccessError(
      'forbidden',
      `forbidden: cannot ${what}${msg ? ` (${msg})` : ''}`,
      `grant get/list on it, e.g. bind the ClusterRole in deploy/rbac.yaml`,
    );
  }
  if (code === 401)
    return new ClusterAccessError(
      'unauthorized',
      `unauthorized: the API server rejected the credentials of this kubeconfig user while trying to ${what}`,
      'refresh the credentials (kubectl auth whoami)',
    );
  if (code === 404)
    return new ClusterAccessError(
      'crd-missing',
      `the API server does not serve what gwdoctor needs to ${what}: is the Gateway API installed?`,
      'kubectl get crd gateways.gateway.networking.k8s.io',
    );
  return new ClusterAccessError(
    'api',
    `the API server answered HTTP ${code} while trying to ${what}${msg ? `: ${msg}` : ''}`,
  );
}

function transportError(err: unknown, what: string, server: string): ClusterAccessError {
  const c = causeCode(err);
  if (c && TLS_CODES.test(c)) {
    return new ClusterAccessError(
      'tls',
      `TLS error talking to ${server}: ${c} (the kubeconfig's certificate-authority does not match the server's certificate?)`,
      'check certificate-authority(-data) of the cluster entry in the kubeconfig',
    );
  }
  if (c === 'ABORT_ERR' || c === 'UND_ERR_CONNECT_TIMEOUT' || c === 'UND_ERR_HEADERS_TIMEOUT') {
    return new ClusterAccessError(
      'timeout',
      `the API server ${server} did not answer in time (${c}) while trying to ${what}`,
    );
  }
  return new ClusterAccessError(
    'unreachable',
    `cannot reach the API server ${server}: ${c ?? rootMessage(err)} (while trying to ${what})`,
    'check the cluster address, VPN and that the API server is up: kubectl cluster-info',
  );
}

/**
 * Merge several kubeconfig files as kubectl merges $KUBECONFIG: for clusters, users and contexts the first file that
 * defines a name wins, and current-context comes from the first file that sets one. (client-node's loadFromDefault
 * lets the last file's current-context win.)
 */
function mergeLikeKubectl(kc: KubeConfig, files: string[]): void {
  const clusters = new Map<string, KubeConfig['clusters'][number]>();
  const users = new Map<string, KubeConfig['users'][number]>();
  const contexts = new Map<string, KubeConfig['contexts'][number]>();
  let currentContext = '';
  for (const f of files) {
    const one = new KubeConfig();
    one.loadFromFile(f);
    for (const c of one.clusters) if (!clusters.has(c.name)) clusters.set(c.name, c);
    for (const u of one.users) if (!users.has(u.name)) users.set(u.name, u);
    for (const c of one.contexts) if (!contexts.has(c.name)) contexts.set(c.name, c);
    if (!currentContext && one.currentContext) currentContext = one.currentContext;
  }
  kc.loadFromOptions({
    clusters: [...clusters.values()],
    users: [...users.values()],
    contexts: [...contexts.values()],
    currentContext,
  });
}

/** A request a read makes: verb, resource (`plural.group`; `plural` for the core group) and namespace (none: cluster scope). */
type Ask = Pick<Unreadable, 'verb' | 'resource' | 'namespace'>;
const gwList = (plural: string): Ask => ({ verb: 'list', resource: `${plural}.${GROUP}` });

/** The typed record of a read that failed with `err` (src/types.ts UnreadFact), with the API server's own words. */
export function unreadableOf(
  kind: ReadKind,
  ask: Ask,
  err: ClusterAccessError,
  outcome: Unreadable['outcome'],
): Unreadable {
  return {
    kind,
    reason: err.kind === 'forbidden' ? 'forbidden' : err.kind === 'crd-missing' ? 'not-served' : 'error',
    ...ask,
    ...(err.status !== undefined ? { status: err.status } : {}),
    outcome,
    ...(err.serverMessage ? { message: err.serverMessage } : {}),
  };
}

export interface LiveOptions {
  /** Remember discovery on disk between runs (the CLI's default; off with --no-discovery-cache). Off when omitted. */
  discoveryCache?: boolean;
  /** Where $XDG_CACHE_HOME / $HOME come from (tests). */
  env?: NodeJS.ProcessEnv;
  /** A note for --debug (a cache that could not be read or written). */
  note?: (msg: string) => void;
}

export class LiveCluster implements ClusterReader {
  readonly mode = 'live' as const;
  private readonly cache = new Map<string, Promise<unknown>>();
  private readonly core: CoreV1Api;
  private readonly custom: CustomObjectsApi;
  private readonly discovery: DiscoveryV1Api;
  private readonly apis: ApisApi;
  private readonly server: string;
  private readonly context: string;
  private pluginFailure: PluginFailure | null = null;
  private readonly diskCache: DiscoveryCache;
  private readonly kc: KubeConfig;
  private readonly envoys = new Map<string, Promise<PodRead>>();
  private readonly forwards = new Map<string, Promise<AdminAnswer>>();
  private readonly signal: AbortSignal;

  private constructor(kc: KubeConfig, signal: AbortSignal, opts: LiveOptions) {
    this.kc = kc;
    this.signal = signal;
    guardExecPlugins(kc, signal, (f) => (this.pluginFailure ??= f));
    this.core = kc.makeApiClient(CoreV1Api);
    this.custom = kc.makeApiClient(CustomObjectsApi);
    this.discovery = kc.makeApiClient(DiscoveryV1Api);
    this.apis = kc.makeApiClient(ApisApi);
    // Only ever shown redacted: a kubeconfig may carry https://user:pass@host (client-node then sends basic auth).
    this.server = redactUrl(kc.getCurrentCluster()?.server ?? '(unknown server)');
    this.context = kc.getCurrentContext();
    const user = kc.getCurrentUser();
    this.diskCache = DiscoveryCache.for(
      {
        server: kc.getCurrentCluster()?.server ?? '',
        user: user?.name,
        username: user?.username,
        exec: user?.exec ? [user.exec.command, ...(user.exec.args ?? [])].join(' ') : undefined,
        authProvider: user?.authProvider?.name,
        clientCertificate: user?.certFile ?? user?.certData,
      },
      {
        enabled: opts.discoveryCache ?? false,
        ...(opts.env ? { env: opts.env } : {}),
        ...(opts.note ? { note: opts.note } : {}),
      },
    );
  }

  /** `signal` is the run's deadline: credential plugins still running when it fires are killed. */
  static async create(
    src: Extract<KubeconfigSource, { ok: true }>,
    context: string | null,
    signal: AbortSignal = new AbortController().signal,
    opts: LiveOptions = {},
  ): Promise<LiveCluster> {
    const kc = new KubeConfig();
    try {
      if (src.kind === 'in-cluster') kc.loadFromCluster();
      else if (src.files.length === 1) kc.loadFromFile(src.files[0] as string);
      else mergeLikeKubectl(kc, src.files);
    } catch (err) {
      const first = ((err as Error).message ?? String(err)).split('\n')[0];
      throw new UsageError(
        `cannot load kubeconfig ${src.kind === 'files' ? src.files.join(delimiter) : '(in-cluster)'}: ${redact(first ?? '')}`,
      );
    }
    if (context !== null) {
      if (!kc.getContexts().some((c) => c.name === context)) {
        throw new UsageError(
          `--context ${context}: no such context in the kubeconfig (have: ${
            kc
              .getContexts()
              .map((c) => c.name)
              .join(', ') || 'none'
          })`,
        );
      }
      kc.setCurrentContext(context);
    }
    const cluster = kc.getCurrentCluster();
    if (!cluster)
      throw new UsageError(`the kubeconfig has no current context${kc.getContexts().length ? ': pass --context' : ''}`);
    if (!/^https?:\/\//.test(cluster.server))
      throw new UsageError(
        `the kubeconfig's cluster "${cluster.name}" has an invalid server address "${redactUrl(cluster.server)}"`,
      );
    if (cluster.server.startsWith('http://')) {
      // A plain-HTTP server (`kubectl proxy`, a local tunnel): kubectl talks HTTP to it. client-node refuses unless
      // the cluster entry has skipTLSVerify ("HTTP protocol is not allowed when skipTLSVerify is not set"), a guard
      // only: over HTTP there is no certificate to verify. Set it for this entry, so the reads go as kubectl's do.
      kc.clusters = kc.clusters.map((c) => (c.name === cluster.name ? { ...c, skipTLSVerify: true } : c));
    }
    return new LiveCluster(kc, signal, opts);
  }

  origin(o: K8sObject) {
    const rv = (o.metadata as { resourceVersion?: string }).resourceVersion;
    return rv ? { resourceVersion: rv } : undefined;
  }
  describeSource() {
    return { context: this.context, server: this.server };
  }

  /** A --wait retry re-reads objects; discovery (what the server serves) is kept for the run. */
  refresh(): void {
    this.cache.clear();
    this.envoys.clear();
    this.forwards.clear();
    this.snap = undefined;
  }
  private snap: Snapshot | undefined;
  snapshot(): Snapshot {
    return (this.snap ??= new Snapshot('live'));
  }

  /**
   * A read of `kind`, whose failure is recorded in this attempt's snapshot (one record per kind: Snapshot.unreadable)
   * and thrown on, to the layer that needs it. `degraded`: how the reader's caller takes a 403 (its contract in
   * reader.ts: 'unknown' when it says "not checked" instead of failing).
   */
  private track<T>(kind: ReadKind, ask: Ask, read: () => Promise<T>, degraded: 'unknown' | null = null): Promise<T> {
    const snap = this.snapshot();
    return read().catch((err: unknown) => {
      if (err instanceof ClusterAccessError)
        snap.recordUnreadable(unreadableOf(kind, ask, err, degraded && err.kind === 'forbidden' ? degraded : 'failed'));
      throw err;
    });
  }

  /**
   * Record a debug read through pods/portforward that gave no answer (these reads never throw: the data plane layer
   * says "not checked" with the reason): refused by RBAC, or unreachable.
   */
  private noteDebug<A extends { kind: string }>(kind: 'IstiodDebug' | 'EnvoyAdmin', namespace: string): (a: A) => A {
    const snap = this.snapshot();
    return (a) => {
      if (a.kind !== 'ok')
        snap.recordUnreadable({
          kind,
          reason: a.kind === 'forbidden' ? 'forbidden' : 'error',
          verb: 'create',
          resource: 'pods/portforward',
          namespace,
          ...(a.kind === 'forbidden' ? { status: 403 } : {}),
          outcome: 'unknown',
        });
      return a;
    };
  }

  /** GET `path` of a Pod's port through pods/portforward, once per run (ClusterReader.podPortGet). */
  podPortGet(namespace: string, pod: string, port: number, path: string): Promise<AdminAnswer> {
    const key = `${namespace}/${pod}:${port}${path}`;
    let p = this.forwards.get(key);
    if (!p) {
      p = portForwardGet(this.kc, namespace, pod, port, path, { timeoutMs: 15_000, signal: this.signal }).then(
        this.noteDebug('IstiodDebug', namespace),
      );
      this.forwards.set(key, p);
    }
    return p;
  }

  /** One GET to a Pod's Envoy admin port through pods/portforward (the transport envoyRead uses). */
  envoyAdmin(namespace: string, pod: string): AdminGet {
    return (path) =>
      portForwardGet(this.kc, namespace, pod, ENVOY_ADMIN_PORT, path, { timeoutMs: 15_000, signal: this.signal });
  }

  /** A gateway Pod's Envoy (config dump, clusters, xDS connection), read once per Pod per run (ClusterReader.envoyRead). */
  envoyRead(namespace: string, pod: string): Promise<PodRead> {
    const key = `${namespace}/${pod}`;
    let p = this.envoys.get(key);
    if (!p) {
      p = readEnvoy(this.envoyAdmin(namespace, pod))
        .then((r) => (r.kind === 'ok' ? { kind: 'ok' as const, read: r.read } : r))
        .then(this.noteDebug('EnvoyAdmin', namespace));
      this.envoys.set(key, p);
    }
    return p;
  }

  private memo<T>(key: string, what: string, fn: () => Promise<T>): Promise<T> {
    let p = this.cache.get(key) as Promise<T> | undefined;
    if (!p) {
      p = fn().catch((err: unknown) => {
        if (err instanceof ClusterAccessError) throw err;
        const plugin = this.pluginFailure;
        if (plugin) {
          throw new ClusterAccessError(
            'credential-plugin',
            `the kubeconfig's exec credential plugin ${plugin.command} ${plugin.why} (while trying to ${what})`,
            `run the plugin yourself to see why, e.g. kubectl auth whoami${this.context ? ` --context ${this.context}` : ''}; log in again if its credentials expired (aws sso login, gcloud auth login, kubelogin, ...)`,
          );
        }
        throw toClusterError(err, what, this.server);
      });
      this.cache.set(key, p);
    }
    return p;
  }

  /**
   * Served versions of gateway.networking.k8s.io, once per run (a --wait retry keeps them) and, unless turned off, from
   * the disk cache (discovery-cache.ts). A missing group is a clear "not installed" and is never cached.
   */
  private discovered: Promise<Discovered> | undefined;
  private discoveries = 0;
  /** Re-discoveries left for this run after a read said the discovered version is not served (404). */
  private rediscoverBudget = 1;
  private gatewayApi(): Promise<Discovered> {
    return (this.discovered ??= this.discoverCached().catch((err: unknown) => {
      this.discovered = undefined; // a failed discovery is retried on the next read
      throw err;
    }));
  }

  private async discoverCached(): Promise<Discovered> {
    const hit = this.diskCache.read();
    if (hit) return hit;
    const found = await this.discover();
    this.diskCache.write(found);
    return found;
  }

  /**
   * A read that depends on what discovery said. When the API server answers 404 (the version is no longer served:
   * a stale cache entry, or CRDs changed during --wait), the entry is dropped and discovery runs again, once per run;
   * the read is then repeated with what the server serves now.
   */
  private async withDiscovery<T>(read: (api: Discovered) => Promise<T>): Promise<T> {
    const used = this.gatewayApi();
    const api = await used;
    try {
      return await read(api);
    } catch (err) {
      if (!(err instanceof ClusterAccessError && err.kind === 'crd-missing')) throw err;
      if (this.discovered === used) {
        if (this.rediscoverBudget <= 0) throw err;
        this.rediscoverBudget--;
        this.diskCache.drop();
        this.discovered = undefined;
      }
      const fresh = await this.gatewayApi();
      if (fresh === api) throw err;
      return read(fresh);
    }
  }

  private discover(): Promise<Discovered> {
    return this.memo(`discovery#${++this.discoveries}`, 'discover API groups (GET /apis)', async () => {
      const list = await this.apis.getAPIVersions();
      const g = (list.groups ?? []).find((x) => x.name === GROUP);
      if (!g) {
        throw Object.assign(new Error('gateway api missing'), { code: 404 });
      }
      const versions = g.versions.map((v) => v.version);
      let referenceGrant = 'v1beta1';
      // The kinds served at v1 (GRPCRoute and ListenerSet may not be: their lists are then empty, not an error).
      const v1 = new Set<string>();
      if (versions.includes('v1')) {
        const res = await this.custom.getAPIResources({ group: GROUP, version: 'v1' });
        for (const r of res.resources) if (!r.name.includes('/')) v1.add(r.name); // kinds, not subresources (gateways/status)
        if (v1.has('referencegrants')) referenceGrant = 'v1';
      }
      return { versions, referenceGrant, v1Resources: [...v1] };
    }).catch((err: unknown) => {
      if (err instanceof ClusterAccessError && err.kind === 'crd-missing') {
        throw new ClusterAccessError(
          'crd-missing',
          `the Gateway API is not installed on ${this.server}: the API server serves no ${GROUP} group`,
          'install the Gateway API CRDs (standard channel), e.g. kubectl get crd | grep gateway.networking.k8s.io',
        );
      }
      throw err;
    });
  }

  private listCluster<T>(plural: string, version = 'v1'): Promise<T[]> {
    return this.withDiscovery((api) => {
      const v = api.versions.includes(version) ? version : (api.versions[0] as string);
      return this.memo(`list/${plural}@${v}`, `list ${plural}.${GROUP} at the cluster scope`, async () => {
        const items = await this.paginate(
          (_continue, limit) =>
            this.custom.listClusterCustomObject({
              group: GROUP,
              version: v,
              plural,
              limit,
              ...(_continue ? { _continue } : {}),
            }) as Promise<Page>,
        );
        return itemsOf<T>(items, `${GROUP}/${v}`, KINDS[plural] as string);
      });
    });
  }

  gatewayClasses() {
    return this.track('GatewayClass', gwList('gatewayclasses'), () => this.listCluster<GatewayClass>('gatewayclasses'));
  }
  gateways() {
    return this.track('Gateway', gwList('gateways'), () => this.listCluster<Gateway>('gateways'));
  }
  httpRoutes() {
    return this.track('HTTPRoute', gwList('httproutes'), () => this.listCluster<HTTPRoute>('httproutes'));
  }
  /** Kinds that only some installations serve (GRPCRoute: standard since v1.1; ListenerSet: since v1.5): none when not served. */
  private listIfServed<T>(plural: string, kind: 'GRPCRoute' | 'ListenerSet'): Promise<T[]> {
    const snap = this.snapshot();
    const ask = gwList(plural);
    return this.track(kind, ask, async () => {
      const api = await this.gatewayApi();
      if (!api.v1Resources.includes(plural)) {
        // Not served: no object of the kind can exist, so none is checked and none is missed.
        snap.recordUnreadable({ kind, reason: 'not-served', ...ask, outcome: 'none' });
        return [];
      }
      try {
        return await this.listCluster<T>(plural);
      } catch (err) {
        // A role that predates gwdoctor reading this kind (deploy/rbac.yaml grants it): go on without it and say so
        // (the route layer reports what could not be checked) rather than make the whole run inconclusive.
        if (!(err instanceof ClusterAccessError && err.kind === 'forbidden')) throw err;
        snap.recordUnreadable(unreadableOf(kind, ask, err, 'none'));
        return [];
      }
    });
  }
  grpcRoutes() {
    return this.listIfServed<GRPCRoute>('grpcroutes', 'GRPCRoute');
  }
  listenerSets() {
    return this.listIfServed<ListenerSet>('listenersets', 'ListenerSet');
  }
  referenceGrants(ns: string) {
    return this.track('ReferenceGrant', { ...gwList('referencegrants'), namespace: ns }, () => this.grantsIn(ns));
  }
  private grantsIn(ns: string) {
    return this.withDiscovery((api) =>
      this.inNamespace<ReferenceGrant>(
        `referencegrants@${api.referenceGrant}`,
        ns,
        undefined,
        `list referencegrants.${GROUP}`,
        `${GROUP}/${api.referenceGrant}`,
        'ReferenceGrant',
        (o) =>
          this.custom.listNamespacedCustomObject({
            group: GROUP,
            version: api.referenceGrant,
            namespace: ns,
            plural: 'referencegrants',
            ...o,
          }) as Promise<Page>,
        (o) =>
          this.custom.listCustomObjectForAllNamespaces({
            group: GROUP,
            version: api.referenceGrant,
            resourcePlural: 'referencegrants',
            ...o,
          }) as Promise<Page>,
      ),
    );
  }
  async referenceGrantApiVersion() {
    return `${GROUP}/${(await this.gatewayApi()).referenceGrant}`;
  }
  /** GET one ConfigMap; a 403 degrades to "unknown" (null): reading it is optional (deploy/rbac.yaml grants it). */
  configMap(ns: string, name: string) {
    const ask: Ask = { verb: 'get', resource: 'configmaps', namespace: ns };
    const snap = this.snapshot();
    return this.track('ConfigMap', ask, () =>
      this.memo(`cm/${ns}/${name}`, `get configmap ${ns}/${name}`, async (): Promise<K8sObject | undefined | null> => {
        try {
          return {
            ...jsonOf<K8sObject>(await this.core.readNamespacedConfigMap({ namespace: ns, name })),
            apiVersion: 'v1',
            kind: 'ConfigMap',
          };
        } catch (err) {
          const code = (err as { code?: unknown }).code;
          if (code === 404) return undefined;
          if (code === 403) {
            const msg = statusMessage((err as { body?: unknown }).body);
            snap.recordUnreadable({
              kind: 'ConfigMap',
              reason: 'forbidden',
              ...ask,
              status: 403,
              outcome: 'unknown',
              ...(msg ? { message: msg } : {}),
            });
            return null;
          }
          throw err;
        }
      }),
    );
  }
  /**
   * GET one Secret by name (a listener's certificateRef; gwdoctor never LISTs Secrets). A 403 is thrown as
   * ClusterAccessError('forbidden') naming verb, resource and namespace; the certificate check turns it into "not
   * checked" (reading Secrets is optional: deploy/rbac-secrets.yaml). What is kept is secretView: no labels or
   * annotations, key material non-enumerable.
   */
  secret(ns: string, name: string) {
    return this.track(
      'Secret',
      { verb: 'get', resource: 'secrets', namespace: ns },
      () =>
        this.memo(`secret/${ns}/${name}`, `get secret ${ns}/${name}`, async (): Promise<Secret | undefined> => {
          try {
            return secretView(await this.core.readNamespacedSecret({ namespace: ns, name }));
          } catch (err) {
            if ((err as { code?: unknown }).code === 404) return undefined;
            throw err;
          }
        }),
      'unknown',
    );
  }
  /**
   * One Namespace (its labels: allowedRoutes selectors, ambient waypoint labels). Like the namespaced kinds, after a
   * few distinct GETs one cluster-wide LIST serves every further one (a 403 on that LIST falls back to GETs).
   */
  namespace(name: string): Promise<Namespace | undefined> {
    return this.track('Namespace', { verb: 'get', resource: 'namespaces' }, () => this.namespaceNamed(name));
  }
  private async namespaceNamed(name: string): Promise<Namespace | undefined> {
    if (this.wide.get('namespaces') !== 'wide') this.countAsk('namespaces', name);
    if (this.wide.get('namespaces') === 'wide') {
      try {
        const all = await this.memo('all/namespaces', 'list namespaces at the cluster scope', async () =>
          itemsOf<Namespace>(
            await this.paginate(
              (_continue, limit) =>
                this.core.listNamespace({ limit, ...(_continue ? { _continue } : {}) }) as Promise<Page>,
            ),
            'v1',
            'Namespace',
          ),
        );
        return all.find((n) => n.metadata.name === name);
      } catch (err) {
        if (!(err instanceof ClusterAccessError && err.kind === 'forbidden')) throw err;
        this.wide.set('namespaces', 'forbidden');
      }
    }
    return this.memo(`ns/${name}`, `get namespace ${name}`, async () => {
      try {
        return { ...jsonOf<Namespace>(await this.core.readNamespace({ name })), apiVersion: 'v1', kind: 'Namespace' };
      } catch (err) {
        if ((err as { code?: unknown }).code === 404) return undefined;
        throw err;
      }
    });
  }
  service(ns: string, name: string) {
    return this.track('Service', { verb: 'get', resource: 'services', namespace: ns }, () =>
      this.serviceNamed(ns, name),
    );
  }
  private async serviceNamed(ns: string, name: string) {
    if (this.wide.get('services') === 'wide') {
      return (await this.servicesIn(ns, {})).find((o) => o.metadata.name === name);
    }
    this.countAsk('services', `${ns}/${name}`);
    if (this.wide.get('services') === 'wide')
      return (await this.servicesIn(ns, {})).find((o) => o.metadata.name === name);
    return this.memo(`svc/${ns}/${name}`, `get services in namespace ${ns}`, async () => {
      try {
        return {
          ...jsonOf<Service>(await this.core.readNamespacedService({ namespace: ns, name })),
          apiVersion: 'v1',
          kind: 'Service',
        };
      } catch (err) {
        if ((err as { code?: unknown }).code === 404) return undefined;
        throw err;
      }
    });
  }
  /** Every Service of the cluster (candidates for fixes that need a backend): one paginated cluster-wide LIST. */
  allServices() {
    return this.track('Service', { verb: 'list', resource: 'services' }, () => this.everyService());
  }
  private everyService() {
    return this.memo('svcs/*', 'list services in all namespaces', async () =>
      itemsOf<Service>(
        await this.paginate(
          (_continue, limit) =>
            this.core.listServiceForAllNamespaces({ limit, ...(_continue ? { _continue } : {}) }) as Promise<Page>,
        ),
        'v1',
        'Service',
      ),
    );
  }
  private servicesIn(ns: string, labels: Record<string, string>) {
    return this.inNamespace<Service>(
      'services',
      ns,
      labels,
      'list services',
      'v1',
      'Service',
      (o) => this.core.listNamespacedService({ namespace: ns, ...o }),
      (o) => this.core.listServiceForAllNamespaces(o),
    );
  }
  servicesByLabel(ns: string, labels: Record<string, string>) {
    return this.track('Service', { verb: 'list', resource: 'services', namespace: ns }, () =>
      this.servicesIn(ns, labels),
    );
  }
  endpointSlices(ns: string, svc: string) {
    return this.track(
      'EndpointSlice',
      { verb: 'list', resource: 'endpointslices.discovery.k8s.io', namespace: ns },
      () => this.slicesOf(ns, svc),
    );
  }
  private slicesOf(ns: string, svc: string) {
    return this.inNamespace<EndpointSlice>(
      'endpointslices',
      ns,
      { [SERVICE_NAME]: svc },
      'list endpointslices.discovery.k8s.io',
      'discovery.k8s.io/v1',
      'EndpointSlice',
      (o) => this.discovery.listNamespacedEndpointSlice({ namespace: ns, ...o }),
      (o) => this.discovery.listEndpointSliceForAllNamespaces(o),
    );
  }
  pods(ns: string, selector: Record<string, string>) {
    return this.track('Pod', { verb: 'list', resource: 'pods', namespace: ns }, () => this.podsOf(ns, selector));
  }
  private podsOf(ns: string, selector: Record<string, string>) {
    return this.inNamespace<Pod>(
      'pods',
      ns,
      selector,
      'list pods',
      'v1',
      'Pod',
      (o) => this.core.listNamespacedPod({ namespace: ns, ...o }),
      (o) => this.core.listPodForAllNamespaces(o),
    ) as Promise<Pod[] | null>;
  }

  /** Items per LIST page (kubectl's --chunk-size default); every LIST follows `continue` to the end. */
  pageSize = 500;
  /** Distinct namespaced reads of one kind before one cluster-wide LIST serves every further target of the run. */
  static readonly SHARED_AFTER = 2;
  private readonly asked = new Map<string, Set<string>>();
  /** Per kind: 'wide' once reads are served from one cluster-wide LIST; 'forbidden' when that LIST was refused. */
  private readonly wide = new Map<string, 'wide' | 'forbidden'>();

  private countAsk(kind: string, key: string): void {
    const set = this.asked.get(kind) ?? new Set<string>();
    set.add(key);
    this.asked.set(kind, set);
    // Namespaces are few and small: the second distinct one already switches to one LIST.
    const after = kind === 'namespaces' ? 1 : LiveCluster.SHARED_AFTER;
    if (set.size > after && !this.wide.has(kind)) this.wide.set(kind, 'wide');
  }

  private async paginate(
    fetch: (continueToken: string | undefined, limit: number) => Promise<Page>,
  ): Promise<unknown[]> {
    const out: unknown[] = [];
    let token: string | undefined;
    for (let pages = 0; ; pages++) {
      const page = await fetch(token, this.pageSize);
      for (const item of page.items ?? []) out.push(item);
      token = page.metadata?._continue || page.metadata?.continue || undefined;
      if (!token || pages > 100_000) return out;
    }
  }

  /**
   * Objects of a kind in a namespace matching labels: a namespaced LIST (label selector on the server) for the first
   * few distinct reads, then one paginated cluster-wide LIST shared by every target of the run, filtered here. When the
   * cluster-wide LIST is forbidden (namespaced RBAC), namespaced LISTs go on.
   */
  private async inNamespace<T extends Namespace>(
    kind: string,
    ns: string,
    labels: Record<string, string> | undefined,
    what: string,
    apiVersion: string,
    objKind: string,
    namespaced: (o: { labelSelector?: string; limit: number; _continue?: string }) => Promise<Page>,
    clusterWide: (o: { limit: number; _continue?: string }) => Promise<Page>,
  ): Promise<T[]> {
    const sel = labels ? selectorString(labels) : '';
    if (this.wide.get(kind) !== 'wide') this.countAsk(kind, `${ns}?${sel}`);
    if (this.wide.get(kind) === 'wide') {
      try {
        const all = await this.memo(`all/${kind}`, `${what} at the cluster scope`, async () =>
          itemsOf<T>(
            await this.paginate((_continue, limit) => clusterWide({ limit, ...(_continue ? { _continue } : {}) })),
            apiVersion,
            objKind,
          ),
        );
        return all.filter(
          (o) => (o.metadata.namespace ?? 'default') === ns && (!labels || labelsMatch(labels, o.metadata.labels)),
        );
      } catch (err) {
        if (!(err instanceof ClusterAccessError && err.kind === 'forbidden')) throw err;
        this.wide.set(kind, 'forbidden');
      }
    }
    return this.memo(`${kind}/${ns}?${sel}`, `${what} in namespace ${ns}`, async () =>
      itemsOf<T>(
        await this.paginate((_continue, limit) =>
          namespaced({ ...(sel ? { labelSelector: sel } : {}), limit, ...(_continue ? { _continue } : {}) }),
        ),
        apiVersion,
        objKind,
      ),
    );
  }
  /**
   * One of Istio's kinds, cluster-wide (one paginated LIST per run): v1 (Istio 1.22+), else v1beta1; [] when neither
   * is served (Istio's CRDs are not installed, so no such policy can act). A 403 is thrown (ClusterAccessError
   * 'forbidden'): the mesh layer says what it could not check.
   */
  meshObjects<K extends MeshKind>(kind: K): Promise<MeshObjectOf<K>[] | null> {
    const { group, plural } = MESH_KINDS[kind];
    const ask: Ask = { verb: 'list', resource: `${plural}.${group}` };
    const snap = this.snapshot();
    return this.track(kind, ask, () => this.meshList<K>(kind, group, plural, snap, ask), 'unknown');
  }
  private meshList<K extends MeshKind>(
    kind: K,
    group: string,
    plural: string,
    snap: Snapshot,
    ask: Ask,
  ): Promise<MeshObjectOf<K>[] | null> {
    return this.memo(`mesh/${plural}`, `list ${plural}.${group} at the cluster scope`, async () => {
      for (const version of ['v1', 'v1beta1']) {
        try {
          const items = await this.paginate(
            (_continue, limit) =>
              this.custom.listClusterCustomObject({
                group,
                version,
                plural,
                limit,
                ...(_continue ? { _continue } : {}),
              }) as Promise<Page>,
          );
          return itemsOf<MeshObjectOf<K>>(items, `${group}/${version}`, kind);
        } catch (err) {
          if ((err as { code?: unknown }).code !== 404) throw err;
        }
      }
      snap.recordUnreadable({ kind, reason: 'not-served', ...ask, status: 404, outcome: 'none' });
      return [];
    });
  }
  /**
   * ServiceEntries, cluster-wide (one paginated LIST per run, read only when a backendRef is a networking.istio.io/Hostname):
   * v1, else v1beta1; [] when neither is served. A 403 is thrown (ClusterAccessError 'forbidden').
   */
  serviceEntries(): Promise<ServiceEntry[] | null> {
    const group = 'networking.istio.io';
    const plural = 'serviceentries';
    const ask: Ask = { verb: 'list', resource: `${plural}.${group}` };
    const snap = this.snapshot();
    return this.track('ServiceEntry', ask, () => this.entryList(group, plural, snap, ask), 'unknown');
  }
  private entryList(group: string, plural: string, snap: Snapshot, ask: Ask): Promise<ServiceEntry[] | null> {
    return this.memo(`istio/${plural}`, `list ${plural}.${group} at the cluster scope`, async () => {
      for (const version of ['v1', 'v1beta1']) {
        try {
          const items = await this.paginate(
            (_continue, limit) =>
              this.custom.listClusterCustomObject({
                group,
                version,
                plural,
                limit,
                ...(_continue ? { _continue } : {}),
              }) as Promise<Page>,
          );
          return itemsOf<ServiceEntry>(items, `${group}/${version}`, 'ServiceEntry');
        } catch (err) {
          if ((err as { code?: unknown }).code !== 404) throw err;
        }
      }
      snap.recordUnreadable({ kind: 'ServiceEntry', reason: 'not-served', ...ask, status: 404, outcome: 'none' });
      return [];
    });
  }
  nodes() {
    return this.track('Node', { verb: 'list', resource: 'nodes' }, () => this.nodeList());
  }
  private nodeList() {
    return this.memo('nodes', 'list nodes at the cluster scope', async () =>
      itemsOf<Node>(
        await this.paginate((_continue, limit) => this.core.listNode({ limit, ...(_continue ? { _continue } : {}) })),
        'v1',
        'Node',
      ),
    );
  }
}
