import { mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir, totalmem } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { MessageProperty, decodeRecord, decodeRecords, tagsCode } from '@karman/protocol';
import { MessageStore, inMemoryWindowBytes } from './message-store.js';
import { GetMessageStatus, PutMessageStatus } from './message-status.js';
import type { StoreOptions } from './store-config.js';

const dirs: string[] = [];
function tempDir(): string {
  const d = mkdtempSync(join(tmpdir(), 'karman-store-'));
  dirs.push(d);
  return d;
}
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

const quiet = { logger: () => undefined, cleanResourceInterval: 0 } as const;

async function open(root: string, extra: Partial<StoreOptions> = {}): Promise<MessageStore> {
  return MessageStore.open({ storePathRootDir: root, mappedFileSizeCommitLog: 4096, mappedFileSizeConsumeQueue: 200, ...quiet, ...extra });
}

function body(n: number, size = 40): Buffer {
  return Buffer.from(`message-${n}-`.padEnd(size, 'x'));
}

describe('MessageStore append and read', () => {
  it('assigns dense queue offsets per queue and growing physical offsets', async () => {
    await using store = await open(tempDir());
    const a0 = await store.put({ topic: 'T', queueId: 0, body: body(0) });
    const b0 = await store.put({ topic: 'T', queueId: 1, body: body(1) });
    const a1 = await store.put({ topic: 'T', queueId: 0, body: body(2) });
    expect([a0.status, b0.status, a1.status]).toEqual(['PUT_OK', 'PUT_OK', 'PUT_OK']);
    expect([a0.queueOffset, b0.queueOffset, a1.queueOffset]).toEqual([0, 0, 1]);
    expect(b0.wroteOffset).toBe(a0.wroteOffset + a0.wroteBytes);
    expect(a1.wroteOffset).toBe(b0.wroteOffset + b0.wroteBytes);
    expect(a0.msgIds[0]).toMatch(/^[0-9A-F]{32}$/);
    expect(store.getMaxOffsetInQueue('T', 0)).toBe(2);
  });

  it('returns the stored bytes, decodable, with the fields the store assigned', async () => {
    await using store = await open(tempDir());
    const r = await store.put({ topic: 'T', queueId: 3, body: body(7), properties: { [MessageProperty.TAGS]: 'red', [MessageProperty.KEYS]: 'k1 k2' } });
    const got = await store.getMessage({ topic: 'T', queueId: 3, offset: 0, maxCount: 10 });
    expect(got.status).toBe(GetMessageStatus.FOUND);
    expect(got.nextBeginOffset).toBe(1);
    const [rec] = decodeRecords(Buffer.concat(got.buffers), { checkCrc: true });
    expect(rec!.body.toString()).toBe(body(7).toString());
    expect(rec!.queueOffset).toBe(0);
    expect(rec!.physicalOffset).toBe(r.wroteOffset);
    expect(rec!.storeTimestamp).toBe(r.storeTimestamp);
    expect(rec!.properties[MessageProperty.TAGS]).toBe('red');
    const one = await store.readRecord(r.wroteOffset);
    expect(one!.buffer.equals(got.buffers[0]!)).toBe(true);
    expect(await store.readRecord(r.wroteOffset + 1)).toBeUndefined();
  });

  it('rolls to the next segment behind a blank filler, and reads across segments', async () => {
    const root = tempDir();
    await using store = await open(root);
    const results = [];
    for (let i = 0; i < 60; i++) results.push(await store.put({ topic: 'T', queueId: 0, body: body(i, 200) }));
    const files = readdirSync(join(root, 'commitlog'));
    expect(files.length).toBeGreaterThan(3);
    expect(files[1]).toBe('00000000000000004096');
    for (const r of results) expect(Math.floor(r.wroteOffset / 4096)).toBe(Math.floor((r.wroteOffset + r.wroteBytes - 1) / 4096));
    // The first segment ends in a blank filler.
    const first = results.filter((r) => r.wroteOffset < 4096).at(-1)!;
    const seg = await store.readRecord(first.wroteOffset);
    expect(seg).toBeDefined();
    let offset = 0;
    const seen: string[] = [];
    for (;;) {
      const got = await store.getMessage({ topic: 'T', queueId: 0, offset, maxCount: 7 });
      if (got.status !== GetMessageStatus.FOUND) break;
      for (const b of got.buffers) seen.push(decodeRecords(b)[0]!.body.toString());
      offset = got.nextBeginOffset;
    }
    expect(seen).toEqual(results.map((_, i) => body(i, 200).toString()));
  });

  it('stores a batch as consecutive records with consecutive queue offsets', async () => {
    await using store = await open(tempDir());
    await store.put({ topic: 'B', queueId: 0, body: body(0) });
    const r = await store.putBatch([0, 1, 2].map((i) => ({ topic: 'B', queueId: 0, body: body(10 + i) })));
    expect(r.status).toBe('PUT_OK');
    expect(r.msgNum).toBe(3);
    expect(r.queueOffset).toBe(1);
    expect(r.msgIds).toHaveLength(3);
    const got = await store.getMessage({ topic: 'B', queueId: 0, offset: 1, maxCount: 10 });
    expect(got.queueOffsets).toEqual([1, 2, 3]);
    expect(got.buffers.map((b) => decodeRecords(b)[0]!.body.toString())).toEqual([10, 11, 12].map((i) => body(i).toString()));
  });

  it('writes appends made in the same turn together and acknowledges each after the write', async () => {
    await using store = await open(tempDir(), { mappedFileSizeCommitLog: 1024 * 1024 });
    const puts = Array.from({ length: 200 }, (_, i) => store.put({ topic: 'T', queueId: i % 4, body: body(i) }));
    const results = await Promise.all(puts);
    expect(results.every((r) => r.status === 'PUT_OK')).toBe(true);
    for (let q = 0; q < 4; q++) {
      expect(results.filter((_, i) => i % 4 === q).map((r) => r.queueOffset)).toEqual(Array.from({ length: 50 }, (_, i) => i));
    }
    const ts = results.map((r) => r.storeTimestamp);
    expect([...ts].sort((a, b) => a - b)).toEqual(ts);
  });

  it('filters by tag code, counting skipped units in nextBeginOffset', async () => {
    await using store = await open(tempDir());
    const tags = ['a', 'b', 'a', 'c', 'b'];
    for (const [i, t] of tags.entries()) await store.put({ topic: 'F', queueId: 0, body: body(i), properties: { TAGS: t } });
    const got = await store.getMessage({ topic: 'F', queueId: 0, offset: 0, maxCount: 10, tagsCodes: new Set([tagsCode('b')]) });
    expect(got.status).toBe(GetMessageStatus.FOUND);
    expect(got.queueOffsets).toEqual([1, 4]);
    expect(got.nextBeginOffset).toBe(5);
    const none = await store.getMessage({ topic: 'F', queueId: 0, offset: 0, maxCount: 10, tagsCodes: new Set([tagsCode('zzz')]) });
    expect(none.status).toBe(GetMessageStatus.NO_MATCHED_MESSAGE);
    expect(none.nextBeginOffset).toBe(5);
  });

  it('respects maxCount and maxBytes but always returns at least one message', async () => {
    await using store = await open(tempDir());
    for (let i = 0; i < 5; i++) await store.put({ topic: 'M', queueId: 0, body: body(i, 100) });
    const two = await store.getMessage({ topic: 'M', queueId: 0, offset: 0, maxCount: 2 });
    expect(two.queueOffsets).toEqual([0, 1]);
    expect(two.nextBeginOffset).toBe(2);
    const small = await store.getMessage({ topic: 'M', queueId: 0, offset: 1, maxCount: 10, maxBytes: 1 });
    expect(small.queueOffsets).toEqual([1]);
    expect(small.nextBeginOffset).toBe(2);
  });

  it('answers the read statuses RocketMQ answers', async () => {
    await using store = await open(tempDir());
    expect((await store.getMessage({ topic: 'none', queueId: 0, offset: 0, maxCount: 1 })).status).toBe(GetMessageStatus.NO_MATCHED_LOGIC_QUEUE);
    for (let i = 0; i < 3; i++) await store.put({ topic: 'S', queueId: 0, body: body(i) });
    const one = await store.getMessage({ topic: 'S', queueId: 0, offset: 3, maxCount: 1 });
    expect([one.status, one.nextBeginOffset, one.minOffset, one.maxOffset]).toEqual([GetMessageStatus.OFFSET_OVERFLOW_ONE, 3, 0, 3]);
    const badly = await store.getMessage({ topic: 'S', queueId: 0, offset: 9, maxCount: 1 });
    expect([badly.status, badly.nextBeginOffset]).toEqual([GetMessageStatus.OFFSET_OVERFLOW_BADLY, 0]);
  });

  it('finds a queue offset by store time', async () => {
    let now = 1_000_000;
    await using store = await open(tempDir(), { clock: () => now });
    for (let i = 0; i < 10; i++) {
      now = 1_000_000 + i * 1000;
      await store.put({ topic: 'Q', queueId: 0, body: body(i) });
    }
    expect(await store.getOffsetInQueueByTime('Q', 0, 0)).toBe(0);
    expect(await store.getOffsetInQueueByTime('Q', 0, 1_003_000)).toBe(3);
    expect(await store.getOffsetInQueueByTime('Q', 0, 1_003_500)).toBe(4);
    expect(await store.getOffsetInQueueByTime('Q', 0, 9_000_000)).toBe(10);
    expect(await store.getOffsetInQueueByTime('nope', 0, 0)).toBe(0);
  });

  it('keeps the store timestamp monotonic when the clock steps back', async () => {
    let now = 5000;
    await using store = await open(tempDir(), { clock: () => now });
    const a = await store.put({ topic: 'C', queueId: 0, body: body(0) });
    now = 1000;
    const b = await store.put({ topic: 'C', queueId: 0, body: body(1) });
    expect(b.storeTimestamp).toBeGreaterThanOrEqual(a.storeTimestamp);
  });

  it('tells long polls about each arrival once it is readable', async () => {
    await using store = await open(tempDir());
    const seen: [string, number, number, number][] = [];
    const reads: string[] = [];
    store.onMessageArrival((topic, queueId, offset, code) => {
      seen.push([topic, queueId, offset, code]);
      reads.push(store.getMaxOffsetInQueue(topic, queueId) > offset ? 'readable' : 'not yet');
    });
    await store.put({ topic: 'L', queueId: 2, body: body(0), properties: { TAGS: 'x' } });
    await store.put({ topic: 'L', queueId: 2, body: body(1) });
    expect(seen).toEqual([
      ['L', 2, 0, tagsCode('x')],
      ['L', 2, 1, 0],
    ]);
    expect(reads).toEqual(['readable', 'readable']);
  });

  it('queries by key and unique key, re-checking the real key', async () => {
    await using store = await open(tempDir(), { maxHashSlotNum: 1, maxIndexNum: 100 });
    await store.put({ topic: 'K', queueId: 0, body: body(0), properties: { KEYS: 'order-1 shared', [MessageProperty.UNIQ_KEY]: 'U1' } });
    await store.put({ topic: 'K', queueId: 0, body: body(1), properties: { KEYS: 'order-2 shared' } });
    await store.put({ topic: 'Other', queueId: 0, body: body(2), properties: { KEYS: 'order-1' } });
    const one = await store.queryMessage('K', 'order-1', 32, 0, Number.MAX_SAFE_INTEGER);
    expect(one.messages.map((m) => m.record.body.toString())).toEqual([body(0).toString()]);
    const shared = await store.queryMessage('K', 'shared', 32, 0, Number.MAX_SAFE_INTEGER);
    expect(shared.messages).toHaveLength(2);
    const uniq = await store.queryMessage('K', 'U1', 32, 0, Number.MAX_SAFE_INTEGER);
    expect(uniq.messages).toHaveLength(1);
    expect((await store.queryMessage('K', 'missing', 32, 0, Number.MAX_SAFE_INTEGER)).messages).toEqual([]);
  });
});

