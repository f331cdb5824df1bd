/**
 * Karman's Producer, PushConsumer and PullConsumer against Apache RocketMQ's own nameserver and
 * broker, with default client options: the transport (remoting TCP) and the header serialization
 * are whatever a user gets without asking. Topics are created with karman-admin updateTopic, not by
 * auto-creation. Every message is checked by its body.
 *
 * Only where a test would otherwise sit out one of RocketMQ's 20–30 s client timers is an interval
 * shortened, and the line says so. The broker runs with `messageDelayLevel` of one second per level
 * so the retry test's redeliveries take seconds, not RocketMQ's 10 s, 30 s, 1 min, ..., and
 * without `autoCreateTopicEnable`, as production brokers run.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Producer, selectByHash } from '@karman/producer';
import type { MessageQueue, SendResult } from '@karman/producer';
import { PullConsumer, PushConsumer } from '@karman/consumer';
import type { ConsumedMessage } from '@karman/consumer';
import { dlqTopic, retryTopic } from '@karman/protocol';
import { startApacheRocketMQ } from '../src/apache-rocketmq.js';
import type { ApacheRocketMQ } from '../src/apache-rocketmq.js';
import { apacheRocketMQSkipReason, karmanAdminOk, requireApacheRocketMQUnderCI, uniqueName, waitFor } from './rocketmq-fixture.js';

const skipReason = apacheRocketMQSkipReason();
requireApacheRocketMQUnderCI(skipReason);

const title = 'Karman clients against Apache RocketMQ';

describe.skipIf(skipReason !== undefined)(skipReason === undefined ? title : `${title} (SKIPPED: ${skipReason})`, () => {
  let rmq: ApacheRocketMQ;
  let producer: Producer;

  beforeAll(async () => {
    rmq = await startApacheRocketMQ({ autoCreateTopicEnable: false, brokerConfig: { messageDelayLevel: Array.from({ length: 18 }, () => '1s').join(' ') } });
    producer = new Producer({ group: uniqueName('karman_producer'), nameservers: rmq.namesrvAddr });
    await producer.start();
  }, 120_000);

  afterAll(async () => {
    await producer?.shutdown();
    await rmq?.close();
  }, 60_000);

  /** A topic of `queues` read and write queues on the cluster's master, made with karman-admin. */
  async function createTopic(queues: number): Promise<string> {
    const topic = uniqueName('KT');
    await karmanAdminOk(['updateTopic', '-n', rmq.namesrvAddr, '-c', rmq.clusterName, '-t', topic, '-r', String(queues), '-w', String(queues)]);
    return topic;
  }

  function queueOf(topic: string, queueId: number): MessageQueue {
    return { topic, brokerName: rmq.brokerName, queueId };
  }

  it('sends one message, a batch and ordered messages by selector; a push consumer reads each back by body', async () => {
    const topic = await createTopic(4);
    const single = await producer.send({ topic, body: 'single', tags: 'TagA', keys: ['k-single'], properties: { origin: 'karman' } });
    expect(single.status).toBe('SEND_OK');
    expect(single.messageQueue.brokerName).toBe(rmq.brokerName);

    const batch = await producer.sendBatch(Array.from({ length: 10 }, (_, i) => ({ topic, body: `batch-${i}`, tags: 'TagB' })));
    expect(batch).toHaveLength(10);
    expect(new Set(batch.map((r) => r.messageQueue.queueId)).size).toBe(1);
    expect(batch.map((r) => r.queueOffset)).toEqual(batch.map((_, i) => batch[0]!.queueOffset + i));

    const ordered: SendResult[] = [];
    for (let i = 0; i < 12; i++) ordered.push(await producer.send({ topic, body: `order-${i % 3}-${i}`, tags: 'TagC' }, { selector: selectByHash, arg: `order-${i % 3}` }));
    for (let order = 0; order < 3; order++) {
      const queues = new Set(ordered.filter((_, i) => i % 3 === order).map((r) => r.messageQueue.queueId));
      expect(queues.size).toBe(1);
    }

    const got = new Map<string, ConsumedMessage>();
    await using consumer = new PushConsumer({
      nameservers: rmq.namesrvAddr,
      group: uniqueName('KG'),
      subscriptions: { [topic]: '*' },
      consumeFromWhere: 'CONSUME_FROM_FIRST_OFFSET',
      handler: (m) => void got.set(m.body.toString(), m),
    });
    await consumer.start();
    await waitFor(() => got.size === 23, '23 messages');
    const expected = ['single', ...Array.from({ length: 10 }, (_, i) => `batch-${i}`), ...Array.from({ length: 12 }, (_, i) => `order-${i % 3}-${i}`)];
    expect([...got.keys()].sort()).toEqual(expected.sort());
    const one = got.get('single')!;
    expect([one.topic, one.tags, one.keys, one.properties['origin'], one.msgId, one.queueId, one.queueOffset]).toEqual([topic, 'TagA', ['k-single'], 'karman', single.msgId, single.messageQueue.queueId, single.queueOffset]);
    for (const [i, result] of batch.entries()) expect(got.get(`batch-${i}`)!.msgId).toBe(result.msgId);
    // Each order's messages share one queue, and that queue holds them in send order.
    for (let order = 0; order < 3; order++) {
      const mine = [...got.values()].filter((m) => m.body.toString().startsWith(`order-${order}-`)).sort((a, b) => a.queueOffset - b.queueOffset);
      expect(mine.map((m) => m.body.toString())).toEqual(Array.from({ length: 4 }, (_, k) => `order-${order}-${order + 3 * k}`));
    }
  });

  it('refuses a send to a topic the cluster does not have, saying how to create it', async () => {
    const topic = uniqueName('NoSuchTopic');
    await expect(producer.send({ topic, body: 'nowhere' })).rejects.toThrow(/updateTopic|autoCreateTopicEnable/);
  });

  it('delivers by tag, inflates compressed bodies, and holds a delayed message for its level', async () => {
    const topic = await createTopic(2);
    const big = 'x'.repeat(5_000) + 'end';
    const sentAt = Date.now();
    await producer.send({ topic, body: 'delayed', tags: 'Keep', delayLevel: 1 });
    await producer.send({ topic, body: big, tags: 'Keep' });
    await producer.send({ topic, body: 'skipped', tags: 'Drop' });
    await producer.sendOneway({ topic, body: 'oneway', tags: 'Keep' });
    const got = new Map<string, { at: number; tags: string | undefined }>();
    await using consumer = new PushConsumer({
      nameservers: rmq.namesrvAddr,
      group: uniqueName('KG'),
      subscriptions: { [topic]: 'Keep || Other' },
      consumeFromWhere: 'CONSUME_FROM_FIRST_OFFSET',
      handler: (m) => void got.set(m.body.toString(), { at: Date.now(), tags: m.tags }),
    });
    await consumer.start();
    await waitFor(() => got.size === 3, 'the 3 messages tagged Keep');
    expect([...got.keys()].sort()).toEqual([big, 'delayed', 'oneway'].sort());
    expect([...got.values()].every((v) => v.tags === 'Keep')).toBe(true);
    // Level 1 is one second on this broker (messageDelayLevel above).
    expect(got.get('delayed')!.at - sentAt).toBeGreaterThanOrEqual(900);
  });

  it('consumes orderly: each queue one message at a time, in offset order, under the broker lock', async () => {
    const topic = await createTopic(2);
    for (let i = 0; i < 20; i++) await producer.send({ topic, body: `ordered-${i % 2}-${i}` }, { selector: selectByHash, arg: i % 2 });
    const seen: string[] = [];
    let inFlight = 0;
    let maxInFlight = 0;
    let failedOnce = false;
    await using consumer = new PushConsumer({
      nameservers: rmq.namesrvAddr,
      group: uniqueName('KG'),
      subscriptions: { [topic]: '*' },
      consumeFromWhere: 'CONSUME_FROM_FIRST_OFFSET',
      orderly: true,
      concurrency: 1,
      handler: async (m) => {
        inFlight += 1;
        maxInFlight = Math.max(maxInFlight, inFlight);
        try {
          await new Promise((r) => setTimeout(r, 5));
          // One failure: orderly consumption retries the same message, it does not skip ahead.
          if (m.body.toString() === 'ordered-1-5' && !failedOnce) {
            failedOnce = true;
            return 'SUSPEND_CURRENT_QUEUE_A_MOMENT';
          }
          seen.push(m.body.toString());
          return 'CONSUME_SUCCESS';
        } finally {
          inFlight -= 1;
        }
      },
    });
    await consumer.start();
    await waitFor(() => seen.length === 20, '20 ordered messages');
    for (const key of [0, 1]) expect(seen.filter((b) => b.startsWith(`ordered-${key}-`))).toEqual(Array.from({ length: 10 }, (_, k) => `ordered-${key}-${key + 2 * k}`));
    expect(failedOnce).toBe(true);
    expect(maxInFlight).toBe(1);
  });

  it('lets a second orderly member take its queues within seconds of the first letting go of their locks', async () => {
    const topic = await createTopic(4);
    const group = uniqueName('KG');
    const got = { a: [] as string[], b: [] as string[] };
    const member = (name: 'a' | 'b'): PushConsumer =>
      new PushConsumer({ nameservers: rmq.namesrvAddr, group, instanceName: uniqueName(name), orderly: true, subscriptions: { [topic]: '*' }, consumeFromWhere: 'CONSUME_FROM_FIRST_OFFSET', handler: (m) => void got[name].push(m.body.toString()) });
    const owned = (c: PushConsumer): number[] => c.assignment().filter((q) => q.topic === topic).map((q) => q.queueId).sort();
    await using a = member('a');
    await a.start();
    await waitFor(() => owned(a).length === 4, 'a alone to lock all 4 queues');
    // b's first locks are refused while a still holds the queues; a lets go on its own rebalance,
    // and b tries again one minimum gap (1 s) later, not a rebalance interval (20 s) later.
    await using b = member('b');
    const joined = Date.now();
    await b.start();
    await waitFor(() => owned(a).length === 2 && owned(b).length === 2, 'a 2/2 split of locked queues', 10_000);
    expect(Date.now() - joined).toBeLessThan(10_000);
    for (let i = 0; i < 8; i++) await producer.send({ topic, body: `locked-${i}` }, { queue: queueOf(topic, i % 4) });
    await waitFor(() => got.a.length + got.b.length === 8, '8 messages over a and b');
    expect(got.b.map((body) => Number(body.split('-')[1]) % 4).every((q) => owned(b).includes(q))).toBe(true);
    expect([...got.a, ...got.b].sort()).toEqual(Array.from({ length: 8 }, (_, i) => `locked-${i}`).sort());
  });

  it('shares the queues of a topic between two push consumers of a group, and gives all to the one left', async () => {
    const topic = await createTopic(4);
    const group = uniqueName('KG');
    const got = { a: new Map<string, number>(), b: new Map<string, number>() };
    const member = (name: 'a' | 'b'): PushConsumer =>
      new PushConsumer({
        nameservers: rmq.namesrvAddr,
        group,
        instanceName: uniqueName(name),
        subscriptions: { [topic]: '*' },
        consumeFromWhere: 'CONSUME_FROM_FIRST_OFFSET',
        handler: (m) => void got[name].set(m.body.toString(), m.queueId),
      });
    // Each member also owns %RETRY%group's one queue, so count only the topic's.
    const owned = (c: PushConsumer): number[] => c.assignment().filter((q) => q.topic === topic).map((q) => q.queueId).sort();
    await using a = member('a');
    const b = member('b');
    try {
      await a.start();
      await waitFor(() => owned(a).length === 4, 'a alone to own all 4 queues');
      await b.start();
      // b's heartbeat makes the broker tell a (NOTIFY_CONSUMER_IDS_CHANGED), so both rebalance now, not in 20 s.
      await waitFor(() => owned(a).length === 2 && owned(b).length === 2, 'a 2/2 split');
      expect([...owned(a), ...owned(b)].sort()).toEqual([0, 1, 2, 3]);
      for (let i = 0; i < 40; i++) await producer.send({ topic, body: `two-${i}` }, { queue: queueOf(topic, i % 4) });
      await waitFor(() => got.a.size + got.b.size === 40, '40 messages over a and b');
      for (const [name, consumer] of [['a', a], ['b', b]] as const) {
        expect(new Set(got[name].values())).toEqual(new Set(owned(consumer)));
        expect(got[name].size).toBe(20);
      }
    } finally {
      await b.shutdown();
    }
    // b's UNREGISTER_CLIENT makes the broker tell a, which takes every queue.
    await waitFor(() => owned(a).length === 4, 'a to take all 4 queues after b left');
    for (let i = 0; i < 8; i++) await producer.send({ topic, body: `after-${i}` }, { queue: queueOf(topic, i % 4) });
    await waitFor(() => [...got.a.keys()].filter((k) => k.startsWith('after-')).length === 8, 'a to get the 8 messages sent after b left');
    expect([...got.b.keys()].some((k) => k.startsWith('after-'))).toBe(false);
  });

  it('pulls from an offset, commits, and reads the committed offset back from the broker', async () => {
    const topic = await createTopic(2);
    const queue = queueOf(topic, 1);
    for (let i = 0; i < 10; i++) await producer.send({ topic, body: `pull-${i}` }, { queue });
    const group = uniqueName('KG');
    {
      await using consumer = new PullConsumer({ nameservers: rmq.namesrvAddr, group, autoCommit: false });
      consumer.assign([queue]);
      await consumer.start();
      expect((await consumer.fetchMessageQueues(topic)).map((q) => q.queueId).sort()).toEqual([0, 1]);
      // The group has no offset yet: like RocketMQ's own, a broker answers 0 while the queue's first
      // message is still in memory (QueryConsumerOffsetRequestHeader.setZeroIfNotFound).
      expect(await consumer.committed(queue)).toBe(0);
      await consumer.seek(queue, 3);
      const got: ConsumedMessage[] = [];
      const deadline = Date.now() + 15_000;
      while (got.length < 7 && Date.now() < deadline) got.push(...(await consumer.poll(500)));
      expect(got.map((m) => [m.body.toString(), m.queueOffset])).toEqual(Array.from({ length: 7 }, (_, i) => [`pull-${i + 3}`, i + 3]));
      await consumer.commit();
      await waitFor(async () => (await consumer.committed(queue)) === 10, 'the committed offset 10 on the broker');
    }
    // A new member of the group starts where the broker says the group is.
    await using again = new PullConsumer({ nameservers: rmq.namesrvAddr, group, autoCommit: false });
    again.assign([queue]);
    await again.start();
    expect(await again.committed(queue)).toBe(10);
    await producer.send({ topic, body: 'pull-10' }, { queue });
    const next: ConsumedMessage[] = [];
    const deadline = Date.now() + 15_000;
    while (next.length < 1 && Date.now() < deadline) next.push(...(await again.poll(500)));
    expect(next.map((m) => [m.body.toString(), m.queueOffset])).toEqual([['pull-10', 10]]);
  });

  it('redelivers a failing message through %RETRY%group, then dead-letters it in %DLQ%group after maxReconsumeTimes', async () => {
    const topic = await createTopic(2);
    const group = uniqueName('KG');
    const poisonDeliveries: ConsumedMessage[] = [];
    const ok = new Set<string>();
    await using consumer = new PushConsumer({
      nameservers: rmq.namesrvAddr,
      group,
      subscriptions: { [topic]: '*' },
      consumeFromWhere: 'CONSUME_FROM_FIRST_OFFSET',
      maxReconsumeTimes: 2,
      handler: (m) => {
        if (m.body.toString() === 'poison') {
          poisonDeliveries.push(m);
          throw new Error('cannot handle poison');
        }
        ok.add(m.body.toString());
      },
    });
    await consumer.start();
    const poison = await producer.send({ topic, body: 'poison', tags: 'P', keys: ['poison-key'] });
    for (let i = 0; i < 5; i++) await producer.send({ topic, body: `fine-${i}` });
    await waitFor(() => poisonDeliveries.length >= 3 && ok.size === 5, 'three deliveries of the poison message', 40_000);
    expect(poisonDeliveries.map((d) => [d.topic, d.msgId, d.reconsumeTimes, d.tags, d.body.toString()])).toEqual([
      [topic, poison.msgId, 0, 'P', 'poison'],
      [topic, poison.msgId, 1, 'P', 'poison'],
      [topic, poison.msgId, 2, 'P', 'poison'],
    ]);
    expect(poisonDeliveries[1]!.properties['RETRY_TOPIC']).toBe(topic);
    expect([...ok].sort()).toEqual(['fine-0', 'fine-1', 'fine-2', 'fine-3', 'fine-4']);

    // The broker made %DLQ%group (one queue, read and write) when the message went there.
    const dead: ConsumedMessage[] = [];
    await using dlqReader = new PullConsumer({ nameservers: rmq.namesrvAddr, group: uniqueName('KDLQ'), autoCommit: false, consumeFromWhere: 'CONSUME_FROM_FIRST_OFFSET' });
    dlqReader.assign([queueOf(dlqTopic(group), 0)]);
    await dlqReader.start();
    const deadline = Date.now() + 15_000;
    while (dead.length < 1 && Date.now() < deadline) dead.push(...(await dlqReader.poll(500)));
    expect(dead.map((m) => [m.msgId, m.body.toString(), m.keys])).toEqual([[poison.msgId, 'poison', ['poison-key']]]);
    expect(retryTopic(group)).toBe(`%RETRY%${group}`);
    expect(poisonDeliveries.length).toBe(3);
  });
});
