import { mkdtemp, readdir, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { InvalidArgumentError, KarmanError } from '@karman/protocol';
import fc from 'fast-check';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { indexFileName, indexFileSize, indexKeyHash } from './index-file.js';
import { IndexService, INDEX_QUERY_MAX_NUM } from './index-service.js';
import type { DispatchRequest } from './dispatcher.js';
import type { IndexServiceOptions } from './index-service.js';

const T0 = 1_700_000_000_000;
const ALL = [0, Number.MAX_SAFE_INTEGER] as const;

let dir: string;
let open: IndexService[] = [];
let warnings: string[] = [];
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'karman-index-'));
  warnings = [];
});
afterEach(async () => {
  for (const s of open) await s.close();
  open = [];
  await rm(dir, { recursive: true, force: true });
});

async function start(options: Partial<IndexServiceOptions> = {}): Promise<IndexService> {
  const service = new IndexService({
    dir,
    maxHashSlotNum: 64,
    maxIndexNum: 1000,
    clock: () => T0,
    logger: (level, message) => warnings.push(`${level}: ${message}`),
    ...options,
  });
  open.push(service);
  await service.load();
  return service;
}

async function restart(service: IndexService, options: Partial<IndexServiceOptions> = {}): Promise<IndexService> {
  await service.close();
  open = open.filter((s) => s !== service);
  return start(options);
}

function record(commitLogOffset: number, storeTimestamp: number, fields: Partial<DispatchRequest> = {}): DispatchRequest {
  return {
    topic: 'orders',
    queueId: 0,
    commitLogOffset,
    msgSize: 100,
    tagsCode: 0,
    storeTimestamp,
    consumeQueueOffset: 0,
    sysFlag: 0,
    preparedTransactionOffset: 0,
    ...fields,
  };
}

async function offsets(service: IndexService, key: string, maxNum = 64, begin: number = ALL[0], end: number = ALL[1], topic = 'orders'): Promise<number[]> {
  return (await service.queryOffsets(topic, key, maxNum, begin, end)).phyOffsets;
}

