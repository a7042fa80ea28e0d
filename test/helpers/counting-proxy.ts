// A plain-HTTP proxy in front of the test API server that keeps the method and path of every request: the tests
// that count what gwdoctor asks the API server for (live-scale, the dataplane layer's cost) point a kubeconfig at it.

import { readFileSync } from 'node:fs';
import { createServer } from 'node:http';
import { request as httpsRequest } from 'node:https';
import type { AddressInfo } from 'node:net';

export async function countingProxy(
  upstream: string,
  caFile: string,
): Promise<{ url: string; requests: string[]; close(): Promise<void> }> {
  const requests: string[] = [];
  const target = new URL(upstream);
  const ca = readFileSync(caFile);
  const server = createServer((req, res) => {
    requests.push(`${req.method} ${req.url}`);
    const up = httpsRequest(
      {
        host: target.hostname,
        port: target.port,
        path: req.url,
        method: req.method,
        headers: { ...req.headers, host: target.host },
        ca,
      },
      (r) => {
        res.writeHead(r.statusCode ?? 502, r.headers);
        r.pipe(res);
      },
    );
    up.on('error', () => res.destroy());
    req.pipe(up);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as AddressInfo;
  return { url: `http://127.0.0.1:${port}`, requests, close: () => new Promise((r) => server.close(() => r())) };
}
