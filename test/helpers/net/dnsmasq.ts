// dnsmasq as a test DNS server on 127.0.0.1:<random port>, answering only from its command line.

import { spawn, type ChildProcess } from 'node:child_process';
import { query } from '../../../src/net/dns-client.js';
import { freePort, waitFor } from '../ports.js';

export interface Dnsmasq {
  port: number;
  stop(): Promise<void>;
}

/**
 * `address`: domain -> IPv4 (subdomains included, as dnsmasq does); an empty IP gives NXDOMAIN.
 * `local`: domains answered only from here (unknown names -> NXDOMAIN instead of REFUSED).
 */
export async function startDnsmasq(
  bin: string,
  opts: { address: Record<string, string>; local?: string[]; hostRecords?: string[] },
): Promise<Dnsmasq> {
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
  try {
    await waitFor(`dnsmasq on port ${port}`, async () => {
      if (child.exitCode !== null) throw new Error(`dnsmasq exited: ${stderr}`);
      const probeName = Object.keys(opts.address)[0] ?? 'example.com';
      await query({ host: '127.0.0.1', port }, probeName, 'A', AbortSignal.timeout(500), 300);
      return true;
    });
  } catch (err) {
    child.kill('SIGKILL');
    throw new Error(`${(err as Error).message}\n${stderr}`);
  }
  return {
    port,
    async stop() {
      if (child.exitCode === null) child.kill('SIGTERM');
      await exited;
    },
  };
}
