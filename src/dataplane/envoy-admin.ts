// Reading a gateway Envoy's admin interface (port 15000) the way `istioctl proxy-config` does: through the API
// server's pods/portforward (istio pkg/kube/client.go portForwardRequest: a port-forward to the Pod, then a plain HTTP
// GET). Not pods/proxy: Istio binds the admin listener to the Pod's loopback only (tools/packaging/common/
// envoy_bootstrap.json "admin": {"address": {"socket_address": {"address": "{{ .localhost }}", "port_value":
// {{ .config.ProxyAdminPort }}}}}, with localhost 127.0.0.1 or ::1 from pkg/bootstrap/config.go), and the kubelet's
// proxy dials the Pod's IP, where nothing listens on 15000.
//
// Permission: pods/portforward in the gateway's namespace, verbs get AND create. client-node speaks the WebSocket
// port-forward protocol, a GET upgrade (authorized as get), and since Kubernetes 1.35 the API server also checks
// create for WebSocket upgrades (feature AuthorizePodWebsocketUpgradeCreatePermission, beta and on by default;
// pkg/registry/core/pod/rest/subresources.go PortForwardREST.Connect, kubernetes issue 133515). deploy/rbac-envoy-admin.yaml.

import { PassThrough, Writable } from 'node:stream';
import { PortForward, type KubeConfig } from '@kubernetes/client-node';

/** Istio's Envoy admin port (istioctl/pkg/util/constants.go DefaultProxyAdminPort). */
export const ENVOY_ADMIN_PORT = 15000;

export type AdminAnswer =
  | { kind: 'ok'; status: number; body: string }
  /** The API server refused the port-forward (RBAC): the verb and resource the user lacks. */
  | {
      kind: 'forbidden';
      namespace: string;
      resource: 'pods/portforward';
      verbs: readonly ['get', 'create'];
      why: string;
    }
  /** Nothing could be read: the API server or the kubelet could not forward, or the Envoy did not answer. */
  | { kind: 'unreachable'; why: string };

/** One GET to a Pod's Envoy admin port: the seam between the port-forward transport and a direct read (tests). */
export type AdminGet = (path: string) => Promise<AdminAnswer>;

/** A plain HTTP/1.1 response (Content-Length or chunked): null while incomplete. Envoy's admin answers large bodies chunked. */
export function parseHttpResponse(buf: Buffer, ended = false): { status: number; body: Buffer } | null {
  const end = buf.indexOf('\r\n\r\n');
  if (end < 0) return null;
  const head = buf.subarray(0, end).toString('latin1').split('\r\n');
  const status = Number(/^HTTP\/1\.[01] (\d{3})/.exec(head[0] ?? '')?.[1] ?? NaN);
  if (!Number.isFinite(status))
    throw new Error(`not an HTTP response: ${JSON.stringify((head[0] ?? '').slice(0, 60))}`);
  const headers = new Map(
    head
      .slice(1)
      .map((l) => [l.slice(0, l.indexOf(':')).trim().toLowerCase(), l.slice(l.indexOf(':') + 1).trim()] as const),
  );
  const rest = buf.subarray(end + 4);
  if ((headers.get('transfer-encoding') ?? '').toLowerCase().includes('chunked')) {
    const parts: Buffer[] = [];
    let at = 0;
    for (;;) {
      const nl = rest.indexOf('\r\n', at);
      if (nl < 0) return null;
      const size = parseInt(rest.subarray(at, nl).toString('latin1').split(';')[0] ?? '', 16);
      if (!Number.isFinite(size)) throw new Error('bad chunk size in the HTTP response');
      // The last chunk, then the empty line that ends the (trailer) section.
      if (size === 0) return rest.indexOf('\r\n\r\n', nl) >= 0 ? { status, body: Buffer.concat(parts) } : null;
      if (rest.length < nl + 2 + size + 2) return null;
      parts.push(rest.subarray(nl + 2, nl + 2 + size));
      at = nl + 2 + size + 2;
    }
  }
  const len = headers.get('content-length');
  if (len !== undefined) {
    const n = Number(len);
    return rest.length >= n ? { status, body: rest.subarray(0, n) } : null;
  }
  return ended ? { status, body: rest } : null;
}

/** The text of a WebSocket handshake failure (ws: "Unexpected server response: 403"): the API server's HTTP status. */
function handshakeStatus(err: unknown): number | null {
  const e = (err as { error?: unknown })?.error ?? err;
  const m = /Unexpected server response: (\d{3})/.exec(
    e instanceof Error ? e.message : String((e as { message?: unknown })?.message ?? ''),
  );
  return m ? Number(m[1]) : null;
}

function errText(err: unknown): string {
  const e = (err as { error?: unknown })?.error ?? err;
  const msg =
    e instanceof Error
      ? e.message
      : typeof (e as { message?: unknown })?.message === 'string'
        ? (e as { message: string }).message
        : String(e);
  return (msg.split('\n')[0] ?? msg).slice(0, 300);
}

/**
 * GET `path` from port `port` of Pod ns/pod through the API server's pods/portforward (client-node's PortForward, the
 * WebSocket protocol). Never throws: a refusal is 'forbidden' with the verbs, anything else 'unreachable' with why.
 */
