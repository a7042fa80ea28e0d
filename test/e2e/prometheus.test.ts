// -o prometheus as Prometheus reads it: `promtool check metrics` (Debian's prometheus package) accepts it with no
// lint problem, and the samples say per host the verdict, the failed layer and code, durations, TLS and DNS facts.

import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { gwdoctor } from '../helpers/cli.js';
import { consumer, runTool } from '../helpers/consumers.js';
import { scenarioReport, withNetworkLayers } from '../helpers/reports.js';
import { renderPrometheus } from '../../src/report/prometheus.js';
import { scenarioPath } from '../helpers/fixtures.js';
import { tempDir } from '../helpers/tmp.js';

const promtool = consumer('promtool', 'prometheus');

function check(text: string) {
  return runTool(promtool as string, ['check', 'metrics'], text);
}

/** name{labels} -> value, for the assertions (promtool has already judged the syntax). */
function samples(text: string): Map<string, number> {
  const m = new Map<string, number>();
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const i = line.lastIndexOf(' ');
    m.set(line.slice(0, i), Number(line.slice(i + 1)));
  }
  return m;
}

describe.skipIf(!promtool)('prometheus output (checked by promtool)', () => {
  it('gives per host an ok gauge, the verdict, and the failing layer and code as labels; promtool finds no problem', () => {
    const file = join(tempDir('gwd-prom-'), 'gwdoctor.prom');
    const r = gwdoctor([
      '--manifests',
      scenarioPath('grant-missing'),
      '--offline',
      '-o',
      `prometheus=${file}`,
      'api.example.com',
      'worker.example.com',
    ]);
    expect(r.code).toBe(1);
    const text = readFileSync(file, 'utf8');
    const c = check(text);
    expect(c.stdout + c.stderr).toBe('');
    expect(c.code).toBe(0);
    const s = samples(text);
    expect(s.get('gwdoctor_host_ok{host="api.example.com",path="/"}')).toBe(0);
    expect(s.get('gwdoctor_host_ok{host="worker.example.com",path="/"}')).toBe(1);
    expect(s.get('gwdoctor_host_verdict{host="api.example.com",path="/",verdict="fail"}')).toBe(1);
    expect(s.get('gwdoctor_host_verdict{host="api.example.com",path="/",verdict="pass"}')).toBe(0);
    expect(
      s.get(
        'gwdoctor_host_failure{host="api.example.com",path="/",layer="grant",code="ReferenceGrantMissing",verdict="fail"}',
      ),
    ).toBe(1);
    expect([...s.keys()].filter((k) => k.startsWith('gwdoctor_host_failure{host="worker'))).toEqual([]);
    expect(s.has('gwdoctor_layer_duration_seconds{host="api.example.com",path="/",layer="grant"}')).toBe(true);
    expect(s.has('gwdoctor_layer_duration_seconds{host="api.example.com",path="/",layer="endpoints"}')).toBe(false); // skipped
    const ts = s.get('gwdoctor_last_run_timestamp_seconds')!;
    expect(Math.abs(ts - Date.now() / 1000)).toBeLessThan(120);
  });

  it('reports the TLS certificate expiry per proxy address and DNS answers per resolver when the network layers ran', async () => {
    const report = await scenarioReport([['seed-healthy', 'api.example.com']]);
    report.targets[0] = withNetworkLayers(report.targets[0]!);
    const text = renderPrometheus(report);
    expect(check(text).code).toBe(0);
    const s = samples(text);
    const expiry = s.get(
      'gwdoctor_tls_certificate_expiry_timestamp_seconds{host="api.example.com",path="/",address="192.0.2.10:443"}',
    )!;
    expect(expiry).toBe(Date.parse('2027-01-01T00:00:00.000Z') / 1000);
    expect(Math.round((expiry - Date.parse(report.generatedAt) / 1000) / 86_400)).toBe(35); // days left, as the PromQL in the README computes it
    expect(s.get('gwdoctor_dns_answers{host="api.example.com",path="/",resolver="system resolver"}')).toBe(2);
    expect(s.get('gwdoctor_layer_duration_seconds{host="api.example.com",path="/",layer="proxy"}')).toBe(0.017);
  });

  it('escapes label values, so a path with quotes and backslashes stays one valid sample', async () => {
    const report = await scenarioReport([['seed-healthy', 'api.example.com']]);
    report.targets[0]!.path = '/a"b\\c';
    const text = renderPrometheus(report);
    expect(check(text).code).toBe(0);
    expect(text).toContain('gwdoctor_host_ok{host="api.example.com",path="/a\\"b\\\\c"} 1');
  });

  it('is checked by a promtool that does reject a malformed sample', () => {
    expect(check('# TYPE x gauge\nx{host="a} 1\n').code).not.toBe(0);
  });
});
