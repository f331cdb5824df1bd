/**
 * A damaged record with valid records after it: real store files, bytes flipped while the store
 * is stopped. The damaged record is quarantined (skipped, listed, never served) and every record
 * after it stays readable; damaged consume-queue units are rebuilt from the commit log when read;
 * a scrub finds damage that recovery never re-reads.
 */
import { closeSync, mkdtempSync, openSync, readdirSync, rmSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { decodeRecord } from '@karman/protocol';
import type { MessageStore } from '../src/message-store.js';
import type { PutMessageResult } from '../src/message-store.js';
import { GetMessageStatus } from '../src/message-status.js';
import type { StoreOptions } from '../src/store-config.js';
import { flipBytes, openCollecting } from './fixtures/damage.js';

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

const CQ_FILE = 20 * 50;

async function open(root: string, extra: Partial<StoreOptions> = {}): Promise<{ store: MessageStore; warnings: string[] }> {
  return openCollecting({ storePathRootDir: root, mappedFileSizeCommitLog: 1024 * 1024, mappedFileSizeConsumeQueue: CQ_FILE, maxHashSlotNum: 64, maxIndexNum: 4096, ...extra });
}

function body(i: number): Buffer {
  return Buffer.from(`message-${i}-`.padEnd(200, 'q'));
}

/** `n` acknowledged messages on queue 0 of topic T, then a clean stop. */
async function filled(n: number, extra: Partial<StoreOptions> = {}): Promise<{ root: string; puts: PutMessageResult[] }> {
  const root = mkdtempSync(join(tmpdir(), 'karman-quarantine-'));
  dirs.push(root);
  const { store } = await open(root, extra);
  const puts: PutMessageResult[] = [];
  for (let i = 0; i < n; i++) {
    const put = await store.put({ topic: 'T', queueId: 0, body: body(i), properties: i % 2 ? { KEYS: `k${i}`, TAGS: 'odd' } : { TAGS: 'even', KEYS: `k${i}` } });
    expect(put.status).toBe('PUT_OK');
    puts.push(put);
  }
  await store.close();
  return { root, puts };
}

function flip(path: string, position: number, count = 1): void {
  flipBytes(path, position, count, 0x5a);
}

function writeAt(path: string, position: number, bytes: Buffer): void {
  const fd = openSync(path, 'r+');
  writeSync(fd, bytes, 0, bytes.length, position);
  closeSync(fd);
}

function segmentOf(root: string, offset: number, segment: number): { path: string; at: number } {
  return { path: join(root, 'commitlog', String(offset - (offset % segment)).padStart(20, '0')), at: offset % segment };
}

/** Where a body starts inside its record: 4 bytes past where this record's fixed header ends is safely inside. */
function bodyByte(put: PutMessageResult): number {
  return put.wroteOffset + put.wroteBytes - 120;
}

/** Every message readable from T/0 by queue offset: its body, checked against its CRC. */
async function readAll(store: MessageStore): Promise<Map<number, string>> {
  const out = new Map<number, string>();
  let offset = store.getMinOffsetInQueue('T', 0);
  const max = store.getMaxOffsetInQueue('T', 0);
  while (offset < max) {
    const got = await store.getMessage({ topic: 'T', queueId: 0, offset, maxCount: 32 });
    for (const [k, b] of got.buffers.entries()) {
      const d = decodeRecord(b, 0, { checkCrc: true });
      if (d.kind !== 'record') throw new Error('a blank filler was served');
      expect(d.record.queueOffset).toBe(got.queueOffsets[k]);
      out.set(got.queueOffsets[k]!, d.record.body.toString());
    }
    if (got.nextBeginOffset <= offset) throw new Error(`queue stuck at ${offset} (${got.status})`);
    offset = got.nextBeginOffset;
  }
  return out;
}

function expectAllBut(read: Map<number, string>, n: number, missing: number[]): void {
  const expected = new Map<number, string>();
  for (let i = 0; i < n; i++) if (!missing.includes(i)) expected.set(i, body(i).toString());
  expect([...read.keys()].sort((a, b) => a - b)).toEqual([...expected.keys()]);
  for (const [k, v] of expected) expect(read.get(k)).toBe(v);
}

describe('a damaged record with valid records after it', () => {
  it('is quarantined at recovery, not a reason to cut the 500 messages after it', async () => {
    const { root, puts } = await filled(1000);
    const victim = puts[500]!;
    const where = segmentOf(root, bodyByte(victim), 1024 * 1024);
    flip(where.path, where.at, 4);
    const { store, warnings } = await open(root);
    try {
      expect(store.recovery.truncated).toBeUndefined();
      expect(store.recovery.quarantined.map((q) => q.offset)).toEqual([victim.wroteOffset]);
      expect(store.recovery.quarantined[0]!.reason).toMatch(/CRC/);
      expect(warnings.join('\n')).toMatch(/quarantined/);
      expect(store.maxPhyOffset).toBe(puts.at(-1)!.wroteOffset + puts.at(-1)!.wroteBytes);
      expectAllBut(await readAll(store), 1000, [500]);
      expect(store.quarantined()).toMatchObject([{ offset: victim.wroteOffset, size: victim.wroteBytes, detectedBy: 'recovery' }]);
      expect(store.integrity.quarantinedTotal).toBe(1);
      // The key index still finds the neighbours; the damaged one is not handed out by a query either.
      expect((await store.queryMessage('T', 'k501', 32, 0, Date.now())).messages).toHaveLength(1);
      expect((await store.queryMessage('T', 'k500', 32, 0, Date.now())).messages).toHaveLength(0);
      const next = await store.put({ topic: 'T', queueId: 0, body: body(1000) });
      expect(next.queueOffset).toBe(1000);
    } finally {
      await store.close();
    }
    // The list survives a restart.
    const again = await open(root);
    try {
      expect(again.store.quarantined().map((q) => q.offset)).toEqual([victim.wroteOffset]);
      expect(again.store.integrity.quarantinedTotal).toBe(1);
    } finally {
      await again.store.close();
    }
  });

  it('is quarantined when its magic or size is damaged: the scan finds the next record', async () => {
    const { root, puts } = await filled(60);
    for (const [i, field] of [
      [20, 5],
      [40, 2],
    ] as const) {
      const where = segmentOf(root, puts[i]!.wroteOffset + field, 1024 * 1024);
      flip(where.path, where.at);
    }
    const { store } = await open(root);
    try {
      expect(store.recovery.truncated).toBeUndefined();
      expect(store.recovery.quarantined.map((q) => q.offset)).toEqual([puts[20]!.wroteOffset, puts[40]!.wroteOffset]);
      expectAllBut(await readAll(store), 60, [20, 40]);
    } finally {
      await store.close();
    }
  });

  it('in an older segment that recovery does not re-check is never served: a read quarantines it', async () => {
    const segment = 4096;
    const { root, puts } = await filled(1000, { mappedFileSizeCommitLog: segment });
    const victim = puts[100]!;
    const where = segmentOf(root, bodyByte(victim), segment);
    flip(where.path, where.at, 4);
    const { store } = await open(root, { mappedFileSizeCommitLog: segment });
    try {
      expect(store.recovery.quarantined).toEqual([]); // recovery checked only the last segments
      expectAllBut(await readAll(store), 1000, [100]);
      expect(store.quarantined()).toMatchObject([{ offset: victim.wroteOffset, detectedBy: 'read', topic: 'T', queueId: 0, queueOffset: 100 }]);
      expect(await store.readRecord(victim.wroteOffset)).toBeUndefined();
    } finally {
      await store.close();
    }
  });

  it('at the very end, with nothing valid after it, is still a torn tail and cut', async () => {
    const { root, puts } = await filled(30);
    const where = segmentOf(root, puts[29]!.wroteOffset + 5, 1024 * 1024);
    flip(where.path, where.at);
    const { store } = await open(root);
    try {
      expect(store.recovery.truncated?.at).toBe(puts[29]!.wroteOffset);
      expect(store.recovery.quarantined).toEqual([]);
      expect(store.maxPhyOffset).toBe(puts[29]!.wroteOffset);
      expectAllBut(await readAll(store), 29, []);
    } finally {
      await store.close();
    }
  });
});

describe('a damaged consume-queue unit', () => {
  function cqFile(root: string, queueOffset: number): { path: string; at: number } {
    const dir = join(root, 'consumequeue', 'T', '0');
    const base = queueOffset * 20 - ((queueOffset * 20) % CQ_FILE);
    expect(readdirSync(dir)).toContain(String(base).padStart(20, '0'));
    return { path: join(dir, String(base).padStart(20, '0')), at: (queueOffset * 20) % CQ_FILE };
  }

  // Small segments: recovery re-checks only the last three, so these units are met by reads first.
  const small = { mappedFileSizeCommitLog: 4096 };

  it('in a file recovery does not check is rebuilt from the commit log when read', async () => {
    const { root, puts } = await filled(1000, small);
    // Unit 30 (first file) now points 16 bytes into its record, as a flipped offset byte would.
    const unit = Buffer.alloc(20);
    unit.writeBigInt64BE(BigInt(puts[30]!.wroteOffset + 16), 0);
    unit.writeInt32BE(puts[30]!.wroteBytes, 8);
    const where = cqFile(root, 30);
    writeAt(where.path, where.at, unit);
    const { store, warnings } = await open(root, small);
    try {
      expect(store.recovery.repairedUnits).toBe(0);
      expectAllBut(await readAll(store), 1000, []);
      expect(warnings.join('\n')).toMatch(/unit 30 pointed at the wrong bytes; rebuilt/);
      expect(store.integrity.unitsRepaired).toBe(1);
      expect(store.quarantined()).toEqual([]);
    } finally {
      await store.close();
    }
    // The rebuilt unit was written: the next open reads it without repairing again.
    const again = await open(root, small);
    try {
      expectAllBut(await readAll(again.store), 1000, []);
      expect(again.store.integrity.unitsRepaired).toBe(0);
    } finally {
      await again.store.close();
    }
  });

  it('whose size points past the end of the log is rebuilt, and the queue never sticks', async () => {
    const { root, puts } = await filled(200, small);
    const unit = Buffer.alloc(20);
    unit.writeBigInt64BE(BigInt(puts[3]!.wroteOffset), 0);
    unit.writeInt32BE(0x7fff0000, 8);
    const where = cqFile(root, 3);
    writeAt(where.path, where.at, unit);
    const { store } = await open(root, small);
    try {
      expect(store.recovery.repairedUnits).toBe(0);
      expectAllBut(await readAll(store), 200, []);
      expect(store.integrity.unitsRepaired).toBe(1);
      const got = await store.getMessage({ topic: 'T', queueId: 0, offset: 3, maxCount: 1 });
      expect(got.status).toBe(GetMessageStatus.FOUND);
    } finally {
      await store.close();
    }
  });
});

describe('scrub', () => {
  it('finds a damaged record and a damaged unit in old files, and reports what it checked', async () => {
    const segment = 4096;
    const { root, puts } = await filled(400, { mappedFileSizeCommitLog: segment });
    const where = segmentOf(root, bodyByte(puts[7]!), segment);
    flip(where.path, where.at, 4);
    const unit = Buffer.alloc(20);
    unit.writeBigInt64BE(BigInt(puts[12]!.wroteOffset), 0);
    unit.writeInt32BE(puts[12]!.wroteBytes, 8);
    unit.writeBigInt64BE(12345n, 12); // a wrong tag code: a tag filter would skip the message
    writeAt(join(root, 'consumequeue', 'T', '0', '00000000000000000000'), 12 * 20, unit);
    const { store } = await open(root, { mappedFileSizeCommitLog: segment });
    try {
      const report = await store.scrub();
      expect(report).toMatchObject({ from: 0, to: store.maxPhyOffset, recordsChecked: 399, damaged: 1, newlyQuarantined: 1, unitsRepaired: 1, quarantinedTotal: 1 });
      expect(report.bytesChecked).toBe(store.maxPhyOffset);
      expect(report.mbPerSecond).toBeGreaterThan(0);
      expect(store.quarantined()).toMatchObject([{ offset: puts[7]!.wroteOffset, detectedBy: 'scrub' }]);
      // A second scrub finds the same damage and nothing new.
      expect(await store.scrub()).toMatchObject({ damaged: 1, newlyQuarantined: 0, unitsRepaired: 0 });
      expectAllBut(await readAll(store), 400, [7]);
    } finally {
      await store.close();
    }
  });
});
