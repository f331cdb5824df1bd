/**
 * `PullConsumer` (RocketMQ `DefaultLitePullConsumer`): the application asks for messages with
 * `poll(timeout)` instead of giving a handler. Queues come from rebalancing (`subscribe`, shared with
 * the group like a push consumer) or are chosen by the application (`assign`); the same background
 * long-polling pulls fill a buffer per consumer, bounded by `pullThresholdForQueue` and
 * `pullThresholdForAll`.
 *
 * Offsets, as in RocketMQ: `poll` counts what it returns as consumed; `commit()` makes the consumed
 * offsets the group's committed ones and sends them to the broker (or the local file). With
 * `autoCommit` (default), each `poll` first commits what earlier polls returned once
 * `autoCommitIntervalMillis` has passed, so a crash re-delivers at most that window.
 */
import { queueKey, subscribeQueues } from '@karman/client';
import type { MessageQueue } from '@karman/client';
import { InvalidArgumentError, KarmanError } from '@karman/protocol';
import { getMaxOffset, getMinOffset } from './broker-requests.js';
import type { ConsumedMessage } from './consumed-message.js';
import { ConsumerBase } from './consumer-base.js';
import type { QueueEntry } from './consumer-base.js';
import { resolvePullConsumerOptions } from './consumer-options.js';
import type { PullConsumerOptions, ResolvedPullConsumerOptions } from './consumer-options.js';
import { ReadOffsetType } from './offset-store.js';
import { buildSubscription } from './subscription.js';

interface ReadyBatch {
  entry: QueueEntry;
  messages: ConsumedMessage[];
}

export class PullConsumer extends ConsumerBase<ResolvedPullConsumerOptions> implements AsyncDisposable {
  protected readonly consumeType = 'CONSUME_ACTIVELY' as const;
  private assigned: MessageQueue[] | undefined;
  private readonly ready: ReadyBatch[] = [];
  private buffered = 0;
  private readonly pollers: Array<() => void> = [];
  private readonly paused = new Set<string>();
  private readonly consumed = new Map<string, { queue: MessageQueue; offset: number }>();
  private nextAutoCommit = 0;

  constructor(options: PullConsumerOptions) {
    const resolved = resolvePullConsumerOptions(options);
    super(resolved, options);
  }

  /** Join the group and start pulling the subscribed (or assigned) queues. */
  async start(): Promise<void> {
    if (this.client) return;
    if (this.subscriptions.size === 0) throw new InvalidArgumentError(`pull consumer "${this.options.group}" has nothing to consume: call subscribe(topic, "*") or assign(queues) before start`);
    this.nextAutoCommit = Date.now() + this.options.autoCommitIntervalMillis;
    await this.startBase();
    if (this.assigned) await this.applyAssignment();
  }

  /** Commit (when auto-committing), release the queues and leave the group. */
  async shutdown(): Promise<void> {
    if (!this.client) return;
    if (this.options.autoCommit) this.commitConsumed();
    for (const wake of this.pollers.splice(0)) wake();
    await this.shutdownBase(async () => undefined);
    this.ready.length = 0;
    this.buffered = 0;
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.shutdown();
  }

  override subscribe(topic: string, expression = '*'): this {
    if (this.assigned) throw new InvalidArgumentError('this pull consumer uses assign(); subscribe and assign cannot be mixed on one consumer');
    return super.subscribe(topic, expression);
  }

  /**
   * Consume exactly these queues, without rebalancing (RocketMQ's `assign`). Replaces an earlier
   * assignment; cannot be mixed with `subscribe`.
   */
  assign(queues: readonly MessageQueue[]): this {
    if (!this.assigned && this.subscriptions.size > 0) throw new InvalidArgumentError('this pull consumer uses subscribe(); subscribe and assign cannot be mixed on one consumer');
    this.assigned = queues.map(({ topic, brokerName, queueId }) => ({ topic, brokerName, queueId }));
    for (const topic of new Set(this.assigned.map((q) => q.topic))) if (!this.subscriptions.has(topic)) this.subscriptions.set(topic, buildSubscription(topic, '*'));
    if (this.client) {
      void this.applyAssignment().catch((error: unknown) => {
        for (const topic of new Set(this.assigned?.map((q) => q.topic))) this.emit({ type: 'rebalance_failed', topic, error: error as Error });
      });
    }
    return this;
  }

  private async applyAssignment(): Promise<void> {
    const assigned = this.assigned ?? [];
    for (const sub of this.subscriptions.values()) {
      await this.updateQueues(
        sub,
        assigned.filter((q) => q.topic === sub.topic),
      );
    }
  }

  protected override rebalancing(): boolean {
    return this.assigned === undefined;
  }

  protected override subscribesRetryTopic(): boolean {
    return false;
  }

  /** Every queue of a topic, from its route. */
  async fetchMessageQueues(topic: string): Promise<MessageQueue[]> {
    const client = this.started();
    const route = await client.updateRoute(topic);
    if (!route) throw new KarmanError('NO_ROUTE', `topic "${topic}" has no route on nameserver ${client.currentNameServer}; create it first`);
    return subscribeQueues(topic, route);
  }

  /** Stop pulling these queues until `resume` (their buffered messages stay). */
  pause(queues: readonly MessageQueue[]): void {
    for (const q of queues) this.paused.add(queueKey(q));
  }

  resume(queues: readonly MessageQueue[]): void {
    for (const q of queues) this.paused.delete(queueKey(q));
  }

