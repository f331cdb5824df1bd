/**
 * The commit-log record: RocketMQ's on-disk message layout, byte for byte (Java
 * `MessageExtEncoder`, `CommitLog.checkMessageAndReturnSize`, `MessageDecoder`). The same bytes are
 * the body of a PULL_MESSAGE response (records back to back), so the broker serves stored records
 * without re-encoding them.
 *
 * Layout, all big-endian. Positions are for IPv4 hosts; an IPv6 born host (SYSFLAG bit 4) widens
 * BORNHOST to 16 + 4 bytes and an IPv6 store host (bit 5) widens STOREHOST likewise, moving every
 * later field.
 *
 *   pos  size  field
 *     0     4  TOTALSIZE           whole record, these 4 bytes included
 *     4     4  MAGICCODE           V1 0xDAA320A7 (1-byte topic length), V2 0xDAA320AB (2-byte), BLANK 0xCBD43194
 *     8     4  BODYCRC             CRC32 of the stored body & 0x7FFFFFFF
 *    12     4  QUEUEID
 *    16     4  FLAG                user flag
 *    20     8  QUEUEOFFSET         logical offset in the consume queue   (patched by the store)
 *    28     8  PHYSICALOFFSET      commit-log offset of this record      (patched by the store)
 *    36     4  SYSFLAG             bit0 compressed, bit1 multi-tags, bits2-3 transaction, bit4/5 born/store host IPv6
 *    40     8  BORNTIMESTAMP       producer clock, ms
 *    48   4+4  BORNHOST            IPv4 + port (i32)            | 16 + 4 when IPv6
 *    56     8  STORETIMESTAMP      broker clock, ms              (patched by the store)
 *    64   4+4  STOREHOST           IPv4 + port (i32)            | 16 + 4 when IPv6
 *    72     4  RECONSUMETIMES
 *    76     8  PREPARED TX OFFSET
 *    84     4  BODYLEN, then BODYLEN bytes of body
 *     …   1|2  TOPICLEN (u8 for V1, i16 for V2), then the UTF-8 topic
 *     …     2  PROPLEN (i16, ≤ 32767), then the UTF-8 properties (`k\u0001v\u0002…`)
 *
 * Fixed overhead with IPv4 hosts and V1 magic: 91 bytes. The end-of-segment filler is 8 bytes:
 * TOTALSIZE = bytes left in the segment, MAGICCODE = BLANK.
 *
 * Decoding trusts nothing: the inner lengths must add up to TOTALSIZE exactly. ali-ons reads fields
 * in sequence and ignores TOTALSIZE, so one bad length there corrupts every later record; here it is
 * a ProtocolError naming the offset.
 *
 * i64 fields are JavaScript numbers: offsets and millisecond timestamps stay below 2^53, and
 * anything outside the safe-integer range is refused rather than silently rounded.
 */
import { crc32 } from 'node:zlib';
import { isIPv4, isIPv6 } from 'node:net';
import { InvalidArgumentError, ProtocolError } from './errors.js';
import { MAX_PROPERTIES_SIZE, parsePropertiesText, propertiesToString } from './properties.js';
import { isSafeInt64At, readInt64BE, writeInt64BE } from './int64.js';

/** Record magic codes as signed 32-bit values, i.e. what `readInt32BE` returns. */
export const MessageMagic = { V1: 0xdaa320a7 | 0, V2: 0xdaa320ab | 0, BLANK: 0xcbd43194 | 0 } as const;
export type MessageMagic = (typeof MessageMagic)[keyof typeof MessageMagic];

/** The end-of-segment filler: TOTALSIZE (the bytes left in the segment) + BLANK magic. */
export const BLANK_RECORD_SIZE = 8;
/** Record size with empty body, topic and properties, IPv4 hosts and V1 magic. */
export const RECORD_FIXED_OVERHEAD_V1_IPV4 = 91;
/** Longest topic a record can carry (V2's signed 16-bit length). RocketMQ clients stop at 127 characters. */
export const MAX_RECORD_TOPIC_BYTES = 32767;
/** Longest topic written with V1 magic (1-byte length); longer ones switch the record to V2. */
export const MAX_V1_TOPIC_BYTES = 127;

