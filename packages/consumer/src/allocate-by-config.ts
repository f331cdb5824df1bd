/**
 * AllocateMessageQueueByConfig ("CONFIG"): a fixed list of queues, whatever the group looks
 * like; the one strategy that does not validate its inputs. Useful to pin a consumer to queues
 * while keeping the push consumer's pull loop and offsets.
 */
import type { MessageQueue } from '@karman/client';
import type { AllocateStrategy } from './allocate-strategy.js';

/** A strategy that always answers `queues`. */
export function allocateByConfig(queues: readonly MessageQueue[]): AllocateStrategy {
  const fixed = queues.map((q) => ({ topic: q.topic, brokerName: q.brokerName, queueId: q.queueId }));
  return {
    name: 'CONFIG',
    allocate: () => fixed.map((q) => ({ ...q })),
  };
}
