/**
 * Body compression. A producer deflates a body of `COMPRESS_BODY_THRESHOLD` bytes or more (zlib
 * format: deflate with the 2-byte zlib header and Adler-32 trailer, Java's `Deflater` at level 5,
 * reference §0) and sets SYSFLAG bit 0. The broker stores the compressed bytes as they are; the
 * consumer inflates them. RocketMQ 5.x also names the algorithm in SYSFLAG bits 8–10 (0 and 3 mean
 * zlib, 1 LZ4, 2 ZSTD); only zlib is supported here, and the others are refused with a clear error.
 */
import { deflateSync, inflateSync } from 'node:zlib';
import { ProtocolError } from './errors.js';

/** Bodies this long or longer are compressed by producers (`compressMsgBodyOverHowmuch`, compared with `>=`). */
export const COMPRESS_BODY_THRESHOLD = 4096;
/** Java producers' `zipCompressLevel`. */
export const DEFAULT_COMPRESS_LEVEL = 5;
/** Inflating stops past this many bytes, so a tiny hostile body cannot exhaust memory. */
export const DEFAULT_MAX_DECOMPRESSED_SIZE = 64 * 1024 * 1024;

/** Compression algorithm in SYSFLAG bits 8–10 (`CompressionType.findByValue`; 0 is zlib for older writers). */
export const CompressionType = { ZLIB_LEGACY: 0, LZ4: 1, ZSTD: 2, ZLIB: 3 } as const;
export type CompressionType = (typeof CompressionType)[keyof typeof CompressionType];

const SYSFLAG_COMPRESSED = 0x1;
const SYSFLAG_COMPRESSION_TYPE_MASK = 0x700;

/** True when a producer should compress this body (RocketMQ's `tryToCompressMessage` rule). */
export function shouldCompressBody(body: Uint8Array, threshold: number = COMPRESS_BODY_THRESHOLD): boolean {
  return body.length >= threshold;
}

/** Deflate a body in zlib format, level 5 by default, as Java's `UtilAll.compress` does. */
export function compressBody(body: Uint8Array, level: number = DEFAULT_COMPRESS_LEVEL): Buffer {
  return deflateSync(body, { level });
}

/** Inflate a zlib body; ProtocolError when the bytes are not zlib data or inflate past `maxOutputLength`. */
export function decompressBody(body: Uint8Array, maxOutputLength: number = DEFAULT_MAX_DECOMPRESSED_SIZE): Buffer {
  try {
    return inflateSync(body, { maxOutputLength });
  } catch (error) {
    const reason = error instanceof Error ? error.message : String(error);
    throw new ProtocolError(`message body is flagged compressed but is not valid zlib data (${reason}); was it compressed with zlib/deflate?`, error);
  }
}

/**
 * The body a consumer should see: inflated when SYSFLAG says compressed, else the body itself.
 * ProtocolError for LZ4 or ZSTD bodies, which Karman does not implement.
 */
export function uncompressedBody(body: Buffer, sysFlag: number, maxOutputLength?: number): Buffer {
  if ((sysFlag & SYSFLAG_COMPRESSED) === 0) return body;
  const type = (sysFlag & SYSFLAG_COMPRESSION_TYPE_MASK) >> 8;
  if (type !== CompressionType.ZLIB && type !== CompressionType.ZLIB_LEGACY) {
    throw new ProtocolError(`message body uses compression type ${type} (${type === 1 ? 'LZ4' : type === 2 ? 'ZSTD' : 'unknown'}); only zlib is supported`);
  }
  return decompressBody(body, maxOutputLength);
}
