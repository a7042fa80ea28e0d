// Fuzz: hostile text in names, status messages and file names, through the real pipeline into every output format.
// A manifest in a pull request (gwdoctor diff) or a controller's status message can hold any character. Invariants:
//   * text, github, html, sarif messages, diff text: no line of output begins (after leading blanks, as the GitHub Actions
//     runner reads it) with `::` or `##[` unless gwdoctor wrote that line as an annotation, and no raw control, line
//     separator or XML-invalid character reaches the output;
//   * junit: well-formed and valid against junit-10.xsd, checked by the real xmllint;
//   * prometheus: accepted by the real `promtool check metrics`;
//   * json: parses, and the report still validates against the schema.

import fc from 'fast-check';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { LAYERS } from '../../../checks/index.js';
import { loadManifests, ManifestCluster } from '../../../src/cluster/manifests.js';
import type { K8sObject } from '../../../src/cluster/objects.js';
import { computeDiff } from '../../../src/diff.js';
import { diffAnnotations, renderDiffText } from '../../../src/report/diff.js';
import { runTarget } from '../../../src/pipeline.js';
import { annotations, formatCommand } from '../../../src/report/github.js';
import { renderHtml } from '../../../src/report/html.js';
import { renderJunit } from '../../../src/report/junit.js';
import { renderPrometheus } from '../../../src/report/prometheus.js';
import { renderSarif } from '../../../src/report/sarif.js';
import { loadYaml } from '../../../src/fix/render.js';
import { textReporter } from '../../../src/report/text.js';
import { parseTarget } from '../../../src/target.js';
import type { Report } from '../../../src/types.js';
import { validateReport } from '../../helpers/cli.js';
import { consumer, runTool, SCHEMAS } from '../../helpers/consumers.js';
import { FIXTURES, offlineEnv, scenarios } from '../../helpers/fixtures.js';
import { budget, timeoutFor } from './budget.js';

await loadYaml(); // the yaml library is loaded on demand (src/fix/render.ts); these tests render fixes directly

const SCENARIOS = scenarios()
  .filter((s) => s.cases.some((c) => c.verdict === 'fail'))
  .map((s) => ({
    name: s.name,
    objects: loadManifests([s.dir]),
    targets: s.cases.map((c) => c.target).filter((t) => !t.startsWith('internal:')),
  }));

/** Pieces of hostile text: line breaks of every kind, workflow commands, XML-invalid code points, terminal escapes. */
const piece = fc.constantFrom(
  '\n',
  '\r',
  '\r\n',
  '\n::error file=x,line=1::forged',
  '\n::stop-commands::tok',
  '\n  ::warning ::w',
  '\n##[error]old-style',
  '\u2028',
  '\u2029',
  '\u0085',
  '\u000b',
  '\u000c',
  '\ufffe',
  '\uffff',
  '\ud800',
  '\udfff',
  '\u0000',
  '\u0001',
  '\u001b[31mred\u001b[0m',
  '\u009b31m',
  '\u007f',
  ']]>',
  '<x>',
  '&amp;',
  '"',
  "'",
  '%0A',
  '\\n',
  'a',
);
const hostile = fc.array(piece, { minLength: 1, maxLength: 6 }).map((p) => p.join(''));

type Json = null | boolean | number | string | Json[] | { [k: string]: Json };

/** Every string equal to `from` (a name and every reference to it) becomes `to`; status messages become `msg`. */
function rename(objects: K8sObject[], from: string, to: string, msg: string | null): K8sObject[] {
  const walk = (x: Json, key: string): Json => {
    if (Array.isArray(x)) return x.map((y) => walk(y, key));
    if (x !== null && typeof x === 'object')
      return Object.fromEntries(Object.entries(x).map(([k, v]) => [k, walk(v, k)]));
    if (typeof x === 'string' && key === 'message' && msg !== null) return `${x}${msg}`;
    return x === from ? to : x;
  };
  return objects.map((o) => walk(o as unknown as Json, '') as unknown as K8sObject);
}

