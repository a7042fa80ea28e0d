// Every reason code gwdoctor emits. Stable once released: README.md has one heading per code
// (test/unit/readme.test.ts keeps the two in step), and a hint links to that heading.

import type { LayerId } from './types.js';

export const CODES = {
  // dns
  DnsNoRecords: 'dns',
  DnsResolverError: 'dns',
  DnsUnexpectedAddress: 'dns',
  DnsInconsistent: 'dns',
  // proxy
  ProxyUnreachable: 'proxy',
  TlsCertificateInvalid: 'proxy',
  TlsCertificateExpiring: 'proxy',
  ProxyUpstreamError: 'proxy',
  ProxyErrorResponse: 'proxy',
  ProxyNotForwardingToGateway: 'proxy',
  RedirectLoop: 'proxy',
  // listener
  GatewayNotFound: 'listener',
  GatewayNotAccepted: 'listener',
  GatewayNotProgrammed: 'listener',
  GatewayStatusStale: 'listener',
  ListenerHostnameMismatch: 'listener',
  ListenerNotReady: 'listener',
  // route
  NoRouteForHost: 'route',
  RouteNotAccepted: 'route',
  RouteParentNotFound: 'route',
  RouteNoMatchingRule: 'route',
  RouteStatusStale: 'route',
  RouteStatusMissing: 'route',
  RouteNoBackends: 'route',
  // grant
  ReferenceGrantMissing: 'grant',
  // endpoints
  ServiceNotFound: 'endpoints',
  ServicePortMismatch: 'endpoints',
  NoReadyEndpoints: 'endpoints',
  NoPodsSelected: 'endpoints',
  EndpointsUnknown: 'endpoints',
  BackendKindUnsupported: 'endpoints',
  BackendKindInvalid: 'endpoints',
  // any cluster layer
  StatusDisagrees: 'any',
  GatewayErrorResponse: 'any',
  ClusterForbidden: 'any',
  ClusterUnreachable: 'any',
  ClusterTlsError: 'any',
  ClusterUnauthorized: 'any',
  ClusterCredentialPluginFailed: 'any',
  GatewayApiMissing: 'any',
  Timeout: 'any',
  Interrupted: 'any',
} as const satisfies Record<string, LayerId | 'any'>;

export type Code = keyof typeof CODES;

export const README_URL = 'https://github.com/gwdoctor/gwdoctor/blob/main/README.md';

/** GitHub's anchor for a heading that is exactly the code. */
export function hintFor(code: Code): string {
  return `${README_URL}#${code.toLowerCase()}`;
}