/** SYSFLAG bits (`MessageSysFlag.java`). */
export const MessageSysFlag = {
  COMPRESSED: 0x1,
  MULTI_TAGS: 0x2,
  TRANSACTION_PREPARED: 0x4,
  TRANSACTION_COMMIT: 0x8,
  TRANSACTION_ROLLBACK: 0xc,
  BORNHOST_V6: 0x10,
  STOREHOST_V6: 0x20,
  NEED_UNWRAP: 0x40,
  INNER_BATCH: 0x80,
  /** Mask of the transaction type (bits 2–3). */
  TRANSACTION_TYPE_MASK: 0xc,
  /** Mask of the compression type (bits 8–10, RocketMQ 5.x). */
  COMPRESSION_TYPE_MASK: 0x700,
} as const;
export type MessageSysFlag = (typeof MessageSysFlag)[keyof typeof MessageSysFlag];

/** A socket address as records carry it; `host` is dotted IPv4 or IPv6 text. */
export interface HostAddress {
  host: string;
  port: number;
}

/** One decoded commit-log record. */
export interface MessageRecord {
  totalSize: number;
  magic: number;
  bodyCrc: number;
  queueId: number;
  flag: number;
  queueOffset: number;
  physicalOffset: number;
  sysFlag: number;
  bornTimestamp: number;
  bornHost: HostAddress;
  storeTimestamp: number;
  storeHost: HostAddress;
  reconsumeTimes: number;
  preparedTransactionOffset: number;
  /** The body as stored (still compressed when SYSFLAG has COMPRESSED). Decoding returns a view into the input buffer, not a copy. */
  body: Buffer;
  topic: string;
  properties: Record<string, string>;
}

/**
 * Everything the producer/broker knows before storing; the store fills queueOffset, physicalOffset
 * and storeTimestamp (in place, see {@link recordFieldPositions}). Magic is chosen from the topic
 * length, the CRC is computed, and SYSFLAG's host bits are set from the host texts.
 */
export type RecordInput = Omit<MessageRecord, 'totalSize' | 'magic' | 'bodyCrc'>;

/** Decode result: a message, or the end-of-segment filler whose `size` is the bytes left in the segment. */
export type DecodedRecord = { kind: 'record'; record: MessageRecord; size: number } | { kind: 'blank'; size: number };

export interface DecodeRecordOptions {
  /** Recompute the body CRC and reject a mismatch (recovery does; dispatch and pulls do not, for speed). */
  checkCrc?: boolean;
}

const POS_TOTAL_SIZE = 0;
const POS_MAGIC = 4;
const POS_BODY_CRC = 8;
const POS_QUEUE_ID = 12;
const POS_FLAG = 16;
const POS_QUEUE_OFFSET = 20;
const POS_PHYSICAL_OFFSET = 28;
const POS_SYS_FLAG = 36;
const POS_BORN_TIMESTAMP = 40;
const POS_BORN_HOST = 48;

/** CRC32 of a body masked to 31 bits, as RocketMQ's `UtilAll.crc32` stores it. */
export function bodyCrc32(body: Uint8Array): number {
  return crc32(body) & 0x7fffffff;
}

/**
 * Byte positions of the fields the store patches in place after encoding. STORETIMESTAMP moves with
 * the born-host width, so pass the SYSFLAG of the encoded record (see {@link recordStoreTimestamp}): it
 * has the IPv6 bits that {@link encodeRecord} derived from the hosts.
 */
export function recordFieldPositions(sysFlag: number): { queueOffset: 20; physicalOffset: 28; storeTimestamp: number } {
  return { queueOffset: POS_QUEUE_OFFSET, physicalOffset: POS_PHYSICAL_OFFSET, storeTimestamp: POS_BORN_HOST + hostFieldSize(sysFlag & MessageSysFlag.BORNHOST_V6) };
}

/**
 * STORETIMESTAMP of the raw stored record starting at `at`, read in place (RocketMQ's
 * `CommitLog.pickupStoreTimestamp`); undefined when `buf` ends before the field.
 */
export function recordStoreTimestamp(buf: Buffer, at = 0): number | undefined {
  if (buf.length < at + POS_SYS_FLAG + 4) return undefined;
  const position = at + recordFieldPositions(buf.readInt32BE(at + POS_SYS_FLAG)).storeTimestamp;
  return buf.length >= position + 8 ? readInt64BE(buf, position) : undefined;
}

