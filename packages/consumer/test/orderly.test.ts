/**
 * Orderly consumption: per queue, messages are handled one at a time in offset order under
 * a broker lock; a failure suspends the queue and retries the same message, and when a second
 * member joins, queues move only after the first unlocks them, so each member still sees each
 * queue in order and nothing is skipped.
 */
import { describe, expect, it } from 'vitest';
import { startCluster } from '@karman/testkit';
import { PushConsumer } from '../src/push-consumer.js';
import type { PushConsumerOptions } from '../src/consumer-options.js';
import { FAST, startProducer, uniqueName, waitFor } from './consumer-fixture.js';

describe('orderly consumption', () => {
  it('keeps per-queue order through a failure and a rebalance', async () => {
    await using cluster = await startCluster({ brokers: 1 });
    const topic = uniqueName('T');
    const group = uniqueName('G');
    await cluster.createTopic(topic, { queues: 4, order: true });
    await using producer = await startProducer(cluster);
    const perQueue = 30;
    const send = async (from: number, to: number): Promise<void> => {
      for (let seq = from; seq < to; seq++) {
        for (let queueId = 0; queueId < 4; queueId++) await producer.send({ topic, body: `${queueId}:${seq}` }, { queue: { topic, brokerName: 'broker-a', queueId } });
      }
    };
    // consumer name → queue → sequence numbers in the order they succeeded
    const logs = new Map<string, Map<number, number[]>>();
    let failed = false;
    let concurrentOnOneQueue = false;
    const busy = new Set<number>();
    const handlerFor =
      (name: string): NonNullable<PushConsumerOptions['handler']> =>
      async (m) => {
        const [queueId, seq] = m.body.toString().split(':').map(Number) as [number, number];
        if (busy.has(queueId)) concurrentOnOneQueue = true;
        busy.add(queueId);
        try {
          await new Promise((r) => setTimeout(r, 1));
          if (queueId === 1 && seq === 5 && !failed) {
            failed = true;
            return 'SUSPEND_CURRENT_QUEUE_A_MOMENT';
          }
          const log = logs.get(name) ?? new Map<number, number[]>();
          logs.set(name, log);
          log.set(queueId, [...(log.get(queueId) ?? []), seq]);
          return undefined;
        } finally {
          busy.delete(queueId);
        }
      };
    const options = { ...FAST, nameservers: cluster.namesrvAddr, group, orderly: true, subscriptions: { [topic]: '*' }, consumeFromWhere: 'CONSUME_FROM_FIRST_OFFSET' as const, suspendCurrentQueueTimeMillis: 50, lockInterval: 200, lockMaxLiveTime: 1_000 };
    const a = new PushConsumer({ ...options, instanceName: uniqueName('a'), handler: handlerFor('a') });
    const b = new PushConsumer({ ...options, instanceName: uniqueName('b'), handler: handlerFor('b') });
    try {
      await a.start();
      await send(0, 10);
      await b.start();
      await send(10, perQueue);
      const done = (): boolean => [0, 1, 2, 3].every((q) => new Set([...logs.values()].flatMap((l) => l.get(q) ?? [])).size === perQueue);
      await waitFor(done, 'every message of every queue', 15_000);
      expect(failed).toBe(true);
      expect(logs.get('b')?.size, 'the joining member consumed two queues').toBe(2);
      expect(concurrentOnOneQueue).toBe(false);
      for (const [name, log] of logs) {
        for (const [queueId, seqs] of log) {
          // Each member saw each queue strictly in order (a queue may come back from an earlier commit, never skip).
          for (let i = 1; i < seqs.length; i++) expect(seqs[i], `${name} queue ${queueId}: ${seqs.join(',')}`).toBeGreaterThan(seqs[i - 1]!);
          expect(seqs[0]! === 0 || name !== 'a', `${name} queue ${queueId} starts at 0`).toBe(true);
        }
      }
      expect(b.assignment().filter((q) => q.topic === topic).length).toBe(2);
    } finally {
      await b.shutdown();
      await a.shutdown();
    }
  });
});
