/**
 * Where ali-ons 3.12.0 puts a message with a `shardingKey` (lib/producer/topic_publish_info.js):
 * the first 4 bytes of the key's MD5, big-endian unsigned, modulo the number of distinct writable
 * queue ids, indexes that list. The client then compares the picked queue id for truthiness, so
 * queue 0 reads as "no constraint" and the message goes round-robin (an ali-ons defect, listed
 * in this package's README): ordered tests must use keys that do not land on queue 0. The hash is
 * deterministic, so the test can choose its keys up front.
 */
import { createHash } from 'node:crypto';
import { InvalidArgumentError } from '@karman/protocol';

/** The queue index ali-ons computes for `key` over `queueCount` queues (0-based; 0 is the broken case). */
export function aliOnsShardingQueue(key: string, queueCount: number): number {
  if (!Number.isInteger(queueCount) || queueCount < 1) throw new InvalidArgumentError(`queueCount ${queueCount} must be a positive integer (the topic's writable queues)`);
  return createHash('md5').update(key).digest().readUInt32BE(0) % queueCount;
}

/**
 * `count` keys `${prefix}-0`, `${prefix}-1`, ... skipping those that ali-ons would not pin (queue 0),
 * each on a different queue when `distinctQueues` (needs count < queueCount).
 */
export function pinnableShardingKeys(prefix: string, count: number, queueCount: number, distinctQueues = true): string[] {
  if (distinctQueues && count >= queueCount) throw new InvalidArgumentError(`${count} keys on distinct queues need at least ${count + 1} queues (queue 0 is unusable), not ${queueCount}`);
  const keys: string[] = [];
  const used = new Set<number>();
  for (let i = 0; keys.length < count; i++) {
    const key = `${prefix}-${i}`;
    const queue = aliOnsShardingQueue(key, queueCount);
    if (queue === 0 || (distinctQueues && used.has(queue))) continue;
    used.add(queue);
    keys.push(key);
  }
  return keys;
}
