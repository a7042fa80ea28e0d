// The system's DNS servers, read from resolv.conf (GWDOCTOR_RESOLV_CONF overrides the path, for tests and containers).

import { readFileSync } from 'node:fs';
import { isIP } from 'node:net';

export interface DnsServer {
  host: string;
  port: number;
  /** Where the server came from, for evidence: "--resolver" or "/etc/resolv.conf". */
  origin: string;
}

/** `nameserver` lines of a resolv.conf text; IPv6 zone ids are dropped, anything not an IP is ignored. */
export function parseResolvConf(text: string): string[] {
  const out: string[] = [];
  for (const raw of text.split('\n')) {
    const line = raw.replace(/[#;].*$/, '').trim();
    const m = /^nameserver\s+(\S+)/.exec(line);
    if (!m) continue;
    const ip = (m[1] as string).replace(/%.*$/, '');
    if (isIP(ip) !== 0 && !out.includes(ip)) out.push(ip);
  }
  return out;
}

export function resolvConfPath(env: NodeJS.ProcessEnv = process.env): string {
  return env['GWDOCTOR_RESOLV_CONF'] || '/etc/resolv.conf';
}

export function systemDnsServers(env: NodeJS.ProcessEnv = process.env): DnsServer[] {
  const path = resolvConfPath(env);
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch {
    return [];
  }
  return parseResolvConf(text).map((host) => ({ host, port: 53, origin: path }));
}

export function serverLabel(s: { host: string; port: number }): string {
  const h = isIP(s.host) === 6 ? `[${s.host}]` : s.host;
  return s.port === 53 ? h : `${h}:${s.port}`;
}
