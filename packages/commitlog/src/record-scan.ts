/**
 * A fast, allocation-light check of stored records for recovery and dispatch. The record layout is
 * owned by `@karman/protocol`; this file only walks the length fields to find the
 * body, topic and properties, and checks what a torn or corrupt tail breaks: the magic, the total
 * size against the sum of the parts, the PHYSICALOFFSET field against where the record sits, and
 * the body CRC. Full decoding (`decodeRecord`) would build every field and is kept for reads.
 */
import { crc32 } from 'node:zlib';
import { BLANK_RECORD_SIZE, MessageMagic, MessageSysFlag, RECORD_FIXED_OVERHEAD_V1_IPV4, decodeProperties, MessageProperty, tagsCode, readInt64BE } from '@karman/protocol';
import type { DispatchRequest } from './dispatcher.js';

/** What sits at a position of the commit log. */
export type ScanResult =
  | { kind: 'record'; size: number; dispatch: () => DispatchRequest; slot: () => RecordSlot; layout: RecordLayout }
  | { kind: 'blank'; size: number }
  /** Zeros: the end of written data. */
  | { kind: 'end' }
  /** The buffer ends inside the record; read at least `size` bytes from its start and retry. */
  | { kind: 'short'; size: number }
  | { kind: 'invalid'; reason: string };

const TX_TYPE_MASK = 0xc;

/** The consume-queue slot a record claims, read without decoding all its properties (scrubs). */
export interface RecordSlot {
  topic: string;
  queueId: number;
  queueOffset: number;
  sysFlag: number;
  tagsCode: number;
}

/** Where the variable-length parts of a checked record sit in its buffer. */
interface RecordLayout {
  bodyAt: number;
  bodyLen: number;
  topicAt: number;
  topicLen: number;
  propLenAt: number;
  storeTsAt: number;
  preparedAt: number;
  sysFlag: number;
}

/**
 * The inner lengths of a V1/V2 record of `totalSize` bytes at `buf[at]` (all in `buf`), checked:
 * they add up to the total, the 64-bit fields are safe integers, and PHYSICALOFFSET is
 * `physicalOffset`. A string says what failed.
 */
function measureRecord(buf: Buffer, at: number, totalSize: number, magic: number, physicalOffset: number): RecordLayout | string {
  const sysFlag = buf.readInt32BE(at + 36);
  const storeTsAt = at + 48 + (sysFlag & MessageSysFlag.BORNHOST_V6 ? 20 : 8);
  const preparedAt = storeTsAt + 8 + (sysFlag & MessageSysFlag.STOREHOST_V6 ? 20 : 8) + 4;
  const bodyLenAt = preparedAt + 8;
  const end = at + totalSize;
  if (bodyLenAt + 4 > end) return 'record too short for its hosts';
  const bodyLen = buf.readInt32BE(bodyLenAt);
  const bodyAt = bodyLenAt + 4;
  const topicLenAt = bodyAt + bodyLen;
  const v2 = magic === MessageMagic.V2;
  if (bodyLen < 0 || topicLenAt + (v2 ? 2 : 1) > end) return `body length ${bodyLen} does not fit the record`;
  const topicLen = v2 ? buf.readUInt16BE(topicLenAt) : buf[topicLenAt]!;
  const topicAt = topicLenAt + (v2 ? 2 : 1);
  const propLenAt = topicAt + topicLen;
  if (propLenAt + 2 > end) return `topic length ${topicLen} does not fit the record`;
  const propLen = buf.readUInt16BE(propLenAt);
  if (propLenAt + 2 + propLen !== end) return `record size ${totalSize} does not match its parts (${propLenAt + 2 + propLen - at})`;
  if (topicLen > 0x7fff || propLen > 0x7fff) return `topic or properties length above 32767 (${topicLen}, ${propLen})`;
  // The 64-bit fields must be safe integers, as every decoder (and the protocol package's) reads them.
  if (!safeHigh(buf, at + 20) || !safeHigh(buf, at + 28) || !safeHigh(buf, at + 40) || !safeHigh(buf, storeTsAt) || !safeHigh(buf, preparedAt)) {
    return 'a 64-bit field (queue or physical offset, a timestamp, the prepared-transaction offset) is beyond 2^53';
  }
  const storedPhysical = readInt64BE(buf, at + 28);
  if (storedPhysical !== physicalOffset) return `record says it sits at ${storedPhysical}, found at ${physicalOffset}`;
  return { bodyAt, bodyLen, topicAt, topicLen, propLenAt, storeTsAt, preparedAt, sysFlag };
}

/** Whether the i64 at `pos` is within ±2^53 (its high word within [-2^21, 2^21)). */
function safeHigh(buf: Buffer, pos: number): boolean {
  const high = buf.readInt32BE(pos);
  return high < 0x200000 && high >= -0x200000;
}

/**
 * Check the record starting at `buf[at]`, which sits at commit-log offset `physicalOffset` with
 * `remainingInSegment` bytes left in its segment.
 */
