// redact(): the one function every URL, server address and error text passes through before output.

import { describe, expect, it } from 'vitest';
import { errorLine, redact, redactDeep } from '../../src/redact.js';

describe('redact', () => {
  it.each([
    ['https://user:hunter2@api.example.com/x', 'https://***@api.example.com/x'],
    [
      'cannot reach the API server https://admin:hunter2@10.0.0.1:6443: ECONNREFUSED',
      'cannot reach the API server https://***@10.0.0.1:6443: ECONNREFUSED',
    ],
    ['https://tok3n@api.example.com', 'https://***@api.example.com'],
    ['invalid target "admin:hunter2@api.example.com"', 'invalid target "admin:***@api.example.com"'],
    ['Authorization: Bearer abcdefghijklmnop', 'Authorization: Bearer ***'],
    ['GET https://api.example.com/x?a=1&token=hunter2&b=2', 'GET https://api.example.com/x?a=1&token=***&b=2'],
    ['https://s3.example.com/o?X-Amz-Signature=deadbeef', 'https://s3.example.com/o?X-Amz-Signature=***'],
    ['    token: hunter2hunter2', '    token: ***'],
    ['{"client-key-data":"LS0tLS1CRUdJTg=="}', '{"client-key-data":"***"}'],
    ['password=hunter2', 'password=***'],
    ['(token=hunter2)', '(token=***)'],
    ['id token eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJzeXN0ZW0ifQ.c2lnbmF0dXJl here', 'id token *** here'],
    ['-----BEGIN RSA PRIVATE KEY-----\nMIIEabc\n-----END RSA PRIVATE KEY-----', '[private key ***]'],
  ])('%j -> %j', (input, want) => {
    expect(redact(input)).toBe(want);
  });

  it.each([
    'HTTPRoute istio-ingress/example-api: Accepted=True',
    'HTTP 404 from Envoy with an empty body (NR: no route for this host and path)',
    'kind: ReferenceGrant\nmetadata:\n  name: allow-example-api',
    'the certificate for api.example.com expires in 5 days',
    'https://api.example.com/health?full=1',
    'user@example.com wrote',
  ])('leaves ordinary text alone: %j', (s) => {
    expect(redact(s)).toBe(s);
  });

  it('is idempotent and reaches every string in a report', () => {
    const report = {
      source: { server: 'https://u:p4ss@h:6443' },
      targets: [{ layers: [{ evidence: [{ ref: 'x', detail: 'token: s3cr3t' }] }] }],
      n: 3,
    };
    const out = redactDeep(report);
    expect(JSON.stringify(out)).not.toMatch(/p4ss|s3cr3t/);
    expect(out.n).toBe(3);
    expect(redactDeep(out)).toEqual(out);
  });

  // No timing assertion (speed is measured in bench/, not asserted in tests): a backtracking blow-up on these inputs
  // is exponential and would run into the test timeout, which is the bound here.
  it('finishes on hostile input (no backtracking blow-up) and still redacts', () => {
    for (const s of [
      '(x:' + 'y'.repeat(3000),
      'a:'.repeat(100_000),
      'https://'.repeat(50_000),
      '-eyJ'.repeat(50_000),
      '?token='.repeat(50_000),
    ]) {
      expect(typeof redact(s)).toBe('string');
    }
    expect(redact(`${'a:'.repeat(10_000)} https://u:hunter2@h/`)).not.toContain('hunter2');
  });
});

describe('errorLine', () => {
  it('one line, printable, cut to a readable length, redacted', () => {
    const line = errorLine(`bad \u0000\u0007 input https://u:hunter2@h/ ${'x'.repeat(50_000)}\nsecond line`);
    expect(line).not.toContain('\n');
    expect(line).not.toContain('hunter2');
    expect(line).toContain('\\x00\\x07');
    expect(line.length).toBeLessThan(460);
    expect(line).toMatch(/\(\d+ more characters\)$/);
  });
});
