import { createRequire } from 'node:module';
import { describe, expect, it } from 'vitest';
import { aliOnsShardingQueue, pinnableShardingKeys } from './sharding-key.js';

// ali-ons's own queue selection, loaded from the pinned package, is the reference.
const require = createRequire(import.meta.url);
const TopicPublishInfo = require('ali-ons/lib/producer/topic_publish_info.js') as new () => {
  messageQueueList: Array<{ topic: string; brokerName: string; queueId: number }>;
  selectOneMessageQueue(lastBrokerName: string | null, message: { shardingKey: string }): { queueId: number } | null;
};

function aliOnsPicks(key: string, queues: number, sends: number): number[] {
  const info = new TopicPublishInfo();
  info.messageQueueList = Array.from({ length: queues }, (_, queueId) => ({ topic: 'T', brokerName: 'broker-a', queueId }));
  return Array.from({ length: sends }, () => info.selectOneMessageQueue(null, { shardingKey: key })!.queueId);
}

describe('aliOnsShardingQueue', () => {
  it('predicts where ali-ons pins a key, and that keys landing on queue 0 are not pinned (defect 1)', () => {
    let unpinned = 0;
    for (let i = 0; i < 200; i++) {
      const key = `key-${i}`;
      const predicted = aliOnsShardingQueue(key, 4);
      const picks = aliOnsPicks(key, 4, 8);
      if (predicted === 0) {
        unpinned += 1;
        expect(new Set(picks).size).toBeGreaterThan(1);
      } else {
        expect(new Set(picks)).toEqual(new Set([predicted]));
      }
    }
    expect(unpinned).toBeGreaterThan(0);
  });

  it('pinnableShardingKeys returns keys on distinct non-zero queues and refuses impossible requests', () => {
    const keys = pinnableShardingKeys('order', 3, 4);
    expect(keys).toHaveLength(3);
    expect(new Set(keys.map((k) => aliOnsShardingQueue(k, 4)))).toEqual(new Set([1, 2, 3]));
    expect(() => pinnableShardingKeys('order', 4, 4)).toThrow(/at least 5 queues/);
    expect(() => aliOnsShardingQueue('k', 0)).toThrow(/positive integer/);
  });
});
