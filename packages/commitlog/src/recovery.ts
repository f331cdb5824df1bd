/**
 * Recovery at open. The abort file tells a crash from a clean stop; the checkpoint
 * says below which commit-log offset the log, the consume queues and the index were all on disk.
 *
 * 1. Open the commit-log segments, the consume queues (each checks its last three files and drops
 *    units from the first invalid one) and the index.
 * 2. Choose where to start checking: the lowest of the checkpoint's safe offset, the start of the
 *    last three segments after a clean stop (RocketMQ 4.x), and the point any consume queue needs
 *    rebuilding from. No checkpoint means from the first segment.
 * 3. Scan forwards validating every record (magic, sizes, PHYSICALOFFSET, body CRC) and dispatch
 *    each to the consume queues (which compare and repair units they already hold) and the index
 *    (which skips what it has). A record that fails a check but has a valid record somewhere after
 *    it is quarantined (quarantine.ts): skipped, listed, logged, never dispatched or served; its
 *    neighbours are kept. RocketMQ cuts the log at the first bad record instead, dropping every
 *    acknowledged message after it. The scan stops at zeros, the end of the last file, or damage
 *    with nothing valid after it (a torn tail).
 * 4. Cut a torn tail with a logged warning: zero the rest of that segment, delete later ones
 *    (first lowering the checkpoint's safe offset to the new end if it was above).
 * 5. Drop consume-queue units pointing past the new end, move each queue's minimum to the first
 *    unit the log still holds, cut index entries past the end.
 * 6. fdatasync what was checked and write a checkpoint whose safe offset is the new end.
 *
 * What a crash during recovery leaves: steps 1–3 only append or rewrite units to match the log,
 * which a second recovery redoes identically; a crash inside step 4 leaves zeros or missing files
 * past the end, read again as the end; a crash in step 5 leaves units past the end, dropped again;
 * step 6 writes the checkpoint last, so a crash before it leaves the old, lower safe offset.
 * The abort file is still present throughout, so the next open recovers again.
 */
import { join } from 'node:path';
import { ProtocolError } from '@karman/protocol';
import { readCheckpoint, writeCheckpoint, type Checkpoint } from './checkpoint.js';
import type { CommitLog, DamagedStretch, ScannedRecord } from './commit-log.js';
import type { ConsumeQueueStore } from './consume-queue.js';
import type { DispatchRequest } from './dispatcher.js';
import type { IndexService } from './index-service.js';
import type { Quarantine } from './quarantine.js';
import type { ResolvedStoreOptions } from './store-config.js';
import { abortFileExists } from './store-lock.js';

/** What recovery found and did. */
export interface RecoveryReport {
  /** The abort file was present: the last run did not close cleanly. */
  abnormal: boolean;
  checkpoint: Checkpoint | undefined;
  /** Commit-log offset the check started from. */
  scannedFrom: number;
  /** Records checked and re-dispatched. */
  recordsChecked: number;
  /** End of the valid log. */
  end: number;
  /** Set when the log ended in damage with nothing valid after it (a torn tail) and was cut there. */
  truncated?: { at: number; reason: string };
  /** Damaged stretches with valid records after them: skipped and quarantined, not cut. */
  quarantined: DamagedStretch[];
  /** Consume-queue units rewritten to match the log. */
  repairedUnits: number;
  /** Consume-queue units dropped because they pointed past the end. */
  droppedUnits: number;
  /** Store time of the last valid record (0 when none was checked). */
  lastStoreTimestamp: number;
  durationMs: number;
}

export interface RecoveryContext {
  root: string;
  options: ResolvedStoreOptions;
  commitLog: CommitLog;
  consumeQueues: ConsumeQueueStore;
  index: IndexService | undefined;
  quarantine: Quarantine;
}

