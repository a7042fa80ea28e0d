// The README promises a printed fix can be pasted into a shell as is. Proven by pasting: the fix block of the real
// CLI's text output (and of the JUnit body, which CI pages show) runs through bash, with `kubectl` replaced by a
// recorder of its arguments and stdin (it reads stdin only for `-f -`, as kubectl does); the object or patch that
// arrives must be exactly the one in the JSON report. The real kubectl against the real API server is the
// integration lane's round trip (test/integration/roundtrip.test.ts), which applies the same fixes.

import { spawnSync } from 'node:child_process';
import { chmodSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse } from 'yaml';
import { describe, expect, it } from 'vitest';
import { heredocDelimiter, loadYaml, patchArgv, renderFix, renderYaml } from '../../src/fix/render.js';
import type { Fix } from '../../src/fix/fix.js';
import { gwdoctor } from '../helpers/cli.js';
import { FIXTURES, runScenario, scenarios, scenarioDir } from '../helpers/fixtures.js';
import { tempDir } from '../helpers/tmp.js';

await loadYaml(); // the yaml library is loaded on demand (src/fix/render.ts); these tests render fixes directly

interface Pasted {
  calls: { argv: string[]; stdin: string | null }[];
  code: number | null;
  stderr: string;
}

/** Run `text` as a shell would run pasted lines, with kubectl recording what it was given. */
function paste(text: string): Pasted {
  const dir = tempDir('gwdoctor-paste-');
  const rec = join(dir, 'rec');
  spawnSync('mkdir', [rec]);
  const kubectl = join(dir, 'kubectl');
  writeFileSync(
    kubectl,
    `#!/bin/sh
n=$(ls "$REC" | grep -c argv)
printf '%s\\n' "$@" > "$REC/$n.argv"
case " $* " in *" -f - "*) cat > "$REC/$n.stdin" ;; esac
`,
  );
  chmodSync(kubectl, 0o755);
  const script = join(dir, 'pasted.sh');
  writeFileSync(script, `${text}\n`);
  const r = spawnSync('bash', [script], {
    encoding: 'utf8',
    env: { PATH: `${dir}:/usr/bin:/bin`, REC: rec },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const n = readdirSync(rec).filter((f) => f.endsWith('.argv')).length;
  const calls = Array.from({ length: n }, (_, i) => {
    const argv = readFileSync(join(rec, `${i}.argv`), 'utf8')
      .replace(/\n$/, '')
      .split('\n');
    let stdin: string | null = null;
    try {
      stdin = readFileSync(join(rec, `${i}.stdin`), 'utf8');
    } catch {
      stdin = null;
    }
    return { argv, stdin };
  });
  return { calls, code: r.status, stderr: r.stderr };
}

/** What kubectl must receive for the fix: the object (apply) or the patch argv. */
function expectArrives(p: Pasted, fix: Fix): void {
  expect(p.stderr).toBe('');
  expect(p.code).toBe(0);
  expect(p.calls).toHaveLength(1);
  const call = p.calls[0] as Pasted['calls'][number];
  if (fix.kind === 'apply') {
    expect(call.argv).toEqual(['apply', '-f', '-']);
    expect(call.stdin).toBe(renderYaml(fix.object));
    expect(parse(call.stdin as string)).toEqual(fix.object);
  } else if (fix.kind === 'patch') {
    expect(call.argv).toEqual(patchArgv(fix).slice(1));
    expect(JSON.parse(call.argv.at(-1) as string)).toEqual(fix.patch);
  }
}

/** One scenario per (code, fix kind) whose first failing host prints an apply or a patch. */
async function pasteCases(): Promise<{ scenario: string; dir: string; target: string; code: string }[]> {
  const seen = new Set<string>();
  const out: { scenario: string; dir: string; target: string; code: string }[] = [];
  for (const s of scenarios()) {
    for (const c of s.cases) {
      if (c.target.startsWith('internal:') || c.gateway) continue;
      const r = await runScenario(s.dir, c.target);
      const f = r.layers.find((l) => l.status === 'fail' || l.status === 'error');
      if (!f?.fix || (f.fix.kind !== 'apply' && f.fix.kind !== 'patch')) continue;
      const key = `${f.code}/${f.fix.kind}`;
      if (seen.has(key)) continue;
      seen.add(key);
      out.push({ scenario: s.name, dir: s.dir, target: c.target, code: key });
    }
  }
  return out;
}

const cases = await pasteCases();

describe('a printed fix pasted into bash arrives intact', () => {
  it('covers apply and patch fixes', () => {
    expect(cases.some((c) => c.code.endsWith('/apply'))).toBe(true);
    expect(cases.some((c) => c.code.endsWith('/patch'))).toBe(true);
  });

  it.each(cases)('text output: $scenario $target ($code)', ({ dir, target }) => {
    const jsonFile = join(tempDir('gwdoctor-paste-json-'), 'r.json');
    const r = gwdoctor(['--manifests', dir, '--offline', '-o', 'text', '-o', `json=${jsonFile}`, target]);
    expect(r.code).toBe(1);
    const report = JSON.parse(readFileSync(jsonFile, 'utf8'));
    const fix = report.targets[0].layers.find((l: { status: string }) => l.status === 'fail' || l.status === 'error')
      .fix as Fix;
    const lines = r.stdout.split('\n');
    const start = lines.findIndex((l) => l.startsWith('  fix: '));
    const end = lines.findIndex((l, i) => i > start && l.startsWith('  see https://'));
    expect(start).toBeGreaterThan(0);
    expect(end).toBeGreaterThan(start);
    // What a person selects: every line between "fix:" and "see".
    expectArrives(paste(lines.slice(start + 1, end).join('\n')), fix);
  });

  it('JUnit body (what CI pages show): the same fix, pasted from the unescaped failure text', () => {
    const c = cases.find((x) => x.code.endsWith('/apply')) as (typeof cases)[number];
    const jsonFile = join(tempDir('gwdoctor-paste-json-'), 'r.json');
    const r = gwdoctor(['--manifests', c.dir, '--offline', '-o', 'junit', '-o', `json=${jsonFile}`, c.target]);
    const fix = JSON.parse(readFileSync(jsonFile, 'utf8')).targets[0].layers.find(
      (l: { status: string }) => l.status === 'fail',
    ).fix as Fix;
    const body = (/<failure[^>]*>([\s\S]*?)<\/failure>/.exec(r.stdout)?.[1] ?? '')
      .replace(/&lt;/g, '<')
      .replace(/&gt;/g, '>')
      .replace(/&quot;/g, '"')
      .replace(/&apos;/g, "'")
      .replace(/&amp;/g, '&');
    const lines = body.split('\n');
    const start = lines.findIndex((l) => l.startsWith('fix: '));
    const end = lines.findIndex((l, i) => i > start && l.startsWith('see https://'));
    expect(start).toBeGreaterThanOrEqual(0);
    expectArrives(paste(lines.slice(start + 1, end < 0 ? undefined : end).join('\n')), fix);
  });

  it('gwdoctor diff text: the fix of a newly failing host, pasted', () => {
    const jsonFile = join(tempDir('gwdoctor-paste-json-'), 'r.json');
    gwdoctor(['--manifests', scenarioDir('grant-missing'), '--offline', '-o', `json=${jsonFile}`, 'api.example.com']);
    const fix = JSON.parse(readFileSync(jsonFile, 'utf8')).targets[0].layers.find(
      (l: { status: string }) => l.status === 'fail',
    ).fix as Fix;
    const r = gwdoctor([
      'diff',
      '--base',
      join(FIXTURES, 'seed-healthy'),
      '--head',
      scenarioDir('grant-missing'),
      'api.example.com',
    ]);
    expect(r.code).toBe(1);
    const lines = r.stdout.split('\n');
    const start = lines.findIndex((l) => l.startsWith('      fix: '));
    const end = lines.findIndex((l, i) => i > start && l.startsWith('      see https://'));
    expect(start).toBeGreaterThan(0);
    expect(end).toBeGreaterThan(start);
    expectArrives(paste(lines.slice(start + 1, end).join('\n')), fix);
  });

  it('a here-document delimiter never equals a line of the YAML it closes', () => {
    expect(heredocDelimiter('a: 1\n')).toBe('EOF');
    expect(heredocDelimiter('EOF\nEOF2\nx\n')).toBe('EOF3');
    const fix: Fix = {
      kind: 'apply',
      explain: '',
      object: { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'x' }, data: { a: 'line\n\nEOF\n' } },
    };
    expectArrives(paste(renderFix(fix)), fix);
  });
});