export async function portForwardGet(
  kc: KubeConfig,
  namespace: string,
  pod: string,
  port: number,
  path: string,
  opts: { timeoutMs: number; signal?: AbortSignal },
): Promise<AdminAnswer> {
  const chunks: Buffer[] = [];
  const errors: Buffer[] = [];
  const input = new PassThrough();
  let ws: { close(): void } | null = null;
  return new Promise<AdminAnswer>((resolve) => {
    let done = false;
    const finish = (a: AdminAnswer) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      opts.signal?.removeEventListener('abort', onAbort);
      try {
        ws?.close();
      } catch {
        /* already closed */
      }
      input.destroy();
      resolve(a);
    };
    const check = (ended: boolean) => {
      try {
        const r = parseHttpResponse(Buffer.concat(chunks), ended);
        if (r) return finish({ kind: 'ok', status: r.status, body: r.body.toString('utf8') });
      } catch (err) {
        return finish({
          kind: 'unreachable',
          why: `the Envoy admin port answered something else than HTTP (${errText(err)})`,
        });
      }
      if (ended) {
        const e = Buffer.concat(errors).toString('utf8').trim();
        finish({
          kind: 'unreachable',
          why: e ? `the port-forward failed: ${e.slice(0, 300)}` : `the port-forward closed before Envoy answered`,
        });
      }
    };
    const output = new Writable({
      write(c: Buffer, _e, cb) {
        chunks.push(c);
        check(false);
        cb();
      },
      final(cb) {
        check(true);
        cb();
      },
    });
    const errOut = new Writable({
      write(c: Buffer, _e, cb) {
        errors.push(c);
        cb();
      },
    });
    const timer = setTimeout(
      () =>
        finish({
          kind: 'unreachable',
          why: `no answer from the Envoy admin port of Pod ${namespace}/${pod} within ${opts.timeoutMs} ms`,
        }),
      opts.timeoutMs,
    );
    const onAbort = () => finish({ kind: 'unreachable', why: "interrupted (the run's deadline)" });
    opts.signal?.addEventListener('abort', onAbort, { once: true });
    new PortForward(kc, true)
      .portForward(namespace, pod, [port], output, errOut, input)
      .then((socket) => {
        const s = socket as unknown as { close(): void; on?(ev: string, f: () => void): void };
        ws = s;
        if (done) return s.close();
        s.on?.('close', () => setImmediate(() => check(true)));
        input.write(
          `GET ${path} HTTP/1.1\r\nHost: localhost:${port}\r\nUser-Agent: gwdoctor\r\nAccept: */*\r\nConnection: close\r\n\r\n`,
        );
      })
      .catch((err: unknown) => {
        const status = handshakeStatus(err);
        if (status === 403) {
          finish({
            kind: 'forbidden',
            namespace,
            resource: 'pods/portforward',
            verbs: ['get', 'create'],
            why: `the API server answered 403 to a port-forward to Pod ${namespace}/${pod}`,
          });
        } else if (status !== null) {
          finish({
            kind: 'unreachable',
            why: `the API server answered HTTP ${status} to a port-forward to Pod ${namespace}/${pod}${status === 500 || status === 502 || status === 503 ? " (it could not reach the kubelet of the Pod's node)" : ''}`,
          });
        } else {
          finish({ kind: 'unreachable', why: `the port-forward to Pod ${namespace}/${pod} failed: ${errText(err)}` });
        }
      });
  });
}

/** What gwdoctor reads from one Envoy: its config dump with EDS, its clusters' host health, its xDS connection. */
export interface EnvoyRead {
  dump: unknown;
  clusters: unknown;
  /** control_plane.connected_state (1: the ADS stream to istiod is up); null when the stat was not there. */
  connected: boolean | null;
}

export const ADMIN_PATHS = {
  dump: '/config_dump?include_eds',
  clusters: '/clusters?format=json',
  connected: '/stats?format=json&filter=%5Econtrol_plane%5C.connected_state%24',
} as const;

/** Read one Envoy through `get` (the port-forward, or a direct read in tests): the three admin answers, parsed. */
export async function readEnvoy(
  get: AdminGet,
): Promise<{ kind: 'ok'; read: EnvoyRead } | Exclude<AdminAnswer, { kind: 'ok' }>> {
  const out: Partial<Record<keyof typeof ADMIN_PATHS, unknown>> = {};
  for (const [k, p] of Object.entries(ADMIN_PATHS) as [keyof typeof ADMIN_PATHS, string][]) {
    const a = await get(p);
    if (a.kind !== 'ok') return a;
    if (a.status !== 200)
      return { kind: 'unreachable', why: `Envoy's admin answered ${a.status} to ${p.split('?')[0]}` };
    try {
      out[k] = JSON.parse(a.body);
    } catch {
      return { kind: 'unreachable', why: `Envoy's admin answer to ${p.split('?')[0]} is not JSON` };
    }
  }
  const stats = (out.connected as { stats?: { name?: string; value?: number }[] } | undefined)?.stats ?? [];
  const st = stats.find((s) => s.name === 'control_plane.connected_state');
  return {
    kind: 'ok',
    read: {
      dump: out.dump,
      clusters: out.clusters,
      connected: st && typeof st.value === 'number' ? st.value === 1 : null,
    },
  };
}
