/**
 * Tag filtering: a subscription `A || C` gets exactly the messages tagged A or C, never
 * untagged ones, and the committed offset moves past what was filtered out.
 */
import { describe, expect, it } from 'vitest';
import { startCluster } from '@karman/testkit';
import { PushConsumer } from '../src/push-consumer.js';
import type { ConsumerStatus } from '../src/consumer-base.js';
import { FAST, sendMessages, startProducer, uniqueName, waitFor } from './consumer-fixture.js';

describe('tag filter', () => {
  it('delivers only the subscribed tags and commits past the rest', async () => {
    await using cluster = await startCluster({ brokers: 1 });
    const topic = uniqueName('T');
    const group = uniqueName('G');
    await cluster.createTopic(topic, { queues: 2 });
    await using producer = await startProducer(cluster);
    const tagOf = (i: number): string | undefined => [undefined, 'A', 'B', 'C'][i % 4];
    await sendMessages(producer, topic, 40, (i) => ({ tags: tagOf(i), body: `${tagOf(i) ?? 'none'}-${i}` }));
    const got: string[] = [];
    const revoked: Array<Extract<ConsumerStatus, { type: 'queue_revoked' }>> = [];
    const consumer = new PushConsumer({ ...FAST, nameservers: cluster.namesrvAddr, group, subscriptions: { [topic]: 'A || C' }, consumeFromWhere: 'CONSUME_FROM_FIRST_OFFSET', handler: (m) => void got.push(m.body.toString()) });
    consumer.on('status', (s) => s.type === 'queue_revoked' && s.queue.topic === topic && revoked.push(s));
    await consumer.start();
    await waitFor(() => got.length >= 20, '20 messages tagged A or C');
    await new Promise((r) => setTimeout(r, 300));
    await consumer.shutdown();
    const want = Array.from({ length: 40 }, (_, i) => i).filter((i) => tagOf(i) === 'A' || tagOf(i) === 'C').map((i) => `${tagOf(i)}-${i}`);
    expect(got.sort()).toEqual(want.sort());
    // Each queue's commit reached its end (20 messages per queue), past the filtered ones.
    expect(revoked.map((r) => r.committedOffset)).toEqual([20, 20]);
  });
});
