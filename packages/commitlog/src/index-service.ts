/**
 * The key index of the store: a list of index files (`index-file.ts`) under one folder, fed by the
 * dispatcher with every record and queried by key and time range (RocketMQ's `IndexService`).
 *
 * Folder layout: `<dir>/yyyyMMddHHmmssSSS`, one file per name, named (in UTC) when it was created;
 * the name order is the age order. The newest file takes new keys; when it is full the next one is
 * started. A file that cannot be read (wrong size, impossible header) is skipped with a warning and
 * left where it is, so a bad file never stops the broker and is never deleted behind an operator's
 * back; its keys are simply not found.
 *
 * `dispatch` is synchronous (it sits in the store's dispatch loop): keys go into memory at once and
 * reach disk in order through one promise chain, entries in the background, slots and headers on
 * `flush()`. Queries see every dispatched key whether or not it reached disk.
 */
import { KarmanError, InvalidArgumentError } from '@karman/protocol';
import { mkdir, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { z } from 'zod';
import { IndexFile, indexFileName, parseIndexFileName, topicKeyHash } from './index-file.js';
import type { IndexGeometry } from './index-file.js';
import type { CommitLogDispatcher, DispatchRequest } from './dispatcher.js';
import type { StoreLogger } from './store-config.js';

/** RocketMQ's `maxMsgsNumBatch`: the most offsets one query returns. */
export const INDEX_QUERY_MAX_NUM = 64;
/** SYSFLAG bits 2–3 both set: a rollback transaction record, which is never indexed. */
const TRANSACTION_ROLLBACK_TYPE = 0xc;
/** Background write of entries once this many are only in memory (bounds memory between flushes). */
const BACKGROUND_WRITE_ENTRIES = 1024;
/** KEYS holds several keys separated by one space (MessageConst.KEY_SEPARATOR). */
const KEY_SEPARATOR = ' ';

const indexServiceOptionsSchema = z.object({
  /** Folder holding the index files (`<store>/index`); created if missing. */
  dir: z.string().min(1),
  /**
   * Hash slots per file (5,000,000). Fewer slots mean longer chains; tests use a handful to force
   * collisions. The writable file keeps its slots in memory (4 bytes each), hence the cap.
   */
  maxHashSlotNum: z.number().int().min(1).max(100_000_000).default(5_000_000),
  /** Entry numbers per file (20,000,000); entry 0 is reserved, so a file holds one fewer keys. */
  maxIndexNum: z.number().int().min(2).max(0x7fffffff).default(20_000_000),
  /** Milliseconds since the epoch, used only to name new files. */
  clock: z.custom<() => number>((v) => typeof v === 'function', 'a function returning milliseconds').default(() => Date.now),
  /** Where skipped files and background write failures are reported; defaults to console.warn/error. */
  logger: z
    .custom<StoreLogger>((v) => typeof v === 'function', 'a function (level, message) => void')
    .default(() => (level: 'info' | 'warn' | 'error', message: string) => (level === 'error' ? console.error(message) : console.warn(message))),
});

/** Options of `IndexService`; only `dir` is required. */
export type IndexServiceOptions = z.input<typeof indexServiceOptionsSchema>;

/** Answer of `queryOffsets`. */
export interface IndexQueryResult {
  /** Commit-log offsets whose key hash matched, newest first; read each record and compare its real key. */
  phyOffsets: number[];
  /** Store time of the newest indexed key (the newest file's endTimestamp), 0 when nothing is indexed. */
  indexLastUpdateTimestamp: number;
  /** Commit-log offset of the newest indexed key (the newest file's endPhyOffset), 0 when nothing is indexed. */
  indexLastUpdatePhyoffset: number;
}

const State = { NEW: 'new', OPEN: 'open', CLOSED: 'closed' } as const;
type State = (typeof State)[keyof typeof State];

/** The store's key index: dispatch keys in, query offsets by key and time range out. */
export class IndexService implements CommitLogDispatcher {
  private readonly dir: string;
  private readonly geometry: IndexGeometry;
  private readonly clock: () => number;
  private readonly logger: StoreLogger;
  private files: IndexFile[] = [];
  private state: State = State.NEW;
  /** Every disk operation runs in this chain, one at a time, in the order it was asked for. */
  private chain: Promise<unknown> = Promise.resolve();
  private backgroundQueued = false;
  /** Creation time of the newest file name seen, including skipped ones, so a new name is never reused. */
  private newestNameMillis = -1;
  private indexedPhyOffset = -1;
  private indexedTimestamp = 0;
  private flushedPhyOffset = -1;
  private flushedTimestamp = 0;

  constructor(options: IndexServiceOptions) {
    const parsed = indexServiceOptionsSchema.safeParse(options);
    if (!parsed.success) {
      const issue = parsed.error.issues[0];
      throw new InvalidArgumentError(`invalid index option ${issue?.path.join('.') || '(options)'}: ${issue?.message ?? 'invalid'}`);
    }
    this.dir = parsed.data.dir;
    this.geometry = { hashSlotNum: parsed.data.maxHashSlotNum, indexNum: parsed.data.maxIndexNum };
    this.clock = parsed.data.clock;
    this.logger = parsed.data.logger;
  }

  /** Commit-log offset of the newest indexed record, −1 when nothing is indexed. Dispatches at or below it are ignored. */
  get lastIndexedPhyOffset(): number {
    return this.indexedPhyOffset;
  }
  /** Store time of the newest indexed record, 0 when nothing is indexed. */
  get lastIndexedTimestamp(): number {
    return this.indexedTimestamp;
  }
  /**
   * Commit-log offset of the newest record whose keys are durable (as of the last `flush()`), −1
   * before any. Recovery must re-dispatch from here.
   */
  get lastFlushedPhyOffset(): number {
    return this.flushedPhyOffset;
  }
  /** Store time of the newest durable record (as of the last `flush()`): the checkpoint's indexMsgTimestamp. */
  get lastFlushedTimestamp(): number {
    return this.flushedTimestamp;
  }
  /** Paths of the index files in use, oldest first (for tests and admin). */
  get filePaths(): string[] {
    return this.files.map((f) => f.path);
  }

  /**
   * Open the files in the folder, oldest first. Unreadable files are skipped with a warning (see
   * the top of this file). Files that are not the newest are sealed: they never take keys again.
   */
  async load(): Promise<void> {
    if (this.state !== State.NEW) throw new KarmanError('ILLEGAL_STATE', `index service in ${this.dir} is ${this.state}; load() runs once on a new service`);
    this.state = State.OPEN;
    const loading = this.enqueue(async () => {
      await mkdir(this.dir, { recursive: true });
      const names = (await readdir(this.dir)).filter((n) => parseIndexFileName(n) !== undefined).sort();
      for (const name of names) {
        this.newestNameMillis = Math.max(this.newestNameMillis, parseIndexFileName(name) as number);
        try {
          this.files.push(await IndexFile.open(join(this.dir, name), this.geometry));
        } catch (err) {
          this.logger('warn', `index: skipping ${join(this.dir, name)}: ${err instanceof Error ? err.message : String(err)}`);
        }
      }
      for (const f of this.files.slice(0, -1)) f.seal();
      this.refreshIndexed();
      this.flushedPhyOffset = this.indexedPhyOffset;
      this.flushedTimestamp = this.indexedTimestamp;
    });
    try {
      await loading;
    } catch (err) {
      // Nothing was opened that stays open on failure except files already pushed; close them and allow a retry.
      for (const f of this.files) await f.close();
      this.files = [];
      this.state = State.NEW;
      throw err;
    }
  }

  /**
   * Index one record: `topic#uniqKey` and `topic#k` for each space-separated key in `keys`.
   * Rollback transaction records and records at or below `lastIndexedPhyOffset` (re-dispatch after
   * recovery) are skipped, so re-dispatching from a checkpoint never duplicates entries.
   */
  dispatch(request: DispatchRequest): void {
    this.checkOpen('dispatch');
    if ((request.sysFlag & TRANSACTION_ROLLBACK_TYPE) === TRANSACTION_ROLLBACK_TYPE) return;
    const { commitLogOffset: phyOffset, storeTimestamp } = request;
    if (!Number.isSafeInteger(phyOffset) || phyOffset < 0) throw new InvalidArgumentError(`index dispatch: commitLogOffset ${phyOffset} is not a non-negative integer`);
    if (!Number.isSafeInteger(storeTimestamp) || storeTimestamp < 0) throw new InvalidArgumentError(`index dispatch: storeTimestamp ${storeTimestamp} is not a non-negative integer`);
    if (phyOffset <= this.indexedPhyOffset) return;
    const { topic, uniqKey, keys } = request;
    let added = false;
    if (uniqKey) {
      this.writableFile().putHash(topicKeyHash(topic, uniqKey), phyOffset, storeTimestamp);
      added = true;
    }
    if (keys) {
      // Most messages carry one key: hash it in place instead of splitting.
      for (const k of keys.includes(KEY_SEPARATOR) ? keys.split(KEY_SEPARATOR) : [keys]) {
        if (k.length === 0) continue;
        this.writableFile().putHash(topicKeyHash(topic, k), phyOffset, storeTimestamp);
        added = true;
      }
    }
    if (!added) return;
    this.indexedPhyOffset = phyOffset;
    this.indexedTimestamp = storeTimestamp;
    this.scheduleBackgroundWrite();
  }

  /**
   * A commit-log write from `phyOffset` on was rolled back (a full disk): let the records stored at
   * those offsets afterwards be indexed. The keys of the refused records stay in the files; they
   * point at offsets whose record no longer carries them, which a query's re-check drops (as for
   * any hash collision).
   */
  rewindTo(phyOffset: number): void {
    this.checkOpen('rewindTo');
    if (this.indexedPhyOffset >= phyOffset) this.indexedPhyOffset = phyOffset - 1;
  }

  /**
   * Commit-log offsets of records indexed under `topic#key` whose store time (rounded down to the
   * second) lies in [begin, end], newest first, at most min(maxNum, 64). Hashes collide, so the
   * caller reads each record and keeps those whose real key matches (as DefaultMessageStore.queryMessage does).
   */
  async queryOffsets(topic: string, key: string, maxNum: number, begin: number, end: number): Promise<IndexQueryResult> {
    this.checkOpen('queryOffsets');
    if (!Number.isInteger(maxNum) || maxNum < 0) throw new InvalidArgumentError(`index query: maxNum ${maxNum} must be a non-negative integer (at most ${INDEX_QUERY_MAX_NUM} are returned)`);
    if (Number.isNaN(begin) || Number.isNaN(end)) throw new InvalidArgumentError('index query: begin and end must be millisecond timestamps, not NaN');
    const limit = Math.min(maxNum, INDEX_QUERY_MAX_NUM);
    const fullKey = buildKey(topic, key);
    const files = [...this.files];
    const newest = files.at(-1);
    const phyOffsets: number[] = [];
    for (let i = files.length - 1; i >= 0 && phyOffsets.length < limit; i--) {
      const f = files[i] as IndexFile;
      if (!f.hasEntries) continue;
      if (f.isTimeMatched(begin, end)) await f.selectPhyOffsets(phyOffsets, fullKey, limit, begin, end);
      // Older files hold only older entries: once a file starts before `begin`, stop.
      if (f.beginTimestamp < begin) break;
    }
    return {
      phyOffsets,
      indexLastUpdateTimestamp: newest?.endTimestamp ?? 0,
      indexLastUpdatePhyoffset: newest?.endPhyOffset ?? 0,
    };
  }

  /**
   * Write and fdatasync every key dispatched so far, then advance `lastFlushedPhyOffset`. Background
   * writes that failed (and were logged) are retried here; this rejects only if the disk still fails.
   */
  async flush(): Promise<void> {
    this.checkOpen('flush');
    await this.enqueue(() => this.flushAll());
  }

  /**
   * Delete whole files whose newest entry is below `minCommitLogOffset` (the commit log's new
   * minimum after retention), oldest first, stopping at the first file still needed; the newest
   * file is never deleted ("no holes").
   */
  async deleteExpired(minCommitLogOffset: number): Promise<void> {
    this.checkOpen('deleteExpired');
    await this.enqueue(async () => {
      while (this.files.length > 1) {
        const oldest = this.files[0] as IndexFile;
        if (oldest.hasEntries && oldest.endPhyOffset >= minCommitLogOffset) break;
        this.files.shift();
        await oldest.destroy();
        this.logger('info', `index: deleted ${oldest.path}, all of it below commit-log offset ${minCommitLogOffset}`);
      }
    });
  }

  /**
   * Recovery: forget every entry at or above `phyOffset` (the commit log was truncated there).
   * Files that begin at or above it are deleted; the file that straddles it is cut back in place
   * (see `IndexFile.truncateFrom`) and becomes the writable file again. Dispatching the records
   * from `lastIndexedPhyOffset` on then rebuilds what was cut. A crash in the middle leaves some
   * files deleted and the straddling one uncut; running this again finishes the job.
   */
  async truncateAbove(phyOffset: number): Promise<void> {
    this.checkOpen('truncateAbove');
    await this.enqueue(async () => {
      while (this.files.length > 0) {
        const newest = this.files.at(-1) as IndexFile;
        if (newest.hasEntries && newest.endPhyOffset < phyOffset) break;
        // An empty newest file (a crash right after a roll) says nothing; drop it and look further back.
        if (!newest.hasEntries || newest.snapshot.beginPhyOffset >= phyOffset) {
          this.files.pop();
          await newest.destroy();
          const why = newest.hasEntries ? `all of it at or above truncated commit-log offset ${phyOffset}` : 'it was empty';
          this.logger('warn', `index: deleted ${newest.path}, ${why}`);
        } else {
          await newest.truncateFrom(phyOffset);
          this.logger('warn', `index: cut ${newest.path} back to entries below commit-log offset ${phyOffset}`);
          break;
        }
      }
      this.refreshIndexed();
      this.flushedPhyOffset = Math.min(this.flushedPhyOffset, this.indexedPhyOffset);
      this.flushedTimestamp = Math.min(this.flushedTimestamp, this.indexedTimestamp);
    });
  }

  /** Flush and close every file. Later calls are no-ops. */
  async close(): Promise<void> {
    if (this.state === State.CLOSED) return;
    const wasOpen = this.state === State.OPEN;
    this.state = State.CLOSED;
    await this.enqueue(async () => {
      try {
        if (wasOpen) await this.flushAll();
      } finally {
        for (const f of this.files) await f.close();
        this.files = [];
      }
    });
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }

  private checkOpen(what: string): void {
    if (this.state === State.OPEN) return;
    const fix = this.state === State.NEW ? 'call load() first' : 'the service was closed';
    throw new KarmanError('ILLEGAL_STATE', `index service in ${this.dir}: cannot ${what}: ${fix}`);
  }

  private enqueue<T>(op: () => Promise<T>): Promise<T> {
    const result = this.chain.then(op);
    this.chain = result.catch(() => undefined);
    return result;
  }

  /** The file that takes the next key: the newest, or a new one when there is none or it is full. */
  private writableFile(): IndexFile {
    const newest = this.files.at(-1);
    if (newest && !newest.isFull) return newest;
    newest?.seal();
    // Names must sort in creation order, so never reuse or go below the newest name (clock steps back, same ms).
    const millis = Math.max(this.clock(), this.newestNameMillis + 1);
    this.newestNameMillis = millis;
    const file = IndexFile.create(join(this.dir, indexFileName(millis)), this.geometry);
    this.files.push(file);
    return file;
  }

  private scheduleBackgroundWrite(): void {
    if (this.backgroundQueued) return;
    const pending = this.files.reduce((sum, f) => sum + f.pendingEntries, 0);
    const sealedDirty = this.files.length > 1 && (this.files.at(-2) as IndexFile).pendingEntries > 0;
    if (pending < BACKGROUND_WRITE_ENTRIES && !sealedDirty) return;
    this.backgroundQueued = true;
    void this.enqueue(async () => {
      this.backgroundQueued = false;
      for (const f of this.files) {
        // A sealed file is finished: write it whole and sync it so its slots can leave memory.
        if (f === this.files.at(-1)) await f.writeEntries();
        else if (f.pendingEntries > 0) await f.flush();
      }
    }).catch((err: unknown) => {
      this.logger('error', `index: background write in ${this.dir} failed: ${err instanceof Error ? err.message : String(err)}`);
    });
  }

  private async flushAll(): Promise<void> {
    const phyOffset = this.indexedPhyOffset;
    const timestamp = this.indexedTimestamp;
    // A failed background write left its data marked unwritten, so this retries it.
    for (const f of this.files) await f.flush();
    this.flushedPhyOffset = phyOffset;
    this.flushedTimestamp = timestamp;
  }

  private refreshIndexed(): void {
    const withEntries = this.files.findLast((f) => f.hasEntries);
    this.indexedPhyOffset = withEntries ? withEntries.endPhyOffset : -1;
    this.indexedTimestamp = withEntries ? withEntries.endTimestamp : 0;
  }
}

/** RocketMQ's `buildKey`: `topic#key`. */
function buildKey(topic: string, key: string): string {
  return `${topic}#${key}`;
}
