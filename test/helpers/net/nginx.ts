// nginx as the TLS-terminating reverse proxy, from a generated nginx.conf in a temp dir (prefix -p, daemon off).
// Each server block listens on its own random port so one nginx serves every scenario.

import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { freePort, listensOn, waitFor } from '../ports.js';

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

/** nginx could not bind a port (another process took it after freePort picked it): worth a try on new ports. */
class PortTaken extends Error {}

export async function startNginx(bin: string, dir: string, servers: NginxServer[]): Promise<Nginx> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await startOnce(bin, dir, servers);
    } catch (err) {
      if (!(err instanceof PortTaken) || attempt === 3) throw err;
    }
  }
}

async function startOnce(bin: string, dir: string, servers: NginxServer[]): Promise<Nginx> {
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
  writeFileSync(join(dir, 'logs', 'error.log'), ''); // this attempt's errors only
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
  try {
    // Up when this nginx (the master, which holds the listening sockets) listens on every port: a connect would also
    // succeed against another process that took a port after freePort picked it, while this nginx retries its bind()
    // for 2.5 s before giving up (seen once: another run's nginx answered a scenario's request).
    // (waitFor treats a throwing probe as not yet: an exit is seen through `gone`.)
    let gone = false;
    void exited.then(() => (gone = true));
    await waitFor('nginx', async () => gone || Object.values(ports).every((p) => listensOn(child.pid as number, p)));
    if (gone) {
      const why = `nginx exited: ${stderr}\n${errorLog()}`;
      throw /Address already in use/.test(why) ? new PortTaken(why) : new Error(why);
    }
  } catch (err) {
    child.kill('SIGKILL');
    await exited;
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