/** PHYSICALOFFSET of the raw stored record starting at `at`; undefined when `buf` ends before the field. */
export function recordPhysicalOffset(buf: Buffer, at = 0): number | undefined {
  return buf.length >= at + POS_PHYSICAL_OFFSET + 8 ? readInt64BE(buf, at + POS_PHYSICAL_OFFSET) : undefined;
}

/** What {@link prepareRecord} needs: a record without the three fields the store assigns. */
export type RecordFields = Omit<RecordInput, 'queueOffset' | 'physicalOffset' | 'storeTimestamp'>;

/**
 * A record checked and measured but not yet placed: the store learns its `size` (to choose the
 * physical offset and roll segments), then writes it with {@link writeRecord} straight into its
 * write buffer, so no per-record buffer is allocated and no field is patched afterwards.
 */
export interface PreparedRecord {
  /** TOTALSIZE: the bytes {@link writeRecord} writes. */
  readonly size: number;
  /** SYSFLAG as stored, with the host IPv6 bits derived from the addresses. */
  readonly sysFlag: number;
  readonly fields: RecordFields;
  readonly bornIp: Uint8Array;
  readonly storeIp: Uint8Array;
  readonly topicLen: number;
  readonly v2: boolean;
  readonly propsText: string;
  readonly propsLen: number;
}

/**
 * Check a record's fields and measure it. InvalidArgumentError names any field that cannot be
 * stored. `propertiesText`, when given, is used as the encoded properties (`k\u0001v\u0002…`,
 * e.g. as a SEND_MESSAGE header carried them, already checked by the caller) instead of
 * serializing `fields.properties`.
 */
export function prepareRecord(fields: RecordFields, propertiesText?: string): PreparedRecord {
  const bornIp = hostToBytes(fields.bornHost, 'bornHost');
  const storeIp = hostToBytes(fields.storeHost, 'storeHost');
  let sysFlag = checkInt32(fields.sysFlag, 'sysFlag');
  // RocketMQ's broker sets these bits from the address family of each socket; do the same so the flag can never disagree with the bytes.
  sysFlag = bornIp.length === 16 ? sysFlag | MessageSysFlag.BORNHOST_V6 : sysFlag & ~MessageSysFlag.BORNHOST_V6;
  sysFlag = storeIp.length === 16 ? sysFlag | MessageSysFlag.STOREHOST_V6 : sysFlag & ~MessageSysFlag.STOREHOST_V6;
  checkInt32(fields.queueId, 'queueId');
  checkInt32(fields.flag, 'flag');
  checkInt32(fields.reconsumeTimes, 'reconsumeTimes');
  checkPort(fields.bornHost.port, 'bornHost');
  checkPort(fields.storeHost.port, 'storeHost');
  checkSafe(fields.bornTimestamp, 'bornTimestamp');
  checkSafe(fields.preparedTransactionOffset, 'preparedTransactionOffset');

  const topic = fields.topic;
  if (typeof topic !== 'string' || topic.length === 0) throw new InvalidArgumentError('record topic must be a non-empty string');
  const topicLen = Buffer.byteLength(topic, 'utf8');
  if (topicLen > MAX_RECORD_TOPIC_BYTES) {
    throw new InvalidArgumentError(`record topic is ${topicLen} bytes; the most a record can hold is ${MAX_RECORD_TOPIC_BYTES} (RocketMQ clients allow 127 characters)`);
  }
  const v2 = topicLen > MAX_V1_TOPIC_BYTES;
  const propsText = propertiesText ?? propertiesToString(fields.properties);
  const propsLen = Buffer.byteLength(propsText, 'utf8');
  if (propsLen > MAX_PROPERTIES_SIZE) {
    throw new InvalidArgumentError(`record properties encode to ${propsLen} bytes; the limit is ${MAX_PROPERTIES_SIZE} (PROPERTIES_SIZE_EXCEEDED): shorten keys, tags or user properties`);
  }
  const body = fields.body;
  if (!(body instanceof Uint8Array)) throw new InvalidArgumentError('record body must be a Buffer or Uint8Array');

  const size = RECORD_FIXED_OVERHEAD_V1_IPV4 + (bornIp.length - 4) + (storeIp.length - 4) + (v2 ? 1 : 0) + body.length + topicLen + propsLen;
  if (size > 0x7fffffff) throw new InvalidArgumentError(`record would be ${size} bytes; TOTALSIZE is a signed 32-bit integer`);
  return { size, sysFlag, fields, bornIp, storeIp, topicLen, v2, propsText, propsLen };
}

