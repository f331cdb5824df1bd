/**
 * The lite pull consumer: `poll` returns what the background pulls fetched, `assign` pins queues,
 * `seek` moves a queue, `commit` makes polled offsets the group's, and `subscribe` shares queues
 * with the group like a push consumer.
 */
import { describe, expect, it } from 'vitest';
import { startCluster } from '@karman/testkit';
import { PullConsumer } from '../src/pull-consumer.js';
import type { ConsumedMessage } from '../src/consumed-message.js';
import { FAST, sendMessages, startProducer, uniqueName, waitFor } from './consumer-fixture.js';

async function pollUntil(consumer: PullConsumer, count: number, timeoutMillis = 10_000): Promise<ConsumedMessage[]> {
  const got: ConsumedMessage[] = [];
  const deadline = Date.now() + timeoutMillis;
  while (got.length < count && Date.now() < deadline) got.push(...(await consumer.poll(200)));
  return got;
}

describe('PullConsumer', () => {
  it('polls an assigned queue, seeks, and commits only when asked', async () => {
    await using cluster = await startCluster({ brokers: 1 });
    const topic = uniqueName('T');
    const group = uniqueName('G');
    await cluster.createTopic(topic, { queues: 2 });
    await using producer = await startProducer(cluster);
    const queue = { topic, brokerName: 'broker-a', queueId: 1 };
    for (let i = 0; i < 10; i++) await producer.send({ topic, body: `q1-${i}` }, { queue });
    await producer.send({ topic, body: 'q0' }, { queue: { ...queue, queueId: 0 } });

    await using consumer = new PullConsumer({ ...FAST, nameservers: cluster.namesrvAddr, group, autoCommit: false, setZeroIfNotFound: false, consumeFromWhere: 'CONSUME_FROM_FIRST_OFFSET', pollBatchSize: 4 });
    consumer.assign([queue]);
    await consumer.start();
    expect(await consumer.fetchMessageQueues(topic)).toHaveLength(2);
    const first = await consumer.poll(5_000);
    expect(first.map((m) => m.body.toString())).toEqual(['q1-0', 'q1-1', 'q1-2', 'q1-3']);
    const rest = await pollUntil(consumer, 6);
    expect(rest.map((m) => m.body.toString())).toEqual(['q1-4', 'q1-5', 'q1-6', 'q1-7', 'q1-8', 'q1-9']);
    expect(await consumer.poll(100)).toEqual([]);
    expect(await consumer.committed(queue)).toBe(-1);
    await consumer.commit();
    expect(await consumer.committed(queue)).toBe(10);

    await consumer.seek(queue, 7);
    expect((await pollUntil(consumer, 3)).map((m) => m.body.toString())).toEqual(['q1-7', 'q1-8', 'q1-9']);
    await expect(consumer.seek(queue, 11)).rejects.toThrow(/between 0 and 10/);
    await expect(consumer.seek({ ...queue, queueId: 0 }, 0)).rejects.toThrow(/not assigned/);
  });

  it('auto-commits what earlier polls returned', async () => {
    await using cluster = await startCluster({ brokers: 1 });
    const topic = uniqueName('T');
    await cluster.createTopic(topic, { queues: 1 });
    await using producer = await startProducer(cluster);
    await sendMessages(producer, topic, 5);
    const queue = { topic, brokerName: 'broker-a', queueId: 0 };
    await using consumer = new PullConsumer({ ...FAST, nameservers: cluster.namesrvAddr, group: uniqueName('G'), autoCommitIntervalMillis: 50, consumeFromWhere: 'CONSUME_FROM_FIRST_OFFSET' });
    consumer.assign([queue]);
    await consumer.start();
    expect(await pollUntil(consumer, 5)).toHaveLength(5);
    await new Promise((r) => setTimeout(r, 60));
    await consumer.poll(10);
    await waitFor(async () => (await consumer.committed(queue)) === 5, 'the auto-commit of offset 5');
  });

  it('shares subscribed queues with the group by rebalancing', async () => {
    await using cluster = await startCluster({ brokers: 1 });
    const topic = uniqueName('T');
    const group = uniqueName('G');
    await cluster.createTopic(topic, { queues: 4 });
    await using producer = await startProducer(cluster);
    const sent = await sendMessages(producer, topic, 40);
    const options = { ...FAST, nameservers: cluster.namesrvAddr, group, consumeFromWhere: 'CONSUME_FROM_FIRST_OFFSET' as const };
    await using a = new PullConsumer({ ...options, instanceName: uniqueName('a') });
    await using b = new PullConsumer({ ...options, instanceName: uniqueName('b') });
    a.subscribe(topic, '*');
    b.subscribe(topic, '*');
    await Promise.all([a.start(), b.start()]);
    await waitFor(() => a.assignment().length === 2 && b.assignment().length === 2, 'a 2/2 split');
    const got: string[] = [];
    const deadline = Date.now() + 10_000;
    while (got.length < 40 && Date.now() < deadline) for (const m of [...(await a.poll(100)), ...(await b.poll(100))]) got.push(m.msgId);
    // Split 2/2 with no member change: each message exactly once, and one more poll brings nothing.
    for (const m of [...(await a.poll(200)), ...(await b.poll(200))]) got.push(m.msgId);
    expect(got.sort()).toEqual(sent.map((s) => s.msgId).sort());
    expect(() => a.assign([])).toThrow(/cannot be mixed/);
  });
});
