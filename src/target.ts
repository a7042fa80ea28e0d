// Parse and validate a target: `api.example.com`, `api.example.com:8443` or `https://api.example.com/path`.

import { domainToASCII } from 'node:url';
import { isIPv4, isIPv6 } from 'node:net';
import { UsageError } from './errors.js';
import { redactUrl } from './redact.js';
import type { GatewayRef, Target } from './types.js';

export type { GatewayRef } from './types.js';

// RFC 1123 label, as Gateway API's Hostname type (apis/v1/shared_types.go) restricts it: lower-case after
// normalisation, letters/digits/hyphen, no leading or trailing hyphen, 1-63 characters.
const LABEL = /^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/;

/**
 * net.isIP(s) !== 0 without running node's IPv6 expression on a name: an IPv6 address has a colon, a hostname never
 * does, and V8 compiles that expression at its first use (several ms per run, measured: bench/README.md, start-up).
 */
function isAddress(s: string): boolean {
  return isIPv4(s) || (s.includes(':') && isIPv6(s));
}

export function parseTarget(typed: string): Target {
  // Messages echo the target without any credentials in it (https://user:pass@host is rejected below).
  const input = redactUrl(typed);
  const raw = typed.trim();
  if (raw === '')
    throw new UsageError(
      'empty target: give a host such as api.example.com or a URL such as https://api.example.com/health',
    );
  if (/\s/.test(raw)) throw new UsageError(`invalid target "${input}": a hostname cannot contain spaces`);

  let url: URL;
  if (/^[a-zA-Z][a-zA-Z0-9+.-]*:\/\//.test(raw)) {
    const scheme = raw.slice(0, raw.indexOf(':')).toLowerCase();
    if (scheme !== 'https') {
      throw new UsageError(
        `unsupported scheme "${scheme}://" in "${input}": gwdoctor checks the public HTTPS path; use https://${redactUrl(raw.slice(raw.indexOf('://') + 3))}`,
      );
    }
    try {
      url = new URL(raw);
    } catch {
      throw new UsageError(`invalid URL "${input}"`);
    }
  } else {
    if (raw.includes('/') || raw.includes('?') || raw.includes('#')) {
      throw new UsageError(`invalid target "${input}": write a path as part of a URL, e.g. https://${redactUrl(raw)}`);
    }
    try {
      url = new URL(`https://${raw}/`);
    } catch {
      throw new UsageError(`invalid target "${input}": not a hostname or host:port`);
    }
  }
  if (url.username || url.password)
    throw new UsageError(`invalid target "${input}": credentials in the URL are not allowed`);

  // WHATWG URL already lower-cases and punycodes the host; keep the raw form for a trailing dot check.
  let host = url.hostname;
  if (host.startsWith('[') || isAddress(host)) {
    throw new UsageError(
      `invalid target "${input}": an IP address is not a hostname (Gateway API hostnames cannot be IPs)`,
    );
  }
  const trailingDot = host.endsWith('.');
  if (trailingDot) host = host.slice(0, -1);
  host = domainToASCII(host) || host;
  validateHostname(host, input);

  const port = url.port === '' ? null : Number(url.port);
  if (port === 0)
    throw new UsageError(`invalid target "${input}": port 0 is not a port a proxy can listen on (use 1-65535)`);
  return {
    input,
    host,
    port,
    // The path stays as WHATWG URL serialises it (percent-encoded); matching is case-sensitive, as in Envoy.
    path: url.pathname === '' ? '/' : url.pathname,
    query: url.search.replace(/^\?/, ''),
    trailingDot,
  };
}

export function validateHostname(host: string, input = host, singleLabel = false): void {
  if (host.length > 253) throw new UsageError(`invalid target "${input}": hostname longer than 253 characters`);
  const labels = host.split('.');
  if (labels.length < 2 && !singleLabel) {
    throw new UsageError(
      `invalid target "${input}": "${host}" is not a fully qualified hostname (expected something like api.example.com; a route's single-label hostname is checked with --all)`,
    );
  }
  for (const l of labels) {
    if (!LABEL.test(l))
      throw new UsageError(`invalid target "${input}": label "${l}" is not a valid DNS label (RFC 1123)`);
  }
  if (/^[0-9]+$/.test(labels[labels.length - 1] ?? '')) {
    throw new UsageError(`invalid target "${input}": the top-level label cannot be all digits`);
  }
}

/** One line of text for stderr: control and line-separator characters become "?" (names come from manifests). */
export function oneLine(s: string): string {
  return s.replace(/[\u0000-\u001f\u007f-\u009f\u2028\u2029]/g, '?');
}

/**
 * A hostname an HTTPRoute or GRPCRoute serves (--all, `gwdoctor diff`) as a target: the route names it, so a valid
 * single-label name (`intranet`; gateway-api apis/v1/shared_types.go Hostname allows it) is checked like any other.
 * A name no client can request (not RFC 1123, an IP address, a numeric top-level label) is not a target: the reason
 * is returned instead of thrown, so one such route never stops the other hosts from being checked.
 */
export function routeHostTarget(hostname: string): Target | { skipped: string } {
  const host = hostname.toLowerCase().replace(/\.$/, '');
  try {
    if (host === '' || isAddress(host)) throw new UsageError('an IP address or an empty name is not a hostname');
    validateHostname(host, hostname, true);
    // What the probes will build from it must round-trip through a URL unchanged.
    if (new URL(`https://${host}/`).hostname !== host) throw new UsageError('not a hostname a client can request');
  } catch (err) {
    if (err instanceof UsageError || err instanceof TypeError)
      return { skipped: oneLine(err.message.replace(/^invalid target "[^"]*": /, '')) };
    throw err;
  }
  return { input: host, host, port: null, path: '/', query: '', trailingDot: false };
}

/**
 * The Gateway the proxy forwards to (`--gateway NS/NAME` or `NS/NAME:PORT`). PORT is the Gateway listener port the
 * proxy's traffic arrives on, or the nodePort of the Gateway's generated Service that the proxy targets (mapped to
 * its Service port, i.e. the listener port, once the Service is read): a Gateway can serve the same host differently
 * on each port.
 */

export function parseGatewayRef(v: string, flag = '--gateway'): GatewayRef {
  const m = /^([a-z0-9]([-a-z0-9]*[a-z0-9])?)\/([a-z0-9]([-.a-z0-9]*[a-z0-9])?)(?::([^:]*))?$/.exec(v);
  if (!m)
    throw new UsageError(
      `${flag} "${redactUrl(v)}": expected NAMESPACE/NAME or NAMESPACE/NAME:PORT, e.g. istio-ingress/example-istio-gateway:80`,
    );
  const ref: GatewayRef = { namespace: m[1] as string, name: m[3] as string };
  if (m[5] === undefined) return ref;
  const p = /^\d{1,5}$/.test(m[5]) ? Number(m[5]) : NaN;
  if (!Number.isInteger(p) || p < 1 || p > 65535) {
    throw new UsageError(
      `${flag} "${redactUrl(v)}": port "${m[5]}" is not a port number 1-65535 (the Gateway listener port, or the nodePort, your proxy forwards to)`,
    );
  }
  return { ...ref, port: p };
}