/**
 * Write a prepared record at `target[at]`, with the offsets and store time the store assigned.
 * `target` must have `p.size` bytes free at `at`.
 */
export function writeRecord(target: Buffer, at: number, p: PreparedRecord, queueOffset: number, physicalOffset: number, storeTimestamp: number): void {
  const f = p.fields;
  const body = f.body;
  target.writeInt32BE(p.size, at + POS_TOTAL_SIZE);
  target.writeInt32BE(p.v2 ? MessageMagic.V2 : MessageMagic.V1, at + POS_MAGIC);
  target.writeInt32BE(bodyCrc32(body), at + POS_BODY_CRC);
  target.writeInt32BE(f.queueId, at + POS_QUEUE_ID);
  target.writeInt32BE(f.flag, at + POS_FLAG);
  writeInt64(target, at + POS_QUEUE_OFFSET, queueOffset, 'queueOffset');
  writeInt64(target, at + POS_PHYSICAL_OFFSET, physicalOffset, 'physicalOffset');
  target.writeInt32BE(p.sysFlag, at + POS_SYS_FLAG);
  writeInt64(target, at + POS_BORN_TIMESTAMP, f.bornTimestamp, 'bornTimestamp');
  let pos = writeHost(target, at + POS_BORN_HOST, p.bornIp, f.bornHost.port);
  writeInt64(target, pos, storeTimestamp, 'storeTimestamp');
  pos = writeHost(target, pos + 8, p.storeIp, f.storeHost.port);
  target.writeInt32BE(f.reconsumeTimes, pos);
  writeInt64(target, pos + 4, f.preparedTransactionOffset, 'preparedTransactionOffset');
  pos += 12;
  target.writeInt32BE(body.length, pos);
  target.set(body, pos + 4);
  pos += 4 + body.length;
  if (p.v2) {
    target.writeInt16BE(p.topicLen, pos);
    pos += 2;
  } else {
    target[pos++] = p.topicLen;
  }
  if (p.topicLen === f.topic.length) target.write(f.topic, pos, p.topicLen, 'latin1');
  else target.write(f.topic, pos, p.topicLen, 'utf8');
  pos += p.topicLen;
  target.writeInt16BE(p.propsLen, pos);
  if (p.propsLen === 0) return;
  // ASCII text (the usual case: its UTF-8 length equals its length) is copied byte for byte.
  if (p.propsLen === p.propsText.length) target.write(p.propsText, pos + 2, p.propsLen, 'latin1');
  else target.write(p.propsText, pos + 2, p.propsLen, 'utf8');
}

/** Encode a record into one buffer of exactly its size. InvalidArgumentError names any field that cannot be stored. */
export function encodeRecord(input: RecordInput): Buffer {
  const p = prepareRecord(input);
  checkSafe(input.queueOffset, 'queueOffset');
  checkSafe(input.physicalOffset, 'physicalOffset');
  checkSafe(input.storeTimestamp, 'storeTimestamp');
  const buf = Buffer.allocUnsafe(p.size);
  writeRecord(buf, 0, p, input.queueOffset, input.physicalOffset, input.storeTimestamp);
  return buf;
}

/** The 8-byte end-of-segment filler: TOTALSIZE = `remaining` (the bytes left in the segment), MAGIC = BLANK. */
export function encodeBlankRecord(remaining: number): Buffer {
  if (!Number.isInteger(remaining) || remaining < BLANK_RECORD_SIZE || remaining > 0x7fffffff) {
    throw new InvalidArgumentError(`blank record size must be an integer from ${BLANK_RECORD_SIZE} to 2147483647 (the bytes left in the segment), got ${remaining}`);
  }
  const buf = Buffer.allocUnsafe(BLANK_RECORD_SIZE);
  buf.writeInt32BE(remaining, POS_TOTAL_SIZE);
  buf.writeInt32BE(MessageMagic.BLANK, POS_MAGIC);
  return buf;
}

