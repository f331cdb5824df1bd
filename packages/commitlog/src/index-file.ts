/**
 * One index file: a hash table on disk from message keys to commit-log offsets, RocketMQ's
 * `IndexFile`, so a message can be found by its UNIQ_KEY or one of its KEYS.
 *
 * File layout (big-endian; size = 40 + hashSlotNum × 4 + indexNum × 20):
 *
 *   header, 40 bytes
 *     offset  0  i64  beginTimestamp   store time (ms) of the first entry
 *     offset  8  i64  endTimestamp     store time (ms) of the last entry
 *     offset 16  i64  beginPhyOffset   commit-log offset of the first entry
 *     offset 24  i64  endPhyOffset     commit-log offset of the last entry
 *     offset 32  i32  hashSlotCount    slots in use (RocketMQ counts occupied slots, not the total)
 *     offset 36  i32  indexCount       next entry number; starts at 1 so that 0 means "none"
 *   slots, hashSlotNum × 4 bytes at offset 40
 *     u32  number of the newest entry whose key hash falls in this slot (slot = keyHash % hashSlotNum)
 *   entries, indexNum × 20 bytes at offset 40 + hashSlotNum × 4; entry n at + n × 20 (entry 0 unused)
 *     +0   i32  keyHash     abs(Java String.hashCode(key)), Integer.MIN_VALUE → 0
 *     +4   i64  phyOffset   commit-log offset of the message
 *     +12  i32  timeDiff    whole seconds from beginTimestamp to the message's store time
 *     +16  i32  prevIndex   previous (older) entry of the same slot, 0 ends the chain
 *
 * The file is full when indexCount reaches indexNum, so it holds indexNum − 1 entries.
 *
 * Node has no mmap, so the hot parts live in memory: the header always, the slots while the file
 * is writable, and entries until they have been written. Entries go to disk in the background as
 * they accumulate; slots and header only on `flush()`. Every write pass writes entries first, then
 * slots, then the header, so whatever a crash interrupts leaves a header that describes only entries
 * on disk and slots that point only at entries on disk. The one inconsistency a crash can leave is
 * a slot pointing past the header's indexCount (slots written, header not); `open()` repairs that by
 * following the entry's prevIndex back below indexCount.
 */
import { open as openFile, unlink } from 'node:fs/promises';
import type { FileHandle } from 'node:fs/promises';
import { ProtocolError, javaStringHashCode, readInt64BE, writeInt64BE } from '@karman/protocol';

/** Bytes of the header at the start of an index file. */
export const INDEX_HEADER_SIZE = 40;
/** Bytes of one hash slot. */
const INDEX_HASH_SLOT_SIZE = 4;
/** Bytes of one entry. */
const INDEX_ENTRY_SIZE = 20;
/** Entry number meaning "no entry": empty slot, end of chain. */
const INVALID_INDEX = 0;

/** Entries per in-memory chunk: 20 KiB, written to disk with one call. */
const CHUNK_ENTRIES = 1024;
/** Slots per dirty-tracking page: one 4 KiB OS page. */
const SLOTS_PER_PAGE = 1024;
const INT32_MAX = 0x7fffffff;

/** The 40-byte header, as numbers. */
export interface IndexHeader {
  beginTimestamp: number;
  endTimestamp: number;
  beginPhyOffset: number;
  endPhyOffset: number;
  hashSlotCount: number;
  indexCount: number;
}

/** Slot and entry counts of one index file; the file does not record them, the configuration does. */
export interface IndexGeometry {
  hashSlotNum: number;
  indexNum: number;
}

/** Size in bytes of an index file with this geometry. */
export function indexFileSize(geometry: IndexGeometry): number {
  return INDEX_HEADER_SIZE + geometry.hashSlotNum * INDEX_HASH_SLOT_SIZE + geometry.indexNum * INDEX_ENTRY_SIZE;
}

