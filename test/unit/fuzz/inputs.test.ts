// Fuzz: targets, flags and text through the parsers and redact(), in-process (many cases, fast).
// Invariants: bad input is a UsageError (exit 3), never another exception (exit 70); messages are one readable line
// with no planted secret; redact() removes planted credentials from any text.

import fc from 'fast-check';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadManifests } from '../../../src/cluster/manifests.js';
import { GwdoctorError, UsageError } from '../../../src/errors.js';
import { parseOptions } from '../../../src/options.js';
import { errorLine, redact } from '../../../src/redact.js';
import { parseTarget } from '../../../src/target.js';
import { budget, leaked, SECRET_VALUES, SECRETS, timeoutFor } from './budget.js';

const hostish = fc.oneof(
  fc.constantFrom(
    'api.example.com',
    'API.Example.COM.',
    'bücher.example.com',
    'a.b',
    'localhost',
    '10.0.0.1',
    '[::1]',
    '-bad.example.com',
    'a..b',
    'x'.repeat(70) + '.com',
  ),
  fc.domain(),
  fc.string({ maxLength: 40 }),
  fc.stringMatching(/^[a-z0-9.-]{1,30}$/),
);
const target = fc.oneof(
  hostish,
  fc.tuple(hostish, fc.integer({ min: -5, max: 70_000 })).map(([h, p]) => `${h}:${p}`),
  fc
    .tuple(
      fc.constantFrom('https://', 'http://', 'HTTPS://', 'ftp://', '//', 'https:/'),
      hostish,
      fc.webPath(),
      fc.option(fc.webQueryParameters()),
    )
    .map(([s, h, p, q]) => `${s}${h}${p}${q ? `?${q}` : ''}`),
  fc
    .tuple(hostish, fc.constantFrom(`user:${SECRETS.password}@`, `${SECRETS.token}@`, `:${SECRETS.password}@`))
    .map(([h, cred]) => `https://${cred}${h}/`),
  fc.tuple(hostish).map(([h]) => `user:${SECRETS.password}@${h}`),
  fc.webUrl({ withQueryParameters: true, withFragments: true }),
);

describe('targets: a Target or a one-line UsageError, nothing else', () => {
  it('random targets', () => {
    fc.assert(
      fc.property(target, (t) => {
        try {
          const r = parseTarget(t);
          expect(r.host).toMatch(/^[a-z0-9.-]+$/);
          expect(r.port === null || (r.port >= 1 && r.port <= 65535)).toBe(true);
          expect(leaked(r.input)).toEqual([]);
        } catch (err) {
          if (!(err instanceof UsageError)) throw err;
          const line = errorLine(err.message);
          expect(line).not.toContain('\n');
          expect(line.length).toBeLessThanOrEqual(460);
          expect(leaked(line)).toEqual([]);
        }
      }),
      budget(600),
    );
  });
});

const flagValue = fc.oneof(
  fc.constantFrom(
    '0',
    '0s',
    '500ms',
    '1m30s',
    '2m',
    '24h',
    '25h',
    '-1s',
    '1e3',
    '1.5s',
    '',
    ' ',
    'x',
    '65536',
    '99999',
    '1',
    '[::1]:53',
    '1.2.3.4:99999',
    '1.2.3.4:0',
    'ns/name',
    'NS/Name',
    'json',
    'text',
    'yaml',
  ),
  fc.string({ maxLength: 20 }),
  fc.integer({ min: -10, max: 100_000 }).map(String),
);
const flag = fc.oneof(
  fc
    .tuple(
      fc.constantFrom(
        '--timeout',
        '--wait',
        '--port',
        '--resolver',
        '--expect-ip',
        '--gateway',
        '--output',
        '-o',
        '--context',
      ),
      flagValue,
    )
    .map(([f, v]) => [f, v]),
  fc.constantFrom(
    ['--offline'],
    ['-v'],
    ['--no-color'],
    ['--debug'],
    ['--frobnicate'],
    ['-x'],
    ['--'],
    ['--offline=1'],
    ['--timeout'],
  ),
);

describe('flags: Options or a one-line UsageError, nothing else', () => {
  it('random argv', () => {
    fc.assert(
      fc.property(fc.array(flag, { maxLength: 6 }), fc.array(target, { maxLength: 2 }), (flags, targets) => {
        const argv = [...flags.flat(), ...targets];
        try {
          const o = parseOptions(argv, {});
          expect(o.timeoutMs).toBeGreaterThan(0);
          expect(o.timeoutMs).toBeLessThanOrEqual(24 * 3_600_000 + 30_000);
          if (o.port !== null) expect(o.port).toBeGreaterThanOrEqual(1);
        } catch (err) {
          if (!(err instanceof GwdoctorError)) throw err;
          expect(leaked(errorLine(err.message))).toEqual([]);
        }
      }),
      budget(600),
    );
  });
});