describe('MessageStore bad input', () => {
  it('answers statuses, not exceptions, for messages it cannot store', async () => {
    await using store = await open(tempDir(), { maxMessageSize: 1000, mappedFileSizeCommitLog: 64 * 1024 });
    const big = await store.put({ topic: 'T', queueId: 0, body: Buffer.alloc(1001) });
    expect(big.status).toBe(PutMessageStatus.MESSAGE_ILLEGAL);
    expect(big.reason).toMatch(/maxMessageSize 1000/);
    const props = await store.put({ topic: 'T', queueId: 0, body: body(0), properties: { big: 'x'.repeat(40_000) } });
    expect(props.status).toBe(PutMessageStatus.PROPERTIES_SIZE_EXCEEDED);
    expect((await store.put({ topic: 'T'.repeat(256), queueId: 0, body: body(0) })).status).toBe(PutMessageStatus.MESSAGE_ILLEGAL);
    expect((await store.put({ topic: '../etc', queueId: 0, body: body(0) })).status).toBe(PutMessageStatus.MESSAGE_ILLEGAL);
    expect((await store.put({ topic: '', queueId: 0, body: body(0) })).status).toBe(PutMessageStatus.MESSAGE_ILLEGAL);
    for (const queueId of [-1, 1.5, Number.NaN, 1e12]) {
      const r = await store.put({ topic: 'T', queueId, body: body(0) });
      expect(r.status).toBe(PutMessageStatus.MESSAGE_ILLEGAL);
      expect(r.reason).toMatch(/queue id/);
    }
    const mixed = await store.putBatch([
      { topic: 'T', queueId: 0, body: body(0) },
      { topic: 'T', queueId: 1, body: body(1) },
    ]);
    expect(mixed.status).toBe(PutMessageStatus.MESSAGE_ILLEGAL);
    // Nothing was stored by the refused calls.
    expect(store.getMaxOffsetInQueue('T', 0)).toBe(0);
    expect((await store.put({ topic: 'T', queueId: 0, body: body(0) })).queueOffset).toBe(0);
  });

  it('rejects malformed read requests with an error naming the field', async () => {
    await using store = await open(tempDir());
    await expect(store.getMessage({ topic: 'T', queueId: 0, offset: -1, maxCount: 1 })).rejects.toThrow(/offset -1/);
    await expect(store.getMessage({ topic: 'T', queueId: 0, offset: 0, maxCount: Number.NaN })).rejects.toThrow(/maxCount/);
    await expect(store.getMessage({ topic: 'T', queueId: -2, offset: 0, maxCount: 1 })).rejects.toThrow(/queueId/);
  });

  it('refuses a record bigger than a segment with MESSAGE_ILLEGAL', async () => {
    await using store = await open(tempDir());
    const r = await store.put({ topic: 'T', queueId: 0, body: Buffer.alloc(5000) });
    expect(r.status).toBe(PutMessageStatus.MESSAGE_ILLEGAL);
    expect(r.reason).toMatch(/segment/);
  });

  it('rejects bad options with an error naming the option', async () => {
    await expect(MessageStore.open({ storePathRootDir: tempDir(), mappedFileSizeConsumeQueue: 30, ...quiet })).rejects.toThrow(/mappedFileSizeConsumeQueue/);
    await expect(MessageStore.open({ storePathRootDir: tempDir(), flushDiskType: 'SOMETIMES' as 'SYNC_FLUSH', ...quiet })).rejects.toThrow(/flushDiskType/);
  });

  it('answers SERVICE_NOT_AVAILABLE after close and throws STORE_CLOSED on reads', async () => {
    const store = await open(tempDir());
    await store.close();
    expect((await store.put({ topic: 'T', queueId: 0, body: body(0) })).status).toBe(PutMessageStatus.SERVICE_NOT_AVAILABLE);
    await expect(store.getMessage({ topic: 'T', queueId: 0, offset: 0, maxCount: 1 })).rejects.toMatchObject({ code: 'STORE_CLOSED' });
  });

  it('refuses a second open of the same folder while the first is open', async () => {
    const root = tempDir();
    const store = await open(root);
    await expect(open(root)).rejects.toMatchObject({ code: 'STORE_LOCKED' });
    await store.close();
    const again = await open(root);
    await again.close();
  });

  it('refuses a folder that is not a store with a clear error', async () => {
    const root = tempDir();
    const store = await open(root);
    await store.close();
    writeFileSync(join(root, 'commitlog', 'notes.txt'), 'hello');
    await expect(open(root)).rejects.toThrow(/not a 20-digit segment name/);
    rmSync(join(root, 'commitlog', 'notes.txt'));
    writeFileSync(join(root, 'commitlog', '00000000000000000000'), Buffer.alloc(4096, 0x41));
    await expect(open(root)).rejects.toThrow(/does not start with a record/);
    // The failed opens released the lock.
    rmSync(join(root, 'commitlog'), { recursive: true });
    const ok = await open(root);
    await ok.close();
  });
});

