import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import type { ConsumedMessage } from './consumed-message.js';
import { ProcessQueue } from './process-queue.js';

const message = (queueOffset: number, size = 10): ConsumedMessage =>
  ({ queueOffset, body: Buffer.alloc(size), topic: 'T', tags: undefined, keys: [], properties: {}, msgId: String(queueOffset) }) as unknown as ConsumedMessage;

describe('ProcessQueue', () => {
  it('commits the smallest offset still in flight, never past an unfinished message', () => {
    const pq = new ProcessQueue({ topic: 'T', brokerName: 'b', queueId: 0 });
    const [m5, m6, m7] = pq.put([message(5), message(6), message(7)]);
    expect(pq.removeMessage([m6!])).toBe(5);
    expect(pq.removeMessage([m7!])).toBe(5);
    expect(pq.removeMessage([m5!])).toBe(8);
  });

  it('answers -1 when nothing was held', () => {
    const pq = new ProcessQueue({ topic: 'T', brokerName: 'b', queueId: 0 });
    expect(pq.removeMessage([message(1)])).toBe(-1);
  });

  it('counts messages, bytes and the offset span for flow control', () => {
    const pq = new ProcessQueue({ topic: 'T', brokerName: 'b', queueId: 0 });
    const added = pq.put([message(10, 100), message(11, 50), message(2010, 1)]);
    pq.put([message(11, 50)]);
    expect([pq.count, pq.size, pq.span]).toEqual([3, 151, 2000]);
    pq.removeMessage([added[0]!]);
    expect([pq.count, pq.size, pq.span]).toEqual([2, 51, 1999]);
  });

  it('for any completion order, the committed offset is the first unfinished one', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 40 }), fc.integer(), (n, seed) => {
        const pq = new ProcessQueue({ topic: 'T', brokerName: 'b', queueId: 0 });
        const msgs = pq.put(Array.from({ length: n }, (_, i) => message(100 + i)));
        const order = [...msgs].sort((a, b) => ((a.queueOffset * 7919 + seed) % 31) - ((b.queueOffset * 7919 + seed) % 31));
        const done = new Set<number>();
        for (const m of order) {
          done.add(m.queueOffset);
          let expected = 100;
          while (done.has(expected)) expected++;
          expect(pq.removeMessage([m])).toBe(expected);
        }
      }),
    );
  });

  it('treats a lock as expired when never taken or older than lockMaxLiveTime', () => {
    const pq = new ProcessQueue({ topic: 'T', brokerName: 'b', queueId: 0 });
    expect(pq.lockExpired(30_000)).toBe(true);
    pq.locked = true;
    pq.lastLockTimestamp = 1_000;
    expect(pq.lockExpired(30_000, 20_000)).toBe(false);
    expect(pq.lockExpired(30_000, 31_001)).toBe(true);
  });
});

describe('ProcessQueue.removeOne', () => {
  it('agrees with removeMessage on any order of finishing (the model: smallest offset still in flight)', () => {
    fc.assert(
      fc.property(fc.uniqueArray(fc.integer({ min: 0, max: 5000 }), { minLength: 1, maxLength: 300 }), fc.infiniteStream(fc.nat()), (offsets, picks) => {
        const sorted = [...offsets].sort((a, b) => a - b);
        const pq = new ProcessQueue({ topic: 'T', brokerName: 'b', queueId: 0 });
        const held = pq.put(sorted.map((o) => message(o)));
        const left = new Set(sorted);
        const it = picks[Symbol.iterator]();
        while (held.length > 0) {
          const m = held.splice(it.next().value % held.length, 1)[0]!;
          left.delete(m.queueOffset);
          const expected = left.size > 0 ? Math.min(...left) : sorted.at(-1)! + 1;
          expect(pq.removeOne(m)).toBe(expected);
          expect(pq.first()?.queueOffset).toBe(left.size > 0 ? expected : undefined);
        }
      }),
    );
  });

  it('keeps answering in constant order over many pulls finished head first', () => {
    const pq = new ProcessQueue({ topic: 'T', brokerName: 'b', queueId: 0 });
    for (let batch = 0; batch < 20; batch++) {
      const added = pq.put(Array.from({ length: 256 }, (_, i) => message(batch * 256 + i)));
      for (const m of added) expect(pq.removeOne(m)).toBe(m.queueOffset + 1);
    }
    expect([pq.count, pq.size, pq.first()]).toEqual([0, 0, undefined]);
  });
});