/** Encode a header into its 40 bytes. */
export function encodeIndexHeader(header: IndexHeader): Buffer {
  const buf = Buffer.alloc(INDEX_HEADER_SIZE);
  writeInt64BE(buf, header.beginTimestamp, 0);
  writeInt64BE(buf, header.endTimestamp, 8);
  writeInt64BE(buf, header.beginPhyOffset, 16);
  writeInt64BE(buf, header.endPhyOffset, 24);
  buf.writeInt32BE(header.hashSlotCount, 32);
  buf.writeInt32BE(header.indexCount, 36);
  return buf;
}

/** Decode the 40 header bytes; no validation (see `IndexFile.open`). */
export function decodeIndexHeader(buf: Uint8Array): IndexHeader {
  const b = Buffer.from(buf.buffer, buf.byteOffset, buf.byteLength);
  return {
    beginTimestamp: readInt64BE(b, 0),
    endTimestamp: readInt64BE(b, 8),
    beginPhyOffset: readInt64BE(b, 16),
    endPhyOffset: readInt64BE(b, 24),
    hashSlotCount: b.readInt32BE(32),
    indexCount: b.readInt32BE(36),
  };
}

/**
 * The key hash stored in an entry: abs(Java `String.hashCode`), with Integer.MIN_VALUE (whose abs
 * overflows in Java) mapped to 0, as RocketMQ's `indexKeyHashMethod` does, so files stay comparable
 * with a Java broker's.
 */
export function indexKeyHash(key: string): number {
  const h = javaStringHashCode(key);
  return h === -0x80000000 ? 0 : Math.abs(h);
}

/** `indexKeyHash(topic + '#' + key)` without building the string (the dispatch path runs it per key). */
export function topicKeyHash(topic: string, key: string): number {
  const h = javaStringHashCode(key, javaStringHashCode('#', javaStringHashCode(topic)));
  return h === -0x80000000 ? 0 : Math.abs(h);
}

/** File name for a creation time: `yyyyMMddHHmmssSSS`, in UTC so names do not depend on the host's zone. */
export function indexFileName(millis: number): string {
  const d = new Date(millis);
  const p = (n: number, w = 2): string => String(n).padStart(w, '0');
  return `${p(d.getUTCFullYear(), 4)}${p(d.getUTCMonth() + 1)}${p(d.getUTCDate())}${p(d.getUTCHours())}${p(d.getUTCMinutes())}${p(d.getUTCSeconds())}${p(d.getUTCMilliseconds(), 3)}`;
}

/** Creation time of an index file name, or undefined if the name is not `yyyyMMddHHmmssSSS`. */
export function parseIndexFileName(name: string): number | undefined {
  const m = /^(\d{4})(\d{2})(\d{2})(\d{2})(\d{2})(\d{2})(\d{3})$/.exec(name);
  if (!m) return undefined;
  const [y, mo, d, h, mi, s, ms] = m.slice(1).map(Number) as [number, number, number, number, number, number, number];
  const t = Date.UTC(y, mo - 1, d, h, mi, s, ms);
  return Number.isNaN(t) || indexFileName(t) !== name ? undefined : t;
}

/** One index file; created in memory and on disk at its first write, or opened from disk. */
export class IndexFile {
  readonly path: string;
  readonly geometry: IndexGeometry;
  private readonly header: IndexHeader;
  private handle: FileHandle | null;
  /** Slots in file format while the file is writable; null once sealed and on disk (read by pread). */
  private slots: Buffer | null;
  private readonly dirtySlotPages = new Set<number>();
  /** Entry chunks not yet wholly on disk, by chunk number. */
  private readonly chunks = new Map<number, Buffer>();
  /** Entries below this number are on disk. */
  private writtenUpTo: number;
  private headerDirty: boolean;
  private unsynced = false;
  private sealed = false;
  private destroyed = false;
  private readers = 0;
  private drained: (() => void) | null = null;

