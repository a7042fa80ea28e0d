// A fix is pasted into a shell as is (README "Fixes"): every argument, whatever it holds, reaches kubectl unchanged
// through a real POSIX shell, and never spans lines (a line of a name's own could be a CI workflow command).

import { spawnSync } from 'node:child_process';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { loadYaml, renderYaml, shellQuote } from '../../src/fix/render.js';

await loadYaml(); // the yaml library is loaded on demand (src/fix/render.ts); these tests render fixes directly

/** What /bin/sh passes to a command for this quoted word (printf writes each argument between NULs). */
function throughSh(word: string): string {
  const r = spawnSync('/bin/sh', ['-c', `printf '%s\\0' ${word}`], { encoding: 'buffer' });
  expect(r.status, r.stderr.toString()).toBe(0);
  return r.stdout.toString('utf8').replace(/\0$/, '');
}

const text = fc.oneof(
  fc.string({ maxLength: 20 }),
  fc
    .array(
      fc.constantFrom(
        'a',
        ' ',
        "'",
        '"',
        '\\',
        '\\n',
        '\n',
        '\r',
        '\t',
        '\u2028',
        '\u0085',
        '\u0001',
        '$(id)',
        '`id`',
        '%b',
        '%s',
        '::error x::y',
        'ä',
      ),
      { maxLength: 8 },
    )
    .map((p) => p.join('')),
);

describe('fix rendering', () => {
  it('shellQuote: /bin/sh gives the argument back unchanged, and the quoted word is one line', () => {
    fc.assert(
      fc.property(
        text.filter((s) => !s.includes('\0') && !/\n$/.test(s) && !/[\ud800-\udfff]/.test(s)),
        (s) => {
          const q = shellQuote(s);
          expect(q).not.toMatch(/[\n\r\u2028\u2029\u0085]/);
          expect(throughSh(q)).toBe(s);
        },
      ),
      { numRuns: 150, seed: 20 },
    );
  });

  it('renderYaml: a string with a line break stays on its line, and the YAML reads back the same object', () => {
    const o = {
      metadata: { name: 'example-api\n::error file=x::forged\n::stop-commands::tok', namespace: 'a\u2028b' },
      data: { crt: '-----BEGIN\nabc\n-----END\n' },
    };
    const y = renderYaml(o);
    expect(y.split('\n').filter((l) => /^\s*::/.test(l))).toEqual([]);
    expect(parse(y)).toEqual(o);
  });
});
