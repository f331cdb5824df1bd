/**
 * Reads from slaves (reference §5.3, issue 9): a push consumer of a master/slave pair keeps
 * consuming from the slave when the master is gone (the route still lists the group's slave), and
 * moves back to the master when it returns, without rewinding past what it consumed meanwhile.
 */
import { describe, expect, it } from 'vitest';
import { startCluster } from '@karman/testkit';
import { PushConsumer } from '../src/push-consumer.js';
import { FAST, sendMessages, startProducer, uniqueName, waitFor } from './consumer-fixture.js';

const HA = { registerNameServerPeriod: 300, haSendHeartbeatInterval: 200, haReconnectInterval: 50, slaveSyncInterval: 200 } as const;

describe('consuming from a slave', () => {
  // With defaults (slaveReadEnable=false) too: a slave serves what it has once the master is gone.
  it.each([{ name: 'default options', slave: {} }, { name: 'slaveReadEnable=true', slave: { slaveReadEnable: true } }])('carries on from the slave when the master stops, and back on the master when it returns ($name)', async ({ slave: slaveOptions }) => {
    await using cluster = await startCluster({
      brokers: [
        { brokerName: 'broker-a', options: HA },
        { brokerName: 'broker-a', brokerId: 1, options: { ...HA, ...slaveOptions } },
      ],
    });
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
});
