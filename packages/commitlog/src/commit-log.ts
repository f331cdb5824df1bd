/**
 * The commit log: one append-only byte stream of records shared by every topic, kept in
 * fixed-size segment files. It reads like a small write-ahead log:
 *
 * - `append` places a record synchronously (assigning its physical offset, rolling to the next
 *   segment behind an 8-byte blank filler when the record plus a filler would not fit, so no record
 *   spans two segments) and has the caller encode it straight into the pending write group's
 *   staging chunk (1 MiB buffers reused once written), so appends allocate no buffer of their own.
 * - Everything queued in one turn of the event loop, plus whatever queued while the previous write
 *   was in flight, goes out in one positional writev per segment. One write is in flight at a
 *   time, so the written prefix (`maxOffset`) only grows and readers never see a gap.
 * - When a write completes the records are handed to dispatch (consume queues, index, long-poll
 *   wake-ups) and only then are their appends acknowledged: an acknowledged append has reached the
 *   OS and is readable.
 * - When a write or its dispatch fails (ENOSPC: a full disk), the whole write group is rolled back
 *   before any of its appends is answered: the files are cut back to where the group started (a
 *   shrinking ftruncate, which needs no free space), the consume queues are told to drop what they
 *   took (`onRolledBack`), and every append of the group is rejected. Nothing refused is ever
 *   read, nor found by the next recovery, and the log is ready for the next append at once. Only
 *   when the cut itself fails does the log stop (`failed`) until it is reopened.
 * - `flush` fdatasyncs written bytes. SYNC_FLUSH waits on it through `waitFlushed` (group commit:
 *   one fdatasync answers every append written before it started); ASYNC_FLUSH runs it on a timer.
 *
 * Offsets: `minOffset` ≤ `flushedOffset` ≤ `maxOffset` (written) ≤ `reservedOffset` (placed).
 */
import { BLANK_RECORD_SIZE, KarmanError, encodeBlankRecord } from '@karman/protocol';
import type { DispatchRequest } from './dispatcher.js';
import { findNextRecord, scanRecord, type RecordSlot, type ScanResult } from './record-scan.js';
import { SegmentQueue } from './segment-queue.js';
import type { StoreLogger } from './store-config.js';

/** How much recovery reads at a time. */
const SCAN_CHUNK = 8 * 1024 * 1024;
/** Size of a staging chunk that appends encode their records into. */
const STAGING_CHUNK = 1024 * 1024;
/** Written chunks kept for reuse (a fresh chunk costs page faults on first touch). */
const STAGING_POOL = 8;
/** Size of a read-cache block: one pread serves every record inside it. */
const READ_BLOCK = 256 * 1024;

interface WriteGroup {
  start: number;
  end: number;
  buffers: Buffer[];
  /** Stream bytes each buffer stands for: its length, or the rest of the segment for a blank filler. */
  spans: number[];
  dispatches: DispatchRequest[];
  /** The staging chunk records are being encoded into, from `regionStart` to `used`. */
  chunk: Buffer | undefined;
  regionStart: number;
  used: number;
  /** Every staging chunk of this group, returned to the pool once written. */
  chunks: Buffer[];
  promise: Promise<void>;
  resolve: () => void;
  reject: (err: Error) => void;
}

interface FlushWaiter {
  offset: number;
  deadline: number;
  resolve: (flushed: boolean) => void;
}

/** A record found by a recovery scan. */
export interface ScannedRecord {
  offset: number;
  size: number;
  dispatch: () => DispatchRequest;
  /** Its slot alone, cheaper than `dispatch` (no properties decoded but TAGS). */
  slot: () => RecordSlot;
}

/**
 * Bytes that failed a check with a valid record after them: `offset` up to `offset + size`, where
 * the next valid record (or the next segment's first) starts.
 */
export interface DamagedStretch {
  offset: number;
  size: number;
  reason: string;
}

/** How `scan` treats what it meets. */
export interface ScanOptions {
  /**
   * Told of each damaged stretch that has a valid record after it; the scan goes on after it. Without
   * it the scan stops at the first record that fails a check.
   */
  onDamaged?: (stretch: DamagedStretch) => void;
  /** Stop before this commit-log offset (default: the end of the files). */
  limit?: number;
  /** Return at the first record boundary at or after this offset (a scan done in slices). */
  pauseAt?: number;
}