  /**
   * Up to `pollBatchSize` messages of one queue, waiting up to `timeoutMillis` (5 s) for some;
   * an empty array when none came. Returned messages count as consumed.
   */
  async poll(timeoutMillis = 5_000, signal?: AbortSignal): Promise<ConsumedMessage[]> {
    this.started();
    if (this.options.autoCommit && Date.now() >= this.nextAutoCommit) {
      this.commitConsumed();
      this.nextAutoCommit = Date.now() + this.options.autoCommitIntervalMillis;
    }
    const deadline = Date.now() + timeoutMillis;
    for (;;) {
      const taken = this.take();
      if (taken) return taken;
      const left = deadline - Date.now();
      if (left <= 0 || !this.running || signal?.aborted) return [];
      await new Promise<void>((resolve) => {
        const done = (): void => {
          clearTimeout(timer);
          signal?.removeEventListener('abort', done);
          resolve();
        };
        const timer = setTimeout(done, left);
        this.pollers.push(done);
        signal?.addEventListener('abort', done, { once: true });
      });
    }
  }

  private take(): ConsumedMessage[] | undefined {
    while (this.ready.length > 0) {
      const batch = this.ready[0]!;
      const current = this.entries.get(queueKey(batch.entry.queue));
      if (batch.entry.pq.dropped || current !== batch.entry) {
        // Revoked or sought away: its messages belong to the next owner / the new position.
        this.ready.shift();
        this.buffered -= batch.messages.length;
        continue;
      }
      const messages = batch.messages.splice(0, this.options.pollBatchSize);
      if (batch.messages.length === 0) this.ready.shift();
      this.buffered -= messages.length;
      const offset = batch.entry.pq.removeMessage(messages);
      if (offset >= 0) this.consumed.set(queueKey(batch.entry.queue), { queue: batch.entry.queue, offset });
      return messages;
    }
    return undefined;
  }

  /** Make what `poll` returned the committed offsets and send them now (RocketMQ's `commitSync`). */
  async commit(): Promise<void> {
    this.started();
    this.commitConsumed();
    await this.persistOffsets();
  }

  private commitConsumed(): void {
    for (const [key, { queue, offset }] of this.consumed) {
      if (this.entries.has(key)) this.offsetStore?.updateOffset(queue, offset, false);
    }
  }

  /** The group's committed offset of a queue as stored (broker or file); -1 when none. */
  async committed(queue: MessageQueue): Promise<number> {
    this.started();
    return this.offsetStore!.readOffset(queue, ReadOffsetType.STORE);
  }

  /**
   * Continue an assigned queue from `offset` (between its min and max offsets): what was buffered
   * for it is dropped and the next poll returns messages from there.
   */
  async seek(queue: MessageQueue, offset: number): Promise<void> {
    const client = this.started();
    const entry = this.entries.get(queueKey(queue));
    if (!entry) throw new InvalidArgumentError(`cannot seek ${queueKey(queue)}: it is not assigned to this consumer (assigned: ${this.assignment().map(queueKey).join(', ') || 'none'})`);
    const address = await this.brokerAddressOf(queue);
    const timeout = this.options.brokerRequestTimeoutMillis;
    const [min, max] = await Promise.all([getMinOffset(client, address, queue, timeout), getMaxOffset(client, address, queue, timeout)]);
    if (!Number.isSafeInteger(offset) || offset < min || offset > max) throw new InvalidArgumentError(`cannot seek ${queueKey(queue)} to ${offset}: the offset must be between ${min} and ${max}`);
    this.consumed.set(queueKey(queue), { queue: entry.queue, offset });
    this.offsetStore!.updateOffset(queue, offset, false);
    await this.restartQueue(entry, offset);
  }

  protected override offsetWasReset(queue: MessageQueue, offset: number): void {
    const key = queueKey(queue);
    if (this.consumed.has(key)) this.consumed.set(key, { queue: this.entries.get(key)?.queue ?? queue, offset });
  }

  /** Seek to the queue's first stored message. */
  async seekToBegin(queue: MessageQueue): Promise<void> {
    const client = this.started();
    await this.seek(queue, await getMinOffset(client, await this.brokerAddressOf(queue), queue, this.options.brokerRequestTimeoutMillis));
  }

  /** Seek past the queue's last message. */
  async seekToEnd(queue: MessageQueue): Promise<void> {
    const client = this.started();
    await this.seek(queue, await getMaxOffset(client, await this.brokerAddressOf(queue), queue, this.options.brokerRequestTimeoutMillis));
  }

  private started(): NonNullable<typeof this.client> {
    if (!this.client || this.stopping) throw new KarmanError('CONSUMER_NOT_STARTED', 'the pull consumer is not running; call `await consumer.start()` first');
    return this.client;
  }

  protected pullDelay(entry: QueueEntry): number {
    if (this.paused.has(queueKey(entry.queue)) || entry.pq.count > this.options.pullThresholdForQueue || this.buffered > this.options.pullThresholdForAll) {
      return this.options.pullTimeDelayMillsWhenFlowControl;
    }
    return 0;
  }

  protected deliver(entry: QueueEntry, messages: ConsumedMessage[]): void {
    const added = entry.pq.put(messages);
    if (added.length === 0) return;
    this.ready.push({ entry, messages: added });
    this.buffered += added.length;
    for (const wake of this.pollers.splice(0)) wake();
  }
}
