/**
 * RocketMQ's remoting command and its frame.
 *
 * Frame layout (big-endian), identical on TCP and WebSocket (one WebSocket binary message = one
 * frame; a TCP stream carries frames back to back):
 *
 *   offset 0  u32  length = 4 + headerLength + bodyLength   (excludes these 4 bytes)
 *   offset 4  u8   serialize type: 0 = JSON, 1 = ROCKETMQ binary
 *   offset 5  u24  headerLength
 *   offset 8  header (headerLength bytes)
 *   then      body   (the rest)
 *
 * JSON header: {"code":..,"language":"JAVA","version":..,"opaque":..,"flag":..,"remark":..,
 * "extFields":{..}}. Java clients send extFields values as strings; ali-ons sends numbers and
 * booleans. We keep what arrived and let each request's zod schema coerce.
 *
 * ROCKETMQ binary header (RocketMQSerializable): code i16, language u8, version i16, opaque i32,
 * flag i32, remark (i32 length + UTF-8), extFields (i32 total length, then per entry: i16 key length,
 * key, i32 value length, value). We decode it and answer in the serialization a request arrived in.
 */
import { InvalidArgumentError, ProtocolError } from './errors.js';

/**
 * Field maps have no prototype, so a key like "__proto__" stays an ordinary field (an assignment
 * on a plain object would hit Object.prototype's setter and vanish).
 */
function fieldMap(): Record<string, ExtFieldValue> {
  return Object.create(null) as Record<string, ExtFieldValue>;
}

function setField(target: Record<string, ExtFieldValue>, key: string, value: ExtFieldValue): void {
  target[key] = value;
}

function checkWidth(value: number, bits: 16 | 32, field: string): void {
  const limit = 2 ** (bits - 1);
  if (!Number.isInteger(value) || value < -limit || value >= limit) throw new InvalidArgumentError(`cannot encode ${field} ${value} in a ROCKETMQ binary header: the field holds a ${bits}-bit signed integer`);
}

/** Flag bit 0: the command is a response. */
export const FLAG_RESPONSE = 0b01;
/** Flag bit 1: the request expects no response. */
export const FLAG_ONEWAY = 0b10;

/** Serialization of the header. */
export const SerializeType = { JSON: 0, ROCKETMQ: 1 } as const;
export type SerializeType = (typeof SerializeType)[keyof typeof SerializeType];

/** Language codes of the ROCKETMQ binary header (`LanguageCode.java`). */
const LANGUAGES = ['JAVA', 'CPP', 'DOTNET', 'PYTHON', 'DELPHI', 'ERLANG', 'RUBY', 'OTHER', 'HTTP', 'GO', 'PHP', 'OMS', 'RUST', 'NODE_JS'] as const;

/** An extFields value as it arrived: strings from Java, numbers and booleans from others. */
export type ExtFieldValue = string | number | boolean;

/** The unit on the wire: a request or a response. */
export interface RemotingCommand {
  /** Request code (for requests) or response code (for responses). */
  code: number;
  /** Sender's language, e.g. `JAVA`; Karman sends `NODE_JS`... as `JAVA`-compatible text. */
  language: string;
  /** Sender's protocol version (RocketMQ's MQVersion ordinal). */
  version: number;
  /** Request id; a response echoes its request's opaque. */
  opaque: number;
  /** Bit 0 response, bit 1 oneway. */
  flag: number;
  /** Error text on responses. */
  remark?: string;
  /** Header fields of the request or response. */
  extFields: Record<string, ExtFieldValue>;
  /** Opaque payload. */
  body?: Uint8Array;
  /** How the header was (or is to be) serialized. Defaults to JSON. */
  serializeType?: SerializeType;
}

/** Karman's protocol version as RocketMQ counts it (V4_9_4 = 395 is what recent 4.x clients send). */
export const KARMAN_VERSION = 395;
/** Karman's language field; `JAVA` is what every RocketMQ server expects from its own kind. */
export const KARMAN_LANGUAGE = 'JAVA';

/** Header length above which a frame is refused (the u24 field allows 16 MiB; we cap lower). */
export const DEFAULT_MAX_HEADER_SIZE = 64 * 1024;
/** Largest frame accepted, RocketMQ's `com.rocketmq.remoting.frameMaxLength`. */
export const DEFAULT_MAX_FRAME_SIZE = 16 * 1024 * 1024;

