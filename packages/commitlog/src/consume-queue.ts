/**
 * Consume queues: per (topic, queueId), the index of that queue's records in the shared commit log.
 * Folder `consumequeue/<topic>/<queueId>/`, files of `mappedFileSizeConsumeQueue`
 * bytes (300,000 units) named by the byte offset of their first unit. Logical offset N is the unit
 * at byte N × 20.
 *
 * Unit layout (20 bytes, big-endian):
 *
 *   pos  size  field
 *     0     8  commitLogOffset   physical offset of the record
 *     8     4  size              record TOTALSIZE
 *    12     8  tagsCode          Java hashCode of TAGS, 0 without tags
 *
 * The queue's max offset is the next unit to write; its min offset the first unit whose record the
 * commit log still holds. Units are written in one positional write per queue per dispatched batch.
 */
import * as fs from 'node:fs';
import { join } from 'node:path';
import { ProtocolError, readInt64BE, writeInt64BE } from '@karman/protocol';
import type { CommitLogDispatcher, DispatchRequest } from './dispatcher.js';
import { isConsumable } from './record-scan.js';
import { SegmentQueue, type SegmentFile } from './segment-queue.js';
import type { StoreLogger } from './store-config.js';

/** Bytes per consume-queue unit. */
export const CQ_STORE_UNIT_SIZE = 20;
/** Units read at a time when recovery compares re-dispatched records with the queue. */
const VERIFY_WINDOW = 64 * 1024 - ((64 * 1024) % CQ_STORE_UNIT_SIZE);

/** RocketMQ's topic charset (`TopicValidator`); it also keeps a topic safe as a folder name. */
export const TOPIC_NAME_PATTERN = /^[%|a-zA-Z0-9_-]+$/;
/** Longest topic the store accepts: a consume-queue folder name must fit in 255 bytes. */
export const MAX_TOPIC_LENGTH = 255;
/** Highest queue id (the consume-queue folder is the decimal id). */
export const MAX_QUEUE_ID = 99_999_999;

/**
 * Why (topic, queueId) cannot name a consume queue, or undefined. Checked where a queue folder is
 * made or removed, whatever the path: a record replicated from a rogue master carries any bytes.
 */
function queueNameProblem(topic: string, queueId: number): string | undefined {
  if (topic.length === 0 || topic.length > MAX_TOPIC_LENGTH || !TOPIC_NAME_PATTERN.test(topic)) {
    return `topic ${JSON.stringify(topic.slice(0, 60))} is not 1 to ${MAX_TOPIC_LENGTH} characters of [%|a-zA-Z0-9_-]`;
  }
  if (!Number.isInteger(queueId) || queueId < 0 || queueId > MAX_QUEUE_ID) return `queue id ${queueId} is not an integer from 0 to ${MAX_QUEUE_ID}`;
  return undefined;
}

/** One consume-queue unit. */
export interface CqUnit {
  commitLogOffset: number;
  size: number;
  tagsCode: number;
}

function writeUnit(buf: Buffer, at: number, phy: number, size: number, tagsCode: number): void {
  writeInt64BE(buf, phy, at);
  buf.writeInt32BE(size, at + 8);
  writeInt64BE(buf, tagsCode, at + 12);
}

/** Read the unit at `at` of `buf`. */
function readUnit(buf: Buffer, at: number): CqUnit {
  return { commitLogOffset: readInt64BE(buf, at), size: buf.readInt32BE(at + 8), tagsCode: readInt64BE(buf, at + 12) };
}

/** All 20 bytes zero: a slot never written. */
function isZeroUnit(buf: Buffer, at: number): boolean {
  for (let i = at; i < at + CQ_STORE_UNIT_SIZE; i++) if (buf[i] !== 0) return false;
  return true;
}

/**
 * Longest run of zero units `load` takes for holes (slots of quarantined records) rather than the
 * end of the queue: damage hides a few records of a queue, not thousands.
 */
const MAX_HOLE_UNITS = 1024;

/**
 * What a dispatch did to a queue. `conflict`: the queue already holds a different unit for that
 * offset that points at a valid record of that offset, so the dispatched record's header is wrong.
 */
type PutOutcome = 'written' | 'same' | 'repaired' | 'gap' | 'conflict';

/** Whether `unit` points at a valid record of (topic, queueId, queueOffset); see `ConsumeQueueStore.unitCheck`. */
export type UnitCheck = (topic: string, queueId: number, queueOffset: number, unit: CqUnit) => boolean;

