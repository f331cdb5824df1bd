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
//
// Every frame costs one header encode, so the JSON header is written from a template rather than
// by JSON.stringify of an object built for the purpose (the largest client-side cost in profiles).
// The output is byte for byte what JSON.stringify gave: same fields, same order, same escaping.

/**
 * Characters JSON.stringify escapes: quote, backslash, controls, and surrogates (a lone one comes
 * out as \uXXXX; a paired one is left alone, which JSON.stringify also does for us). Strings
 * without any are quoted as they are.
 */
// eslint-disable-next-line no-control-regex -- control characters are exactly what must be found
const NEEDS_ESCAPE = /["\\\u0000-\u001f\ud800-\udfff]/;

function jsonString(value: string): string {
  return NEEDS_ESCAPE.test(value) ? JSON.stringify(value) : `"${value}"`;
}

/** True when `${value}` is what JSON.stringify writes for it. */
function plainNumber(value: unknown): value is number {
  return typeof value === 'number' && Number.isFinite(value);
}

/** The JSON header text, field order as JSON.stringify of the header object wrote it. */
function jsonHeaderText(command: RemotingCommand): string {
  const { code, language, version, opaque, flag, remark, extFields } = command;
  // Anything outside the declared types (only an untyped caller can send it) goes the generic way,
  // so it is written exactly as before.
  if (!plainNumber(code) || !plainNumber(version) || !plainNumber(opaque) || !plainNumber(flag) || typeof language !== 'string' || (remark !== undefined && typeof remark !== 'string')) {
    return genericJsonHeaderText(command);
  }
  let ext = '';
  for (const key of Object.keys(extFields)) {
    // extFields values go out as strings, as Java's HashMap<String, String> expects.
    const value = extFields[key];
    ext += `${ext.length === 0 ? '' : ','}${jsonString(key)}:${jsonString(typeof value === 'string' ? value : String(value))}`;
  }
  const head = `{"code":${code},"language":${jsonString(language)},"version":${version},"opaque":${opaque},"flag":${flag},"extFields":{${ext}},"serializeTypeCurrentRPC":"JSON"`;
  return remark === undefined ? `${head}}` : `${head},"remark":${jsonString(remark)}}`;
}

function genericJsonHeaderText(command: RemotingCommand): string {
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
  return JSON.stringify(header);
}

/** The u8 language code of the binary header. */
function languageCode(language: string): number {
  const code = LANGUAGES.indexOf(language as (typeof LANGUAGES)[number]);
  return code < 0 ? LANGUAGES.indexOf('OTHER') : code;
}

/** Bytes the ROCKETMQ binary header of `command` takes. */
/**
 * An upper bound of the binary header's size: a string of n UTF-16 units takes at most 3n UTF-8
 * bytes. Cheaper than measuring each field; `encodeHead` trims what is left over.
 */
function binaryHeaderBound(command: RemotingCommand): number {
  let size = 2 + 1 + 2 + 4 + 4 + 4 + (command.remark?.length ?? 0) * 3 + 4;
  for (const key of Object.keys(command.extFields)) size += 6 + (key.length + String(command.extFields[key]).length) * 3;
  return size;
}

/** Write `text` at `at` as UTF-8 and return the bytes written; plain ASCII is copied in JavaScript, the rest goes to `Buffer.write`. */
function writeText(out: Buffer, at: number, text: string): number {
  const n = text.length;
  if (n > SHORT_TEXT) return out.write(text, at, 'utf8');
  for (let i = 0; i < n; i++) {
    const c = text.charCodeAt(i);
    if (c >= 0x80) return out.write(text, at, 'utf8');
    out[at + i] = c;
  }
  return n;
}

/**
 * Write the ROCKETMQ binary header of `command` into `out` from `at`, using no byte at or past
 * `limit`. Returns where it ends, or -1 when it does not fit (bytes before `limit` may have been
 * written). Throws `InvalidArgumentError` for a value the header cannot hold.
 */
function writeBinaryHeader(command: RemotingCommand, out: Buffer, at: number, limit: number): number {
  checkWidth(command.code, 16, 'code');
  checkWidth(command.version, 16, 'version');
  checkWidth(command.opaque, 32, 'opaque');
  checkWidth(command.flag, 32, 'flag');
  if (at + 21 > limit) return -1;
  let p = out.writeInt16BE(command.code, at);
  p = out.writeUInt8(languageCode(command.language), p);
  p = out.writeInt16BE(command.version, p);
  p = out.writeInt32BE(command.opaque, p);
  p = out.writeInt32BE(command.flag, p);
  const remark = command.remark ?? '';
  // A string of n UTF-16 units takes at most 3n UTF-8 bytes; only when that bound does not fit is
  // the exact length worth computing.
  if (p + 8 + remark.length * 3 > limit && p + 8 + Buffer.byteLength(remark) > limit) return -1;
  const remarkLength = remark.length === 0 ? 0 : writeText(out, p + 4, remark);
  p = out.writeInt32BE(remarkLength, p) + remarkLength;
  const extAt = p;
  p += 4;
  for (const key of Object.keys(command.extFields)) {
    const value = String(command.extFields[key]);
    if (p + 6 + (key.length + value.length) * 3 > limit && p + 6 + Buffer.byteLength(key) + Buffer.byteLength(value) > limit) return -1;
    const kl = key.length === 0 ? 0 : writeText(out, p + 2, key);
    if (kl > 0x7fff) throw new InvalidArgumentError(`cannot encode extFields key of ${kl} bytes in a ROCKETMQ binary header: keys hold at most 32767 bytes`);
    p = out.writeInt16BE(kl, p) + kl;
    const vl = value.length === 0 ? 0 : writeText(out, p + 4, value);
    p = out.writeInt32BE(vl, p) + vl;
  }
  out.writeInt32BE(p - extAt - 4, extAt);
  return p;
}

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

function asInt(value: unknown, field: string): number {
  const n = typeof value === 'number' ? value : typeof value === 'string' && /^-?\d+$/.test(value) ? Number(value) : Number.NaN;
  if (Number.isInteger(n) && n >= -0x80000000 && n <= 0x7fffffff) return n;
  if (Number.isInteger(n) || (typeof value === 'string' && /^-?\d+$/.test(value)))
    throw new ProtocolError(`header field "${field}" must be an integer between -2147483648 and 2147483647, got ${JSON.stringify(value).slice(0, 40)}`);
  throw new ProtocolError(`header field "${field}" must be an integer, got ${JSON.stringify(value)?.slice(0, 40)}`);
}

function decodeJsonHeader(bytes: Buffer, start: number, end: number): Omit<RemotingCommand, 'body'> {
  const fast = jsonHeaderScan.header(bytes, start, end);
  if (fast !== undefined) return fast;
  let parsed: unknown;
  try {
    parsed = JSON.parse(bytes.toString('utf8', start, end));
  } catch (cause) {
    throw new ProtocolError('header is not valid JSON', cause);
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) throw new ProtocolError('header must be a JSON object');
  const h = parsed as Record<string, unknown>;
  const extFields = fieldMap();
  if (h.extFields !== undefined && h.extFields !== null) {
    if (typeof h.extFields !== 'object' || Array.isArray(h.extFields)) throw new ProtocolError('header field "extFields" must be an object');
    const fields = h.extFields as Record<string, unknown>;
    for (const key of Object.keys(fields)) {
      const value = fields[key];
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

// The fast JSON header reader. JSON.parse was the largest cost of a server taking frames, so the
// header every client actually sends is read in one scan of its bytes: an ASCII object of strings
// (one with escapes is handed to JSON.parse alone), integers, booleans and null, its extFields a
// flat object of strings, integers and booleans, every known field of the type it must have. Anything else (a bad escape, a non-ASCII
// byte, a fraction, a nested value, a null in extFields, a field of the wrong type, a syntax error)
// makes it give up, and the general reader above decides: so what is accepted, what it reads as and
// every error stay exactly those of JSON.parse and the checks above.

const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const COMMA = 0x2c;
const COLON = 0x3a;
const OPEN_BRACE = 0x7b;
const CLOSE_BRACE = 0x7d;
const MINUS = 0x2d;
const ZERO = 0x30;
const NINE = 0x39;

const EMPTY = Buffer.alloc(0);

/** One scan over `bytes[start, end)`; one instance serves every decode (they never overlap). */
class JsonHeaderScan {
  bytes: Buffer = EMPTY;
  start = 0;
  end = 0;
  /** The header as text, made the first time a string value is needed (ASCII, so latin1 is UTF-8). */
  text: string | undefined;
  /** What the last `value` read: a string, an integer, a boolean, or null. */
  scanned: ExtFieldValue | null = null;

  /** The byte at `p`, or -1 past the header. */
  at(p: number): number {
    return p < this.end ? this.bytes[p]! : -1;
  }

  space(p: number): number {
    for (;;) {
      const c = this.at(p);
      if (c !== 0x20 && c !== 0x0a && c !== 0x0d && c !== 0x09) return p;
      p++;
    }
  }

  /** True when the last `stringEnd` passed an escape. */
  escaped = false;

  /** Index of the quote closing a string whose text starts at `p`; -1 for a control or non-ASCII byte, or no end. */
  stringEnd(p: number): number {
    const { bytes, end } = this;
    this.escaped = false;
    for (; p < end; p++) {
      const c = bytes[p]!;
      if (c === QUOTE) return p;
      if (c === BACKSLASH) {
        // RocketMQ's message properties are separated by \u0001 and \u0002: escapes are common.
        this.escaped = true;
        p++;
      } else if (c < 0x20 || c > 0x7e) return -1;
    }
    return -1;
  }

  /** The string whose opening quote is at `open` and closing one at `close` (after `stringEnd`); undefined for a bad escape. */
  string(open: number, close: number): string | undefined {
    const text = (this.text ??= this.bytes.toString('latin1', this.start, this.end));
    if (!this.escaped) return text.slice(open + 1 - this.start, close - this.start);
    try {
      return JSON.parse(text.slice(open - this.start, close + 1 - this.start)) as string;
    } catch {
      return undefined;
    }
  }

  /** True when the bytes at `p` spell `word`. */
  is(p: number, word: string): boolean {
    if (p + word.length > this.end) return false;
    for (let i = 0; i < word.length; i++) if (this.bytes[p + i] !== word.charCodeAt(i)) return false;
    return true;
  }

  /** Read a string, an integer (at most 15 digits, so exact), true, false or null at `p` into `scanned`; the index after it, or -1. */
  value(p: number): number {
    const c = this.at(p);
    if (c === QUOTE) {
      const close = this.stringEnd(p + 1);
      const text = close < 0 ? undefined : this.string(p, close);
      if (text === undefined) return -1;
      this.scanned = text;
      return close + 1;
    }
    if (c === MINUS || (c >= ZERO && c <= NINE)) {
      let q = c === MINUS ? p + 1 : p;
      const first = this.at(q);
      if (!(first >= ZERO && first <= NINE)) return -1;
      let value = first - ZERO;
      q++;
      if (first !== ZERO) {
        for (let digits = 1; ; digits++) {
          const d = this.at(q);
          if (!(d >= ZERO && d <= NINE)) break;
          if (digits === 15) return -1;
          value = value * 10 + (d - ZERO);
          q++;
        }
      }
      const next = this.at(q);
      // A fraction, an exponent or a leading zero: the general reader's business.
      if (next === 0x2e || next === 0x65 || next === 0x45 || (next >= ZERO && next <= NINE)) return -1;
      this.scanned = c === MINUS ? -value : value;
      return q;
    }
    if (this.is(p, 'true')) {
      this.scanned = true;
      return p + 4;
    }
    if (this.is(p, 'false')) {
      this.scanned = false;
      return p + 5;
    }
    if (this.is(p, 'null')) {
      this.scanned = null;
      return p + 4;
    }
    return -1;
  }

  /** Read the flat object whose `{` is at `p` into `into`; the index after its `}`, or -1. */
  fields(p: number, into: Record<string, ExtFieldValue>): number {
    p = this.space(p + 1);
    if (this.at(p) === CLOSE_BRACE) return p + 1;
    for (;;) {
      if (this.at(p) !== QUOTE) return -1;
      const keyEnd = this.stringEnd(p + 1);
      const key = keyEnd < 0 ? undefined : this.string(p, keyEnd);
      if (key === undefined) return -1;
      p = this.space(keyEnd + 1);
      if (this.at(p) !== COLON) return -1;
      p = this.value(this.space(p + 1));
      // null drops the field, which a repeated key makes order-sensitive: leave it to the general reader.
      if (p < 0 || this.scanned === null) return -1;
      setField(into, key, this.scanned);
      p = this.space(p);
      const c = this.at(p);
      if (c === CLOSE_BRACE) return p + 1;
      if (c !== COMMA) return -1;
      p = this.space(p + 1);
    }
  }

  /** The header, or undefined when the general reader must decide. */
  header(bytes: Buffer, start: number, end: number): Omit<RemotingCommand, 'body'> | undefined {
    this.bytes = bytes;
    this.start = start;
    this.end = end;
    this.text = undefined;
    try {
      return this.object(start);
    } finally {
      // Hold no frame's bytes between calls.
      this.bytes = EMPTY;
      this.text = undefined;
    }
  }

  private object(p: number): Omit<RemotingCommand, 'body'> | undefined {
    p = this.space(p);
    if (this.at(p) !== OPEN_BRACE) return undefined;
    p = this.space(p + 1);
    let code: number | undefined;
    let language = 'OTHER';
    let version = 0;
    let opaque = 0;
    let flag = 0;
    let remark: string | undefined;
    let extFields: Record<string, ExtFieldValue> | undefined;
    for (;;) {
      if (this.at(p) !== QUOTE) return undefined;
      const key = p + 1;
      const keyEnd = this.stringEnd(key);
      // A field name written with escapes is left to the general reader.
      if (keyEnd < 0 || this.escaped) return undefined;
      const keyLength = keyEnd - key;
      p = this.space(keyEnd + 1);
      if (this.at(p) !== COLON) return undefined;
      p = this.space(p + 1);
      if (keyLength === 9 && this.is(key, 'extFields')) {
        // A repeated key: the last one wins, as in JSON.parse.
        extFields = fieldMap();
        p = this.at(p) === OPEN_BRACE ? this.fields(p, extFields) : this.is(p, 'null') ? p + 4 : -1;
        if (p < 0) return undefined;
      } else {
        p = this.value(p);
        if (p < 0) return undefined;
        const value = this.scanned;
        if (keyLength === 4 && this.is(key, 'code')) {
          if (!isInt32(value)) return undefined;
          code = value;
        } else if (keyLength === 4 && this.is(key, 'flag')) {
          if (!isInt32(value)) return undefined;
          flag = value;
        } else if (keyLength === 6 && this.is(key, 'opaque')) {
          if (!isInt32(value)) return undefined;
          opaque = value;
        } else if (keyLength === 7 && this.is(key, 'version')) {
          if (!isInt32(value)) return undefined;
          version = value;
        } else if (keyLength === 8 && this.is(key, 'language')) {
          if (typeof value !== 'string') return undefined;
          language = value;
        } else if (keyLength === 6 && this.is(key, 'remark')) {
          if (value !== null && typeof value !== 'string') return undefined;
          remark = value ?? undefined;
        }
        // Any other field (serializeTypeCurrentRPC, ...) is read and ignored.
      }
      p = this.space(p);
      const c = this.at(p);
      if (c === CLOSE_BRACE) break;
      if (c !== COMMA) return undefined;
      p = this.space(p + 1);
    }
    if (code === undefined || this.space(p + 1) !== this.end) return undefined;
    return { code, language, version, opaque, flag, remark, extFields: extFields ?? fieldMap(), serializeType: SerializeType.JSON };
  }
}

const jsonHeaderScan = new JsonHeaderScan();

/** True when `value` is an integer the header's int fields hold. */
function isInt32(value: ExtFieldValue | null): value is number {
  return typeof value === 'number' && value >= -0x80000000 && value <= 0x7fffffff;
}

/** Longest text `shortText` builds in JavaScript; longer text goes to `Buffer.toString`. */
const SHORT_TEXT = 24;

/**
 * UTF-8 text of `bytes[start, end)`. Header keys and most values are a few ASCII bytes (`b`,
 * `TopicTest`, `1795720015175`): building those in JavaScript is several times cheaper than a
 * native `toString` call each. Anything longer or not ASCII takes the native path.
 */
function shortText(bytes: Buffer, start: number, end: number): string {
  const n = end - start;
  if (n === 0) return '';
  if (n > SHORT_TEXT) return bytes.toString('utf8', start, end);
  let text = '';
  for (let i = start; i < end; i++) {
    const c = bytes[i]!;
    if (c >= 0x80) return bytes.toString('utf8', start, end);
    text += String.fromCharCode(c);
  }
  return text;
}

function decodeBinaryHeader(bytes: Buffer, start: number, end: number): Omit<RemotingCommand, 'body'> {
  const need = (p: number, n: number, what: string): void => {
    if (p + n > end) throw new ProtocolError(`binary header truncated reading ${what}`);
  };
  let p = start;
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
  const extEnd = p + extLength;
  const extFields = fieldMap();
  while (p < extEnd) {
    if (p + 2 > extEnd) throw new ProtocolError('binary header extFields truncated reading a key length');
    const kl = bytes.readInt16BE(p);
    p += 2;
    if (kl < 0 || p + kl + 4 > extEnd) throw new ProtocolError('binary header extFields truncated reading a key');
    const key = shortText(bytes, p, p + kl);
    p += kl;
    const vl = bytes.readInt32BE(p);
    p += 4;
    if (vl < 0 || p + vl > extEnd) throw new ProtocolError(`binary header extFields truncated reading the value of "${key}"`);
    setField(extFields, key, shortText(bytes, p, p + vl));
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
