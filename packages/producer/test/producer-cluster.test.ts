import { describe, expect, it } from 'vitest';
import { decodeOffsetMessageId, decompressBody, MessageProperty, MessageSysFlag } from '@karman/protocol';
import { startCluster, uniqueName } from '@karman/testkit';
import type { TestCluster } from '@karman/testkit';
import { Producer, selectByHash } from '../src/index.js';
import type { SendResult } from '../src/index.js';

/** Read a sent message back from the broker that stored it, by its offset id. */
async function readBack(cluster: TestCluster, result: SendResult) {
  const { physicalOffset } = decodeOffsetMessageId(result.offsetMsgId);
  const stored = await cluster.broker(result.messageQueue.brokerName).context.store.readRecord(physicalOffset);
  if (!stored) throw new Error(`no record at ${physicalOffset} on ${result.messageQueue.brokerName}`);
  return stored.record;
}

function producer(cluster: TestCluster, extra: Partial<ConstructorParameters<typeof Producer>[0]> = {}): Producer {
  return new Producer({ group: uniqueName('pg'), nameservers: cluster.namesrvAddr, instanceName: uniqueName('i'), ...extra });
}

describe('Producer against a cluster of two nameservers and two brokers', () => {
  it('sends messages that are stored with their tags, keys, properties and unique id', async () => {
    await using cluster = await startCluster({ nameservers: 2, brokers: 2 });
    const topic = uniqueName('T');
    await cluster.createTopic(topic, { queues: 2 });
    await using p = producer(cluster);
    await p.start();
    const results: SendResult[] = [];
    for (let i = 0; i < 8; i++) results.push(await p.send({ topic, body: `hello ${i}`, tags: 'TagA', keys: [`k${i}`, 'common'], properties: { color: 'blue' } }));
    expect(new Set(results.map((r) => r.messageQueue.brokerName))).toEqual(new Set(['broker-a', 'broker-b']));
    for (const [i, result] of results.entries()) {
      expect(result.status).toBe('SEND_OK');
      const record = await readBack(cluster, result);
      expect(record.body.toString()).toBe(`hello ${i}`);
      expect(record.topic).toBe(topic);
      expect(record.queueId).toBe(result.messageQueue.queueId);
      expect(record.queueOffset).toBe(result.queueOffset);
      expect(record.properties).toMatchObject({ TAGS: 'TagA', KEYS: `k${i} common`, color: 'blue', [MessageProperty.UNIQ_KEY]: result.msgId });
    }
  });

  it('compresses bodies of 4 KiB and more, and the stored bytes inflate to the original', async () => {
    await using cluster = await startCluster();
    const topic = uniqueName('T');
    await cluster.createTopic(topic, { queues: 1 });
    await using p = producer(cluster);
    await p.start();
    const body = Buffer.from('karman '.repeat(1000));
    const record = await readBack(cluster, await p.send({ topic, body }));
    expect(record.sysFlag & MessageSysFlag.COMPRESSED).toBe(MessageSysFlag.COMPRESSED);
    expect(record.body.length).toBeLessThan(body.length);
    expect(decompressBody(record.body).equals(body)).toBe(true);
  });

  it('works when the first nameserver is down at start', async () => {
    await using cluster = await startCluster({ nameservers: 2, brokers: 1 });
    const topic = uniqueName('T');
    await cluster.createTopic(topic);
    await cluster.stopNameServer(0);
    for (let i = 0; i < 3; i++) {
      // Fresh instances start at a random nameserver; each must find the live one.
      await using p = producer(cluster);
      await p.start();
      expect((await p.send({ topic, body: 'x' })).status).toBe('SEND_OK');
    }
  });

  it('keeps sending on the other broker when one is stopped mid-stream, within the retry budget', async () => {
    await using cluster = await startCluster({ brokers: 2 });
    const topic = uniqueName('T');
    await cluster.createTopic(topic, { queues: 2 });
    await using p = producer(cluster, { sendMsgTimeout: 5_000 });
    await p.start();
    for (let i = 0; i < 10; i++) await p.send({ topic, body: `before ${i}` });
    await cluster.stopBroker('broker-b');
    const after: SendResult[] = [];
    for (let i = 0; i < 20; i++) after.push(await p.send({ topic, body: `after ${i}` }));
    expect(after.every((r) => r.messageQueue.brokerName === 'broker-a' && r.status === 'SEND_OK')).toBe(true);
  });

  it('sends by sharding key to the queue Java would pick, in order, and never retries selector sends', async () => {
    await using cluster = await startCluster({ brokers: 2 });
    const topic = uniqueName('T');
    await cluster.createTopic(topic, { queues: 4 });
    await using p = producer(cluster);
    await p.start();
    const byKey = new Map<string, SendResult[]>();
    for (let i = 0; i < 30; i++) {
      const key = `order-${i % 3}`;
      const result = await p.send({ topic, body: `${key}:${i}` }, { selector: selectByHash, arg: key });
      byKey.set(key, [...(byKey.get(key) ?? []), result]);
    }
    for (const [key, results] of byKey) {
      expect(new Set(results.map((r) => `${r.messageQueue.brokerName}/${r.messageQueue.queueId}`)).size).toBe(1);
      const offsets = results.map((r) => r.queueOffset);
      expect(offsets).toEqual([...offsets].sort((a, b) => a - b));
      // Publish list: broker-a 0..3, broker-b 0..3; Java's abs(hashCode % 8).
      const queues = [0, 1, 2, 3].map((q) => `broker-a/${q}`).concat([0, 1, 2, 3].map((q) => `broker-b/${q}`));
      const h = [...key].reduce((acc, ch) => (Math.imul(acc, 31) + ch.charCodeAt(0)) | 0, 0);
      expect(`${results[0]!.messageQueue.brokerName}/${results[0]!.messageQueue.queueId}`).toBe(queues[Math.abs(h % 8)]);
    }
    await cluster.stopBroker('broker-b');
    const onB = { topic, brokerName: 'broker-b', queueId: 0 };
    const error = await p.send({ topic, body: 'x' }, { selector: () => onB }).catch((e: unknown) => e as Error);
    expect(error).toBeInstanceOf(Error);
    expect((error as Error & { code?: string }).code).not.toBe('SEND_FAILED');
  });

  it('returns one result per message for batches and for automatic batching', async () => {
    await using cluster = await startCluster();
    const topic = uniqueName('T');
    await cluster.createTopic(topic, { queues: 1 });
    await using p = producer(cluster);
    await p.start();
    const batch = await p.sendBatch([0, 1, 2].map((i) => ({ topic, body: `b${i}`, keys: `bk${i}` })));
    expect(batch.map((r) => r.queueOffset)).toEqual([batch[0]!.queueOffset, batch[0]!.queueOffset + 1, batch[0]!.queueOffset + 2]);
    for (const [i, r] of batch.entries()) expect((await readBack(cluster, r)).body.toString()).toBe(`b${i}`);

    await using auto = producer(cluster, { autoBatch: { lingerMillis: 5, maxMessages: 64, maxBytes: 1 << 20 } });
    await auto.start();
    const results = await Promise.all(Array.from({ length: 20 }, (_, i) => auto.send({ topic, body: `a${i}` })));
    expect(new Set(results.map((r) => r.msgId)).size).toBe(20);
    for (const [i, r] of results.entries()) expect((await readBack(cluster, r)).body.toString()).toBe(`a${i}`);
  });

  it('with the default lingerMillis 0, sends made in one event-loop turn travel as one batch', async () => {
    await using cluster = await startCluster();
    const topic = uniqueName('T');
    await cluster.createTopic(topic, { queues: 4 });
    await using auto = producer(cluster, { autoBatch: {} });
    await auto.start();
    await auto.send({ topic, body: 'warm-up' }); // route known: the next sends are made in one turn
    const results = await Promise.all(Array.from({ length: 10 }, (_, i) => auto.send({ topic, body: `t${i}` })));
    // Sent one by one they would spread over the 4 queues; as one batch they share a queue and consecutive offsets.
    expect(new Set(results.map((r) => r.messageQueue.queueId)).size).toBe(1);
    expect(results.map((r) => r.queueOffset - results[0]!.queueOffset)).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
    for (const [i, r] of results.entries()) expect((await readBack(cluster, r)).body.toString()).toBe(`t${i}`);
  });

  it('refuses bad messages before sending, naming the value and the limit', async () => {
    await using cluster = await startCluster();
    await using p = producer(cluster, { maxMessageSize: 1024 });
    await p.start();
    await expect(p.send({ topic: 'bad topic', body: 'x' })).rejects.toThrow(/outside \[%\|a-zA-Z0-9_-\]/);
    await expect(p.send({ topic: 'T', body: '' })).rejects.toThrow(/empty/);
    await expect(p.send({ topic: 'T', body: Buffer.alloc(2048) })).rejects.toThrow(/2048 bytes; the limit \(maxMessageSize\) is 1024/);
    await expect(p.send({ topic: 'x'.repeat(128), body: 'x' })).rejects.toThrow(/127/);
    await expect(p.send({ topic: 'SCHEDULE_TOPIC_XXXX', body: 'x' })).rejects.toThrow(/reserved/);
    await expect(p.send({ topic: 'T', body: 'x', properties: { TAGS: 'x' } })).rejects.toThrow(/reserved/);
    expect(() => new Producer({ group: 'g'.repeat(300), nameservers: cluster.namesrvAddr })).toThrow(/300 characters/);
    await expect(p.send({ topic: uniqueName('Missing'), body: 'x' })).rejects.toThrow(/no route/);
  });
});

