// Layer 1: the hostname resolves (and, with --expect-ip, to the reverse proxy).

import { errorFinding, fail, pass } from '../src/findings.js';
import { ProbeError } from '../src/errors.js';
import { NoRecordsError } from '../src/net/system-resolver.js';
import type { Check, CheckContext } from '../src/types.js';

export const dns: Check = {
  id: 'dns',
  title: 'the host resolves to the reverse proxy',
  needsCluster: false,
  network: true,
  async run(ctx: CheckContext) {
    const { host } = ctx.target;
    const resolver = await ctx.resolver();
    let answers;
    try {
      answers = await resolver.resolve(host, ctx.signal);
    } catch (err) {
      if (err instanceof NoRecordsError) {
        return fail(this, 'DnsNoRecords', `${host} does not resolve: ${err.message}`, {
          fix: { kind: 'command', text: `dig +short A ${host}\ndig +short AAAA ${host}`, explain: 'create an A/AAAA (or CNAME) record pointing at the reverse proxy' },
        });
      }
      if (err instanceof ProbeError) return errorFinding(this, 'DnsResolverError', err.message, { retryable: true });
      throw err;
    }
    if (answers.length === 0) return fail(this, 'DnsNoRecords', `${host} has no A/AAAA records`);
    ctx.facts.addresses = answers;
    const list = answers.map((a) => a.address).join(', ');
    if (ctx.net.expectIps.length > 0) {
      const unexpected = answers.filter((a) => !ctx.net.expectIps.includes(a.address));
      if (unexpected.length > 0) {
        return fail(this, 'DnsUnexpectedAddress', `${host} resolves to ${list}, expected ${ctx.net.expectIps.join(', ')} (the reverse proxy)`, {
          evidence: answers.map((a) => ({ ref: `system resolver`, detail: `${host} -> ${a.address}` })),
          fix: { kind: 'text', text: `point the DNS record of ${host} at ${ctx.net.expectIps.join(', ')}`, explain: 'clients must reach the reverse proxy, not the node or the Gateway' },
        });
      }
    }
    return pass(this, `${host} resolves to ${list}`, { evidence: answers.map((a) => ({ ref: 'system resolver', detail: `${host} -> ${a.address}` })) });
  },
};
