// Layer 2: the reverse proxy answers TLS for the host and forwards to the Istio gateway.

import { errorFinding, fail, pass } from '../src/findings.js';
import { ProbeFailure, isTlsCode } from '../src/net/probe-errors.js';
import type { Check, CheckContext, HttpProbeResult } from '../src/types.js';

/** Envoy local replies and upstream answers, as gateway-api-rules.md Appendix B lays them out. */
export function envoyAnswered(r: HttpProbeResult): boolean {
  return Object.keys(r.headers).some((h) => h.startsWith('x-envoy-')) || r.headers['server'] === 'istio-envoy';
}

export const proxy: Check = {
  id: 'proxy',
  title: 'the reverse proxy answers TLS and forwards to the gateway',
  needsCluster: false,
  network: true,
  async run(ctx: CheckContext) {
    const { host, path, query } = ctx.target;
    const port = ctx.net.port ?? ctx.target.port ?? 443;
    const url = new URL(`https://${host}:${port}${path}${query ? `?${query}` : ''}`);
    const probe = await ctx.probe();
    let res: HttpProbeResult;
    try {
      res = await probe.get(url, { signal: ctx.signal, ...(ctx.net.caFile ? { caFile: ctx.net.caFile } : {}) });
    } catch (err) {
      if (!(err instanceof ProbeFailure)) throw err;
      if (isTlsCode(err.code)) {
        return fail(this, 'TlsCertificateInvalid', `the TLS certificate served for ${host}:${port} is not valid: ${err.code}`, {
          fix: { kind: 'command', text: `openssl s_client -connect ${host}:${port} -servername ${host} </dev/null | openssl x509 -noout -subject -issuer -dates -ext subjectAltName`, explain: 'inspect the certificate the proxy serves for this name' },
        });
      }
      if (err.code === 'ABORT_ERR' || err.code === 'UND_ERR_ABORTED') return errorFinding(this, 'Timeout', `the request to ${host}:${port} was cut off by --timeout`, { retryable: true });
      return fail(this, 'ProxyUnreachable', `cannot reach the reverse proxy at ${host}:${port}: ${err.code}`, {
        retryable: true,
        fix: { kind: 'command', text: `curl -v https://${host}:${port}${path}`, explain: 'check that the proxy listens on this address and port and that no firewall drops it' },
      });
    }
    const evidence = [{ ref: `GET ${url.href}`, detail: `HTTP ${res.statusCode}, server: ${res.headers['server'] ?? '-'}` }];
    if ([502, 503, 504].includes(res.statusCode) && !envoyAnswered(res)) {
      return fail(this, 'ProxyUpstreamError', `the reverse proxy answered ${res.statusCode} itself: it cannot reach the gateway NodePort`, {
        evidence,
        fix: { kind: 'text', text: 'check the proxy\'s upstream address: it must be <node-ip>:<gateway nodePort> (e.g. 32080) and send Host $host', explain: 'the proxy, not Envoy, produced this error page' },
      });
    }
    return pass(this, `the proxy answered HTTP ${res.statusCode} for ${host}${path}`, { evidence });
  },
};
