// The fuzz suite's budget: seeded and bounded so that `npm test` is deterministic and quick; longer on request.
//
//   npm test                                   fixed seed, the default number of cases below (about 20 s on 2 cores)
//   GWDOCTOR_FUZZ_RUNS=20 npm run test:fuzz    twenty times as many cases, a seed from the clock (printed)
//   GWDOCTOR_FUZZ_SEED=1234 ...                replay one seed (fast-check prints seed and path on a failure)

import fc from 'fast-check';

const scale = Number(process.env['GWDOCTOR_FUZZ_RUNS'] ?? '1');
export const SCALE = Number.isFinite(scale) && scale > 0 ? scale : 1;
const fixed = 0x6d0c_2026;
export const SEED =
  process.env['GWDOCTOR_FUZZ_SEED'] !== undefined
    ? Number(process.env['GWDOCTOR_FUZZ_SEED'])
    : SCALE > 1
      ? Date.now() % 2 ** 31
      : fixed;

if (SCALE > 1 || process.env['GWDOCTOR_FUZZ_SEED'] !== undefined)
  process.stderr.write(`[fuzz] seed ${SEED}, ${SCALE}x the default number of cases\n`);

/** fast-check parameters for a property with `base` cases in the default budget. */
export function budget(base: number): fc.Parameters<unknown> {
  return { seed: SEED, numRuns: Math.max(1, Math.round(base * SCALE)), endOnFailure: true, verbose: 1 };
}

/** Per-test timeout (ms) for a property with `base` cases costing about `perCaseMs` each. */
export function timeoutFor(base: number, perCaseMs: number): number {
  return Math.max(20_000, Math.round(base * SCALE * perCaseMs * 2));
}

// ---- planted secrets: they must never appear in any output --------------------------------------------------------
export const SECRETS = {
  password: 'FuzzPl4ntedPassw0rd',
  token: 'FuzzPl4ntedT0ken1234567',
  keyData: 'RnV6elBsYW50ZWRLZXlEYXRh',
};
export const SECRET_VALUES = Object.values(SECRETS);

export function leaked(text: string): string[] {
  return SECRET_VALUES.filter((s) => text.includes(s));
}