describe('IndexService dispatch and query', () => {
  it('indexes topic#uniqKey and each space-separated key, answering newest first', async () => {
    const index = await start();
    index.dispatch(record(0, T0, { uniqKey: 'U1', keys: 'order-1 customer-7' }));
    index.dispatch(record(100, T0 + 1000, { uniqKey: 'U2', keys: 'order-2  customer-7' })); // double space: no empty key
    index.dispatch(record(200, T0 + 2000, { uniqKey: 'U3', keys: 'customer-7' }));
    expect(await offsets(index, 'U2')).toEqual([100]);
    expect(await offsets(index, 'order-1')).toEqual([0]);
    expect(await offsets(index, 'customer-7')).toEqual([200, 100, 0]);
    expect(await offsets(index, 'customer-7', 64, ALL[0], ALL[1], 'payments')).toEqual([]); // keys are per topic
    expect(await offsets(index, '')).toEqual([]);
    const result = await index.queryOffsets('orders', 'U1', 32, ...ALL);
    expect(result.indexLastUpdatePhyoffset).toBe(200);
    expect(result.indexLastUpdateTimestamp).toBe(T0 + 2000);
    expect(index.lastIndexedPhyOffset).toBe(200);
    expect(index.lastIndexedTimestamp).toBe(T0 + 2000);
  });

  it('skips rollback transaction records but indexes prepared and commit ones', async () => {
    const index = await start();
    index.dispatch(record(0, T0, { keys: 'tx', sysFlag: 0x4 })); // prepared
    index.dispatch(record(100, T0, { keys: 'tx', sysFlag: 0x8 })); // commit
    index.dispatch(record(200, T0, { keys: 'tx', sysFlag: 0xc })); // rollback
    index.dispatch(record(300, T0, { keys: 'tx', sysFlag: 0xc | 0x1 })); // rollback, compressed
    expect(await offsets(index, 'tx')).toEqual([100, 0]);
  });

  it('ignores a re-dispatch of an offset already indexed (recovery replays from a checkpoint)', async () => {
    const index = await start();
    index.dispatch(record(0, T0, { keys: 'k' }));
    index.dispatch(record(100, T0, { keys: 'k' }));
    index.dispatch(record(0, T0, { keys: 'k' }));
    index.dispatch(record(100, T0, { keys: 'k' }));
    expect(await offsets(index, 'k')).toEqual([100, 0]);
  });

  it('keeps entries whose time, rounded down to the second, is inside [begin, end]', async () => {
    const index = await start();
    index.dispatch(record(0, T0, { keys: 'k' }));
    index.dispatch(record(100, T0 + 10_000, { keys: 'k' }));
    index.dispatch(record(150, T0 + 10_500, { keys: 'k' })); // stored as T0 + 10 s
    index.dispatch(record(200, T0 + 20_000, { keys: 'k' }));
    index.dispatch(record(300, T0 + 30_700, { keys: 'k' })); // stored as T0 + 30 s
    expect(await offsets(index, 'k', 64, T0 + 5000, T0 + 25_000)).toEqual([200, 150, 100]);
    expect(await offsets(index, 'k', 64, T0 + 10_000, T0 + 10_000)).toEqual([150, 100]);
    expect(await offsets(index, 'k', 64, T0 + 40_000, T0 + 50_000)).toEqual([]);
    expect(await offsets(index, 'k', 64, T0 - 50_000, T0 - 1)).toEqual([]);
    // RocketMQ's second granularity: a window starting at the exact store time misses it.
    expect(await offsets(index, 'k', 64, T0 + 30_700, T0 + 40_000)).toEqual([]);
    expect(await offsets(index, 'k', 64, T0 + 30_000, T0 + 40_000)).toEqual([300]);
  });

  it('returns at most maxNum offsets, never more than 64', async () => {
    const index = await start();
    for (let i = 0; i < 100; i++) index.dispatch(record(i * 100, T0 + i * 1000, { keys: 'hot' }));
    expect(await offsets(index, 'hot', 3)).toEqual([9900, 9800, 9700]);
    expect(await offsets(index, 'hot', 0)).toEqual([]);
    const capped = await offsets(index, 'hot', 1000);
    expect(capped).toHaveLength(INDEX_QUERY_MAX_NUM);
    expect(capped[0]).toBe(9900);
    expect(capped.at(-1)).toBe(9900 - 63 * 100);
  });

  it('returns colliding keys too, so callers must re-check the real key', async () => {
    // "Aa" and "BB" have the same Java hashCode, hence so do "orders#Aa" and "orders#BB".
    expect(indexKeyHash('orders#Aa')).toBe(indexKeyHash('orders#BB'));
    const index = await start({ maxHashSlotNum: 2 }); // two slots: unrelated keys share chains too
    const realKeys = new Map<number, string>();
    const put = (offset: number, key: string): void => {
      index.dispatch(record(offset, T0 + offset, { keys: key }));
      realKeys.set(offset, key);
    };
    put(0, 'Aa');
    put(100, 'BB');
    put(200, 'x');
    put(300, 'y');
    put(400, 'Aa');
    const candidates = await offsets(index, 'Aa');
    expect(candidates).toEqual([400, 100, 0]); // same hash: the index cannot tell them apart
    const confirmed = candidates.filter((o) => realKeys.get(o) === 'Aa'); // what the store's query does with the records
    expect(confirmed).toEqual([400, 0]);
    expect(await offsets(index, 'x')).toEqual([200]); // same slot, different hash: filtered by the index
  });

  it('rejects bad arguments and use before load or after close with named errors', async () => {
    expect(() => new IndexService({ dir, maxIndexNum: 1 })).toThrow(InvalidArgumentError);
    expect(() => new IndexService({ dir, maxHashSlotNum: 0 })).toThrow(/invalid index option maxHashSlotNum/);
    const fresh = new IndexService({ dir });
    expect(() => fresh.dispatch(record(0, T0, { keys: 'k' }))).toThrow(/call load\(\) first/);
    const index = await start();
    await expect(index.queryOffsets('orders', 'k', -1, ...ALL)).rejects.toThrow(InvalidArgumentError);
    expect(() => index.dispatch(record(-5, T0, { keys: 'k' }))).toThrow(/commitLogOffset -5/);
    await index.close();
    const err = (() => {
      try {
        index.dispatch(record(0, T0, { keys: 'k' }));
      } catch (e) {
        return e;
      }
      return undefined;
    })();
    expect(err).toBeInstanceOf(KarmanError);
    expect((err as KarmanError).code).toBe('ILLEGAL_STATE');
  });
});

