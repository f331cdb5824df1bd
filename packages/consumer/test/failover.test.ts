/**
 * The seed's failover rules: with the first nameserver down the consumer uses the next one; with a
 * broker gone, its queues leave the assignment and consumption continues from the other broker,
 * then resumes on the returning broker where its commits left off.
 */
import { describe, expect, it } from 'vitest';
import { startCluster } from '@karman/testkit';
import { PushConsumer } from '../src/push-consumer.js';
import { Deliveries, FAST, sendMessages, startProducer, uniqueName, waitFor, waitForCommitted } from './consumer-fixture.js';

describe('failover', () => {
  it('moves to the next nameserver when the one in use goes down', async () => {
    await using cluster = await startCluster({ nameservers: 2, brokers: 1 });
    const topic = uniqueName('T');
    await cluster.createTopic(topic, { queues: 2 });
    await using producer = await startProducer(cluster);
    const got = new Deliveries();
    const switched: string[] = [];
    const group = uniqueName('G');
    await using consumer = new PushConsumer({ ...FAST, nameservers: cluster.nameservers, group, subscriptions: { [topic]: '*' }, consumeFromWhere: 'CONSUME_FROM_FIRST_OFFSET', handler: got.record });
    consumer.on('status', (s) => s.type === 'nameserver_switched' && switched.push(s.to));
    await consumer.start();
    const inUse = cluster.nameservers.indexOf(consumer.currentNameServer!);
    await cluster.stopNameServer(inUse);
    // A topic created now is known to the consumer only through the other nameserver.
    const later = uniqueName('T2');
    await cluster.createTopic(later, { queues: 2 });
    consumer.subscribe(later, '*');
    const sent = [...(await sendMessages(producer, topic, 10)), ...(await sendMessages(producer, later, 10))];
    await waitFor(() => sent.every((s) => got.has(s.msgId)), 'all 20 messages of both topics');
    expect(switched).toContain(cluster.nameservers[1 - inUse]);
    // A nameserver's loss touches no broker: each message exactly once.
    await waitForCommitted(cluster, group, topic, ['broker-a']);
    await waitForCommitted(cluster, group, later, ['broker-a']);
    expect([got.total, got.duplicates()]).toEqual([20, []]);
  });

  it('keeps consuming from the other broker when one goes away, and resumes on it when back', async () => {
    await using cluster = await startCluster({ brokers: 2 });
    const topic = uniqueName('T');
    await cluster.createTopic(topic, { queues: 2 });
    await using producer = await startProducer(cluster);
    const got = new Deliveries();
    const group = uniqueName('G');
    await using consumer = new PushConsumer({ ...FAST, nameservers: cluster.namesrvAddr, group, subscriptions: { [topic]: '*' }, consumeFromWhere: 'CONSUME_FROM_FIRST_OFFSET', handler: got.record });
    await consumer.start();
    const before = await sendMessages(producer, topic, 20);
    await waitFor(() => before.every((s) => got.has(s.msgId)), 'the first 20 messages');
    expect(new Set(before.map((s) => s.messageQueue.brokerName))).toEqual(new Set(['broker-a', 'broker-b']));
    await waitForCommitted(cluster, group, topic, ['broker-a', 'broker-b']);

    await cluster.stopBroker('broker-b');
    await waitFor(() => consumer.assignment().every((q) => q.brokerName === 'broker-a'), "broker-b's queues to leave the assignment");
    const during = await sendMessages(producer, topic, 20, (i) => ({ body: `during-${i}` }));
    expect(new Set(during.map((s) => s.messageQueue.brokerName))).toEqual(new Set(['broker-a']));
    await waitFor(() => during.every((s) => got.has(s.msgId)), 'the 20 messages sent while broker-b was down');

    await cluster.startBroker('broker-b');
    await waitFor(() => consumer.assignment().some((q) => q.brokerName === 'broker-b' && q.topic === topic), "broker-b's queues to come back", 10_000);
    const after = await sendMessages(producer, topic, 20, (i) => ({ body: `after-${i}` }));
    await waitFor(() => after.every((s) => got.has(s.msgId)), 'the 20 messages sent after broker-b returned', 10_000);
    // Everything was committed before broker-b stopped, so nothing may come twice: 60 deliveries.
    await waitForCommitted(cluster, group, topic, ['broker-a', 'broker-b']);
    expect([got.total, got.duplicates()]).toEqual([60, []]);
  });
});