describe('redact() removes planted credentials from any text around them', () => {
  const around = fc.string({ maxLength: 30 }).filter((s) => !/[A-Za-z0-9+/=_-]$/.test(s));
  const after = fc.string({ maxLength: 30 }).filter((s) => !/^[A-Za-z0-9+/=_@.-]/.test(s));
  const planted = fc.constantFrom(
    `https://admin:${SECRETS.password}@api.example.com:6443/x`,
    `http://${SECRETS.token}@10.0.0.1/`,
    `Authorization: Bearer ${SECRETS.token}`,
    `GET https://api.example.com/p?x=1&token=${SECRETS.token}`,
    `    token: ${SECRETS.token}`,
    `"client-key-data": "${SECRETS.keyData}"`,
    `client-key-data: ${SECRETS.keyData}`,
    `password=${SECRETS.password}`,
    `user:${SECRETS.password}@api.example.com`,
  );
  it('planted in random text', () => {
    fc.assert(
      fc.property(around, planted, after, (a, p, b) => {
        const spaced = `${a} ${p} ${b}`;
        expect(leaked(redact(spaced))).toEqual([]);
        expect(leaked(errorLine(spaced))).toEqual([]);
      }),
      budget(500),
    );
  });
});

// A Secret damaged by one edit (a character inserted, deleted or replaced anywhere, in JSON or YAML, one line or
// pretty): the loader reads it or refuses it with a message that quotes no piece of a value (parsers quote the input
// around a syntax error; a shape error names the type it found, not the value).
describe('a damaged Secret: read, or refused without quoting any piece of its values', () => {
  const secret = {
    apiVersion: 'v1',
    kind: 'Secret',
    type: 'kubernetes.io/tls',
    metadata: { name: 'tls', namespace: 'istio-ingress' },
    data: { 'tls.crt': SECRETS.keyData, 'tls.key': SECRETS.keyData },
    stringData: { password: SECRETS.password, token: SECRETS.token },
  };
  const texts = [
    { name: 'one-line.json', text: JSON.stringify(secret) },
    { name: 'pretty.json', text: JSON.stringify({ apiVersion: 'v1', kind: 'List', items: [secret] }, null, 2) },
    {
      name: 's.yaml',
      text: `apiVersion: v1\nkind: Secret\ntype: kubernetes.io/tls\nmetadata:\n  name: tls\n  namespace: istio-ingress\ndata:\n  tls.crt: ${SECRETS.keyData}\n  tls.key: "${SECRETS.keyData}"\nstringData:\n  password: '${SECRETS.password}'\n  token: {"v": "${SECRETS.token}"}\n`,
    },
  ];
  const pieces = SECRET_VALUES.flatMap((v) => Array.from({ length: v.length - 4 }, (_, i) => v.slice(i, i + 5)));
  const dir = mkdtempSync(join(tmpdir(), 'gwd-fuzz-secret-'));
  it(
    'one edit anywhere',
    () => {
      fc.assert(
        fc.property(
          fc.nat({ max: texts.length - 1 }),
          fc.nat(),
          fc.constantFrom('insert', 'delete', 'replace'),
          fc.oneof(
            fc.constantFrom(
              '"',
              "'",
              '{',
              '}',
              '[',
              ']',
              ',',
              ':',
              ' ',
              '\n',
              '\\',
              '!',
              '&',
              '*',
              '%',
              '#',
              '\t',
              '\u0000',
              '\ufeff',
              '- ',
              '? ',
              '|',
              '>',
            ),
            fc.string({ minLength: 1, maxLength: 2 }),
          ),
          (pick, at, op, ch) => {
            const { name, text } = texts[pick]!;
            const i = at % (text.length + 1);
            const damaged =
              op === 'insert'
                ? text.slice(0, i) + ch + text.slice(i)
                : op === 'delete'
                  ? text.slice(0, i) + text.slice(i + 1)
                  : text.slice(0, i) + ch + text.slice(i + 1);
            const f = join(dir, name);
            writeFileSync(f, damaged);
            try {
              loadManifests([f]);
            } catch (err) {
              if (!(err instanceof GwdoctorError)) throw err;
              const line = errorLine(err.message);
              expect(
                pieces.filter((p) => line.includes(p)),
                line,
              ).toEqual([]);
            }
          },
        ),
        budget(600),
      );
      rmSync(dir, { recursive: true, force: true });
    },
    timeoutFor(600, 15),
  );
});
