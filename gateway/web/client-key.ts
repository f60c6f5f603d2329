// Who a request comes from, for caps and rate limits: the socket's peer address, never a header
// (a header is whatever the client says). An IPv4 address is one client; an IPv6 client owns a
// whole /64 and picks addresses in it at will, so its /64 is the key. IPv4-mapped IPv6
// (::ffff:a.b.c.d, a dual-stack listener) is the IPv4 address.
import { isIPv4, isIPv6 } from 'node:net';

export function clientKey(address: string | undefined): string {
  if (address === undefined || address === '') return 'unknown';
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(address)?.[1];
  if (mapped !== undefined) return mapped;
  if (isIPv4(address)) return address;
  if (!isIPv6(address)) return address.slice(0, 64);
  return `${ipv6Prefix64(address)}::/64`;
}

/** The first four groups of an IPv6 address, "::" expanded, zone dropped. */
function ipv6Prefix64(address: string): string {
  const a = address.split('%')[0] ?? address;
  const [head = '', tail] = a.split('::');
  const h = head === '' ? [] : head.split(':');
  const t = tail === undefined || tail === '' ? [] : tail.split(':');
  const groups = tail === undefined ? h : [...h, ...new Array<string>(Math.max(0, 8 - h.length - t.length)).fill('0'), ...t];
  return groups
    .slice(0, 4)
    .map((g) => (g.includes('.') ? g : (Number.parseInt(g, 16) || 0).toString(16)))
    .join(':');
}
