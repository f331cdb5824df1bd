/**
 * Quarantined commit-log bytes: records (or stretches where records should be) that failed a
 * check while valid records follow them. RocketMQ's recovery truncates the log at the first bad
 * record and so drops every acknowledged message after it; Karman skips such a stretch instead,
 * never serves it, and keeps it listed here so an operator can see what was lost and where.
 *
 * The list lives in `<storePathRootDir>/quarantine.json` (written atomically: temporary file,
 * fsync, rename), so it survives restarts even for damage that recovery does not re-check (older
 * segments, found by a read or a scrub). The bytes themselves stay in the commit log untouched, as
 * evidence; the on-disk format does not change. At most `QUARANTINE_MAX_ENTRIES` are kept (the
 * oldest offsets go first); `total` still counts every one found.
 */
import { closeSync, existsSync, fsyncSync, openSync, readFileSync, renameSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import type { StoreLogger } from './store-config.js';

/** File of the quarantine list under the store root. */
export const QUARANTINE_FILE = 'quarantine.json';
/** Most entries kept in the list. */
const QUARANTINE_MAX_ENTRIES = 10_000;

/** Who found a damaged stretch. */
export type QuarantineSource = 'recovery' | 'read' | 'scrub' | 'replication';

/** One quarantined stretch of the commit log. */
export interface QuarantinedRecord {
  /** Commit-log offset where the damaged bytes start. */
  offset: number;
  /** Bytes skipped (up to the next valid record). */
  size: number;
  /** The check that failed. */
  reason: string;
  detectedBy: QuarantineSource;
  /** Clock ms when it was first found. */
  detectedAt: number;
  /** The queue a read expected there, when it was found through a consume-queue unit. */
  topic?: string;
  queueId?: number;
  queueOffset?: number;
}

interface QuarantineFile {
  total: number;
  records: QuarantinedRecord[];
}

export class Quarantine {
  private readonly byOffset = new Map<number, QuarantinedRecord>();
  private dirty = false;
  /** Stretches ever quarantined by this store (not reduced by retention or the entry cap). */
  total = 0;

  constructor(
    private readonly root: string,
    private readonly clock: () => number,
    private readonly log: StoreLogger,
  ) {}

  /** Read the list. A damaged file is reported and replaced: it is a record for people, not data. */
  load(): void {
    const path = join(this.root, QUARANTINE_FILE);
    if (!existsSync(path)) return;
    try {
      const parsed = JSON.parse(readFileSync(path, 'utf8')) as Partial<QuarantineFile>;
      for (const r of Array.isArray(parsed.records) ? parsed.records : []) {
        if (r && Number.isSafeInteger(r.offset) && Number.isSafeInteger(r.size)) this.byOffset.set(r.offset, r);
      }
      this.total = Math.max(Number.isSafeInteger(parsed.total) ? parsed.total! : 0, this.byOffset.size);
    } catch (err) {
      this.log('warn', `${path} is not readable JSON (${(err as Error).message}); starting a new quarantine list`);
      this.dirty = true;
    }
  }

  /** Whether the stretch starting at `offset` is quarantined. */
  has(offset: number): boolean {
    return this.byOffset.has(offset);
  }

  /**
   * Quarantine a stretch; a stretch already listed is not added again. Returns whether it was new
   * (and logged). Written to disk by `persist`.
   */
  add(entry: Omit<QuarantinedRecord, 'detectedAt'>): boolean {
    if (this.byOffset.has(entry.offset)) return false;
    const record: QuarantinedRecord = { ...entry, detectedAt: this.clock() };
    this.byOffset.set(entry.offset, record);
    this.total++;
    this.dirty = true;
    if (this.byOffset.size > QUARANTINE_MAX_ENTRIES) this.byOffset.delete(Math.min(...this.byOffset.keys()));
    const where = entry.topic === undefined ? '' : ` (expected ${entry.topic}/${entry.queueId} offset ${entry.queueOffset})`;
    this.log('warn', `${entry.detectedBy}: commit-log bytes ${entry.offset}..${entry.offset + entry.size} failed a check${where} (${entry.reason}); quarantined: never served, later records kept`);
    return true;
  }

  /** Every entry, by offset. */
  list(): QuarantinedRecord[] {
    return [...this.byOffset.values()].sort((a, b) => a.offset - b.offset);
  }

  /** Forget entries below `minOffset` (retention deleted their segment). */
  pruneBelow(minOffset: number): void {
    for (const offset of this.byOffset.keys()) {
      if (offset < minOffset) {
        this.byOffset.delete(offset);
        this.dirty = true;
      }
    }
  }

  /** Write the list if it changed. */
  persist(): void {
    if (!this.dirty) return;
    const path = join(this.root, QUARANTINE_FILE);
    const tmp = `${path}.tmp`;
    const fd = openSync(tmp, 'w');
    try {
      const file: QuarantineFile = { total: this.total, records: this.list() };
      writeSync(fd, JSON.stringify(file));
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    renameSync(tmp, path);
    this.dirty = false;
  }
}
