/**
 * `PushConsumer` (RocketMQ `DefaultMQPushConsumer`): pulls with long polling and calls a handler
 * for each message, either concurrently (up to `concurrency` calls at once, failures sent back for a
 * later retry) or orderly (one message at a time per queue, in offset order, under a broker
 * lock, failures retried locally after a pause). Instead of a handler, `messages()` gives an
 * async iterator.
 *
 * Flow control: a queue is not pulled while it holds more than
 * `pullThresholdForQueue` messages or `pullThresholdSizeForQueue` MiB, or (concurrent mode) while
 * its newest and oldest unconsumed offsets are more than `consumeConcurrentlyMaxSpan` apart.
 *
 * Delivery is at-least-once: the committed offset never passes an unfinished message, so a crash or
 * a rebalance re-delivers what was in flight.
 */
import type { MessageQueue } from '@karman/client';
import { queueKey } from '@karman/client';
import { InvalidArgumentError, KarmanError } from '@karman/protocol';
import { lockBatch, unlockBatch } from './broker-requests.js';
import type { ConsumedMessage } from './consumed-message.js';
import { ConsumerBase } from './consumer-base.js';
import type { QueueEntry } from './consumer-base.js';
import { ConsumeResult, resolvePushConsumerOptions } from './consumer-options.js';
import type { ConsumeContext, MessageHandler, PushConsumerOptions, ResolvedPushConsumerOptions } from './consumer-options.js';
import { sendMessageBack } from './message-back.js';
import { sleep } from './rebalance-service.js';
import { HandlerSlots } from './handler-slots.js';
import { MessageChannel } from './message-channel.js';

const MIB = 1024 * 1024;
/** Concurrent consumers retry 16 times by default (`maxReconsumeTimes` −1). */
const DEFAULT_MAX_RECONSUME_CONCURRENT = 16;
/** RocketMQ's `Integer.MAX_VALUE` for orderly consumers. */
const UNLIMITED_RECONSUME = 2_147_483_647;
/** How long a revoke waits for an orderly handler in progress before unlocking later (RocketMQ's 500 ms try-lock). */
const ORDERLY_REVOKE_WAIT_MILLIS = 500;

function isPromiseLike(value: unknown): value is PromiseLike<unknown> {
  return typeof (value as PromiseLike<unknown> | undefined)?.then === 'function';
}

export class PushConsumer extends ConsumerBase<ResolvedPushConsumerOptions> implements AsyncDisposable, AsyncIterable<ConsumedMessage> {
  protected readonly consumeType = 'CONSUME_PASSIVELY' as const;
  private readonly slots: HandlerSlots<QueueEntry, ConsumedMessage>;
  private handler: MessageHandler | undefined;
  private readonly inFlight = new Set<Promise<void>>();
  private readonly flowControlled = new Set<string>();
  private lockTimer: NodeJS.Timeout | undefined;
  private expiryTimer: NodeJS.Timeout | undefined;
  private readonly shutdownAbort = new AbortController();
  private iterator: MessageChannel | undefined;

  constructor(options: PushConsumerOptions) {
    const resolved = resolvePushConsumerOptions(options);
    super(resolved, options);
    this.slots = new HandlerSlots(resolved.concurrency, this.consumeInSlot);
    this.handler = resolved.handler;
  }

  /** Join the group and start consuming. Needs a handler, or call `messages()` first. */
  async start(): Promise<void> {
    if (this.client) return;
    if (!this.handler) throw new InvalidArgumentError('the push consumer has no handler: pass `handler` in the options, or iterate `consumer.messages()` (which starts it)');
    if (this.subscriptions.size === 0) throw new InvalidArgumentError(`consumer group "${this.options.group}" subscribes to nothing: pass \`subscriptions: { topic: "*" }\` or call subscribe(topic, "*") before start`);
    await this.startBase();
    if (!this.options.orderly && this.options.messageModel === 'CLUSTERING') {
      this.expiryTimer = setInterval(() => void this.cleanExpiredMessages(), this.consumeTimeoutMillis());
      this.expiryTimer.unref();
    }
    if (this.isOrderlyClustering()) {
      this.lockTimer = setInterval(() => void this.lockAll(), this.options.lockInterval);
      this.lockTimer.unref();
    }
  }

