/**
 * Body compression. A producer deflates a body of `COMPRESS_BODY_THRESHOLD` bytes or more (zlib
 * format: deflate with the 2-byte zlib header and Adler-32 trailer, Java's `Deflater` at level 5,
 * as Java's `UtilAll.compress` writes) and sets SYSFLAG bit 0. The broker stores the compressed bytes as they are; the
 * consumer inflates them. RocketMQ 5.x also names the algorithm in SYSFLAG bits 8–10 (0 and 3 mean
 * zlib, 1 LZ4, 2 ZSTD); only zlib is supported here, and the others are refused with a clear error.
 */
import { constants as bufferConstants } from 'node:buffer';
import { createInflate, deflateSync, inflateSync } from 'node:zlib';
import { InvalidArgumentError, KarmanError, ProtocolError } from './errors.js';

/** Bodies this long or longer are compressed by producers (`compressMsgBodyOverHowmuch`, compared with `>=`). */
export const COMPRESS_BODY_THRESHOLD = 4096;
/** Java producers' `zipCompressLevel`. */
export const DEFAULT_COMPRESS_LEVEL = 5;
/**
 * Inflating stops past this many bytes: RocketMQ's `maxMessageSize` (4 MiB), which a producer
 * checks on the body before compressing it, so no body a RocketMQ producer sent inflates further.
 * A 64 KiB zlib stream of zeros inflates to 64 MiB; without a cap every such body costs that much.
 */
export const DEFAULT_MAX_DECOMPRESSED_SIZE = 4 * 1024 * 1024;

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

/**
 * Deflate's best compression ratio: a 258-byte match takes at least two bits (a one-bit length
 * code and a one-bit distance code), so no zlib stream inflates to more than 1032 times its length.
 */
export const DEFLATE_MAX_RATIO = 1032;

/** Output chunk of `checkInflatedSize`: zlib's 16 KiB default costs a thread-pool round trip per 16 KiB, three times the time. */
const INFLATE_CHECK_CHUNK = 64 * 1024;

function checkLimit(maxOutputLength: number): void {
  if (!Number.isSafeInteger(maxOutputLength) || maxOutputLength < 1 || maxOutputLength > bufferConstants.MAX_LENGTH) {
    throw new InvalidArgumentError(`inflate limit ${maxOutputLength} is not a byte count from 1 to ${bufferConstants.MAX_LENGTH}; pass maxMessageSize in bytes`);
  }
}

function tooLarge(maxOutputLength: number, cause?: unknown): KarmanError {
  return new KarmanError('BODY_TOO_LARGE', `compressed body inflates to more than ${maxOutputLength} bytes, the limit`, { cause });
}

function inflateError(error: unknown, maxOutputLength: number): KarmanError {
  if ((error as NodeJS.ErrnoException).code === 'ERR_BUFFER_TOO_LARGE') return tooLarge(maxOutputLength, error);
  const reason = error instanceof Error ? error.message : String(error);
  return new ProtocolError(`message body is flagged compressed but is not valid zlib data (${reason}); was it compressed with zlib/deflate?`, error);
}

/**
 * Inflate a zlib body, never past `maxOutputLength` bytes: zlib inflates chunk by chunk and stops
 * at the first chunk beyond the limit, so a hostile body costs at most the limit, not what it would
 * inflate to (RocketMQ's `UtilAll.uncompress` has no limit). Throws a `KarmanError` with code
 * `BODY_TOO_LARGE` past the limit, a `ProtocolError` when the bytes are not zlib data.
 */
export function decompressBody(body: Uint8Array, maxOutputLength: number = DEFAULT_MAX_DECOMPRESSED_SIZE): Buffer {
  checkLimit(maxOutputLength);
  try {
    return inflateSync(body, { maxOutputLength });
  } catch (error) {
    throw inflateError(error, maxOutputLength);
  }
}

/**
 * Check that a zlib body inflates to at most `maxOutputLength` bytes: rejects with
 * `decompressBody`'s errors. A body too short to pass the limit even at deflate's best ratio
 * resolves at once without inflating (so without checking it is zlib at all). A longer one is
 * inflated on zlib's thread pool, so the event loop is not held meanwhile, and each chunk is
 * counted and dropped: a check holds one chunk (64 KiB) and zlib's window, not the body, however
 * many run at once, and stops at the first chunk past the limit.
 */
export async function checkInflatedSize(body: Uint8Array, maxOutputLength: number = DEFAULT_MAX_DECOMPRESSED_SIZE): Promise<void> {
  checkLimit(maxOutputLength);
  if (body.length * DEFLATE_MAX_RATIO <= maxOutputLength) return;
  await new Promise<void>((resolve, reject) => {
    const inflater = createInflate({ chunkSize: INFLATE_CHECK_CHUNK });
    let inflated = 0;
    inflater.on('data', (chunk: Buffer) => {
      inflated += chunk.length;
      if (inflated > maxOutputLength) {
        inflater.destroy();
        reject(tooLarge(maxOutputLength));
      }
    });
    inflater.on('error', (error) => reject(inflateError(error, maxOutputLength)));
    inflater.on('end', () => resolve());
    inflater.end(body);
  });
}

/**
 * The body a consumer should see: inflated (at most `maxOutputLength` bytes, see `decompressBody`)
 * when SYSFLAG says compressed, else the body itself. ProtocolError for LZ4 or ZSTD bodies, which
 * Karman does not implement.
 */
export function uncompressedBody(body: Buffer, sysFlag: number, maxOutputLength?: number): Buffer {
  if ((sysFlag & SYSFLAG_COMPRESSED) === 0) return body;
  const type = (sysFlag & SYSFLAG_COMPRESSION_TYPE_MASK) >> 8;
  if (type !== CompressionType.ZLIB && type !== CompressionType.ZLIB_LEGACY) {
    throw new ProtocolError(`message body uses compression type ${type} (${type === 1 ? 'LZ4' : type === 2 ? 'ZSTD' : 'unknown'}); only zlib is supported`);
  }
  return decompressBody(body, maxOutputLength);
}
