/**
 * Tells the protocols sharing one port apart by a connection's first bytes. An HTTP request line starts with an upper-case method and a
 * space (a WebSocket upgrade is such a request); a remoting frame starts with its u32 big-endian
 * length, whose first byte is 0x00 or 0x01 for any frame within the 16 MiB limit. So the answer is
 * almost always known from one byte, and never needs more than the longest method plus its space.
 */

/** What a connection's first bytes say it speaks. */
export const SniffedProtocol = {
  /** An HTTP request line: plain HTTP or a WebSocket upgrade. */
  HTTP: 'http',
  /** Anything else: RocketMQ remoting frames over raw TCP. */
  REMOTING: 'remoting',
  /** The bytes so far are a prefix of an HTTP method; wait for more. */
  NEED_MORE: 'need-more',
} as const;
export type SniffedProtocol = (typeof SniffedProtocol)[keyof typeof SniffedProtocol];

const METHODS = ['GET', 'POST', 'HEAD', 'PUT', 'DELETE', 'OPTIONS', 'PATCH', 'CONNECT', 'TRACE'].map((m) => Buffer.from(`${m} `, 'latin1'));

/** Longest prefix the sniffer may need before it decides. */
export const MAX_SNIFF_BYTES = Math.max(...METHODS.map((m) => m.length));

/** Classify the first bytes of a connection. */
export function sniffProtocol(bytes: Uint8Array): SniffedProtocol {
  if (bytes.length === 0) return SniffedProtocol.NEED_MORE;
  const first = bytes[0]!;
  // Fast path: frame lengths start with 0x00/0x01, methods with 'C'..'T'.
  if (first < 0x41 || first > 0x5a) return SniffedProtocol.REMOTING;
  let possible = false;
  for (const method of METHODS) {
    const n = Math.min(method.length, bytes.length);
    let same = true;
    for (let i = 0; i < n; i++) {
      if (bytes[i] !== method[i]) {
        same = false;
        break;
      }
    }
    if (!same) continue;
    if (bytes.length >= method.length) return SniffedProtocol.HTTP;
    possible = true;
  }
  return possible ? SniffedProtocol.NEED_MORE : SniffedProtocol.REMOTING;
}
