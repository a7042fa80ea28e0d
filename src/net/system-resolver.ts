// The system resolver (getaddrinfo through node:dns), as a browser or curl on this machine would resolve.
// Kept cheap to import: the DNS wire client is loaded only when survey() runs.

import { ProbeError } from '../errors.js';
import type { AddressAnswer, Resolver } from '../types.js';
import type { ResolverOutcome } from './dns-client.js';

export class NoRecordsError extends ProbeError {}

export const systemResolver: Resolver & { survey(host: string, signal: AbortSignal): Promise<ResolverOutcome[]> } = {
  async resolve(host: string, signal: AbortSignal): Promise<AddressAnswer[]> {
    signal.throwIfAborted();
    try {
      // node:dns/promises at the first lookup: an offline run never loads it (bench/README.md, start-up).
      const res = await process.getBuiltinModule('node:dns/promises').lookup(host, { all: true, verbatim: true });
      return res.map((r) => ({ family: r.family === 6 ? 6 : 4, address: r.address }));
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code === 'ENOTFOUND' || code === 'ENODATA')
        throw new NoRecordsError(`${host} has no A/AAAA records (${code})`, undefined, { cause: err });
      throw new ProbeError(`the system resolver failed for ${host}: ${code ?? (err as Error).message}`, undefined, {
        cause: err,
      });
    }
  },
  /** Ask the servers of resolv.conf directly (getaddrinfo when it names none). */
  async survey(host: string, signal: AbortSignal): Promise<ResolverOutcome[]> {
    const { packetResolver } = await import('./dns-resolver.js');
    return packetResolver([]).survey(host, signal);
  },
};

/** getaddrinfo as one resolver outcome (used when resolv.conf names no server). */
export async function getaddrinfoOutcome(host: string, signal: AbortSignal): Promise<ResolverOutcome> {
  const label = 'system resolver (getaddrinfo)';
  try {
    const addresses = await systemResolver.resolve(host, signal);
    return { label, status: 'ok', addresses, cnames: [], detail: addresses.map((a) => a.address).join(', ') };
  } catch (err) {
    const code = ((err as Error).cause as NodeJS.ErrnoException | undefined)?.code;
    if (code === 'ENOTFOUND')
      return { label, status: 'nxdomain', addresses: [], cnames: [], detail: `${host}: not found (ENOTFOUND)` };
    if (code === 'ENODATA')
      return { label, status: 'nodata', addresses: [], cnames: [], detail: `${host}: no A/AAAA records (ENODATA)` };
    if (code === 'EAI_AGAIN')
      return { label, status: 'timeout', addresses: [], cnames: [], detail: `${host}: temporary failure (EAI_AGAIN)` };
    return { label, status: 'error', addresses: [], cnames: [], detail: (err as Error).message };
  }
}
