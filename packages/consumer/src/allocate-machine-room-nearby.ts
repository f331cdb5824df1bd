/**
 * AllocateMachineRoomNearby ("MACHINE_ROOM_NEARBY-<inner>"): consume in your own machine room
 * and help rooms that have nobody. A resolver tells which room a queue's broker and a consumer live
 * in; then (1) the inner strategy shares my room's queues among my room's consumers, and (2) for
 * every room with queues but no live consumer, the inner strategy shares its queues among all
 * consumers.
 */
import type { MessageQueue } from '@karman/client';
import { InvalidArgumentError } from '@karman/protocol';
import type { AllocateStrategy } from './allocate-strategy.js';
import { checkedInputs } from './allocate-strategy.js';

/** Where brokers and consumers are deployed (RocketMQ `MachineRoomResolver`). */
export interface MachineRoomResolver {
  brokerDeployIn(queue: MessageQueue): string;
  consumerDeployIn(clientId: string): string;
}

/** Machine-room-nearby allocation around an inner strategy. */
export function allocateMachineRoomNearby(inner: AllocateStrategy, resolver: MachineRoomResolver): AllocateStrategy {
  return {
    name: `MACHINE_ROOM_NEARBY-${inner.name}`,
    allocate(group, currentCid, mqAll, cidAll) {
      const input = checkedInputs(currentCid, mqAll, cidAll);
      if (!input) return [];
      // TreeMaps in RocketMQ: rooms are visited in sorted order.
      const queuesByRoom = new Map<string, MessageQueue[]>();
      for (const q of input.queues) {
        const room = resolver.brokerDeployIn(q);
        if (!room) throw new InvalidArgumentError(`the machine room resolver gave no room for broker "${q.brokerName}"; it must name one for every queue`);
        queuesByRoom.set(room, [...(queuesByRoom.get(room) ?? []), q]);
      }
      const consumersByRoom = new Map<string, string[]>();
      for (const cid of input.cids) {
        const room = resolver.consumerDeployIn(cid);
        if (!room) throw new InvalidArgumentError(`the machine room resolver gave no room for consumer "${cid}"; it must name one for every client id`);
        consumersByRoom.set(room, [...(consumersByRoom.get(room) ?? []), cid]);
      }
      const result: MessageQueue[] = [];
      const myRoom = resolver.consumerDeployIn(currentCid);
      const mine = queuesByRoom.get(myRoom);
      queuesByRoom.delete(myRoom);
      if (mine && mine.length > 0) result.push(...inner.allocate(group, currentCid, mine, consumersByRoom.get(myRoom) ?? []));
      for (const room of [...queuesByRoom.keys()].sort()) {
        if (!consumersByRoom.has(room)) result.push(...inner.allocate(group, currentCid, queuesByRoom.get(room)!, input.cids));
      }
      return result;
    },
  };
}