  /**
   * Stop pulling, wait for handlers in progress (their offsets are committed), commit offsets,
   * unlock orderly queues and leave the group. Messages pulled but not yet handled are redelivered
   * to whoever takes the queues.
   */
  async shutdown(): Promise<void> {
    if (!this.running) {
      this.iterator?.close();
      return;
    }
    clearInterval(this.lockTimer);
    clearInterval(this.expiryTimer);
    this.shutdownAbort.abort();
    this.iterator?.close();
    await this.shutdownBase(async () => {
      while (this.inFlight.size > 0) await Promise.allSettled([...this.inFlight]);
    });
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.shutdown();
  }

  /**
   * Consume as an async iterator: `for await (const message of consumer.messages())`. Starts the
   * consumer. A message counts as consumed when the loop asks for the next one; leaving the loop
   * (break, return or throw) shuts the consumer down, and the message in hand is not committed, so
   * it is delivered again later (at-least-once). One message is handed out at a time.
   */
  messages(): AsyncIterable<ConsumedMessage> {
    if (this.handler && !this.iterator) throw new InvalidArgumentError('this consumer has a handler; use either a handler or messages(), not both');
    if (this.iterator) throw new InvalidArgumentError('messages() can be iterated once per consumer');
    const channel = new MessageChannel(() => this.shutdown());
    this.iterator = channel;
    this.handler = (message) => channel.push(message);
    return {
      [Symbol.asyncIterator]: () => {
        const startup = this.start();
        return channel.iterator(startup);
      },
    };
  }

  [Symbol.asyncIterator](): AsyncIterator<ConsumedMessage> {
    return this.messages()[Symbol.asyncIterator]();
  }

  private isOrderlyClustering(): boolean {
    return this.options.orderly && this.options.messageModel === 'CLUSTERING';
  }

  private maxReconsumeTimes(): number {
    if (this.options.maxReconsumeTimes >= 0) return this.options.maxReconsumeTimes;
    return this.options.orderly ? UNLIMITED_RECONSUME : DEFAULT_MAX_RECONSUME_CONCURRENT;
  }

  // -------------------------------------------------------------------------------------------
  // Pull hooks

  protected pullDelay(entry: QueueEntry): number {
    const { pq, queue } = entry;
    const o = this.options;
    let reason: 'count' | 'size' | 'span' | undefined;
    if (pq.count > o.pullThresholdForQueue) reason = 'count';
    else if (pq.size > o.pullThresholdSizeForQueue * MIB) reason = 'size';
    else if (!o.orderly && pq.span > o.consumeConcurrentlyMaxSpan) reason = 'span';
    const key = queueKey(queue);
    if (reason) {
      // Reported when a queue enters flow control, not on every 50 ms re-check.
      if (!this.flowControlled.has(key)) this.emit({ type: 'flow_control', queue: { ...queue }, reason });
      this.flowControlled.add(key);
      return o.pullTimeDelayMillsWhenFlowControl;
    }
    this.flowControlled.delete(key);
    // an orderly queue is pulled only while its broker lock is held.
    if (this.isOrderlyClustering() && pq.lockExpired(o.lockMaxLiveTime)) return o.pullTimeDelayMillsWhenException;
    return 0;
  }

  protected override pullStuck(entry: QueueEntry): boolean {
    return Date.now() - entry.pq.lastPullTimestamp > this.options.pullMaxIdleTime;
  }

  protected deliver(entry: QueueEntry, messages: ConsumedMessage[]): void {
    const added = entry.pq.put(messages);
    if (this.options.orderly) {
      this.kickOrderly(entry);
      return;
    }
    for (const message of added) this.slots.run(entry, message);
  }

  private track(task: Promise<void>): void {
    this.inFlight.add(task);
    void task.finally(() => this.inFlight.delete(task));
  }

  /** Run the handler; true on success. Throwing or answering "later"/"suspend" is failure. */
  private async callHandler(entry: QueueEntry, message: ConsumedMessage, context: ConsumeContext): Promise<boolean> {
    try {
      const result = await this.handler!(message, context);
      if (result === undefined || result === ConsumeResult.CONSUME_SUCCESS) return true;
      this.emit({ type: 'handler_failed', queue: { ...entry.queue }, msgId: message.msgId, queueOffset: message.queueOffset, error: undefined });
      return false;
    } catch (error) {
      this.emit({ type: 'handler_failed', queue: { ...entry.queue }, msgId: message.msgId, queueOffset: message.queueOffset, error: error as Error });
      return false;
    }
  }

