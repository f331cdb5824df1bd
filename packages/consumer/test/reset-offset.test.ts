/**
 * A live offset reset (mqadmin resetOffsetByTime with the group running): the broker pushes
 * RESET_CONSUMER_CLIENT_OFFSET and a running push or pull consumer drops what it holds and consumes
 * again from the new offsets, with no restart; GET_CONSUMER_STATUS_FROM_CLIENT reads a running
 * consumer's offsets through the broker.
 */
import { describe, expect, it } from 'vitest';
import { RemotingClient, RequestCode, ResponseCode, createRequest, parseRemotingJson, readQueueOffsets } from '@karman/protocol';
import { startCluster } from '@karman/testkit';
import type { TestCluster } from '@karman/testkit';
import type { ConsumerStatus } from '../src/consumer-base.js';
import { PullConsumer } from '../src/pull-consumer.js';
import { PushConsumer } from '../src/push-consumer.js';
import { FAST, sendMessages, startProducer, uniqueName, waitFor } from './consumer-fixture.js';

/** Six messages `old-i`, then a timestamp, then six `new-i`, over two queues. */
async function prepare(cluster: TestCluster, topic: string): Promise<number> {
  await cluster.createTopic(topic, { queues: 2 });
  await using producer = await startProducer(cluster);
  await sendMessages(producer, topic, 6, (i) => ({ body: `old-${i}` }));
  await new Promise((r) => setTimeout(r, 30));
  const between = Date.now();
  await new Promise((r) => setTimeout(r, 30));
  await sendMessages(producer, topic, 6, (i) => ({ body: `new-${i}` }));
  return between;
}

async function admin(cluster: TestCluster, code: number, fields: Record<string, string | number | boolean>) {
  const client = new RemotingClient(`tcp://${cluster.broker('broker-a').address}`, { reconnect: false });
  try {
    return await client.request(createRequest(code, fields));
  } finally {
    await client.close();
  }
}

function committed(cluster: TestCluster, group: string, topic: string): number {
  const { offsets } = cluster.broker('broker-a').context;
  return offsets.query(group, topic, 0) + offsets.query(group, topic, 1);
}

describe('live offset reset', () => {
  it('a running push consumer consumes again from the offsets a broker pushes, and reports its offsets on request', async () => {
    await using cluster = await startCluster({ brokers: 1 });
    const topic = uniqueName('T');
    const group = uniqueName('G');
    const between = await prepare(cluster, topic);
    const seen = new Map<string, number>();
    const events: ConsumerStatus[] = [];
    await using consumer = new PushConsumer({
      ...FAST,
      nameservers: cluster.namesrvAddr,
      group,
      subscriptions: { [topic]: '*' },
      consumeFromWhere: 'CONSUME_FROM_FIRST_OFFSET',
      handler: (m) => void seen.set(m.body.toString(), (seen.get(m.body.toString()) ?? 0) + 1),
    });
    consumer.on('status', (s) => events.push(s));
    await consumer.start();
    await waitFor(() => seen.size === 12 && committed(cluster, group, topic) === 12, '12 messages consumed and committed');

    const status = await admin(cluster, RequestCode.INVOKE_BROKER_TO_GET_CONSUMER_STATUS.code, { topic, group });
    expect(status.code).toBe(ResponseCode.SUCCESS.code);
    const table = (parseRemotingJson(Buffer.from(status.body!).toString()) as { consumerTable: Record<string, unknown> }).consumerTable;
    expect(Object.keys(table)).toEqual([consumer.clientId]);
    expect(readQueueOffsets(table[consumer.clientId!])!.map((e) => e.offset).reduce((a, b) => a + b)).toBe(12);

    const reset = await admin(cluster, RequestCode.INVOKE_BROKER_TO_RESET_OFFSET.code, { topic, group, timestamp: between, isForce: true });
    expect(reset.code).toBe(ResponseCode.SUCCESS.code);
    await waitFor(() => [...seen].filter(([body]) => body.startsWith('new-')).every(([, n]) => n === 2), 'the six newer messages consumed again');
    await new Promise((r) => setTimeout(r, 300));
    expect([...seen].filter(([body]) => body.startsWith('old-')).every(([, n]) => n === 1)).toBe(true);
    expect([...seen].filter(([body]) => body.startsWith('new-')).every(([, n]) => n === 2)).toBe(true);
    expect(events.filter((e) => e.type === 'offset_reset')).toHaveLength(2);
    await waitFor(() => committed(cluster, group, topic) === 12, 'the offsets committed to the end again');
  });

  it('a running pull consumer returns the messages after the timestamp again from its next polls', async () => {
    await using cluster = await startCluster({ brokers: 1 });
    const topic = uniqueName('T');
    const group = uniqueName('G');
    const between = await prepare(cluster, topic);
    await using consumer = new PullConsumer({ ...FAST, nameservers: cluster.namesrvAddr, group, subscriptions: { [topic]: '*' }, consumeFromWhere: 'CONSUME_FROM_FIRST_OFFSET' });
    await consumer.start();
    const first: string[] = [];
    await waitFor(async () => {
      for (const m of await consumer.poll(100)) first.push(m.body.toString());
      return first.length >= 12;
    }, '12 messages polled');
    await consumer.commit();
    await waitFor(() => committed(cluster, group, topic) === 12, 'the polled offsets committed');

    const reset = await admin(cluster, RequestCode.INVOKE_BROKER_TO_RESET_OFFSET.code, { topic, group, timestamp: between, isForce: true });
    expect(reset.code).toBe(ResponseCode.SUCCESS.code);
    expect(committed(cluster, group, topic)).toBe(6);
    await new Promise((r) => setTimeout(r, 200));
    // What earlier polls returned is not committed over the reset.
    await consumer.commit();
    expect(committed(cluster, group, topic)).toBe(6);
    const again: string[] = [];
    await waitFor(async () => {
      for (const m of await consumer.poll(100)) again.push(m.body.toString());
      return again.length >= 6;
    }, 'six messages polled again');
    for (const m of await consumer.poll(300)) again.push(m.body.toString());
    expect(again.sort()).toEqual(['new-0', 'new-1', 'new-2', 'new-3', 'new-4', 'new-5']);
    await consumer.commit();
    expect(committed(cluster, group, topic)).toBe(12);
  });
});