  private constructor(path: string, geometry: IndexGeometry, header: IndexHeader, handle: FileHandle | null, slots: Buffer | null) {
    this.path = path;
    this.geometry = geometry;
    this.header = header;
    this.handle = handle;
    this.slots = slots;
    this.writtenUpTo = header.indexCount;
    this.headerDirty = handle === null;
  }

  /** A new, empty file; nothing touches the disk until the first write pass. */
  static create(path: string, geometry: IndexGeometry): IndexFile {
    const header: IndexHeader = { beginTimestamp: 0, endTimestamp: 0, beginPhyOffset: 0, endPhyOffset: 0, hashSlotCount: 0, indexCount: 1 };
    return new IndexFile(path, geometry, header, null, Buffer.alloc(geometry.hashSlotNum * INDEX_HASH_SLOT_SIZE));
  }

  /**
   * Open an existing file and validate it against the configured geometry. Throws `ProtocolError`
   * naming the file and the problem when it is truncated, of another geometry or format, or its
   * header is impossible; the caller decides whether to skip it. A file that is not full gets its
   * slots loaded into memory (and repaired, see the top of this file) so it can take more entries.
   */
  static async open(path: string, geometry: IndexGeometry): Promise<IndexFile> {
    const handle = await openFile(path, 'r+');
    try {
      const size = (await handle.stat()).size;
      const expected = indexFileSize(geometry);
      if (size !== expected) {
        throw new ProtocolError(
          `index file ${path} is ${size} bytes but ${expected} were expected for ${geometry.hashSlotNum} hash slots and ${geometry.indexNum} entries: ` +
            'it is truncated, from another format, or written with other maxHashSlotNum/maxIndexNum settings (restore those settings or move the file away)',
        );
      }
      const raw = Buffer.alloc(INDEX_HEADER_SIZE);
      await readFully(handle, raw, 0);
      const header = decodeIndexHeader(raw);
      const problem = headerProblem(header, geometry);
      if (problem) throw new ProtocolError(`index file ${path} has an impossible header (${problem}); move the file away, the index is rebuilt from the commit log`);
      const file = new IndexFile(path, geometry, header, handle, null);
      if (!file.isFull) await file.loadSlots();
      return file;
    } catch (err) {
      await handle.close();
      throw err;
    }
  }

  /** A copy of the header as it is in memory (ahead of disk until the next flush). */
  get snapshot(): IndexHeader {
    return { ...this.header };
  }

  get indexCount(): number {
    return this.header.indexCount;
  }
  get beginTimestamp(): number {
    return this.header.beginTimestamp;
  }
  get endTimestamp(): number {
    return this.header.endTimestamp;
  }
  get endPhyOffset(): number {
    return this.header.endPhyOffset;
  }
  /** Whether the file holds entries (the header's begin/end fields mean something). */
  get hasEntries(): boolean {
    return this.header.indexCount > 1;
  }
  /** No room for another entry (RocketMQ's `isWriteFull`). */
  get isFull(): boolean {
    return this.header.indexCount >= this.geometry.indexNum;
  }
  /** Entries written to memory but not yet to disk. */
  get pendingEntries(): number {
    return this.header.indexCount - this.writtenUpTo;
  }

  /**
   * Add an entry for `key`, synchronously, in memory. The caller checks `isFull` first. The first
   * entry sets the begin fields before its own timeDiff is computed, so its timeDiff is 0 (RocketMQ
   * computes it against the previous file's end time and then overwrites the begin time, which can
   * place the first entry of a rolled file later than it was stored).
   */
  putKey(key: string, phyOffset: number, storeTimestamp: number): void {
    this.putHash(indexKeyHash(key), phyOffset, storeTimestamp);
  }

