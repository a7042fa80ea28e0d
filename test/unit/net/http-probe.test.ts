// The probe's body read: bounded in bytes and in time after the headers (issue 20 item 7: a stream that keeps its
// body open must not hold the run until --timeout).

import { PassThrough } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { readSnippet } from '../../../src/net/http-probe.js';

describe('readSnippet', () => {
  it('a body left open: the first chunk, open = true, after the wait (not at the end of the stream)', async () => {
    const body = new PassThrough();
    body.write('data: first event\n\n');
    const t0 = performance.now();
    const r = await readSnippet(body, 200);
    expect(r).toEqual({ text: 'data: first event\n\n', open: true });
    expect(performance.now() - t0).toBeLessThan(2000);
    expect(body.destroyed).toBe(true);
  });
  it('a body that ends: all of it, open = false', async () => {
    const body = new PassThrough();
    body.end('no healthy upstream');
    expect(await readSnippet(body, 5000)).toEqual({ text: 'no healthy upstream', open: false });
  });
  it('a long body: 512 bytes, not read further, and not called open', async () => {
    const body = new PassThrough();
    body.write('x'.repeat(4096));
    const r = await readSnippet(body, 5000);
    expect(r.text).toHaveLength(512);
    expect(r.open).toBe(false);
  });
});
