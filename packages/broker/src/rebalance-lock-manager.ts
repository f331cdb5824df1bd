/**
 * Broker-side queue locks for orderly consumption (RocketMQ `RebalanceLockManager`). A
 * queue is locked to one client id of a group; the lock is granted when the queue is free, when
 * its lock expired (`rebalanceLockMaxLiveTime`, 60 s after the last renewal), or when the same
 * client already holds it (a renewal).
 */

export interface QueueRef {
  topic: string;
  brokerName: string;
  queueId: number;
}

interface LockEntry {
  clientId: string;
  lastUpdateTimestamp: number;
}

export class RebalanceLockManager {
  /** group → "topic@brokerName@queueId" → lock */
  private readonly locks = new Map<string, Map<string, LockEntry>>();

  constructor(
    private readonly lockMaxLiveTime: number,
    private readonly clock: () => number = Date.now,
  ) {}

  /** Try to lock each queue for a client; returns the queues it now holds. */
  tryLockBatch(group: string, queues: QueueRef[], clientId: string): QueueRef[] {
    const now = this.clock();
    let table = this.locks.get(group);
    if (!table) this.locks.set(group, (table = new Map()));
    // Expired locks are dropped here, so a client that went away leaves nothing behind for long.
    for (const [key, entry] of table) if (now - entry.lastUpdateTimestamp > this.lockMaxLiveTime) table.delete(key);
    const granted: QueueRef[] = [];
    for (const queue of queues) {
      const key = keyOf(queue);
      const entry = table.get(key);
      if (!entry || entry.clientId === clientId || now - entry.lastUpdateTimestamp > this.lockMaxLiveTime) {
        table.set(key, { clientId, lastUpdateTimestamp: now });
        granted.push(queue);
      }
    }
    if (table.size === 0) this.locks.delete(group);
    return granted;
  }

  /** Locks held (live or not yet swept), for tests and metrics. */
  get size(): number {
    let n = 0;
    for (const table of this.locks.values()) n += table.size;
    return n;
  }

  /** Release the queues a client holds; locks held by others are left alone. */
  unlockBatch(group: string, queues: QueueRef[], clientId: string): void {
    const table = this.locks.get(group);
    if (!table) return;
    for (const queue of queues) {
      const key = keyOf(queue);
      if (table.get(key)?.clientId === clientId) table.delete(key);
    }
    if (table.size === 0) this.locks.delete(group);
  }

  /** The client holding a queue's live lock, if any. */
  holder(group: string, queue: QueueRef): string | undefined {
    const entry = this.locks.get(group)?.get(keyOf(queue));
    if (!entry || this.clock() - entry.lastUpdateTimestamp > this.lockMaxLiveTime) return undefined;
    return entry.clientId;
  }
}

function keyOf(queue: QueueRef): string {
  return `${queue.topic}@${queue.brokerName}@${queue.queueId}`;
}