describe('MessageStore restart', () => {
  it('reopens after a clean close with every message and offset intact', async () => {
    const root = tempDir();
    const first = await open(root);
    for (let i = 0; i < 30; i++) await first.put({ topic: 'R', queueId: i % 2, body: body(i, 150), properties: { KEYS: `k${i}` } });
    await first.close();
    await using second = await open(root);
    expect(second.recovery.abnormal).toBe(false);
    expect(second.getMaxOffsetInQueue('R', 0)).toBe(15);
    const next = await second.put({ topic: 'R', queueId: 0, body: body(99) });
    expect(next.queueOffset).toBe(15);
    // One read stops at the end of a consume-queue file (10 units here), as RocketMQ's does.
    const got = await second.getMessage({ topic: 'R', queueId: 1, offset: 0, maxCount: 100 });
    expect(got.queueOffsets).toEqual(Array.from({ length: 10 }, (_, i) => i));
    const rest = await second.getMessage({ topic: 'R', queueId: 1, offset: got.nextBeginOffset, maxCount: 100 });
    expect(rest.queueOffsets).toEqual([10, 11, 12, 13, 14]);
    expect([...got.buffers, ...rest.buffers].map((b) => decodeRecord(b, 0, { checkCrc: true }).kind)).toEqual(Array(15).fill('record'));
    expect((await second.queryMessage('R', 'k7', 32, 0, Number.MAX_SAFE_INTEGER)).messages).toHaveLength(1);
  });
});

