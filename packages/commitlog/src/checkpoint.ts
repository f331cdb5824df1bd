/**
 * The checkpoint file `<root>/checkpoint`: one 4 KiB page saying how far everything is known to be
 * on disk, so recovery after a crash only re-checks and re-dispatches what came after
 * (RocketMQ's `StoreCheckpoint`).
 *
 * Layout (big-endian). The first five fields are RocketMQ's, at RocketMQ's positions; Karman adds a
 * tagged, CRC-guarded block after them because it recovers from an offset rather than a timestamp.
 *
 *   pos  size  field
 *     0     8  physicMsgTimestamp   store time of the last record flushed in the commit log
 *     8     8  logicsMsgTimestamp   store time of the last record flushed in the consume queues
 *    16     8  indexMsgTimestamp    store time of the last record flushed in the index
 *    24     8  masterFlushedOffset  (RocketMQ HA; written as the safe offset)
 *    32     8  confirmPhyOffset     (RocketMQ controller mode; written as the safe offset)
 *    64     8  "KRMNCKPT"           marks the Karman block
 *    72     4  version = 1
 *    80     8  safePhyOffset        every record before it is flushed in the commit log, its
 *                                   consume queue and the index
 *    88     4  CRC32 of bytes 0..87
 *
 * The page is rewritten in place with one write and an fdatasync. A torn or foreign page fails the
 * CRC and is treated as "no checkpoint": recovery then checks from further back, never less.
 */
import * as fs from 'node:fs';
import { crc32 } from 'node:zlib';
import { readInt64BE, writeInt64BE } from '@karman/protocol';

export const CHECKPOINT_FILE_SIZE = 4096;
const MARK = Buffer.from('KRMNCKPT', 'latin1');
const POS_MARK = 64;
const POS_VERSION = 72;
const POS_SAFE = 80;
const POS_CRC = 88;

export interface Checkpoint {
  physicMsgTimestamp: number;
  logicsMsgTimestamp: number;
  indexMsgTimestamp: number;
  safePhyOffset: number;
}

/** Read the checkpoint; undefined when absent, torn or not Karman's. */
export function readCheckpoint(path: string): Checkpoint | undefined {
  let page: Buffer;
  try {
    page = fs.readFileSync(path);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
  if (page.length < POS_CRC + 4 || !page.subarray(POS_MARK, POS_MARK + 8).equals(MARK)) return undefined;
  if ((crc32(page.subarray(0, POS_CRC)) | 0) !== page.readInt32BE(POS_CRC) || page.readInt32BE(POS_VERSION) !== 1) return undefined;
  return {
    physicMsgTimestamp: readInt64BE(page, 0),
    logicsMsgTimestamp: readInt64BE(page, 8),
    indexMsgTimestamp: readInt64BE(page, 16),
    safePhyOffset: readInt64BE(page, POS_SAFE),
  };
}

/** Rewrite the checkpoint page and fdatasync it. */
export function writeCheckpoint(path: string, cp: Checkpoint): void {
  const page = checkpointPage(cp);
  const fd = fs.openSync(path, fs.constants.O_RDWR | fs.constants.O_CREAT);
  try {
    fs.writeSync(fd, page, 0, page.length, 0);
    fs.fdatasyncSync(fd);
  } finally {
    fs.closeSync(fd);
  }
}

/**
 * `writeCheckpoint` on the thread pool: the store checkpoints every second while serving, and an
 * fdatasync on the event-loop thread stalled every request in flight for its duration (the p99 of
 * a lightly loaded broker followed it).
 */
export async function writeCheckpointAsync(path: string, cp: Checkpoint): Promise<void> {
  const page = checkpointPage(cp);
  const file = await fs.promises.open(path, fs.constants.O_RDWR | fs.constants.O_CREAT);
  try {
    await file.write(page, 0, page.length, 0);
    await file.datasync();
  } finally {
    await file.close();
  }
}

function checkpointPage(cp: Checkpoint): Buffer {
  const page = Buffer.alloc(CHECKPOINT_FILE_SIZE);
  writeInt64BE(page, cp.physicMsgTimestamp, 0);
  writeInt64BE(page, cp.logicsMsgTimestamp, 8);
  writeInt64BE(page, cp.indexMsgTimestamp, 16);
  writeInt64BE(page, cp.safePhyOffset, 24);
  writeInt64BE(page, cp.safePhyOffset, 32);
  MARK.copy(page, POS_MARK);
  page.writeInt32BE(1, POS_VERSION);
  writeInt64BE(page, cp.safePhyOffset, POS_SAFE);
  page.writeInt32BE(crc32(page.subarray(0, POS_CRC)) | 0, POS_CRC);
  return page;
}