export class ConsumeQueue {
  readonly files: SegmentQueue;
  /** First logical offset whose record the commit log still holds. */
  minOffset = 0;
  /** Next logical offset to write (units written plus units pending). */
  private max = 0;
  /** Commit-log end of the last unit (its offset + size). */
  lastPhysicalEnd = 0;
  /**
   * Set by `truncatePhysicalAfter` when it dropped a unit that started inside the log: the
   * commit-log offset to re-dispatch from (the end of the unit kept before it).
   */
  droppedInsideLog: number | true | undefined;
  /** Units dispatched but not yet written, `pendingLen` bytes of `pending`, for the file position `pendingStart`. */
  private pending: Buffer = Buffer.allocUnsafe(16 * CQ_STORE_UNIT_SIZE);
  private pendingLen = 0;
  private window: { start: number; buf: Buffer } | undefined;
  private pendingStart = -1;

  constructor(
    rootDir: string,
    readonly topic: string,
    readonly queueId: number,
    readonly fileSize: number,
    clock: () => number,
  ) {
    this.files = new SegmentQueue(join(rootDir, topic, String(queueId)), fileSize, clock, `consume queue ${topic}/${queueId}`);
  }

  get maxOffset(): number {
    return this.max;
  }

  /**
   * Open the files and find where valid units end, checking the last three files like RocketMQ:
   * a unit is valid when its size is positive and its record starts at or after the previous
   * unit's record end. An all-zero unit followed (within `MAX_HOLE_UNITS`) by valid ones is a hole,
   * the slot of a quarantined record that a rebuild could not fill; RocketMQ ends the queue at the
   * first zero unit. At the first invalid unit the queue ends before the unit ahead of it (a unit
   * whose offset or size grew past the truth makes its successor look wrong, so either may be the
   * damaged one); units after are zeroed. Returns the commit-log offset from which this queue must
   * be rebuilt by dispatch, or undefined when the queue looked intact.
   */
  load(log: StoreLogger): number | undefined {
    this.files.load((issue) => log('warn', `${issue.file}: ${issue.problem}`));
    const segs = this.files.segments;
    if (segs.length === 0) return undefined;
    const firstChecked = Math.max(0, segs.length - 3);
    const checked = segs.slice(firstChecked);
    const datas = checked.map((seg) => seg.readSync(0, seg.fileSize));
    // The last unit that is not all zeros; past it is unused space.
    let lastUnit = -1;
    for (let k = checked.length - 1; k >= 0 && lastUnit < 0; k--) {
      const data = datas[k]!;
      for (let at = data.length - (data.length % CQ_STORE_UNIT_SIZE) - CQ_STORE_UNIT_SIZE; at >= 0; at -= CQ_STORE_UNIT_SIZE) {
        if (!isZeroUnit(data, at)) {
          lastUnit = checked[k]!.baseOffset + at;
          break;
        }
      }
    }
    let prevEnd = -1;
    let beforePrevEnd = -1;
    let lastValidAt = -1;
    let repairFrom: number | undefined;
    let endByte = checked[0]!.baseOffset;
    let zeroRun = 0;
    outer: for (const [k, seg] of checked.entries()) {
      const data = datas[k]!;
      for (let at = 0; at + CQ_STORE_UNIT_SIZE <= data.length; at += CQ_STORE_UNIT_SIZE) {
        const pos = seg.baseOffset + at;
        if (pos > lastUnit) break outer;
        if (isZeroUnit(data, at)) {
          if (++zeroRun > MAX_HOLE_UNITS) {
            log('warn', `consume queue ${this.topic}/${this.queueId}: bytes after ${MAX_HOLE_UNITS} zero units at offset ${pos / CQ_STORE_UNIT_SIZE} are not units; zeroing them`);
            break outer;
          }
          continue;
        }
        const u = readUnit(data, at);
        if (u.size <= 0 || u.commitLogOffset < 0 || u.commitLogOffset < prevEnd) {
          // After zeros, the queue ends where they start; else the unit ahead of this one may be the bad one.
          const dropFrom = zeroRun > 0 ? endByte : lastValidAt >= 0 ? lastValidAt : pos;
          log(
            'warn',
            `consume queue ${this.topic}/${this.queueId}: invalid unit at offset ${pos / CQ_STORE_UNIT_SIZE} ` +
              `(commitLogOffset ${u.commitLogOffset}, size ${u.size}); dropping units from offset ${dropFrom / CQ_STORE_UNIT_SIZE}, they are rebuilt from the commit log`,
          );
          const from = dropFrom === lastValidAt ? beforePrevEnd : prevEnd;
          repairFrom = from < 0 ? 0 : from;
          endByte = dropFrom;
          break outer;
        }
        beforePrevEnd = prevEnd;
        prevEnd = u.commitLogOffset + u.size;
        lastValidAt = pos;
        zeroRun = 0;
        endByte = pos + CQ_STORE_UNIT_SIZE;
      }
    }
    // Zero anything after the valid end (a torn unit, units after a bad one, stray bytes).
    if (endByte < this.files.last!.endOffset) this.files.truncateFrom(endByte);
    this.setEnd(endByte);
    // Units of older files were flushed before their file filled up; only the last may be dirty.
    for (const s of this.files.segments.slice(0, -1)) s.flushedPosition = s.wrotePosition;
    this.minOffset = this.files.minOffset / CQ_STORE_UNIT_SIZE;
    return repairFrom;
  }