describe('IndexService files', () => {
  it('starts a new file when indexCount reaches maxIndexNum and queries across files newest first', async () => {
    // maxIndexNum 4 → 3 entries per file; the clock never moves, yet names stay unique and ordered.
    const index = await start({ maxIndexNum: 4, maxHashSlotNum: 4 });
    for (let i = 0; i < 10; i++) index.dispatch(record(i * 100, T0 + i * 1000, { keys: 'k' }));
    expect(index.filePaths.map((p) => p.slice(dir.length + 1))).toEqual([0, 1, 2, 3].map((i) => indexFileName(T0 + i)));
    expect(await offsets(index, 'k')).toEqual([900, 800, 700, 600, 500, 400, 300, 200, 100, 0]);
    expect(await offsets(index, 'k', 4)).toEqual([900, 800, 700, 600]);
    expect(await offsets(index, 'k', 64, T0 + 2000, T0 + 4000)).toEqual([400, 300, 200]);
    await index.flush();
    const names = (await readdir(dir)).sort();
    expect(names).toEqual([0, 1, 2, 3].map((i) => indexFileName(T0 + i)));
    for (const n of names) expect((await stat(join(dir, n))).size).toBe(indexFileSize({ hashSlotNum: 4, indexNum: 4 }));
  });

  it('answers the same after close and reload, and keeps indexing into the newest file', async () => {
    const opts = { maxIndexNum: 5, maxHashSlotNum: 3 };
    let index = await start(opts);
    for (let i = 0; i < 9; i++) index.dispatch(record(i * 10, T0 + i * 1000, { uniqKey: `u${i}`, keys: i % 2 ? 'odd' : 'even' }));
    const before = { odd: await offsets(index, 'odd'), even: await offsets(index, 'even'), u4: await offsets(index, 'u4') };
    index = await restart(index, opts);
    expect({ odd: await offsets(index, 'odd'), even: await offsets(index, 'even'), u4: await offsets(index, 'u4') }).toEqual(before);
    expect(before.odd).toEqual([70, 50, 30, 10]);
    expect(index.lastIndexedPhyOffset).toBe(80);
    expect(index.lastFlushedPhyOffset).toBe(80);
    index.dispatch(record(90, T0 + 9000, { keys: 'odd' }));
    expect(await offsets(index, 'odd')).toEqual([90, 70, 50, 30, 10]);
  });

  it('keeps flushed keys when the process dies without close', async () => {
    const first = await start();
    first.dispatch(record(0, T0, { keys: 'k' }));
    first.dispatch(record(100, T0 + 1000, { keys: 'k' }));
    await first.flush();
    expect(first.lastFlushedPhyOffset).toBe(100);
    first.dispatch(record(200, T0 + 2000, { keys: 'k' })); // never flushed
    // A second service reads the folder while the first is still "running" (as after a crash).
    const second = await start();
    expect(await offsets(second, 'k')).toEqual([100, 0]);
  });

  it('writes entries in the background and still answers from memory before a flush', async () => {
    const opts = { maxHashSlotNum: 16, maxIndexNum: 2000 };
    let index = await start(opts);
    for (let i = 0; i < 5000; i++) index.dispatch(record(i, T0 + i, { keys: `k${i % 7}` }));
    const k3 = await offsets(index, 'k3', 64);
    expect(k3[0]).toBe(4994); // 4994 % 7 === 3, the newest k3
    expect(k3.every((o) => o % 7 === 3)).toBe(true);
    expect(index.filePaths).toHaveLength(3); // 1999 entries per file
    index = await restart(index, opts);
    expect(await offsets(index, 'k3', 64)).toEqual(k3);
  });

  it('skips a truncated file and a file from another format with a warning, never reusing their names', async () => {
    const opts = { maxIndexNum: 4, maxHashSlotNum: 4 };
    let index = await start(opts);
    index.dispatch(record(0, T0, { keys: 'k' }));
    await index.close();
    open = [];
    await writeFile(join(dir, indexFileName(T0 + 5)), Buffer.from('this is not an index file'));
    await writeFile(join(dir, 'README'), 'ignored: not an index file name');
    index = await start(opts);
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toMatch(/^warn: index: skipping .*\d{17}: index file .* is 25 bytes but 136 were expected/);
    expect(await offsets(index, 'k')).toEqual([0]);
    for (let i = 1; i <= 3; i++) index.dispatch(record(i * 100, T0 + i, { keys: 'k' })); // fills the file, rolls
    expect(index.filePaths.at(-1)).toBe(join(dir, indexFileName(T0 + 6)));
    await index.flush();
    expect(await offsets(index, 'k')).toEqual([300, 200, 100, 0]);
  });

  it('deletes only whole files below the commit log minimum, oldest first, never the newest', async () => {
    const index = await start({ maxIndexNum: 3, maxHashSlotNum: 4 }); // 2 entries per file
    for (let i = 0; i < 8; i++) index.dispatch(record(i * 100, T0 + i * 1000, { keys: 'k' }));
    await index.flush();
    const files = index.filePaths; // [0,100] [200,300] [400,500] [600,700]
    await index.deleteExpired(301);
    expect(index.filePaths).toEqual(files.slice(2));
    expect(await readdir(dir)).toHaveLength(2);
    expect(await offsets(index, 'k')).toEqual([700, 600, 500, 400]);
    await index.deleteExpired(Number.MAX_SAFE_INTEGER);
    expect(index.filePaths).toEqual(files.slice(3));
    expect(await offsets(index, 'k')).toEqual([700, 600]);
  });

  it('truncateAbove forgets entries at and after an offset, and re-dispatch rebuilds them', async () => {
    const opts = { maxIndexNum: 4, maxHashSlotNum: 2 };
    let index = await start(opts);
    for (let i = 0; i < 8; i++) index.dispatch(record(i * 100, T0 + i * 1000, { keys: i % 2 ? 'odd' : 'even' }));
    await index.flush();
    await index.truncateAbove(250); // files: [0,100,200] [300,400,500] [600,700]
    expect(index.filePaths).toHaveLength(1);
    expect(index.lastIndexedPhyOffset).toBe(200);
    expect(index.lastFlushedPhyOffset).toBe(200);
    expect(await offsets(index, 'odd')).toEqual([100]);
    expect(await offsets(index, 'even')).toEqual([200, 0]);
    expect((await index.queryOffsets('orders', 'odd', 1, ...ALL)).indexLastUpdatePhyoffset).toBe(200);
    // The recovered commit log holds different records past 250 now.
    index.dispatch(record(250, T0 + 3000, { keys: 'odd' }));
    index.dispatch(record(350, T0 + 4000, { keys: 'even' }));
    index = await restart(index, opts);
    expect(await offsets(index, 'odd')).toEqual([250, 100]);
    expect(await offsets(index, 'even')).toEqual([350, 200, 0]);
    await index.truncateAbove(0);
    expect(await offsets(index, 'even')).toEqual([]);
    expect(index.lastIndexedPhyOffset).toBe(-1);
  });

  it('truncateAbove cuts the file that straddles the offset back in place, relinking its chains', async () => {
    const opts = { maxIndexNum: 10, maxHashSlotNum: 2 };
    let index = await start(opts);
    for (let i = 0; i < 5; i++) index.dispatch(record(i * 100, T0 + i * 1000, { keys: 'k', uniqKey: `u${i}` }));
    await index.truncateAbove(300);
    expect(index.filePaths).toHaveLength(1);
    expect(await offsets(index, 'k')).toEqual([200, 100, 0]);
    expect(await offsets(index, 'u3')).toEqual([]);
    const result = await index.queryOffsets('orders', 'u1', 64, ...ALL);
    expect(result.phyOffsets).toEqual([100]);
    expect(result.indexLastUpdatePhyoffset).toBe(200);
    expect(result.indexLastUpdateTimestamp).toBe(T0 + 2000);
    index.dispatch(record(300, T0 + 5000, { keys: 'k' }));
    expect(await offsets(index, 'k')).toEqual([300, 200, 100, 0]);
    index = await restart(index, opts);
    expect(await offsets(index, 'k')).toEqual([300, 200, 100, 0]);
    expect(await offsets(index, 'u4')).toEqual([]);
  });
});

