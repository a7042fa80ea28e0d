// Locate the real peers' binaries. In CI a missing one fails the suite; locally the suite skips with one line.

import { existsSync } from 'node:fs';
import { delimiter, join } from 'node:path';

export function which(name: string): string | null {
  const dirs = [...(process.env['PATH'] ?? '').split(delimiter), '/usr/sbin', '/sbin', '/usr/local/sbin'];
  for (const d of dirs) {
    const p = join(d, name);
    if (d && existsSync(p)) return p;
  }
  return null;
}

export interface Bins {
  nginx: string;
  dnsmasq: string;
  openssl: string;
}

/** The binaries, or a one-line reason why not. Throws in CI (a missing server is a failure there, not a skip). */
export function requireBins(): { bins: Bins; skip: null } | { bins: null; skip: string } {
  const found = { nginx: which('nginx'), dnsmasq: which('dnsmasq'), openssl: which('openssl') };
  const missing = Object.entries(found)
    .filter(([, v]) => !v)
    .map(([k]) => k);
  if (missing.length === 0) return { bins: found as Bins, skip: null };
  const reason = `missing ${missing.join(', ')}: run scripts/install-net-deps.sh`;
  if (process.env['CI'] === 'true') throw new Error(`network integration tests need real peers; ${reason}`);
  return { bins: null, skip: reason };
}
