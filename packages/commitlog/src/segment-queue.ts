/**
 * A folder of fixed-size files that together hold one logical byte stream: RocketMQ's
 * `MappedFileQueue` without mmap. The commit log and every consume queue use it.
 *
 * Layout: each file is exactly `fileSize` bytes and named by the stream offset of its first byte,
 * zero-padded to 20 digits (`00000000000000000000`, `00000000001073741824`, ...).
 * Files follow each other without gaps; the first one may start above 0 once retention removed
 * older ones. New files are created at full size with ftruncate (sparse, zero-filled), so a reader
 * past the written data sees zeros, which no record or unit starts with.
 *
 * Node has no mmap: reads and writes are positional (`pread`/`pwritev`), and the page cache serves
 * recent data.
 */
import * as fs from 'node:fs';
import { join } from 'node:path';
import { KarmanError, ProtocolError } from '@karman/protocol';

/** Width of a segment file name: RocketMQ's `UtilAll.offset2FileName`. */
const SEGMENT_NAME_DIGITS = 20;
const SEGMENT_NAME = /^\d{20}$/;

/** `1073741824` → `00000000001073741824`. */
export function segmentName(baseOffset: number): string {
  return String(baseOffset).padStart(SEGMENT_NAME_DIGITS, '0');
}

/** One fixed-size file of a segment queue, opened read-write. Positions are relative to the file. */
export class SegmentFile {
  /** Bytes from the file start that hold data the owner considers written. */
  wrotePosition = 0;
  /** Bytes from the file start known to be fdatasync'ed. */
  flushedPosition = 0;
  /** Last time data was written (clock ms); retention compares it with `fileReservedTime`. */
  lastModified: number;
  /** No new reads once set. */
  private closed = false;
  private fdClosed = false;
  private closeDeferred = false;
  private reading = 0;

  constructor(
    readonly path: string,
    readonly baseOffset: number,
    readonly fileSize: number,
    readonly fd: number,
    lastModified: number,
  ) {
    this.lastModified = lastModified;
  }

  /** Stream offset just past the end of this file. */
  get endOffset(): number {
    return this.baseOffset + this.fileSize;
  }

  /** Write `buffers` back to back at `position`, in one positional writev. */
  write(buffers: readonly Buffer[], position: number): Promise<void> {
    return new Promise((resolve, reject) => {
      const expected = buffers.reduce((n, b) => n + b.length, 0);
      fs.writev(this.fd, buffers as Buffer[], position, (err, written) => {
        if (err) reject(err);
        else if (written !== expected) reject(new KarmanError('SHORT_WRITE', `short write to ${this.path}: ${written} of ${expected} bytes`));
        else resolve();
      });
    });
  }

  /** `write` on the calling thread: the bytes are in the page cache when it returns. */
  writevSync(buffers: readonly Buffer[], position: number): void {
    const expected = buffers.reduce((n, b) => n + b.length, 0);
    const written = fs.writevSync(this.fd, buffers as Buffer[], position);
    if (written === expected) return;
    // A short write (a full disk, a signal): finish the rest buffer by buffer, or fail with the OS's error.
    let skip = written;
    let at = position + written;
    for (const b of buffers) {
      if (skip >= b.length) {
        skip -= b.length;
        continue;
      }
      const rest = b.subarray(skip);
      skip = 0;
      this.writeSync(rest, at);
      at += rest.length;
    }
  }

  writeSync(buffer: Buffer, position: number): void {
    let done = 0;
    while (done < buffer.length) done += fs.writeSync(this.fd, buffer, done, buffer.length - done, position + done);
  }

  /** Read up to `length` bytes at `position`; shorter only at the end of the file. */
  read(position: number, length: number, into?: Buffer): Promise<Buffer> {
    if (this.closed) return Promise.reject(new KarmanError('STORE_CLOSED', `${this.path} is closed (deleted by retention)`));
    const buf = into ?? Buffer.allocUnsafe(length);
    this.reading++;
    return new Promise((resolve, reject) => {
      fs.read(this.fd, buf, 0, length, position, (err, n) => {
        if (--this.reading === 0 && this.closeDeferred) {
          this.closeDeferred = false;
          this.close();
        }
        if (err) reject(err);
        else resolve(n === length ? buf : buf.subarray(0, n));
      });
    });
  }

