// -o junit: JUnit XML for CI test tabs. A testsuite per target, a testcase per layer (one per layer): fail gives
// <failure>, error gives <error>, skip gives <skipped>; the body holds the finding, its evidence and the fix.
// Validated in tests against the Jenkins xUnit junit-10.xsd with xmllint.

import type { Reporter } from '../types.js';
import type { Finding, Report, TargetReport } from '../types.js';
import { escapeXml, escapeXmlAttr, findingText } from './common.js';

/** Seconds with at most 3 decimals (the schema's SUREFIRE_TIME). */
function seconds(ms: number): string {
  return (Math.max(0, ms) / 1000).toFixed(3);
}

function attrs(a: Record<string, string | number>): string {
  return Object.entries(a)
    .map(([k, v]) => ` ${k}="${escapeXmlAttr(String(v))}"`)
    .join('');
}

function testcase(suite: string, f: Finding): string {
  const head = `    <testcase${attrs({ name: f.id, classname: suite, time: seconds(f.durationMs) })}`;
  const body = escapeXml(findingText(f));
  const message = f.summary;
  switch (f.status) {
    case 'fail':
      return `${head}>\n      <failure${attrs({ type: f.code ?? 'fail', message })}>${body}</failure>\n    </testcase>`;
    case 'error':
      return `${head}>\n      <error${attrs({ type: f.code ?? 'error', message })}>${body}</error>\n    </testcase>`;
    case 'skip':
      return `${head}>\n      <skipped${attrs({ message })}/>\n    </testcase>`;
    default:
      // pass and warn are passing testcases; the finding goes to system-out (a warning stays visible).
      return `${head}>\n      <system-out>${body}</system-out>\n    </testcase>`;
  }
}

function testsuite(report: Report, t: TargetReport): string {
  const name = `${t.host}${t.path}`;
  const count = (s: Finding['status']) => t.layers.filter((l) => l.status === s).length;
  const time = t.layers.reduce((n, l) => n + l.durationMs, 0);
  const props = [
    ['input', t.input],
    ['verdict', t.verdict],
    ['failedLayer', t.failedLayer ?? ''],
    ['attempts', String(t.attempts)],
  ];
  return [
    `  <testsuite${attrs({ name, tests: t.layers.length, failures: count('fail'), errors: count('error'), skipped: count('skip'), time: seconds(time), timestamp: report.generatedAt.replace(/\.\d+Z$/, '').replace(/Z$/, '') })}>`,
    '    <properties>',
    ...props.map(([k, v]) => `      <property${attrs({ name: k as string, value: v as string })}/>`),
    '    </properties>',
    ...t.layers.map((f) => testcase(name, f)),
    '  </testsuite>',
  ].join('\n');
}

export function renderJunit(report: Report): string {
  const all = report.targets.flatMap((t) => t.layers);
  const n = (s: Finding['status']) => all.filter((l) => l.status === s).length;
  return [
    '<?xml version="1.0" encoding="UTF-8"?>',
    `<testsuites${attrs({ name: 'gwdoctor', tests: all.length, failures: n('fail'), errors: n('error'), time: seconds(report.durationMs) })}>`,
    ...report.targets.map((t) => testsuite(report, t)),
    '</testsuites>',
    '',
  ].join('\n');
}

export function junitReporter(write: (s: string) => void): Reporter {
  return {
    onEnd(report) {
      write(renderJunit(report));
    },
  };
}
