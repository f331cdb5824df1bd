/**
 * Counters the broker keeps for GET_BROKER_RUNTIME_INFO and `/metrics`: messages and bytes in and
 * out per topic, and the latency of puts. Plain numbers updated on the hot path; nothing here
 * allocates per message.
 */

export interface TopicCounters {
  messagesIn: number;
  bytesIn: number;
  messagesOut: number;
  bytesOut: number;
}

export class BrokerStats {
  readonly startTimestamp = Date.now();
  private readonly topics = new Map<string, TopicCounters>();
  putCount = 0;
  putLatencyTotalMs = 0;
  putLatencyMaxMs = 0;
  getCount = 0;
  /** PULL_MESSAGE and LITE_PULL_MESSAGE requests received, whatever their answer (a held pull counts once). */
  pullRequests = 0;
  /** SEND_MESSAGE, SEND_MESSAGE_V2 and SEND_BATCH_MESSAGE requests received, refused ones included. */
  sendRequests = 0;

  /** Failed writes per config file name (`topics.json`, `subscriptionGroup.json`, `consumerOffset.json`). */
  readonly configWriteFailures = new Map<string, number>();
  /**
   * Messages retention deleted before a group consumed them, per `cause` (forced, expired), group
   * and topic: keyed `cause\u0000group\u0000topic`. Bounded by the groups and topics the broker holds.
   */
  readonly droppedUnconsumed = new Map<string, number>();
  /** Messages retention deleted per `cause` and topic (consumed or not): keyed `cause\u0000topic`. */
  readonly retentionDeleted = new Map<string, number>();

  recordConfigWriteFailure(file: string): void {
    this.configWriteFailures.set(file, (this.configWriteFailures.get(file) ?? 0) + 1);
  }

  recordRetention(cause: string, topic: string, deleted: number, droppedByGroup: ReadonlyMap<string, number>): void {
    const t = `${cause}\u0000${topic}`;
    this.retentionDeleted.set(t, (this.retentionDeleted.get(t) ?? 0) + deleted);
    for (const [group, n] of droppedByGroup) {
      const k = `${cause}\u0000${group}\u0000${topic}`;
      this.droppedUnconsumed.set(k, (this.droppedUnconsumed.get(k) ?? 0) + n);
    }
  }

  private counters(topic: string): TopicCounters {
    let c = this.topics.get(topic);
    if (!c) this.topics.set(topic, (c = { messagesIn: 0, bytesIn: 0, messagesOut: 0, bytesOut: 0 }));
    return c;
  }

  recordPut(topic: string, messages: number, bytes: number, latencyMs: number): void {
    const c = this.counters(topic);
    c.messagesIn += messages;
    c.bytesIn += bytes;
    this.putCount++;
    this.putLatencyTotalMs += latencyMs;
    if (latencyMs > this.putLatencyMaxMs) this.putLatencyMaxMs = latencyMs;
  }

  recordGet(topic: string, messages: number, bytes: number): void {
    const c = this.counters(topic);
    c.messagesOut += messages;
    c.bytesOut += bytes;
    this.getCount++;
  }

  /** Totals over every topic. */
  totals(): TopicCounters {
    const t = { messagesIn: 0, bytesIn: 0, messagesOut: 0, bytesOut: 0 };
    for (const c of this.topics.values()) {
      t.messagesIn += c.messagesIn;
      t.bytesIn += c.bytesIn;
      t.messagesOut += c.messagesOut;
      t.bytesOut += c.bytesOut;
    }
    return t;
  }

  perTopic(): ReadonlyMap<string, TopicCounters> {
    return this.topics;
  }
}
