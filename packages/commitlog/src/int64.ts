/**
 * 64-bit big-endian integers as JavaScript numbers, without BigInt: offsets and millisecond
 * timestamps stay far below 2^53, and BigInt conversions cost more than the rest of a unit write.
 */
const TWO_POW_32 = 0x1_0000_0000;

/** Write a non-negative safe integer (or a small negative one, such as a tag hash) as i64. */
export function writeInt64BE(buf: Buffer, value: number, at: number): void {
  const hi = Math.floor(value / TWO_POW_32);
  buf.writeInt32BE(hi | 0, at);
  buf.writeUInt32BE(value - hi * TWO_POW_32, at + 4);
}

/** Read an i64 that fits a safe integer. */
export function readInt64BE(buf: Buffer, at: number): number {
  return buf.readInt32BE(at) * TWO_POW_32 + buf.readUInt32BE(at + 4);
}
