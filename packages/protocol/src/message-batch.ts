/**
 * The body of SEND_BATCH_MESSAGE (320): messages back to back, each encoded by Java's
 * `MessageDecoder.encodeMessage` and read by `decodeMessages`. Big-endian:
 *
 *   pos  size  field
 *     0     4  TOTALSIZE    this entry, these 4 bytes included = 22 + BODYLEN + PROPLEN
 *     4     4  MAGICCODE    Java writes 0; ignored on read, as Java ignores it
 *     8     4  BODYCRC      Java writes 0; ignored on read (the broker computes each record's CRC)
 *    12     4  FLAG         the message's user flag
 *    16     4  BODYLEN, then BODYLEN bytes of body
 *     …     2  PROPLEN (i16), then the UTF-8 properties (`k\u0001v\u0002…`)
 *
 * Topic, queue and the other fields come from the request header and are the same for the whole
 * batch. Java's reader trusts the inner lengths; this one also requires them to add up to
 * TOTALSIZE, so a malformed batch is refused instead of mis-split.
 */
import { InvalidArgumentError, ProtocolError } from './errors.js';
import { MAX_PROPERTIES_SIZE, parsePropertiesText, propertiesToString } from './properties.js';

/** One message of a batch. */
export interface BatchEntry {
  body: Buffer;
  flag: number;
  properties: Record<string, string>;
}

/** Fixed bytes of one entry: TOTALSIZE, MAGICCODE, BODYCRC, FLAG, BODYLEN, PROPLEN. */
const BATCH_ENTRY_OVERHEAD = 22;

/** Encode entries as one SEND_BATCH_MESSAGE body, in one buffer of exactly its size. */
export function encodeBatch(entries: BatchEntry[]): Buffer {
  const texts: string[] = [];
  const propLengths: number[] = [];
  let total = 0;
  entries.forEach((entry, i) => {
    if (!(entry.body instanceof Uint8Array)) throw new InvalidArgumentError(`batch entry ${i}: body must be a Buffer or Uint8Array`);
    if ((entry.flag | 0) !== entry.flag) throw new InvalidArgumentError(`batch entry ${i}: flag must be a signed 32-bit integer, got ${entry.flag}`);
    const text = propertiesToString(entry.properties);
    const length = Buffer.byteLength(text, 'utf8');
    if (length > MAX_PROPERTIES_SIZE) {
      throw new InvalidArgumentError(`batch entry ${i}: properties encode to ${length} bytes; the limit is ${MAX_PROPERTIES_SIZE}`);
    }
    texts.push(text);
    propLengths.push(length);
    total += BATCH_ENTRY_OVERHEAD + entry.body.length + length;
  });
  const buf = Buffer.allocUnsafe(total);
  let pos = 0;
  entries.forEach((entry, i) => {
    const propLength = propLengths[i] ?? 0;
    const size = BATCH_ENTRY_OVERHEAD + entry.body.length + propLength;
    if (size > 0x7fffffff) throw new InvalidArgumentError(`batch entry ${i} is ${size} bytes; TOTALSIZE is a signed 32-bit integer`);
    buf.writeInt32BE(size, pos);
    buf.writeInt32BE(0, pos + 4);
    buf.writeInt32BE(0, pos + 8);
    buf.writeInt32BE(entry.flag, pos + 12);
    buf.writeInt32BE(entry.body.length, pos + 16);
    buf.set(entry.body, pos + 20);
    const propsLenPos = pos + 20 + entry.body.length;
    buf.writeInt16BE(propLength, propsLenPos);
    if (propLength > 0) buf.write(texts[i] ?? '', propsLenPos + 2, propLength, 'utf8');
    pos += size;
  });
  return buf;
}

/** Split a SEND_BATCH_MESSAGE body into entries (bodies are views into `buf`). ProtocolError names the entry and offset of any inconsistency. */
export function decodeBatch(buf: Buffer): BatchEntry[] {
  if (!Buffer.isBuffer(buf)) throw new ProtocolError('decodeBatch expects a Buffer');
  const entries: BatchEntry[] = [];
  let pos = 0;
  while (pos < buf.length) {
    const where = `batch entry ${entries.length} at offset ${pos}`;
    const left = buf.length - pos;
    if (left < BATCH_ENTRY_OVERHEAD) throw new ProtocolError(`${where} is truncated: ${left} bytes left, an entry needs at least ${BATCH_ENTRY_OVERHEAD}`);
    const size = buf.readInt32BE(pos);
    if (size < BATCH_ENTRY_OVERHEAD || size > left) {
      throw new ProtocolError(`${where} has TOTALSIZE ${size}; it must be from ${BATCH_ENTRY_OVERHEAD} to the ${left} bytes left`);
    }
    const end = pos + size;
    const flag = buf.readInt32BE(pos + 12);
    const bodyLen = buf.readInt32BE(pos + 16);
    const bodyStart = pos + 20;
    if (bodyLen < 0 || bodyStart + bodyLen + 2 > end) throw new ProtocolError(`${where}: BODYLEN ${bodyLen} does not fit in TOTALSIZE ${size}`);
    const propsLenPos = bodyStart + bodyLen;
    const propsLen = buf.readInt16BE(propsLenPos);
    if (propsLen < 0 || propsLenPos + 2 + propsLen !== end) {
      throw new ProtocolError(`${where}: inner lengths (body ${bodyLen}, properties ${propsLen}) add up to ${BATCH_ENTRY_OVERHEAD + bodyLen + propsLen} bytes but TOTALSIZE is ${size}`);
    }
    entries.push({
      body: buf.subarray(bodyStart, propsLenPos),
      flag,
      properties: propsLen === 0 ? (Object.create(null) as Record<string, string>) : parsePropertiesText(buf.toString('utf8', propsLenPos + 2, end)),
    });
    pos = end;
  }
  return entries;
}
