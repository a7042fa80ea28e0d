// RegularExpression matches use RE2 (Envoy's engine): linear time, RE2 syntax, full match.

import { describe, expect, it } from 'vitest';
import { compileRe2, pathMatches, re2FullMatch } from '../../../src/gatewayapi/matching.js';
import { loadRe2 } from '../../../src/gatewayapi/matching.js';

await loadRe2();

describe('RegularExpression matching is RE2, as in Envoy', () => {
  // No timing assertion (speed is measured in bench/): JavaScript's RegExp would backtrack exponentially on these and
  // never finish, so the test timeout is the bound.
  it('the stalling pattern /(a+)+b on a long path finishes (JavaScript RegExp backtracks exponentially)', () => {
    expect(pathMatches('RegularExpression', '/(a+)+b', `/${'a'.repeat(40)}!`)).toBe(false);
    expect(pathMatches('RegularExpression', '/(a+)+b', `/${'a'.repeat(100_000)}`)).toBe(false);
    expect(pathMatches('RegularExpression', '/(a+)+b', `/${'a'.repeat(10_000)}b`)).toBe(true);
    expect(re2FullMatch('(x+x+)+y', 'x'.repeat(50_000))).toBe(false);
  });

  it.each([
    ['/v[0-9]+/.*', '/v2/users', true],
    ['/v[0-9]+', '/v2/users', false], // a full match, not a search
    ['/api|/health', '/health', true], // the alternation is anchored as a whole
    ['/(?i)ADMIN', '/admin', true], // RE2 flags
    ['/\\d+', '/42', true],
    ['/\\pL+', '/größe', true], // Unicode classes
  ])('%s on %s: %s', (re, path, want) => {
    expect(pathMatches('RegularExpression', re, path)).toBe(want);
  });

  it.each([
    ['(a)\\1', 'backreference'],
    ['/(?=admin)', 'lookahead'],
    ['/(?!admin).*', 'negative lookahead (istio/istio#21717)'],
    ['/(?<=a)b', 'lookbehind'],
    ['[invalid', 'unclosed class'],
    ['*.example.com', 'repetition without argument'],
  ])('RE2 rejects %s (%s): it matches nothing, as Envoy rejects the route configuration that holds it', (re) => {
    expect(typeof compileRe2(re)).toBe('string');
    expect(pathMatches('RegularExpression', re, '/admin')).toBe(false);
    expect(pathMatches('RegularExpression', re, '/ab')).toBe(false);
  });
});