  private setEnd(endByte: number): void {
    this.max = endByte / CQ_STORE_UNIT_SIZE;
    for (const s of this.files.segments) s.wrotePosition = Math.max(0, Math.min(s.fileSize, endByte - s.baseOffset));
    this.lastPhysicalEnd = 0;
    if (this.max > this.minOffsetByFiles()) {
      const u = this.readUnitSync(this.max - 1);
      if (u) this.lastPhysicalEnd = u.commitLogOffset + u.size;
    }
  }

  private minOffsetByFiles(): number {
    return this.files.minOffset / CQ_STORE_UNIT_SIZE;
  }

  readUnitSync(offset: number): CqUnit | undefined {
    const pos = offset * CQ_STORE_UNIT_SIZE;
    const seg = this.files.find(pos);
    if (!seg) return undefined;
    const b = seg.readSync(pos - seg.baseOffset, CQ_STORE_UNIT_SIZE);
    return b.length === CQ_STORE_UNIT_SIZE ? readUnit(b, 0) : undefined;
  }

  /**
   * Record the unit for logical offset `queueOffset`. Appends go to a pending buffer written by
   * `commit`; a unit that already exists is compared and, if different, overwritten (recovery
   * re-dispatches records the queue may already hold).
   */
  put(queueOffset: number, phy: number, size: number, tagsCode: number, unitCheck?: UnitCheck): PutOutcome {
    if (queueOffset < this.max) {
      this.commit();
      const existing = this.readUnitCached(queueOffset);
      if (existing && existing.commitLogOffset === phy && existing.size === size && existing.tagsCode === tagsCode) return 'same';
      if (queueOffset < this.minOffsetByFiles()) return 'same'; // below the files retention kept: nothing to repair
      // Two valid records claiming one slot: the unit's is where the queue's order put it, the
      // dispatched one's QUEUEOFFSET (which no CRC covers) is the suspect. Keep the unit.
      if (existing && existing.commitLogOffset !== phy && existing.size > 0 && unitCheck?.(this.topic, this.queueId, queueOffset, existing)) return 'conflict';
      const b = Buffer.allocUnsafe(CQ_STORE_UNIT_SIZE);
      writeUnit(b, 0, phy, size, tagsCode);
      this.writeAt(queueOffset * CQ_STORE_UNIT_SIZE, b);
      return 'repaired';
    }
    // A record of this queue placed before records the queue already holds, or far past its end,
    // cannot be genuine: its QUEUEOFFSET (or QUEUEID) was damaged.
    if (phy < this.lastPhysicalEnd || (queueOffset > this.max + MAX_HOLE_UNITS && this.files.segments.length > 0)) return 'conflict';

    const outcome: PutOutcome = queueOffset > this.max ? 'gap' : 'written';
    if (outcome === 'gap') {
      this.commit();
      if (this.max > 0 && this.gapPuts.length < MAX_HOLE_UNITS) this.gapPuts.push({ queueOffset, before: this.max });
      if (this.max === 0 && this.files.segments.length === 0) {
        // A new queue whose first record has a nonzero offset (its earlier records were deleted by
        // retention before the queue folder was lost): start the queue there.
        this.minOffset = queueOffset;
      }
      this.max = queueOffset;
    }
    if (this.pendingStart < 0) this.pendingStart = this.max * CQ_STORE_UNIT_SIZE;
    if (this.pendingLen + CQ_STORE_UNIT_SIZE > this.pending.length) {
      const grown = Buffer.allocUnsafe(this.pending.length * 2);
      this.pending.copy(grown, 0, 0, this.pendingLen);
      this.pending = grown;
    }
    writeUnit(this.pending, this.pendingLen, phy, size, tagsCode);
    this.pendingLen += CQ_STORE_UNIT_SIZE;
    this.max++;
    this.lastPhysicalEnd = phy + size;
    return outcome;
  }