  /** Read up to `length` bytes at `position` into `into[at]`; returns the bytes read (fewer only at the end of the file). */
  readIntoSync(into: Buffer, at: number, length: number, position: number): number {
    if (this.closed) throw new KarmanError('STORE_CLOSED', `${this.path} is closed (deleted by retention)`);
    let done = 0;
    while (done < length) {
      const n = fs.readSync(this.fd, into, at + done, length - done, position + done);
      if (n === 0) break;
      done += n;
    }
    return done;
  }

  readSync(position: number, length: number): Buffer {
    const buf = Buffer.allocUnsafe(length);
    const done = this.readIntoSync(buf, 0, length, position);
    return done === length ? buf : buf.subarray(0, done);
  }

  /** fdatasync: data and the size, not the timestamps. */
  flush(): Promise<void> {
    return new Promise((resolve, reject) => fs.fdatasync(this.fd, (err) => (err ? reject(err) : resolve())));
  }

  flushSync(): void {
    fs.fdatasyncSync(this.fd);
  }

  /**
   * Zero everything from `position` to the end: shrink then regrow the file, which the kernel turns
   * into a hole. Recovery uses it so the bytes of a torn or corrupt tail can never be mistaken for
   * records after later, shorter appends end just before them.
   */
  zeroFrom(position: number): void {
    fs.ftruncateSync(this.fd, position);
    fs.ftruncateSync(this.fd, this.fileSize);
    this.wrotePosition = Math.min(this.wrotePosition, position);
    this.flushedPosition = Math.min(this.flushedPosition, position);
  }

  /**
   * Close the descriptor, or, while reads are in flight, as soon as they finish: closing under a
   * pending read could let the kernel hand the same descriptor number to another file and the read
   * return that file's bytes (RocketMQ reference-counts its mapped files for the same reason).
   */
  close(): void {
    if (this.fdClosed) return;
    this.closed = true;
    if (this.reading > 0) {
      this.closeDeferred = true;
      return;
    }
    this.fdClosed = true;
    fs.closeSync(this.fd);
  }

  /** Close and delete the file. */
  destroy(): void {
    this.close();
    fs.rmSync(this.path, { force: true });
  }
}

/** Open (creating at full size if needed) the file for `baseOffset` in `dir`. */
function openSegment(dir: string, baseOffset: number, fileSize: number, now: number): SegmentFile {
  const path = join(dir, segmentName(baseOffset));
  const fd = fs.openSync(path, fs.constants.O_RDWR | fs.constants.O_CREAT);
  try {
    const size = fs.fstatSync(fd).size;
    if (size < fileSize) fs.ftruncateSync(fd, fileSize);
  } catch (err) {
    fs.closeSync(fd);
    throw err;
  }
  return new SegmentFile(path, baseOffset, fileSize, fd, now);
}

/** What a segment queue found in its folder when loading. */
export interface SegmentLoadIssue {
  file: string;
  problem: string;
}

/** The ordered files of one stream. Not safe to share between two stores (the store lock sees to that). */
export class SegmentQueue {
  readonly segments: SegmentFile[] = [];

  constructor(
    readonly dir: string,
    readonly fileSize: number,
    private readonly clock: () => number,
    /** What the stream is, for error messages ("commit log", "consume queue T/0"). */
    readonly what: string,
  ) {}

