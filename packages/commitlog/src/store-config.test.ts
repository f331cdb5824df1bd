import { describe, expect, it } from 'vitest';
import { decideRetention } from './retention.js';
import { parseDeleteWhen, resolveStoreOptions } from './store-config.js';

describe('store options', () => {
  it("defaults to RocketMQ's MessageStoreConfig values", () => {
    const o = resolveStoreOptions({ storePathRootDir: '/tmp/x' });
    expect(o).toMatchObject({
      mappedFileSizeCommitLog: 1024 ** 3,
      mappedFileSizeConsumeQueue: 300_000 * 20,
      flushDiskType: 'ASYNC_FLUSH',
      flushIntervalCommitLog: 500,
      flushCommitLogLeastPages: 4,
      flushCommitLogThoroughInterval: 10_000,
      syncFlushTimeout: 5000,
      maxMessageSize: 4 * 1024 * 1024,
      fileReservedTime: 72,
      deleteWhen: '04',
      diskMaxUsedSpaceRatio: 75,
      diskSpaceCleanForciblyRatio: 85,
      diskSpaceWarningLevelRatio: 90,
      cleanResourceInterval: 10_000,
      messageIndexEnable: true,
      maxHashSlotNum: 5_000_000,
      maxIndexNum: 20_000_000,
    });
    expect(typeof o.clock()).toBe('number');
  });

  it('does not mutate the caller object and clamps the forced-clean and warning ratios like RocketMQ', () => {
    const input = { storePathRootDir: '/tmp/x', diskSpaceCleanForciblyRatio: 99, diskSpaceWarningLevelRatio: 10 };
    const o = resolveStoreOptions(input);
    expect([o.diskSpaceCleanForciblyRatio, o.diskSpaceWarningLevelRatio]).toEqual([85, 35]);
    expect(input.diskSpaceCleanForciblyRatio).toBe(99);
  });

  it('names the bad option', () => {
    expect(() => resolveStoreOptions({ storePathRootDir: '' })).toThrow(/storePathRootDir/);
    expect(() => resolveStoreOptions({ storePathRootDir: '/x', deleteWhen: 'four' })).toThrow(/deleteWhen/);
    expect(() => resolveStoreOptions({ storePathRootDir: '/x', mappedFileSizeCommitLog: 100 })).toThrow(/mappedFileSizeCommitLog/);
  });

  it('parses deleteWhen hour lists', () => {
    expect(parseDeleteWhen('04')).toEqual([4]);
    expect(parseDeleteWhen('04; 16')).toEqual([4, 16]);
  });
});

describe('retention decision', () => {
  const o = resolveStoreOptions({ storePathRootDir: '/x' });
  const at = (h: number): number => new Date(2026, 0, 1, h).getTime();
  it('deletes at the deleteWhen hour or above 75 %, forces above 85 %, refuses writes above 90 %', () => {
    expect(decideRetention(o, at(4), 0.1, false)).toMatchObject({ delete: true, cleanImmediately: false, diskFull: false });
    expect(decideRetention(o, at(12), 0.1, false)).toMatchObject({ delete: false });
    expect(decideRetention(o, at(12), 0.76, false)).toMatchObject({ delete: true, cleanImmediately: false });
    expect(decideRetention(o, at(12), 0.86, false)).toMatchObject({ delete: true, cleanImmediately: true, diskFull: false });
    expect(decideRetention(o, at(12), 0.91, false)).toMatchObject({ diskFull: true });
    expect(decideRetention(o, at(12), 0.1, true)).toMatchObject({ delete: true });
  });
});
