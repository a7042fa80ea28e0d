// The addresses gwdoctor never probes on a DNS answer's word (issue 20 item 21).

import { describe, expect, it } from 'vitest';
import { unsafeTarget } from '../../../src/net/addresses.js';

describe('unsafeTarget', () => {
  it.each([
    ['169.254.169.254', /cloud metadata service/],
    ['169.254.0.1', /link-local address \(169\.254\.0\.0\/16\)/],
    ['169.254.255.255', /link-local/],
    ['::ffff:169.254.169.254', /cloud metadata service/],
    ['::ffff:a9fe:a9fe', /cloud metadata service/],
    ['fe80::1', /link-local address \(fe80::\/10\)/],
    ['FEBF:ffff::1', /link-local address \(fe80::\/10\)/],
    ['fe80::1%eth0', /link-local/],
    ['fd00:ec2::254', /AWS instance metadata service \(IPv6\)/],
    ['fd00:0ec2:0:0:0:0:0:0254', /AWS instance metadata service/],
    ['100.100.100.200', /Alibaba Cloud metadata service/],
  ])('%s: refused (%s)', (address, why) => {
    expect(unsafeTarget(address)).toMatch(why);
  });
  it.each([
    '127.0.0.1',
    '192.0.2.10',
    '169.253.255.255',
    '169.255.0.1',
    '203.0.113.7',
    '::1',
    'fec0::1',
    'fe7f::1',
    '2001:db8::1',
    '::ffff:192.0.2.1',
    '100.100.100.201',
  ])('%s: probed', (address) => {
    expect(unsafeTarget(address)).toBeNull();
  });
});
