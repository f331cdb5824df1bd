/**
 * An illegal offset: a committed offset past the end of the queue makes the broker answer
 * PULL_OFFSET_MOVED; the consumer drops the queue, commits the broker's corrected offset, lets a
 * rebalance re-create the queue there, and consumes on.
 */
import { describe, expect, it } from 'vitest';
import { startCluster } from '@karman/testkit';
import { ClientInstance } from '@karman/client';
import { PushConsumer } from '../src/push-consumer.js';
import { updateConsumerOffset } from '../src/broker-requests.js';
import type { ConsumerStatus } from '../src/consumer-base.js';
import { FAST, sendMessages, startProducer, uniqueName, waitFor } from './consumer-fixture.js';

describe('offset moved', () => {
  it('corrects a committed offset past the end and keeps consuming', async () => {
    await using cluster = await startCluster({ brokers: 1 });
    const topic = uniqueName('T');
    const group = uniqueName('G');
    await cluster.createTopic(topic, { queues: 1 });
    await using producer = await startProducer(cluster);
    await sendMessages(producer, topic, 5);
    const queue = { topic, brokerName: 'broker-a', queueId: 0 };
    const client = ClientInstance.acquire({ nameservers: cluster.namesrvAddr, instanceName: uniqueName('admin') });
    try {
      await client.route(topic);
      await updateConsumerOffset(client, client.findBrokerAddress('broker-a')!, group, queue, 1_000, 3_000);
    } finally {
      await client.release();
    }
    const moved: Array<Extract<ConsumerStatus, { type: 'offset_moved' }>> = [];
    const got: string[] = [];
    await using consumer = new PushConsumer({ ...FAST, nameservers: cluster.namesrvAddr, group, subscriptions: { [topic]: '*' }, handler: (m) => void got.push(m.body.toString()) });
    consumer.on('status', (s) => s.type === 'offset_moved' && moved.push(s));
    await consumer.start();
    await waitFor(() => moved.length > 0, 'PULL_OFFSET_MOVED to be handled');
    expect(moved[0]).toMatchObject({ queue, from: 1_000 });
    expect(moved[0]!.to).toBeLessThanOrEqual(5);
    await waitFor(() => consumer.assignment().some((q) => q.topic === topic), 'the queue to be re-created');
    await sendMessages(producer, topic, 3, (i) => ({ body: `after-${i}` }));
    await waitFor(() => ['after-0', 'after-1', 'after-2'].every((b) => got.includes(b)), 'the messages sent after the correction');
  });
});
