/**
 * The store's options: one zod schema is the single source of every option's type and default.
 * Names and defaults are RocketMQ's `MessageStoreConfig` so a broker
 * config file written for RocketMQ reads the same here. Every interval is an option so tests can
 * run retention and flushing in milliseconds; the clock and the disk-usage probe are injectable.
 */
import { statfs } from 'node:fs/promises';
import { InvalidArgumentError } from '@karman/protocol';
import { z } from 'zod';

/** How an append is made durable. */
export const FlushDiskType = {
  /** Acknowledge once the write reached the OS; fdatasync in the background. */
  ASYNC_FLUSH: 'ASYNC_FLUSH',
  /** Acknowledge after a group-commit fdatasync covering the append. */
  SYNC_FLUSH: 'SYNC_FLUSH',
} as const;
export type FlushDiskType = (typeof FlushDiskType)[keyof typeof FlushDiskType];

/** Returns the used fraction of the disk holding `path`, 0..1. */
export type DiskUsageProbe = (path: string) => number | Promise<number>;

/** A line the store wants an operator to see (torn tails, repaired queues, deleted files). */
export type StoreLogger = (level: 'info' | 'warn' | 'error', message: string) => void;

const GiB = 1024 * 1024 * 1024;
const MiB = 1024 * 1024;

const int = (min: number) => z.number().int().min(min);

export const storeOptionsSchema = z.object({
  /** Root folder of the store: `commitlog/`, `consumequeue/`, `index/`, `checkpoint`, `abort`, `lock`. */
  storePathRootDir: z.string().min(1),
  /** Size of each commit-log segment in bytes (1 GiB); a few KiB is fine for tests. */
  mappedFileSizeCommitLog: int(4096).max(Number.MAX_SAFE_INTEGER).default(GiB),
  /** Size of each consume-queue file in bytes: 300,000 units of 20 bytes. Must be a multiple of 20. */
  mappedFileSizeConsumeQueue: int(20).default(300_000 * 20),
  /** ASYNC_FLUSH (acknowledge at the OS) or SYNC_FLUSH (acknowledge after group-commit fdatasync). */
  flushDiskType: z.enum(['ASYNC_FLUSH', 'SYNC_FLUSH']).default('ASYNC_FLUSH'),
  /** ASYNC_FLUSH: how often the background flush runs, ms. */
  flushIntervalCommitLog: int(1).default(500),
  /** ASYNC_FLUSH: flush only when at least this many 4 KiB pages are dirty. */
  flushCommitLogLeastPages: int(0).default(4),
  /** ASYNC_FLUSH: flush whatever is dirty at least this often, ms. */
  flushCommitLogThoroughInterval: int(1).default(10_000),
  /** SYNC_FLUSH: an append not flushed within this many ms answers FLUSH_DISK_TIMEOUT (still stored). */
  syncFlushTimeout: int(1).default(5000),
  /**
   * After a commit-log write failed (ENOSPC: the disk is full) and was undone, appends are refused
   * with SERVICE_NOT_AVAILABLE for this long, ms, then the next one is tried (1000). There is no
   * restart to wait for: appends resume by themselves once space is free. RocketMQ has no such
   * option; it stops on a failed write.
   */
  appendRetryInterval: int(1).default(1000),
  /** How often consume queues and the index are flushed and the checkpoint rewritten, ms. */
  flushIntervalConsumeQueue: int(1).default(1000),
  /** Largest body accepted, bytes (4 MiB); bigger bodies answer MESSAGE_ILLEGAL. */
  maxMessageSize: int(1).default(4 * MiB),
  /** Hours a commit-log segment is kept after its last write (72). */
  fileReservedTime: z.number().min(0).default(72),
  /** Hours of the day (local time, `;`-separated) at which expired segments are deleted. */
  deleteWhen: z.string().regex(/^\s*\d{1,2}(\s*;\s*\d{1,2})*\s*$/, 'a ;-separated list of hours such as "04" or "04;16"').default('04'),
  /** Disk use (percent) above which expired segments are deleted at any hour (75). */
  diskMaxUsedSpaceRatio: int(10).max(95).default(75),
  /** Disk use (percent) above which old segments are deleted regardless of age (85, clamped 30–85). */
  diskSpaceCleanForciblyRatio: int(0).max(100).default(85),
  /** Disk use (percent) above which appends are refused with SERVICE_NOT_AVAILABLE (90, clamped 35–90). */
  diskSpaceWarningLevelRatio: int(0).max(100).default(90),
  /** How often the retention check runs, ms (10 s); 0 disables the timer (call `cleanExpiredFiles`). */
  cleanResourceInterval: int(0).default(10_000),
  /** Delay before the first retention check, ms (60 s). */
  cleanResourceInitialDelay: int(0).default(60_000),
  /** Most segments deleted in one retention round (10). */
  deleteFileBatchMax: int(1).default(10),
  /**
   * Percent of RAM the newest commit-log bytes may span and still be read synchronously from the
   * page cache (40, RocketMQ's accessMessageInMemoryMaxRatio); older data is read on the thread pool.
   */
  accessMessageInMemoryMaxRatio: int(0).max(100).default(40),
  /**
   * Physical memory the in-memory window is a share of, bytes; 0 (the default) reads the machine's
   * RAM. Set it in a container whose memory limit is below the host's, and in tests.
   */
  physicalMemoryBytes: int(0).default(0),
  /**
   * Bytes of recently read commit-log blocks (256 KiB each) kept in memory, so reads of nearby
   * records share one pread instead of one each (64 MiB; 0 turns the cache off). Node has no mmap:
   * this stands in for the mapped pages RocketMQ reads from.
   */
  readCacheBytes: int(0).default(64 * 1024 * 1024),
  /** Validate body CRCs while recovering (true). */
  checkCRCOnRecover: z.boolean().default(true),
  /**
   * Validate the body CRC of every record before a read hands it out (true; Karman's own, RocketMQ
   * checks only on recovery): a damaged record is quarantined and skipped instead of delivered.
   * Where a consume-queue unit points at the wrong bytes is checked whatever this says.
   */
  checkCRCOnRead: z.boolean().default(true),
  /** Build the key index (`topic#UNIQ_KEY`, `topic#key`) for `queryMessage` (true). */
  messageIndexEnable: z.boolean().default(true),
  /** Hash slots per index file (5,000,000). */
  maxHashSlotNum: int(1).default(5_000_000),
  /** Entries per index file (20,000,000). */
  maxIndexNum: int(1).default(20_000_000),
  /** Address written as STOREHOST into every record and into offset message ids. */
  storeHost: z.object({ host: z.string().min(1), port: int(0).max(65535) }).default({ host: '127.0.0.1', port: 10911 }),
  /** Milliseconds since the epoch; injectable for retention tests. */
  clock: z.custom<() => number>((v) => typeof v === 'function').default(() => Date.now),
  /** Used fraction (0..1) of the disk holding a path; injectable for retention tests. */
  diskUsageProbe: z.custom<DiskUsageProbe>((v) => typeof v === 'function').default(() => defaultDiskUsageProbe),
  /** Where warnings go (torn tails, repairs, deletions); defaults to console.warn/error. */
  logger: z.custom<StoreLogger>((v) => typeof v === 'function').default(() => defaultLogger),
});