describe('IndexService against an in-memory model', () => {
  type Cmd =
    | { kind: 'put'; topic: string; keys: string[]; uniq: boolean; gap: number; seconds: number }
    | { kind: 'query'; topic: string; key: string; maxNum: number; from: number; span: number }
    | { kind: 'flush' }
    | { kind: 'reopen' }
    | { kind: 'truncate'; back: number };

  const topicArb = fc.constantFrom('t1', 't2');
  const KEYS = ['a', 'b', 'c', 'Aa', 'BB', 'long-key'];
  const keyArb = fc.constantFrom(...KEYS);
  const cmdArb: fc.Arbitrary<Cmd> = fc.oneof(
    { weight: 6, arbitrary: fc.record({ kind: fc.constant('put' as const), topic: topicArb, keys: fc.array(keyArb, { maxLength: 3 }), uniq: fc.boolean(), gap: fc.integer({ min: 1, max: 300 }), seconds: fc.integer({ min: 0, max: 2 }) }) },
    { weight: 3, arbitrary: fc.record({ kind: fc.constant('query' as const), topic: topicArb, key: keyArb, maxNum: fc.integer({ min: 0, max: 80 }), from: fc.integer({ min: -1, max: 30 }), span: fc.integer({ min: 0, max: 20 }) }) },
    { weight: 1, arbitrary: fc.constant({ kind: 'flush' as const }) },
    { weight: 1, arbitrary: fc.constant({ kind: 'reopen' as const }) },
    { weight: 1, arbitrary: fc.record({ kind: fc.constant('truncate' as const), back: fc.integer({ min: 0, max: 600 }) }) },
  );

  it('returns exactly the model hash matches, newest first, for any dispatch/flush/reopen/truncate sequence', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(cmdArb, { minLength: 1, maxLength: 40 }), fc.integer({ min: 1, max: 5 }), fc.integer({ min: 2, max: 6 }), async (cmds, slots, indexNum) => {
        await rm(dir, { recursive: true, force: true });
        const opts = { maxHashSlotNum: slots, maxIndexNum: indexNum };
        let index = await start(opts);
        // The model: every entry the index should hold, oldest first, with its real key.
        let model: { fullKey: string; phyOffset: number; time: number }[] = [];
        let nextOffset = 0;
        let lastOffset = -1;
        let time = T0; // whole seconds, so the index's second rounding is exact
        const check = async (topic: string, key: string, maxNum: number, begin: number, end: number): Promise<void> => {
          const hash = indexKeyHash(`${topic}#${key}`);
          const expected = model
            .filter((e) => indexKeyHash(e.fullKey) === hash && e.time >= begin && e.time <= end)
            .map((e) => e.phyOffset)
            .reverse()
            .slice(0, Math.min(maxNum, INDEX_QUERY_MAX_NUM));
          const got = await index.queryOffsets(topic, key, maxNum, begin, end);
          expect(got.phyOffsets, `${topic}#${key} in [${begin - T0}, ${end - T0}] max ${maxNum}`).toEqual(expected);
          expect(got.indexLastUpdatePhyoffset).toBe(model.at(-1)?.phyOffset ?? 0);
        };
        const checkAll = async (): Promise<void> => {
          for (const topic of ['t1', 't2']) for (const key of KEYS) await check(topic, key, 64, 0, Number.MAX_SAFE_INTEGER);
        };
        try {
          for (const cmd of cmds) {
            if (cmd.kind === 'put') {
              const phyOffset = nextOffset;
              nextOffset += cmd.gap;
              time += cmd.seconds * 1000;
              const keys = [...(cmd.uniq ? [`uniq-${phyOffset}`] : []), ...cmd.keys];
              index.dispatch(record(phyOffset, time, { topic: cmd.topic, keys: cmd.keys.join(' '), uniqKey: cmd.uniq ? `uniq-${phyOffset}` : undefined }));
              for (const k of keys) model.push({ fullKey: `${cmd.topic}#${k}`, phyOffset, time });
              if (keys.length > 0) lastOffset = phyOffset;
            } else if (cmd.kind === 'query') {
              const begin = T0 + cmd.from * 1000;
              await check(cmd.topic, cmd.key, cmd.maxNum, begin, begin + cmd.span * 1000);
            } else if (cmd.kind === 'flush') {
              await index.flush();
              expect(index.lastFlushedPhyOffset).toBe(lastOffset);
            } else if (cmd.kind === 'reopen') {
              index = await restart(index, opts);
              expect(index.lastIndexedPhyOffset).toBe(lastOffset);
            } else {
              const cut = Math.max(0, nextOffset - cmd.back);
              await index.truncateAbove(cut);
              model = model.filter((e) => e.phyOffset < cut);
              nextOffset = cut;
              lastOffset = model.at(-1)?.phyOffset ?? -1;
              expect(index.lastIndexedPhyOffset).toBe(lastOffset);
            }
            // After each flush, reopen and truncation, every key answers exactly (whole time range).
            if (cmd.kind !== 'query' && cmd.kind !== 'put') await checkAll();
          }
          await checkAll();
        } finally {
          await index.close();
          open = open.filter((s) => s !== index);
        }
      }),
      { numRuns: 100 },
    );
  });
});
