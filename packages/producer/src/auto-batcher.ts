/**
 * Automatic batching: concurrent plain sends to one topic travel as one SEND_BATCH_MESSAGE, up
 * to `maxMessages` or `maxBytes`. With `lingerMillis` 0 (the default) a batch closes at the end of
 * the event-loop turn it was opened in: sends made together (e.g. by every sender woken by the
 * previous batch's answer) go together, and a lone send waits for nothing. A positive
 * `lingerMillis` keeps a batch open that long for more. Each caller still gets its own result (its
 * message's queue offset within the batch) or the batch's error.
 */
import type { SendResult } from './message.js';
import type { PreparedMessage } from './producer.js';

interface Pending {
  message: PreparedMessage;
  resolve: (result: SendResult) => void;
  reject: (error: unknown) => void;
}

interface Accumulator {
  key: string;
  wait: boolean;
  items: Pending[];
  bytes: number;
  timer: NodeJS.Timeout | NodeJS.Immediate | undefined;
}

export interface AutoBatchOptions {
  lingerMillis: number;
  maxMessages: number;
  maxBytes: number;
}

export class AutoBatcher {
  /** Batches being filled, by topic: one map for waitStoreMsgOK true, one for false. */
  private readonly open = [new Map<string, Accumulator>(), new Map<string, Accumulator>()] as const;
  private readonly inFlight = new Set<Promise<unknown>>();

  constructor(
    private readonly options: AutoBatchOptions,
    private readonly sendBatch: (topic: string, messages: PreparedMessage[]) => Promise<SendResult[]>,
  ) {}

  add(message: PreparedMessage): Promise<SendResult> {
    return new Promise<SendResult>((resolve, reject) => {
      const open = this.open[message.waitStoreMsgOK ? 0 : 1];
      let acc = open.get(message.topic);
      if (acc && acc.bytes + message.body.length > this.options.maxBytes) {
        this.flush(acc);
        acc = undefined;
      }
      if (!acc) {
        const opened: Accumulator = { key: message.topic, wait: message.waitStoreMsgOK, items: [], bytes: 0, timer: undefined };
        const close = (): void => this.flush(opened);
        opened.timer = this.options.lingerMillis > 0 ? setTimeout(close, this.options.lingerMillis) : setImmediate(close);
        open.set(message.topic, opened);
        acc = opened;
      }
      acc.items.push({ message, resolve, reject });
      acc.bytes += message.body.length;
      if (acc.items.length >= this.options.maxMessages || acc.bytes >= this.options.maxBytes) this.flush(acc);
    });
  }

  /** Send everything waiting now and wait for every batch in flight. */
  async flushAll(): Promise<void> {
    for (const open of this.open) for (const acc of [...open.values()]) this.flush(acc);
    await Promise.allSettled([...this.inFlight]);
  }

  private flush(acc: Accumulator): void {
    const open = this.open[acc.wait ? 0 : 1];
    if (open.get(acc.key) !== acc) return; // already sent
    open.delete(acc.key);
    if (this.options.lingerMillis > 0) clearTimeout(acc.timer as NodeJS.Timeout);
    else clearImmediate(acc.timer as NodeJS.Immediate);
    const items = acc.items;
    const messages = new Array<PreparedMessage>(items.length);
    for (let i = 0; i < items.length; i++) messages[i] = items[i]!.message;
    const sending = this.sendBatch(acc.key, messages).then(
      (results) => {
        for (let i = 0; i < items.length; i++) items[i]!.resolve(results[i]!);
      },
      (error: unknown) => {
        for (const item of items) item.reject(error);
      },
    );
    this.inFlight.add(sending);
    void sending.finally(() => this.inFlight.delete(sending));
  }
}
