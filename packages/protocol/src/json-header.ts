/**
 * The JSON header of a remoting command: `{"code":..,"language":"JAVA","version":..,"opaque":..,
 * "flag":..,"remark":..,"extFields":{..}}`. Java clients send extFields values as strings; ali-ons sends
 * numbers and booleans. We keep what arrived and let each request's zod schema coerce.
 */
import { ProtocolError } from './errors.js';
import { SerializeType, fieldMap, setField } from './remoting-command.js';
import type { ExtFieldValue, RemotingCommand } from './remoting-command.js';

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
export function jsonHeaderText(command: RemotingCommand): string {
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


function asInt(value: unknown, field: string): number {
  const n = typeof value === 'number' ? value : typeof value === 'string' && /^-?\d+$/.test(value) ? Number(value) : Number.NaN;
  if (Number.isInteger(n) && n >= -0x80000000 && n <= 0x7fffffff) return n;
  if (Number.isInteger(n) || (typeof value === 'string' && /^-?\d+$/.test(value)))
    throw new ProtocolError(`header field "${field}" must be an integer between -2147483648 and 2147483647, got ${JSON.stringify(value).slice(0, 40)}`);
  throw new ProtocolError(`header field "${field}" must be an integer, got ${JSON.stringify(value)?.slice(0, 40)}`);
}

export function decodeJsonHeader(bytes: Buffer, start: number, end: number): Omit<RemotingCommand, 'body'> {
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