  /** `putKey` for a key already hashed with {@link indexKeyHash} (or {@link topicKeyHash}). */
  putHash(keyHash: number, phyOffset: number, storeTimestamp: number): void {
    if (this.isFull || this.slots === null) throw new ProtocolError(`index file ${this.path} is full or sealed; roll to a new file before adding keys`);
    const h = this.header;
    if (h.indexCount <= 1) {
      h.beginPhyOffset = phyOffset;
      h.beginTimestamp = storeTimestamp;
    }
    const slot = keyHash % this.geometry.hashSlotNum;
    let prev = this.slots.readInt32BE(slot * INDEX_HASH_SLOT_SIZE);
    if (prev <= INVALID_INDEX || prev >= h.indexCount) prev = INVALID_INDEX;
    let timeDiff = Math.trunc((storeTimestamp - h.beginTimestamp) / 1000);
    if (h.beginTimestamp <= 0 || timeDiff < 0) timeDiff = 0;
    else if (timeDiff > INT32_MAX) timeDiff = INT32_MAX;

    const n = h.indexCount;
    const chunkNo = Math.floor(n / CHUNK_ENTRIES);
    let chunk = this.chunks.get(chunkNo);
    if (!chunk) {
      chunk = Buffer.alloc(CHUNK_ENTRIES * INDEX_ENTRY_SIZE);
      this.chunks.set(chunkNo, chunk);
    }
    const at = (n % CHUNK_ENTRIES) * INDEX_ENTRY_SIZE;
    chunk.writeInt32BE(keyHash, at);
    writeInt64BE(chunk, phyOffset, at + 4);
    chunk.writeInt32BE(timeDiff, at + 12);
    chunk.writeInt32BE(prev, at + 16);

    this.slots.writeInt32BE(n, slot * INDEX_HASH_SLOT_SIZE);
    this.dirtySlotPages.add(Math.floor(slot / SLOTS_PER_PAGE));
    if (prev === INVALID_INDEX) h.hashSlotCount++;
    h.indexCount = n + 1;
    h.endPhyOffset = phyOffset;
    h.endTimestamp = storeTimestamp;
    this.headerDirty = true;
  }

  /** RocketMQ's `isTimeMatched`: whether [begin, end] overlaps this file's time range. */
  isTimeMatched(begin: number, end: number): boolean {
    const { beginTimestamp: b, endTimestamp: e } = this.header;
    return (begin < b && end > e) || (begin >= b && begin <= e) || (end >= b && end <= e);
  }

  /**
   * Append to `out` the commit-log offsets of entries whose hash equals `key`'s and whose time
   * (begin + timeDiff seconds, so rounded down to the second) lies in [begin, end], newest first,
   * until `out` holds `maxNum`. The chain stops at the first entry older than `begin` and at any
   * prevIndex that does not point strictly backwards, so a corrupt file cannot loop a query.
   * Hashes collide: callers must read each record and compare its real key.
   */
  async selectPhyOffsets(out: number[], key: string, maxNum: number, begin: number, end: number): Promise<void> {
    if (this.destroyed || !this.hasEntries) return;
    this.readers++;
    try {
      const keyHash = indexKeyHash(key);
      const count = this.header.indexCount;
      let next = await this.readSlot(keyHash % this.geometry.hashSlotNum);
      while (next > INVALID_INDEX && next < count && out.length < maxNum && !this.destroyed) {
        const entry = await this.readEntry(next);
        if (entry.timeDiff < 0) break;
        const time = this.header.beginTimestamp + entry.timeDiff * 1000;
        if (entry.keyHash === keyHash && time >= begin && time <= end) out.push(entry.phyOffset);
        if (time < begin || entry.prevIndex >= next) break;
        next = entry.prevIndex;
      }
    } finally {
      this.readers--;
      if (this.readers === 0) this.drained?.();
    }
  }

  /** Write entries that are only in memory (no fsync). Used between flushes to bound memory. */
  async writeEntries(): Promise<void> {
    await this.writePass(false);
  }

  /** Write everything in memory (entries, slots, header) and fdatasync. Returns the header that is now durable. */
  async flush(): Promise<IndexHeader> {
    return this.writePass(true);
  }

  /**
   * Mark the file read-only (a newer file took over). After its next flush its slots leave memory
   * and are read from disk.
   */
  seal(): void {
    this.sealed = true;
  }

