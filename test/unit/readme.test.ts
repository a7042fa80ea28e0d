// The README is the reference for every reason code: each code emitted has a heading that its hint links to.

import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { CODES, hintFor, type Code } from '../../src/codes.js';
import { FLAGS } from '../../src/options.js';

const readme = readFileSync(join(import.meta.dirname, '..', '..', 'README.md'), 'utf8');
const headings = new Set(
  [...readme.matchAll(/^#{2,4} (.+)$/gm)].map((m) =>
    m[1]!
      .trim()
      .toLowerCase()
      .replace(/[^a-z0-9 -]/g, '')
      .replace(/ /g, '-'),
  ),
);

describe('README.md', () => {
  it.each(Object.keys(CODES) as Code[])('has a heading for %s, which its hint links to', (code) => {
    expect(headings.has(code.toLowerCase())).toBe(true);
    expect(hintFor(code)).toMatch(new RegExp(`#${code.toLowerCase()}$`));
  });
  it.each(FLAGS.map((f) => f.name))('documents --%s', (flag) => {
    expect(readme).toContain(`--${flag}`);
  });
  it('documents every exit code', () => {
    for (const c of ['0', '1', '2', '3', '70']) expect(readme).toMatch(new RegExp(`\\| \`${c}\` \\|`));
  });
});
