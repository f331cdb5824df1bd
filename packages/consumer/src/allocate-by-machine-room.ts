/**
 * AllocateMessageQueueByMachineRoom ("MACHINE_ROOM"): only queues of brokers named
 * `room@name` whose room is one of `consumeridcs` are shared; each consumer takes `m / c` contiguous
 * ones starting at `i × (m / c)`, and the first `m % c` consumers one more from the tail.
 */
import type { MessageQueue } from '@karman/client';
import type { AllocateStrategy } from './allocate-strategy.js';
import { checkedInputs } from './allocate-strategy.js';

/** A machine-room strategy consuming the brokers of the rooms `consumeridcs`. */
export function allocateByMachineRoom(consumeridcs: readonly string[]): AllocateStrategy {
  const rooms = new Set(consumeridcs);
  return {
    name: 'MACHINE_ROOM',
    allocate(_group, currentCid, mqAll, cidAll) {
      const input = checkedInputs(currentCid, mqAll, cidAll);
      if (!input) return [];
      const { cids, index } = input;
      const premqAll = input.queues.filter((q) => {
        const parts = q.brokerName.split('@');
        return parts.length === 2 && rooms.has(parts[0]!);
      });
      const mod = Math.floor(premqAll.length / cids.length);
      const rem = premqAll.length % cids.length;
      const result: MessageQueue[] = premqAll.slice(mod * index, mod * index + mod);
      if (rem > index) result.push(premqAll[index + mod * cids.length]!);
      return result;
    },
  };
}
