/**
 * The remoting frame around a command's header and body: a u32 length, a u8 serialize type and a u24
 * header length, then the header and the body. See remoting-command.ts for the layout.
 */
import { ProtocolError } from './errors.js';
import { binaryHeaderBound, decodeBinaryHeader, writeBinaryHeader } from './binary-header.js';
import { decodeJsonHeader, jsonHeaderText } from './json-header.js';
import { DEFAULT_MAX_FRAME_SIZE, DEFAULT_MAX_HEADER_SIZE, SerializeType } from './remoting-command.js';
import type { RemotingCommand } from './remoting-command.js';

/** Write the 8-byte frame head at `at`. */
function writeFrameHead(out: Buffer, at: number, type: SerializeType, headerLength: number, bodyLength: number): void {
  if (headerLength > 0xffffff) throw new ProtocolError(`header of ${headerLength} bytes exceeds the 16 MiB the frame's u24 length field can hold`);
  out.writeUInt32BE(4 + headerLength + bodyLength, at);
  out.writeUInt32BE(((type & 0xff) << 24 | headerLength) >>> 0, at + 4);
}

/**
 * Encode a command's frame head (length, type, header) into a buffer of its own, leaving `room`
 * bytes after the header for the caller. Returns the buffer and the header length.
 */
function encodeHead(command: RemotingCommand, bodyLength: number, room: number): [Buffer, number] {
  if (command.serializeType === SerializeType.ROCKETMQ) {
    const bound = binaryHeaderBound(command);
    const out = Buffer.allocUnsafe(8 + bound + room);
    const headerLength = writeBinaryHeader(command, out, 8, 8 + bound) - 8;
    writeFrameHead(out, 0, SerializeType.ROCKETMQ, headerLength, bodyLength);
    return [out.subarray(0, 8 + headerLength + room), headerLength];
  }
  const text = jsonHeaderText(command);
  const headerLength = Buffer.byteLength(text);
  if (headerLength > 0xffffff) throw new ProtocolError(`header of ${headerLength} bytes exceeds the 16 MiB the frame's u24 length field can hold`);
  const out = Buffer.allocUnsafe(8 + headerLength + room);
  out.write(text, 8, 'utf8');
  writeFrameHead(out, 0, command.serializeType ?? SerializeType.JSON, headerLength, bodyLength);
  return [out, headerLength];
}

/**
 * Encode a command as one frame. Returns the frame head (length, type, header) and the body as
 * separate buffers so a large body is never copied; `encodeFrame` joins them when one buffer is
 * wanted.
 */
export function encodeFrameParts(command: RemotingCommand): [Buffer, Uint8Array | undefined] {
  const bodyLength = command.body?.length ?? 0;
  const [head] = encodeHead(command, bodyLength, 0);
  return [head, bodyLength > 0 ? command.body : undefined];
}

/** Encode a command as one frame in one buffer (one allocation: the body is copied in). */
export function encodeFrame(command: RemotingCommand): Buffer {
  const body = command.body;
  const bodyLength = body?.length ?? 0;
  const [out, headerLength] = encodeHead(command, bodyLength, bodyLength);
  if (bodyLength > 0) out.set(body!, 8 + headerLength);
  return out;
}

/**
 * Encode a command as one frame into `target` from `offset`, when the whole frame fits; returns
 * where it ends, or -1 (and the frame is not there) when it does not. A sender batching frames into
 * one buffer uses this: no allocation per frame.
 */
export function writeFrame(command: RemotingCommand, target: Buffer, offset: number): number {
  const body = command.body;
  const bodyLength = body?.length ?? 0;
  const limit = target.length - bodyLength;
  const at = offset + 8;
  let end: number;
  if (command.serializeType === SerializeType.ROCKETMQ) {
    end = writeBinaryHeader(command, target, at, limit);
    if (end < 0) return -1;
  } else {
    const text = jsonHeaderText(command);
    // Frames are small next to a batch: the 3-bytes-per-unit bound almost always settles it.
    if (at + text.length * 3 > limit && at + Buffer.byteLength(text) > limit) return -1;
    end = at + (text.length === 0 ? 0 : target.write(text, at, 'utf8'));
  }
  writeFrameHead(target, offset, command.serializeType ?? SerializeType.JSON, end - at, bodyLength);
  if (bodyLength > 0) target.set(body!, end);
  return end + bodyLength;
}


// ---------------------------------------------------------------------------------------------
// Decoding
//
// Decoders read the header where it lies (buffer, start, end) instead of slicing a view per step:
// a Buffer view costs about as much as decoding a small header. The body is the one view made.

/** Limits a decoder enforces. */
export interface FrameLimits {
  /** Largest frame (length field + 4) accepted. Default 16 MiB. */
  maxFrameSize?: number;
  /** Largest header accepted. Default 64 KiB. */
  maxHeaderSize?: number;
}

/**
 * Decode one whole frame (as carried by one WebSocket message). Throws `ProtocolError` naming what
 * is wrong when the bytes are not exactly one valid frame within the limits.
 */