/**
 * Decode the record starting at `offset`. Returns the record (body and topic read in place, no
 * copy of the body) or the blank filler; throws ProtocolError naming the offset and the problem:
 * truncated input, unknown magic, TOTALSIZE out of range, inner lengths that do not add up to
 * TOTALSIZE, an i64 beyond 2^53, or (with `checkCrc`) a body CRC mismatch.
 */
export function decodeRecord(buf: Buffer, offset = 0, opts: DecodeRecordOptions = {}): DecodedRecord {
  if (!Buffer.isBuffer(buf)) throw new ProtocolError('decodeRecord expects a Buffer');
  if (!Number.isInteger(offset) || offset < 0 || offset > buf.length) {
    throw new ProtocolError(`record offset ${offset} is outside the buffer (0..${buf.length})`);
  }
  const available = buf.length - offset;
  if (available < BLANK_RECORD_SIZE) {
    throw new ProtocolError(`record at offset ${offset} is truncated: ${available} bytes left, TOTALSIZE and MAGICCODE need 8`);
  }
  const totalSize = buf.readInt32BE(offset + POS_TOTAL_SIZE);
  const magic = buf.readInt32BE(offset + POS_MAGIC);
  if (magic === MessageMagic.BLANK) {
    if (totalSize < BLANK_RECORD_SIZE) {
      throw new ProtocolError(`blank marker at offset ${offset} has TOTALSIZE ${totalSize}; it must be at least ${BLANK_RECORD_SIZE}`);
    }
    return { kind: 'blank', size: totalSize };
  }
  if (magic !== MessageMagic.V1 && magic !== MessageMagic.V2) {
    throw new ProtocolError(`record at offset ${offset} has unknown MAGICCODE 0x${(magic >>> 0).toString(16).padStart(8, '0')} (TOTALSIZE ${totalSize}); expected V1 0xdaa320a7, V2 0xdaa320ab or BLANK 0xcbd43194`);
  }
  const v2 = magic === MessageMagic.V2;
  const topicWidth = v2 ? 2 : 1;
  if (totalSize < RECORD_FIXED_OVERHEAD_V1_IPV4 + topicWidth - 1) {
    throw new ProtocolError(`record at offset ${offset} has TOTALSIZE ${totalSize}, below the ${RECORD_FIXED_OVERHEAD_V1_IPV4 + topicWidth - 1}-byte minimum`);
  }
  if (totalSize > available) {
    throw new ProtocolError(`record at offset ${offset} is truncated: TOTALSIZE ${totalSize} but only ${available} bytes left`);
  }
  const end = offset + totalSize;
  const sysFlag = buf.readInt32BE(offset + POS_SYS_FLAG);
  const bornSize = hostFieldSize(sysFlag & MessageSysFlag.BORNHOST_V6);
  const storeSize = hostFieldSize(sysFlag & MessageSysFlag.STOREHOST_V6);
  const minimum = RECORD_FIXED_OVERHEAD_V1_IPV4 + topicWidth - 1 + (bornSize - 8) + (storeSize - 8);
  if (totalSize < minimum) {
    throw new ProtocolError(`record at offset ${offset} has TOTALSIZE ${totalSize}, below the ${minimum}-byte minimum for its SYSFLAG 0x${sysFlag.toString(16)} (IPv6 hosts)`);
  }

  const bornHostPos = offset + POS_BORN_HOST;
  const storeTimestampPos = bornHostPos + bornSize;
  const storeHostPos = storeTimestampPos + 8;
  const reconsumePos = storeHostPos + storeSize;
  const bodyLenPos = reconsumePos + 12;
  const bodyLen = buf.readInt32BE(bodyLenPos);
  const bodyStart = bodyLenPos + 4;
  // Room left after the body for the topic and properties length fields.
  if (bodyLen < 0 || bodyStart + bodyLen + topicWidth + 2 > end) {
    throw new ProtocolError(`record at offset ${offset}: BODYLEN ${bodyLen} does not fit in TOTALSIZE ${totalSize}`);
  }
  const topicLenPos = bodyStart + bodyLen;
  const topicLen = v2 ? buf.readInt16BE(topicLenPos) : buf.readUInt8(topicLenPos);
  const topicStart = topicLenPos + topicWidth;
  if (topicLen < 0 || topicStart + topicLen + 2 > end) {
    throw new ProtocolError(`record at offset ${offset}: TOPICLEN ${topicLen} does not fit in TOTALSIZE ${totalSize} after a ${bodyLen}-byte body`);
  }
  const propsLenPos = topicStart + topicLen;
  const propsLen = buf.readInt16BE(propsLenPos);
  const propsStart = propsLenPos + 2;
  if (propsLen < 0 || propsStart + propsLen !== end) {
    throw new ProtocolError(
      `record at offset ${offset}: inner lengths (body ${bodyLen}, topic ${topicLen}, properties ${propsLen}) add up to ${propsStart + propsLen - offset} bytes but TOTALSIZE is ${totalSize}`,
    );
  }

  const body = buf.subarray(bodyStart, topicLenPos);
  const bodyCrc = buf.readInt32BE(offset + POS_BODY_CRC);
  if (opts.checkCrc === true) {
    const actual = bodyCrc32(body);
    if (actual !== bodyCrc) throw new ProtocolError(`record at offset ${offset}: BODYCRC is ${bodyCrc} but the body's CRC32 is ${actual}; the body is corrupt`);
  }
  const record: MessageRecord = {
    totalSize,
    magic,
    bodyCrc,
    queueId: buf.readInt32BE(offset + POS_QUEUE_ID),
    flag: buf.readInt32BE(offset + POS_FLAG),
    queueOffset: readInt64(buf, offset + POS_QUEUE_OFFSET, offset, 'QUEUEOFFSET'),
    physicalOffset: readInt64(buf, offset + POS_PHYSICAL_OFFSET, offset, 'PHYSICALOFFSET'),
    sysFlag,
    bornTimestamp: readInt64(buf, offset + POS_BORN_TIMESTAMP, offset, 'BORNTIMESTAMP'),
    bornHost: readHost(buf, bornHostPos, bornSize),
    storeTimestamp: readInt64(buf, storeTimestampPos, offset, 'STORETIMESTAMP'),
    storeHost: readHost(buf, storeHostPos, storeSize),
    reconsumeTimes: buf.readInt32BE(reconsumePos),
    preparedTransactionOffset: readInt64(buf, reconsumePos + 4, offset, 'PREPARED TRANSACTION OFFSET'),
    body,
    topic: readTopic(buf, topicStart, propsLenPos),
    properties: propsLen === 0 ? (Object.create(null) as Record<string, string>) : parsePropertiesText(buf.toString('utf8', propsStart, end)),
  };
  return { kind: 'record', record, size: totalSize };
}

