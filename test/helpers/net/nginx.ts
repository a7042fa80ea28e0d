// nginx as the TLS-terminating reverse proxy, from a generated nginx.conf in a temp dir (prefix -p, daemon off).
// Each server block listens on its own random port so one nginx serves every scenario.

import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { join } from 'node:path';
import { freePort, waitFor } from '../ports.js';

export interface NginxServer {
  name: string;
  serverName: string;
  cert: string;
  key: string;
  /** Body of `location / { ... }`. */
  location: string;
  /** Extra listen addresses besides 127.0.0.1 (e.g. 127.0.0.2). */
  alsoListen?: string[];
}

export interface Nginx {
  ports: Record<string, number>;
  stop(): Promise<void>;
  errorLog(): string;
}

export async function startNginx(bin: string, dir: string, servers: NginxServer[]): Promise<Nginx> {
  mkdirSync(join(dir, 'logs'), { recursive: true });
  mkdirSync(join(dir, 'tmp'), { recursive: true });
  const ports: Record<string, number> = {};
  for (const s of servers) ports[s.name] = await freePort();
  const blocks = servers.map((s) => {
    const listens = ['127.0.0.1', ...(s.alsoListen ?? [])]
      .map((a) => `    listen ${a}:${ports[s.name]} ssl;`)
      .join('\n');
    return `  server {\n${listens}\n    server_name ${s.serverName};\n    ssl_certificate ${s.cert};\n    ssl_certificate_key ${s.key};\n    location / {\n      ${s.location}\n    }\n  }`;
  });
  const conf = [
    ...(process.getuid?.() === 0 ? ['user root;'] : []),
    'daemon off;',
    'worker_processes 1;',
    `pid ${join(dir, 'nginx.pid')};`,
    `error_log ${join(dir, 'logs', 'error.log')} warn;`,
    'events { worker_connections 128; }',
    'http {',
    `  access_log ${join(dir, 'logs', 'access.log')};`,
    `  client_body_temp_path ${join(dir, 'tmp', 'body')};`,
    `  proxy_temp_path ${join(dir, 'tmp', 'proxy')};`,
    `  fastcgi_temp_path ${join(dir, 'tmp', 'fastcgi')};`,
    `  uwsgi_temp_path ${join(dir, 'tmp', 'uwsgi')};`,
    `  scgi_temp_path ${join(dir, 'tmp', 'scgi')};`,
    '  proxy_connect_timeout 2s;',
    ...blocks,
    '}',
  ].join('\n');
  writeFileSync(join(dir, 'nginx.conf'), conf);
  const child: ChildProcess = spawn(
    bin,
    ['-p', dir, '-c', join(dir, 'nginx.conf'), '-e', join(dir, 'logs', 'error.log')],
    { stdio: ['ignore', 'ignore', 'pipe'] },
  );
  let stderr = '';
  child.stderr?.on('data', (c: Buffer) => (stderr += c.toString()));
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  const errorLog = () => {
    try {
      return readFileSync(join(dir, 'logs', 'error.log'), 'utf8');
    } catch {
      return '';
    }
  };
  const last = servers[servers.length - 1] as NginxServer;
  try {
    await waitFor('nginx', async () => {
      if (child.exitCode !== null) throw new Error(`nginx exited: ${stderr}\n${errorLog()}`);
      return new Promise<boolean>((resolve) => {
        const s = connect({ host: '127.0.0.1', port: ports[last.name] as number }, () => {
          s.destroy();
          resolve(true);
        });
        s.on('error', () => resolve(false));
      });
    });
  } catch (err) {
    child.kill('SIGKILL');
    throw err;
  }
  return {
    ports,
    errorLog,
    async stop() {
      if (child.exitCode === null) child.kill('SIGQUIT');
      const t = setTimeout(() => child.kill('SIGKILL'), 3000);
      await exited;
      clearTimeout(t);
    },
  };
}
