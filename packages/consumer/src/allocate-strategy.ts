/**
 * How a consumer group shares a topic's queues (RocketMQ `AllocateMessageQueueStrategy`).
 * Every member runs the same strategy over the same sorted inputs and takes only its own share, so
 * no coordinator is needed; members that momentarily see different inputs may briefly double-assign
 * or leave a queue unassigned, which is RocketMQ's known source of duplicates.
 *
 * Strategies are small named objects behind this one type. Each sorts its inputs first,
 * so a caller that forgets to sort still gets the answer every other member computes.
 */
import type { MessageQueue } from '@karman/client';
import { sortQueues } from '@karman/client';

/** One allocation strategy: which of `mqAll` the consumer `currentCid` of `consumerGroup` takes. */
export interface AllocateStrategy {
  /** RocketMQ's name for it (`AVG`, `AVG_BY_CIRCLE`, `CONSISTENT_HASH`, ...), shown in status and logs. */
  readonly name: string;
  allocate(consumerGroup: string, currentCid: string, mqAll: readonly MessageQueue[], cidAll: readonly string[]): MessageQueue[];
}

/** Client ids in the lexical order every member uses (Java `Collections.sort` on strings). */
export function sortClientIds(cidAll: readonly string[]): string[] {
  return [...new Set(cidAll)].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
}

/**
 * The validated, sorted inputs of a strategy, or undefined when the current client must get nothing:
 * RocketMQ's `check` refuses empty inputs and logs (and returns nothing for) a client id absent from
 * the list, which happens while a new member's heartbeat has not reached the broker yet.
 */
export function checkedInputs(currentCid: string, mqAll: readonly MessageQueue[], cidAll: readonly string[]): { queues: MessageQueue[]; cids: string[]; index: number } | undefined {
  if (!currentCid || mqAll.length === 0 || cidAll.length === 0) return undefined;
  const cids = sortClientIds(cidAll);
  const index = cids.indexOf(currentCid);
  if (index < 0) return undefined;
  return { queues: sortQueues([...mqAll]), cids, index };
}