/** Where a recovery scan stopped and why. */
export interface ScanEnd {
  end: number;
  /** Set when the scan stopped at a record that failed a check, not at zeros or the last file's end. */
  invalid?: string;
}

export class CommitLog {
  readonly files: SegmentQueue;
  private reserved = 0;
  private written = 0;
  private flushed = 0;
  private group: WriteGroup | undefined;
  private writing = false;
  private failure: Error | undefined;
  private flushChain: Promise<void> = Promise.resolve();
  private readonly waiters: FlushWaiter[] = [];
  private committing = false;
  private waiterTimer: NodeJS.Timeout | undefined;
  /** When the last flush finished (clock ms), for ASYNC_FLUSH's thorough interval. */
  lastFlushTime = 0;

  constructor(
    dir: string,
    readonly fileSize: number,
    private readonly clock: () => number,
    private readonly log: StoreLogger,
    private readonly onWritten: (dispatches: DispatchRequest[]) => void,
    readCacheBytes = 0,
    /** A write group failed and was cut back to `start`: undo what its `dispatches` placed (queue offsets, units). */
    private readonly onRolledBack: (dispatches: DispatchRequest[], start: number, error: Error) => void = () => {},
  ) {
    this.files = new SegmentQueue(dir, fileSize, clock, 'commit log');
    this.readCacheBlocks = Math.floor(readCacheBytes / READ_BLOCK);
  }

  /**
   * Read blocks by start offset, least recently loaded first. Written bytes never change while the
   * log is open (only recovery's `setEnd` cuts the tail, and it clears the cache), so a block, and
   * the record views handed out from it, stay valid. A block is filled up to where the log was
   * written when it was read; when a later record needs more, only the bytes past `filled` are
   * read (a consumer at the tail reads each new byte once, not its whole block again).
   */
  private readonly blocks = new Map<number, { buf: Buffer; filled: number }>();
  private readonly readCacheBlocks: number;

  get minOffset(): number {
    return this.files.minOffset;
  }

  /** End of the bytes written to the OS: everything below is readable. */
  get maxOffset(): number {
    return this.written;
  }

  get flushedOffset(): number {
    return this.flushed;
  }

  get reservedOffset(): number {
    return this.reserved;
  }

  /** The write error that stopped appends for good (a failed write that could not be rolled back), if any. */
  get failed(): Error | undefined {
    return this.failure;
  }

  /** Open the segment files (recovery decides where the data ends). */
  load(): void {
    this.files.load((issue) => this.log('warn', `${issue.file}: ${issue.problem}`));
  }

  /**
   * Check records from `from` forwards until zeros, the end of the last file, or a record that
   * fails a check. `visit` sees each valid record in order and may answer `'stop'`. With
   * `onDamaged`, a record that fails a check is skipped when a valid record follows it somewhere
   * after (found by `resync`): only damage with nothing valid after it (a torn tail) ends the scan.
   * Reads synchronously: recovery runs before the store serves anything, and the other callers
   * (repairs, scrubs) read bounded stretches.
   */
  scan(from: number, checkCrc: boolean, visit: (rec: ScannedRecord) => void | 'stop', options: ScanOptions = {}): ScanEnd {
    const limit = options.limit ?? Number.POSITIVE_INFINITY;
    const stop = Math.min(limit, options.pauseAt ?? Number.POSITIVE_INFINITY);
    let off = from;
    for (;;) {
      if (off >= stop) return { end: off };
      const seg = this.files.find(off);
      if (!seg) return { end: off };
      let chunk: Buffer = Buffer.alloc(0);
      let chunkStart = off;
      for (;;) {
        if (off >= stop) return { end: off };
        const rel = off - seg.baseOffset;
        const remaining = seg.fileSize - rel;
        let r: ScanResult = scanRecord(chunk, off - chunkStart, off, remaining, checkCrc);
        if (r.kind === 'short') {
          chunkStart = off;
          chunk = seg.readSync(rel, Math.min(remaining, Math.max(SCAN_CHUNK, r.size)));
          r = scanRecord(chunk, 0, off, remaining, checkCrc);
          if (r.kind === 'short') r = { kind: 'invalid', reason: `file ${seg.path} ends inside a record` };
        }
        if (r.kind === 'record') {
          if (visit({ offset: off, size: r.size, dispatch: r.dispatch, slot: r.slot }) === 'stop') return { end: off + r.size };
          off += r.size;
        } else if (r.kind === 'blank') {
          off = seg.endOffset;
          break;
        } else if (r.kind === 'end') {
          return { end: off };
        } else {
          const next = options.onDamaged ? this.resync(off, limit) : undefined;
          if (next === undefined) return { end: off, invalid: r.reason };
          options.onDamaged!({ offset: off, size: next - off, reason: r.reason });
          off = next;
          break;
        }
      }
    }
  }

