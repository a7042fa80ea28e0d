// Addresses gwdoctor does not send a probe to unless --expect-ip names them: link-local addresses (169.254.0.0/16,
// fe80::/10; RFC 3927, RFC 4291 2.5.6) and the cloud metadata services that live there or nearby. A public host never
// resolves to one; a DNS answer that does points clients (and gwdoctor) at this machine's own link, where the cloud's
// metadata service hands out instance credentials. Pure: no I/O, unit-tested.

import { isIPv4, isIPv6 } from 'node:net';

/** Known metadata endpoints: AWS/GCP/Azure/OpenStack/DigitalOcean/Oracle (169.254.169.254), AWS IMDS over IPv6, Alibaba Cloud. */
const METADATA: Record<string, string> = {
  '169.254.169.254': 'the cloud metadata service (AWS, GCP, Azure, OpenStack, DigitalOcean, Oracle)',
  'fd00:ec2::254': 'the AWS instance metadata service (IPv6)',
  '100.100.100.200': 'the Alibaba Cloud metadata service',
};

function v4(address: string): number[] | null {
  if (!isIPv4(address)) return null;
  return address.split('.').map(Number);
}

/** The IPv6 address as 8 groups (expanding ::, an embedded IPv4 tail), or null. */
function v6(address: string): number[] | null {
  if (!isIPv6(address)) return null;
  let a = address.toLowerCase().replace(/%.*$/, '');
  const tail = /(\d+\.\d+\.\d+\.\d+)$/.exec(a);
  if (tail) {
    const b = (tail[1] as string).split('.').map(Number) as [number, number, number, number];
    a =
      a.slice(0, -(tail[1] as string).length) +
      `${((b[0] << 8) | b[1]).toString(16)}:${((b[2] << 8) | b[3]).toString(16)}`;
  }
  const [head, rest] = a.split('::') as [string, string | undefined];
  const h = head ? head.split(':') : [];
  const r = rest === undefined ? [] : rest ? rest.split(':') : [];
  const groups = rest === undefined ? h : [...h, ...Array(8 - h.length - r.length).fill('0'), ...r];
  return groups.map((g) => parseInt(g, 16));
}

/** Why gwdoctor will not probe `address` on its own (null: it may). */
export function unsafeTarget(address: string): string | null {
  const g6 = v6(address);
  // An IPv4-mapped IPv6 address (::ffff:a.b.c.d) is the IPv4 address.
  const mapped =
    g6 && g6.slice(0, 5).every((x) => x === 0) && g6[5] === 0xffff
      ? `${(g6[6] as number) >> 8}.${(g6[6] as number) & 255}.${(g6[7] as number) >> 8}.${(g6[7] as number) & 255}`
      : null;
  const a4 = v4(mapped ?? address);
  const canonical = a4
    ? a4.join('.')
    : g6
      ? g6
          .map((x) => x.toString(16))
          .join(':')
          .replace(/(^|:)0(:0)+(:|$)/, '::')
      : address;
  const meta = METADATA[canonical];
  if (meta) return `${meta}`;
  if (a4 && a4[0] === 169 && a4[1] === 254) return 'a link-local address (169.254.0.0/16)';
  if (g6 && !mapped && ((g6[0] as number) & 0xffc0) === 0xfe80) return 'a link-local address (fe80::/10)';
  return null;
}
