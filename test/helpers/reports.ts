// Real Reports for reporter tests: fixture scenarios run through the real pipeline (offline), plus a network-layer
// variant built from them for what offline runs cannot show (TLS days left, DNS answers).

import { runScenario, scenarioDir } from './fixtures.js';
import type { Finding, Report, TargetReport } from '../../src/types.js';

export async function scenarioReport(cases: [scenario: string, target: string][]): Promise<Report> {
  const targets: TargetReport[] = [];
  for (const [scenario, target] of cases) targets.push(await runScenario(scenarioDir(scenario), target));
  return {
    schemaVersion: 'gwdoctor.report/v3',
    generatedAt: '2026-11-27T12:00:00.000Z',
    durationMs: 42,
    source: { mode: 'manifests', manifests: cases.map(([s]) => `fixtures/${s}`), offline: true },
    targets,
  };
}

/** A passing target whose dns and proxy layers ran, with evidence worded exactly as checks/dns.ts and checks/proxy.ts word it. */
export function withNetworkLayers(t: TargetReport): TargetReport {
  const dns: Finding = {
    ...(t.layers[0] as Finding),
    status: 'pass',
    summary: `${t.host} resolves to 192.0.2.10, 192.0.2.11`,
    evidence: [{ ref: 'system resolver', detail: `${t.host} -> 192.0.2.10, 192.0.2.11` }],
    facts: {
      resolvers: [{ resolver: 'system resolver', status: 'ok', addresses: ['192.0.2.10', '192.0.2.11'], cnames: [] }],
    },
    durationMs: 4,
  };
  const proxy: Finding = {
    ...(t.layers[1] as Finding),
    status: 'pass',
    summary: `the proxy at 192.0.2.10:443 forwards to the Istio gateway; the backend answered HTTP 200`,
    evidence: [
      {
        ref: 'TLS 192.0.2.10:443',
        detail: `TLSv1.3, subject CN=${t.host}, issuer CN=Test CA, SANs ${t.host}, valid 2026-09-01T00:00:00.000Z to 2027-01-01T00:00:00.000Z (35 days left)`,
      },
      { ref: `GET https://${t.host}/ via 192.0.2.10`, detail: 'HTTP 200; server: istio-envoy; body: "ok"' },
    ],
    facts: {
      tls: [
        {
          address: '192.0.2.10:443',
          notBefore: '2026-09-01T00:00:00.000Z',
          notAfter: '2027-01-01T00:00:00.000Z',
          daysLeft: 35,
          sans: [t.host],
          subject: `CN=${t.host}`,
          issuer: 'CN=Test CA',
        },
      ],
      answers: [{ address: '192.0.2.10', port: 443, statusCode: 200, location: null }],
    },
    durationMs: 17,
  };
  return { ...t, layers: [dns, proxy, ...t.layers.slice(2)] };
}
