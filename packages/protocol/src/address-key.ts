import type { Socket } from 'node:net';

/**
 * The address a connection counts against for `maxConnectionsPerAddress`: its IPv4 address (also
 * when it arrives IPv4-mapped on a dual-stack socket), or the /64 prefix of an IPv6 address, since
 * one host is commonly given a whole /64.
 */
export function addressKey(socket: Socket): string {
  const ip = socket.remoteAddress ?? 'unknown';
  if (ip.startsWith('::ffff:') && ip.includes('.')) return ip.slice(7);
  if (!ip.includes(':')) return ip;
  return `${expandIpv6(ip).slice(0, 4).join(':')}::/64`;
}

/** The eight hextets of an IPv6 address, `::` expanded (a zone id, if any, is dropped). */
function expandIpv6(ip: string): string[] {
  const [head = '', tail] = ip.split('%')[0]!.split('::');
  const left = head === '' ? [] : head.split(':');
  const right = tail === undefined || tail === '' ? [] : tail.split(':');
  const zeros = tail === undefined ? [] : new Array<string>(Math.max(0, 8 - left.length - right.length)).fill('0');
  return [...left, ...zeros, ...right].map((part) => part.toLowerCase().replace(/^0+(?=.)/, ''));
}