  /**
   * Open every file in the folder. A folder holding anything but 20-digit names, files of another
   * size, or files that do not follow each other is not ours: that is a clear error naming the file
   * and the fix, not a guess. A last file shorter than `fileSize` (truncated by a tool or a full
   * disk) is regrown with zeros and reported, since recovery will find where valid data ends.
   */
  load(onIssue: (issue: SegmentLoadIssue) => void): void {
    fs.mkdirSync(this.dir, { recursive: true });
    const names = fs.readdirSync(this.dir).sort();
    const foreign = names.filter((n) => !SEGMENT_NAME.test(n));
    if (foreign.length > 0) {
      throw new ProtocolError(
        `${this.what} folder ${this.dir} holds ${foreign.map((n) => JSON.stringify(n)).join(', ')}, which is not a 20-digit segment name: ` +
          'this folder is not a Karman/RocketMQ store (or was written by another tool); point storePathRootDir at an empty folder or remove the stray files',
      );
    }
    for (const [i, name] of names.entries()) {
      const path = join(this.dir, name);
      const base = Number(name);
      const st = fs.statSync(path);
      if (!Number.isSafeInteger(base) || base % this.fileSize !== 0) {
        throw new ProtocolError(
          `${this.what} file ${path} starts at ${name}, not a multiple of the file size ${this.fileSize}: ` +
            'the store was written with another mappedFileSize; open it with the size it was written with',
        );
      }
      const prev = this.segments.at(-1);
      if (prev && prev.endOffset !== base) {
        throw new ProtocolError(`${this.what} file ${path} does not follow ${prev.path} (expected ${segmentName(prev.endOffset)}): a file is missing; restore it or move the later files away`);
      }
      if (st.size > this.fileSize) {
        throw new ProtocolError(
          `${this.what} file ${path} is ${st.size} bytes, more than the file size ${this.fileSize}: the store was written with another mappedFileSize; open it with the size it was written with`,
        );
      }
      if (st.size < this.fileSize) {
        if (i !== names.length - 1) {
          throw new ProtocolError(
            `${this.what} file ${path} is ${st.size} bytes, expected ${this.fileSize}, and is not the last file: it was truncated; restore it from a copy or move it and the later files away`,
          );
        }
        onIssue({ file: path, problem: `truncated to ${st.size} of ${this.fileSize} bytes; regrown with zeros, data past ${st.size} is gone` });
      }
      const seg = openSegment(this.dir, base, this.fileSize, st.mtimeMs);
      this.segments.push(seg);
    }
  }

  get first(): SegmentFile | undefined {
    return this.segments[0];
  }

  get last(): SegmentFile | undefined {
    return this.segments.at(-1);
  }

  /** Lowest stream offset still held. */
  get minOffset(): number {
    return this.segments[0]?.baseOffset ?? 0;
  }

  /** The file holding stream offset `offset`, if any. */
  find(offset: number): SegmentFile | undefined {
    const first = this.segments[0];
    if (!first || offset < first.baseOffset) return undefined;
    return this.segments[Math.floor((offset - first.baseOffset) / this.fileSize)];
  }

  /** Base offset of the file holding `offset`. */
  baseOf(offset: number): number {
    return offset - (offset % this.fileSize);
  }

  /**
   * The file for `baseOffset`, creating it (and any missing file before it, for a stream that
   * starts at a nonzero offset) when absent.
   */
  obtain(baseOffset: number): SegmentFile {
    const existing = this.find(baseOffset);
    if (existing) return existing;
    const last = this.last;
    if (last && baseOffset !== last.endOffset) {
      // Only ever asked for the next file; anything else is a bug in the caller.
      throw new KarmanError('ILLEGAL_STATE', `${this.what}: asked for file ${segmentName(baseOffset)} after ${segmentName(last.baseOffset)}`);
    }
    const seg = openSegment(this.dir, baseOffset, this.fileSize, this.clock());
    this.segments.push(seg);
    return seg;
  }

  /** Create the file after the last one ahead of need (RocketMQ's `AllocateMappedFileService`). */
  preallocateNext(): void {
    const last = this.last;
    if (last) this.obtain(last.endOffset);
  }

  /**
   * Drop everything at and after `offset`: files starting after it are deleted, the file holding
   * it is zeroed from there. A crash in the middle leaves extra zeroed or deleted files past the
   * valid end, which the next recovery treats the same way.
   */
  truncateFrom(offset: number): void {
    while (this.segments.length > 0) {
      const last = this.segments.at(-1)!;
      if (last.baseOffset > offset || (last.baseOffset === offset && this.segments.length > 1)) {
        last.destroy();
        this.segments.pop();
        continue;
      }
      if (last.baseOffset <= offset && offset < last.endOffset) last.zeroFrom(offset - last.baseOffset);
      break;
    }
  }

  /** Delete the first `count` files. */
  deleteFirst(count: number): SegmentFile[] {
    const gone = this.segments.splice(0, count);
    for (const s of gone) s.destroy();
    return gone;
  }

  /** Delete every file (a queue whose data is all below the commit log's minimum). */
  destroyAll(): void {
    for (const s of this.segments.splice(0)) s.destroy();
    fs.rmSync(this.dir, { recursive: true, force: true });
  }

  close(): void {
    for (const s of this.segments) s.close();
  }
}