  /**
   * Forget every entry whose commit-log offset is ≥ `phyOffset`. Entries are added in commit-log
   * order, so those are the newest ones: walk them newest first, put each one's slot back to its
   * prevIndex, and lower indexCount. endTimestamp becomes the last kept entry's time rounded down to
   * the second (the exact value is not stored per entry). The result is written and synced before
   * returning; a crash during it leaves at worst the old header, which the caller's re-dispatch
   * (skipping offsets already indexed) tolerates.
   */
  async truncateFrom(phyOffset: number): Promise<void> {
    if (this.slots === null) await this.loadSlots();
    const slots = this.slots as Buffer;
    const h = this.header;
    let n = h.indexCount - 1;
    while (n > INVALID_INDEX) {
      const entry = await this.readEntry(n);
      if (entry.phyOffset < phyOffset) break;
      const slot = entry.keyHash % this.geometry.hashSlotNum;
      if (slots.readInt32BE(slot * INDEX_HASH_SLOT_SIZE) === n) {
        const prev = entry.prevIndex > INVALID_INDEX && entry.prevIndex < n ? entry.prevIndex : INVALID_INDEX;
        slots.writeInt32BE(prev, slot * INDEX_HASH_SLOT_SIZE);
        if (prev === INVALID_INDEX) h.hashSlotCount = Math.max(0, h.hashSlotCount - 1);
        this.dirtySlotPages.add(Math.floor(slot / SLOTS_PER_PAGE));
      }
      n--;
    }
    h.indexCount = n + 1;
    if (n === INVALID_INDEX) {
      Object.assign(h, { beginTimestamp: 0, endTimestamp: 0, beginPhyOffset: 0, endPhyOffset: 0, hashSlotCount: 0 });
    } else {
      const last = await this.readEntry(n);
      h.endPhyOffset = last.phyOffset;
      h.endTimestamp = h.beginTimestamp + last.timeDiff * 1000;
    }
    // Entries at or above the new count are garbage now; new ones overwrite them.
    this.writtenUpTo = Math.min(this.writtenUpTo, h.indexCount);
    for (const c of [...this.chunks.keys()]) if (c * CHUNK_ENTRIES >= h.indexCount) this.chunks.delete(c);
    this.sealed = false;
    this.headerDirty = true;
    await this.writePass(true);
  }

  /** Close the file handle; waits for queries reading it. */
  async close(): Promise<void> {
    this.destroyed = true;
    while (this.readers > 0) await new Promise<void>((resolve) => (this.drained = resolve));
    const handle = this.handle;
    this.handle = null;
    await handle?.close();
  }

  /** Close and delete the file. */
  async destroy(): Promise<void> {
    await this.close();
    await unlink(this.path).catch((err: NodeJS.ErrnoException) => {
      if (err.code !== 'ENOENT') throw err;
    });
  }

  private get entriesStart(): number {
    return INDEX_HEADER_SIZE + this.geometry.hashSlotNum * INDEX_HASH_SLOT_SIZE;
  }

  private async readSlot(slot: number): Promise<number> {
    if (this.slots) return this.slots.readInt32BE(slot * INDEX_HASH_SLOT_SIZE);
    const buf = Buffer.alloc(INDEX_HASH_SLOT_SIZE);
    await readFully(this.fileHandle(), buf, INDEX_HEADER_SIZE + slot * INDEX_HASH_SLOT_SIZE);
    return buf.readInt32BE(0);
  }

