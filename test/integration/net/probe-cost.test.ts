// What the proxy layer costs per target against the real nginx (TLS, a certificate from a test CA given with
// --ca-file): one TLS handshake per probe, the trust store built once per run, and targets on the same host:port
// sharing connections. Connection counts are asserted (from nginx's stub_status); timings are printed.

import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { closeProbes, undiciProbe } from '../../../src/net/http-probe.js';
import { requireBins } from '../../helpers/net/bins.js';
import { TestPki, days } from '../../helpers/net/certs.js';
import { startNginx, type Nginx } from '../../helpers/net/nginx.js';

const found = requireBins();
const d = found.skip ? describe.skip : describe;

let dir: string;
let nginx: Nginx;
let caFile: string;

d('proxy layer cost against nginx on loopback', () => {
  beforeAll(async () => {
    const bins = found.bins!;
    dir = mkdtempSync(join(tmpdir(), 'gwdoctor-cost-'));
    const pki = new TestPki(dir, bins.openssl);
    caFile = pki.ca('test-ca');
    const good = pki.leaf('test-ca', 'good', ['api.example.com'], days(-1), days(60));
    nginx = await startNginx(bins.nginx, join(dir, 'nginx'), [
      {
        name: 'static',
        serverName: 'api.example.com',
        ...good,
        location: 'return 200 "ok";\n    }\n    location = /nginx_status {\n      stub_status;',
      },
    ]);
  });
  afterAll(async () => {
    await closeProbes();
    await nginx?.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  const probe = (path: string) =>
    undiciProbe.get(new URL(`https://api.example.com:${nginx.ports['static']}${path}`), {
      address: '127.0.0.1',
      signal: AbortSignal.timeout(10_000),
      caFile,
    });

  /** Connections nginx accepted so far (stub_status), read over a plain TLS socket of its own. */
  const accepted = async (): Promise<number> => {
    const { connect } = await import('node:tls');
    return new Promise((resolve, reject) => {
      const s = connect(
        {
          host: '127.0.0.1',
          port: nginx.ports['static'] as number,
          servername: 'api.example.com',
          rejectUnauthorized: false,
        },
        () => {
          s.end('GET /nginx_status HTTP/1.1\r\nHost: api.example.com\r\nConnection: close\r\n\r\n');
        },
      );
      let body = '';
      s.on('data', (c: Buffer) => (body += c.toString()));
      s.on('end', () => {
        const m = /server accepts handled requests\s+(\d+)/.exec(body);
        if (m) resolve(Number(m[1]) - 1);
        else reject(new Error(`no stub_status in: ${body.slice(0, 200)}`));
      });
      s.on('error', reject);
    });
  };

  it('opens one TLS connection (one handshake) per probe', async () => {
    await closeProbes();
    const before = await accepted();
    await probe('/one');
    expect((await accepted()) - before - 1).toBe(1);
  });

  it('20 targets on one host share its connections (at most 2 TLS connections for 20 probes)', async () => {
    await closeProbes();
    const before = await accepted();
    const results = await Promise.all(Array.from({ length: 20 }, (_, k) => probe(`/shared-${k}`)));
    expect(results.map((r) => r.statusCode)).toEqual(Array(20).fill(200));
    expect((await accepted()) - before - 1).toBeLessThanOrEqual(2);
  });

  it('records what one target and 20 targets on one host cost (printed for the record: timing on a shared machine is not asserted)', async () => {
    await probe('/warm-up'); // module loading and JIT are not the proxy layer's cost
    // Each measurement starts cold, as a run does: no pooled connection, no shared handshake.
    const ms = async (f: () => Promise<unknown>) => {
      await closeProbes();
      const t = performance.now();
      await f();
      return performance.now() - t;
    };
    const singles: number[] = [];
    for (let i = 0; i < 5; i++) singles.push(await ms(() => probe(`/one-${i}`)));
    const one = Math.min(...singles); // the least disturbed run: the machine is shared
    const twenty: number[] = [];
    for (let i = 0; i < 5; i++)
      twenty.push(await ms(() => Promise.all(Array.from({ length: 20 }, (_, k) => probe(`/t${i}-${k}`)))));
    const all = Math.min(...twenty);
    process.stderr.write(
      `[probe-cost] one target ${one.toFixed(1)} ms; 20 targets on one host ${all.toFixed(1)} ms = ${(all / one).toFixed(2)}x\n`,
    );
    const r = await probe('/status');
    expect(r.statusCode).toBe(200);
    expect(r.bodySnippet).toBe('ok');
    // Targets (issue 12): <= 40 ms per target and 20 targets <= 1.5x one on an idle machine. Under load these swing
    // 5x either way, so what is asserted is their cause: one connection per probe, two for 20 probes (above).
  });
});
