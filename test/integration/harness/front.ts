// What a user has in front of the gateway, for the contract's networked judge: a real nginx (TLS, `proxy_set_header
// Host $host`, HTTP/1.1 upstream) forwarding to the lane's NodePort stand-in, and a real dnsmasq answering every name
// with nginx's address. One dnsmasq and one certificate per run; one nginx per scenario, with a server (its own port)
// per gateway address the scenario's cases are sent to. gwdoctor then runs with its dns and proxy probes on.

import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { packetResolver } from '../../../src/net/dns-resolver.js';
import { undiciProbe } from '../../../src/net/http-probe.js';
import type { Env } from '../../../src/pipeline.js';
import type { Bins } from '../../helpers/net/bins.js';
import { TestPki, days } from '../../helpers/net/certs.js';
import { startDnsmasq, type Dnsmasq } from '../../helpers/net/dnsmasq.js';
import { startNginx, type Nginx } from '../../helpers/net/nginx.js';
import { sendRequest, type RealAnswer, type Upstream } from './envoy.js';

export interface Front {
  /** nginx for one scenario: a server per distinct upstream; `port(u)` is the one that forwards to `u`. */
  scenario(upstreams: Upstream[]): Promise<FrontScenario>;
  stop(): Promise<void>;
  /** Time spent starting nginx per scenario (ms). */
  nginxMs: number[];
}

export interface FrontScenario {
  port(u: Upstream): number;
  /** The gwdoctor Env parts for the network layers: dnsmasq as the resolver, nginx's port, the test CA. */
  env(u: Upstream): Partial<Env>;
  /** The target's real request through nginx (TLS, SNI = host, the test CA's certificate). */
  request(u: Upstream): Promise<RealAnswer>;
  stop(): Promise<void>;
  errorLog(): string;
}

const key = (u: Upstream) => `${u.tls ? 'https' : 'http'}://${u.address}:${u.port}`;

export async function startFront(bins: Bins, hosts: string[]): Promise<Front> {
  const dir = mkdtempSync(join(tmpdir(), 'gwdoctor-front-'));
  const pki = new TestPki(dir, bins.openssl);
  const caFile = pki.ca('front-ca');
  const leaf = pki.leaf('front-ca', 'front', [...new Set(hosts.map((h) => h.toLowerCase()))], days(-1), days(60));
  // Every name -> 127.0.0.1, where nginx listens (dnsmasq's `#` matches any domain).
  const dns: Dnsmasq = await startDnsmasq(bins.dnsmasq, { address: { '#': '127.0.0.1' } });
  const resolvers = [`127.0.0.1:${dns.port}`];
  const nginxMs: number[] = [];
  let n = 0;
  return {
    nginxMs,
    async stop() {
      await dns.stop();
      rmSync(dir, { recursive: true, force: true });
    },
    async scenario(upstreams) {
      const distinct = [...new Map(upstreams.map((u) => [key(u), u])).values()];
      const names = new Map(distinct.map((u, i) => [key(u), `u${i}`]));
      const t = Date.now();
      const nginx: Nginx | null = distinct.length
        ? await startNginx(
            bins.nginx,
            join(dir, `nginx-${n++}`),
            distinct.map((u) => ({
              name: names.get(key(u)) as string,
              serverName: '_',
              ...leaf,
              // HTTP/1.1 upstream (Istio's gateway answers nginx's default HTTP/1.0 with 426); to an HTTPS listener,
              // re-encrypted with SNI = the client's host.
              location: [
                `proxy_pass ${key(u)};`,
                'proxy_set_header Host $host;',
                'proxy_http_version 1.1;',
                ...(u.tls ? ['proxy_ssl_server_name on;', 'proxy_ssl_name $host;'] : []),
              ].join(' '),
            })),
          )
        : null;
      nginxMs.push(Date.now() - t);
      const port = (u: Upstream) => {
        const p = nginx?.ports[names.get(key(u)) ?? ''];
        if (p === undefined) throw new Error(`no nginx server for ${key(u)}`);
        return p;
      };
      return {
        port,
        env: (u) => ({
          offline: false,
          net: { resolvers, expectIps: [], caFile, port: port(u) },
          resolver: async () => packetResolver(resolvers, { system: false }),
          probe: async () => undiciProbe,
          signal: AbortSignal.timeout(60_000),
        }),
        request: (u) => sendRequest('127.0.0.1', port(u), u.host, u.path, { tls: true }),
        stop: async () => nginx?.stop(),
        errorLog: () => nginx?.errorLog() ?? '',
      };
    },
  };
}

/** nginx answered itself because the gateway gave no HTTP answer (refused, reset, TLS failure): its 502 page. */
export function nginxGaveUp(a: RealAnswer): boolean {
  return (a.status === 502 || a.status === 504) && a.backend === undefined && /<center>nginx/.test(a.body ?? '');
}
