/**
 * Flow control: a queue stops being pulled while it holds too many unconsumed messages, or
 * (concurrent mode) while one stuck message lets the newest run more than
 * `consumeConcurrentlyMaxSpan` offsets ahead; it resumes once the handler catches up.
 */
import { describe, expect, it } from 'vitest';
import { startCluster } from '@karman/testkit';
import { PushConsumer } from '../src/push-consumer.js';
import type { ConsumerStatus } from '../src/consumer-base.js';
import { FAST, sendMessages, startProducer, uniqueName, waitFor, waitForCommitted } from './consumer-fixture.js';

describe('flow control', () => {
  it('one stuck message holds the queue to the offset span, then everything flows', async () => {
    await using cluster = await startCluster({ brokers: 1 });
    const topic = uniqueName('T');
    await cluster.createTopic(topic, { queues: 1 });
    await using producer = await startProducer(cluster);
    await sendMessages(producer, topic, 200);
    let release: () => void = () => undefined;
    const stuck = new Promise<void>((r) => (release = r));
    const handled = new Set<string>();
    let deliveries = 0;
    const events: ConsumerStatus[] = [];
    const group = uniqueName('G');
    await using consumer = new PushConsumer({
      ...FAST,
      nameservers: cluster.namesrvAddr,
      group,
      subscriptions: { [topic]: '*' },
      consumeFromWhere: 'CONSUME_FROM_FIRST_OFFSET',
      pullBatchSize: 8,
      consumeConcurrentlyMaxSpan: 40,
      handler: async (m) => {
        deliveries++;
        if (m.body.toString() === 'body-0') await stuck;
        handled.add(m.body.toString());
      },
    });
    consumer.on('status', (s) => s.type === 'flow_control' && events.push(s));
    await consumer.start();
    await waitFor(() => events.length > 0, 'flow control to start');
    await new Promise((r) => setTimeout(r, 200));
    expect(events[0]).toMatchObject({ type: 'flow_control', reason: 'span' });
    // Pulled while the span was ≤ 40, plus at most one batch: nowhere near the 200 sent.
    expect(handled.size).toBeLessThanOrEqual(40 + 8);
    release();
    await waitFor(() => handled.size === 200, 'all 200 once the stuck message finished');
    // Holding back pulls redelivers nothing: 200 deliveries, once the queue is committed to its end.
    await waitForCommitted(cluster, group, topic, ['broker-a']);
    expect(deliveries).toBe(200);
  });

  it('stops pulling a queue holding pullThresholdForQueue messages', async () => {
    await using cluster = await startCluster({ brokers: 1 });
    const topic = uniqueName('T');
    await cluster.createTopic(topic, { queues: 1 });
    await using producer = await startProducer(cluster);
    await sendMessages(producer, topic, 100);
    let release: () => void = () => undefined;
    const gate = new Promise<void>((r) => (release = r));
    let started = 0;
    const events: ConsumerStatus[] = [];
    await using consumer = new PushConsumer({
      ...FAST,
      nameservers: cluster.namesrvAddr,
      group: uniqueName('G'),
      subscriptions: { [topic]: '*' },
      consumeFromWhere: 'CONSUME_FROM_FIRST_OFFSET',
      pullBatchSize: 4,
      pullThresholdForQueue: 10,
      concurrency: 100,
      handler: async () => {
        started++;
        await gate;
      },
    });
    consumer.on('status', (s) => s.type === 'flow_control' && events.push(s));
    await consumer.start();
    await waitFor(() => events.length > 0, 'flow control to start');
    await new Promise((r) => setTimeout(r, 200));
    expect(events[0]).toMatchObject({ type: 'flow_control', reason: 'count' });
    // Every pulled message has a handler waiting (concurrency 100): what was pulled is threshold + one batch at most.
    expect(started).toBeLessThanOrEqual(10 + 4);
    release();
    await waitFor(() => started === 100, 'all 100 after the gate opened');
  });
});
