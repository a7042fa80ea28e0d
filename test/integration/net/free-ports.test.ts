// The race of a free port (test/helpers/ports.ts): freePort answers which port is free now, and another process (a
// parallel test run) can bind it before nginx does. Seen once in a contract run: the request of a scenario got an
// empty 500 from some other nginx while this one's error log showed nothing. Here the race is made certain (freePort's
// first answer is a port another listener holds) and the real nginx must end up on a port of its own, never
// reporting the other listener's port as its own.

import { request } from 'node:https';
import { createServer, type Server } from 'node:net';
import { join } from 'node:path';
import { afterAll, describe, expect, it, vi } from 'vitest';
import { query } from '../../../src/net/dns-client.js';
import { requireBins } from '../../helpers/net/bins.js';
import { TestPki, days } from '../../helpers/net/certs.js';
import { startDnsmasq } from '../../helpers/net/dnsmasq.js';
import { startNginx } from '../../helpers/net/nginx.js';
import { freePort, listensOn } from '../../helpers/ports.js';
import { tempDir } from '../../helpers/tmp.js';

vi.mock('../../helpers/ports.js', async (original) => {
  const m = await original<typeof import('../../helpers/ports.js')>();
  return { ...m, freePort: vi.fn(m.freePort) };
});

const found = requireBins();

function get(port: number): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path: '/', rejectUnauthorized: false, timeout: 10_000 }, (res) => {
      let body = '';
      res.on('data', (c: Buffer) => (body += c.toString()));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on('error', reject);
    req.end();
  });
}

describe.skipIf(found.skip)('a server started on a port another process took after freePort picked it', () => {
  let other: Server | undefined;
  afterAll(async () => {
    await new Promise<void>((r) => (other ? other.close(() => r()) : r()));
  });

  it('nginx retries on a new port: it listens on the port it reports and answers from its own config', async () => {
    const bins = found.bins!;
    const dir = tempDir('gwd-nginx-ports-');
    const pki = new TestPki(dir, bins.openssl);
    pki.ca('ca');
    const leaf = pki.leaf('ca', 'leaf', ['localhost'], days(-1), days(30));
    // The other process's listener: a TCP server that accepts (and answers nothing useful).
    other = createServer((s) => s.destroy());
    await new Promise<void>((r) => other!.listen(0, '127.0.0.1', r));
    const taken = (other.address() as { port: number }).port;
    vi.mocked(freePort).mockResolvedValueOnce(taken);

    const nginx = await startNginx(bins.nginx, join(dir, 'nginx'), [
      { name: 'mine', serverName: '_', ...leaf, location: "return 200 'this nginx';" },
    ]);
    try {
      const port = nginx.ports['mine'] as number;
      expect(port).not.toBe(taken);
      expect(vi.mocked(freePort)).toHaveBeenCalledTimes(2);
      const r = await get(port);
      expect(r).toEqual({ status: 200, body: 'this nginx' });
      expect(nginx.errorLog()).not.toMatch(/Address already in use/); // this attempt's log; the first one's bind() failed
    } finally {
      await nginx.stop();
    }
  });

  it('dnsmasq too: on a new port, answering from its own command line', async () => {
    const bins = found.bins!;
    const held = createServer((s) => s.destroy());
    await new Promise<void>((r) => held.listen(0, '127.0.0.1', r));
    const taken = (held.address() as { port: number }).port;
    vi.mocked(freePort).mockClear().mockResolvedValueOnce(taken);
    try {
      const dns = await startDnsmasq(bins.dnsmasq, { address: { 'mine.example': '192.0.2.7' } });
      try {
        expect(dns.port).not.toBe(taken);
        expect(vi.mocked(freePort)).toHaveBeenCalledTimes(2);
        const r = await query({ host: '127.0.0.1', port: dns.port }, 'mine.example', 'A', AbortSignal.timeout(5000));
        expect(r.answers.map((a) => (a as { data?: unknown }).data)).toEqual(['192.0.2.7']);
      } finally {
        await dns.stop();
      }
    } finally {
      await new Promise<void>((r) => held.close(() => r()));
    }
  });

  it('listensOn: a port this process listens on, not one of another process', async () => {
    const s = createServer();
    await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
    const port = (s.address() as { port: number }).port;
    try {
      expect(listensOn(process.pid, port)).toBe(true);
      expect(listensOn(process.ppid, port)).toBe(false);
    } finally {
      await new Promise<void>((r) => s.close(() => r()));
    }
    expect(listensOn(process.pid, port)).toBe(false);
  });
});
