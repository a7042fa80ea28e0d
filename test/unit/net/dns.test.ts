import { describe, expect, it } from 'vitest';
import type * as packet from 'dns-packet';
import { dns } from '../../../checks/dns.js';
import { DnsQueryError, followChain, type QueryFn, type QueryResult } from '../../../src/net/dns-client.js';
import { packetResolver } from '../../../src/net/dns-resolver.js';
import { parseResolvConf } from '../../../src/net/resolv-conf.js';
import { parseTarget } from '../../../src/target.js';
import type { Resolver } from '../../../src/types.js';
import type { CheckContext } from '../../../src/check.js';

const A = (name: string, data: string) => ({ type: 'A', name, data, class: 'IN', ttl: 60 }) as packet.Answer;
const CNAME = (name: string, data: string) => ({ type: 'CNAME', name, data, class: 'IN', ttl: 60 }) as packet.Answer;
const ok = (answers: packet.Answer[] = []): QueryResult => ({
  rcode: 'NOERROR',
  answers,
  truncated: false,
  transport: 'udp',
});

/** A fake wire: per server port, per "name type", a result or an error. */
function fakeQuery(table: Record<number, Record<string, QueryResult | Error>>): QueryFn {
  return async (server, name, type) => {
    const v = table[server.port]?.[`${name} ${type}`] ?? ok();
    if (v instanceof Error) throw v;
    return v;
  };
}

function ctxWith(resolver: Resolver, expectIps: string[] = []): CheckContext {
  return {
    target: parseTarget('api.example.com'),
    cluster: null,
    clusterUnavailable: 'no cluster source',
    gatewayFilter: null,
    offline: false,
    net: { resolvers: [], expectIps, caFile: null, port: null },
    resolver: async () => resolver,
    probe: () => Promise.reject(new Error('no probe')),
    signal: AbortSignal.timeout(5000),
    probes: { addresses: null, envoy: [] },
    path: null,
  };
}

const resolverFor = (table: Record<number, Record<string, QueryResult | Error>>) =>
  packetResolver(
    Object.keys(table).map((p) => `127.0.0.1:${p}`),
    { system: false, query: fakeQuery(table) },
  );

describe('resolv.conf', () => {
  it('reads nameserver lines, drops zones, comments and non-IPs', () => {
    expect(
      parseResolvConf(
        '# x\nnameserver 10.0.0.2\nnameserver fe80::1%eth0\nnameserver bogus\nsearch lan\nnameserver 10.0.0.2 ; dup\n',
      ),
    ).toEqual(['10.0.0.2', 'fe80::1']);
  });
});

describe('CNAME chains', () => {
  it('follows the chain inside one answer', () => {
    const r = followChain('api.example.com', 'A', [
      CNAME('api.example.com', 'edge.example.net'),
      A('edge.example.net', '203.0.113.5'),
    ]);
    expect(r).toEqual({ final: 'edge.example.net', cnames: ['edge.example.net'], addresses: ['203.0.113.5'] });
  });
  it('asks again for a chain target the server did not resolve', async () => {
    const res = resolverFor({
      5301: {
        'api.example.com A': ok([CNAME('api.example.com', 'edge.example.net')]),
        'edge.example.net A': ok([A('edge.example.net', '203.0.113.5')]),
      },
    });
    const [o] = await res.survey('api.example.com', AbortSignal.timeout(1000));
    expect(o).toMatchObject({
      status: 'ok',
      cnames: ['edge.example.net'],
      addresses: [{ address: '203.0.113.5', family: 4 }],
    });
  });
});

describe('dns layer', () => {
  it('passes with one answer and records the addresses', async () => {
    const ctx = ctxWith(resolverFor({ 5301: { 'api.example.com A': ok([A('api.example.com', '192.0.2.10')]) } }));
    const f = await dns.run(ctx);
    expect(f.status).toBe('pass');
    expect(f.observed?.addresses).toEqual([{ family: 4, address: '192.0.2.10' }]);
  });
  it('tells NXDOMAIN from NODATA', async () => {
    const nx = await dns.run(
      ctxWith(
        resolverFor({
          5301: {
            'api.example.com A': { ...ok(), rcode: 'NXDOMAIN' },
            'api.example.com AAAA': { ...ok(), rcode: 'NXDOMAIN' },
          },
        }),
      ),
    );
    expect(nx).toMatchObject({ status: 'fail', code: 'DnsNoRecords' });
    expect(nx.summary).toContain('NXDOMAIN');
    const nodata = await dns.run(ctxWith(resolverFor({ 5301: {} })));
    expect(nodata).toMatchObject({ status: 'fail', code: 'DnsNoRecords' });
    expect(nodata.summary).toContain('NODATA');
  });
  it('is an error when no server answered (SERVFAIL, REFUSED)', async () => {
    const f = await dns.run(
      ctxWith(
        resolverFor({
          5301: {
            'api.example.com A': { ...ok(), rcode: 'SERVFAIL' },
            'api.example.com AAAA': { ...ok(), rcode: 'SERVFAIL' },
          },
          5302: {
            'api.example.com A': { ...ok(), rcode: 'REFUSED' },
            'api.example.com AAAA': { ...ok(), rcode: 'REFUSED' },
          },
        }),
      ),
    );
    expect(f).toMatchObject({ status: 'error', code: 'DnsResolverError', retryable: true });
    expect(f.evidence.map((e) => e.detail).join(' ')).toMatch(/SERVFAIL.*REFUSED/s);
  });
  it('fails on an unexpected address', async () => {
    const f = await dns.run(
      ctxWith(resolverFor({ 5301: { 'api.example.com A': ok([A('api.example.com', '192.0.2.99')]) } }), ['192.0.2.10']),
    );
    expect(f).toMatchObject({ status: 'fail', code: 'DnsUnexpectedAddress' });
  });
  it('warns when resolvers disagree, and a silent resolver is not a disagreement', async () => {
    const split = await dns.run(
      ctxWith(
        resolverFor({
          5301: { 'api.example.com A': ok([A('api.example.com', '192.168.1.10')]) },
          5302: { 'api.example.com A': ok([A('api.example.com', '203.0.113.7')]) },
        }),
      ),
    );
    expect(split).toMatchObject({ status: 'warn', code: 'DnsInconsistent' });
    const oneDown = await dns.run(
      ctxWith(
        resolverFor({
          5301: { 'api.example.com A': ok([A('api.example.com', '192.168.1.10')]) },
          5302: {
            'api.example.com A': new DnsQueryError('timeout', 'DNS server 127.0.0.1:5302: no answer within 2000 ms'),
          },
        }),
      ),
    );
    expect(oneDown.status).toBe('pass');
    expect(oneDown.evidence.map((e) => e.detail).join(' ')).toContain('timeout');
  });
});