  /** Units written past a gap since the last sweep: their queue offset, and the max offset before. */
  private gapPuts: Array<{ queueOffset: number; before: number }> = [];

  /** See `ConsumeQueueStore.sweepOutOfOrder`; returns the zeroed units by queue offset. */
  sweepOutOfOrder(): Array<[number, CqUnit]> {
    const puts = this.gapPuts;
    this.gapPuts = [];
    if (puts.length === 0) return [];
    this.commit();
    const zeroed: Array<[number, CqUnit]> = [];
    for (const { queueOffset, before } of puts) {
      const u = this.readUnitSync(queueOffset);
      if (!u || (u.size === 0 && u.commitLogOffset === 0)) continue;
      // The slots the gap skipped, filled later by records of lower offsets: if one of them lies
      // after this unit's record, this record's queue offset is the wrong one.
      let outOfOrder = false;
      for (let k = Math.max(before, this.minOffsetByFiles()); k < queueOffset && !outOfOrder; k++) {
        const w = this.readUnitSync(k);
        if (w && w.size > 0 && w.commitLogOffset > u.commitLogOffset) outOfOrder = true;
      }
      if (!outOfOrder) continue;
      zeroed.push([queueOffset, u]);
      this.writeAt(queueOffset * CQ_STORE_UNIT_SIZE, Buffer.alloc(CQ_STORE_UNIT_SIZE));
    }
    if (zeroed.length > 0) {
      // Trim holes left at the end.
      let end = this.max;
      while (end > this.minOffsetByFiles()) {
        const w = this.readUnitSync(end - 1);
        if (w && !(w.size === 0 && w.commitLogOffset === 0)) break;
        end--;
      }
      if (end < this.max) {
        this.files.truncateFrom(end * CQ_STORE_UNIT_SIZE);
        this.setEnd(end * CQ_STORE_UNIT_SIZE);
        if (this.minOffset > this.max) this.minOffset = this.max;
      }
    }
    return zeroed;
  }

  /** Overwrite the unit at `queueOffset` (a read found it pointing at the wrong bytes). */
  rewriteUnit(queueOffset: number, phy: number, size: number, tagsCode: number): void {
    this.commit();
    const b = Buffer.allocUnsafe(CQ_STORE_UNIT_SIZE);
    writeUnit(b, 0, phy, size, tagsCode);
    this.writeAt(queueOffset * CQ_STORE_UNIT_SIZE, b);
  }

  /** Write pending units: one write per file touched. */
  commit(): void {
    if (this.pendingLen === 0) return;
    const start = this.pendingStart;
    const len = this.pendingLen;
    this.pendingLen = 0;
    this.pendingStart = -1;
    // writeAt copies synchronously (pwrite), so the buffer is free again when it returns.
    this.writeAt(start, this.pending.subarray(0, len));
  }

  /**
   * Recovery compares every re-dispatched record with the unit the queue holds: read units in
   * 64 KiB windows rather than one pread each. Any write drops the window.
   */
  readUnitCached(offset: number): CqUnit | undefined {
    const pos = offset * CQ_STORE_UNIT_SIZE;
    const w = this.window;
    if (w && pos >= w.start && pos + CQ_STORE_UNIT_SIZE <= w.start + w.buf.length) return readUnit(w.buf, pos - w.start);
    const seg = this.files.find(pos);
    if (!seg) return undefined;
    const rel = pos - seg.baseOffset;
    const len = Math.min(VERIFY_WINDOW, seg.fileSize - rel, this.max * CQ_STORE_UNIT_SIZE - pos);
    if (len < CQ_STORE_UNIT_SIZE) return undefined;
    const buf = seg.readSync(rel, len - (len % CQ_STORE_UNIT_SIZE));
    this.window = { start: pos, buf };
    return buf.length >= CQ_STORE_UNIT_SIZE ? readUnit(buf, 0) : undefined;
  }