/**
 * Decode a run of back-to-back records, such as a pull body. Blank fillers (a segment's tail) are
 * skipped. Any bad size, magic or inner length rejects the whole run with a ProtocolError naming
 * the offset, because after one wrong length every later boundary is a guess.
 */
export function decodeRecords(buf: Buffer, opts: DecodeRecordOptions = {}): MessageRecord[] {
  if (!Buffer.isBuffer(buf)) throw new ProtocolError('decodeRecords expects a Buffer');
  const records: MessageRecord[] = [];
  let offset = 0;
  while (offset < buf.length) {
    const decoded = decodeRecord(buf, offset, opts);
    if (decoded.kind === 'blank' && offset + decoded.size > buf.length) {
      throw new ProtocolError(`blank marker at offset ${offset} claims ${decoded.size} bytes but only ${buf.length - offset} are left`);
    }
    if (decoded.kind === 'record') records.push(decoded.record);
    offset += decoded.size;
  }
  return records;
}

/** Topics longer than this are decoded every time rather than compared with the last one. */
const TOPIC_CACHE_MAX_BYTES = 255;
let lastTopic = '';
let lastTopicBytes: Uint8Array = new Uint8Array(0);

/**
 * The topic at [start, end). A pull body is one queue's records, so the topic nearly always repeats:
 * comparing its bytes with the last topic decoded is cheaper than decoding a new string each time.
 */
