// One HTTPS request through undici: TLS with SNI = host, the request's Host header, no body, no redirects.

import { readFileSync } from 'node:fs';
import { Agent, request } from 'undici';
import { ProbeFailure } from './probe-errors.js';
import type { HttpProbe, HttpProbeResult } from '../types.js';

function errCode(err: unknown): string {
  let e: unknown = err;
  for (let i = 0; i < 5 && e; i++) {
    const c = (e as { code?: string }).code;
    if (c && c !== 'UND_ERR_SOCKET') return c;
    e = (e as { cause?: unknown }).cause;
  }
  return (err as { code?: string }).code ?? 'UNKNOWN';
}

export const undiciProbe: HttpProbe = {
  async get(url, opts): Promise<HttpProbeResult> {
    const port = url.port ? Number(url.port) : 443;
    const host = url.hostname;
    const ca = opts.caFile ? readFileSync(opts.caFile) : undefined;
    const agent = new Agent({
      connect: {
        servername: host,
        ...(ca ? { ca } : {}),
        ...(opts.address
          ? {
              lookup: (_h: string, o: { all?: boolean | undefined }, cb: (e: Error | null, a: string | { address: string; family: number }[], f?: number) => void) => {
                const family = opts.address?.includes(':') ? 6 : 4;
                if (o.all) cb(null, [{ address: opts.address as string, family }]);
                else cb(null, opts.address as string, family);
              },
            }
          : {}),
      },
      connectTimeout: 5000,
      headersTimeout: 10000,
      bodyTimeout: 10000,
    });
    try {
      const res = await request(url, {
        method: 'GET',
        dispatcher: agent,
        signal: opts.signal,
        headers: { host: opts.hostHeader ?? (url.port ? `${host}:${url.port}` : host), 'user-agent': 'gwdoctor' },
        maxRedirections: 0,
      } as Parameters<typeof request>[1]);
      const headers: Record<string, string> = {};
      for (const [k, v] of Object.entries(res.headers)) headers[k] = Array.isArray(v) ? v.join(', ') : String(v ?? '');
      const body = await res.body.text();
      return { address: opts.address ?? host, port, statusCode: res.statusCode, headers, bodySnippet: body.slice(0, 512), tls: null };
    } catch (err) {
      const code = errCode(err);
      throw new ProbeFailure(code, `${code}: ${(err as Error).message}`, { cause: err });
    } finally {
      agent.close().catch(() => undefined);
    }
  },
};