  private writeAt(pos: number, buf: Buffer): void {
    this.window = undefined;
    let done = 0;
    while (done < buf.length) {
      const at = pos + done;
      const seg = this.obtainFor(at);
      const n = Math.min(buf.length - done, seg.endOffset - at);
      seg.writeSync(buf.subarray(done, done + n), at - seg.baseOffset);
      seg.wrotePosition = Math.max(seg.wrotePosition, at - seg.baseOffset + n);
      done += n;
    }
  }

  private obtainFor(pos: number): SegmentFile {
    const base = this.files.baseOf(pos);
    const found = this.files.find(pos);
    if (found) return found;
    const last = this.files.last;
    if (!last) {
      // First file of a queue that starts above offset 0.
      fs.mkdirSync(this.files.dir, { recursive: true });
      return this.files.obtain(base);
    }
    let seg = last;
    while (seg.endOffset <= pos) seg = this.files.obtain(seg.endOffset);
    return seg;
  }

  /**
   * Read up to `count` units from logical offset `offset`, stopping at the end of its file and at
   * the max offset. Undefined when the file is gone.
   */
  readUnits(offset: number, count: number): Buffer | undefined {
    // Synchronous: units are 20 bytes a message and the page cache holds them (RocketMQ maps them).
    const pos = offset * CQ_STORE_UNIT_SIZE;
    const seg = this.files.find(pos);
    if (!seg) return undefined;
    const end = Math.min(this.max * CQ_STORE_UNIT_SIZE, seg.endOffset, pos + count * CQ_STORE_UNIT_SIZE);
    if (end <= pos) return Buffer.alloc(0);
    return seg.readSync(pos - seg.baseOffset, end - pos);
  }

  /** Byte offset of the next file after the one holding `offset`, as a logical offset. */
  nextFileOffset(offset: number): number {
    const pos = offset * CQ_STORE_UNIT_SIZE;
    return (this.files.baseOf(pos) + this.fileSize) / CQ_STORE_UNIT_SIZE;
  }

  /**
   * Forget every unit from logical offset `queueOffset` on, written or pending (a write group of the
   * commit log was rolled back): the file is zeroed from there, the max offset goes back to it.
   */
  rollBackTo(queueOffset: number): void {
    if (queueOffset >= this.max) return;
    this.pendingLen = 0;
    this.pendingStart = -1;
    this.window = undefined;
    this.files.truncateFrom(queueOffset * CQ_STORE_UNIT_SIZE);
    this.setEnd(queueOffset * CQ_STORE_UNIT_SIZE);
    if (this.minOffset > this.max) this.minOffset = this.max;
  }

  /**
   * Drop units whose record ends past `commitLogEnd` (the commit log lost its tail): they would
   * serve bytes that no longer exist. Returns how many were dropped.
   */
  truncatePhysicalAfter(commitLogEnd: number): number {
    this.commit();
    let end = this.max;
    const floor = this.minOffsetByFiles();
    this.droppedInsideLog = undefined;
    while (end > floor) {
      const u = this.readUnitSync(end - 1);
      if (u && u.commitLogOffset + u.size <= commitLogEnd) break;
      // A unit that starts inside the log but runs past its end has a damaged size: its record
      // may be intact, so recovery re-dispatches from the unit kept before it.
      if (u && u.commitLogOffset >= 0 && u.commitLogOffset < commitLogEnd) this.droppedInsideLog = true;
      end--;
    }
    if (this.droppedInsideLog) {
      const kept = end > floor ? this.readUnitSync(end - 1) : undefined;
      this.droppedInsideLog = kept ? kept.commitLogOffset + kept.size : 0;
    }
    const dropped = this.max - end;
    if (dropped > 0) {
      this.files.truncateFrom(end * CQ_STORE_UNIT_SIZE);
      this.setEnd(end * CQ_STORE_UNIT_SIZE);
      if (this.minOffset > this.max) this.minOffset = this.max;
    }
    return dropped;
  }