describe('Producer membership and backpressure', () => {
  it('heartbeats a broker as soon as it learns of it, so the group is known before the 30 s heartbeat', async () => {
    await using cluster = await startCluster();
    const topic = uniqueName('T');
    await cluster.createTopic(topic, { queues: 1 });
    await using p = producer(cluster);
    await p.start();
    await p.send({ topic, body: 'x' });
    const clients = cluster.broker('broker-a').context.clients;
    const deadline = Date.now() + 5_000;
    while (clients.producerGroup(p.options.group).length === 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    expect(clients.producerGroup(p.options.group).map((c) => c.clientId)).toHaveLength(1);
  });

  it('fails fast with PRODUCER_BUSY past its in-flight cap when told to, and waits otherwise', async () => {
    await using cluster = await startCluster();
    const topic = uniqueName('T');
    await cluster.createTopic(topic, { queues: 1 });
    await using fast = producer(cluster, { maxInFlightSends: 1, failFastWhenBusy: true });
    await fast.start();
    const outcomes = await Promise.allSettled([fast.send({ topic, body: 'a' }), fast.send({ topic, body: 'b' })]);
    expect(outcomes[0]!.status).toBe('fulfilled');
    expect(outcomes[1]!.status).toBe('rejected');
    expect(((outcomes[1] as PromiseRejectedResult).reason as { code: string }).code).toBe('PRODUCER_BUSY');

    await using patient = producer(cluster, { maxInFlightSends: 1 });
    await patient.start();
    const results = await Promise.all(Array.from({ length: 5 }, (_, i) => patient.send({ topic, body: `w${i}` })));
    const offsets = results.map((r) => r.queueOffset);
    // One at a time: each send started after the previous answered, so offsets follow call order.
    expect(offsets).toEqual([...offsets].sort((a, b) => a - b));
    expect(new Set(offsets).size).toBe(5);
  });
});