function readTopic(buf: Buffer, start: number, end: number): string {
  const len = end - start;
  if (len === lastTopicBytes.length) {
    let i = 0;
    while (i < len && buf[start + i] === lastTopicBytes[i]) i++;
    if (i === len) return lastTopic;
  }
  const topic = buf.toString('utf8', start, end);
  if (len <= TOPIC_CACHE_MAX_BYTES) {
    lastTopicBytes = Uint8Array.prototype.slice.call(buf, start, end);
    lastTopic = topic;
  }
  return topic;
}

// ---- hosts ---------------------------------------------------------------------------------

/** Size of a host field: 4-byte IPv4 or 16-byte IPv6 address, then a 4-byte port. */
function hostFieldSize(v6Bit: number): number {
  return v6Bit === 0 ? 8 : 20;
}

/**
 * The canonical text of an address: dotted IPv4, or RFC 5952 IPv6 (lower case, longest zero run
 * compressed, IPv4-mapped addresses as `::ffff:a.b.c.d`). This is what decoding returns, so compare
 * hosts through it. InvalidArgumentError for text that is neither.
 */
export function normalizeHost(host: string): string {
  const bytes = parseHostBytes(host, 'host');
  return bytes.length === 4 ? formatIPv4(bytes, 0) : formatIPv6(bytes, 0);
}

/** The raw address bytes (4 or 16) of an IPv4 or IPv6 text address; InvalidArgumentError otherwise. */
export function hostAddressBytes(host: string): Uint8Array {
  // A copy: the parsed bytes are shared through the cache.
  return Uint8Array.from(parseHostBytes(host, 'host'));
}

/** Read a host written as `size - 4` address bytes and an i32 port. */
export function readHostAt(buf: Buffer, pos: number, addressLength: 4 | 16): HostAddress {
  return readHost(buf, pos, addressLength + 4);
}

function readHost(buf: Buffer, pos: number, fieldSize: number): HostAddress {
  if (fieldSize === 8) return { host: ipv4Text(buf.readUInt32BE(pos)), port: buf.readInt32BE(pos + 4) };
  return { host: formatIPv6(buf, pos), port: buf.readInt32BE(pos + 16) };
}

// Decoded records name a handful of hosts (one store host, a few producers): their texts are cached
// by address, cleared when the cache fills.
const ipv4TextCache = new Map<number, string>();

function ipv4Text(address: number): string {
  let text = ipv4TextCache.get(address);
  if (text === undefined) {
    text = `${address >>> 24}.${(address >>> 16) & 0xff}.${(address >>> 8) & 0xff}.${address & 0xff}`;
    if (ipv4TextCache.size >= HOST_CACHE_LIMIT) ipv4TextCache.clear();
    ipv4TextCache.set(address, text);
  }
  return text;
}

function checkPort(port: number, field: string): void {
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new InvalidArgumentError(`${field}.port must be an integer from 0 to 65535, got ${port}`);
}

function writeHost(buf: Buffer, pos: number, ip: Uint8Array, port: number): number {
  if (ip.length === 4) {
    buf[pos] = ip[0]!;
    buf[pos + 1] = ip[1]!;
    buf[pos + 2] = ip[2]!;
    buf[pos + 3] = ip[3]!;
  } else buf.set(ip, pos);
  buf.writeInt32BE(port, pos + ip.length);
  return pos + ip.length + 4;
}

// Hosts repeat (one store host, a few producers), so parsed addresses are cached; the cache is cleared when it fills.
const hostCache = new Map<string, Uint8Array>();
const HOST_CACHE_LIMIT = 1024;

function hostToBytes(address: HostAddress | undefined, field: string): Uint8Array {
  if (address === null || typeof address !== 'object') throw new InvalidArgumentError(`${field} must be { host, port }`);
  return parseHostBytes(address.host, `${field}.host`);
}

function parseHostBytes(host: string, field: string): Uint8Array {
  if (typeof host !== 'string') throw new InvalidArgumentError(`${field} must be an IPv4 or IPv6 address string`);
  const cached = hostCache.get(host);
  if (cached !== undefined) return cached;
  let bytes: Uint8Array;
  if (isIPv4(host)) {
    bytes = Uint8Array.from(host.split('.'), Number);
  } else if (isIPv6(host)) {
    bytes = parseIPv6(host);
  } else {
    throw new InvalidArgumentError(`${field} ${JSON.stringify(host)} is not an IPv4 or IPv6 address; records store raw addresses, so resolve host names first`);
  }
  if (hostCache.size >= HOST_CACHE_LIMIT) hostCache.clear();
  hostCache.set(host, bytes);
  return bytes;
}

