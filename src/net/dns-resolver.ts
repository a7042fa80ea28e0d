// Resolvers that ask DNS servers directly: the system's (resolv.conf) and every --resolver, side by side, so the dns
// layer can tell NXDOMAIN from NODATA from a broken server, and see split horizon.

import { ProbeError } from '../errors.js';
import { parseResolver } from '../options.js';
import type { AddressAnswer, Resolver } from '../types.js';
import { resolveAt, query, type QueryFn, type ResolverOutcome } from './dns-client.js';
import { systemDnsServers, serverLabel, type DnsServer } from './resolv-conf.js';
import { NoRecordsError, getaddrinfoOutcome } from './system-resolver.js';

/** A Resolver that can also report each server's answer separately. */
export interface SurveyResolver extends Resolver {
  survey(host: string, signal: AbortSignal): Promise<ResolverOutcome[]>;
}

export interface PacketResolverOptions {
  /** Also ask the system's servers from resolv.conf (getaddrinfo when there are none). Default true. */
  system?: boolean;
  /** Replaces the resolv.conf lookup (tests). */
  systemServers?: DnsServer[];
  /** Replaces the wire query (unit tests). */
  query?: QueryFn;
}

/** Addresses that any server gave, in order, without duplicates. */
export function unionAddresses(outcomes: ResolverOutcome[]): AddressAnswer[] {
  const seen = new Set<string>();
  const out: AddressAnswer[] = [];
  for (const o of outcomes) {
    for (const a of o.addresses) {
      if (seen.has(a.address)) continue;
      seen.add(a.address);
      out.push(a);
    }
  }
  return out;
}

export function packetResolver(servers: string[], opts: PacketResolverOptions = {}): SurveyResolver {
  const explicit: DnsServer[] = servers.map((s) => ({ ...parseResolver(s), origin: '--resolver' }));
  const q = opts.query ?? query;
  const survey = async (host: string, signal: AbortSignal): Promise<ResolverOutcome[]> => {
    const list: DnsServer[] = [];
    let useGetaddrinfo = false;
    if (opts.system ?? true) {
      const sys = opts.systemServers ?? systemDnsServers();
      if (sys.length === 0) useGetaddrinfo = true;
      list.push(...sys);
    }
    for (const s of explicit) if (!list.some((x) => x.host === s.host && x.port === s.port)) list.push(s);
    const jobs: Promise<ResolverOutcome>[] = list.map((s) =>
      resolveAt(s, `${serverLabel(s)} (${s.origin})`, host, signal, q),
    );
    if (useGetaddrinfo) jobs.unshift(getaddrinfoOutcome(host, signal));
    return Promise.all(jobs);
  };
  return {
    survey,
    async resolve(host, signal) {
      const outcomes = await survey(host, signal);
      const addrs = unionAddresses(outcomes);
      if (addrs.length > 0) return addrs;
      if (outcomes.some((o) => o.status === 'nxdomain' || o.status === 'nodata'))
        throw new NoRecordsError(outcomes.map((o) => `${o.label}: ${o.detail}`).join('; '));
      throw new ProbeError(
        outcomes.map((o) => `${o.label}: ${o.detail}`).join('; ') || `no DNS server to ask for ${host}`,
      );
    },
  };
}