  /**
   * After the commit log's minimum rose to `minPhysical`: delete files whose units all point below
   * it (never the last, which remembers the max offset) and move the min offset to the first unit
   * still backed by data (RocketMQ's `correctMinOffset`).
   */
  deleteBelow(minPhysical: number): void {
    this.commit();
    const segs = this.files.segments;
    let deletable = 0;
    for (let i = 0; i < segs.length - 1; i++) {
      const seg = segs[i]!;
      const lastUnitPos = seg.endOffset - CQ_STORE_UNIT_SIZE;
      const u = this.readUnitSync(lastUnitPos / CQ_STORE_UNIT_SIZE);
      if (u && u.commitLogOffset + u.size <= minPhysical) deletable = i + 1;
      else break;
    }
    if (deletable > 0) this.files.deleteFirst(deletable);
    this.correctMinOffset(minPhysical);
  }

  /** Move `minOffset` to the first unit whose record starts at or after `minPhysical`. */
  correctMinOffset(minPhysical: number): void {
    let lo = Math.max(this.minOffsetByFiles(), 0);
    let hi = this.max;
    // Units are ordered by commit-log offset, so binary search.
    while (lo < hi) {
      const mid = Math.floor((lo + hi) / 2);
      const u = this.readUnitSync(mid);
      if (u && u.commitLogOffset >= minPhysical) hi = mid;
      else lo = mid + 1;
    }
    this.minOffset = lo;
  }

  /** fdatasync every file with written units. */
  async flush(): Promise<void> {
    this.commit();
    for (const seg of this.files.segments) {
      if (seg.wrotePosition > seg.flushedPosition) {
        const upTo = seg.wrotePosition;
        await seg.flush();
        seg.flushedPosition = upTo;
      }
    }
  }

  close(): void {
    this.commit();
    this.files.close();
  }
}

/**
 * Every consume queue of a store, and the dispatcher that fills them from the commit log.
 * Prepared and rolled-back transaction records get no unit.
 */
export class ConsumeQueueStore implements CommitLogDispatcher {
  private readonly queues = new Map<string, Map<number, ConsumeQueue>>();
  private readonly touched = new Set<ConsumeQueue>();
  /** Set when a dispatch met a queue missing earlier units: the caller must re-dispatch from further back. */
  gapSeen = false;
  /** Units overwritten because they differed from the commit log (recovery reports the count). */
  repaired = 0;
  /** Records whose topic or queue id no consume queue may have (see `queueNameProblem`), skipped by dispatch. */
  undispatchable = 0;
  /** Checks an existing unit before a dispatched record may overwrite it (set by the store). */
  unitCheck: UnitCheck | undefined;
  /**
   * After recovery's scans: in every queue dispatched to, units whose record lies before the record
   * of a lower queue offset are zeroed (a record whose QUEUEOFFSET was damaged upwards claimed a
   * slot ahead: the queue's order shows it), and holes left at the end are trimmed. Returns them.
   */
  sweepOutOfOrder(): Array<{ queue: ConsumeQueue; queueOffset: number; unit: CqUnit }> {
    const swept: Array<{ queue: ConsumeQueue; queueOffset: number; unit: CqUnit }> = [];
    for (const cq of this.all()) for (const [queueOffset, unit] of cq.sweepOutOfOrder()) swept.push({ queue: cq, queueOffset, unit });
    return swept;
  }
  /**
   * Told of a dispatched record whose header cannot be right (set by the store): a slot a valid
   * record already holds, a position out of the queue's order, a topic or queue id no queue can have.
   */
  onConflict: ((req: DispatchRequest, reason: string) => void) | undefined;
  /**
   * Deleted topics and the commit-log end at their deletion: records of such a topic below that
   * offset are not dispatched (recovery re-reads recent segments and would rebuild the queues).
   */
  readonly tombstones = new Map<string, number>();

  constructor(
    readonly dir: string,
    private readonly fileSize: number,
    private readonly clock: () => number,
    private readonly log: StoreLogger,
  ) {}

  /**
   * Open every queue under `consumequeue/`. Returns the lowest commit-log offset some queue needs
   * re-dispatched from (a queue whose tail was invalid), or undefined.
   */
  load(): number | undefined {
    fs.mkdirSync(this.dir, { recursive: true });
    let repairFrom: number | undefined;
    for (const topic of fs.readdirSync(this.dir).sort()) {
      const topicDir = join(this.dir, topic);
      if (!TOPIC_NAME_PATTERN.test(topic) || !fs.statSync(topicDir).isDirectory()) {
        throw new ProtocolError(
          `consume-queue folder ${topicDir} is not a topic folder: this is not a Karman/RocketMQ store; point storePathRootDir at an empty folder or remove the stray entry`,
        );
      }
      for (const q of fs.readdirSync(topicDir).sort()) {
        if (!/^\d{1,9}$/.test(q)) {
          throw new ProtocolError(`consume-queue folder ${join(topicDir, q)} is not a queue id folder: remove the stray entry`);
        }
        const cq = this.create(topic, Number(q));
        const r = cq.load(this.log);
        if (r !== undefined) repairFrom = Math.min(repairFrom ?? r, r);
      }
    }
    return repairFrom;
  }

