/**
 * Flush modes. The disk is real; only fdatasync is wrapped (at the edge, through the `node:fs`
 * module) so one test can make it slower than `syncFlushTimeout`.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import type * as NodeFs from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { MessageStore } from './message-store.js';
import { PutMessageStatus } from './message-status.js';
import type { StoreOptions } from './store-config.js';

const slow = vi.hoisted(() => ({ delayMs: 0, calls: 0 }));
vi.mock('node:fs', async (importOriginal) => {
  const real = await importOriginal<typeof NodeFs>();
  const fdatasync = (fd: number, cb: (err: NodeJS.ErrnoException | null) => void): void => {
    slow.calls++;
    if (slow.delayMs > 0) setTimeout(() => real.fdatasync(fd, cb), slow.delayMs);
    else real.fdatasync(fd, cb);
  };
  return { ...real, fdatasync, default: { ...real, fdatasync } };
});

const dirs: string[] = [];
afterEach(() => {
  slow.delayMs = 0;
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

async function open(extra: Partial<StoreOptions>): Promise<MessageStore> {
  const root = mkdtempSync(join(tmpdir(), 'karman-flush-'));
  dirs.push(root);
  return MessageStore.open({ storePathRootDir: root, mappedFileSizeCommitLog: 64 * 1024, cleanResourceInterval: 0, logger: () => undefined, ...extra });
}

describe('SYNC_FLUSH', () => {
  it('acknowledges only after a group commit covered the append, one fdatasync for many appends', async () => {
    await using store = await open({ flushDiskType: 'SYNC_FLUSH' });
    const before = slow.calls;
    const results = await Promise.all(Array.from({ length: 100 }, (_, i) => store.put({ topic: 'S', queueId: 0, body: Buffer.from(`m${i}`) })));
    expect(results.every((r) => r.status === PutMessageStatus.PUT_OK)).toBe(true);
    const end = Math.max(...results.map((r) => r.wroteOffset + r.wroteBytes));
    expect(store.flushedPhyOffset).toBeGreaterThanOrEqual(end);
    expect(slow.calls - before).toBeLessThan(20);
  });

  it('answers FLUSH_DISK_TIMEOUT when the flush is slower than syncFlushTimeout, with the message stored', async () => {
    await using store = await open({ flushDiskType: 'SYNC_FLUSH', syncFlushTimeout: 20 });
    slow.delayMs = 300;
    const r = await store.put({ topic: 'S', queueId: 0, body: Buffer.from('late') });
    expect(r.status).toBe(PutMessageStatus.FLUSH_DISK_TIMEOUT);
    const got = await store.getMessage({ topic: 'S', queueId: 0, offset: 0, maxCount: 1 });
    expect(got.queueOffsets).toEqual([0]);
  });

  it('does not wait for the flush when the message says WAIT=false', async () => {
    await using store = await open({ flushDiskType: 'SYNC_FLUSH', syncFlushTimeout: 20 });
    slow.delayMs = 300;
    const r = await store.put({ topic: 'S', queueId: 0, body: Buffer.from('nowait'), properties: { WAIT: 'false' } });
    expect(r.status).toBe(PutMessageStatus.PUT_OK);
  });
});

describe('ASYNC_FLUSH', () => {
  it('acknowledges before the flush and flushes in the background', async () => {
    await using store = await open({ flushDiskType: 'ASYNC_FLUSH', flushIntervalCommitLog: 5, flushCommitLogLeastPages: 0, flushCommitLogThoroughInterval: 5 });
    slow.delayMs = 50;
    const r = await store.put({ topic: 'A', queueId: 0, body: Buffer.from('x') });
    expect(r.status).toBe(PutMessageStatus.PUT_OK);
    expect(store.flushedPhyOffset).toBeLessThan(r.wroteOffset + r.wroteBytes);
    await vi.waitFor(() => expect(store.flushedPhyOffset).toBeGreaterThanOrEqual(r.wroteOffset + r.wroteBytes), { timeout: 3000 });
  });

  it('waits for flushCommitLogLeastPages of dirty data between thorough flushes', async () => {
    await using store = await open({ flushDiskType: 'ASYNC_FLUSH', flushIntervalCommitLog: 5, flushCommitLogLeastPages: 4, flushCommitLogThoroughInterval: 60_000 });
    const small = await store.put({ topic: 'A', queueId: 0, body: Buffer.alloc(100) });
    await new Promise((r) => setTimeout(r, 60));
    expect(store.flushedPhyOffset).toBeLessThan(small.wroteOffset + small.wroteBytes);
    const big = await store.put({ topic: 'A', queueId: 0, body: Buffer.alloc(20_000) });
    await vi.waitFor(() => expect(store.flushedPhyOffset).toBeGreaterThanOrEqual(big.wroteOffset + big.wroteBytes), { timeout: 3000 });
  });
});
