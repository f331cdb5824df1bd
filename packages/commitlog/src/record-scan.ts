/**
 * A fast, allocation-light check of stored records for recovery and dispatch. The record layout is
 * owned by `@karman/protocol` (reference §3.1); this file only walks the length fields to find the
 * body, topic and properties, and checks what a torn or corrupt tail breaks: the magic, the total
 * size against the sum of the parts, the PHYSICALOFFSET field against where the record sits, and
 * the body CRC. Full decoding (`decodeRecord`) would build every field and is kept for reads.
 */
import { crc32 } from 'node:zlib';
import { BLANK_RECORD_SIZE, MessageMagic, MessageSysFlag, RECORD_FIXED_OVERHEAD_V1_IPV4, decodeProperties, MessageProperty, tagsCode } from '@karman/protocol';
import type { DispatchRequest } from './dispatcher.js';
import { readInt64BE } from './int64.js';

/** What sits at a position of the commit log. */
export type ScanResult =
  | { kind: 'record'; size: number; dispatch: () => DispatchRequest; layout: RecordLayout }
  | { kind: 'blank'; size: number }
  /** Zeros: the end of written data. */
  | { kind: 'end' }
  /** The buffer ends inside the record; read at least `size` bytes from its start and retry. */
  | { kind: 'short'; size: number }
  | { kind: 'invalid'; reason: string };

const TX_TYPE_MASK = 0xc;
/** The i64 fields: position in the record, or -1 (STORETIMESTAMP) and -2 (PREPAREDTRANSACTIONOFFSET), which move with the host widths. */
const INT64_FIELDS: ReadonlyArray<readonly [string, number]> = [
  ['QUEUEOFFSET', 20],
  ['PHYSICALOFFSET', 28],
  ['BORNTIMESTAMP', 40],
  ['STORETIMESTAMP', -1],
  ['PREPAREDTRANSACTIONOFFSET', -2],
];

/** Where the variable-length parts of a checked record sit in its buffer. */
export interface RecordLayout {
  bodyAt: number;
  bodyLen: number;
  topicAt: number;
  topicLen: number;
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
  // Appends always leave room for the 8-byte blank filler after a record (§3.1), and the smallest
  // V1 record (IPv4, empty body, topic, properties) is the fixed overhead.
  if (totalSize < RECORD_FIXED_OVERHEAD_V1_IPV4 || totalSize + BLANK_RECORD_SIZE > remainingInSegment) {
    return { kind: 'invalid', reason: `record size ${totalSize} out of range (${remainingInSegment} bytes left in the segment)` };
  }
  if (buf.length - at < totalSize) return { kind: 'short', size: totalSize };

  const sysFlag = buf.readInt32BE(at + 36);
  const bornHostLen = sysFlag & MessageSysFlag.BORNHOST_V6 ? 20 : 8;
  const storeHostLen = sysFlag & MessageSysFlag.STOREHOST_V6 ? 20 : 8;
  const storeTsAt = at + 48 + bornHostLen;
  const preparedAt = storeTsAt + 8 + storeHostLen + 4;
  const bodyLenAt = preparedAt + 8;
  const end = at + totalSize;
  if (bodyLenAt + 4 > end) return { kind: 'invalid', reason: 'record too short for its hosts' };
  const bodyLen = buf.readInt32BE(bodyLenAt);
  const bodyAt = bodyLenAt + 4;
  const topicLenAt = bodyAt + bodyLen;
  const topicLenSize = magic === MessageMagic.V2 ? 2 : 1;
  if (bodyLen < 0 || topicLenAt + topicLenSize > end) return { kind: 'invalid', reason: `body length ${bodyLen} does not fit the record` };
  const topicLen = topicLenSize === 2 ? buf.readUInt16BE(topicLenAt) : buf.readUInt8(topicLenAt);
  const topicAt = topicLenAt + topicLenSize;
  const propLenAt = topicAt + topicLen;
  if (propLenAt + 2 > end) return { kind: 'invalid', reason: `topic length ${topicLen} does not fit the record` };
  const propLen = buf.readUInt16BE(propLenAt);
  if (propLenAt + 2 + propLen !== end) {
    return { kind: 'invalid', reason: `record size ${totalSize} does not match its parts (${propLenAt + 2 + propLen - at})` };
  }
  if (topicLen > 0x7fff || propLen > 0x7fff) return { kind: 'invalid', reason: `topic or properties length above 32767 (${topicLen}, ${propLen})` };
  // The 64-bit fields must be safe integers, as every decoder (and the protocol package's) reads them.
  for (const [field, pos] of INT64_FIELDS) {
    const high = buf.readInt32BE(pos === -1 ? storeTsAt : pos === -2 ? preparedAt : at + pos);
    if (high >= 0x200000 || high < -0x200000) return { kind: 'invalid', reason: `${field} is beyond 2^53` };
  }
  const storedPhysical = readInt64BE(buf, at + 28);
  if (storedPhysical !== physicalOffset) {
    return { kind: 'invalid', reason: `record says it sits at ${storedPhysical}, found at ${physicalOffset}` };
  }
  if (checkCrc) {
    const crc = crc32(buf.subarray(bodyAt, bodyAt + bodyLen)) & 0x7fffffff;
    const stored = buf.readInt32BE(at + 8);
    if (crc !== stored) return { kind: 'invalid', reason: `body CRC 0x${crc.toString(16)} differs from the stored 0x${(stored >>> 0).toString(16)}` };
  }
  return {
    kind: 'record',
    size: totalSize,
    layout: { bodyAt, bodyLen, topicAt, topicLen },
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

/** Whether a record of this sysFlag gets a consume-queue entry (prepared and rollback do not; §3.4). */
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
  const view = buf.length - at === size ? buf : buf.subarray(0, at + size);
  const r = scanRecord(view, at, physicalOffset, remainingInSegment, false);
  if (r.kind !== 'record') {
    const why = r.kind === 'invalid' ? r.reason : r.kind === 'short' ? `the unit's size ${size} is shorter than the record` : r.kind === 'end' ? 'zeros' : 'a blank filler';
    return { kind: 'misplaced', reason: why };
  }
  if (r.size !== size) return { kind: 'misplaced', reason: `the unit says ${size} bytes, the record ${r.size}` };
  const { topicAt, topicLen, bodyAt, bodyLen } = r.layout;
  const queueId = buf.readInt32BE(at + 12);
  const queueOffset = readInt64BE(buf, at + 20);
  if (topicLen !== expect.topic.length || buf.compare(expect.topic, 0, topicLen, topicAt, topicAt + topicLen) !== 0 || queueId !== expect.queueId || queueOffset !== expect.queueOffset) {
    return { kind: 'misplaced', reason: `the record there is ${buf.toString('utf8', topicAt, topicAt + topicLen)}/${queueId} offset ${queueOffset}` };
  }
  if (checkCrc) {
    const crc = crc32(buf.subarray(bodyAt, bodyAt + bodyLen)) & 0x7fffffff;
    const stored = buf.readInt32BE(at + 8);
    if (crc !== stored) return { kind: 'corrupt', reason: `body CRC 0x${crc.toString(16)} differs from the stored 0x${(stored >>> 0).toString(16)}` };
  }
  return { kind: 'ok' };
}

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
