/**
 * A slave that cannot serve a queue's next offset answers PULL_RETRY_IMMEDIATELY with nothing in it
 * (RocketMQ's `PullMessageProcessor`: a slave never corrects offsets while `offsetCheckInSlave` is
 * false). That happens when the master dies after the consumer read messages the slave never
 * copied: the consumer's next offset is past everything the slave holds. The consumer must neither
 * rewind to the slave's start (re-consuming what it already handled) nor re-pull in a tight loop
 * (`pullInterval` 0): it waits `pullTimeDelayMillsWhenRetryImmediately` between such pulls, and
 * carries on once the master is back.
 */
import { describe, expect, it } from 'vitest';
import type { ConsumerStatus } from '../src/index.js';
import { Deliveries, fromFirstOffset, sendMessages, startPair, startProducer, uniqueName, waitFor } from './consumer-fixture.js';


describe('a pull answered PULL_RETRY_IMMEDIATELY with nothing in it', () => {
  it('is repeated after a back-off, from the same offset, against a slave missing what the dead master had', async () => {
    await using cluster = await startPair();
    const topic = uniqueName('T');
    await cluster.createTopic(topic, { queues: 1 });
    await using producer = await startProducer(cluster);
    const got = new Deliveries();
    const statuses: ConsumerStatus[] = [];
    await using consumer = fromFirstOffset(cluster, topic, { pullTimeDelayMillsWhenRetryImmediately: 50, handler: got.record });
    consumer.on('status', (s) => statuses.push(s));
    await consumer.start();

    const copied = await sendMessages(producer, topic, 10, (i) => ({ body: `copied-${i}` }));
    const copying = cluster.broker('broker-a', 1).context;
    await waitFor(() => copying.store.getMaxOffsetInQueue(topic, 0) === 10 && copying.topics.get(topic) !== undefined, 'the slave to copy the first 10 and the topic');
    await waitFor(() => copied.every((s) => got.has(s.msgId)), 'the first 10 messages');
    // The slave comes back copying from nowhere; the master takes 10 more, which the consumer reads.
    await cluster.stopBroker('broker-a', 1);
    const slave = await cluster.startBroker('broker-a', 1, { haMasterAddress: '127.0.0.1:1' });
    const uncopied = await sendMessages(producer, topic, 10, (i) => ({ body: `uncopied-${i}` }));
    await waitFor(() => uncopied.every((s) => got.has(s.msgId)), 'the 10 messages only the master has');
    expect(slave.context.store.getMaxOffsetInQueue(topic, 0)).toBe(10);

    // The master dies: the slave holds offsets 0..9 only, and the consumer is at 20.
    await cluster.stopBroker('broker-a');
    await waitFor(() => slave.context.stats.pullRequests > 0, 'the consumer to pull from the slave');
    const before = slave.context.stats.pullRequests;
    await new Promise((r) => setTimeout(r, 1_000));
    const pulls = slave.context.stats.pullRequests - before;
    // One pull per 50 ms is about 20 in the second; a tight loop makes thousands.
    expect(pulls).toBeGreaterThan(0);
    expect(pulls).toBeLessThan(60);
    // Nothing already consumed came again: the offset stayed at 20 rather than move to the slave's 0.
    expect(got.duplicates()).toEqual([]);
    expect(statuses.filter((s) => s.type === 'offset_moved')).toEqual([]);

    await cluster.startBroker('broker-a');
    await cluster.waitForRoute(topic, ['broker-a']);
    const later = await sendMessages(producer, topic, 5, (i) => ({ body: `later-${i}` }));
    await waitFor(() => later.every((s) => got.has(s.msgId)), 'the messages sent once the master was back', 15_000);
    expect(got.duplicates()).toEqual([]);
  });
});