  private create(topic: string, queueId: number): ConsumeQueue {
    const problem = queueNameProblem(topic, queueId);
    if (problem) throw new ProtocolError(`cannot make a consume queue: ${problem}`);
    let byId = this.queues.get(topic);
    if (!byId) {
      byId = new Map();
      this.queues.set(topic, byId);
    }
    const cq = new ConsumeQueue(this.dir, topic, queueId, this.fileSize, this.clock);
    byId.set(queueId, cq);
    return cq;
  }

  find(topic: string, queueId: number): ConsumeQueue | undefined {
    return this.queues.get(topic)?.get(queueId);
  }

  findOrCreate(topic: string, queueId: number): ConsumeQueue {
    return this.find(topic, queueId) ?? this.create(topic, queueId);
  }

  *all(): Iterable<ConsumeQueue> {
    for (const byId of this.queues.values()) yield* byId.values();
  }

  /**
   * Delete every queue of `topic`: their files and the topic's folder (RocketMQ's `deleteTopics`).
   * Returns the queues deleted.
   */
  deleteTopic(topic: string): ConsumeQueue[] {
    if (queueNameProblem(topic, 0)) return [];
    const byId = this.queues.get(topic);
    if (!byId) return [];
    const gone = [...byId.values()];
    for (const cq of gone) {
      this.touched.delete(cq);
      cq.files.destroyAll();
    }
    this.queues.delete(topic);
    fs.rmSync(join(this.dir, topic), { recursive: true, force: true });
    return gone;
  }

  dispatch(req: DispatchRequest): void {
    if (!isConsumable(req.sysFlag)) return;
    if (this.tombstones.size > 0) {
      const deletedAt = this.tombstones.get(req.topic);
      if (deletedAt !== undefined && req.commitLogOffset < deletedAt) return;
    }
    const problem = queueNameProblem(req.topic, req.queueId) ?? (req.consumeQueueOffset >= 0 ? undefined : `queue offset ${req.consumeQueueOffset} is negative`);
    if (problem) {
      // Stored (replication keeps the bytes as the master sent them) but never routed to a folder.
      this.undispatchable++;
      this.log('warn', `record at commit-log offset ${req.commitLogOffset} not dispatched: ${problem}`);
      this.refuse(req, `its header cannot be right: ${problem}`);
      return;
    }
    const cq = this.findOrCreate(req.topic, req.queueId);
    const outcome = cq.put(req.consumeQueueOffset, req.commitLogOffset, req.msgSize, req.tagsCode, this.unitCheck);
    if (outcome === 'gap') this.gapSeen = true;
    else if (outcome === 'conflict') {
      const held = cq.readUnitSync(req.consumeQueueOffset);
      this.refuse(
        req,
        held && req.consumeQueueOffset < cq.maxOffset
          ? `its header claims ${req.topic}/${req.queueId} offset ${req.consumeQueueOffset}, which the record at ${held.commitLogOffset} holds`
          : `its header claims ${req.topic}/${req.queueId} offset ${req.consumeQueueOffset}, out of that queue's order (it ends at offset ${cq.maxOffset}, commit-log ${cq.lastPhysicalEnd})`,
      );
      return;
    }
    else if (outcome === 'repaired') {
      this.repaired++;
      this.log('warn', `consume queue ${req.topic}/${req.queueId}: unit ${req.consumeQueueOffset} differed from the commit log; rewritten`);
    }
    this.touched.add(cq);
  }

  /** A dispatched record whose header cannot be right: reported, and counted as damage that may hide a record of any queue. */
  private refuse(req: DispatchRequest, reason: string): void {
    this.onConflict?.(req, reason);
  }

  /** Write the units of every queue dispatched to since the last commit. */
  commit(): void {
    for (const cq of this.touched) cq.commit();
    this.touched.clear();
  }

  async flush(): Promise<void> {
    this.commit();
    for (const cq of this.all()) await cq.flush();
  }

  close(): void {
    this.commit();
    for (const cq of this.all()) cq.close();
  }
}
