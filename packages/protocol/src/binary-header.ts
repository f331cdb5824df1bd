/**
 * The ROCKETMQ binary header of a remoting command (RocketMQ's `RocketMQSerializable`): code i16,
 * language u8, version i16, opaque i32, flag i32, remark (i32 length + UTF-8), extFields (i32 total
 * length, then per entry: i16 key length, key, i32 value length, value).
 */
import { InvalidArgumentError, ProtocolError } from './errors.js';
import { LANGUAGES, SerializeType, fieldMap, setField } from './remoting-command.js';
import type { RemotingCommand } from './remoting-command.js';

function checkWidth(value: number, bits: 16 | 32, field: string): void {
  const limit = 2 ** (bits - 1);
  if (!Number.isInteger(value) || value < -limit || value >= limit) throw new InvalidArgumentError(`cannot encode ${field} ${value} in a ROCKETMQ binary header: the field holds a ${bits}-bit signed integer`);
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
export function binaryHeaderBound(command: RemotingCommand): number {
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
export function writeBinaryHeader(command: RemotingCommand, out: Buffer, at: number, limit: number): number {
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

export function decodeBinaryHeader(bytes: Buffer, start: number, end: number): Omit<RemotingCommand, 'body'> {
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
