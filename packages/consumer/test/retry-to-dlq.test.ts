/**
 * Retry and DLQ with a millisecond delay table: a message whose handler keeps failing comes
 * back through %RETRY%<group> with its original topic restored and reconsumeTimes counting up, and
 * after maxReconsumeTimes retries lands in %DLQ%<group>; the other messages are consumed once. A
 * message stuck in its handler past consumeTimeout is sent back the same way.
 */
import { describe, expect, it } from 'vitest';
import { startCluster } from '@karman/testkit';
import { dlqTopic } from '@karman/protocol';
import { PushConsumer } from '../src/push-consumer.js';
import type { ConsumedMessage } from '../src/consumed-message.js';
import { FAST, sendMessages, startProducer, uniqueName, waitFor } from './consumer-fixture.js';

const delayLevels = Array.from({ length: 18 }, () => '20ms').join(' ');

describe('retry to the DLQ', () => {
  it('retries a failing message maxReconsumeTimes times, then dead-letters it', async () => {
    await using cluster = await startCluster({ brokers: 1, brokerOptions: { messageDelayLevel: delayLevels } });
    const topic = uniqueName('T');
    const group = uniqueName('G');
    await cluster.createTopic(topic, { queues: 2 });
    await using producer = await startProducer(cluster);
    const deliveries: ConsumedMessage[] = [];
    const ok = new Set<string>();
    await using consumer = new PushConsumer({
      ...FAST,
      nameservers: cluster.namesrvAddr,
      group,
      subscriptions: { [topic]: '*' },
      consumeFromWhere: 'CONSUME_FROM_FIRST_OFFSET',
      maxReconsumeTimes: 2,
      handler: (m) => {
        if (m.body.toString() === 'poison') {
          deliveries.push(m);
          throw new Error('cannot handle poison');
        }
        ok.add(m.body.toString());
      },
    });
    await consumer.start();
    const [poison] = await sendMessages(producer, topic, 1, () => ({ body: 'poison', tags: 'P', keys: ['k1'] }));
    await sendMessages(producer, topic, 10);
    await waitFor(() => deliveries.length >= 3 && ok.size === 10, 'three deliveries of the poison message');

    const dead: ConsumedMessage[] = [];
    await using dlqReader = new PushConsumer({ ...FAST, nameservers: cluster.namesrvAddr, group: uniqueName('DLQ'), subscriptions: { [dlqTopic(group)]: '*' }, consumeFromWhere: 'CONSUME_FROM_FIRST_OFFSET', handler: (m) => void dead.push(m) });
    await dlqReader.start();
    await waitFor(() => dead.length >= 1, 'the poison message in the DLQ', 10_000);
    await new Promise((r) => setTimeout(r, 300));

    expect(deliveries.map((d) => [d.topic, d.msgId, d.reconsumeTimes, d.tags])).toEqual([
      [topic, poison!.msgId, 0, 'P'],
      [topic, poison!.msgId, 1, 'P'],
      [topic, poison!.msgId, 2, 'P'],
    ]);
    expect(dead).toHaveLength(1);
    expect(dead[0]!.msgId).toBe(poison!.msgId);
    expect(dead[0]!.body.toString()).toBe('poison');
    expect(ok.size).toBe(10);
  });

  it('sends back a message stuck in its handler past consumeTimeout, and the queue moves on', async () => {
    await using cluster = await startCluster({ brokers: 1, brokerOptions: { messageDelayLevel: delayLevels } });
    const topic = uniqueName('T');
    await cluster.createTopic(topic, { queues: 1 });
    await using producer = await startProducer(cluster);
    let release: () => void = () => undefined;
    const stuck = new Promise<void>((r) => (release = r));
    const deliveries: Array<[string, number]> = [];
    const consumer = new PushConsumer({
      ...FAST,
      nameservers: cluster.namesrvAddr,
      group: uniqueName('G'),
      subscriptions: { [topic]: '*' },
      consumeFromWhere: 'CONSUME_FROM_FIRST_OFFSET',
      consumeTimeout: 0.002, // minutes: 120 ms
      handler: async (m) => {
        deliveries.push([m.body.toString(), m.reconsumeTimes]);
        if (m.body.toString() === 'body-0' && m.reconsumeTimes === 0) await stuck;
      },
    });
    const revoked: number[] = [];
    consumer.on('status', (s) => s.type === 'queue_revoked' && s.queue.topic === topic && revoked.push(s.committedOffset));
    try {
      await consumer.start();
      await sendMessages(producer, topic, 3);
      await waitFor(() => deliveries.some(([b, n]) => b === 'body-0' && n === 1), 'the stuck message to come back through the retry topic', 10_000);
      expect(deliveries.filter(([b]) => b !== 'body-0')).toEqual([
        ['body-1', 0],
        ['body-2', 0],
      ]);
    } finally {
      release();
      await consumer.shutdown();
    }
    expect(revoked).toEqual([3]);
  });
});
