/**
 * Damaged stores: flipped bytes in the commit log's last segment and in consume queues, torn and
 * truncated files, a garbage checkpoint. A torn tail is cut to the last valid record with a logged
 * warning; a damaged record with valid records after it is quarantined (test/quarantine.test.ts
 * has more); nothing invalid is served, and appends carry on.
 */
import { closeSync, mkdtempSync, openSync, readdirSync, rmSync, statSync, truncateSync, writeFileSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { decodeRecord, tagsCode } from '@karman/protocol';
import type { MessageStore } from '../src/message-store.js';
import { flipBytes, openCollecting } from './fixtures/damage.js';
import type { PutMessageResult } from '../src/message-store.js';
import { GetMessageStatus } from '../src/message-status.js';
import type { StoreOptions } from '../src/store-config.js';

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

const SEGMENT = 4096;

async function open(root: string, extra: Partial<StoreOptions> = {}): Promise<{ store: MessageStore; warnings: string[] }> {
  return openCollecting({ storePathRootDir: root, mappedFileSizeCommitLog: SEGMENT, mappedFileSizeConsumeQueue: 20 * 50, maxHashSlotNum: 64, maxIndexNum: 1024, ...extra });
}

function body(i: number): Buffer {
  return Buffer.from(`corruption-${i}-`.padEnd(300, 'z'));
}

/** A store with `n` messages on queue 0 of topic T, closed cleanly. */
async function filled(n: number): Promise<{ root: string; puts: PutMessageResult[] }> {
  const root = mkdtempSync(join(tmpdir(), 'karman-corrupt-'));
  dirs.push(root);
  const { store } = await open(root);
  const puts: PutMessageResult[] = [];
  for (let i = 0; i < n; i++) puts.push(await store.put({ topic: 'T', queueId: 0, body: body(i), properties: { TAGS: i % 2 ? 'odd' : 'even' } }));
  await store.close();
  return { root, puts };
}

function flipByte(path: string, position: number): void {
  flipBytes(path, position);
}

function segmentPath(root: string, offset: number): string {
  return join(root, 'commitlog', String(offset - (offset % SEGMENT)).padStart(20, '0'));
}

/** Every body readable from queue 0, in order, each checked with its CRC. */
async function readAll(store: MessageStore): Promise<string[]> {
  const out: string[] = [];
  let offset = store.getMinOffsetInQueue('T', 0);
  for (;;) {
    const got = await store.getMessage({ topic: 'T', queueId: 0, offset, maxCount: 32 });
    if (got.status !== GetMessageStatus.FOUND) break;
    for (const b of got.buffers) {
      const d = decodeRecord(b, 0, { checkCrc: true });
      if (d.kind !== 'record') throw new Error('blank served');
      out.push(d.record.body.toString());
    }
    offset = got.nextBeginOffset;
  }
  return out;
}

describe('a flipped byte in the last commit-log segment', () => {
  it('quarantines the damaged record and keeps the records after it', async () => {
    const { root, puts } = await filled(30);
    const victim = puts[27]!;
    flipByte(segmentPath(root, victim.wroteOffset), (victim.wroteOffset % SEGMENT) + victim.wroteBytes - 40); // inside the body
    const { store, warnings } = await open(root);
    try {
      expect(store.recovery.truncated).toBeUndefined();
      expect(store.recovery.quarantined).toMatchObject([{ offset: victim.wroteOffset, size: victim.wroteBytes }]);
      expect(store.recovery.quarantined[0]!.reason).toMatch(/CRC/);
      expect(warnings.join('\n')).toMatch(/quarantined/);
      expect(await readAll(store)).toEqual(puts.map((_, i) => body(i).toString()).filter((_, i) => i !== 27));
      expect(store.getMaxOffsetInQueue('T', 0)).toBe(30);
      // Appends carry on after the last record.
      const next = await store.put({ topic: 'T', queueId: 0, body: body(99) });
      expect(next.queueOffset).toBe(30);
      expect((await readAll(store)).at(-1)).toBe(body(99).toString());
    } finally {
      await store.close();
    }
  });

  it('treats a flipped size or magic of the last record like a torn record', async () => {
    const { root, puts } = await filled(20);
    const victim = puts[19]!;
    flipByte(segmentPath(root, victim.wroteOffset), (victim.wroteOffset % SEGMENT) + 5); // MAGICCODE
    const { store } = await open(root);
    try {
      expect(store.recovery.truncated?.reason).toMatch(/magic/);
      expect(await readAll(store)).toHaveLength(19);
    } finally {
      await store.close();
    }
  });
});

describe('a torn or truncated tail', () => {
  it('drops half-written bytes after the last record after a crash', async () => {
    const { root, puts } = await filled(12);
    const last = puts.at(-1)!;
    const end = last.wroteOffset + last.wroteBytes;
    // A record whose header made it to disk but whose body did not, then a crash (abort file left).
    const fd = openSync(segmentPath(root, end), 'r+');
    const torn = Buffer.alloc(120, 0x5a);
    torn.writeInt32BE(400, 0);
    torn.writeInt32BE(0xdaa320a7 | 0, 4);
    writeSync(fd, torn, 0, torn.length, end % SEGMENT);
    closeSync(fd);
    writeFileSync(join(root, 'abort'), '1');
    const { store, warnings } = await open(root);
    try {
      expect(store.recovery.abnormal).toBe(true);
      expect(store.recovery.truncated?.at).toBe(end);
      expect(warnings.some((w) => w.includes(`offset ${end}`))).toBe(true);
      expect(await readAll(store)).toHaveLength(12);
      expect(await store.readRecord(end)).toBeUndefined();
    } finally {
      await store.close();
    }
  });

  it('regrows a truncated last segment and drops what was cut, with a warning', async () => {
    const { root, puts } = await filled(30);
    const lastSeg = readdirSync(join(root, 'commitlog')).sort().filter((n) => statSync(join(root, 'commitlog', n)).size > 0);
    // Cut the segment holding the last message in the middle of that message.
    const last = puts.at(-1)!;
    const path = segmentPath(root, last.wroteOffset);
    expect(lastSeg).toContain(path.slice(-20));
    // Later (preallocated) segment files would make the cut one not the last: remove them.
    for (const n of lastSeg) if (n > path.slice(-20)) rmSync(join(root, 'commitlog', n));
    truncateSync(path, (last.wroteOffset % SEGMENT) + 50);
    const { store, warnings } = await open(root);
    try {
      expect(warnings.join('\n')).toMatch(/truncated to/);
      expect(await readAll(store)).toHaveLength(29);
      expect(store.maxPhyOffset).toBe(last.wroteOffset);
    } finally {
      await store.close();
    }
  });

  it('ignores a garbage checkpoint and checks from the start', async () => {
    const { root } = await filled(15);
    writeFileSync(join(root, 'checkpoint'), Buffer.alloc(4096, 0x77));
    writeFileSync(join(root, 'abort'), '1');
    const { store } = await open(root);
    try {
      expect(store.recovery.checkpoint).toBeUndefined();
      expect(store.recovery.scannedFrom).toBe(0);
      expect(await readAll(store)).toHaveLength(15);
    } finally {
      await store.close();
    }
  });
});

describe('a flipped byte in a consume queue', () => {
  function cqPath(root: string): string {
    const dir = join(root, 'consumequeue', 'T', '0');
    return join(dir, readdirSync(dir).sort()[0]!);
  }

  it('rebuilds a unit whose size was damaged from the commit log', async () => {
    const { root, puts } = await filled(10);
    flipByte(cqPath(root), 9 * 20 + 8); // size of the last unit
    const { store, warnings } = await open(root);
    try {
      expect(warnings.join('\n')).toMatch(/consume queue T\/0/);
      expect(await readAll(store)).toEqual(puts.map((_, i) => body(i).toString()));
      expect(store.getMaxOffsetInQueue('T', 0)).toBe(10);
    } finally {
      await store.close();
    }
  });

  it('repairs a unit whose commit-log offset was damaged', async () => {
    const { root, puts } = await filled(10);
    flipByte(cqPath(root), 4 * 20 + 7); // low byte of unit 4's commit-log offset
    const { store } = await open(root);
    try {
      expect(await readAll(store)).toEqual(puts.map((_, i) => body(i).toString()));
    } finally {
      await store.close();
    }
  });

  it('repairs a unit whose tag code was damaged, so tag filtering stays right', async () => {
    const { root } = await filled(10);
    flipByte(cqPath(root), 6 * 20 + 19); // low byte of unit 6's tag code
    const { store } = await open(root);
    try {
      expect(store.recovery.repairedUnits).toBe(1);
      const even = await store.getMessage({ topic: 'T', queueId: 0, offset: 0, maxCount: 32, tagsCodes: new Set([tagsCode('even')]) });
      expect(even.queueOffsets).toEqual([0, 2, 4, 6, 8]);
    } finally {
      await store.close();
    }
  });

  it('drops units pointing past the end of the commit log', async () => {
    const { root, puts } = await filled(10);
    // Lose the commit log's last two records, as a power cut before their flush would.
    const keepTo = puts[8]!.wroteOffset;
    const path = segmentPath(root, keepTo);
    for (const n of readdirSync(join(root, 'commitlog'))) if (join(root, 'commitlog', n) > path) rmSync(join(root, 'commitlog', n));
    truncateSync(path, keepTo % SEGMENT);
    const { store, warnings } = await open(root);
    try {
      expect(store.recovery.droppedUnits).toBe(2);
      expect(warnings.join('\n')).toMatch(/dropped 2 unit/);
      expect(store.getMaxOffsetInQueue('T', 0)).toBe(8);
      expect(await readAll(store)).toHaveLength(8);
      expect((await store.getMessage({ topic: 'T', queueId: 0, offset: 8, maxCount: 1 })).status).toBe(GetMessageStatus.OFFSET_OVERFLOW_ONE);
    } finally {
      await store.close();
    }
  });

  it('rebuilds a whole consume queue that was deleted', async () => {
    const { root, puts } = await filled(10);
    rmSync(join(root, 'consumequeue'), { recursive: true });
    rmSync(join(root, 'checkpoint'));
    const { store } = await open(root);
    try {
      expect(await readAll(store)).toEqual(puts.map((_, i) => body(i).toString()));
    } finally {
      await store.close();
    }
  });
});