describe('MessageStore read cache', () => {
  it('serves a record written after its block was first read (the cached block was cut short)', async () => {
    await using store = await open(tempDir(), { mappedFileSizeCommitLog: 1024 * 1024 });
    await store.put({ topic: 'T', queueId: 0, body: body(0) });
    const first = await store.getMessage({ topic: 'T', queueId: 0, offset: 0, maxCount: 10 });
    expect(first.buffers).toHaveLength(1);
    await store.put({ topic: 'T', queueId: 0, body: body(1) });
    const second = await store.getMessage({ topic: 'T', queueId: 0, offset: 1, maxCount: 10 });
    expect(second.status).toBe(GetMessageStatus.FOUND);
    expect(decodeRecord(second.buffers[0]!, 0, { checkCrc: true })).toMatchObject({ kind: 'record', record: { queueOffset: 1 } });
  });

  it('reads the same bytes with the cache on, tiny or off, or as old data, across 256 KiB block boundaries and interleaved queues', async () => {
    const root = tempDir();
    const written: Buffer[][] = [[], [], []];
    {
      await using store = await open(root, { mappedFileSizeCommitLog: 4 * 1024 * 1024 });
      // Odd body sizes so records straddle block boundaries; three queues interleaved.
      for (let i = 0; i < 900; i++) {
        const r = await store.put({ topic: 'T', queueId: i % 3, body: body(i, 500 + ((i * 37) % 1500)) });
        expect(r.status).toBe(PutMessageStatus.PUT_OK);
        written[i % 3]!.push((await store.readRecord(r.wroteOffset))!.buffer);
      }
    }
    // The last case reads everything as old data: on the thread pool, a pread per stretch of records.
    for (const [readCacheBytes, accessMessageInMemoryMaxRatio] of [[64 * 1024 * 1024, 40], [256 * 1024, 40], [0, 40], [64 * 1024 * 1024, 0]] as const) {
      await using store = await open(root, { mappedFileSizeCommitLog: 4 * 1024 * 1024, readCacheBytes, accessMessageInMemoryMaxRatio });
      const offsets = [0, 0, 0];
      const got: Buffer[][] = [[], [], []];
      for (let live = 3; live > 0; ) {
        live = 0;
        for (let q = 0; q < 3; q++) {
          const r = await store.getMessage({ topic: 'T', queueId: q, offset: offsets[q]!, maxCount: 7 });
          if (r.status !== GetMessageStatus.FOUND) continue;
          live++;
          got[q]!.push(...r.buffers);
          offsets[q] = r.nextBeginOffset;
        }
      }
      for (let q = 0; q < 3; q++) {
        expect(got[q]!.length, `queue ${q}, readCacheBytes ${readCacheBytes}, ratio ${accessMessageInMemoryMaxRatio}`).toBe(300);
        expect(got[q]!.every((b, i) => b.equals(written[q]![i]!)), `queue ${q}, readCacheBytes ${readCacheBytes}, ratio ${accessMessageInMemoryMaxRatio}`).toBe(true);
      }
    }
  });
});

