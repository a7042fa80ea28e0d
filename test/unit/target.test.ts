// Targets as users type them: host, host:port, https URL; normalised and validated.

import { describe, expect, it } from 'vitest';
import { parseTarget } from '../../src/target.js';
import { parseDuration } from '../../src/options.js';

describe('parseTarget', () => {
  it.each([
    ['api.example.com', { host: 'api.example.com', port: null, path: '/' }],
    ['API.Example.COM.', { host: 'api.example.com', trailingDot: true }],
    ['api.example.com:8443', { host: 'api.example.com', port: 8443 }],
    ['https://api.example.com/health?full=1', { host: 'api.example.com', path: '/health', query: 'full=1' }],
    ['https://bücher.example.com/', { host: 'xn--bcher-kva.example.com' }],
    ['https://api.example.com:443/x', { host: 'api.example.com', port: null, path: '/x' }],
  ])('%s', (input, want) => {
    expect(parseTarget(input)).toMatchObject(want);
  });
  it.each([
    ['http://api.example.com', /unsupported scheme "http:\/\/"/],
    ['ftp://api.example.com', /unsupported scheme/],
    ['exa mple.com', /cannot contain spaces/],
    ['api.example.com/path', /write a path as part of a URL/],
    ['localhost', /not a fully qualified hostname/],
    ['-api.example.com', /not a valid DNS label/],
    ['api_x.example.com', /not a valid DNS label|not a hostname/],
    ['192.0.2.1', /IP address/],
    ['https://user:pw@api.example.com/', /credentials/],
    ['', /empty target/],
    ['api.example.com:0', /port 0/],
    ['https://api.example.com:0/', /port 0/],
  ])('rejects %j', (input, msg) => {
    expect(() => parseTarget(input)).toThrow(msg);
  });
});

describe('durations', () => {
  it.each([
    ['500ms', 500],
    ['30s', 30_000],
    ['2m', 120_000],
    ['1m30s', 90_000],
    ['10', 10_000],
  ])('%s = %d ms', (v, ms) => expect(parseDuration('timeout', v)).toBe(ms));
  it.each(['soon', '10x', '-1s', ''])('rejects %j', (v) =>
    expect(() => parseDuration('timeout', v)).toThrow(/not a duration/),
  );
  it.each(['0', '0s', '0ms', '0m0s', '0.0001'])('rejects the zero duration %j the same way', (v) =>
    expect(() => parseDuration('timeout', v)).toThrow(/"[^"]*": must be longer than 0/),
  );
  it.each(['25h', '1441m', '99999999999h'])('rejects %j: longer than 24h', (v) =>
    expect(() => parseDuration('wait', v)).toThrow(/24h maximum/),
  );
});
