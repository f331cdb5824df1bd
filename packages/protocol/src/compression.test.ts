import { inflateSync } from 'node:zlib';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { COMPRESS_BODY_THRESHOLD, compressBody, decompressBody, shouldCompressBody, uncompressedBody } from './compression.js';
import { ProtocolError } from './errors.js';

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

  it('stops a body that inflates past the limit', () => {
    const bomb = compressBody(Buffer.alloc(1_000_000));
    expect(() => decompressBody(bomb, 1000)).toThrow(ProtocolError);
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