describe('MessageStore.deleteTopic', () => {
  it("deletes the topic's queues and folder, keeps other topics (even one whose name it prefixes), and stays deleted after a restart", async () => {
    const root = tempDir();
    {
      await using store = await open(root);
      for (let i = 0; i < 6; i++) {
        await store.put({ topic: 'A', queueId: i % 2, body: body(i) });
        await store.put({ topic: 'A-B', queueId: i % 2, body: body(i) });
      }
      expect(await store.deleteTopic('A')).toBe(2);
      expect(readdirSync(join(root, 'consumequeue')).sort()).toEqual(['A-B']);
      expect(store.getMaxOffsetInQueue('A', 0)).toBe(0);
      expect((await store.getMessage({ topic: 'A', queueId: 0, offset: 0, maxCount: 10 })).status).toBe(GetMessageStatus.NO_MATCHED_LOGIC_QUEUE);
      expect(store.getMaxOffsetInQueue('A-B', 1)).toBe(3);
      expect(await store.deleteTopic('Missing')).toBe(0);
      // Appending again starts the topic afresh.
      expect((await store.put({ topic: 'A', queueId: 0, body: body(9) })).queueOffset).toBe(0);
      expect(await store.deleteTopic('A')).toBe(1);
    }
    // A restart re-checks the recent segments (RocketMQ 4.x's clean-stop recovery): the deleted
    // topic's records there must not rebuild its queues.
    {
      await using store = await open(root);
      expect(store.getMaxOffsetInQueue('A', 0)).toBe(0);
      expect(store.getMaxOffsetInQueue('A-B', 0)).toBe(3);
    }
  });

  it('refuses to open with an unreadable deletedTopics.json, naming the file and what to do', async () => {
    const root = tempDir();
    {
      await using store = await open(root);
      await store.put({ topic: 'A', queueId: 0, body: body(0) });
      await store.deleteTopic('A');
    }
    writeFileSync(join(root, 'deletedTopics.json'), '{"A": 12');
    await expect(open(root)).rejects.toThrow(/deletedTopics\.json is not JSON .*restore it, or delete it/);
    writeFileSync(join(root, 'deletedTopics.json'), '[1, 2]');
    await expect(open(root)).rejects.toThrow(/must hold an object of topic → offset/);
  });
});

