import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { SubscriptionGroupManager } from './subscription-group-manager.js';

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'karman-groups-'));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

describe('SubscriptionGroupManager', () => {
  it("gives a new group RocketMQ's defaults", async () => {
    const m = new SubscriptionGroupManager({ file: join(dir, 'g.json'), autoCreateSubscriptionGroup: true });
    m.load();
    expect(await m.findOrCreate('g1')).toEqual({
      groupName: 'g1',
      consumeEnable: true,
      consumeFromMinEnable: true,
      consumeBroadcastEnable: true,
      retryQueueNums: 1,
      retryMaxTimes: 16,
      brokerId: 0,
      whichBrokerWhenConsumeSlowly: 1,
      notifyConsumerIdsChangedEnable: true,
      consumeTimeoutMinute: 15,
    });
  });

  it('does not invent groups when auto-creation is off', async () => {
    const m = new SubscriptionGroupManager({ autoCreateSubscriptionGroup: false });
    expect(await m.findOrCreate('g1')).toBeUndefined();
  });

  it('persists updates and deletions', async () => {
    const file = join(dir, 'g.json');
    const m = new SubscriptionGroupManager({ file, autoCreateSubscriptionGroup: false });
    await m.upsert({ groupName: 'g1', retryMaxTimes: 3, consumeEnable: false });
    const again = new SubscriptionGroupManager({ file, autoCreateSubscriptionGroup: false });
    again.load();
    expect(again.get('g1')).toMatchObject({ retryMaxTimes: 3, consumeEnable: false, retryQueueNums: 1 });
    await again.delete('g1');
    const third = new SubscriptionGroupManager({ file, autoCreateSubscriptionGroup: false });
    third.load();
    expect(third.get('g1')).toBeUndefined();
  });
});
