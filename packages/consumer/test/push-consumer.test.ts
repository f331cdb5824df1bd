/**
 * The basic promise of a push consumer: every message sent is handed to the handler, with the
 * fields a user reads, and the offsets it commits let a restarted group resume where it stopped.
 */
import { describe, expect, it } from 'vitest';
import { startCluster } from '@karman/testkit';
import { PushConsumer } from '../src/push-consumer.js';
import type { ConsumedMessage } from '../src/consumed-message.js';
import { Deliveries, FAST, sendMessages, startProducer, uniqueName, waitFor, waitForCommitted } from './consumer-fixture.js';

describe('PushConsumer', () => {
  it('delivers every message with its topic, tags, keys, body and ids', async () => {
    await using cluster = await startCluster({ brokers: 1 });
    const topic = uniqueName('T');
    await cluster.createTopic(topic, { queues: 4 });
    await using producer = await startProducer(cluster);
    const sent = await sendMessages(producer, topic, 40, (i) => ({ tags: 'TagA', keys: [`k${i}`, 'shared'], properties: { n: String(i) } }));
    const got = new Map<string, ConsumedMessage>();
    const deliveries = new Deliveries();
    const group = uniqueName('G');
    await using consumer = new PushConsumer({
      ...FAST,
      nameservers: cluster.namesrvAddr,
      group,
      subscriptions: { [topic]: '*' },
      consumeFromWhere: 'CONSUME_FROM_FIRST_OFFSET',
      handler: (m) => {
        deliveries.record(m);
        got.set(m.msgId, m);
      },
    });
    await consumer.start();
    await waitFor(() => got.size === 40, '40 messages');
    // With no fault, each exactly once: every queue committed to its end, and 40 deliveries in all.
    await waitForCommitted(cluster, group, topic, ['broker-a']);
    expect([deliveries.total, deliveries.duplicates()]).toEqual([40, []]);
    for (const [i, s] of sent.entries()) {
      const m = got.get(s.msgId)!;
      expect(m).toMatchObject({ topic, tags: 'TagA', keys: [`k${i}`, 'shared'], msgId: s.msgId, offsetMsgId: s.offsetMsgId, queueId: s.messageQueue.queueId, queueOffset: s.queueOffset, brokerName: 'broker-a', reconsumeTimes: 0 });
      expect(m.body.toString()).toBe(`body-${i}`);
      expect(m.properties.n).toBe(String(i));
    }
  });

  it('commits offsets on shutdown, so the group resumes after the last consumed message', async () => {
    await using cluster = await startCluster({ brokers: 1 });
    const topic = uniqueName('T');
    const group = uniqueName('G');
    await cluster.createTopic(topic, { queues: 2 });
    await using producer = await startProducer(cluster);
    await sendMessages(producer, topic, 20);
    const first: string[] = [];
    const consumer = new PushConsumer({ ...FAST, nameservers: cluster.namesrvAddr, group, subscriptions: { [topic]: '*' }, consumeFromWhere: 'CONSUME_FROM_FIRST_OFFSET', handler: (m) => void first.push(m.body.toString()) });
    await consumer.start();
    await waitFor(() => first.length === 20, 'the first 20 messages');
    await consumer.shutdown();
    await sendMessages(producer, topic, 10, (i) => ({ body: `later-${i}` }));
    const second: string[] = [];
    await using again = new PushConsumer({ ...FAST, nameservers: cluster.namesrvAddr, group, subscriptions: { [topic]: '*' }, consumeFromWhere: 'CONSUME_FROM_FIRST_OFFSET', handler: (m) => void second.push(m.body.toString()) });
    await again.start();
    await waitFor(() => second.length >= 10, 'the 10 later messages');
    await new Promise((r) => setTimeout(r, 300));
    expect(second.sort()).toEqual(Array.from({ length: 10 }, (_, i) => `later-${i}`).sort());
  });

  it('hands messages to a for-await loop, and leaving the loop shuts the consumer down', async () => {
    await using cluster = await startCluster({ brokers: 1 });
    const topic = uniqueName('T');
    await cluster.createTopic(topic, { queues: 1 });
    await using producer = await startProducer(cluster);
    await sendMessages(producer, topic, 5);
    const consumer = new PushConsumer({ ...FAST, nameservers: cluster.namesrvAddr, group: uniqueName('G'), subscriptions: { [topic]: '*' }, consumeFromWhere: 'CONSUME_FROM_FIRST_OFFSET' });
    const bodies: string[] = [];
    for await (const message of consumer.messages()) {
      bodies.push(message.body.toString());
      if (bodies.length === 5) break;
    }
    expect(bodies).toEqual(['body-0', 'body-1', 'body-2', 'body-3', 'body-4']);
    expect(consumer.running).toBe(false);
  });

  it('refuses to start without a handler or subscriptions, naming the fix', async () => {
    await expect(new PushConsumer({ nameservers: '127.0.0.1:1', group: 'G', subscriptions: { T: '*' } }).start()).rejects.toThrow(/no handler/);
    await expect(new PushConsumer({ nameservers: '127.0.0.1:1', group: 'G', handler: () => undefined }).start()).rejects.toThrow(/subscribes to nothing/);
    expect(() => new PushConsumer({ nameservers: '127.0.0.1:1', group: 'G', brokerSuspendMaxTimeMillis: 5_000, consumerTimeoutMillisWhenSuspend: 4_000 })).toThrow(/consumerTimeoutMillisWhenSuspend/);
    expect(() => new PushConsumer({ nameservers: '127.0.0.1:1', group: 'bad group!' })).toThrow(/group/);
  });
});