  private async readEntry(n: number): Promise<{ keyHash: number; phyOffset: number; timeDiff: number; prevIndex: number }> {
    // Entries at or above writtenUpTo are only in memory; below it they are on disk (a chunk may also
    // hold them, or zeros where the file was opened mid-chunk, so never read those from memory).
    const chunk = n >= this.writtenUpTo ? this.chunks.get(Math.floor(n / CHUNK_ENTRIES)) : undefined;
    let buf: Buffer;
    let at: number;
    if (chunk) {
      buf = chunk;
      at = (n % CHUNK_ENTRIES) * INDEX_ENTRY_SIZE;
    } else {
      buf = Buffer.alloc(INDEX_ENTRY_SIZE);
      at = 0;
      await readFully(this.fileHandle(), buf, this.entriesStart + n * INDEX_ENTRY_SIZE);
    }
    return {
      keyHash: buf.readInt32BE(at),
      phyOffset: readInt64BE(buf, at + 4),
      timeDiff: buf.readInt32BE(at + 12),
      prevIndex: buf.readInt32BE(at + 16),
    };
  }

  private fileHandle(): FileHandle {
    if (!this.handle) throw new ProtocolError(`index file ${this.path} is closed`);
    return this.handle;
  }

  /** Read the slots into memory and repair any that point past indexCount (crash between slot and header writes). */
  private async loadSlots(): Promise<void> {
    const slots = Buffer.alloc(this.geometry.hashSlotNum * INDEX_HASH_SLOT_SIZE);
    await readFully(this.fileHandle(), slots, INDEX_HEADER_SIZE);
    this.slots = slots;
    const count = this.header.indexCount;
    let used = 0;
    for (let s = 0; s < this.geometry.hashSlotNum; s++) {
      let v = slots.readInt32BE(s * INDEX_HASH_SLOT_SIZE);
      let steps = 0;
      while ((v < INVALID_INDEX || v >= count) && steps++ < 64) {
        const entry = v > INVALID_INDEX && v < this.geometry.indexNum ? await this.readEntry(v) : undefined;
        v = entry && entry.prevIndex < v ? entry.prevIndex : INVALID_INDEX;
      }
      if (v < INVALID_INDEX || v >= count) v = INVALID_INDEX;
      if (steps > 0) {
        slots.writeInt32BE(v, s * INDEX_HASH_SLOT_SIZE);
        this.dirtySlotPages.add(Math.floor(s / SLOTS_PER_PAGE));
      }
      if (v !== INVALID_INDEX) used++;
    }
    if (used !== this.header.hashSlotCount) {
      this.header.hashSlotCount = used;
      this.headerDirty = true;
    }
  }

  private async ensureOpen(): Promise<FileHandle> {
    if (this.handle) return this.handle;
    if (this.destroyed) throw new ProtocolError(`index file ${this.path} is closed`);
    // 'wx+': a name is never reused, so an existing file here is somebody else's; refuse it.
    const handle = await openFile(this.path, 'wx+');
    try {
      await handle.truncate(indexFileSize(this.geometry));
    } catch (err) {
      await handle.close();
      throw err;
    }
    this.handle = handle;
    return handle;
  }

