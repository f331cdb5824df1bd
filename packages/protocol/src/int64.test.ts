import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { isSafeInt64At, readInt64BE, writeInt64BE } from './int64.js';

describe('int64', () => {
  it('writes and reads every safe integer as Java long, big-endian, the tag-hash negatives included', () => {
    fc.assert(
      fc.property(fc.maxSafeInteger().filter((n) => n >= -(2 ** 53) + 1), (n) => {
        const buf = Buffer.alloc(8);
        writeInt64BE(buf, n, 0);
        expect(buf.readBigInt64BE(0)).toBe(BigInt(n));
        expect(readInt64BE(buf, 0)).toBe(n);
      }),
      { seed: 20_003, numRuns: 2_000 },
    );
    for (const n of [2 ** 31 - 1, 2 ** 31, 2 ** 32 - 1, 2 ** 32, 2 ** 32 + 1, -1, -(2 ** 31), Number.MAX_SAFE_INTEGER]) {
      const buf = Buffer.alloc(8);
      writeInt64BE(buf, n, 0);
      expect([buf.readBigInt64BE(0), readInt64BE(buf, 0)]).toEqual([BigInt(n), n]);
    }
  });
});

describe('isSafeInt64At', () => {
  it('accepts exactly the longs whose magnitude is below 2^53', () => {
    const buf = Buffer.alloc(8);
    for (const [value, safe] of [[2n ** 53n - 1n, true], [2n ** 53n, false], [-(2n ** 53n), true], [-(2n ** 53n) - 1n, false], [2n ** 63n - 1n, false], [-1n, true]] as const) {
      buf.writeBigInt64BE(value, 0);
      // The high word decides: -2^53 itself passes the check and reads back exactly.
      expect([value, isSafeInt64At(buf, 0)]).toEqual([value, safe]);
      if (safe) expect(BigInt(readInt64BE(buf, 0))).toBe(value);
    }
  });
});
