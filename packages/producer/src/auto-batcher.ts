/**
 * Automatic batching: concurrent plain sends to one topic that arrive within `lingerMillis`
 * travel as one SEND_BATCH_MESSAGE, up to `maxMessages` or `maxBytes`. Each caller still gets its
 * own result (its message's queue offset within the batch) or the batch's error.
 */
import type { SendResult } from './message.js';
import type { PreparedMessage } from './producer.js';

interface Pending {
  message: PreparedMessage;
  resolve: (result: SendResult) => void;
  reject: (error: unknown) => void;
}

interface Accumulator {
  items: Pending[];
  bytes: number;
  timer: NodeJS.Timeout | undefined;
  wait: boolean;
}

export interface AutoBatchOptions {
  lingerMillis: number;
  maxMessages: number;
  maxBytes: number;
}

export class AutoBatcher {
  /** topic + WAIT flag → messages waiting to go. */
  private readonly open = new Map<string, Accumulator>();
  private readonly inFlight = new Set<Promise<unknown>>();

  constructor(
    private readonly options: AutoBatchOptions,
    private readonly sendBatch: (topic: string, messages: PreparedMessage[]) => Promise<SendResult[]>,
  ) {}

  add(message: PreparedMessage): Promise<SendResult> {
    return new Promise<SendResult>((resolve, reject) => {
      const key = `${message.topic}\u0000${message.waitStoreMsgOK}`;
      let acc = this.open.get(key);
      if (acc && acc.bytes + message.body.length > this.options.maxBytes) {
        this.flush(key);
        acc = undefined;
      }
      if (!acc) {
        acc = { items: [], bytes: 0, timer: undefined, wait: message.waitStoreMsgOK };
        this.open.set(key, acc);
        acc.timer = setTimeout(() => this.flush(key), this.options.lingerMillis);
      }
      acc.items.push({ message, resolve, reject });
      acc.bytes += message.body.length;
      if (acc.items.length >= this.options.maxMessages || acc.bytes >= this.options.maxBytes) this.flush(key);
    });
  }

  /** Send everything waiting now and wait for every batch in flight. */
  async flushAll(): Promise<void> {
    for (const key of [...this.open.keys()]) this.flush(key);
    await Promise.allSettled([...this.inFlight]);
  }

  private flush(key: string): void {
    const acc = this.open.get(key);
    if (!acc) return;
    this.open.delete(key);
    clearTimeout(acc.timer);
    const items = acc.items;
    const topic = items[0]!.message.topic;
    const sending = this.sendBatch(
      topic,
      items.map((i) => i.message),
    ).then(
      (results) => items.forEach((item, i) => item.resolve(results[i]!)),
      (error: unknown) => items.forEach((item) => item.reject(error)),
    );
    this.inFlight.add(sending);
    void sending.finally(() => this.inFlight.delete(sending));
  }
}
