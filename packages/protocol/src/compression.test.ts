import { inflateSync } from 'node:zlib';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { COMPRESS_BODY_THRESHOLD, DEFAULT_MAX_DECOMPRESSED_SIZE, DEFLATE_MAX_RATIO, checkInflatedSize, compressBody, decompressBody, shouldCompressBody, uncompressedBody } from './compression.js';
import { KarmanError, ProtocolError } from './errors.js';

describe('body compression', () => {
  it('round-trips any body through zlib', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 9000 }), (body) => {
        expect(decompressBody(compressBody(body))).toEqual(Buffer.from(body));
      }),
      { numRuns: 50 },
    );
  });

  it('writes zlib format (header 0x78), which any inflater, Java\'s included, reads', () => {
    const body = Buffer.alloc(5000, 'abc');
    const compressed = compressBody(body);
    expect(compressed[0]).toBe(0x78);
    expect(inflateSync(compressed)).toEqual(body);
    expect(compressed.length).toBeLessThan(body.length);
  });

  it('compresses from 4096 bytes on, as Java producers do', () => {
    expect(shouldCompressBody(Buffer.alloc(COMPRESS_BODY_THRESHOLD - 1))).toBe(false);
    expect(shouldCompressBody(Buffer.alloc(COMPRESS_BODY_THRESHOLD))).toBe(true);
  });

  it('rejects bytes that are not zlib data with a ProtocolError', () => {
    expect(() => decompressBody(Buffer.from('not compressed at all'))).toThrow(ProtocolError);
  });

  it('stops a body that inflates past the limit with BODY_TOO_LARGE naming the limit', () => {
    const bomb = compressBody(Buffer.alloc(1_000_000));
    expect(() => decompressBody(bomb, 1000)).toThrow(expect.objectContaining({ code: 'BODY_TOO_LARGE', message: expect.stringMatching(/more than 1000 bytes/) }));
    expect(decompressBody(compressBody(Buffer.alloc(1000)), 1000)).toHaveLength(1000);
  });

  it('caps inflating at 4 MiB by default, the maxMessageSize RocketMQ producers check before compressing', () => {
    expect(DEFAULT_MAX_DECOMPRESSED_SIZE).toBe(4 * 1024 * 1024);
    const bomb = compressBody(Buffer.alloc(64 * 1024 * 1024 - 1), 9);
    expect(bomb.length).toBeLessThan(70 * 1024);
    expect(() => decompressBody(bomb)).toThrow(expect.objectContaining({ code: 'BODY_TOO_LARGE' }));
    expect(() => uncompressedBody(bomb, 0x1)).toThrow(expect.objectContaining({ code: 'BODY_TOO_LARGE' }));
    expect(decompressBody(compressBody(Buffer.alloc(DEFAULT_MAX_DECOMPRESSED_SIZE, 7)))).toHaveLength(DEFAULT_MAX_DECOMPRESSED_SIZE);
  });

  it('answers random, truncated and bit-flipped zlib input with a KarmanError, never anything else', () => {
    const valid = compressBody(Buffer.from('a body that is long enough to have a few deflate blocks '.repeat(50)));
    const input = fc.oneof(
      fc.uint8Array({ maxLength: 300 }),
      fc.integer({ min: 0, max: valid.length }).map((n) => valid.subarray(0, n)),
      fc.tuple(fc.nat(valid.length - 1), fc.integer({ min: 1, max: 255 })).map(([at, x]) => {
        const copy = Buffer.from(valid);
        copy[at] = copy[at]! ^ x;
        return copy;
      }),
      fc.uint8Array({ maxLength: 300 }).map((tail) => Buffer.concat([Buffer.from([0x78, 0x9c]), tail])),
    );
    fc.assert(
      fc.property(input, fc.integer({ min: 1, max: 1 << 20 }), (bytes, limit) => {
        try {
          expect(decompressBody(bytes, limit).length).toBeLessThanOrEqual(limit);
        } catch (error) {
          expect(error).toBeInstanceOf(KarmanError);
          expect(['PROTOCOL_ERROR', 'BODY_TOO_LARGE']).toContain((error as KarmanError).code);
          expect((error as Error).message).toMatch(/zlib|more than/);
        }
      }),
      { numRuns: 2000 },
    );
  });

  it('refuses a limit that is not a positive safe length', () => {
    expect(() => decompressBody(compressBody(Buffer.from('x')), 0)).toThrow(/limit/);
    expect(() => decompressBody(compressBody(Buffer.from('x')), Number.NaN)).toThrow(/limit/);
  });

  it('inflates only bodies whose SYSFLAG says compressed, and refuses LZ4/ZSTD', () => {
    const body = Buffer.from('hello');
    expect(uncompressedBody(body, 0)).toBe(body);
    expect(uncompressedBody(compressBody(body), 0x1)).toEqual(body);
    expect(uncompressedBody(compressBody(body), 0x1 | 0x300)).toEqual(body);
    expect(() => uncompressedBody(body, 0x1 | 0x100)).toThrow(/LZ4/);
    expect(() => uncompressedBody(body, 0x1 | 0x200)).toThrow(/ZSTD/);
  });

  it('never sees a zlib stream inflate to more than DEFLATE_MAX_RATIO times its length, however repetitive', () => {
    const repetitive = fc.tuple(fc.uint8Array({ minLength: 1, maxLength: 8 }), fc.integer({ min: 1, max: 200_000 }), fc.integer({ min: 1, max: 9 }));
    fc.assert(
      fc.property(repetitive, ([unit, times, level]) => {
        const body = Buffer.alloc(unit.length * times);
        for (let i = 0; i < body.length; i += unit.length) body.set(unit, i);
        expect(body.length).toBeLessThanOrEqual(compressBody(body, level).length * DEFLATE_MAX_RATIO);
      }),
      { numRuns: 60 },
    );
    expect(Buffer.alloc(64 << 20).length / compressBody(Buffer.alloc(64 << 20), 9).length).toBeGreaterThan(1000);
  });

  it('checks the inflated size of a body in chunks, keeping nothing, with the same errors as decompressBody', async () => {
    const limit = 1 << 20;
    const bomb = compressBody(Buffer.alloc(256 << 20), 9);
    await expect(checkInflatedSize(bomb, limit)).rejects.toMatchObject({ code: 'BODY_TOO_LARGE', message: expect.stringMatching(/more than 1048576 bytes/) });
    await expect(checkInflatedSize(compressBody(Buffer.alloc(limit, 3)), limit)).resolves.toBeUndefined();
    await expect(checkInflatedSize(compressBody(Buffer.alloc(limit + 1, 3)), limit)).rejects.toMatchObject({ code: 'BODY_TOO_LARGE' });
    // Long enough to be inflated, and not zlib.
    await expect(checkInflatedSize(Buffer.alloc(2000, 'x'), limit)).rejects.toMatchObject({ code: 'PROTOCOL_ERROR', message: expect.stringMatching(/not valid zlib data/) });
    const noise = compressBody(Buffer.from(Array.from({ length: 100_000 }, (_, i) => (i * 2654435761) >>> 24)));
    await expect(checkInflatedSize(noise.subarray(0, noise.length >> 1), limit)).rejects.toMatchObject({ code: 'PROTOCOL_ERROR', message: expect.stringMatching(/unexpected end of file/) });
    // Too short to pass the limit at deflate's best ratio: not inflated at all.
    await expect(checkInflatedSize(Buffer.alloc(1000, 'x'), limit)).resolves.toBeUndefined();
    await expect(checkInflatedSize(bomb, 0)).rejects.toThrow(/limit/);

    // Thirty-two bombs checked at once hold far less than thirty-two limits.
    const before = process.memoryUsage().arrayBuffers;
    let peak = 0;
    const sampler = setInterval(() => (peak = Math.max(peak, process.memoryUsage().arrayBuffers - before)), 1);
    const outcomes = await Promise.allSettled(Array.from({ length: 32 }, () => checkInflatedSize(bomb, 8 << 20)));
    clearInterval(sampler);
    expect(outcomes.every((o) => o.status === 'rejected' && (o.reason as { code: string }).code === 'BODY_TOO_LARGE')).toBe(true);
    expect(peak).toBeLessThan(64 << 20);
  });

  it('answers random and truncated input to the size check with a KarmanError, never anything else', async () => {
    const valid = compressBody(Buffer.alloc(300_000, 'abcdefgh'));
    const input = fc.oneof(
      fc.uint8Array({ minLength: 1, maxLength: 3000 }),
      fc.integer({ min: 0, max: valid.length }).map((n) => valid.subarray(0, n)),
      fc.tuple(fc.nat(valid.length - 1), fc.integer({ min: 1, max: 255 })).map(([at, x]) => {
        const copy = Buffer.from(valid);
        copy[at] = copy[at]! ^ x;
        return copy;
      }),
    );
    await fc.assert(
      fc.asyncProperty(input, fc.integer({ min: 1, max: 1 << 20 }), async (bytes, limit) => {
        try {
          await checkInflatedSize(bytes, limit);
        } catch (error) {
          expect(['PROTOCOL_ERROR', 'BODY_TOO_LARGE']).toContain((error as KarmanError).code);
        }
      }),
      { numRuns: 500 },
    );
  });
});
