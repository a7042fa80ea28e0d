// GitHub Actions annotations: under GITHUB_ACTIONS=true the text output is followed by workflow commands, encoded
// exactly as @actions/core (the toolkit actions use) encodes them, capped to what GitHub shows per step.

import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { parse } from 'yaml';
import * as core from '@actions/core';
import { gwdoctor } from '../helpers/cli.js';
import { scenarioReport } from '../helpers/reports.js';
import { MAX_PER_LEVEL, annotations, formatCommand, type Annotation } from '../../src/report/github.js';
import { loadYaml } from '../../src/fix/render.js';
import type { Finding, Report } from '../../src/types.js';
import { scenarioDir, scenarioPath } from '../helpers/fixtures.js';
import { tempDir } from '../helpers/tmp.js';

await loadYaml(); // the yaml library is loaded on demand (src/fix/render.ts); these tests render fixes directly

afterEach(() => vi.restoreAllMocks());

/** What @actions/core prints for the same annotation. */
function viaToolkit(a: Annotation): string {
  let printed = '';
  vi.spyOn(process.stdout, 'write').mockImplementation((s) => {
    printed += String(s);
    return true;
  });
  core[a.level](a.message, {
    title: a.title,
    ...(a.file ? { file: a.file } : {}),
    ...(a.line ? { startLine: a.line } : {}),
  });
  vi.restoreAllMocks();
  return printed.replace(/\n$/, '');
}

describe('under GitHub Actions (GITHUB_ACTIONS=true)', () => {
  it('prints the text report, then an ::error annotation per failing layer with the fix', () => {
    const r = gwdoctor(
      ['--manifests', scenarioPath('grant-missing'), '--offline', 'api.example.com', 'worker.example.com'],
      { GITHUB_ACTIONS: 'true' },
    );
    expect(r.code).toBe(1);
    const lines = r.stdout.trimEnd().split('\n');
    const first = lines.findIndex((l) => l.startsWith('::'));
    expect(lines.slice(0, first).join('\n')).toMatch(/✖ grant +no ReferenceGrant/);
    const commands = lines.slice(first);
    expect(commands).toHaveLength(1);
    // Located at the manifest object the finding names (the HTTPRoute), so the pull-request view marks that line.
    expect(commands[0]).toMatch(
      /^::error title=gwdoctor%3A api.example.com\/ grant ReferenceGrantMissing,file=\.scenarios\/grant-missing\/cluster.yaml,line=\d+::api.example.com\/ fails at grant: no ReferenceGrant/,
    );
    expect(commands[0]).toMatch(
      /%0Afix: [^%]*example-api.*%0Akind: ReferenceGrant%0A.*%0Asee https:\/\/.*#referencegrantmissing$/,
    );
  });

  it('adds no annotation to a JSON report on stdout', () => {
    const r = gwdoctor(['--manifests', scenarioPath('grant-missing'), '--offline', '-o', 'json', 'api.example.com'], {
      GITHUB_ACTIONS: 'true',
    });
    expect(JSON.parse(r.stdout).targets[0].verdict).toBe('fail');
  });

  it('prints no annotation outside GitHub Actions', () => {
    const r = gwdoctor(['--manifests', scenarioPath('grant-missing'), '--offline', 'api.example.com']);
    expect(r.stdout).not.toMatch(/^::/m);
  });
});

