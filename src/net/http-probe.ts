// One HTTP(S) request through undici: for https the TLS handshake is ours (SNI = host, the chain recorded and
// verified) and the request goes over that same connection, then GET with the request's Host header. No body is
// sent, redirects are never followed, the response body is read up to a small snippet, for at most BODY_WAIT_MS
// after the headers (a stream that keeps its body open never holds the run: the headers already are the answer).
// Timeouts: connect 5 s, response headers 10 s, plus the caller's signal.
//
// Per run: one secure context per --ca-file; one keep-alive connection pool per (address, port, SNI), so targets on
// the same host:port share connections; a handshake in flight (and its result for SHARE_MS) is shared by them.

import type { Socket } from 'node:net';
import { Agent, request, type buildConnector } from 'undici';
import { ProbeFailure, TlsProbeFailure } from './probe-errors.js';
import { CONNECT_TIMEOUT_MS, describeTlsProblem, handshake, secureContextFor, type TlsDetails } from './tls-inspect.js';
import type { HttpProbe, HttpProbeResult } from '../types.js';

export const RESPONSE_TIMEOUT_MS = 10_000;
const SNIPPET = 512;

export interface ProbeOptions {
  address?: string;
  hostHeader?: string;
  signal: AbortSignal;
  caFile?: string;
  /** Speak TLS without verifying the certificate (the direct probe to the gateway's own listener: the listener layer judges its certificate). */
  insecure?: boolean;
}

export interface ProbeResultWithTls extends HttpProbeResult {
  tls: TlsDetails | null;
}

function errCode(err: unknown): string {
  let e: unknown = err;
  let fallback: string | undefined;
  for (let i = 0; i < 6 && e; i++) {
    const c = (e as { code?: string }).code;
    if (c && c !== 'UND_ERR_SOCKET') return c;
    if (c) fallback = c;
    e = (e as { cause?: unknown }).cause;
  }
  if ((err as { name?: string }).name === 'AbortError') return 'ABORT_ERR';
  return fallback ?? (err as { code?: string }).code ?? 'UNKNOWN';
}

/**
 * How long the body may take after the headers. Envoy's own replies and error pages come whole with their headers;
 * a response whose body stays open (server-sent events, a long poll, a download) has proved the path by its status
 * and headers, and waiting for its end would only run into --timeout.
 */
export const BODY_WAIT_MS = 1500;

/** Up to SNIPPET bytes of the body, read for at most `waitMs`; `open` = the body had not ended when reading stopped. */
export async function readSnippet(
  body: AsyncIterable<Buffer> & { destroy?: () => void },
  waitMs = BODY_WAIT_MS,
): Promise<{ text: string; open: boolean }> {
  const chunks: Buffer[] = [];
  let n = 0;
  let open = true;
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<'late'>((resolve) => (timer = setTimeout(() => resolve('late'), waitMs)));
  const it = body[Symbol.asyncIterator]();
  try {
    while (n < SNIPPET) {
      const next = it.next();
      next.catch(() => undefined); // destroyed below while pending: not an unhandled rejection
      const r = await Promise.race([next, late]);
      if (r === 'late') break;
      if (r.done) {
        open = false;
        break;
      }
      chunks.push(r.value);
      n += r.value.length;
    }
  } finally {
    clearTimeout(timer);
    if (open) body.destroy?.();
  }
  return { text: Buffer.concat(chunks).subarray(0, SNIPPET).toString('utf8'), open: open && n < SNIPPET };
}

/** How long a handshake's result serves other targets of the same host:port (a --wait retry, 2 s later, redoes it). */
const SHARE_MS = 1000;
const POOL_CONNECTIONS = 2;

interface Pool {
  agent: Agent;
  /** The handshake in flight or done less than SHARE_MS ago, and its open socket until a request takes it. */
  tls: Promise<TlsDetails> | null;
  spare: Socket | null;
}
const pools = new Map<string, Pool>();

function tlsFailure(details: TlsDetails, host: string): TlsProbeFailure {
  const code = details.chainError ?? 'ERR_TLS_CERT_ALTNAME_INVALID';
  return new TlsProbeFailure(code, describeTlsProblem(details, host), details);
}

