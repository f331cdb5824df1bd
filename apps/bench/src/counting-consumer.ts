/**
 * The consuming half of every Karman benchmark: one PushConsumer with a no-op handler that hands
 * each body to a DeliveryLedger (checked, deduplicated, born→consume latency) and resolves `done`
 * once `count` distinct messages have arrived.
 */
import { PushConsumer } from '@karman/consumer';
import type { ConsumeFromWhere } from '@karman/consumer';
import { DeliveryLedger } from './delivery-ledger.js';
import { SecondWindow } from './live-report.js';

export interface CountingConsumerOptions {
  nameservers: string;
  topic: string;
  group: string;
  transport: 'ws' | 'tcp';
  /** Resolve `done` after this many distinct messages; undefined never resolves it. */
  count: number | undefined;
  consumeFromWhere: ConsumeFromWhere;
  /** Count only this run's messages (e2e). */
  onlyRun?: number;
}

export interface CountingConsumer {
  consumer: PushConsumer;
  ledger: DeliveryLedger;
  window: SecondWindow;
  /** Resolves when `count` distinct messages have arrived. */
  done: Promise<void>;
  /** Resolves once every queue rebalancing gave this member has its start offset. */
  assigned: Promise<void>;
  /** performance.now() of the last distinct message. */
  lastArrival(): number;
}

export function createCountingConsumer(options: CountingConsumerOptions): CountingConsumer {
  const ledger = new DeliveryLedger(options.onlyRun);
  const window = new SecondWindow();
  let last = performance.now();
  let finish: () => void = () => undefined;
  const done = new Promise<void>((resolve) => (finish = resolve));
  const consumer = new PushConsumer({
    nameservers: options.nameservers,
    group: options.group,
    transport: options.transport,
    subscriptions: { [options.topic]: '*' },
    consumeFromWhere: options.consumeFromWhere,
    handler: (message) => {
      const micros = ledger.accept(message.body);
      if (micros === undefined) return;
      last = performance.now();
      window.record(micros);
      if (options.count !== undefined && ledger.received >= options.count) finish();
    },
  });
  const assigned = new Promise<void>((resolve) => {
    const key = (q: { brokerName: string; queueId: number }): string => `${q.brokerName}/${q.queueId}`;
    let expected: string[] = [];
    const started = new Set<string>();
    consumer.on('status', (status) => {
      if (status.type === 'rebalanced' && status.topic === options.topic) expected = status.queues.map(key);
      else if (status.type === 'queue_assigned' && status.queue.topic === options.topic) started.add(key(status.queue));
      else if (status.type === 'queue_revoked' && status.queue.topic === options.topic) started.delete(key(status.queue));
      else return;
      if (expected.length > 0 && expected.every((k) => started.has(k))) resolve();
    });
  });
  return { consumer, ledger, window, done, assigned, lastArrival: () => last };
}