export async function recoverStore(ctx: RecoveryContext): Promise<RecoveryReport> {
  const started = performance.now();
  const { root, options: o, commitLog, consumeQueues, index } = ctx;
  const log = o.logger;
  const abnormal = abortFileExists(root);
  const checkpoint = readCheckpoint(join(root, 'checkpoint'));

  commitLog.load();
  const cqRepairFrom = consumeQueues.load();
  if (index) await index.load();

  const segs = commitLog.files.segments;
  const min = commitLog.minOffset;
  let scanFrom = min;
  if (segs.length > 0) {
    // After a crash, everything below the checkpoint's safe offset was fdatasync'ed together with
    // its consume-queue units and index keys: only what follows can be torn or missing. After a
    // clean stop the safe offset is the end, so check the last three segments like RocketMQ does.
    const recent = abnormal ? Number.POSITIVE_INFINITY : segs[Math.max(0, segs.length - 3)]!.baseOffset;
    // A queue's repair point comes from its units, which may be the damaged bytes: start at the
    // beginning of that segment, a record boundary for sure (mid-record zeros would read as the end).
    const cqFrom = cqRepairFrom === undefined ? Number.POSITIVE_INFINITY : commitLog.files.baseOf(Math.max(min, cqRepairFrom));
    scanFrom = Math.min(recent, checkpoint ? checkpoint.safePhyOffset : min, cqFrom);
    scanFrom = Math.max(min, scanFrom);
  }

  let lastStoreTimestamp = 0;
  let recordsChecked = 0;
  const visit = (rec: ScannedRecord): void => {
    const req: DispatchRequest = rec.dispatch();
    lastStoreTimestamp = req.storeTimestamp;
    consumeQueues.dispatch(req);
    index?.dispatch(req);
    if (++recordsChecked % 4096 === 0) consumeQueues.commit();
  };

  let damaged: DamagedStretch[] = [];
  const onDamaged = (d: DamagedStretch): void => void damaged.push(d);
  let result = commitLog.scan(scanFrom, o.checkCRCOnRecover, visit, { onDamaged });
  const segmentStart = commitLog.files.baseOf(scanFrom);
  const firstFailed = result.invalid && result.end === scanFrom ? result.invalid : damaged[0]?.offset === scanFrom ? damaged[0].reason : undefined;
  if (firstFailed && scanFrom !== segmentStart) {
    // The checkpoint's offset was not a record boundary (a checkpoint from another store, or
    // garbage that passed its CRC): start again from the beginning of that segment.
    log('warn', `recovery: checkpoint offset ${scanFrom} is not a record boundary (${firstFailed}); checking from ${segmentStart}`);
    scanFrom = segmentStart;
    damaged = [];
    result = commitLog.scan(scanFrom, o.checkCRCOnRecover, visit, { onDamaged });
  }
  for (const d of damaged) ctx.quarantine.add({ ...d, detectedBy: 'recovery' });
  if (result.invalid && result.end === min && result.invalid.startsWith('bad magic')) {
    throw new ProtocolError(
      `commit log ${commitLog.files.first?.path ?? ''} does not start with a record (${result.invalid}): ` +
        'this is not a Karman/RocketMQ commit log or its first segment is destroyed; point storePathRootDir at an empty folder or restore the files',
    );
  }
  consumeQueues.commit();

  const end = result.end;
  if (result.invalid) {
    const later = segs.filter((s) => s.baseOffset > end).length;
    log(
      'warn',
      `recovery: commit-log record at offset ${end} failed a check (${result.invalid}); truncating the log there` +
        (later > 0 ? ` and deleting ${later} later segment file(s)` : '') +
        ' (a torn or corrupt tail with no valid record after it: nothing after it is served)',
    );
  }
  if (checkpoint && checkpoint.safePhyOffset > end) {
    // The log ends below the checkpoint (a damaged record): lower the checkpoint before cutting, so
    // a crash while cutting never starts the next recovery inside the zeroed stretch.
    writeCheckpoint(join(root, 'checkpoint'), { ...checkpoint, safePhyOffset: end });
  }
  commitLog.setEnd(end);

  if (consumeQueues.gapSeen && scanFrom > min) {
    // A queue met a record whose earlier units it lacks (its files were lost): rebuild from the start.
    log('warn', `recovery: a consume queue is missing units before offset ${scanFrom}; re-dispatching the whole commit log from ${min}`);
    consumeQueues.gapSeen = false;
    commitLog.scan(min, o.checkCRCOnRecover, visit, { onDamaged: () => undefined, limit: end });
    consumeQueues.commit();
  }

  let droppedUnits = 0;
  let redispatchFrom = Number.POSITIVE_INFINITY;
  for (const cq of consumeQueues.all()) {
    const dropped = cq.truncatePhysicalAfter(end);
    if (dropped > 0) {
      log('warn', `recovery: consume queue ${cq.topic}/${cq.queueId}: dropped ${dropped} unit(s) pointing past the commit log's end ${end}`);
      droppedUnits += dropped;
      if (typeof cq.droppedInsideLog === 'number') redispatchFrom = Math.min(redispatchFrom, cq.droppedInsideLog);
    }
    cq.correctMinOffset(commitLog.minOffset);
  }
  if (redispatchFrom < end) {
    // A dropped unit started inside the log (its size was damaged): rebuild those units.
    const from = Math.max(min, commitLog.files.baseOf(redispatchFrom));
    log('warn', `recovery: a consume-queue unit inside the log had a damaged size; re-dispatching the commit log from ${from}`);
    commitLog.scan(from, o.checkCRCOnRecover, visit, { onDamaged: () => undefined, limit: end });
    consumeQueues.commit();
  }
  for (const { queue, queueOffset, unit } of consumeQueues.sweepOutOfOrder()) {
    // A record whose QUEUEOFFSET was damaged upwards took a slot ahead of its queue's order.
    ctx.quarantine.add({ offset: unit.commitLogOffset, size: unit.size, reason: `its header claims ${queue.topic}/${queue.queueId} offset ${queueOffset}, ahead of that queue's order`, detectedBy: 'recovery' });
    log('warn', `recovery: consume queue ${queue.topic}/${queue.queueId}: unit ${queueOffset} pointed at a record out of the queue's order; removed`);
  }
  if (index && index.lastIndexedPhyOffset >= end) await index.truncateAbove(end);

  // Make the recovered state durable and say so, so a crash before the first periodic checkpoint
  // never starts the next recovery from a stale safe offset past a truncated end.
  for (const s of commitLog.files.segments) if (s.endOffset > scanFrom) s.flushSync();
  ctx.quarantine.persist();
  await consumeQueues.flush();
  if (index) await index.flush();
  writeCheckpoint(join(root, 'checkpoint'), {
    physicMsgTimestamp: lastStoreTimestamp || checkpoint?.physicMsgTimestamp || 0,
    logicsMsgTimestamp: lastStoreTimestamp || checkpoint?.logicsMsgTimestamp || 0,
    indexMsgTimestamp: index?.lastFlushedTimestamp ?? 0,
    safePhyOffset: end,
  });

  const report: RecoveryReport = {
    abnormal,
    checkpoint,
    scannedFrom: scanFrom,
    recordsChecked,
    end,
    repairedUnits: consumeQueues.repaired,
    droppedUnits,
    lastStoreTimestamp: lastStoreTimestamp || checkpoint?.physicMsgTimestamp || 0,
    quarantined: damaged,
    durationMs: performance.now() - started,
  };
  if (result.invalid) report.truncated = { at: end, reason: result.invalid };
  log(
    'info',
    `recovery (${abnormal ? 'after a crash' : 'after a clean stop'}): checked ${recordsChecked} record(s) from ${scanFrom}, log ends at ${end}, ` +
      `${report.repairedUnits} unit(s) repaired, ${droppedUnits} dropped, ${damaged.length} damaged stretch(es) quarantined, ${report.durationMs.toFixed(0)} ms`,
  );
  return report;
}