describe('annotations', () => {
  it('are encoded exactly as @actions/core encodes them, also for %, :, commas and newlines in the text', async () => {
    const report = await scenarioReport([
      ['grant-missing', 'api.example.com'],
      ['no-ready-endpoints', 'api.example.com'],
    ]);
    const f = report.targets[0]!.layers[4] as Finding;
    f.summary = 'odd: 100% sure, really\r\nsecond line ::error::injected';
    f.evidence = [
      {
        ...f.evidence[0]!,
        ...{
          object: { apiVersion: 'v1', kind: 'Namespace', name: 'x' },
          origin: { file: 'deploy/a,b:c.yaml', line: 7 },
        },
      },
    ];
    const all = annotations(report);
    expect(all.length).toBeGreaterThanOrEqual(2);
    expect(all[0]).toMatchObject({ level: 'error', file: 'deploy/a,b:c.yaml', line: 7 });
    for (const a of all) expect(formatCommand(a)).toBe(viaToolkit(a));
    // one physical line per annotation: an injected "::" cannot start a command of its own
    expect(formatCommand(all[0]!).split('\n')).toHaveLength(1);
  });

  it(`are capped at ${MAX_PER_LEVEL} errors, with one notice counting the rest`, async () => {
    const one = await scenarioReport([['grant-missing', 'api.example.com']]);
    const report: Report = {
      ...one,
      targets: Array.from({ length: MAX_PER_LEVEL + 3 }, (_, i) => ({ ...one.targets[0]!, host: `h${i}.example.com` })),
    };
    const all = annotations(report);
    expect(all.filter((a) => a.level === 'error')).toHaveLength(MAX_PER_LEVEL);
    expect(all.at(-1)).toMatchObject({ level: 'notice' });
    expect(all.at(-1)!.message).toMatch(/^3 more findings are not annotated/);
  });
});

// Issue 20: names from a pull request's manifests reached the log as lines of their own (`::error ...`,
// `::stop-commands::...`), forging annotations and switching gwdoctor's own off. The whole CLI, stdout and stderr,
// as a GitHub runner reads them: every line that starts with `::` (after blanks) is one gwdoctor wrote.
describe('hostile names under GitHub Actions: only gwdoctor writes workflow commands', () => {
  const EVIL = '\n::error file=x::forged\n::stop-commands::tok\r\u2028';
  const dirs = (() => {
    const list = parse(readFileSync(join(scenarioDir('grant-missing'), 'cluster.yaml'), 'utf8')) as {
      items: Record<string, unknown>[];
    };
    const walk = (x: unknown): unknown =>
      Array.isArray(x)
        ? x.map(walk)
        : x !== null && typeof x === 'object'
          ? Object.fromEntries(Object.entries(x).map(([k, v]) => [k, walk(v)]))
          : x === 'example-api'
            ? `example-api${EVIL}`
            : x;
    const items = walk(list.items) as { kind: string; spec?: { hostnames?: string[] } }[];
    for (const o of items)
      if (o.kind === 'HTTPRoute' && o.spec?.hostnames) o.spec.hostnames.push(`*.wild${EVIL}.example.com`);
    const head = tempDir('gwd-gh-evil-');
    writeFileSync(
      join(head, `cluster${EVIL.replace(/[\r\n]/g, '_')}.json`),
      JSON.stringify({ apiVersion: 'v1', kind: 'List', items }),
    );
    return { head };
  })();
  const ours = /^::(error|warning|notice) title=gwdoctor/;
  const forged = (out: string) => out.split('\n').filter((l) => /^\s*(::|##\[)/.test(l) && !ours.test(l));

  it('gwdoctor --all (text, then annotations; stderr notes)', () => {
    const r = gwdoctor(['--manifests', dirs.head, '--offline', '--all'], { GITHUB_ACTIONS: 'true' });
    expect(r.code).toBe(1);
    expect(r.stdout).toMatch(/^::error title=gwdoctor/m);
    expect(forged(r.stdout)).toEqual([]);
    expect(forged(r.stderr)).toEqual([]);
  });

  it('gwdoctor diff (text, then annotations)', () => {
    const r = gwdoctor(['diff', '--base', 'fixtures/seed-healthy', '--head', dirs.head, 'api.example.com'], {
      GITHUB_ACTIONS: 'true',
    });
    expect(r.code).toBe(1);
    expect(r.stdout).toMatch(/^::error title=gwdoctor diff/m);
    expect(forged(r.stdout)).toEqual([]);
    expect(forged(r.stderr)).toEqual([]);
  });
});
