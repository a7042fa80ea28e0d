// HAProxy and Caddy as the reverse proxy, each with a TLS frontend (what gwdoctor probes) and a plain-HTTP one (for a
// raw HTTP/1.0 client), both forwarding to one upstream with the client's Host. Foreground processes on loopback.

import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { join } from 'node:path';
import { freePort, waitFor } from '../ports.js';
import { which } from './bins.js';

export interface Proxy {
  /** The TLS frontend (for gwdoctor) and the plain-HTTP one. */
  tls: number;
  plain: number;
  stop(): Promise<void>;
}

export function proxyBins(): { haproxy: string | null; caddy: string | null } {
  return { haproxy: which('haproxy'), caddy: which('caddy') };
}

function listening(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = connect({ host: '127.0.0.1', port }, () => {
      s.destroy();
      resolve(true);
    });
    s.on('error', () => resolve(false));
  });
}

async function run(
  what: string,
  bin: string,
  args: string[],
  env: NodeJS.ProcessEnv,
  ports: number[],
): Promise<() => Promise<void>> {
  const child: ChildProcess = spawn(bin, args, { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, ...env } });
  let out = '';
  child.stdout?.on('data', (c: Buffer) => (out += c.toString()));
  child.stderr?.on('data', (c: Buffer) => (out += c.toString()));
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  let gone = false;
  void exited.then(() => (gone = true));
  await waitFor(what, async () => gone || (await Promise.all(ports.map(listening))).every(Boolean), 20_000);
  if (gone) throw new Error(`${what} exited ${child.exitCode}: ${out}`);
  return async () => {
    if (child.exitCode === null) child.kill('SIGTERM');
    const t = setTimeout(() => child.kill('SIGKILL'), 3000);
    await exited;
    clearTimeout(t);
  };
}

/** HAProxy 2.x in HTTP mode: `bind ... ssl crt` (certificate and key in one PEM), one backend server. */
export async function startHaproxy(
  bin: string,
  dir: string,
  o: { cert: string; key: string; upstream: number },
): Promise<Proxy> {
  mkdirSync(dir, { recursive: true });
  const pem = join(dir, 'haproxy.pem');
  writeFileSync(pem, readFileSync(o.cert, 'utf8') + readFileSync(o.key, 'utf8'));
  const [tls, plain] = [await freePort(), await freePort()];
  const cfg = join(dir, 'haproxy.cfg');
  writeFileSync(
    cfg,
    [
      'defaults',
      '  mode http',
      '  timeout connect 2s',
      '  timeout client 10s',
      '  timeout server 10s',
      'frontend tls',
      `  bind 127.0.0.1:${tls} ssl crt ${pem}`,
      '  default_backend gateway',
      'frontend plain',
      `  bind 127.0.0.1:${plain}`,
      '  default_backend gateway',
      'backend gateway',
      `  server envoy 127.0.0.1:${o.upstream}`,
      '',
    ].join('\n'),
  );
  const stop = await run('haproxy', bin, ['-db', '-f', cfg], {}, [tls, plain]);
  return { tls, plain, stop };
}

/** Caddy 2 with a Caddyfile: `reverse_proxy` (its defaults: the client's Host, HTTP/1.1 upstream), no admin endpoint. */
export async function startCaddy(
  bin: string,
  dir: string,
  o: { cert: string; key: string; upstream: number; host: string },
): Promise<Proxy> {
  mkdirSync(dir, { recursive: true });
  const [tls, plain] = [await freePort(), await freePort()];
  const file = join(dir, 'Caddyfile');
  writeFileSync(
    file,
    [
      '{',
      '  admin off',
      '  auto_https off',
      `  storage file_system ${join(dir, 'data')}`,
      '}',
      `https://${o.host}:${tls} {`,
      '  bind 127.0.0.1',
      `  tls ${o.cert} ${o.key}`,
      `  reverse_proxy 127.0.0.1:${o.upstream}`,
      '}',
      `http://:${plain} {`,
      '  bind 127.0.0.1',
      `  reverse_proxy 127.0.0.1:${o.upstream}`,
      '}',
      '',
    ].join('\n'),
  );
  const home = join(dir, 'home');
  const stop = await run(
    'caddy',
    bin,
    ['run', '--config', file, '--adapter', 'caddyfile'],
    { HOME: home, XDG_DATA_HOME: join(home, 'data'), XDG_CONFIG_HOME: join(home, 'config') },
    [tls, plain],
  );
  return { tls, plain, stop };
}

/** One raw request (no client library: the request line's version is exactly `version`); the status code answered. */
export function rawStatus(port: number, version: 'HTTP/1.0' | 'HTTP/1.1', host: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = connect({ host: '127.0.0.1', port }, () =>
      s.write(`GET / ${version}\r\nHost: ${host}\r\nConnection: close\r\n\r\n`),
    );
    let buf = '';
    s.setTimeout(10_000, () => s.destroy(new Error('no answer in 10 s')));
    s.on('data', (c: Buffer) => {
      buf += c.toString('latin1');
      const m = /^HTTP\/1\.[01] (\d{3})/.exec(buf);
      if (m) {
        s.destroy();
        resolve(Number(m[1]));
      }
    });
    s.on('error', reject);
    s.on('close', () => reject(new Error(`closed without a status line: ${JSON.stringify(buf.slice(0, 80))}`)));
  });
}
