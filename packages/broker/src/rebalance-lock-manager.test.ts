import { describe, expect, it } from 'vitest';
import { RebalanceLockManager } from './rebalance-lock-manager.js';

const q = (queueId: number) => ({ topic: 'T', brokerName: 'b', queueId });

describe('RebalanceLockManager', () => {
  it('grants free queues, renews for the holder, refuses others until expiry', () => {
    let now = 0;
    const m = new RebalanceLockManager(60_000, () => now);
    expect(m.tryLockBatch('g', [q(0), q(1)], 'c1')).toEqual([q(0), q(1)]);
    expect(m.tryLockBatch('g', [q(0), q(2)], 'c2')).toEqual([q(2)]);
    now = 30_000;
    expect(m.tryLockBatch('g', [q(0)], 'c1')).toEqual([q(0)]);
    now = 89_000;
    expect(m.tryLockBatch('g', [q(0)], 'c2')).toEqual([]);
    expect(m.holder('g', q(0))).toBe('c1');
    now = 90_001;
    expect(m.holder('g', q(0))).toBeUndefined();
    expect(m.tryLockBatch('g', [q(0)], 'c2')).toEqual([q(0)]);
  });

  it('unlocks only what the client holds, and groups are independent', () => {
    const m = new RebalanceLockManager(60_000, () => 0);
    m.tryLockBatch('g', [q(0)], 'c1');
    m.tryLockBatch('h', [q(0)], 'c2');
    m.unlockBatch('g', [q(0)], 'c2');
    expect(m.holder('g', q(0))).toBe('c1');
    m.unlockBatch('g', [q(0)], 'c1');
    expect(m.holder('g', q(0))).toBeUndefined();
    expect(m.holder('h', q(0))).toBe('c2');
  });
});
