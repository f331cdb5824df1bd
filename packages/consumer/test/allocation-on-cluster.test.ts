/**
 * The allocation strategies' worked examples on a real cluster: three members of one group over a topic of 8 queues
 * split them exactly as the strategy says for the members' sorted client ids.
 */
import { describe, expect, it } from 'vitest';
import { startCluster } from '@karman/testkit';
import type { MessageQueue } from '@karman/client';
import { PushConsumer } from '../src/push-consumer.js';
import type { AllocateStrategy } from '../src/allocate-strategy.js';
import { allocateAveragely } from '../src/allocate-averagely.js';
import { allocateAveragelyByCircle } from '../src/allocate-averagely-by-circle.js';
import { allocateConsistentHash } from '../src/allocate-consistent-hash.js';
import type { ConsumerStatus } from '../src/consumer-base.js';
import { FAST, uniqueName, waitFor } from './consumer-fixture.js';

const ids = (qs: MessageQueue[], topic: string): number[] => qs.filter((q) => q.topic === topic).map((q) => q.queueId).sort((a, b) => a - b);

describe.each([
  ['AVG', allocateAveragely, [[0, 1, 2], [3, 4, 5], [6, 7]]],
  ['AVG_BY_CIRCLE', allocateAveragelyByCircle, [[0, 3, 6], [1, 4, 7], [2, 5]]],
  ['CONSISTENT_HASH', allocateConsistentHash(), undefined],
] as Array<[string, AllocateStrategy, number[][] | undefined]>)('3 consumers × 8 queues with %s', (_name, strategy, expected) => {
  it('each member takes its share for the sorted client ids', async () => {
    await using cluster = await startCluster({ brokers: 1 });
    const topic = uniqueName('T');
    const group = uniqueName('G');
    await cluster.createTopic(topic, { queues: 8 });
    const warnings: ConsumerStatus[] = [];
    const consumers = ['m1', 'm2', 'm3'].map(
      (name) => new PushConsumer({ ...FAST, nameservers: cluster.namesrvAddr, instanceName: uniqueName(name), group, subscriptions: { [topic]: '*' }, allocateStrategy: strategy, handler: () => undefined }),
    );
    try {
      for (const c of consumers) c.on('status', (s) => s.type === 'more_consumers_than_queues' && warnings.push(s));
      await Promise.all(consumers.map((c) => c.start()));
      const sorted = [...consumers].sort((a, b) => (a.clientId! < b.clientId! ? -1 : 1));
      const cids = sorted.map((c) => c.clientId!);
      const mqAll = Array.from({ length: 8 }, (_, queueId) => ({ topic, brokerName: 'broker-a', queueId }));
      const want = expected ?? cids.map((cid) => ids(strategy.allocate(group, cid, mqAll, cids), topic));
      await waitFor(() => sorted.every((c, i) => JSON.stringify(ids(c.assignment(), topic)) === JSON.stringify(want[i])), `the ${strategy.name} split ${JSON.stringify(want)}`);
      expect(sorted.map((c) => ids(c.assignment(), topic))).toEqual(want);
      expect(warnings).toEqual([]);
    } finally {
      await Promise.all(consumers.map((c) => c.shutdown()));
    }
  });
});

describe('more consumers than queues', () => {
  it('leaves the extra member idle and says so', async () => {
    await using cluster = await startCluster({ brokers: 1 });
    const topic = uniqueName('T');
    const group = uniqueName('G');
    await cluster.createTopic(topic, { queues: 1 });
    const warnings: ConsumerStatus[] = [];
    const consumers = ['m1', 'm2'].map((name) => new PushConsumer({ ...FAST, nameservers: cluster.namesrvAddr, instanceName: uniqueName(name), group, subscriptions: { [topic]: '*' }, handler: () => undefined }));
    try {
      for (const c of consumers) c.on('status', (s) => s.type === 'more_consumers_than_queues' && warnings.push(s));
      await Promise.all(consumers.map((c) => c.start()));
      await waitFor(() => warnings.length > 0 && consumers.map((c) => ids(c.assignment(), topic).length).sort().join() === '0,1', 'one idle member and a warning');
      expect(warnings[0]).toMatchObject({ type: 'more_consumers_than_queues', topic, consumers: 2, queues: 1 });
    } finally {
      await Promise.all(consumers.map((c) => c.shutdown()));
    }
  });
});
