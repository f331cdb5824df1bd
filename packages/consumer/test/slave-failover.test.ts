/**
 * Reads from slaves: a push consumer of a master/slave pair keeps
 * consuming from the slave when the master is gone (the route still lists the group's slave), and
 * moves back to the master when it returns, without rewinding past what it consumed meanwhile.
 */
import { describe, expect, it } from 'vitest';
import { PushConsumer } from '../src/push-consumer.js';
import { Deliveries, FAST, fromFirstOffset, sendMessages, startPair, startProducer, uniqueName, waitFor } from './consumer-fixture.js';


describe('consuming from a slave', () => {
  // With defaults (slaveReadEnable=false) too: a slave serves what it has once the master is gone.
  it.each([{ name: 'default options', slave: {} }, { name: 'slaveReadEnable=true', slave: { slaveReadEnable: true } }])('carries on from the slave when the master stops, and back on the master when it returns ($name)', async ({ slave: slaveOptions }) => {
    await using cluster = await startPair({}, slaveOptions);
    const topic = uniqueName('T');
    await cluster.createTopic(topic, { queues: 2 });
    const slave = cluster.broker('broker-a', 1);
    await using producer = await startProducer(cluster);
    const group = uniqueName('G');
    const consumer = (got: Map<string, number>): PushConsumer =>
      new PushConsumer({
        ...FAST,
        nameservers: cluster.namesrvAddr,
        group,
        subscriptions: { [topic]: '*' },
        consumeFromWhere: 'CONSUME_FROM_FIRST_OFFSET',
        handler: (m) => void got.set(m.msgId, (got.get(m.msgId) ?? 0) + 1),
      });
    const first = new Map<string, number>();
    const before = await sendMessages(producer, topic, 20);
    {
      await using c1 = consumer(first);
      await c1.start();
      await waitFor(() => before.every((s) => first.has(s.msgId)), 'the first 20 messages');
      // Its commits reach the master, then the slave through metadata sync.
      await waitFor(() => [0, 1].reduce((n, q) => n + Math.max(0, slave.context.offsets.query(group, topic, q)), 0) === 20, "the slave to hold the group's offsets");
    }

    const after = await sendMessages(producer, topic, 20, (i) => ({ body: `unread-${i}` }));
    await waitFor(() => slave.context.store.maxPhyOffset === cluster.broker('broker-a').context.store.maxPhyOffset, 'the slave to copy everything');
    await cluster.stopBroker('broker-a');

    // A consumer of the group starting now finds only the slave: it carries on where the group was.
    const second = new Map<string, number>();
    await using c2 = consumer(second);
    await c2.start();
    await waitFor(() => after.every((s) => second.has(s.msgId)), 'the messages sent before the master stopped, read from the slave', 15_000);
    expect(before.filter((s) => second.has(s.msgId))).toEqual([]);

    await cluster.startBroker('broker-a');
    await cluster.waitForRoute(topic, ['broker-a']);
    const back = await sendMessages(producer, topic, 20, (i) => ({ body: `back-${i}` }));
    await waitFor(() => back.every((s) => second.has(s.msgId)), 'the messages sent after the master returned', 15_000);
    // Offsets committed to the slave went back to the master: nothing read from the slave is read again.
    await new Promise((r) => setTimeout(r, 500));
    expect([...second.values()].filter((n) => n > 1)).toEqual([]);
  });

  it('reads from the slave while further behind than the in-memory window, and from the master again once caught up', async () => {
    // 40 % (accessMessageInMemoryMaxRatio's default) of 64 KiB: a pull more than ~26 KiB behind
    // the log's end is steered to broker id 1 (whichBrokerWhenConsumeSlowly); both brokers read the
    // window through the store's one isInMemory.
    const steer = { slaveReadEnable: true, physicalMemoryBytes: 64 * 1024 };
    await using cluster = await startPair(steer, steer);
    const topic = uniqueName('T');
    await cluster.createTopic(topic, { queues: 1 });
    const master = cluster.broker('broker-a');
    const slave = cluster.broker('broker-a', 1);
    await using producer = await startProducer(cluster);
    const backlog = await sendMessages(producer, topic, 200, (i) => ({ body: Buffer.alloc(1024, i) }));
    await waitFor(() => slave.context.store.maxPhyOffset === master.context.store.maxPhyOffset, 'the slave to copy the backlog');

    const served = (b: typeof master): number => b.context.stats.perTopic().get(topic)?.messagesOut ?? 0;
    const got = new Deliveries();
    await using consumer = fromFirstOffset(cluster, topic, { pullBatchSize: 8, handler: got.record });
    await consumer.start();
    await waitFor(() => backlog.every((s) => got.has(s.msgId)), 'the 200-message backlog', 15_000);
    // Most of the backlog came from the slave; the newest ~26 KiB, within the window, from the master.
    expect(served(slave)).toBeGreaterThanOrEqual(150);
    expect(served(slave)).toBeLessThan(200);
    expect(served(master)).toBeGreaterThan(0);

    // Caught up, it stays on the master: new messages are all read there.
    const slaveBefore = served(slave);
    const masterBefore = served(master);
    const fresh = await sendMessages(producer, topic, 20, (i) => ({ body: `fresh-${i}` }));
    await waitFor(() => fresh.every((s) => got.has(s.msgId)), 'the messages sent after it caught up');
    expect(served(slave)).toBe(slaveBefore);
    expect(served(master) - masterBefore).toBe(20);
    expect([got.total, got.duplicates()]).toEqual([220, []]);
  });
});
