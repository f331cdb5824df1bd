/**
 * Retention with an injected clock and disk probe: deletion at the deleteWhen hour,
 * at any hour above 75 % disk, regardless of age above 85 %, refused appends above 90 %, consume
 * queues and the index cleaned below the new minimum, and never a hole.
 */
import { mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { MessageStore } from '../src/message-store.js';
import { GetMessageStatus, PutMessageStatus } from '../src/message-status.js';
import type { StoreOptions } from '../src/store-config.js';

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

const HOUR = 3_600_000;
const SEGMENT = 4096;
/** 2026-01-10 10:00 local time: not the default deleteWhen hour. */
const T0 = new Date(2026, 0, 10, 10, 0, 0).getTime();

interface Harness {
  store: MessageStore;
  root: string;
  setNow(ms: number): void;
  setDisk(ratio: number): void;
}

async function harness(extra: Partial<StoreOptions> = {}): Promise<Harness> {
  const root = mkdtempSync(join(tmpdir(), 'karman-retention-'));
  dirs.push(root);
  let now = T0;
  let disk = 0.5;
  const store = await MessageStore.open({
    storePathRootDir: root,
    mappedFileSizeCommitLog: SEGMENT,
    mappedFileSizeConsumeQueue: 20 * 8,
    maxHashSlotNum: 64,
    maxIndexNum: 4,
    cleanResourceInterval: 0,
    clock: () => now,
    diskUsageProbe: () => disk,
    logger: () => undefined,
    ...extra,
  });
  return {
    store,
    root,
    setNow: (ms) => (now = ms),
    setDisk: (r) => (disk = r),
  };
}

/** Append ~1 KiB messages until `segments` more segments have been started. */
async function fill(h: Harness, segments: number, tag: string): Promise<number> {
  const target = h.store.maxPhyOffset - (h.store.maxPhyOffset % SEGMENT) + segments * SEGMENT;
  let n = 0;
  while (h.store.maxPhyOffset < target) {
    const r = await h.store.put({ topic: 'R', queueId: 0, body: Buffer.alloc(1000, 0x61), properties: { KEYS: `${tag}-${n++}` } });
    expect(r.status).toBe(PutMessageStatus.PUT_OK);
  }
  return n;
}

function segmentFiles(root: string): string[] {
  return readdirSync(join(root, 'commitlog')).sort();
}

describe('retention', () => {
  it('keeps expired segments outside the deleteWhen hour while the disk has room', async () => {
    const h = await harness();
    await using _ = h.store;
    await fill(h, 4, 'old');
    h.setNow(T0 + 80 * HOUR); // 18:00
    const r = await h.store.cleanExpiredFiles();
    expect(r.deletedFiles).toBe(0);
    expect(h.store.minPhyOffset).toBe(0);
  });

  it('deletes expired segments at the deleteWhen hour, then cleans queues and index below the new minimum', async () => {
    const h = await harness();
    await using _ = h.store;
    const old = await fill(h, 4, 'old');
    h.setNow(T0 + 60 * HOUR);
    await fill(h, 1, 'new');
    const before = segmentFiles(h.root);
    // 04:00 three days after the first writes: the first segments are past 72 h, the last not.
    h.setNow(new Date(2026, 0, 14, 4, 30).getTime());
    const r = await h.store.cleanExpiredFiles();
    expect(r.deletedFiles).toBeGreaterThanOrEqual(3);
    expect(r.reason).toMatch(/deleteWhen/);
    const after = segmentFiles(h.root);
    expect(after).toEqual(before.slice(r.deletedFiles));
    expect(h.store.minPhyOffset).toBe(Number(after[0]));
    const min = h.store.getMinOffsetInQueue('R', 0);
    expect(min).toBeGreaterThan(0);
    const tooSmall = await h.store.getMessage({ topic: 'R', queueId: 0, offset: 0, maxCount: 4 });
    expect([tooSmall.status, tooSmall.nextBeginOffset]).toEqual([GetMessageStatus.OFFSET_TOO_SMALL, min]);
    const first = await h.store.getMessage({ topic: 'R', queueId: 0, offset: min, maxCount: 1 });
    expect(first.status).toBe(GetMessageStatus.FOUND);
    expect(first.buffers[0]!.readBigInt64BE(28)).toBeGreaterThanOrEqual(BigInt(h.store.minPhyOffset));
    // Consume-queue files wholly below the minimum are gone (8 units per file here).
    const cqFiles = readdirSync(join(h.root, 'consumequeue', 'R', '0')).sort();
    expect(Number(cqFiles[0]) / 20).toBeLessThanOrEqual(min);
    expect(Number(cqFiles[0]) / 20 + 8).toBeGreaterThan(min);
    // Keys of deleted records are no longer found; recent ones are.
    expect((await h.store.queryMessage('R', 'old-0', 32, 0, Number.MAX_SAFE_INTEGER)).messages).toEqual([]);
    expect((await h.store.queryMessage('R', 'new-0', 32, 0, Number.MAX_SAFE_INTEGER)).messages).toHaveLength(1);
    expect(old).toBeGreaterThan(0);
  });

  it("forgets a deleted topic's tombstone once retention moves the log past its deletion", async () => {
    const h = await harness();
    await using _ = h.store;
    for (let i = 0; i < 3; i++) await h.store.put({ topic: 'Gone', queueId: 0, body: Buffer.alloc(1000, 0x62) });
    expect(await h.store.deleteTopic('Gone')).toBe(1);
    const tombstones = (): Record<string, number> => JSON.parse(readFileSync(join(h.root, 'deletedTopics.json'), 'utf8')) as Record<string, number>;
    expect(tombstones()).toEqual({ Gone: h.store.maxPhyOffset });
    await fill(h, 3, 'old');
    h.setNow(T0 + 60 * HOUR);
    await fill(h, 1, 'new');
    h.setNow(new Date(2026, 0, 14, 4, 30).getTime());
    const r = await h.store.cleanExpiredFiles();
    expect(r.deletedFiles).toBeGreaterThanOrEqual(1);
    expect(h.store.minPhyOffset).toBeGreaterThan(0);
    expect(tombstones()).toEqual({});
  });

  it('deletes expired segments at any hour above diskMaxUsedSpaceRatio, but only expired ones', async () => {
    const h = await harness();
    await using _ = h.store;
    await fill(h, 3, 'old');
    h.setNow(T0 + 70 * HOUR);
    await fill(h, 2, 'mid');
    h.setNow(T0 + 73 * HOUR); // 11:00
    h.setDisk(0.8);
    const r = await h.store.cleanExpiredFiles();
    expect(r.deletedFiles).toBe(3);
    expect(r.reason).toMatch(/diskMaxUsedSpaceRatio/);
  });

  it('deletes regardless of age above diskSpaceCleanForciblyRatio, never the segment being written', async () => {
    const h = await harness();
    await using _ = h.store;
    await fill(h, 3, 'x');
    h.setDisk(0.86);
    const r = await h.store.cleanExpiredFiles();
    expect(r.deletedFiles).toBe(3);
    const current = h.store.maxPhyOffset - (h.store.maxPhyOffset % SEGMENT);
    expect(h.store.minPhyOffset).toBe(current);
    expect((await h.store.put({ topic: 'R', queueId: 0, body: Buffer.from('still writing') })).status).toBe(PutMessageStatus.PUT_OK);
  });

  it('never leaves a hole: stops at the first segment that is not expired', async () => {
    const h = await harness();
    await using _ = h.store;
    await fill(h, 2, 'a'); // segments 0, 1 at T0
    h.setNow(T0 + 50 * HOUR);
    await fill(h, 1, 'b'); // segment 2 written at +50 h
    h.setNow(T0);
    await fill(h, 2, 'c'); // segments 3, 4 stamped T0 again (the clock stepped back)
    h.setNow(T0 + 100 * HOUR);
    h.setDisk(0.8);
    const r = await h.store.cleanExpiredFiles();
    // 0 and 1 expired; 2 is not (50 h + 72 h > 100 h), so 3 stays too although it is older.
    expect(r.deletedFiles).toBe(2);
    expect(h.store.minPhyOffset).toBe(2 * SEGMENT);
  });

  it('deletes at most deleteFileBatchMax segments per round', async () => {
    const h = await harness({ deleteFileBatchMax: 2 });
    await using _ = h.store;
    await fill(h, 5, 'x');
    h.setDisk(0.86);
    expect((await h.store.cleanExpiredFiles()).deletedFiles).toBe(2);
    expect((await h.store.cleanExpiredFiles()).deletedFiles).toBe(2);
  });

  it('refuses appends above diskSpaceWarningLevelRatio and accepts them again once the disk has room', async () => {
    const h = await harness();
    await using _ = h.store;
    h.setDisk(0.91);
    const r = await h.store.cleanExpiredFiles();
    expect(r.diskFull).toBe(true);
    expect(h.store.isDiskFull).toBe(true);
    const refused = await h.store.put({ topic: 'R', queueId: 0, body: Buffer.from('x') });
    expect(refused.status).toBe(PutMessageStatus.SERVICE_NOT_AVAILABLE);
    expect(refused.reason).toMatch(/disk full/);
    h.setDisk(0.5);
    await h.store.cleanExpiredFiles();
    expect((await h.store.put({ topic: 'R', queueId: 0, body: Buffer.from('x') })).status).toBe(PutMessageStatus.PUT_OK);
  });

  it('runs rounds on its own timer', async () => {
    const h = await harness({ cleanResourceInterval: 10, cleanResourceInitialDelay: 1 });
    await using _ = h.store;
    await fill(h, 3, 'x');
    h.setDisk(0.86);
    const deadline = Date.now() + 5000;
    while (h.store.minPhyOffset === 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
    expect(h.store.minPhyOffset).toBeGreaterThan(0);
  });
});
