/**
 * consumeFromWhere for a group without a committed offset: first offset, a timestamp, and
 * last offset, including the broker's young-queue quirk that makes a brand-new group on a young
 * topic start at 0 even with CONSUME_FROM_LAST_OFFSET.
 */
import { describe, expect, it } from 'vitest';
import { startCluster } from '@karman/testkit';
import type { TestCluster } from '@karman/testkit';
import { PushConsumer } from '../src/push-consumer.js';
import type { PushConsumerOptions } from '../src/consumer-options.js';
import { FAST, sendMessages, startProducer, uniqueName, waitFor } from './consumer-fixture.js';

async function consumeWith(cluster: TestCluster, topic: string, options: Partial<PushConsumerOptions>, expected: number): Promise<string[]> {
  const got: string[] = [];
  await using consumer = new PushConsumer({ ...FAST, nameservers: cluster.namesrvAddr, group: uniqueName('G'), subscriptions: { [topic]: '*' }, ...options, handler: (m) => void got.push(m.body.toString()) });
  await consumer.start();
  await waitFor(() => got.length >= expected, `${expected} messages`);
  await new Promise((r) => setTimeout(r, 300));
  return got.sort();
}

describe('consumeFromWhere', () => {
  it('FIRST_OFFSET starts at the beginning, TIMESTAMP at the first message stored since', async () => {
    await using cluster = await startCluster({ brokers: 1 });
    const topic = uniqueName('T');
    await cluster.createTopic(topic, { queues: 2 });
    await using producer = await startProducer(cluster);
    await sendMessages(producer, topic, 10, (i) => ({ body: `old-${i}` }));
    await new Promise((r) => setTimeout(r, 50));
    const since = Date.now();
    await new Promise((r) => setTimeout(r, 50));
    await sendMessages(producer, topic, 10, (i) => ({ body: `new-${i}` }));
    const all = await consumeWith(cluster, topic, { consumeFromWhere: 'CONSUME_FROM_FIRST_OFFSET' }, 20);
    expect(all).toHaveLength(20);
    const fromTime = await consumeWith(cluster, topic, { consumeFromWhere: 'CONSUME_FROM_TIMESTAMP', consumeTimestamp: since, setZeroIfNotFound: false }, 10);
    expect(fromTime).toEqual(Array.from({ length: 10 }, (_, i) => `new-${i}`).sort());
  });

  it('LAST_OFFSET starts after the last message when the broker may not answer 0', async () => {
    await using cluster = await startCluster({ brokers: 1 });
    const topic = uniqueName('T');
    await cluster.createTopic(topic, { queues: 2 });
    await using producer = await startProducer(cluster);
    await sendMessages(producer, topic, 10, (i) => ({ body: `old-${i}` }));
    const got: string[] = [];
    await using consumer = new PushConsumer({ ...FAST, nameservers: cluster.namesrvAddr, group: uniqueName('G'), subscriptions: { [topic]: '*' }, setZeroIfNotFound: false, handler: (m) => void got.push(m.body.toString()) });
    await consumer.start();
    await waitFor(() => consumer.assignment().filter((q) => q.topic === topic).length === 2, 'both queues assigned');
    await sendMessages(producer, topic, 4, (i) => ({ body: `new-${i}` }));
    await waitFor(() => got.length >= 4, '4 new messages');
    await new Promise((r) => setTimeout(r, 300));
    expect(got.sort()).toEqual(['new-0', 'new-1', 'new-2', 'new-3']);
  });

  it('LAST_OFFSET on a young queue starts at 0 (the broker quirk), and an existing commit always wins', async () => {
    await using cluster = await startCluster({ brokers: 1 });
    const topic = uniqueName('T');
    const group = uniqueName('G');
    await cluster.createTopic(topic, { queues: 1 });
    await using producer = await startProducer(cluster);
    await sendMessages(producer, topic, 5);
    const young = await consumeWith(cluster, topic, { group, consumeFromWhere: 'CONSUME_FROM_LAST_OFFSET' }, 5);
    expect(young).toHaveLength(5);
    await sendMessages(producer, topic, 3, (i) => ({ body: `after-${i}` }));
    // The group has committed 5 now: FIRST_OFFSET is ignored and consumption resumes at 5.
    const resumed = await consumeWith(cluster, topic, { group, consumeFromWhere: 'CONSUME_FROM_FIRST_OFFSET' }, 3);
    expect(resumed).toEqual(['after-0', 'after-1', 'after-2']);
  });
});