  private contextFor(entry: QueueEntry): ConsumeContext {
    // The entry's own signal: aborted when the queue is revoked, and for every queue at shutdown.
    return { group: this.options.group, queue: { ...entry.queue }, delayLevelWhenNextConsume: 0, signal: entry.abort.signal };
  }

  // -------------------------------------------------------------------------------------------
  // Concurrent consumption

  /**
   * Handle one message in a slot (`HandlerSlots` calls this; the slot is released through `done`).
   * A handler that answers without a promise is finished here, in the same call: no promise or
   * closure per message, which at a few hundred thousand messages a second is most of the cost.
   * One that returns a promise is tracked until it settles, so shutdown waits for it.
   */
  private readonly consumeInSlot = (entry: QueueEntry, message: ConsumedMessage, done: () => void): void => {
    // Revoked before its turn: the queue's next owner gets it from the committed offset.
    if (entry.pq.dropped) {
      done();
      return;
    }
    const context = this.contextFor(entry);
    let result: ReturnType<MessageHandler>;
    try {
      result = this.handler!(message, context);
    } catch (error) {
      this.handlerFailed(entry, message, error as Error);
      this.track(this.finishConcurrently(entry, message, context, false).finally(done));
      return;
    }
    if (isPromiseLike(result)) {
      // Only a handler still running can outlive consumeTimeout; a synchronous one never needs the mark.
      entry.pq.markConsumeStart(message);
      this.track(
        Promise.resolve(result)
          .then(
            (answer) => this.succeeded(entry, message, answer),
            (error: unknown) => {
              this.handlerFailed(entry, message, error as Error);
              return false;
            },
          )
          .then((ok) => this.finishConcurrently(entry, message, context, ok))
          .finally(done),
      );
      return;
    }
    if (this.succeeded(entry, message, result)) {
      this.commitConsumed(entry, message);
      done();
      return;
    }
    this.track(this.finishConcurrently(entry, message, context, false).finally(done));
  };

  /** Whether a handler's answer means success; reports the failure otherwise. */
  private succeeded(entry: QueueEntry, message: ConsumedMessage, answer: void | ConsumeResult): boolean {
    if (answer === undefined || answer === ConsumeResult.CONSUME_SUCCESS) return true;
    this.emit({ type: 'handler_failed', queue: { ...entry.queue }, msgId: message.msgId, queueOffset: message.queueOffset, error: undefined });
    return false;
  }

  private handlerFailed(entry: QueueEntry, message: ConsumedMessage, error: Error): void {
    this.emit({ type: 'handler_failed', queue: { ...entry.queue }, msgId: message.msgId, queueOffset: message.queueOffset, error });
  }

  /**
   * A message handled successfully: drop it from the process queue and move the offset; nothing to
   * do when the queue was revoked or the consumeTimeout check already sent the message back.
   */
  private commitConsumed(entry: QueueEntry, message: ConsumedMessage): void {
    const pq = entry.pq;
    if (pq.dropped || !pq.holds(message)) return;
    const offset = pq.removeOne(message);
    if (offset >= 0) this.offsetStore!.updateOffset(entry.queue, offset, true);
  }

