import { mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { CQ_STORE_UNIT_SIZE, ConsumeQueueStore } from './consume-queue.js';
import type { DispatchRequest } from './dispatcher.js';

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

function store(): ConsumeQueueStore {
  const d = mkdtempSync(join(tmpdir(), 'karman-cq-'));
  dirs.push(d);
  return new ConsumeQueueStore(d, 5 * CQ_STORE_UNIT_SIZE, () => 0, () => undefined);
}

function req(queueOffset: number, phy: number, tagsCode = 0, sysFlag = 0): DispatchRequest {
  return { topic: 'T', queueId: 2, commitLogOffset: phy, msgSize: 100, tagsCode, storeTimestamp: 1, consumeQueueOffset: queueOffset, sysFlag, preparedTransactionOffset: 0 };
}

describe('consume queue', () => {
  it('writes 20-byte big-endian units in files named by byte offset', () => {
    const s = store();
    s.load();
    for (let i = 0; i < 7; i++) s.dispatch(req(i, 1000 + i * 100, i === 3 ? -5 : i));
    s.commit();
    const dir = join(s.dir, 'T', '2');
    expect(readdirSync(dir)).toEqual(['00000000000000000000', '00000000000000000100']);
    const first = readFileSync(join(dir, '00000000000000000000'));
    expect(Number(first.readBigInt64BE(20))).toBe(1100);
    expect(first.readInt32BE(28)).toBe(100);
    expect(Number(first.readBigInt64BE(3 * 20 + 12))).toBe(-5);
    const cq = s.find('T', 2)!;
    expect([cq.minOffset, cq.maxOffset]).toEqual([0, 7]);
    s.close();
  });

  it('skips prepared and rolled-back transaction records', () => {
    const s = store();
    s.load();
    s.dispatch(req(0, 0, 0, 0x4));
    s.dispatch(req(0, 0, 0, 0xc));
    expect(s.find('T', 2)).toBeUndefined();
    s.close();
  });

  it('reloads, treats re-dispatch as a no-op, drops units past the log end and moves the min offset', () => {
    const s = store();
    s.load();
    for (let i = 0; i < 12; i++) s.dispatch(req(i, i * 100));
    s.close();
    const again = new ConsumeQueueStore(s.dir, 5 * CQ_STORE_UNIT_SIZE, () => 0, () => undefined);
    expect(again.load()).toBeUndefined();
    const cq = again.find('T', 2)!;
    expect(cq.maxOffset).toBe(12);
    again.dispatch(req(11, 1100));
    expect(again.repaired).toBe(0);
    expect(cq.truncatePhysicalAfter(1000)).toBe(2);
    expect(cq.maxOffset).toBe(10);
    cq.correctMinOffset(350);
    expect(cq.minOffset).toBe(4);
    cq.deleteBelow(600);
    expect(readdirSync(join(s.dir, 'T', '2'))).toEqual(['00000000000000000100']);
    expect(cq.minOffset).toBe(6);
    again.close();
  });
});
