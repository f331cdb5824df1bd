/**
 * The body every karman-bench message carries, so the consuming side can check each message it
 * counts (size, sequence, checksum) and measure born-to-consume latency from a timestamp with
 * sub-microsecond resolution.
 *
 * Layout (little-endian), HEADER_SIZE = 32 bytes, then filler up to the body size:
 *
 *   0  u32  magic 0x4b424e31 ("KBN1")
 *   4  u32  run id: random per benchmark run, so two runs on one topic never look like duplicates
 *   8  u32  body length, bytes (the whole body, header included)
 *  12  u32  CRC-32 of the body with these four bytes read as zero
 *  16  f64  sequence number within the run, 0, 1, 2, ...
 *  24  f64  born time, epoch milliseconds with a fraction (performance.timeOrigin + performance.now())
 *  32  ...  filler: the byte (sequence mod 251), so a body whose bytes moved shows in the CRC
 *
 * The born time is a wall clock with the resolution of `performance.now()`: within one process it
 * is as precise as the monotonic clock; across processes on one machine the origins agree to well
 * under a millisecond.
 */
import { crc32 } from 'node:zlib';

const BODY_MAGIC = 0x4b424e31;
export const HEADER_SIZE = 32;

/** Epoch milliseconds with a sub-millisecond fraction. */
export function preciseNow(): number {
  return performance.timeOrigin + performance.now();
}

/** A new body of `size` bytes (≥ HEADER_SIZE) for message `sequence` of run `runId`. */
export function encodeBody(size: number, runId: number, sequence: number, bornMillis: number = preciseNow()): Buffer {
  const body = Buffer.allocUnsafe(size);
  body.fill(sequence % 251, HEADER_SIZE);
  body.writeUInt32LE(BODY_MAGIC, 0);
  body.writeUInt32LE(runId >>> 0, 4);
  body.writeUInt32LE(size, 8);
  body.writeUInt32LE(0, 12);
  body.writeDoubleLE(sequence, 16);
  body.writeDoubleLE(bornMillis, 24);
  body.writeUInt32LE(crc32(body), 12);
  return body;
}

/** What a received body says, or why it is corrupt. */
export type DecodedBody =
  | { ok: true; runId: number; sequence: number; bornMillis: number }
  | { ok: false; reason: 'not-a-bench-body' | 'wrong-size' | 'bad-checksum' | 'bad-sequence' };

const ZERO = Buffer.alloc(4);

export function decodeBody(body: Uint8Array): DecodedBody {
  const buffer = Buffer.isBuffer(body) ? body : Buffer.from(body.buffer, body.byteOffset, body.byteLength);
  if (buffer.length < HEADER_SIZE || buffer.readUInt32LE(0) !== BODY_MAGIC) return { ok: false, reason: 'not-a-bench-body' };
  if (buffer.readUInt32LE(8) !== buffer.length) return { ok: false, reason: 'wrong-size' };
  const expected = buffer.readUInt32LE(12);
  let crc = crc32(buffer.subarray(0, 12));
  crc = crc32(ZERO, crc);
  crc = crc32(buffer.subarray(16), crc);
  if (crc !== expected) return { ok: false, reason: 'bad-checksum' };
  const sequence = buffer.readDoubleLE(16);
  if (!Number.isSafeInteger(sequence) || sequence < 0) return { ok: false, reason: 'bad-sequence' };
  return { ok: true, runId: buffer.readUInt32LE(4), sequence, bornMillis: buffer.readDoubleLE(24) };
}

/** A random 32-bit run id. */
export function newRunId(): number {
  return crypto.getRandomValues(new Uint32Array(1))[0]!;
}
