// Findings carry their facts as data (src/types.ts Facts; evidence references objects structurally). Summary,
// evidence ref/detail and other words gwdoctor writes for people are rendered, never parsed: a regex or a
// startsWith over them silently returns nothing the day the wording changes. This test greps src/, checks/ and test/
// for such reads and fails on any.

import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { expect, it } from 'vitest';

const root = join(import.meta.dirname, '..', '..');
/** Fields that hold the prose of findings (error messages and controllers' condition messages are other matters). */
const PROSE = String.raw`(?:summary|detail|\bref\b|\.why|\banswer\b|said\([^)]*\))`;
const STRING_OPS =
  'startsWith|endsWith|match|matchAll|replace|replaceAll|split|indexOf|lastIndexOf|search|slice|substring|includes';
const READS = [
  // x.summary.startsWith(...), e.detail?.match(...), (l.summary ?? '').replace(...)
  new RegExp(String.raw`${PROSE}\)?(?:\s*\?\?\s*''\))?\??\.(?:${STRING_OPS})\(`),
  // /re/.exec(x.summary), /re/.test(e.ref), re.exec(said('route'))
  new RegExp(String.raw`\.(?:exec|test)\([^;]*${PROSE}`),
];

function files(dir: string): string[] {
  return (readdirSync(join(root, dir), { recursive: true }) as string[])
    .filter((f) => f.endsWith('.ts'))
    .map((f) => join(dir, f));
}

export function proseReads(text: string): string[] {
  return text
    .split('\n')
    .flatMap((line, i) =>
      READS.some((r) => r.test(line)) && !/^\s*(\/\/|\*)/.test(line) ? [`${i + 1}: ${line.trim()}`] : [],
    );
}

it('finds a prose read when there is one (the grep can fail)', () => {
  expect(proseReads(`const ok = !l.summary.startsWith('not asked');`)).toHaveLength(1);
  expect(proseReads(`const m = /judged: (.*)$/.exec(e.detail);`)).toHaveLength(1);
  expect(proseReads(`const gw = /^(\\S+) listener/.exec(said('listener'))?.[1];`)).toHaveLength(1);
  expect(proseReads(`if (!e.ref.startsWith('TLS ')) continue;`)).toHaveLength(1);
  expect(proseReads(`const m = /^([A-Z][A-Za-z]+) (\\S+)/.exec(ref);`)).toHaveLength(1);
  expect(proseReads(`expect(f.summary).toContain('no ready endpoints');`)).toEqual([]);
});

it.each(['src', 'checks', 'test'])("no code in %s/ reads gwdoctor's own prose back", (dir) => {
  const hits = files(dir)
    .filter((f) => f !== join('test', 'unit', 'no-prose-reads.test.ts'))
    .flatMap((f) => proseReads(readFileSync(join(root, f), 'utf8')).map((h) => `${f}:${h}`));
  expect(hits).toEqual([]);
});
