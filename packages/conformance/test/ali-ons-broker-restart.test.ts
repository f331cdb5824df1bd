/**
 * ali-ons across a broker restart, on a cluster of its own (restarting the broker would disturb
 * the concurrent scenarios in ali-ons-conformance.test.ts): the offsets ali-ons committed survive a
 * graceful broker stop, so the group resumes where it was and nothing old comes back.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RequestCode, ResponseCode, createRequest } from '@karman/protocol';
import { startProcessCluster, uniqueName } from '@karman/testkit';
import type { ProcessCluster } from '@karman/testkit';
import { AliOnsProcess } from '../src/index.js';

const REBALANCE_MS = 1_500;
const SETTLE_MS = 1_000;
const QUEUES = 4;

let cluster: ProcessCluster;
const processes: AliOnsProcess[] = [];

beforeAll(async () => {
  cluster = await startProcessCluster({ brokerArgs: ['--set', 'pullRequestHoldCheckInterval=100'] });
}, 60_000);

afterAll(async () => {
  await Promise.all(processes.splice(0).map((p) => p.kill()));
  await cluster?.close();
}, 30_000);

async function aliOns(name: string): Promise<AliOnsProcess> {
  const client = await AliOnsProcess.start({ namesrvAddr: cluster.namesrvAddr, name, hardTimeoutMillis: 90_000, clientDefaults: { rebalanceInterval: REBALANCE_MS } });
  processes.push(client);
  return client;
}

async function committedOffsets(group: string, topic: string): Promise<number[]> {
  const offsets: number[] = [];
  for (let queueId = 0; queueId < QUEUES; queueId++) {
    const response = await cluster
      .adminClient(cluster.brokerAddr())
      .request(createRequest(RequestCode.QUERY_CONSUMER_OFFSET.code, { consumerGroup: group, topic, queueId, setZeroIfNotFound: false }));
    offsets.push(response.code === ResponseCode.SUCCESS.code ? Number(response.extFields.offset) : -1);
  }
  return offsets;
}

describe('ali-ons across a karman-broker restart', () => {
  it('resumes from the offsets committed before the restart: no redelivery, new messages arrive', { timeout: 90_000 }, async () => {
    const topic = uniqueName('BrokerRestart');
    const group = uniqueName('CG_broker_restart');
    await cluster.createTopic(topic, { queues: QUEUES });

    const producer = await aliOns('producer');
    await producer.producer('p', { producerGroup: uniqueName('PG_broker_restart') });
    for (let i = 0; i < 12; i++) await producer.send('p', { topic, body: `before-${i}` });
    const first = await aliOns('consumer-before');
    await first.consumer('c', { consumerGroup: group, consumeFromWhere: 'CONSUME_FROM_FIRST_OFFSET' }, [{ topic }]);
    await first.waitForMessages(12);
    await first.close('c');
    await first.kill();
    const before = await committedOffsets(group, topic);
    expect(before.reduce((a, b) => a + b, 0)).toBe(12);

    // A graceful stop persists consumerOffset.json; the broker comes back on the same port.
    await cluster.stopBroker();
    await cluster.startBroker();
    await cluster.waitForRoute(topic, ['broker-a']);
    expect(await committedOffsets(group, topic)).toEqual(before);

    // FIRST_OFFSET applies only to a group without offsets: a lost offset would replay all 12.
    const second = await aliOns('consumer-after');
    await second.consumer('c', { consumerGroup: group, consumeFromWhere: 'CONSUME_FROM_FIRST_OFFSET' }, [{ topic }]);
    await second.waitForQueues('c', topic, [0, 1, 2, 3]);
    // The producer process has been talking to the old broker process; ali-ons reconnects by itself.
    const after = ['after-0', 'after-1', 'after-2', 'after-3', 'after-4'];
    for (const body of after) await producer.send('p', { topic, body });
    await second.waitForMessages(5);
    await new Promise((r) => setTimeout(r, SETTLE_MS));
    expect(second.messages().map((m) => m.body.toString('utf8')).sort()).toEqual(after);
  });
});
