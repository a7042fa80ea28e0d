// Layer 1: the hostname resolves (and, with --expect-ip, to the reverse proxy), the same way on every resolver asked.

import { layer } from '../src/registry.js';
import { emit, commandFix, pass, textFix, type Draft } from '../src/findings.js';
import { ProbeError } from '../src/errors.js';
import type { ResolverOutcome } from '../src/net/dns-client.js';
import { unsafeTarget } from '../src/net/addresses.js';
import { noRecordsKind } from '../src/net/no-records.js';
import { NoRecordsError } from '../src/net/system-resolver.js';
import type { AddressAnswer, Evidence, Observed, Resolver } from '../src/types.js';
import type { Check, CheckContext } from '../src/check.js';

function isSurvey(
  r: Resolver,
): r is Resolver & { survey(host: string, signal: AbortSignal): Promise<ResolverOutcome[]> } {
  return typeof (r as { survey?: unknown }).survey === 'function';
}

/** A Resolver without survey() (a test fake) still yields one outcome. */
async function outcomesOf(resolver: Resolver, host: string, signal: AbortSignal): Promise<ResolverOutcome[]> {
  if (isSurvey(resolver)) return resolver.survey(host, signal);
  const label = 'resolver';
  try {
    const addresses = await resolver.resolve(host, signal);
    return [
      {
        label,
        status: addresses.length ? 'ok' : 'nodata',
        addresses,
        cnames: [],
        detail: addresses.map((a) => a.address).join(', ') || 'no A/AAAA records',
      },
    ];
  } catch (err) {
    if (err instanceof NoRecordsError)
      return [{ label, status: 'nxdomain', addresses: [], cnames: [], detail: err.message }];
    if (err instanceof ProbeError) return [{ label, status: 'error', addresses: [], cnames: [], detail: err.message }];
    throw err;
  }
}

const STATUS_TEXT: Record<ResolverOutcome['status'], string> = {
  ok: 'answered',
  nxdomain: 'NXDOMAIN (the name does not exist)',
  nodata: 'NODATA (the name exists but has no A/AAAA record)',
  servfail: 'SERVFAIL (the server failed to resolve)',
  refused: 'REFUSED (the server will not answer this client)',
  timeout: 'timeout',
  unreachable: 'unreachable (nothing answers on that address/port)',
  error: 'error',
};

function describeOutcome(host: string, o: ResolverOutcome): Evidence {
  if (o.status === 'ok') {
    const chain = o.cnames.length ? `${host} -> CNAME ${o.cnames.join(' -> CNAME ')} -> ` : `${host} -> `;
    return { ref: o.label, detail: `${chain}${o.addresses.map((a) => a.address).join(', ')}` };
  }
  return { ref: o.label, detail: `${STATUS_TEXT[o.status]}: ${o.detail}` };
}

/** The answer a resolver gave, as a comparable key; null when it gave none (error, timeout). */
function answerKey(o: ResolverOutcome): string | null {
  if (o.status === 'ok')
    return o.addresses
      .map((a) => a.address)
      .sort()
      .join(',');
  if (o.status === 'nxdomain' || o.status === 'nodata') return `(${o.status})`;
  return null;
}

/** The addresses go to the proxy layer as its explicit input (the pipeline hands them on). */
function observed(d: Draft, addresses: AddressAnswer[]): Draft & { observed: Observed } {
  return { ...d, observed: { addresses } };
}