/** What callers pass: only `storePathRootDir` is required. */
export type StoreOptions = z.input<typeof storeOptionsSchema>;
/** Options after defaults and clamping. */
export type ResolvedStoreOptions = z.output<typeof storeOptionsSchema>;

/** Validate and default the caller's options without mutating them; the error names the bad field and the fix. */
export function resolveStoreOptions(options: StoreOptions): ResolvedStoreOptions {
  const parsed = storeOptionsSchema.safeParse(options);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    const field = issue?.path.join('.') || '(options)';
    throw new InvalidArgumentError(`invalid store option ${field}: ${issue?.message ?? 'invalid'}; see the options table in @karman/commitlog's README`);
  }
  const o = { ...parsed.data };
  if (o.mappedFileSizeConsumeQueue % 20 !== 0) {
    throw new InvalidArgumentError(
      `invalid store option mappedFileSizeConsumeQueue: ${o.mappedFileSizeConsumeQueue} is not a multiple of the 20-byte consume-queue unit`,
    );
  }
  // RocketMQ clamps these two (DefaultMessageStore.CleanCommitLogService).
  o.diskSpaceCleanForciblyRatio = Math.min(85, Math.max(30, o.diskSpaceCleanForciblyRatio));
  o.diskSpaceWarningLevelRatio = Math.min(90, Math.max(35, o.diskSpaceWarningLevelRatio));
  return o;
}

/** Hours listed in `deleteWhen`, e.g. "04;16" → [4, 16]. */
export function parseDeleteWhen(deleteWhen: string): number[] {
  return deleteWhen.split(';').map((h) => Number.parseInt(h.trim(), 10));
}

async function defaultDiskUsageProbe(path: string): Promise<number> {
  const s = await statfs(path);
  if (s.blocks === 0) return 0;
  return 1 - s.bavail / s.blocks;
}

function defaultLogger(level: 'info' | 'warn' | 'error', message: string): void {
  if (level === 'info') return;
  (level === 'error' ? console.error : console.warn)(`[karman-commitlog] ${message}`);
}