export function scanRecord(buf: Buffer, at: number, physicalOffset: number, remainingInSegment: number, checkCrc: boolean): ScanResult {
  if (buf.length - at < 8) return { kind: 'short', size: 8 };
  const totalSize = buf.readInt32BE(at);
  const magic = buf.readInt32BE(at + 4);
  if (totalSize === 0 && magic === 0) return { kind: 'end' };
  if (magic === MessageMagic.BLANK) {
    if (totalSize !== remainingInSegment || totalSize < BLANK_RECORD_SIZE) {
      return { kind: 'invalid', reason: `blank filler of ${totalSize} bytes where ${remainingInSegment} bytes remain in the segment` };
    }
    return { kind: 'blank', size: totalSize };
  }
  if (magic !== MessageMagic.V1 && magic !== MessageMagic.V2) {
    return { kind: 'invalid', reason: `bad magic 0x${(magic >>> 0).toString(16)}` };
  }
  // Appends always leave room for the 8-byte blank filler after a record, and the smallest
  // V1 record (IPv4, empty body, topic, properties) is the fixed overhead.
  if (totalSize < RECORD_FIXED_OVERHEAD_V1_IPV4 || totalSize + BLANK_RECORD_SIZE > remainingInSegment) {
    return { kind: 'invalid', reason: `record size ${totalSize} out of range (${remainingInSegment} bytes left in the segment)` };
  }
  if (buf.length - at < totalSize) return { kind: 'short', size: totalSize };

  const layout = measureRecord(buf, at, totalSize, magic, physicalOffset);
  if (typeof layout === 'string') return { kind: 'invalid', reason: layout };
  const { bodyAt, bodyLen, topicAt, topicLen, propLenAt, storeTsAt, preparedAt, sysFlag } = layout;
  const end = at + totalSize;
  const propLen = end - propLenAt - 2;
  if (checkCrc) {
    const crc = crc32(buf.subarray(bodyAt, bodyAt + bodyLen)) & 0x7fffffff;
    const stored = buf.readInt32BE(at + 8);
    if (crc !== stored) return { kind: 'invalid', reason: `body CRC 0x${crc.toString(16)} differs from the stored 0x${(stored >>> 0).toString(16)}` };
  }
  return {
    kind: 'record',
    size: totalSize,
    layout,
    slot: () => ({
      topic: topicOf(buf, topicAt, topicLen),
      queueId: buf.readInt32BE(at + 12),
      queueOffset: readInt64BE(buf, at + 20),
      sysFlag,
      tagsCode: tagsCode(tagsOf(buf, propLenAt + 2, end)),
    }),
    dispatch: () => {
      const props = propLen > 0 ? decodeProperties(buf.subarray(propLenAt + 2, end)) : {};
      const req: DispatchRequest = {
        topic: buf.toString('utf8', topicAt, topicAt + topicLen),
        queueId: buf.readInt32BE(at + 12),
        commitLogOffset: physicalOffset,
        msgSize: totalSize,
        tagsCode: tagsCode(props[MessageProperty.TAGS]),
        storeTimestamp: readInt64BE(buf, storeTsAt),
        consumeQueueOffset: readInt64BE(buf, at + 20),
        sysFlag,
        preparedTransactionOffset: readInt64BE(buf, preparedAt),
      };
      const keys = props[MessageProperty.KEYS];
      if (keys !== undefined) req.keys = keys;
      const uniq = props[MessageProperty.UNIQ_KEY];
      if (uniq !== undefined) req.uniqKey = uniq;
      return req;
    },
  };
}

/** Whether a record of this sysFlag gets a consume-queue entry (prepared and rollback do not). */
export function isConsumable(sysFlag: number): boolean {
  const tx = sysFlag & TX_TYPE_MASK;
  return tx !== MessageSysFlag.TRANSACTION_PREPARED && tx !== MessageSysFlag.TRANSACTION_ROLLBACK;
}

/** The queue a read expects a record to belong to, at which queue offset. */
export interface ExpectedSlot {
  /** The topic's UTF-8 bytes. */
  topic: Buffer;
  queueId: number;
  queueOffset: number;
}

/**
 * What a read found where a consume-queue unit points: `ok`; `corrupt` (a record of that queue
 * offset whose body CRC fails: the record is damaged); or `misplaced` (no valid record of that queue
 * offset there: the unit is damaged, or the record's header is).
 */
export type ServedCheck = { kind: 'ok' } | { kind: 'corrupt' | 'misplaced'; reason: string };

/**
 * Check the `size` bytes at `buf[at]`, read from commit-log offset `physicalOffset` for the unit of
 * `expect`, before they are handed out: a whole valid record (`scanRecord`'s checks) of exactly that
 * size, of that topic, queue and queue offset, and (with `checkCrc`) a body matching its CRC.
 */
