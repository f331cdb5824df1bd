/**
 * AllocateMessageQueueAveragelyByCircle ("AVG_BY_CIRCLE"): queue k goes to consumer k % c,
 * dealing queues round the table. 8 queues over 3 consumers: [0,3,6] [1,4,7] [2,5].
 */
import type { MessageQueue } from '@karman/client';
import type { AllocateStrategy } from './allocate-strategy.js';
import { checkedInputs } from './allocate-strategy.js';

export const allocateAveragelyByCircle: AllocateStrategy = {
  name: 'AVG_BY_CIRCLE',
  allocate(_group, currentCid, mqAll, cidAll) {
    const input = checkedInputs(currentCid, mqAll, cidAll);
    if (!input) return [];
    const result: MessageQueue[] = [];
    for (let k = input.index; k < input.queues.length; k += input.cids.length) result.push(input.queues[k]!);
    return result;
  },
};