export function decodeFrame(frame: Uint8Array, limits: FrameLimits = {}): RemotingCommand {
  const buf = Buffer.isBuffer(frame) ? frame : Buffer.from(frame.buffer, frame.byteOffset, frame.byteLength);
  if (buf.length < 8) throw new ProtocolError(`frame of ${buf.length} bytes is shorter than the 8-byte frame head`);
  const length = buf.readUInt32BE(0);
  if (length + 4 !== buf.length) throw new ProtocolError(`frame length field says ${length + 4} bytes but the message has ${buf.length}`);
  checkFrameSize(length, limits);
  return decodeFrameAt(buf, 4, buf.length, limits);
}

function checkFrameSize(length: number, limits: FrameLimits): void {
  const max = limits.maxFrameSize ?? DEFAULT_MAX_FRAME_SIZE;
  if (length + 4 > max) throw new ProtocolError(`frame of ${length + 4} bytes exceeds the ${max}-byte limit`);
  if (length < 4) throw new ProtocolError(`frame length ${length} is smaller than the 4-byte header-length field`);
}

/** Decode the frame in `buf` from `start` (just after its length field) to `end`. */
function decodeFrameAt(buf: Buffer, start: number, end: number, limits: FrameLimits): RemotingCommand {
  const word = buf.readUInt32BE(start);
  const type = word >>> 24;
  const headerLength = word & 0xffffff;
  const maxHeader = limits.maxHeaderSize ?? DEFAULT_MAX_HEADER_SIZE;
  if (headerLength > maxHeader) throw new ProtocolError(`header of ${headerLength} bytes exceeds the ${maxHeader}-byte limit`);
  if (4 + headerLength > end - start) throw new ProtocolError(`header length ${headerLength} runs past the end of a ${end - start + 4}-byte frame`);
  const headerStart = start + 4;
  const headerEnd = headerStart + headerLength;
  let command: RemotingCommand;
  if (type === SerializeType.JSON) command = decodeJsonHeader(buf, headerStart, headerEnd);
  else if (type === SerializeType.ROCKETMQ) command = decodeBinaryHeader(buf, headerStart, headerEnd);
  else throw new ProtocolError(`unknown serialize type ${type} (expected 0 = JSON or 1 = ROCKETMQ)`);
  if (end > headerEnd) command.body = buf.subarray(headerEnd, end);
  return command;
}

/**
 * Splits a TCP byte stream into frames. `push` returns every command completed by the chunk and
 * throws `ProtocolError` on the first bad frame; the connection should then be closed, since the
 * stream can no longer be resynchronized.
 *
 * Frames lying whole in a chunk are decoded where they lie; only a frame cut across chunks is
 * copied, once, when its last byte arrives. A body is a view of the chunk it arrived in.
 */
export class FrameDecoder {
  /** Bytes of an unfinished frame, oldest first; never a whole frame. */
  private chunks: Buffer[] = [];
  private buffered = 0;
  private readonly limits: FrameLimits;

  constructor(limits: FrameLimits = {}) {
    this.limits = limits;
  }

  /** Bytes received but not yet part of a whole frame. */
  get pendingBytes(): number {
    return this.buffered;
  }

  /** Socket reads those bytes are held in (each costs a Buffer, whatever its length). */
  get pendingChunks(): number {
    return this.chunks.length;
  }

  push(chunk: Buffer): RemotingCommand[] {
    const out: RemotingCommand[] = [];
    let p = 0;
    if (this.buffered > 0) {
      p = this.finishPending(chunk, out);
      if (p < 0) return out;
    }
    const end = chunk.length;
    while (end - p >= 4) {
      const length = chunk.readUInt32BE(p);
      checkFrameSize(length, this.limits);
      if (end - p - 4 < length) break;
      out.push(decodeFrameAt(chunk, p + 4, p + 4 + length, this.limits));
      p += 4 + length;
    }
    if (p < end) {
      this.chunks.push(p === 0 ? chunk : chunk.subarray(p));
      this.buffered = end - p;
    }
    return out;
  }

  /**
   * Complete the pending frame with the start of `chunk`: decodes it into `out` and returns where
   * in `chunk` the next frame begins, or -1 when the chunk did not complete it (and is now pending).
   */
  private finishPending(chunk: Buffer, out: RemotingCommand[]): number {
    this.chunks.push(chunk);
    const before = this.buffered;
    this.buffered += chunk.length;
    if (this.buffered < 4) return -1;
    const length = this.pendingLength();
    checkFrameSize(length, this.limits);
    if (this.buffered < 4 + length) return -1;
    const used = 4 + length - before;
    this.chunks[this.chunks.length - 1] = chunk.subarray(0, used);
    const frame = Buffer.concat(this.chunks, 4 + length);
    this.chunks = [];
    this.buffered = 0;
    out.push(decodeFrameAt(frame, 4, frame.length, this.limits));
    return used;
  }

  /** The length field of the pending frame, which may be cut across chunks. */
  private pendingLength(): number {
    const first = this.chunks[0]!;
    if (first.length >= 4) return first.readUInt32BE(0);
    let length = 0;
    let read = 0;
    for (const chunk of this.chunks) {
      for (let i = 0; i < chunk.length && read < 4; i++, read++) length = length * 256 + chunk[i]!;
      if (read === 4) break;
    }
    return length;
  }
}