export function checkServedRecord(buf: Buffer, at: number, size: number, physicalOffset: number, remainingInSegment: number, expect: ExpectedSlot, checkCrc: boolean): ServedCheck {
  if (size < RECORD_FIXED_OVERHEAD_V1_IPV4 || buf.length - at < size) return { kind: 'misplaced', reason: `the unit's size ${size} cannot hold a record` };
  const totalSize = buf.readInt32BE(at);
  const magic = buf.readInt32BE(at + 4);
  if (magic !== MessageMagic.V1 && magic !== MessageMagic.V2) return { kind: 'misplaced', reason: `bad magic 0x${(magic >>> 0).toString(16)}` };
  if (totalSize !== size) return { kind: 'misplaced', reason: `the unit says ${size} bytes, the record ${totalSize}` };
  if (totalSize + BLANK_RECORD_SIZE > remainingInSegment) return { kind: 'misplaced', reason: `record size ${totalSize} does not fit its segment` };
  const layout = measureRecord(buf, at, totalSize, magic, physicalOffset);
  if (typeof layout === 'string') return { kind: 'misplaced', reason: layout };
  const { topicAt, topicLen, bodyAt, bodyLen } = layout;
  const queueId = buf.readInt32BE(at + 12);
  const queueOffset = readInt64BE(buf, at + 20);
  if (topicLen !== expect.topic.length || buf.compare(expect.topic, 0, topicLen, topicAt, topicAt + topicLen) !== 0 || queueId !== expect.queueId || queueOffset !== expect.queueOffset) {
    return { kind: 'misplaced', reason: `the record there is ${buf.toString('utf8', topicAt, topicAt + topicLen)}/${queueId} offset ${queueOffset}` };
  }
  if (checkCrc && (crc32(buf.subarray(bodyAt, bodyAt + bodyLen)) & 0x7fffffff) !== buf.readInt32BE(at + 8)) {
    const crc = crc32(buf.subarray(bodyAt, bodyAt + bodyLen)) & 0x7fffffff;
    return { kind: 'corrupt', reason: `body CRC 0x${crc.toString(16)} differs from the stored 0x${(buf.readInt32BE(at + 8) >>> 0).toString(16)}` };
  }
  return SERVED_OK;
}

const SERVED_OK: ServedCheck = Object.freeze({ kind: 'ok' });

/**
 * Where the next valid record after a damaged stretch starts in `buf` (searched from `from`), whose
 * first byte sits at commit-log offset `bufOffset` and whose segment ends at `segmentEnd`: a position
 * whose magic, sizes, PHYSICALOFFSET (its own position, which no other bytes carry by chance) and
 * body CRC all check, or a blank filler that ends the segment exactly. Candidates are found by
 * searching for the magic bytes, so zeros are skipped at memory speed. `short` means the buffer ends
 * inside the candidate: read from `at` again with more bytes. Undefined when none is in `buf`.
 */
export function findNextRecord(buf: Buffer, from: number, bufOffset: number, segmentEnd: number): { at: number; short: boolean } | undefined {
  let best: { at: number; short: boolean } | undefined;
  for (const magic of MAGIC_PATTERNS) {
    for (let m = buf.indexOf(magic, from + 4); m >= 0; m = buf.indexOf(magic, m + 1)) {
      const at = m - 4;
      if (best && at >= best.at) break;
      const r = scanRecord(buf, at, bufOffset + at, segmentEnd - (bufOffset + at), true);
      if (r.kind === 'record' || r.kind === 'blank' || r.kind === 'short') {
        best = { at, short: r.kind === 'short' };
        break;
      }
    }
  }
  return best;
}

const MAGIC_PATTERNS = [MessageMagic.V1, MessageMagic.V2, MessageMagic.BLANK].map((m) => {
  const b = Buffer.alloc(4);
  b.writeInt32BE(m);
  return b;
});

let lastTopic = { bytes: Buffer.alloc(0), text: '' };

/** The topic at `buf[at]`, reusing the last string when the bytes repeat (they mostly do). */
function topicOf(buf: Buffer, at: number, len: number): string {
  const last = lastTopic;
  if (last.bytes.length === len && buf.compare(last.bytes, 0, len, at, at + len) === 0) return last.text;
  lastTopic = { bytes: Buffer.from(buf.subarray(at, at + len)), text: buf.toString('utf8', at, at + len) };
  return lastTopic.text;
}

const TAGS_NAME = Buffer.from(`${MessageProperty.TAGS}\u0001`);

/** The TAGS property of the properties text in `buf[from..end)`, found without parsing the rest. */
function tagsOf(buf: Buffer, from: number, end: number): string | undefined {
  for (let i = buf.indexOf(TAGS_NAME, from); i >= 0 && i < end; i = buf.indexOf(TAGS_NAME, i + 1)) {
    if (i !== from && buf[i - 1] !== 2) continue; // inside another name or value
    const valueAt = i + TAGS_NAME.length;
    let valueEnd = buf.indexOf(2, valueAt);
    if (valueEnd < 0 || valueEnd > end) valueEnd = end;
    return buf.toString('utf8', valueAt, valueEnd);
  }
  return undefined;
}
