// The registry governs the codes, not only documents them: every finding is built by emit() (src/findings.ts), which
// takes status, retryable and hint from src/registry.ts, and the types let a judge emit only its own layer's codes.
// These tests check the result over the whole scenario corpus, and that no code path sets `retryable` by hand.

import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { CODES, hintFor, layerMayEmit, type Code, type CodeInfo } from '../../src/registry.js';
import { emit } from '../../src/findings.js';
import type { Finding } from '../../src/types.js';
import { runScenario, scenarios } from '../helpers/fixtures.js';

const root = join(import.meta.dirname, '..', '..');

function allowedRetryable(info: CodeInfo): boolean[] {
  return typeof info.retryable === 'boolean' ? [info.retryable] : [...new Set(Object.values(info.retryable))];
}

function governed(f: Finding): string[] {
  const bad: string[] = [];
  if (f.code === null) {
    if (f.status !== 'pass' && f.status !== 'skip') bad.push(`${f.id}: status ${f.status} without a code`);
    return bad;
  }
  if (!Object.hasOwn(CODES, f.code)) return [`${f.id}: ${f.code} is not in the registry`];
  const code = f.code as Code;
  const info: CodeInfo = CODES[code];
  if (!layerMayEmit(f.id, code)) bad.push(`${f.id} emitted ${code} (registry layer: ${JSON.stringify(info.layer)})`);
  if (f.status !== info.severity)
    bad.push(`${code} at ${f.id} has status ${f.status}, the registry says ${info.severity}`);
  if (!allowedRetryable(info).includes(f.retryable))
    bad.push(`${code} at ${f.id} has retryable ${f.retryable}, the registry says ${JSON.stringify(info.retryable)}`);
  if (f.hint !== hintFor(code)) bad.push(`${code} at ${f.id} has hint ${f.hint}`);
  return bad;
}

describe('every finding of the scenario corpus agrees with the registry', () => {
  const all = scenarios();
  it.each(all.map((s) => ({ name: s.name, s })))('$name', async ({ s }) => {
    const bad: string[] = [];
    for (const c of s.cases) {
      const r = await runScenario(s.dir, c.target, c.gateway);
      for (const f of r.layers) bad.push(...governed(f).map((b) => `${c.target}: ${b}`));
    }
    expect(bad).toEqual([]);
  });
});

describe('emit', () => {
  it('takes status, retryable and hint from the registry', () => {
    const f = emit({ id: 'endpoints', title: 't' }, 'NoReadyEndpoints', 's');
    expect([f.status, f.retryable, f.hint]).toEqual(['fail', true, hintFor('NoReadyEndpoints')]);
    expect(emit({ id: 'route', title: 't' }, 'NamespaceLabelsUnknown', 's')).toMatchObject({
      status: 'warn',
      retryable: false,
    });
    expect(emit({ id: 'dns', title: 't' }, 'DnsResolverError', 's')).toMatchObject({
      status: 'error',
      retryable: true,
    });
  });
  it('takes retryable from the cause where the registry gives one per cause', () => {
    expect(emit({ id: 'listener', title: 't' }, 'GatewayNotAccepted', 's', { cause: 'pending' }).retryable).toBe(true);
    expect(emit({ id: 'listener', title: 't' }, 'GatewayNotAccepted', 's', { cause: 'rejected' }).retryable).toBe(
      false,
    );
    expect(
      emit({ id: 'listener', title: 't' }, 'ListenerCertificateRefInvalid', 's', { cause: 'secret-missing' }).retryable,
    ).toBe(true);
    expect(emit({ id: 'grant', title: 't' }, 'ClusterUnreachable', 's', { cause: 'api-error' }).retryable).toBe(false);
    // A cause the registry does not know is a bug, not a guess.
    expect(() =>
      emit({ id: 'listener', title: 't' }, 'GatewayNotAccepted', 's', { cause: 'soon' as 'pending' }),
    ).toThrow(/needs a cause/);
  });
  it('gives each code one status: ProxyUnreachable is a fail (nothing answers), ProxyProbeError the error (could not probe)', () => {
    expect(CODES.ProxyUnreachable.severity).toBe('fail');
    expect(CODES.ProxyProbeError.severity).toBe('error');
  });
});

it('sets retryable nowhere but in the registry and the finding constructor', () => {
  const files = ['src', 'checks'].flatMap((d) =>
    (readdirSync(join(root, d), { recursive: true }) as string[])
      .filter((f) => f.endsWith('.ts'))
      .map((f) => join(d, f)),
  );
  const hand = files
    .filter((f) => f !== join('src', 'registry.ts') && f !== join('src', 'findings.ts'))
    .flatMap((f) =>
      readFileSync(join(root, f), 'utf8')
        .split('\n')
        .map((l, i) => ({ f, i, l })),
    )
    .filter(
      ({ l }) =>
        /\bretryable\s*:/.test(l) &&
        !/^\s*(\/\/|\*)/.test(l) &&
        !/retryable: boolean/.test(l) &&
        !/retryable: mayRetry\(/.test(l),
    )
    .map(({ f, i, l }) => `${f}:${i + 1}: ${l.trim()}`);
  expect(hand).toEqual([]);
});