  /**
   * The start of the first valid record (or blank filler) after the damaged bytes at `off`: searched
   * byte by byte for a magic whose record checks in full, PHYSICALOFFSET and body CRC included, in
   * the rest of that segment; then the first byte of the next one (a record never spans two
   * segments, so it always starts one; past it only when it is damaged too). Undefined when nothing
   * valid follows before `limit`, or the next segment starts with zeros: the damage is a torn tail.
   */
  private resync(off: number, limit: number): number | undefined {
    let pos = off + 1;
    for (let seg = this.files.find(off); seg; seg = this.files.find(seg.endOffset)) {
      if (pos <= seg.baseOffset) {
        // A later segment: its first byte starts a record, or zeros say nothing was written after
        // the damage (a torn tail: no need to read the zeros of a preallocated file).
        pos = seg.baseOffset;
        if (pos >= limit) return undefined;
        const head = seg.readSync(0, Math.min(seg.fileSize, SCAN_CHUNK));
        const first = scanRecord(head, 0, pos, seg.fileSize, true);
        if (first.kind === 'end') return undefined;
        if (first.kind === 'record' || first.kind === 'blank') return pos;
        if (first.kind === 'short' && scanRecord(seg.readSync(0, Math.min(seg.fileSize, first.size)), 0, pos, seg.fileSize, true).kind === 'record') return pos;
      }
      while (pos < Math.min(seg.endOffset, limit)) {
        const rel = pos - seg.baseOffset;
        const chunk = seg.readSync(rel, Math.min(seg.fileSize - rel, SCAN_CHUNK));
        if (chunk.length < 8) break;
        const hit = findNextRecord(chunk, 0, pos, seg.endOffset);
        if (!hit) {
          // A magic cut by the end of the chunk is searched again in the next one.
          pos += chunk.length === seg.fileSize - rel ? chunk.length : chunk.length - 7;
          continue;
        }
        const at = pos + hit.at;
        if (!hit.short) return at < limit ? at : undefined;
        const big = seg.readSync(at - seg.baseOffset, Math.min(seg.endOffset - at, Math.max(8, chunk.readInt32BE(hit.at))));
        const r = scanRecord(big, 0, at, seg.endOffset - at, true);
        if (r.kind === 'record' || r.kind === 'blank') return at < limit ? at : undefined;
        pos = at + 1;
      }
      if (seg.endOffset >= limit) return undefined;
    }
    return undefined;
  }

  /**
   * Make `end` the end of the log: zero what follows it in its file, delete later files. A crash
   * half-way leaves zeros or missing files past `end`, which the next recovery reads as the end
   * of data again.
   */
  setEnd(end: number): void {
    this.files.truncateFrom(end);
    this.blocks.clear();
    for (const s of this.files.segments) s.wrotePosition = s.flushedPosition = Math.max(0, Math.min(s.fileSize, end - s.baseOffset));
    this.reserved = this.written = this.flushed = end;
    this.lastFlushTime = this.clock();
  }

