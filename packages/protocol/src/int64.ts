/**
 * 64-bit big-endian integers (Java `long`) as JavaScript numbers, without BigInt: offsets and
 * millisecond timestamps stay far below 2^53, and a BigInt round trip costs more than the rest of
 * a consume-queue unit write. Every i64 the wire or the store holds is read and written here.
 */
const TWO_POW_32 = 0x1_0000_0000;
/** |value| < 2^53 exactly when the high word is within [-2^21, 2^21). */
const SAFE_HIGH_WORD = 0x20_0000;

/** Write a safe integer (an offset, a timestamp, or a small negative one such as a tag hash) as i64. */
export function writeInt64BE(buf: Buffer, value: number, at: number): void {
  const high = Math.floor(value / TWO_POW_32);
  buf.writeInt32BE(high | 0, at);
  buf.writeUInt32BE(value - high * TWO_POW_32, at + 4);
}

/** Read an i64; exact for every value below 2^53 in magnitude (see {@link isSafeInt64At}). */
export function readInt64BE(buf: Buffer, at: number): number {
  return buf.readInt32BE(at) * TWO_POW_32 + buf.readUInt32BE(at + 4);
}

/** Whether the i64 at `at` fits a safe integer, so {@link readInt64BE} reads it exactly. */
export function isSafeInt64At(buf: Buffer, at: number): boolean {
  const high = buf.readInt32BE(at);
  return high < SAFE_HIGH_WORD && high >= -SAFE_HIGH_WORD;
}
