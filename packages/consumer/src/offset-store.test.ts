import { describe, expect, it } from 'vitest';
import { OffsetTable } from './offset-store.js';

describe('OffsetTable', () => {
  it('finds an offset by an equal queue object as well as by the one that set it', () => {
    const table = new OffsetTable();
    const queue = { topic: 'T', brokerName: 'b', queueId: 1 };
    table.update(queue, 5, true);
    table.update(queue, 4, true);
    expect(table.get(queue)).toBe(5);
    expect(table.get({ ...queue })).toBe(5);
    table.update({ ...queue }, 9, false);
    expect(table.get(queue)).toBe(9);
  });

  it('forgets a removed queue for every object naming it, and starts afresh when it comes back', () => {
    const table = new OffsetTable();
    const queue = { topic: 'T', brokerName: 'b', queueId: 1 };
    table.update(queue, 5, true);
    table.remove({ ...queue });
    expect(table.get(queue)).toBe(-1);
    table.update({ ...queue }, 2, true);
    expect(table.get(queue)).toBe(2);
    expect(table.entries()).toEqual([{ queue, offset: 2 }]);
  });

  it('does not trust a queue object changed after use', () => {
    const table = new OffsetTable();
    const queue = { topic: 'T', brokerName: 'b', queueId: 1 };
    table.update(queue, 5, true);
    queue.queueId = 2;
    expect(table.get(queue)).toBe(-1);
  });
});