function poolFor(
  https: boolean,
  address: string,
  port: number,
  host: string,
  caFile: string | undefined,
  pinned: boolean,
  insecure = false,
): Pool {
  const key = `${https ? 'https' : 'http'}|${address}|${port}|${host}|${caFile ?? ''}|${pinned}|${insecure}`;
  let pool = pools.get(key);
  if (pool) return pool;
  const secureContext = https ? secureContextFor(caFile) : undefined;
  const family = address.includes(':') ? 6 : 4;
  const p: Pool = { agent: undefined as unknown as Agent, tls: null, spare: null };
  const connect: buildConnector.connector | buildConnector.BuildOptions = https
    ? // Our connector: the socket of the inspecting handshake first, then new verified connections for the pool.
      (_o: buildConnector.Options, cb: buildConnector.Callback) => {
        const spare = p.spare;
        p.spare = null;
        // Asynchronously: undici's client is not re-entrant while it connects (a synchronous callback stalls the request).
        if (spare && !spare.destroyed) return process.nextTick(() => cb(null, spare));
        handshake({
          address,
          port,
          servername: host,
          secureContext,
          signal: AbortSignal.timeout(CONNECT_TIMEOUT_MS + 1000),
        }).then(
          ({ details, socket }) => {
            if (details.authorized || insecure) return cb(null, socket);
            socket.destroy();
            cb(tlsFailure(details, host), null);
          },
          (err: Error) => cb(err, null),
        );
      }
    : pinned
      ? {
          lookup: (
            _h: string,
            o: { all?: boolean | undefined },
            cb: (e: Error | null, a: string | { address: string; family: number }[], f?: number) => void,
          ) => {
            if (o.all) cb(null, [{ address, family }]);
            else cb(null, address, family);
          },
        }
      : {};
  p.agent = new Agent({
    connect,
    connectTimeout: CONNECT_TIMEOUT_MS,
    headersTimeout: RESPONSE_TIMEOUT_MS,
    bodyTimeout: RESPONSE_TIMEOUT_MS,
    connections: POOL_CONNECTIONS,
    pipelining: 1,
  });
  pools.set(key, p);
  return p;
}

/** The certificate seen on this host:port, from one handshake shared by the targets probing it now. */
function tlsOf(
  pool: Pool,
  o: {
    address: string;
    port: number;
    host: string;
    caFile: string | undefined;
    signal: AbortSignal;
    insecure?: boolean;
  },
): Promise<TlsDetails> {
  if (pool.tls) return pool.tls;
  const shared = handshake({
    address: o.address,
    port: o.port,
    servername: o.host,
    secureContext: secureContextFor(o.caFile),
    signal: o.signal,
  }).then(({ details, socket }) => {
    if (details.authorized || o.insecure) {
      pool.spare?.destroy();
      pool.spare = socket;
    } else socket.destroy();
    return details;
  });
  pool.tls = shared;
  const forget = () =>
    setTimeout(() => {
      if (pool.tls === shared) pool.tls = null;
    }, SHARE_MS).unref();
  shared.then(forget, () => {
    if (pool.tls === shared) pool.tls = null; // a failed handshake (refused, timeout, aborted) is not shared
  });
  return shared;
}

export async function probeGet(url: URL, opts: ProbeOptions): Promise<ProbeResultWithTls> {
  const https = url.protocol === 'https:';
  const port = url.port ? Number(url.port) : https ? 443 : 80;
  const host = url.hostname;
  const address = opts.address ?? host;
  const pool = poolFor(https, address, port, host, opts.caFile, opts.address !== undefined, opts.insecure === true);

  let tlsDetails: TlsDetails | null = null;
  if (https) {
    tlsDetails = await tlsOf(pool, {
      address,
      port,
      host,
      caFile: opts.caFile,
      signal: opts.signal,
      insecure: opts.insecure === true,
    });
    if (!tlsDetails.authorized && !opts.insecure) throw tlsFailure(tlsDetails, host);
  }

  try {
    const res = await request(url, {
      method: 'GET',
      dispatcher: pool.agent,
      signal: opts.signal,
      headers: {
        host: opts.hostHeader ?? (url.port ? `${host}:${url.port}` : host),
        'user-agent': 'gwdoctor',
        accept: '*/*',
      },
    });
    const headers: Record<string, string> = {};
    for (const [k, v] of Object.entries(res.headers))
      headers[k.toLowerCase()] = Array.isArray(v) ? v.join(', ') : String(v ?? '');
    let bodySnippet = '';
    let bodyOpen = false;
    try {
      const b = await readSnippet(res.body as unknown as AsyncIterable<Buffer> & { destroy?: () => void });
      bodySnippet = b.text;
      bodyOpen = b.open;
    } catch {
      /* a body cut short still leaves the status and headers */
    }
    return {
      address,
      port,
      statusCode: res.statusCode,
      headers,
      bodySnippet,
      ...(bodyOpen ? { bodyOpen } : {}),
      tls: tlsDetails,
    };
  } catch (err) {
    if (err instanceof ProbeFailure) throw err;
    const code = errCode(err);
    throw new ProbeFailure(code, `${code}: ${(err as Error).message}`, { cause: err });
  }
}

/** Close every pooled connection (the CLI exits anyway; tests and long-lived callers call this). */
export async function closeProbes(): Promise<void> {
  const all = [...pools.values()];
  pools.clear();
  for (const p of all) p.spare?.destroy();
  await Promise.all(all.map((p) => p.agent.close().catch(() => undefined)));
}

export const undiciProbe: HttpProbe = {
  get: (url, opts) => probeGet(url, opts),
};
