/**
 * Replication of the commit log, byte for byte. The master reads chunks of its
 * log with `readReplicationChunk`; the slave checks them with `parseReplicationChunk` and appends
 * them at exactly the same physical offsets, so both logs hold identical bytes and a message id
 * (store host + physical offset) names the same record on both.
 *
 * A chunk always holds whole records, so the slave can dispatch each one (consume queues, index)
 * as soon as it is written. It ends at a record boundary or with the 8-byte blank filler that
 * closes a segment (the filler stands for the rest of that segment, as on the master).
 *
 *   chunk = record* [blank]      offset: where the first record starts
 *                                end:    offset of the next chunk (next segment's base after a blank)
 */
import { KarmanError } from '@karman/protocol';
import type { CommitLog } from './commit-log.js';
import type { DispatchRequest } from './dispatcher.js';
import { scanRecord } from './record-scan.js';

/** Raw commit-log bytes as shipped from a master to a slave. */
export interface ReplicationChunk {
  /** Physical offset of the first byte. */
  offset: number;
  /** Whole records, possibly ending with a segment's blank filler. */
  data: Buffer;
  /** Offset right after the chunk in the log (after a filler: the next segment's base). */
  end: number;
}

/** A chunk checked by the slave, ready to append. */
export interface ParsedChunk {
  buffers: Buffer[];
  /** Log bytes each buffer stands for (its length, or the rest of the segment for a filler). */
  spans: number[];
  dispatches: DispatchRequest[];
  end: number;
  /** Records copied but not dispatched: their body fails its CRC (the master quarantined them). */
  damaged: Array<{ offset: number; size: number; reason: string }>;
}

/**
 * Read whole records starting at `offset`, about `maxBytes` of them (at least one record, however
 * large), never across a segment end. Undefined when `offset` is the end of the log.
 * Throws REPLICA_OFFSET_GONE below the log's minimum (retention deleted it) and REPLICA_OFFSET_INVALID
 * past its end or off a record boundary.
 */
export async function readReplicationChunk(log: CommitLog, offset: number, maxBytes: number): Promise<ReplicationChunk | undefined> {
  const max = log.maxOffset;
  if (offset === max) return undefined;
  if (offset < log.minOffset) {
    throw new KarmanError('REPLICA_OFFSET_GONE', `offset ${offset} is below the commit log's minimum ${log.minOffset} (deleted by retention); clear the slave's store so it starts from the master's last segment`);
  }
  if (!Number.isSafeInteger(offset) || offset > max) {
    throw new KarmanError('REPLICA_OFFSET_INVALID', `offset ${offset} is past the master's commit-log end ${max}; the slave's log is not a copy of this master's (clear the slave's store)`);
  }
  const segmentEnd = log.files.baseOf(offset) + log.fileSize;
  const limit = Math.min(max, segmentEnd) - offset;
  let want = Math.min(limit, Math.max(8, maxBytes));
  for (;;) {
    const buf = await log.read(offset, want);
    if (!buf) return undefined; // deleted meanwhile: the next report tells
    let at = 0;
    for (;;) {
      const r = scanRecord(buf, at, offset + at, segmentEnd - (offset + at), false);
      if (r.kind === 'record') {
        at += r.size;
        continue;
      }
      if (r.kind === 'blank') {
        return { offset, data: buf.subarray(0, at + 8), end: segmentEnd };
      }
      if (r.kind === 'short' && at === 0 && r.size > want && r.size <= limit) break; // one large record: read it whole
      if (r.kind === 'invalid') {
        if (at > 0) break;
        throw new KarmanError('REPLICA_OFFSET_INVALID', `offset ${offset} is not a record boundary of the master's commit log (${r.reason}); clear the slave's store`);
      }
      return at === 0 ? undefined : { offset, data: buf.subarray(0, at), end: offset + at };
    }
    if (at > 0) return { offset, data: buf.subarray(0, at), end: offset + at };
    want = Math.min(limit, (scanRecord(buf, 0, offset, segmentEnd - offset, false) as { size: number }).size);
  }
}

/**
 * Check a chunk received at `offset` for a log of `fileSize`-byte segments: whole valid records
 * (body CRC included), each claiming the offset it arrives at, a filler only last. Throws
 * REPLICA_CORRUPT naming the first bad record.
 */
export function parseReplicationChunk(data: Buffer, offset: number, fileSize: number): ParsedChunk {
  const out: ParsedChunk = { buffers: [], spans: [], dispatches: [], end: offset, damaged: [] };
  let at = 0;
  while (at < data.length) {
    const phy = offset + at;
    const remaining = fileSize - (phy % fileSize);
    const r = scanRecord(data, at, phy, remaining, false);
    if (r.kind === 'record') {
      out.buffers.push(data.subarray(at, at + r.size));
      out.spans.push(r.size);
      // A record whose frame holds but whose body fails its CRC is one the master quarantined (it
      // keeps the bytes where they are): copied as it is, so the logs stay byte for byte the same,
      // but not dispatched, and quarantined here too. Refusing it stopped replication for good.
      const checked = scanRecord(data, at, phy, remaining, true);
      if (checked.kind === 'invalid') out.damaged.push({ offset: phy, size: r.size, reason: checked.reason });
      else out.dispatches.push(r.dispatch());
      at += r.size;
    } else if (r.kind === 'blank' && at + 8 === data.length) {
      out.buffers.push(data.subarray(at, at + 8));
      out.spans.push(r.size);
      out.end = phy + r.size;
      return out;
    } else {
      const why = r.kind === 'invalid' ? r.reason : r.kind === 'short' ? 'the chunk ends inside a record' : r.kind === 'end' ? 'zeros where a record should start' : 'a blank filler before the end of the chunk';
      throw new KarmanError('REPLICA_CORRUPT', `replicated bytes at offset ${phy} are not a valid record: ${why}`);
    }
  }
  out.end = offset + at;
  return out;
}