  /** After a handler call: commit a success, or send a failure back (or retry it locally). */
  private async finishConcurrently(entry: QueueEntry, message: ConsumedMessage, context: ConsumeContext, ok: boolean): Promise<void> {
    if (ok) {
      this.commitConsumed(entry, message);
      return;
    }
    // A failure while shutting down is left uncommitted (redelivered later), never sent back; a
    // message already sent back by the consumeTimeout check is not sent back twice.
    if (entry.pq.dropped || !entry.pq.holds(message) || this.shutdownAbort.signal.aborted) return;
    if (this.options.messageModel === 'BROADCASTING') {
      // broadcasting has no retry topic; a failed message is reported and dropped.
      this.emit({ type: 'message_dropped', msgId: message.msgId, reason: 'the handler failed in broadcasting mode, which has no retry' });
    } else {
      try {
        const path = await sendMessageBack(this.client!, message, {
          group: this.options.group,
          delayLevel: context.delayLevelWhenNextConsume,
          maxReconsumeTimes: this.maxReconsumeTimes(),
          timeoutMillis: this.options.sendMessageBackTimeout,
        });
        this.emit({ type: 'message_sent_back', msgId: message.msgId, reconsumeTimes: message.reconsumeTimes, path });
      } catch (error) {
        message.reconsumeTimes++;
        this.emit({ type: 'local_retry', msgId: message.msgId, reconsumeTimes: message.reconsumeTimes, error: error as Error });
        // Its slot is released meanwhile (the caller's finally); the retry takes a new one.
        this.track(this.retryLocally(entry, message));
        return;
      }
    }
    const offset = entry.pq.removeOne(message);
    if (offset >= 0 && !entry.pq.dropped) this.offsetStore!.updateOffset(entry.queue, offset, true);
  }

  private consumeTimeoutMillis(): number {
    return Math.max(1, Math.round(this.options.consumeTimeout * 60_000));
  }

  /**
   * RocketMQ's `cleanExpireMsg`: a message stuck in its handler longer than `consumeTimeout`
   * holds the queue's offset (and, past the span limit, its pulls); send it back with delay level 3
   * and let the offset move on. At most 16 per queue per round, head first.
   */
  private async cleanExpiredMessages(): Promise<void> {
    const client = this.client;
    if (!client) return;
    for (const entry of this.entries.values()) {
      for (let i = 0; i < 16; i++) {
        const message = entry.pq.expiredHead(this.consumeTimeoutMillis());
        if (!message || entry.pq.dropped) break;
        try {
          const path = await sendMessageBack(client, message, { group: this.options.group, delayLevel: 3, maxReconsumeTimes: this.maxReconsumeTimes(), timeoutMillis: this.options.sendMessageBackTimeout });
          this.emit({ type: 'message_sent_back', msgId: message.msgId, reconsumeTimes: message.reconsumeTimes, path });
        } catch {
          break;
        }
        const offset = entry.pq.removeMessage([message]);
        if (offset >= 0 && !entry.pq.dropped) this.offsetStore!.updateOffset(entry.queue, offset, true);
      }
    }
  }

  /** The last resort of RocketMQ's sendMessageBack: keep the message in flight (holding the offset) and try it again later. */
  private async retryLocally(entry: QueueEntry, message: ConsumedMessage): Promise<void> {
    await sleep(this.options.localRetryDelayMillis, entry.abort.signal);
    if (entry.pq.dropped || this.stopping) return;
    await new Promise<void>((resolve) => this.slots.run(entry, message, resolve));
  }

  // -------------------------------------------------------------------------------------------
  // Orderly consumption

  private kickOrderly(entry: QueueEntry): void {
    const { pq } = entry;
    if (pq.consuming || pq.dropped || this.stopping) return;
    const run = this.consumeOrderly(entry).finally(() => {
      pq.consuming = undefined;
    });
    pq.consuming = run;
    this.track(run);
  }

  private async consumeOrderly(entry: QueueEntry): Promise<void> {
    const { pq } = entry;
    const signal = entry.abort.signal;
    while (!pq.dropped && !this.stopping) {
      if (this.isOrderlyClustering() && pq.lockExpired(this.options.lockMaxLiveTime)) {
        // Lost or stale lock: stop; the lock renewal (or the next rebalance) resumes the queue.
        if (!(await this.lockQueues(entry.queue.brokerName, [entry]))) return;
        continue;
      }
      const message = pq.first();
      if (!message) return;
      await this.slots.acquire();
      let ok: boolean;
      try {
        if (pq.dropped || this.stopping) return;
        ok = await this.callHandler(entry, message, this.contextFor(entry));
      } finally {
        this.slots.release();
      }
      if (pq.dropped || (!ok && this.shutdownAbort.signal.aborted)) return;
      if (!ok) {
        if (message.reconsumeTimes < this.maxReconsumeTimes() || this.options.messageModel === 'BROADCASTING') {
          message.reconsumeTimes++;
          await sleep(this.options.suspendCurrentQueueTimeMillis, signal);
          continue;
        }
        // Out of local retries: send it toward the DLQ; if even that fails, keep the queue suspended.
        try {
          await sendMessageBack(this.client!, message, { group: this.options.group, delayLevel: 0, maxReconsumeTimes: this.maxReconsumeTimes(), timeoutMillis: this.options.sendMessageBackTimeout });
        } catch (error) {
          message.reconsumeTimes++;
          this.emit({ type: 'local_retry', msgId: message.msgId, reconsumeTimes: message.reconsumeTimes, error: error as Error });
          await sleep(this.options.suspendCurrentQueueTimeMillis, signal);
          continue;
        }
      }
      const offset = pq.removeMessage([message]);
      if (offset >= 0) this.offsetStore!.updateOffset(entry.queue, offset, false);
    }
  }

