// What remains of the Envoy stand-in, and why. The dns/proxy/--internal/metrics tests run nginx in front of a real Envoy
// (test/helpers/net/envoy.ts). This file keeps:
//  - startNotEnvoy404: a server that is NOT Envoy and answers an empty 404 (the shape of Envoy's no-route reply), for
//    the tests that must tell the two apart — a real Envoy cannot play it;
//  - startEnvoyStub: used by bench/peers.ts only, whose figures measure gwdoctor's own cost and were recorded against
//    it (moving the bench to the real Envoy changes its baseline: a separate, measured change). No test uses it.
// A stub "Istio gateway Envoy": answers per Host the way Envoy does (gateway-api-rules.md §6.2, §7.5).
//  ok       200 from the "backend", with x-envoy-upstream-service-time
//  uh       503 "no healthy upstream" (no ready endpoints)
//  uf       503 "upstream connect error or disconnect/reset before headers. ..." (endpoints refuse)
//  nc       500 with an empty body (unusable backendRef)
//  slow     200 after `slowMs`
//  redirect 301 to https://<Host><path> (an app that forces HTTPS behind a TLS-terminating proxy)
//  { envoyRedirect, location }  a route's RequestRedirect, answered by Envoy itself: that status code, Location
//           location(path), an empty body and no x-envoy-upstream-service-time (Envoy's redirect action sends
//           only location, date, server and content-length: 0)
// Unknown Host -> 404 with an empty body (NR). Host is lower-cased and its port ignored, as Istio does.

import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';

export type StubMode =
  | 'ok'
  | 'uh'
  | 'uf'
  | 'nc'
  | 'slow'
  | 'redirect'
  | { envoyRedirect: number; location: (path: string) => string };

export interface EnvoyStub {
  port: number;
  /** Host headers seen, in order. */
  seen: string[];
  stop(): Promise<void>;
}

export async function startEnvoyStub(
  hosts: Record<string, StubMode>,
  opts: { slowMs?: number } = {},
): Promise<EnvoyStub> {
  const seen: string[] = [];
  const timers = new Set<NodeJS.Timeout>();
  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    const rawHost = req.headers.host ?? '';
    seen.push(rawHost);
    const host = rawHost.toLowerCase().replace(/:\d+$/, '');
    const mode = hosts[host];
    const send = (code: number, body: string, extra: Record<string, string> = {}) => {
      res.writeHead(code, {
        server: 'istio-envoy',
        'content-length': String(Buffer.byteLength(body)),
        ...(body ? { 'content-type': 'text/plain' } : {}),
        ...extra,
      });
      res.end(body);
    };
    if (typeof mode === 'object') return send(mode.envoyRedirect, '', { location: mode.location(req.url ?? '/') });
    switch (mode) {
      case undefined:
        return send(404, '');
      case 'ok':
        return send(200, `hello from the backend of ${host}\n`, { 'x-envoy-upstream-service-time': '3' });
      case 'uh':
        return send(503, 'no healthy upstream');
      case 'uf':
        return send(503, 'upstream connect error or disconnect/reset before headers. reset reason: connection refused');
      case 'nc':
        return send(500, '');
      case 'slow': {
        const t = setTimeout(() => {
          timers.delete(t);
          send(200, 'slow\n', { 'x-envoy-upstream-service-time': String(opts.slowMs ?? 3000) });
        }, opts.slowMs ?? 3000);
        timers.add(t);
        return;
      }
      case 'redirect':
        return send(301, '', { location: `https://${rawHost}${req.url ?? '/'}`, 'x-envoy-upstream-service-time': '1' });
    }
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  return {
    port: (server.address() as { port: number }).port,
    seen,
    async stop() {
      for (const t of timers) clearTimeout(t);
      server.closeAllConnections();
      await new Promise<void>((r) => server.close(() => r()));
    },
  };
}

/**
 * Not Envoy: a web server that answers every request with an empty 404 and its own server header, as Python's
 * http.server (BaseHTTPRequestHandler) does for a path it has no handler for. An empty 404 is the shape of Envoy's
 * NR reply, so this is the server that once passed for the gateway.
 */
export async function startNotEnvoy404(server = 'BaseHTTP/0.6 Python/3.11.2'): Promise<EnvoyStub> {
  const seen: string[] = [];
  const http = createServer((req: IncomingMessage, res: ServerResponse) => {
    seen.push(req.headers.host ?? '');
    res.writeHead(404, { server, 'content-length': '0' });
    res.end();
  });
  await new Promise<void>((r) => http.listen(0, '127.0.0.1', () => r()));
  return {
    port: (http.address() as { port: number }).port,
    seen,
    async stop() {
      http.closeAllConnections();
      await new Promise<void>((r) => http.close(() => r()));
    },
  };
}
