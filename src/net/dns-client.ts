// A small DNS stub client on dns-packet: one question to one server over UDP, TCP when the answer is truncated (TC),
// CNAME chains followed, and the outcome told apart: NXDOMAIN, NODATA, SERVFAIL, REFUSED, timeout, unreachable.

import { createSocket } from 'node:dgram';
import { connect as tcpConnect } from 'node:net';
import { isIP } from 'node:net';
import * as packet from 'dns-packet';
import type { AddressAnswer } from '../types.js';
import { serverLabel } from './resolv-conf.js';

export const DNS_TIMEOUT_MS = 2000;
const MAX_CNAME_HOPS = 8;

export type DnsStatus = 'ok' | 'nxdomain' | 'nodata' | 'servfail' | 'refused' | 'timeout' | 'unreachable' | 'error';

/** What one server said about one name (A and AAAA together). */
export interface ResolverOutcome {
  /** e.g. "127.0.0.1:5353 (--resolver)". */
  label: string;
  status: DnsStatus;
  addresses: AddressAnswer[];
  /** CNAME chain from the asked name, e.g. ["edge.example.net"]. */
  cnames: string[];
  /** One line: what happened. */
  detail: string;
}

export interface QueryResult {
  rcode: string;
  answers: packet.Answer[];
  truncated: boolean;
  transport: 'udp' | 'tcp';
}

export class DnsQueryError extends Error {
  constructor(
    readonly status: 'timeout' | 'unreachable' | 'error',
    message: string,
  ) {
    super(message);
  }
}

function newId(): number {
  return Math.floor(Math.random() * 65535);
}

function encodeQuery(id: number, name: string, type: 'A' | 'AAAA'): Buffer {
  return packet.encode({
    type: 'query',
    id,
    flags: packet.RECURSION_DESIRED,
    questions: [{ type, name, class: 'IN' }],
  });
}

function withDeadline<T>(
  label: string,
  signal: AbortSignal,
  timeoutMs: number,
  body: (finish: (err: Error | null, v?: T) => void) => () => void,
): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    let cleanup: () => void = () => undefined;
    let settled = false;
    const finish = (err: Error | null, v?: T) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      signal.removeEventListener('abort', onAbort);
      try {
        cleanup();
      } catch {
        /* socket already closed */
      }
      if (err) reject(err);
      else resolve(v as T);
    };
    const onAbort = () => finish(new DnsQueryError('timeout', `${label}: aborted by the run's deadline`));
    const timer = setTimeout(
      () => finish(new DnsQueryError('timeout', `${label}: no answer within ${timeoutMs} ms`)),
      timeoutMs,
    );
    if (signal.aborted) {
      onAbort();
      return;
    }
    signal.addEventListener('abort', onAbort, { once: true });
    cleanup = body(finish);
  });
}

function toResult(res: packet.Packet, transport: 'udp' | 'tcp'): QueryResult {
  return {
    rcode: (res as { rcode?: string }).rcode ?? 'NOERROR',
    answers: res.answers ?? [],
    truncated: (res as { flag_tc?: boolean }).flag_tc === true,
    transport,
  };
}

export function queryUdp(
  server: { host: string; port: number },
  name: string,
  type: 'A' | 'AAAA',
  signal: AbortSignal,
  timeoutMs = DNS_TIMEOUT_MS,
): Promise<QueryResult> {
  const label = `DNS server ${serverLabel(server)}`;
  return withDeadline<QueryResult>(label, signal, timeoutMs, (finish) => {
    const sock = createSocket(isIP(server.host) === 6 ? 'udp6' : 'udp4');
    const id = newId();
    sock.on('error', (e: NodeJS.ErrnoException) => {
      const unreachable = e.code === 'ECONNREFUSED' || e.code === 'ENETUNREACH' || e.code === 'EHOSTUNREACH';
      finish(new DnsQueryError(unreachable ? 'unreachable' : 'error', `${label}: ${e.code ?? e.message}`));
    });
    sock.on('message', (msg) => {
      let res: packet.Packet;
      try {
        res = packet.decode(msg);
      } catch (e) {
        finish(new DnsQueryError('error', `${label}: malformed answer (${(e as Error).message})`));
        return;
      }
      if (res.id === id) finish(null, toResult(res, 'udp'));
    });
    // A connected socket reports ICMP port-unreachable as ECONNREFUSED instead of waiting for the timeout.
    sock.connect(server.port, server.host, () => sock.send(encodeQuery(id, name, type)));
    return () => sock.close();
  });
}

export function queryTcp(
  server: { host: string; port: number },
  name: string,
  type: 'A' | 'AAAA',
  signal: AbortSignal,
  timeoutMs = DNS_TIMEOUT_MS,
): Promise<QueryResult> {
  const label = `DNS server ${serverLabel(server)} (TCP)`;
  return withDeadline<QueryResult>(label, signal, timeoutMs, (finish) => {
    const id = newId();
    const sock = tcpConnect({ host: server.host, port: server.port });
    let buf = Buffer.alloc(0);
    sock.on('connect', () =>
      sock.write(
        packet.streamEncode({
          type: 'query',
          id,
          flags: packet.RECURSION_DESIRED,
          questions: [{ type, name, class: 'IN' }],
        }),
      ),
    );
    sock.on('data', (chunk: Buffer) => {
      buf = Buffer.concat([buf, chunk]);
      if (buf.length < 2) return;
      const len = buf.readUInt16BE(0);
      if (buf.length < len + 2) return;
      try {
        const res = packet.streamDecode(buf.subarray(0, len + 2));
        finish(null, toResult(res, 'tcp'));
      } catch (e) {
        finish(new DnsQueryError('error', `${label}: malformed answer (${(e as Error).message})`));
      }
    });
    sock.on('error', (e: NodeJS.ErrnoException) => {
      const unreachable = e.code === 'ECONNREFUSED' || e.code === 'ENETUNREACH' || e.code === 'EHOSTUNREACH';
      finish(new DnsQueryError(unreachable ? 'unreachable' : 'error', `${label}: ${e.code ?? e.message}`));
    });
    sock.on('end', () => finish(new DnsQueryError('error', `${label}: connection closed before a full answer`)));
    return () => sock.destroy();
  });
}