  protected override async prepareQueue(entry: QueueEntry): Promise<boolean> {
    if (!this.isOrderlyClustering()) return true;
    // rebalance adds an orderly queue only once its broker lock is held.
    return this.lockQueues(entry.queue.brokerName, [entry]);
  }

  protected override async queueRemoved(entry: QueueEntry): Promise<void> {
    if (!this.isOrderlyClustering()) return;
    const consuming = entry.pq.consuming;
    if (consuming) {
      const finished = await Promise.race([consuming.then(() => true), sleep(ORDERLY_REVOKE_WAIT_MILLIS).then(() => false)]);
      if (!finished) {
        // Keep the broker lock until the handler in progress ends, so the next owner cannot start
        // the queue meanwhile and break its order (RocketMQ delays the unlock likewise).
        void consuming.finally(() => this.unlock([entry.queue]));
        return;
      }
    }
    await this.unlock([entry.queue]);
  }

  protected override async releaseQueues(entries: QueueEntry[]): Promise<void> {
    if (this.isOrderlyClustering()) await this.unlock(entries.map((e) => e.queue));
  }

  /** LOCK_BATCH_MQ for some queues of one broker; marks each entry locked or not; true when all were. */
  private async lockQueues(brokerName: string, entries: QueueEntry[]): Promise<boolean> {
    const client = this.client;
    if (!client || entries.length === 0) return false;
    let locked: Set<string>;
    try {
      const address = client.findBrokerAddress(brokerName, true);
      if (!address) throw new KarmanError('NO_BROKER_ADDRESS', `broker ${brokerName} has no master to lock queues on`);
      const ok = await lockBatch(client, address, this.options.group, client.clientId, entries.map((e) => e.queue), this.options.brokerRequestTimeoutMillis);
      locked = new Set(ok.map(queueKey));
    } catch {
      locked = new Set();
    }
    const now = Date.now();
    let all = true;
    for (const entry of entries) {
      if (locked.has(queueKey(entry.queue))) {
        entry.pq.locked = true;
        entry.pq.lastLockTimestamp = now;
      } else {
        entry.pq.locked = false;
        all = false;
        this.emit({ type: 'lock_failed', queue: { ...entry.queue } });
      }
    }
    return all;
  }

  /** Renew every orderly lock (every `lockInterval`) and resume queues that have messages waiting. */
  private async lockAll(): Promise<void> {
    const byBroker = new Map<string, QueueEntry[]>();
    for (const entry of this.entries.values()) byBroker.set(entry.queue.brokerName, [...(byBroker.get(entry.queue.brokerName) ?? []), entry]);
    await Promise.all([...byBroker].map(([brokerName, entries]) => this.lockQueues(brokerName, entries)));
    for (const entry of this.entries.values()) if (entry.pq.locked && entry.pq.count > 0) this.kickOrderly(entry);
  }

  private async unlock(queues: MessageQueue[]): Promise<void> {
    const client = this.client;
    if (!client) return;
    const byBroker = new Map<string, MessageQueue[]>();
    for (const q of queues) byBroker.set(q.brokerName, [...(byBroker.get(q.brokerName) ?? []), q]);
    await Promise.all(
      [...byBroker].map(async ([brokerName, qs]) => {
        const address = client.findBrokerAddress(brokerName, true);
        if (!address) return;
        // A failed unlock is harmless: the broker expires the lock after 60 s.
        await unlockBatch(client, address, this.options.group, client.clientId, qs, this.options.brokerRequestTimeoutMillis).catch(() => undefined);
      }),
    );
  }
}