  /**
   * Place a record of `size` bytes at the end of the log and queue it for the next write. `fill` is
   * called synchronously with a buffer, the position to write the record at, and the record's
   * physical offset; it writes exactly `size` bytes and describes the record for dispatch.
   * Resolves when the record has reached the OS and been dispatched.
   */
  append(size: number, fill: (target: Buffer, at: number, physicalOffset: number) => DispatchRequest[]): Promise<void> {
    const remaining = this.fileSize - (this.reserved % this.fileSize);
    if (size + BLANK_RECORD_SIZE > remaining) {
      // fill the rest of the segment so readers jump to the next one.
      void this.enqueue(encodeBlankRecord(remaining), undefined, remaining);
    }
    const g = this.openGroup();
    let chunk = g.chunk;
    if (!chunk || chunk.length - g.used < size) {
      closeRegion(g);
      chunk = this.takeChunk(size);
      g.chunks.push(chunk);
      g.chunk = chunk;
      g.regionStart = g.used = 0;
    }
    const dispatch = fill(chunk, g.used, this.reserved);
    g.used += size;
    this.reserved += size;
    g.end = this.reserved;
    for (const d of dispatch) g.dispatches.push(d);
    return g.promise;
  }

  private readonly chunkPool: Buffer[] = [];

  private takeChunk(size: number): Buffer {
    if (size <= STAGING_CHUNK) return this.chunkPool.pop() ?? Buffer.allocUnsafeSlow(STAGING_CHUNK);
    return Buffer.allocUnsafeSlow(size);
  }

  /**
   * Queue bytes replicated from a master (ha-append.ts) at exactly `offset`, which must be the end
   * of this log: a gap or an overlap would make the two logs differ, so both are refused. An empty
   * log takes any segment-aligned offset (a fresh slave starts at the master's last segment).
   * Resolves once written and dispatched.
   */
  appendReplicated(offset: number, buffers: readonly Buffer[], spans: readonly number[], dispatches: DispatchRequest[]): Promise<void> {
    if (this.failure) return Promise.reject(this.failure);
    if (this.reserved === 0 && this.files.segments.length === 0 && offset > 0 && offset % this.fileSize === 0) this.setEnd(offset);
    if (offset !== this.reserved) {
      const what = offset > this.reserved ? `would leave a gap after the log's end ${this.reserved}` : `overlaps bytes already held (the log ends at ${this.reserved})`;
      return Promise.reject(new KarmanError('REPLICA_OFFSET_MISMATCH', `replicated bytes at offset ${offset} ${what}; resume from the end of the log`));
    }
    if (buffers.length === 0) return Promise.resolve();
    let done: Promise<void> = Promise.resolve();
    for (let i = 0; i < buffers.length; i++) done = this.enqueue(buffers[i]!, i === buffers.length - 1 ? dispatches : undefined, spans[i]);
    return done;
  }

  private openGroup(): WriteGroup {
    let g = this.group;
    if (!g) {
      let resolve!: () => void;
      let reject!: (err: Error) => void;
      const promise = new Promise<void>((res, rej) => {
        resolve = res;
        reject = rej;
      });
      g = { start: this.reserved, end: this.reserved, buffers: [], spans: [], dispatches: [], chunk: undefined, regionStart: 0, used: 0, chunks: [], promise, resolve, reject };
      this.group = g;
      if (!this.writing) setImmediate(() => this.writeLoop());
    }
    return g;
  }

  private enqueue(buf: Buffer, dispatch: DispatchRequest[] | undefined, span = buf.length): Promise<void> {
    const g = this.openGroup();
    closeRegion(g);
    g.buffers.push(buf);
    g.spans.push(span);
    if (dispatch) for (const d of dispatch) g.dispatches.push(d);
    this.reserved += span;
    g.end = this.reserved;
    return g.promise;
  }

  private writeLoop(): void {
    if (this.writing) return;
    this.writing = true;
    try {
      for (let g = this.group; g; g = this.group) {
        this.group = undefined;
        closeRegion(g);
        if (this.failure) {
          g.reject(this.failure);
          continue;
        }
        try {
          this.writeGroup(g);
          this.written = g.end;
          // Dispatch writes consume-queue units, which can meet the same full disk: the group is
          // then refused as a whole, so a send is either readable or not stored at all.
          this.onWritten(g.dispatches);
        } catch (err) {
          this.rollBack(g, KarmanError.from(err));
          continue;
        }
        for (const c of g.chunks) if (c.length === STAGING_CHUNK && this.chunkPool.length < STAGING_POOL) this.chunkPool.push(c);
        g.resolve();
      }
    } finally {
      this.writing = false;
    }
  }

