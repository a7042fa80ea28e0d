// The system resolver (getaddrinfo through node:dns), as a browser or curl on this machine would resolve.

import { lookup } from 'node:dns/promises';
import { ProbeError } from '../errors.js';
import type { AddressAnswer, Resolver } from '../types.js';

export class NoRecordsError extends ProbeError {}

export const systemResolver: Resolver = {
  async resolve(host: string, signal: AbortSignal): Promise<AddressAnswer[]> {
    signal.throwIfAborted();
    try {
      const res = await lookup(host, { all: true, verbatim: true });
      return res.map((r) => ({ family: r.family === 6 ? 6 : 4, address: r.address }));
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code === 'ENOTFOUND' || code === 'ENODATA') throw new NoRecordsError(`${host} has no A/AAAA records (${code})`, undefined, { cause: err });
      throw new ProbeError(`the system resolver failed for ${host}: ${code ?? (err as Error).message}`, undefined, { cause: err });
    }
  },
};