let nextOpaque = 0;
/** A fresh request id, unique within this process (wraps at 2^31). */
export function newOpaque(): number {
  nextOpaque = (nextOpaque + 1) & 0x7fffffff;
  return nextOpaque;
}

/** Build a request command. */
export function createRequest(code: number, extFields: Record<string, ExtFieldValue | undefined | null> = {}, body?: Uint8Array): RemotingCommand {
  return { code, language: KARMAN_LANGUAGE, version: KARMAN_VERSION, opaque: newOpaque(), flag: 0, extFields: compactFields(extFields), body };
}

/** Build the response to a request: same opaque, same serialization, response flag set. */
export function createResponse(
  request: Pick<RemotingCommand, 'opaque' | 'serializeType'>,
  code: number,
  remark?: string,
  extFields: Record<string, ExtFieldValue | undefined | null> = {},
  body?: Uint8Array,
): RemotingCommand {
  return {
    code,
    language: KARMAN_LANGUAGE,
    version: KARMAN_VERSION,
    opaque: request.opaque,
    flag: FLAG_RESPONSE,
    remark,
    extFields: compactFields(extFields),
    body,
    serializeType: request.serializeType,
  };
}

/** True when the command is a response. */
export function isResponse(command: Pick<RemotingCommand, 'flag'>): boolean {
  return (command.flag & FLAG_RESPONSE) !== 0;
}

/** True when the command is a oneway request. */
export function isOneway(command: Pick<RemotingCommand, 'flag'>): boolean {
  return (command.flag & FLAG_ONEWAY) !== 0;
}

