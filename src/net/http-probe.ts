// One HTTP(S) request through undici: for https a TLS pre-flight first (SNI = host, the chain recorded and verified),
// then GET with the request's Host header. No body is sent, redirects are never followed, the response body is
// read up to a small snippet. Timeouts: connect 5 s, response 10 s, plus the caller's signal.

import { Agent, request } from 'undici';
import { ProbeFailure, TlsProbeFailure } from './probe-errors.js';
import { CONNECT_TIMEOUT_MS, describeTlsProblem, inspectTls, trustedCas, type TlsDetails } from './tls-inspect.js';
import type { HttpProbe, HttpProbeResult } from '../types.js';

export const RESPONSE_TIMEOUT_MS = 10_000;
const SNIPPET = 512;

export interface ProbeOptions {
  address?: string;
  hostHeader?: string;
  signal: AbortSignal;
  caFile?: string;
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

async function readSnippet(body: AsyncIterable<Buffer> & { destroy?: () => void }): Promise<string> {
  const chunks: Buffer[] = [];
  let n = 0;
  for await (const c of body) {
    chunks.push(c);
    n += c.length;
    if (n >= SNIPPET) break;
  }
  body.destroy?.();
  return Buffer.concat(chunks).subarray(0, SNIPPET).toString('utf8');
}

export async function probeGet(url: URL, opts: ProbeOptions): Promise<ProbeResultWithTls> {
  const https = url.protocol === 'https:';
  const port = url.port ? Number(url.port) : https ? 443 : 80;
  const host = url.hostname;
  const address = opts.address ?? host;
  const ca = https ? trustedCas(opts.caFile) : undefined;

  let tlsDetails: TlsDetails | null = null;
  if (https) {
    tlsDetails = await inspectTls({ address, port, servername: host, ca, signal: opts.signal });
    if (!tlsDetails.authorized) {
      const code = tlsDetails.chainError ?? 'ERR_TLS_CERT_ALTNAME_INVALID';
      throw new TlsProbeFailure(code, `${code}: ${describeTlsProblem(tlsDetails, host)}`, tlsDetails);
    }
  }

  const family = address.includes(':') ? 6 : 4;
  const agent = new Agent({
    connect: {
      ...(https ? { servername: host, ...(ca ? { ca } : {}), rejectUnauthorized: true } : {}),
      ...(opts.address
        ? {
            lookup: (_h: string, o: { all?: boolean | undefined }, cb: (e: Error | null, a: string | { address: string; family: number }[], f?: number) => void) => {
              if (o.all) cb(null, [{ address, family }]);
              else cb(null, address, family);
            },
          }
        : {}),
    },
    connectTimeout: CONNECT_TIMEOUT_MS,
    headersTimeout: RESPONSE_TIMEOUT_MS,
    bodyTimeout: RESPONSE_TIMEOUT_MS,
    connections: 1,
    pipelining: 0,
  });
  try {
    const res = await request(url, {
      method: 'GET',
      dispatcher: agent,
      signal: opts.signal,
      headers: { host: opts.hostHeader ?? (url.port ? `${host}:${url.port}` : host), 'user-agent': 'gwdoctor', accept: '*/*' },
    });
    const headers: Record<string, string> = {};
    for (const [k, v] of Object.entries(res.headers)) headers[k.toLowerCase()] = Array.isArray(v) ? v.join(', ') : String(v ?? '');
    let bodySnippet = '';
    try {
      bodySnippet = await readSnippet(res.body as unknown as AsyncIterable<Buffer> & { destroy?: () => void });
    } catch {
      /* a body cut short still leaves the status and headers */
    }
    return { address, port, statusCode: res.statusCode, headers, bodySnippet, tls: tlsDetails };
  } catch (err) {
    const code = errCode(err);
    throw new ProbeFailure(code, `${code}: ${(err as Error).message}`, { cause: err });
  } finally {
    agent.destroy().catch(() => undefined);
  }
}

export const undiciProbe: HttpProbe = {
  get: (url, opts) => probeGet(url, opts),
};