describe('the in-memory window (accessMessageInMemoryMaxRatio)', () => {
  it('counts 40 % of physicalMemoryBytes behind the log end as in memory, and the machine\'s RAM when physicalMemoryBytes is 0', () => {
    expect(inMemoryWindowBytes(40, 10_000)).toBe(4_000);
    expect(inMemoryWindowBytes(40, 999)).toBe(399);
    expect(inMemoryWindowBytes(0, 10_000)).toBe(0);
    expect(inMemoryWindowBytes(100, 10_000)).toBe(10_000);
    expect(inMemoryWindowBytes(40, 0)).toBe(Math.floor((totalmem() * 40) / 100));
  });

  it('judges an offset through that one window, and a ratio changed at run time moves it', async () => {
    await using store = await open(tempDir(), { physicalMemoryBytes: 1000, accessMessageInMemoryMaxRatio: 40 });
    for (let i = 0; i < 12; i++) await store.put({ topic: 'T', queueId: 0, body: body(i, 200) });
    const end = store.maxPhyOffset;
    expect(end).toBeGreaterThan(2000);
    expect([store.isInMemory(end - 400), store.isInMemory(end - 401)]).toEqual([true, false]);
    store.setAccessMessageInMemoryMaxRatio(10);
    expect([store.isInMemory(end - 100), store.isInMemory(end - 101)]).toEqual([true, false]);
  });
});
