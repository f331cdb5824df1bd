/**
 * Where a group's consume offsets live (RocketMQ `OffsetStore`). Offsets are kept in memory,
 * advanced as messages finish (only forwards, unless reset), and persisted now and then: to the
 * broker for clustering ({@link RemoteBrokerOffsetStore}), to a local file for broadcasting
 * (`LocalFileOffsetStore`). An offset here is always "the next offset to consume".
 */
import type { ClientInstance, MessageQueue } from '@karman/client';
import { queueKey } from '@karman/client';
import { KarmanError } from '@karman/protocol';
import { queryConsumerOffset, updateConsumerOffset } from './broker-requests.js';

/** Where `readOffset` looks (RocketMQ `ReadOffsetType`). */
export const ReadOffsetType = { MEMORY: 'MEMORY', STORE: 'STORE', MEMORY_FIRST_THEN_STORE: 'MEMORY_FIRST_THEN_STORE' } as const;
export type ReadOffsetType = (typeof ReadOffsetType)[keyof typeof ReadOffsetType];

export interface OffsetStore {
  /** Read what is persisted (the local file); a no-op for the broker store. */
  load(): Promise<void>;
  /** Set the in-memory offset; with `increaseOnly` a smaller value is ignored. */
  updateOffset(queue: MessageQueue, offset: number, increaseOnly: boolean): void;
  /** The offset, or -1 when none is known (memory: none in memory; store: none persisted). */
  readOffset(queue: MessageQueue, type: ReadOffsetType): Promise<number>;
  /** Persist these queues' in-memory offsets. Failures are reported, not thrown. */
  persistAll(queues: readonly MessageQueue[]): Promise<void>;
  /** Persist one queue's offset; throws when it could not be stored. */
  persist(queue: MessageQueue): Promise<void>;
  /** Forget a queue (after it was revoked and its offset persisted). */
  removeOffset(queue: MessageQueue): void;
}

interface OffsetEntry {
  queue: MessageQueue;
  offset: number;
  /** Set once removed, so a stale shortcut from the queue object is not used. */
  removed: boolean;
}

/** In-memory offsets keyed by queue, shared by both stores. */
export class OffsetTable {
  private readonly table = new Map<string, OffsetEntry>();
  /**
   * The entry by queue object: a push consumer moves a queue's offset after every message, always
   * with the same queue object, and building the string key each time was a visible cost.
   */
  private readonly byObject = new WeakMap<MessageQueue, OffsetEntry>();

  private entryOf(queue: MessageQueue): OffsetEntry | undefined {
    const cached = this.byObject.get(queue);
    // The shortcut holds while the entry is in the table and the object still names the same queue.
    if (cached !== undefined && !cached.removed && cached.queue.queueId === queue.queueId && cached.queue.topic === queue.topic && cached.queue.brokerName === queue.brokerName) return cached;
    const entry = this.table.get(queueKey(queue));
    if (entry !== undefined) this.byObject.set(queue, entry);
    return entry;
  }

  update(queue: MessageQueue, offset: number, increaseOnly: boolean): void {
    if (!Number.isSafeInteger(offset) || offset < 0) return;
    const entry = this.entryOf(queue);
    if (!entry) {
      const added: OffsetEntry = { queue: { ...queue }, offset, removed: false };
      this.table.set(queueKey(queue), added);
      this.byObject.set(queue, added);
    } else if (!increaseOnly || offset > entry.offset) entry.offset = offset;
  }

  get(queue: MessageQueue): number {
    return this.entryOf(queue)?.offset ?? -1;
  }

  remove(queue: MessageQueue): void {
    const key = queueKey(queue);
    const entry = this.table.get(key);
    if (entry) entry.removed = true;
    this.table.delete(key);
  }

  entries(): Array<{ queue: MessageQueue; offset: number }> {
    return [...this.table.values()].map((e) => ({ queue: { ...e.queue }, offset: e.offset }));
  }
}

/**
 * Clustering offsets (`RemoteBrokerOffsetStore`): committed to the queue's master, or any broker of
 * its group when the master is away (offsets committed to a slave are lost when the master comes
 * back: a known source of duplicates, as in RocketMQ's RemoteBrokerOffsetStore).
 */
export class RemoteBrokerOffsetStore implements OffsetStore {
  private readonly offsets = new OffsetTable();

  constructor(
    private readonly client: ClientInstance,
    private readonly group: string,
    private readonly timeoutMillis: number,
    private readonly onError: (queue: MessageQueue, error: Error) => void = () => undefined,
    private readonly setZeroIfNotFound = true,
  ) {}

  async load(): Promise<void> {}

  updateOffset(queue: MessageQueue, offset: number, increaseOnly: boolean): void {
    this.offsets.update(queue, offset, increaseOnly);
  }

  async readOffset(queue: MessageQueue, type: ReadOffsetType): Promise<number> {
    if (type !== ReadOffsetType.STORE) {
      const memory = this.offsets.get(queue);
      if (memory >= 0 || type === ReadOffsetType.MEMORY) return memory;
    }
    const offset = await queryConsumerOffset(this.client, await this.address(queue), this.group, queue, this.timeoutMillis, this.setZeroIfNotFound);
    if (offset >= 0) this.offsets.update(queue, offset, false);
    return offset;
  }

  async persistAll(queues: readonly MessageQueue[]): Promise<void> {
    await Promise.all(
      queues.map(async (queue) => {
        try {
          await this.persist(queue);
        } catch (error) {
          this.onError(queue, error as Error);
        }
      }),
    );
  }

  async persist(queue: MessageQueue): Promise<void> {
    const offset = this.offsets.get(queue);
    if (offset < 0) return;
    await updateConsumerOffset(this.client, await this.address(queue), this.group, queue, offset, this.timeoutMillis);
  }

  removeOffset(queue: MessageQueue): void {
    this.offsets.remove(queue);
  }

  private async address(queue: MessageQueue): Promise<string> {
    let address = this.client.findBrokerAddress(queue.brokerName, false);
    if (!address) {
      await this.client.updateRoute(queue.topic);
      address = this.client.findBrokerAddress(queue.brokerName, false);
    }
    if (!address) throw new KarmanError('NO_BROKER_ADDRESS', `broker ${queue.brokerName} of ${queue.topic} has no address in the routes; its offsets cannot be read or committed until it is back`);
    return address;
  }
}
