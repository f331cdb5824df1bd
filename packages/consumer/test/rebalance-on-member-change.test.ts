/**
 * Members joining and leaving: queues move within one rebalance interval (brokers notify
 * the group at once), and through both moves every message is still consumed at least once.
 */
import { describe, expect, it } from 'vitest';
import { startCluster } from '@karman/testkit';
import { PushConsumer } from '../src/push-consumer.js';
import { Deliveries, FAST, sendMessages, startProducer, uniqueName, waitFor, waitForCommitted } from './consumer-fixture.js';

describe('rebalance on member change', () => {
  it('a joining and a leaving member move queues within one interval and lose nothing', async () => {
    await using cluster = await startCluster({ brokers: 1 });
    const topic = uniqueName('T');
    const group = uniqueName('G');
    await cluster.createTopic(topic, { queues: 8 });
    await using producer = await startProducer(cluster);
    const seen = new Deliveries();
    const options = { ...FAST, rebalanceInterval: 1_000, nameservers: cluster.namesrvAddr, group, subscriptions: { [topic]: '*' }, consumeFromWhere: 'CONSUME_FROM_FIRST_OFFSET' as const, handler: seen.record };
    const ofTopic = (c: PushConsumer): number => c.assignment().filter((q) => q.topic === topic).length;
    const a = new PushConsumer({ ...options, instanceName: uniqueName('a') });
    const b = new PushConsumer({ ...options, instanceName: uniqueName('b') });
    try {
      await a.start();
      const sent = await sendMessages(producer, topic, 100);
      await b.start();
      const joined = Date.now();
      await waitFor(() => ofTopic(a) === 4 && ofTopic(b) === 4, 'a 4/4 split after b joined', options.rebalanceInterval + 1_000);
      expect(Date.now() - joined).toBeLessThan(options.rebalanceInterval + 1_000);
      sent.push(...(await sendMessages(producer, topic, 100, (i) => ({ body: `mid-${i}` }))));
      await a.shutdown();
      const left = Date.now();
      await waitFor(() => ofTopic(b) === 8, 'b owning all 8 queues after a left', options.rebalanceInterval + 1_000);
      expect(Date.now() - left).toBeLessThan(options.rebalanceInterval + 1_000);
      sent.push(...(await sendMessages(producer, topic, 100, (i) => ({ body: `late-${i}` }))));
      await waitFor(() => sent.every((s) => seen.has(s.msgId)), 'every one of the 300 messages');
      // A queue moved between members may redeliver what was consumed but not yet committed there
      // (at-least-once); the late messages, sent once b owned everything, come exactly once.
      await waitForCommitted(cluster, group, topic, ['broker-a']);
      const late = new Set(sent.slice(200).map((s) => s.msgId));
      const duplicates = seen.duplicates();
      expect(duplicates.filter(([id]) => late.has(id))).toEqual([]);
      // Each queue moved twice at most (b joining, a leaving): no message more than three times.
      expect(duplicates.filter(([, count]) => count > 3)).toEqual([]);
      console.log(`rebalance on member change: 300 messages, ${seen.total} deliveries, ${duplicates.length} delivered twice or more`);
    } finally {
      await a.shutdown();
      await b.shutdown();
    }
  });
});