const RAW =
  /[\u0000-\u0008\u000b-\u001f\u007f-\u009f\u2028\u2029\ufffe\uffff]|[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/;

/** Lines a GitHub Actions runner would take as a workflow command (it trims leading blanks first). */
const commandLines = (text: string) => text.split('\n').filter((l) => /^\s*(?:::|##\[)/.test(l));

function expectSafeText(text: string, what: string, annotationLines: string[] = []): void {
  expect(
    commandLines(text).filter((l) => !annotationLines.includes(l)),
    `${what}: a line a CI runner reads as a command`,
  ).toEqual([]);
  const raw = RAW.exec(text);
  expect(
    raw
      ? `U+${raw[0].charCodeAt(0).toString(16)} in ...${text.slice(Math.max(0, raw.index - 80), raw.index + 20)}...`
      : undefined,
    `${what}: a raw control or XML-invalid character`,
  ).toBeUndefined();
}

const xmllint = consumer('xmllint', 'libxml2-utils');
const promtool = consumer('promtool', 'prometheus');
const dir = mkdtempSync(join(tmpdir(), 'gwd-fuzz-out-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

async function check(pick: number, which: number, name: string, msg: string | null): Promise<void> {
  const s = SCENARIOS[pick % SCENARIOS.length]!;
  const names = [...new Set(s.objects.map((o) => o.metadata.name))];
  const from = names[which % names.length]!;
  const objs = rename(s.objects, from, `${from}${name}`, msg);
  const cluster = new ManifestCluster(objs, [`${s.name}${name}`]);
  const targets = [];
  for (const t of s.targets)
    targets.push(await runTarget(LAYERS, parseTarget(t), offlineEnv(cluster), { until: null, intervalMs: 0 }));
  const report: Report = {
    schemaVersion: 'gwdoctor.report/v3',
    generatedAt: '2026-12-07T12:00:00.000Z',
    durationMs: 3,
    source: { mode: 'manifests', manifests: [`fixtures/${s.name}${name}`], offline: true },
    targets,
  };

  let text = '';
  textReporter({ color: false, verbose: true }, (x) => (text += x)).onEnd(report);
  expectSafeText(text, 'text');
  let terse = '';
  textReporter({ color: false, verbose: false }, (x) => (terse += x)).onEnd(report);
  expectSafeText(terse, 'text (not verbose)');
  const gh = annotations(report).map(formatCommand);
  expect(gh.every((l) => !l.includes('\n') && !l.includes('\r'))).toBe(true);
  expectSafeText(gh.join('\n'), 'github', gh);
  expectSafeText(renderHtml(report), 'html');
  // JSON (sarif, json) carries the strings as they are, escaped by JSON: no line break can reach the log raw.
  expect(commandLines(JSON.stringify(renderSarif(report), null, 2))).toEqual([]);
  for (const r of (
    renderSarif(report) as { runs: { results: { message: { text: string; markdown: string } }[] }[] }
  ).runs.flatMap((x) => x.results)) {
    expectSafeText(r.message.text, 'sarif message');
    expectSafeText(r.message.markdown, 'sarif markdown');
  }
  const json = JSON.parse(JSON.stringify(report)) as Report;
  expect(validateReport(json), JSON.stringify(validateReport.errors)).toBe(true);

  const junit = renderJunit(report);
  expect(RAW.exec(junit)?.[0]).toBeUndefined();
  if (xmllint) {
    const f = join(dir, 'junit.xml');
    writeFileSync(f, junit);
    const r = runTool(xmllint, ['--noout', '--schema', join(SCHEMAS, 'junit-10.xsd'), f]);
    expect(r.code, r.stderr).toBe(0);
  }
  if (promtool) {
    const r = runTool(promtool, ['check', 'metrics'], renderPrometheus(report));
    expect(r.code, r.stderr + r.stdout).toBe(0);
  }
}

/** gwdoctor diff of the healthy seed against the hostile scenario, its file named with the hostile text too. */
async function checkDiff(pick: number, which: number, name: string, msg: string | null): Promise<void> {
  const s = SCENARIOS[pick % SCENARIOS.length]!;
  const names = [...new Set(s.objects.map((o) => o.metadata.name))];
  const from = names[which % names.length]!;
  const head = mkdtempSync(join(dir, 'head-'));
  mkdirSync(join(head, `d${name.replace(/[\u0000/]/g, '')}`));
  writeFileSync(
    join(head, `d${name.replace(/[\u0000/]/g, '')}`, `c${name.replace(/[\u0000/]/g, '')}.json`),
    JSON.stringify({ apiVersion: 'v1', kind: 'List', items: rename(s.objects, from, `${from}${name}`, msg) }),
  );
  const d = await computeDiff([join(FIXTURES, 'seed-healthy')], [head], s.targets, null);
  const ann = (await diffAnnotations(d)).split('\n').filter((l) => l !== '');
  expectSafeText(renderDiffText(d), 'diff text');
  expectSafeText(ann.join('\n'), 'diff annotations', ann);
}

describe('hostile text in names and status messages, in every output format', () => {
  // The red team's inputs (issue 20): a name that forges annotations and switches gwdoctor's own off, and one that
  // made the JUnit file ill-formed.
  const grantMissing = SCENARIOS.findIndex((s) => s.name === 'grant-missing');
  const apiIndex = (s: (typeof SCENARIOS)[number]) =>
    [...new Set(s.objects.map((o) => o.metadata.name))].indexOf('example-api');
  it.each([
    ['workflow commands after a newline', '\n::error file=x::forged\n::stop-commands::tok'],
    ['U+FFFE and U+FFFF', '\ufffe\uffff'],
  ])('%s in a route name: every format, and diff', async (_, evil) => {
    const s = SCENARIOS[grantMissing]!;
    await check(grantMissing, apiIndex(s), evil, evil);
    await checkDiff(grantMissing, apiIndex(s), evil, evil);
  });

  const CASES = 60;
  it(
    `${CASES} scenarios with a hostile name (and status messages): text, github, html, sarif, json, junit (xmllint), prometheus (promtool)`,
    async () => {
      await fc.assert(
        fc.asyncProperty(fc.nat(), fc.nat(), hostile, fc.option(hostile), (pick, which, name, msg) =>
          check(pick, which, name, msg),
        ),
        budget(CASES),
      );
    },
    timeoutFor(CASES, 400),
  );

  it(
    `${CASES / 2} diffs against a head with hostile names, messages and file names: text and annotations`,
    async () => {
      await fc.assert(
        fc.asyncProperty(fc.nat(), fc.nat(), hostile, fc.option(hostile), (pick, which, name, msg) =>
          checkDiff(pick, which, name, msg),
        ),
        budget(CASES / 2),
      );
    },
    timeoutFor(CASES / 2, 1500),
  );
});