/** UDP first; the same question again over TCP when the server set the TC bit. */
export async function query(
  server: { host: string; port: number },
  name: string,
  type: 'A' | 'AAAA',
  signal: AbortSignal,
  timeoutMs = DNS_TIMEOUT_MS,
): Promise<QueryResult> {
  const udp = await queryUdp(server, name, type, signal, timeoutMs);
  if (!udp.truncated) return udp;
  return queryTcp(server, name, type, signal, timeoutMs);
}

export type QueryFn = typeof query;

/** Addresses for `name` in one answer section, following the CNAME chain inside it. */
export function followChain(
  name: string,
  type: 'A' | 'AAAA',
  answers: packet.Answer[],
): { final: string; cnames: string[]; addresses: string[] } {
  const lc = (s: string) => s.toLowerCase().replace(/\.$/, '');
  let cur = lc(name);
  const cnames: string[] = [];
  for (let i = 0; i < MAX_CNAME_HOPS; i++) {
    const c = answers.find((a) => a.type === 'CNAME' && lc(a.name) === cur);
    if (!c) break;
    cur = lc(String((c as { data?: unknown }).data));
    cnames.push(cur);
  }
  const addresses = answers
    .filter((a) => a.type === type && lc(a.name) === cur)
    .map((a) => String((a as { data?: unknown }).data));
  return { final: cur, cnames, addresses };
}

interface TypeOutcome {
  status: DnsStatus;
  addresses: string[];
  cnames: string[];
  detail: string;
}

async function resolveType(
  server: { host: string; port: number },
  host: string,
  type: 'A' | 'AAAA',
  signal: AbortSignal,
  q: QueryFn,
): Promise<TypeOutcome> {
  let name = host;
  const cnames: string[] = [];
  for (let hop = 0; hop < MAX_CNAME_HOPS; hop++) {
    let res: QueryResult;
    try {
      res = await q(server, name, type, signal);
    } catch (err) {
      if (err instanceof DnsQueryError) return { status: err.status, addresses: [], cnames, detail: err.message };
      throw err;
    }
    if (res.rcode === 'NXDOMAIN')
      return { status: 'nxdomain', addresses: [], cnames, detail: `NXDOMAIN for ${name} ${type}` };
    if (res.rcode === 'SERVFAIL')
      return { status: 'servfail', addresses: [], cnames, detail: `SERVFAIL for ${name} ${type}` };
    if (res.rcode === 'REFUSED')
      return {
        status: 'refused',
        addresses: [],
        cnames,
        detail: `REFUSED for ${name} ${type} (the server does not answer this client)`,
      };
    if (res.rcode !== 'NOERROR')
      return { status: 'error', addresses: [], cnames, detail: `${res.rcode} for ${name} ${type}` };
    const chain = followChain(name, type, res.answers);
    cnames.push(...chain.cnames);
    if (chain.addresses.length > 0)
      return {
        status: 'ok',
        addresses: chain.addresses,
        cnames,
        detail: `${type} ${chain.addresses.join(', ')}${res.transport === 'tcp' ? ' (over TCP: the UDP answer was truncated)' : ''}`,
      };
    // The chain ends in a name the server did not resolve in this answer: ask for it.
    if (chain.cnames.length > 0) {
      name = chain.final;
      continue;
    }
    return {
      status: 'nodata',
      addresses: [],
      cnames,
      detail: `NODATA for ${name} ${type} (the name exists, no ${type} record)`,
    };
  }
  return { status: 'error', addresses: [], cnames, detail: `CNAME chain longer than ${MAX_CNAME_HOPS} hops` };
}

/** A and AAAA from one server, merged into one outcome. */
export async function resolveAt(
  server: { host: string; port: number },
  label: string,
  host: string,
  signal: AbortSignal,
  q: QueryFn = query,
): Promise<ResolverOutcome> {
  const [a, aaaa] = await Promise.all([
    resolveType(server, host, 'A', signal, q),
    resolveType(server, host, 'AAAA', signal, q),
  ]);
  return merge(label, a, aaaa);
}

export function merge(label: string, a: TypeOutcome, aaaa: TypeOutcome): ResolverOutcome {
  const addresses: AddressAnswer[] = [
    ...a.addresses.map((address) => ({ family: 4 as const, address })),
    ...aaaa.addresses.map((address) => ({ family: 6 as const, address })),
  ];
  const cnames = a.cnames.length >= aaaa.cnames.length ? a.cnames : aaaa.cnames;
  let status: DnsStatus;
  if (addresses.length > 0) status = 'ok';
  else if (a.status === 'nxdomain' || aaaa.status === 'nxdomain') status = 'nxdomain';
  else if (a.status === 'nodata' && aaaa.status === 'nodata') status = 'nodata';
  else status = a.status !== 'nodata' ? a.status : aaaa.status;
  const detail =
    status === 'ok'
      ? [a, aaaa]
          .filter((t) => t.status === 'ok')
          .map((t) => t.detail)
          .join('; ') +
        [a, aaaa]
          .filter((t) => t.status !== 'ok' && t.status !== 'nodata')
          .map((t) => ` (also: ${t.detail})`)
          .join('')
      : a.detail === aaaa.detail || a.status === status
        ? a.detail
        : aaaa.detail;
  return { label, status, addresses, cnames, detail };
}
