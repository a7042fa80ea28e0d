// dnsmasq as a test DNS server on 127.0.0.1:<random port>, answering only from its command line.

import { spawn, type ChildProcess } from 'node:child_process';
import { query } from '../../../src/net/dns-client.js';
import { freePort, listensOn, waitFor } from '../ports.js';

export interface Dnsmasq {
  port: number;
  stop(): Promise<void>;
}

/**
 * `address`: domain -> IPv4 (subdomains included, as dnsmasq does); an empty IP gives NXDOMAIN.
 * `local`: domains answered only from here (unknown names -> NXDOMAIN instead of REFUSED).
 */
type Opts = { address: Record<string, string>; local?: string[]; hostRecords?: string[] };

/** dnsmasq could not bind its port (another process took it after freePort picked it): worth a try on a new one. */
class PortTaken extends Error {}

export async function startDnsmasq(bin: string, opts: Opts): Promise<Dnsmasq> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await startOnce(bin, opts);
    } catch (err) {
      if (!(err instanceof PortTaken) || attempt === 3) throw err;
    }
  }
}

async function startOnce(bin: string, opts: Opts): Promise<Dnsmasq> {
  const port = await freePort();
  const args = [
    '--no-daemon',
    '--conf-file=/dev/null',
    `--port=${port}`,
    '--listen-address=127.0.0.1',
    '--bind-interfaces',
    '--no-resolv',
    '--no-hosts',
    '--no-poll',
    '--pid-file=',
    '--log-facility=-',
    '--user=root',
    ...Object.entries(opts.address).map(([d, ip]) => `--address=/${d}/${ip}`),
    ...(opts.local ?? []).map((d) => `--local=/${d}/`),
    ...(opts.hostRecords ?? []).map((r) => `--host-record=${r}`),
  ];
  const child: ChildProcess = spawn(bin, args, { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr?.on('data', (c: Buffer) => (stderr += c.toString()));
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  // Up when this dnsmasq listens on the port (TCP; it binds UDP alongside) and answers: a query alone would also be
  // answered by another run's dnsmasq that took the port after freePort picked it. (waitFor treats a throwing probe
  // as not yet: an exit is seen through `gone`.)
  let gone = false;
  void exited.then(() => (gone = true));
  try {
    await waitFor(`dnsmasq on port ${port}`, async () => {
      if (gone) return true;
      if (!listensOn(child.pid as number, port)) return false;
      const probeName = Object.keys(opts.address)[0] ?? 'example.com';
      await query({ host: '127.0.0.1', port }, probeName, 'A', AbortSignal.timeout(500), 300);
      return true;
    });
    if (gone) {
      const why = `dnsmasq exited: ${stderr}`;
      throw /Address already in use/.test(why) ? new PortTaken(why) : new Error(why);
    }
  } catch (err) {
    child.kill('SIGKILL');
    await exited;
    throw err instanceof PortTaken ? err : new Error(`${(err as Error).message}\n${stderr}`);
  }
  return {
    port,
    async stop() {
      if (child.exitCode === null) child.kill('SIGTERM');
      await exited;
    },
  };
}