  /**
   * Undo a failed group (see the top of this file): cut the files back to `g.start`, forget the
   * bytes, let the store undo its placements, reject the group's appends. It is the only group in
   * flight (appends placed while it was written would be in it), so the log then ends at
   * `g.start` exactly as before it. A crash half-way leaves zeros or missing files past
   * `g.start`, which recovery reads as the end of the log. If the cut fails, some records of the
   * refused appends may still be on disk: the log stops until it is reopened, and recovery then
   * decides (the abort file stays).
   */
  private rollBack(g: WriteGroup, error: Error): void {
    try {
      this.files.truncateFrom(g.start);
      for (const [at, block] of this.blocks) {
        if (at >= g.start) this.blocks.delete(at);
        else block.filled = Math.min(block.filled, g.start - at);
      }
      this.reserved = this.written = g.start;
      this.flushed = Math.min(this.flushed, g.start);
      this.onRolledBack(g.dispatches, g.start, error);
    } catch (err) {
      this.failure = error;
      this.log(
        'error',
        `commit log: write at offset ${g.start} failed (${error.message}) and could not be undone (${err instanceof Error ? err.message : String(err)}); ` +
          'appends stop until the store is reopened, whose recovery decides what of it is kept',
      );
    }
    g.reject(error);
  }

  private writeGroup(g: WriteGroup): void {
    let off = g.start;
    let i = 0;
    const now = this.clock();
    while (i < g.buffers.length) {
      const seg = this.files.obtain(this.files.baseOf(off));
      const batchStart = off;
      const batch: Buffer[] = [];
      while (i < g.buffers.length && off < seg.endOffset) {
        batch.push(g.buffers[i]!);
        off += g.spans[i++]!;
      }
      // A blank filler is the last buffer of its segment and stands for the rest of it, so the
      // bytes of a batch are always contiguous on disk.
      // On this thread: the bytes go to the page cache (a memory copy, as a mapped file's would),
      // and the append is answered without a thread-pool round trip.
      seg.writevSync(batch, batchStart - seg.baseOffset);
      seg.wrotePosition = off - seg.baseOffset;
      seg.lastModified = now;
      // Keep the next segment ready (RocketMQ's AllocateMappedFileService) so a roll never waits on file creation.
      if (seg === this.files.last) this.files.preallocateNext();
    }
  }

  /** fdatasync everything written so far. Calls are serialized; each covers what was written when it started. */
  flush(): Promise<void> {
    const run = this.flushChain.then(() => this.flushNow());
    this.flushChain = run.catch(() => undefined);
    return run;
  }

  private async flushNow(): Promise<void> {
    const target = this.written;
    if (target <= this.flushed) return;
    for (const seg of this.files.segments) {
      if (seg.endOffset <= this.flushed || seg.baseOffset >= target) continue;
      await seg.flush();
      seg.flushedPosition = Math.min(seg.fileSize, target - seg.baseOffset);
    }
    this.flushed = target;
    this.lastFlushTime = this.clock();
  }

  /**
   * SYNC_FLUSH group commit: resolves true once everything below `offset` is flushed, false if
   * that takes longer than `timeoutMs` (the data stays stored).
   */
  waitFlushed(offset: number, timeoutMs: number): Promise<boolean> {
    if (this.flushed >= offset) return Promise.resolve(true);
    return new Promise((resolve) => {
      this.waiters.push({ offset, deadline: Date.now() + timeoutMs, resolve });
      this.armWaiterTimer();
      void this.groupCommit();
    });
  }

  private async groupCommit(): Promise<void> {
    if (this.committing) return;
    this.committing = true;
    try {
      while (this.waiters.length > 0) {
        try {
          await this.flush();
        } catch (err) {
          // Leave the waiters to time out: the data is written, its durability is unknown.
          this.log('error', `commit log: fdatasync failed: ${(err as Error).message}`);
          return;
        }
        let n = 0;
        while (n < this.waiters.length && this.waiters[n]!.offset <= this.flushed) this.waiters[n++]!.resolve(true);
        this.waiters.splice(0, n);
        if (this.waiters.length > 0 && this.waiters[0]!.offset > this.written) break;
      }
    } finally {
      this.committing = false;
    }
  }

