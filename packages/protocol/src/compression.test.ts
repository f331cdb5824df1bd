import { inflateSync } from 'node:zlib';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { COMPRESS_BODY_THRESHOLD, DEFAULT_MAX_DECOMPRESSED_SIZE, compressBody, decompressBody, shouldCompressBody, uncompressedBody } from './compression.js';
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
});