function compactFields(fields: Record<string, ExtFieldValue | undefined | null>): Record<string, ExtFieldValue> {
  const out = fieldMap();
  for (const key of Object.keys(fields)) {
    const value = fields[key];
    if (value !== undefined && value !== null) setField(out, key, value);
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// Encoding

function jsonHeader(command: RemotingCommand): Buffer {
  // extFields values go out as strings, as Java's HashMap<String, String> expects.
  const ext = Object.create(null) as Record<string, string>;
  for (const key of Object.keys(command.extFields)) ext[key] = String(command.extFields[key]);
  const header: Record<string, unknown> = {
    code: command.code,
    language: command.language,
    version: command.version,
    opaque: command.opaque,
    flag: command.flag,
    extFields: ext,
    serializeTypeCurrentRPC: 'JSON',
  };
  if (command.remark !== undefined) header.remark = command.remark;
  return Buffer.from(JSON.stringify(header), 'utf8');
}

function binaryHeader(command: RemotingCommand): Buffer {
  checkWidth(command.code, 16, 'code');
  checkWidth(command.version, 16, 'version');
  checkWidth(command.opaque, 32, 'opaque');
  checkWidth(command.flag, 32, 'flag');
  const remark = command.remark === undefined ? null : Buffer.from(command.remark, 'utf8');
  const entries: Array<[Buffer, Buffer]> = [];
  let extLength = 0;
  for (const key of Object.keys(command.extFields)) {
    const k = Buffer.from(key, 'utf8');
    if (k.length > 0x7fff) throw new InvalidArgumentError(`cannot encode extFields key of ${k.length} bytes in a ROCKETMQ binary header: keys hold at most 32767 bytes`);
    const v = Buffer.from(String(command.extFields[key]), 'utf8');
    entries.push([k, v]);
    extLength += 2 + k.length + 4 + v.length;
  }
  const size = 2 + 1 + 2 + 4 + 4 + 4 + (remark?.length ?? 0) + 4 + extLength;
  const out = Buffer.allocUnsafe(size);
  let p = 0;
  p = out.writeInt16BE(command.code, p);
  const lang = LANGUAGES.indexOf(command.language as (typeof LANGUAGES)[number]);
  p = out.writeUInt8(lang < 0 ? LANGUAGES.indexOf('OTHER') : lang, p);
  p = out.writeInt16BE(command.version, p);
  p = out.writeInt32BE(command.opaque, p);
  p = out.writeInt32BE(command.flag, p);
  p = out.writeInt32BE(remark?.length ?? 0, p);
  if (remark) p += remark.copy(out, p);
  p = out.writeInt32BE(extLength, p);
  for (const [k, v] of entries) {
    p = out.writeInt16BE(k.length, p);
    p += k.copy(out, p);
    p = out.writeInt32BE(v.length, p);
    p += v.copy(out, p);
  }
  return out;
}

/**
 * Encode a command as one frame. Returns the frame head (length, type, header) and the body as
 * separate buffers so a large body is never copied; `encodeFrame` joins them when one buffer is
 * wanted.
 */
export function encodeFrameParts(command: RemotingCommand): [Buffer, Uint8Array | undefined] {
  const header = command.serializeType === SerializeType.ROCKETMQ ? binaryHeader(command) : jsonHeader(command);
  if (header.length > 0xffffff) throw new ProtocolError(`header of ${header.length} bytes exceeds the 16 MiB the frame's u24 length field can hold`);
  const bodyLength = command.body?.length ?? 0;
  const head = Buffer.allocUnsafe(8 + header.length);
  head.writeUInt32BE(4 + header.length + bodyLength, 0);
  head.writeUInt32BE((((command.serializeType ?? SerializeType.JSON) & 0xff) << 24 | header.length) >>> 0, 4);
  header.copy(head, 8);
  return [head, bodyLength > 0 ? command.body : undefined];
}

/** Encode a command as one frame in one buffer. */
export function encodeFrame(command: RemotingCommand): Buffer {
  const [head, body] = encodeFrameParts(command);
  return body ? Buffer.concat([head, body]) : head;
}

// ---------------------------------------------------------------------------------------------
// Decoding

/** Limits a decoder enforces. */
export interface FrameLimits {
  /** Largest frame (length field + 4) accepted. Default 16 MiB. */
  maxFrameSize?: number;
  /** Largest header accepted. Default 64 KiB. */
  maxHeaderSize?: number;
}

function asInt(value: unknown, field: string): number {
  const n = typeof value === 'number' ? value : typeof value === 'string' && /^-?\d+$/.test(value) ? Number(value) : Number.NaN;
  if (Number.isInteger(n) && n >= -0x80000000 && n <= 0x7fffffff) return n;
  if (Number.isInteger(n) || (typeof value === 'string' && /^-?\d+$/.test(value)))
    throw new ProtocolError(`header field "${field}" must be an integer between -2147483648 and 2147483647, got ${JSON.stringify(value).slice(0, 40)}`);
  throw new ProtocolError(`header field "${field}" must be an integer, got ${JSON.stringify(value)?.slice(0, 40)}`);
}

function decodeJsonHeader(bytes: Buffer): Omit<RemotingCommand, 'body'> {
  let parsed: unknown;
  try {
    parsed = JSON.parse(bytes.toString('utf8'));
  } catch (cause) {
    throw new ProtocolError('header is not valid JSON', cause);
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) throw new ProtocolError('header must be a JSON object');
  const h = parsed as Record<string, unknown>;
  const extFields = fieldMap();
  if (h.extFields !== undefined && h.extFields !== null) {
    if (typeof h.extFields !== 'object' || Array.isArray(h.extFields)) throw new ProtocolError('header field "extFields" must be an object');
    for (const [key, value] of Object.entries(h.extFields as Record<string, unknown>)) {
      if (typeof value === 'string' || typeof value === 'number' || typeof value === 'boolean') setField(extFields, key, value);
      else if (value !== null && value !== undefined) setField(extFields, key, JSON.stringify(value));
    }
  }
  if (h.remark !== undefined && h.remark !== null && typeof h.remark !== 'string') throw new ProtocolError('header field "remark" must be a string');
  return {
    code: asInt(h.code, 'code'),
    language: typeof h.language === 'string' ? h.language : 'OTHER',
    version: h.version === undefined ? 0 : asInt(h.version, 'version'),
    opaque: h.opaque === undefined ? 0 : asInt(h.opaque, 'opaque'),
    flag: h.flag === undefined ? 0 : asInt(h.flag, 'flag'),
    remark: (h.remark as string | null | undefined) ?? undefined,
    extFields,
    serializeType: SerializeType.JSON,
  };
}

function decodeBinaryHeader(bytes: Buffer): Omit<RemotingCommand, 'body'> {
  const need = (p: number, n: number, what: string): void => {
    if (p + n > bytes.length) throw new ProtocolError(`binary header truncated reading ${what}`);
  };
  let p = 0;
  need(p, 17, 'fixed fields');
  const code = bytes.readInt16BE(p);
  p += 2;
  const language = LANGUAGES[bytes.readUInt8(p)] ?? 'OTHER';
  p += 1;
  const version = bytes.readInt16BE(p);
  p += 2;
  const opaque = bytes.readInt32BE(p);
  p += 4;
  const flag = bytes.readInt32BE(p);
  p += 4;
  const remarkLength = bytes.readInt32BE(p);
  p += 4;
  if (remarkLength < 0) throw new ProtocolError(`binary header remark length ${remarkLength} is negative`);
  need(p, remarkLength, 'remark');
  const remark = remarkLength > 0 ? bytes.toString('utf8', p, p + remarkLength) : undefined;
  p += remarkLength;
  need(p, 4, 'extFields length');
  const extLength = bytes.readInt32BE(p);
  p += 4;
  if (extLength < 0) throw new ProtocolError(`binary header extFields length ${extLength} is negative`);
  need(p, extLength, 'extFields');
  const end = p + extLength;
  const extFields = fieldMap();
  while (p < end) {
    if (p + 2 > end) throw new ProtocolError('binary header extFields truncated reading a key length');
    const kl = bytes.readInt16BE(p);
    p += 2;
    if (kl < 0 || p + kl + 4 > end) throw new ProtocolError('binary header extFields truncated reading a key');
    const key = bytes.toString('utf8', p, p + kl);
    p += kl;
    const vl = bytes.readInt32BE(p);
    p += 4;
    if (vl < 0 || p + vl > end) throw new ProtocolError(`binary header extFields truncated reading the value of "${key}"`);
    setField(extFields, key, bytes.toString('utf8', p, p + vl));
    p += vl;
  }
  return { code, language, version, opaque, flag, remark, extFields, serializeType: SerializeType.ROCKETMQ };
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
  return decodeFrameBody(buf.subarray(4), limits);
}

function checkFrameSize(length: number, limits: FrameLimits): void {
  const max = limits.maxFrameSize ?? DEFAULT_MAX_FRAME_SIZE;
  if (length + 4 > max) throw new ProtocolError(`frame of ${length + 4} bytes exceeds the ${max}-byte limit`);
  if (length < 4) throw new ProtocolError(`frame length ${length} is smaller than the 4-byte header-length field`);
}

/** Decode the part of a frame after the length field. */
function decodeFrameBody(rest: Buffer, limits: FrameLimits): RemotingCommand {
  const word = rest.readUInt32BE(0);
  const type = word >>> 24;
  const headerLength = word & 0xffffff;
  const maxHeader = limits.maxHeaderSize ?? DEFAULT_MAX_HEADER_SIZE;
  if (headerLength > maxHeader) throw new ProtocolError(`header of ${headerLength} bytes exceeds the ${maxHeader}-byte limit`);
  if (4 + headerLength > rest.length) throw new ProtocolError(`header length ${headerLength} runs past the end of a ${rest.length + 4}-byte frame`);
  const headerBytes = rest.subarray(4, 4 + headerLength);
  let command: RemotingCommand;
  if (type === SerializeType.JSON) command = decodeJsonHeader(headerBytes);
  else if (type === SerializeType.ROCKETMQ) command = decodeBinaryHeader(headerBytes);
  else throw new ProtocolError(`unknown serialize type ${type} (expected 0 = JSON or 1 = ROCKETMQ)`);
  const body = rest.subarray(4 + headerLength);
  if (body.length > 0) command.body = body;
  return command;
}

/**
 * Splits a TCP byte stream into frames. `push` returns every command completed by the chunk and
 * throws `ProtocolError` on the first bad frame; the connection should then be closed, since the
 * stream can no longer be resynchronized.
 */
export class FrameDecoder {
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

  push(chunk: Buffer): RemotingCommand[] {
    this.chunks.push(chunk);
    this.buffered += chunk.length;
    const out: RemotingCommand[] = [];
    while (this.buffered >= 4) {
      const head = this.peek(4);
      const length = head.readUInt32BE(0);
      checkFrameSize(length, this.limits);
      if (this.buffered < 4 + length) break;
      const frame = this.take(4 + length);
      out.push(decodeFrameBody(frame.subarray(4), this.limits));
    }
    return out;
  }

  private peek(n: number): Buffer {
    const first = this.chunks[0]!;
    if (first.length >= n) return first;
    this.chunks = [Buffer.concat(this.chunks)];
    return this.chunks[0]!;
  }

  private take(n: number): Buffer {
    let first = this.chunks[0]!;
    if (first.length < n) {
      this.chunks = [Buffer.concat(this.chunks)];
      first = this.chunks[0]!;
    }
    this.buffered -= n;
    if (first.length === n) {
      this.chunks.shift();
      return first;
    }
    this.chunks[0] = first.subarray(n);
    return first.subarray(0, n);
  }
}
