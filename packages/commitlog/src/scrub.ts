/**
 * A scrub: check a whole store on demand, as a storage array scrubs its disks. Every commit-log
 * record from the minimum to the end is checked (magic, sizes, PHYSICALOFFSET, body CRC), damaged
 * stretches with valid records after them are quarantined (quarantine.ts), and every consume-queue
 * unit of a valid record is compared with it and rewritten when it differs, so damage in segments
 * recovery never re-reads is found before a consumer meets it. Nothing is truncated: a scrub only
 * quarantines and repairs units.
 *
 * It reads in slices of `SCRUB_SLICE_BYTES` and yields to the event loop between them, so a running
 * broker keeps serving; appends made meanwhile are past its end and not checked.
 */
import type { CommitLog, ScannedRecord } from './commit-log.js';
import type { ConsumeQueueStore, UnitCheck } from './consume-queue.js';
import type { Quarantine } from './quarantine.js';
import { isConsumable } from './record-scan.js';
import type { StoreLogger } from './store-config.js';

/** Commit-log bytes checked between two turns of the event loop. */
const SCRUB_SLICE_BYTES = 8 * 1024 * 1024;

/** What a scrub checked and found. */
export interface ScrubReport {
  /** Commit-log range checked. */
  from: number;
  to: number;
  bytesChecked: number;
  recordsChecked: number;
  /** Damaged stretches met (already quarantined ones included). */
  damaged: number;
  /** Of those, how many this scrub quarantined for the first time. */
  newlyQuarantined: number;
  /** The store's quarantine list after the scrub. */
  quarantinedTotal: number;
  unitsChecked: number;
  /** Units that differed from their record and were rewritten. */
  unitsRepaired: number;
  durationMs: number;
  /** Commit-log bytes checked per second, in MB (10^6 bytes). */
  mbPerSecond: number;
  /** Set when the signal stopped the scrub early or the store closed. */
  aborted?: boolean;
}

export interface ScrubContext {
  commitLog: CommitLog;
  consumeQueues: ConsumeQueueStore;
  quarantine: Quarantine;
  unitCheck: UnitCheck;
  onRepaired: () => void;
  logger: StoreLogger;
  isClosed: () => boolean;
}

export async function scrubStore(ctx: ScrubContext, signal?: AbortSignal): Promise<ScrubReport> {
  const started = performance.now();
  const { commitLog, consumeQueues, quarantine, logger } = ctx;
  const from = commitLog.minOffset;
  const to = commitLog.maxOffset;
  const report: ScrubReport = {
    from,
    to,
    bytesChecked: 0,
    recordsChecked: 0,
    damaged: 0,
    newlyQuarantined: 0,
    quarantinedTotal: 0,
    unitsChecked: 0,
    unitsRepaired: 0,
    durationMs: 0,
    mbPerSecond: 0,
  };
  const visit = (rec: ScannedRecord): void => {
    report.recordsChecked++;
    const slot = rec.slot();
    if (!isConsumable(slot.sysFlag)) return;
    const d = { topic: slot.topic, queueId: slot.queueId, commitLogOffset: rec.offset, msgSize: rec.size, tagsCode: slot.tagsCode };
    const cq = consumeQueues.find(d.topic, d.queueId);
    const k = slot.queueOffset;
    if (!cq || k < cq.minOffset || k >= cq.maxOffset) return;
    report.unitsChecked++;
    const unit = cq.readUnitCached(k);
    if (unit && unit.commitLogOffset === d.commitLogOffset && unit.size === d.msgSize && unit.tagsCode === d.tagsCode) return;
    if (unit && unit.commitLogOffset !== d.commitLogOffset && ctx.unitCheck(d.topic, d.queueId, k, unit)) {
      if (quarantine.add({ offset: d.commitLogOffset, size: d.msgSize, reason: `its header claims ${d.topic}/${d.queueId} offset ${k}, which the record at ${unit.commitLogOffset} holds`, detectedBy: 'scrub' })) {
        report.newlyQuarantined++;
      }
      report.damaged++;
      return;
    }
    cq.rewriteUnit(k, d.commitLogOffset, d.msgSize, d.tagsCode);
    report.unitsRepaired++;
    ctx.onRepaired();
    logger('warn', `scrub: consume queue ${d.topic}/${d.queueId}: unit ${k} differed from its record at ${d.commitLogOffset}; rewritten`);
  };
  let off = from;
  while (off < to) {
    if (signal?.aborted || ctx.isClosed()) {
      report.aborted = true;
      break;
    }
    // Retention may have deleted the segment being scrubbed: go on from the new minimum.
    if (off < commitLog.minOffset) off = commitLog.minOffset;
    const result = commitLog.scan(off, true, visit, {
      limit: to,
      pauseAt: off + SCRUB_SLICE_BYTES,
      onDamaged: (stretch) => {
        report.damaged++;
        if (quarantine.add({ ...stretch, detectedBy: 'scrub' })) report.newlyQuarantined++;
      },
    });
    if (result.invalid) {
      // Damage with nothing valid after it before the end the scrub started at.
      report.damaged++;
      if (quarantine.add({ offset: result.end, size: to - result.end, reason: result.invalid, detectedBy: 'scrub' })) report.newlyQuarantined++;
      off = to;
      break;
    }
    if (result.end <= off) break; // zeros before the end: nothing more was written
    off = result.end;
    await new Promise<void>((resolve) => setImmediate(resolve));
  }
  consumeQueues.commit();
  quarantine.persist();
  report.bytesChecked = Math.min(off, to) - from;
  report.quarantinedTotal = quarantine.list().length;
  report.durationMs = performance.now() - started;
  report.mbPerSecond = report.durationMs > 0 ? report.bytesChecked / 1e6 / (report.durationMs / 1000) : 0;
  logger(
    report.damaged > 0 || report.unitsRepaired > 0 ? 'warn' : 'info',
    `scrub of commit log ${from}..${to}: ${report.recordsChecked} record(s), ${report.damaged} damaged stretch(es) (${report.newlyQuarantined} newly quarantined), ` +
      `${report.unitsChecked} unit(s) checked, ${report.unitsRepaired} rewritten, ${report.mbPerSecond.toFixed(0)} MB/s`,
  );
  return report;
}
