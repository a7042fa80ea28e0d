// -o prometheus: the text exposition format (version 0.0.4) for the node_exporter textfile collector or a
// Pushgateway. Per host: an ok gauge, the verdict as a state set, the failed layer and code as labels, per-layer
// durations, TLS certificate expiry (days left in PromQL), DNS answer counts; per run: duration and timestamp. Validated in tests by
// `promtool check metrics`.

import type { Reporter } from '../types.js';
import { inline } from './common.js';
import type { Finding, Report, TargetReport, Verdict } from '../types.js';

const VERDICTS: Verdict[] = ['pass', 'warn', 'fail', 'error'];

/** Label values escape backslash, double quote and newline (exposition format), after inline() (one line, no controls). */
function labelValue(s: string): string {
  return inline(s).replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n');
}

function labels(l: Record<string, string>): string {
  return `{${Object.entries(l)
    .map(([k, v]) => `${k}="${labelValue(v)}"`)
    .join(',')}}`;
}

function num(n: number): string {
  return Number.isFinite(n) ? String(Math.round(n * 1000) / 1000) : 'NaN';
}

interface Family {
  name: string;
  help: string;
  samples: { labels: Record<string, string>; value: number }[];
}

/**
 * When the certificate the proxy presents expires, per probed address (facts.tls of checks/proxy.ts). Prometheus wants
 * base units, so this is a Unix timestamp (as blackbox_exporter's probe_ssl_earliest_cert_expiry); days left =
 * (metric - time()) / 86400.
 */
export function tlsExpiry(proxy: Finding, now: number): { address: string; expires: number }[] {
  const out: { address: string; expires: number }[] = [];
  for (const t of proxy.facts.tls ?? []) {
    if (out.some((x) => x.address === t.address)) continue;
    const to = t.notAfter === null ? NaN : Date.parse(t.notAfter);
    const expires = Number.isFinite(to) ? to / 1000 : t.daysLeft !== null ? now / 1000 + t.daysLeft * 86_400 : NaN;
    if (Number.isFinite(expires)) out.push({ address: t.address, expires });
  }
  return out;
}

/** A/AAAA answers per resolver (facts.resolvers of checks/dns.ts; NXDOMAIN/NODATA count 0, no answer is no sample). */
export function dnsAnswers(dns: Finding): { resolver: string; answers: number }[] {
  return (dns.facts.resolvers ?? []).flatMap((r) =>
    r.status === 'ok'
      ? [{ resolver: r.resolver, answers: r.addresses.length }]
      : r.status === 'nxdomain' || r.status === 'nodata'
        ? [{ resolver: r.resolver, answers: 0 }]
        : [],
  );
}

function families(report: Report): Family[] {
  const ok: Family = {
    name: 'gwdoctor_host_ok',
    help: '1 when https://host/path reaches its backend (verdict pass or warn), else 0.',
    samples: [],
  };
  const verdict: Family = {
    name: 'gwdoctor_host_verdict',
    help: 'The verdict of each host as a state set: 1 for the current verdict, 0 for the others.',
    samples: [],
  };
  const failure: Family = {
    name: 'gwdoctor_host_failure',
    help: '1 for the layer and reason code that stopped the host (verdict fail or error); absent when the host reaches its backend.',
    samples: [],
  };
  const layerStatus: Family = {
    name: 'gwdoctor_layer_ok',
    help: '1 when the layer passed or warned, 0 when it failed or could not be checked; absent when skipped.',
    samples: [],
  };
  const duration: Family = {
    name: 'gwdoctor_layer_duration_seconds',
    help: 'How long each layer that ran took, in seconds.',
    samples: [],
  };
  const tls: Family = {
    name: 'gwdoctor_tls_certificate_expiry_timestamp_seconds',
    help: 'When the certificate the proxy presents for the host expires (Unix time), per proxy address; days left: (this - time()) / 86400.',
    samples: [],
  };
  const dns: Family = {
    name: 'gwdoctor_dns_answers',
    help: 'Number of A/AAAA answers for the host, per resolver (0 for NXDOMAIN or NODATA).',
    samples: [],
  };
  const runDuration: Family = {
    name: 'gwdoctor_run_duration_seconds',
    help: 'How long the whole gwdoctor run took, in seconds.',
    samples: [],
  };
  const lastRun: Family = {
    name: 'gwdoctor_last_run_timestamp_seconds',
    help: 'When the last gwdoctor run finished (Unix time, seconds).',
    samples: [],
  };

  const seen = new Set<string>();
  for (const t of report.targets) {
    // Two targets with the same host and path (e.g. given twice) would be duplicate series: keep the first.
    const key = `${t.host}\0${t.path}`;
    if (seen.has(key)) continue;
    seen.add(key);
    const host = { host: t.host, path: t.path };
    ok.samples.push({ labels: host, value: t.verdict === 'pass' || t.verdict === 'warn' ? 1 : 0 });
    for (const v of VERDICTS) verdict.samples.push({ labels: { ...host, verdict: v }, value: t.verdict === v ? 1 : 0 });
    const stop = stopping(t);
    if (stop)
      failure.samples.push({
        labels: { ...host, layer: stop.id, code: stop.code ?? '', verdict: t.verdict },
        value: 1,
      });
    for (const f of t.layers) {
      if (f.status === 'skip') continue;
      layerStatus.samples.push({
        labels: { ...host, layer: f.id, code: f.code ?? '' },
        value: f.status === 'pass' || f.status === 'warn' ? 1 : 0,
      });
      duration.samples.push({ labels: { ...host, layer: f.id }, value: f.durationMs / 1000 });
    }
    const proxy = t.layers.find((l) => l.id === 'proxy');
    if (proxy && proxy.status !== 'skip')
      for (const x of tlsExpiry(proxy, Date.parse(report.generatedAt)))
        tls.samples.push({ labels: { ...host, address: x.address }, value: x.expires });
    const d = t.layers.find((l) => l.id === 'dns');
    if (d && d.status !== 'skip')
      for (const x of dnsAnswers(d)) dns.samples.push({ labels: { ...host, resolver: x.resolver }, value: x.answers });
  }
  runDuration.samples.push({ labels: {}, value: report.durationMs / 1000 });
  lastRun.samples.push({ labels: {}, value: Date.parse(report.generatedAt) / 1000 });
  return [ok, verdict, failure, layerStatus, duration, tls, dns, runDuration, lastRun];
}

function stopping(t: TargetReport): Finding | null {
  return t.layers.find((l) => l.status === 'fail' || l.status === 'error') ?? null;
}

export function renderPrometheus(report: Report): string {
  const lines: string[] = [];
  for (const f of families(report)) {
    lines.push(`# HELP ${f.name} ${f.help.replace(/\\/g, '\\\\').replace(/\n/g, '\\n')}`, `# TYPE ${f.name} gauge`);
    for (const s of f.samples)
      lines.push(`${f.name}${Object.keys(s.labels).length ? labels(s.labels) : ''} ${num(s.value)}`);
  }
  return `${lines.join('\n')}\n`;
}

export function prometheusReporter(write: (s: string) => void): Reporter {
  return {
    onEnd(report) {
      write(renderPrometheus(report));
    },
  };
}