/** Parse IPv6 text that `net.isIPv6` accepted: `::` compression, an IPv4 tail, a zone id (dropped). */
function parseIPv6(text: string): Uint8Array {
  const zone = text.indexOf('%');
  const address = zone >= 0 ? text.slice(0, zone) : text;
  const groupsOf = (part: string): number[] => {
    if (part.length === 0) return [];
    const groups: number[] = [];
    for (const piece of part.split(':')) {
      if (piece.includes('.')) {
        const [a = 0, b = 0, c = 0, d = 0] = piece.split('.').map(Number);
        groups.push((a << 8) | b, (c << 8) | d);
      } else {
        groups.push(parseInt(piece, 16));
      }
    }
    return groups;
  };
  const gap = address.indexOf('::');
  let groups: number[];
  if (gap < 0) {
    groups = groupsOf(address);
  } else {
    const head = groupsOf(address.slice(0, gap));
    const tail = groupsOf(address.slice(gap + 2));
    groups = [...head, ...new Array<number>(8 - head.length - tail.length).fill(0), ...tail];
  }
  const bytes = new Uint8Array(16);
  for (let i = 0; i < 8; i++) {
    const group = groups[i] ?? 0;
    bytes[2 * i] = group >> 8;
    bytes[2 * i + 1] = group & 0xff;
  }
  return bytes;
}

function formatIPv4(bytes: Uint8Array, pos: number): string {
  return `${bytes[pos]}.${bytes[pos + 1]}.${bytes[pos + 2]}.${bytes[pos + 3]}`;
}

function formatIPv6(bytes: Uint8Array, pos: number): string {
  const groups: number[] = [];
  for (let i = 0; i < 8; i++) groups.push(((bytes[pos + 2 * i] ?? 0) << 8) | (bytes[pos + 2 * i + 1] ?? 0));
  // RFC 5952 §5: IPv4-mapped addresses keep their dotted tail.
  if (groups[0] === 0 && groups[1] === 0 && groups[2] === 0 && groups[3] === 0 && groups[4] === 0 && groups[5] === 0xffff) {
    return `::ffff:${formatIPv4(bytes, pos + 12)}`;
  }
  // RFC 5952 §4.2: compress the longest run of two or more zero groups, the first one on a tie.
  let bestStart = -1;
  let bestLength = 1;
  for (let i = 0; i < 8; ) {
    if (groups[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && groups[j] === 0) j++;
    if (j - i > bestLength) {
      bestStart = i;
      bestLength = j - i;
    }
    i = j;
  }
  const hex = (from: number, to: number): string => groups.slice(from, to).map((g) => g.toString(16)).join(':');
  if (bestStart < 0) return hex(0, 8);
  return `${hex(0, bestStart)}::${hex(bestStart + bestLength, 8)}`;
}

// ---- integers --------------------------------------------------------------------------------

function checkInt32(value: number, field: string): number {
  if ((value | 0) !== value) throw new InvalidArgumentError(`record ${field} must be a signed 32-bit integer, got ${value}`);
  return value;
}

function checkSafe(value: number, field: string): void {
  if (!Number.isSafeInteger(value)) throw new InvalidArgumentError(`record ${field} must be a safe integer (|n| < 2^53), got ${value}`);
}

function writeInt64(buf: Buffer, pos: number, value: number, field: string): void {
  if (!Number.isSafeInteger(value)) throw new InvalidArgumentError(`record ${field} must be a safe integer (|n| < 2^53), got ${value}`);
  writeInt64BE(buf, value, pos);
}

function readInt64(buf: Buffer, pos: number, recordOffset: number, field: string): number {
  if (!isSafeInt64At(buf, pos)) {
    throw new ProtocolError(`record at offset ${recordOffset}: ${field} is beyond 2^53, so it cannot be an offset or a timestamp; the record is corrupt`);
  }
  return readInt64BE(buf, pos);
}
