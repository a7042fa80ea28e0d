// A DNS client on dns-packet: asks the given servers directly (UDP), A and AAAA, following CNAMEs in the answer.

import { createSocket } from 'node:dgram';
import { isIP } from 'node:net';
import * as packet from 'dns-packet';
import { ProbeError } from '../errors.js';
import { parseResolver } from '../options.js';
import type { AddressAnswer, Resolver } from '../types.js';
import { NoRecordsError } from './system-resolver.js';

function query(server: { host: string; port: number }, name: string, type: 'A' | 'AAAA', signal: AbortSignal, timeoutMs = 2000): Promise<packet.Packet> {
  return new Promise((resolve, reject) => {
    const sock = createSocket(isIP(server.host) === 6 ? 'udp6' : 'udp4');
    const id = Math.floor(Math.random() * 65535);
    const done = (err: Error | null, res?: packet.Packet) => {
      clearTimeout(timer);
      signal.removeEventListener('abort', onAbort);
      sock.close();
      if (err) reject(err);
      else resolve(res as packet.Packet);
    };
    const onAbort = () => done(new ProbeError(`DNS query to ${server.host}:${server.port} aborted`));
    const timer = setTimeout(() => done(new ProbeError(`DNS server ${server.host}:${server.port} did not answer within ${timeoutMs} ms`)), timeoutMs);
    signal.addEventListener('abort', onAbort, { once: true });
    sock.on('error', (e) => done(new ProbeError(`DNS server ${server.host}:${server.port}: ${e.message}`)));
    sock.on('message', (msg) => {
      try {
        const res = packet.decode(msg);
        if (res.id === id) done(null, res);
      } catch (e) {
        done(new ProbeError(`malformed DNS answer from ${server.host}:${server.port}: ${(e as Error).message}`));
      }
    });
    const buf = packet.encode({ type: 'query', id, flags: packet.RECURSION_DESIRED, questions: [{ type, name }] });
    sock.send(buf, server.port, server.host);
  });
}

export function packetResolver(servers: string[]): Resolver {
  const parsed = servers.map(parseResolver);
  return {
    async resolve(host, signal) {
      const server = parsed[0] as { host: string; port: number };
      const answers: AddressAnswer[] = [];
      let rcode = 'NOERROR';
      for (const type of ['A', 'AAAA'] as const) {
        const res = await query(server, host, type, signal);
        rcode = (res as { rcode?: string }).rcode ?? 'NOERROR';
        if (rcode !== 'NOERROR' && rcode !== 'NXDOMAIN') throw new ProbeError(`DNS server ${server.host}:${server.port} answered ${rcode} for ${host} ${type}`);
        for (const a of res.answers ?? []) {
          if (a.type === 'A' || a.type === 'AAAA') answers.push({ family: a.type === 'A' ? 4 : 6, address: String(a.data) });
        }
      }
      if (answers.length === 0) throw new NoRecordsError(`${host}: ${rcode === 'NXDOMAIN' ? 'NXDOMAIN' : 'no A/AAAA records (NODATA)'} at ${server.host}:${server.port}`);
      return answers;
    },
  };
}