  /**
   * One write pass: entries, then (with `full`) dirty slot pages and the header, then fdatasync.
   * Everything written is captured synchronously at the start, so dispatches that arrive while the
   * pass awaits are left for the next pass and the header written never counts unwritten entries.
   */
  private async writePass(full: boolean): Promise<IndexHeader> {
    const target = this.header.indexCount;
    const from = this.writtenUpTo;
    const header = { ...this.header };
    const pages = full && this.slots ? [...this.dirtySlotPages].sort((a, b) => a - b) : [];
    const slotCopies = pages.length > 0 ? copySlotRuns(this.slots as Buffer, pages, this.geometry.hashSlotNum) : [];
    const writeHeader = full && this.headerDirty;
    if (full) {
      this.dirtySlotPages.clear();
      this.headerDirty = false;
    }
    if (from >= target && slotCopies.length === 0 && !writeHeader && !(full && this.unsynced)) return header;
    try {
      const fh = await this.ensureOpen();
      for (let n = from; n < target; ) {
        const chunkNo = Math.floor(n / CHUNK_ENTRIES);
        const chunk = this.chunks.get(chunkNo) as Buffer;
        const end = Math.min(target, (chunkNo + 1) * CHUNK_ENTRIES);
        const bytes = chunk.subarray((n % CHUNK_ENTRIES) * INDEX_ENTRY_SIZE, (end - chunkNo * CHUNK_ENTRIES) * INDEX_ENTRY_SIZE);
        await writeFully(fh, bytes, this.entriesStart + n * INDEX_ENTRY_SIZE);
        n = end;
      }
      this.unsynced ||= from < target;
      for (const run of slotCopies) await writeFully(fh, run.bytes, INDEX_HEADER_SIZE + run.firstSlot * INDEX_HASH_SLOT_SIZE);
      if (writeHeader) await writeFully(fh, encodeIndexHeader(header), 0);
      if (full && (this.unsynced || slotCopies.length > 0 || writeHeader)) {
        await fh.datasync();
        this.unsynced = false;
      }
    } catch (err) {
      for (const p of pages) this.dirtySlotPages.add(p);
      if (writeHeader) this.headerDirty = true;
      throw err;
    }
    if (target > this.writtenUpTo) this.writtenUpTo = target;
    for (const c of [...this.chunks.keys()]) if ((c + 1) * CHUNK_ENTRIES <= this.writtenUpTo) this.chunks.delete(c);
    if (full && this.sealed && this.writtenUpTo >= this.header.indexCount && this.dirtySlotPages.size === 0 && !this.headerDirty) this.slots = null;
    return header;
  }
}

/** What is wrong with a header read from disk, or undefined when it is plausible. */
function headerProblem(h: IndexHeader, g: IndexGeometry): string | undefined {
  if (h.indexCount < 1 || h.indexCount > g.indexNum) return `indexCount ${h.indexCount} outside 1..${g.indexNum}`;
  if (h.hashSlotCount < 0 || h.hashSlotCount > g.hashSlotNum) return `hashSlotCount ${h.hashSlotCount} outside 0..${g.hashSlotNum}`;
  if (h.indexCount === 1) return undefined;
  if (h.beginPhyOffset < 0 || h.endPhyOffset < h.beginPhyOffset) return `phy offsets ${h.beginPhyOffset}..${h.endPhyOffset}`;
  if (h.beginTimestamp < 0 || h.endTimestamp < h.beginTimestamp) return `timestamps ${h.beginTimestamp}..${h.endTimestamp}`;
  return undefined;
}

/** Copy dirty slot pages, merging neighbours into runs so each run is one write. */
function copySlotRuns(slots: Buffer, pages: number[], hashSlotNum: number): { firstSlot: number; bytes: Buffer }[] {
  const runs: { firstSlot: number; bytes: Buffer }[] = [];
  let i = 0;
  while (i < pages.length) {
    const start = pages[i] as number;
    let last = start;
    while (i + 1 < pages.length && pages[i + 1] === last + 1) last = pages[++i] as number;
    i++;
    const firstSlot = start * SLOTS_PER_PAGE;
    const endSlot = Math.min(hashSlotNum, (last + 1) * SLOTS_PER_PAGE);
    runs.push({ firstSlot, bytes: Buffer.from(slots.subarray(firstSlot * INDEX_HASH_SLOT_SIZE, endSlot * INDEX_HASH_SLOT_SIZE)) });
  }
  return runs;
}

async function writeFully(fh: FileHandle, bytes: Uint8Array, position: number): Promise<void> {
  let done = 0;
  while (done < bytes.length) {
    const { bytesWritten } = await fh.write(bytes, done, bytes.length - done, position + done);
    done += bytesWritten;
  }
}

/** Fill `buf` from `position`; the file has a fixed size, so a short read means it shrank under us. */
async function readFully(fh: FileHandle, buf: Buffer, position: number): Promise<void> {
  let done = 0;
  while (done < buf.length) {
    const { bytesRead } = await fh.read(buf, done, buf.length - done, position + done);
    if (bytesRead === 0) throw new ProtocolError(`index file ended at byte ${position + done}, ${buf.length - done} bytes short; it was truncated while open`);
    done += bytesRead;
  }
}