export const dns: Check<'dns'> = {
  ...layer('dns'),
  async run(ctx: CheckContext) {
    const { host } = ctx.target;
    const resolver = await ctx.resolver();
    const outcomes = await outcomesOf(resolver, host, ctx.signal);
    const evidence = outcomes.map((o) => describeOutcome(host, o));
    const facts = {
      resolvers: outcomes.map((o) => ({
        resolver: o.label,
        status: o.status,
        addresses: o.addresses.map((x) => x.address),
        cnames: o.cnames,
      })),
    };
    const answered = outcomes.filter((o) => o.status === 'ok');
    const digFix = commandFix(
      `dig +short A ${host}\ndig +short AAAA ${host}`,
      'see what each resolver answers for the host',
    );

    if (answered.length === 0) {
      const negative = outcomes.filter((o) => o.status === 'nxdomain' || o.status === 'nodata');
      if (negative.length > 0) {
        const kind = noRecordsKind(negative.map((o) => o.status));
        return emit(this, 'DnsNoRecords', `${host} does not resolve (${kind})`, {
          evidence,
          facts,
          fix: textFix(
            `create an A (or AAAA) record for ${host} pointing at the reverse proxy${ctx.net.expectIps.length ? ` (${ctx.net.expectIps.join(', ')})` : ''}, or a CNAME to a name that has one`,
            'clients must be able to resolve the host to reach the proxy',
          ),
        });
      }
      return emit(
        this,
        'DnsResolverError',
        `no resolver answered for ${host}: ${outcomes.map((o) => `${o.label} ${o.status}`).join(', ') || 'no resolver configured'}`,
        {
          evidence,
          facts,
          fix: digFix,
        },
      );
    }

    const addresses: AddressAnswer[] = [];
    for (const o of answered)
      for (const a of o.addresses) if (!addresses.some((x) => x.address === a.address)) addresses.push(a);
    const list = addresses.map((a) => a.address).join(', ');

    // Link-local and cloud-metadata addresses are never probed on a DNS answer's word (src/net/addresses.ts).
    const unsafe = addresses.flatMap((a) => {
      const why = ctx.net.expectIps.includes(a.address) ? null : unsafeTarget(a.address);
      return why ? [`${a.address} (${why})`] : [];
    });
    if (unsafe.length > 0) {
      return emit(
        this,
        'DnsLinkLocalAddress',
        `${host} resolves to ${unsafe.join(', ')}: gwdoctor does not probe it unless --expect-ip names it`,
        {
          evidence,
          facts,
          fix: textFix(
            `point the DNS record of ${host} at the reverse proxy${ctx.net.expectIps.length ? ` (${ctx.net.expectIps.join(', ')})` : ''}; if ${unsafe.length > 1 ? 'these addresses are' : 'this address is'} really your proxy, pass --expect-ip ${addresses
              .filter((a) => unsafeTarget(a.address))
              .map((a) => a.address)
              .join(' --expect-ip ')}`,
            'a public host never resolves to a link-local or metadata address: clients land on their own link, or on the cloud service that hands out instance credentials',
          ),
        },
      );
    }

    if (ctx.net.expectIps.length > 0) {
      const wrong = answered.filter((o) => o.addresses.some((a) => !ctx.net.expectIps.includes(a.address)));
      if (wrong.length > 0) {
        const bad = [
          ...new Set(
            wrong.flatMap((o) => o.addresses.map((a) => a.address)).filter((a) => !ctx.net.expectIps.includes(a)),
          ),
        ];
        return emit(
          this,
          'DnsUnexpectedAddress',
          `${host} resolves to ${bad.join(', ')}${wrong.length < answered.length ? ` at ${wrong.map((o) => o.label).join(', ')}` : ''}, expected ${ctx.net.expectIps.join(', ')} (the reverse proxy)`,
          {
            evidence,
            facts,
            fix: textFix(
              `point the DNS record of ${host} at ${ctx.net.expectIps.join(', ')}`,
              'clients must reach the reverse proxy, not the node, the Gateway or an old address',
            ),
          },
        );
      }
    }

    const keys = new Set(outcomes.map(answerKey).filter((k): k is string => k !== null));
    if (keys.size > 1) {
      return observed(
        emit(
          this,
          'DnsInconsistent',
          `resolvers disagree about ${host} (split horizon?): ${outcomes
            .filter((o) => answerKey(o) !== null)
            .map(
              (o) =>
                `${o.label} -> ${o.status === 'ok' ? o.addresses.map((a) => a.address).join(', ') : o.status.toUpperCase()}`,
            )
            .join('; ')}`,
          {
            evidence,
            facts,
            fix: textFix(
              `make every resolver your clients use answer the same for ${host}, or make sure each answer reaches a proxy that serves it`,
              'clients behind different resolvers land on different addresses',
            ),
          },
        ),
        addresses,
      );
    }
    return observed(pass(this, `${host} resolves to ${list}`, { evidence, facts }), addresses);
  },
};
