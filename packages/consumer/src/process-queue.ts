/**
 * The client-side state of one assigned queue (RocketMQ `ProcessQueue`): the messages pulled
 * but not yet consumed, ordered by queue offset, with the counters flow control reads, and the
 * orderly lock state.
 *
 * The offset a consumer may commit is the smallest offset still in flight, or one past the highest
 * offset pulled when nothing is: a commit never passes an unfinished message, so a crash
 * re-delivers from there (at-least-once). Pulls of one queue are sequential, so offsets arrive in
 * increasing order: an array of them in arrival order, read from a head that skips finished ones,
 * finds the smallest in flight in amortized constant time; no tree is needed. (Iterating the Map for
 * its first key instead walks over every deleted entry not yet compacted away, up to the Map's
 * capacity each time.)
 */
import type { MessageQueue } from '@karman/client';
import { storedBodySize } from './consumed-message.js';
import type { ConsumedMessage } from './consumed-message.js';

export class ProcessQueue {
  readonly queue: MessageQueue;
  private readonly inFlight = new Map<number, ConsumedMessage>();
  /** Offsets put, in arrival (= offset) order, from `orderHead`; finished ones are skipped lazily. */
  private order: number[] = [];
  private orderHead = 0;
  /** When each message's handler started (RocketMQ's CONSUME_START_TIME), for `consumeTimeout`. */
  private readonly consumeStarts = new Map<number, number>();
  private bytes = 0;
  private queueOffsetMax = -1;
  /** Set when the queue is revoked or reset: pulls stop and results of its messages are ignored. */
  dropped = false;
  /** Orderly (clustering): whether the broker lock is held, and when it was last confirmed. */
  locked = false;
  lastLockTimestamp = 0;
  lastPullTimestamp = Date.now();
  /** Orderly: the consume loop of this queue is running (one at a time per queue). */
  consuming: Promise<void> | undefined;

  constructor(queue: MessageQueue) {
    this.queue = queue;
  }

  /** Add pulled messages (in offset order); returns those not already held. */
  put(messages: readonly ConsumedMessage[]): ConsumedMessage[] {
    const added: ConsumedMessage[] = [];
    for (const m of messages) {
      if (this.inFlight.has(m.queueOffset)) continue;
      this.inFlight.set(m.queueOffset, m);
      this.order.push(m.queueOffset);
      this.bytes += storedBodySize(m);
      if (m.queueOffset > this.queueOffsetMax) this.queueOffsetMax = m.queueOffset;
      added.push(m);
    }
    return added;
  }

  /**
   * Remove finished messages and answer the offset to commit: the smallest still in flight, or
   * `max + 1` when none is; -1 when nothing was held (nothing to commit).
   */
  removeMessage(messages: readonly ConsumedMessage[]): number {
    if (this.inFlight.size === 0) return -1;
    for (const m of messages) {
      const held = this.inFlight.get(m.queueOffset);
      if (!held) continue;
      this.inFlight.delete(m.queueOffset);
      this.consumeStarts.delete(m.queueOffset);
      this.bytes -= storedBodySize(held);
    }
    return this.firstOffset() ?? this.queueOffsetMax + 1;
  }

  /** `removeMessage` for one message, without the array. */
  removeOne(message: ConsumedMessage): number {
    if (this.inFlight.size === 0) return -1;
    const held = this.inFlight.get(message.queueOffset);
    if (held !== undefined) {
      this.inFlight.delete(message.queueOffset);
      if (this.consumeStarts.size > 0) this.consumeStarts.delete(message.queueOffset);
      this.bytes -= storedBodySize(held);
    }
    return this.firstOffset() ?? this.queueOffsetMax + 1;
  }

  /** Record that a message's handler starts now. */
  markConsumeStart(message: ConsumedMessage, now = Date.now()): void {
    if (this.inFlight.has(message.queueOffset)) this.consumeStarts.set(message.queueOffset, now);
  }

  /**
   * The oldest message in flight if its handler started more than `timeoutMillis` ago (RocketMQ's
   * `cleanExpireMsg` looks only at the head: it is what holds the committed offset back).
   */
  expiredHead(timeoutMillis: number, now = Date.now()): ConsumedMessage | undefined {
    const head = this.first();
    if (!head) return undefined;
    const started = this.consumeStarts.get(head.queueOffset);
    return started !== undefined && now - started > timeoutMillis ? head : undefined;
  }

  /** Whether this message is still in flight here. */
  holds(message: ConsumedMessage): boolean {
    return this.inFlight.get(message.queueOffset) === message;
  }

  /** Oldest message in flight (what orderly consumption handles next). */
  first(): ConsumedMessage | undefined {
    const offset = this.firstOffset();
    return offset === undefined ? undefined : this.inFlight.get(offset);
  }

  private firstOffset(): number | undefined {
    if (this.inFlight.size === 0) {
      if (this.order.length > 0) this.resetOrder();
      return undefined;
    }
    const order = this.order;
    let head = this.orderHead;
    while (!this.inFlight.has(order[head]!)) head++;
    if (head >= 1024 && head * 2 >= order.length) {
      this.order = order.slice(head);
      head = 0;
    }
    this.orderHead = head;
    return this.order[head];
  }

  private resetOrder(): void {
    this.order = [];
    this.orderHead = 0;
  }

  /** Messages in flight. */
  get count(): number {
    return this.inFlight.size;
  }

  /** Body bytes in flight. */
  get size(): number {
    return this.bytes;
  }

  /** Highest minus lowest offset in flight: how far one stuck message lets the queue run ahead. */
  get span(): number {
    const first = this.firstOffset();
    return first === undefined ? 0 : this.queueOffsetMax - first;
  }

  /** Whether the orderly lock is missing or older than `lockMaxLiveTime`. */
  lockExpired(lockMaxLiveTime: number, now = Date.now()): boolean {
    return !this.locked || now - this.lastLockTimestamp > lockMaxLiveTime;
  }

  /** Forget every message (the queue is dropped or reset). */
  clear(): void {
    this.inFlight.clear();
    this.resetOrder();
    this.consumeStarts.clear();
    this.bytes = 0;
  }
}
