/**
 * AllocateMessageQueueAveragely ("AVG", RocketMQ's default): contiguous blocks, the first
 * `n % c` consumers taking one queue more. 8 queues over 3 consumers: [0,1,2] [3,4,5] [6,7].
 * Consumers beyond the queue count get nothing.
 */
import type { MessageQueue } from '@karman/client';
import type { AllocateStrategy } from './allocate-strategy.js';
import { checkedInputs } from './allocate-strategy.js';

export const allocateAveragely: AllocateStrategy = {
  name: 'AVG',
  allocate(_group, currentCid, mqAll, cidAll) {
    const input = checkedInputs(currentCid, mqAll, cidAll);
    if (!input) return [];
    const { queues, cids, index } = input;
    const n = queues.length;
    const c = cids.length;
    const mod = n % c;
    const size = n <= c ? 1 : mod > 0 && index < mod ? Math.floor(n / c) + 1 : Math.floor(n / c);
    const start = mod > 0 && index < mod ? index * size : index * size + mod;
    const range = Math.min(size, n - start);
    const result: MessageQueue[] = [];
    for (let i = 0; i < range; i++) result.push(queues[(start + i) % n]!);
    return result;
  },
};
