/**
 * Which commit-log segments a retention round deletes (RocketMQ's
 * `CleanCommitLogService` and `MappedFileQueue.deleteExpiredFileByTime`). Pure decisions here; the
 * store does the deleting and then cleans consume queues and the index below the new minimum.
 */
import { parseDeleteWhen, type ResolvedStoreOptions } from './store-config.js';

/** Why a round deletes, or not. */
export interface RetentionDecision {
  /** Delete expired segments this round. */
  delete: boolean;
  /** Delete old segments regardless of age (disk above `diskSpaceCleanForciblyRatio`). */
  cleanImmediately: boolean;
  /** Refuse appends (disk above `diskSpaceWarningLevelRatio`). */
  diskFull: boolean;
  reason: string;
}

/**
 * Decide a round from the clock and the disk use (0..1). Deletion runs at a `deleteWhen` hour
 * (local time, as RocketMQ's Calendar), at any hour above `diskMaxUsedSpaceRatio`, or when asked.
 */
export function decideRetention(options: ResolvedStoreOptions, now: number, diskUsage: number, manual: boolean): RetentionDecision {
  const percent = diskUsage * 100;
  const diskFull = percent > options.diskSpaceWarningLevelRatio;
  const cleanImmediately = percent > options.diskSpaceCleanForciblyRatio;
  const hourMatches = parseDeleteWhen(options.deleteWhen).includes(new Date(now).getHours());
  const overUsed = percent > options.diskMaxUsedSpaceRatio;
  const reasons: string[] = [];
  if (hourMatches) reasons.push(`hour is in deleteWhen ${options.deleteWhen}`);
  if (overUsed) reasons.push(`disk ${percent.toFixed(1)} % used > diskMaxUsedSpaceRatio ${options.diskMaxUsedSpaceRatio} %`);
  if (cleanImmediately) reasons.push(`disk > diskSpaceCleanForciblyRatio ${options.diskSpaceCleanForciblyRatio} %: deleting regardless of age`);
  if (manual) reasons.push('requested');
  return { delete: hourMatches || overUsed || cleanImmediately || manual, cleanImmediately, diskFull, reason: reasons.join('; ') || 'nothing due' };
}

/** A segment as retention sees it. */
export interface RetentionCandidate {
  lastModified: number;
}

/**
 * How many segments, from the oldest, to delete: those expired (`lastModified + fileReservedTime`
 * passed) or all when `cleanImmediately`, stopping at the first that is not, never touching the
 * segments from `keepFrom` on (the one being written and any preallocated after it), and at most
 * `deleteFileBatchMax`. Stopping at the first kept segment means no hole is ever left.
 */
export function countExpired(
  segments: readonly RetentionCandidate[],
  keepFrom: number,
  now: number,
  options: ResolvedStoreOptions,
  cleanImmediately: boolean,
): number {
  const reservedMs = options.fileReservedTime * 3_600_000;
  let n = 0;
  while (n < Math.min(keepFrom, segments.length) && n < options.deleteFileBatchMax) {
    const seg = segments[n]!;
    if (!cleanImmediately && seg.lastModified + reservedMs > now) break;
    n++;
  }
  return n;
}
