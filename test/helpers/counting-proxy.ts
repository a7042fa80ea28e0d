// A plain-HTTP proxy in front of the test API server that keeps the method and path of every request: the tests
// that count what gwdoctor asks the API server for (live-scale, the dataplane layer's cost) point a kubeconfig at it.

import { readFileSync } from 'node:fs';
import { createServer } from 'node:http';
import { request as httpsRequest } from 'node:https';
import type { AddressInfo, Socket } from 'node:net';
import { connect as tlsConnect } from 'node:tls';

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
  // Upgrades (the WebSocket port-forwards of the dataplane layer): counted, then the raw stream relayed both ways.
  server.on('upgrade', (req, socket: Socket, head: Buffer) => {
    requests.push(`${req.method} ${req.url}`);
    const up = tlsConnect({ host: target.hostname, port: Number(target.port), ca }, () => {
      const lines = [`${req.method} ${req.url} HTTP/1.1`];
      for (let i = 0; i < req.rawHeaders.length; i += 2) {
        const k = req.rawHeaders[i] as string;
        lines.push(`${k}: ${k.toLowerCase() === 'host' ? target.host : req.rawHeaders[i + 1]}`);
      }
      up.write(`${lines.join('\r\n')}\r\n\r\n`);
      if (head.length > 0) up.write(head);
      socket.pipe(up).pipe(socket);
    });
    up.on('error', () => socket.destroy());
    socket.on('error', () => up.destroy());
    socket.on('close', () => up.destroy());
    up.on('close', () => socket.destroy());
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as AddressInfo;
  return { url: `http://127.0.0.1:${port}`, requests, close: () => new Promise((r) => server.close(() => r())) };
}