  private armWaiterTimer(): void {
    if (this.waiterTimer || this.waiters.length === 0) return;
    const delay = Math.max(0, this.waiters[0]!.deadline - Date.now());
    this.waiterTimer = setTimeout(() => {
      this.waiterTimer = undefined;
      const now = Date.now();
      let n = 0;
      while (n < this.waiters.length && this.waiters[n]!.deadline <= now) this.waiters[n++]!.resolve(false);
      this.waiters.splice(0, n);
      this.armWaiterTimer();
    }, delay);
  }

  /** Read `length` bytes at `offset` if they are written and still held; undefined otherwise. */
  async read(offset: number, length: number): Promise<Buffer | undefined> {
    if (offset < this.minOffset || offset + length > this.written || length <= 0) return undefined;
    const seg = this.files.find(offset);
    if (!seg || offset + length > seg.endOffset) return undefined;
    const buf = await seg.read(offset - seg.baseOffset, length);
    return buf.length === length ? buf : undefined;
  }

  /**
   * `readSync` through the block cache: the record's block is read once (synchronously, so only
   * for data the page cache is expected to hold) and later records in it are views of it.
   */
  readCached(offset: number, length: number): Buffer | undefined {
    if (offset < this.minOffset || offset + length > this.written || length <= 0) return undefined;
    if (this.readCacheBlocks === 0) return this.readSync(offset, length);
    const seg = this.files.find(offset);
    if (!seg || offset + length > seg.endOffset) return undefined;
    const blockStart = seg.baseOffset + Math.floor((offset - seg.baseOffset) / READ_BLOCK) * READ_BLOCK;
    const blockEnd = Math.min(blockStart + READ_BLOCK, seg.endOffset);
    if (offset + length > blockEnd) return this.readSync(offset, length); // a record across two blocks
    const need = offset + length - blockStart;
    let block = this.blocks.get(blockStart);
    if (!block) {
      block = { buf: Buffer.allocUnsafeSlow(blockEnd - blockStart), filled: 0 };
      this.blocks.set(blockStart, block);
      if (this.blocks.size > this.readCacheBlocks) this.blocks.delete(this.blocks.keys().next().value!);
    }
    if (block.filled < need) {
      const upTo = Math.min(blockEnd, this.written) - blockStart;
      block.filled += seg.readIntoSync(block.buf, block.filled, upTo - block.filled, blockStart - seg.baseOffset + block.filled);
      if (block.filled < need) return undefined;
    }
    return block.buf.subarray(offset - blockStart, offset - blockStart + length);
  }

  /**
   * Bytes as the files hold them, whether or not recovery has placed the end yet (for checks of
   * what a consume-queue unit points at); undefined outside the files or across a segment end.
   */
  readRawSync(offset: number, length: number): Buffer | undefined {
    if (!Number.isSafeInteger(offset) || offset < this.minOffset || length <= 0) return undefined;
    const seg = this.files.find(offset);
    if (!seg || offset + length > seg.endOffset) return undefined;
    const buf = seg.readSync(offset - seg.baseOffset, length);
    return buf.length === length ? buf : undefined;
  }

  /** `read` without the thread pool, for data the page cache is expected to hold. */
  readSync(offset: number, length: number): Buffer | undefined {
    if (offset < this.minOffset || offset + length > this.written || length <= 0) return undefined;
    const seg = this.files.find(offset);
    if (!seg || offset + length > seg.endOffset) return undefined;
    const buf = seg.readSync(offset - seg.baseOffset, length);
    return buf.length === length ? buf : undefined;
  }

  /** Wait for queued writes to finish, then answer every pending flush waiter. */
  async drain(): Promise<void> {
    while (this.group || this.writing) {
      const g = this.group;
      if (g) await g.promise.catch(() => undefined);
      else await new Promise((r) => setImmediate(r));
    }
  }

  close(): void {
    if (this.waiterTimer) clearTimeout(this.waiterTimer);
    this.waiterTimer = undefined;
    for (const w of this.waiters.splice(0)) w.resolve(this.flushed >= w.offset);
    this.files.close();
  }
}

/** End the group's current staging region: its bytes become the next buffer of the write. */
function closeRegion(g: WriteGroup): void {
  if (g.chunk && g.used > g.regionStart) {
    g.buffers.push(g.chunk.subarray(g.regionStart, g.used));
    g.spans.push(g.used - g.regionStart);
    g.regionStart = g.used;
  }
}
