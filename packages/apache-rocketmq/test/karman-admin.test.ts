/**
 * karman-admin against Apache RocketMQ's own nameserver and broker, run as a user runs it (a
 * process; what it prints and its exit code): updateTopic, topicRoute, clusterList, sendMessage,
 * consumeMessage, topicStatus and consumerProgress of a group a default PushConsumer consumed with.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Producer } from '@karman/producer';
import type { SendResult } from '@karman/producer';
import { PushConsumer } from '@karman/consumer';
import { startApacheRocketMQ } from '../src/apache-rocketmq.js';
import type { ApacheRocketMQ } from '../src/apache-rocketmq.js';
import { apacheRocketMQSkipReason, karmanAdmin, karmanAdminOk, requireApacheRocketMQUnderCI, uniqueName, waitFor } from './rocketmq-fixture.js';

const skipReason = apacheRocketMQSkipReason();
requireApacheRocketMQUnderCI(skipReason);

const title = 'karman-admin against Apache RocketMQ';

interface QueueProgress {
  topic: string;
  brokerName: string;
  queueId: number;
  brokerOffset: number;
  consumerOffset: number;
  diff: number;
}

describe.skipIf(skipReason !== undefined)(skipReason === undefined ? title : `${title} (SKIPPED: ${skipReason})`, () => {
  let rmq: ApacheRocketMQ;
  const admin = (...args: string[]): Promise<string> => karmanAdminOk([...args, '-n', rmq.namesrvAddr]);
  const adminJson = async <T>(...args: string[]): Promise<T> => JSON.parse(await admin(...args, '--json')) as T;

  beforeAll(async () => {
    rmq = await startApacheRocketMQ();
  }, 120_000);

  afterAll(async () => {
    await rmq?.close();
  }, 60_000);

  it('clusterList shows the broker with its address and version', async () => {
    const rows = await adminJson<Array<{ cluster: string; brokerName: string; brokerId: number; address: string; version: string }>>('clusterList');
    expect(rows.map((r) => [r.cluster, r.brokerName, r.brokerId, r.address, r.version])).toEqual([[rmq.clusterName, rmq.brokerName, 0, rmq.brokerAddr, 'V5_5_0']]);
    const text = (await admin('clusterList')).split('\n');
    expect(text[0]).toMatch(/^#Cluster Name\s+#Broker Name\s+#BID\s+#Addr\s+#Version/);
    expect(text[1]).toMatch(new RegExp(`^${rmq.clusterName}\\s+${rmq.brokerName}\\s+0\\s+${rmq.brokerAddr.replace(/\./g, '\\.')}\\s+V5_5_0\\s`));
  });

  it('updateTopic -c creates a topic on the master; topicRoute and topicList show it', async () => {
    const topic = uniqueName('AT');
    expect(await admin('updateTopic', '-c', rmq.clusterName, '-t', topic, '-r', '3', '-w', '3')).toContain(`create topic to ${rmq.brokerAddr} success.`);
    const route = await adminJson<{ queueDatas: Array<{ brokerName: string; readQueueNums: number; writeQueueNums: number; perm: number }>; brokerDatas: Array<{ brokerName: string; brokerAddrs: Record<string, string> }> }>('topicRoute', '-t', topic);
    expect(route.queueDatas.map((q) => [q.brokerName, q.readQueueNums, q.writeQueueNums, q.perm])).toEqual([[rmq.brokerName, 3, 3, 6]]);
    expect(route.brokerDatas.map((b) => [b.brokerName, b.brokerAddrs])).toEqual([[rmq.brokerName, { '0': rmq.brokerAddr }]]);
    expect(await admin('topicRoute', '-t', topic)).toContain(`"0": "${rmq.brokerAddr}"`);
    expect((await admin('topicList')).split('\n')).toContain(topic);
    const missing = await karmanAdmin(['topicRoute', '-t', uniqueName('NoSuchTopic'), '-n', rmq.namesrvAddr]);
    expect([missing.code, missing.stderr]).toEqual([1, expect.stringMatching(/^karman-admin topicRoute: topic "NoSuchTopic_.*" has no route on the nameserver/)]);
  });

  it('sendMessage and consumeMessage carry a body both ways', async () => {
    const topic = uniqueName('AT');
    await admin('updateTopic', '-c', rmq.clusterName, '-t', topic, '-r', '1', '-w', '1');
    const sent = await adminJson<{ sendStatus: string; msgId: string; queueOffset: number }>('sendMessage', '-t', topic, '-p', 'from karman-admin', '-k', 'admin-key', '-c', 'AdminTag');
    expect([sent.sendStatus, sent.queueOffset]).toEqual(['SEND_OK', 0]);
    const text = await admin('consumeMessage', '-t', topic, '-c', '5');
    expect(text).toContain(`MSGID: ${sent.msgId}`);
    expect(text).toMatch(/Tags: AdminTag Keys: admin-key .*BODY: from karman-admin/);
    expect(text).toContain('Consumed 1 message.');
  });

  it('queryMsgByOffset, queryMsgById and queryMsgByKey find a message the broker stored', async () => {
    const topic = uniqueName('AT');
    await admin('updateTopic', '-c', rmq.clusterName, '-t', topic, '-r', '1', '-w', '1');
    await using producer = new Producer({ group: uniqueName('AP'), nameservers: rmq.namesrvAddr });
    await producer.start();
    const sent: SendResult[] = [];
    for (let i = 0; i < 3; i++) sent.push(await producer.send({ topic, body: `query-${i}`, keys: [`query-key-${i}`] }));
    const byOffset = await adminJson<{ body: string; queueOffset: number; keys: string[] }>('queryMsgByOffset', '-t', topic, '-b', rmq.brokerName, '-i', '0', '-o', '1');
    expect([byOffset.body, byOffset.queueOffset]).toEqual(['query-1', 1]);
    const byId = await admin('queryMsgById', '-i', sent[2]!.offsetMsgId);
    expect(byId).toMatch(/Keys\s+: \[query-key-2\]/);
    expect(byId).toContain('query-2');
    const byKey = await adminJson<Array<{ msgId: string; queueOffset: number }>>('queryMsgByKey', '-t', topic, '-k', 'query-key-0');
    expect(byKey.map((m) => [m.msgId, m.queueOffset])).toEqual([[sent[0]!.msgId, 0]]);
    const past = await karmanAdmin(['queryMsgByOffset', '-t', topic, '-b', rmq.brokerName, '-i', '0', '-o', '3', '-n', rmq.namesrvAddr]);
    expect([past.code, past.stderr]).toEqual([1, expect.stringContaining('has no message at offset 3 (it holds 0 to 2)')]);
  });

  it("consumerProgress shows a default PushConsumer's committed offsets per queue, and topicStatus the broker's", async () => {
    const topic = uniqueName('AT');
    await admin('updateTopic', '-c', rmq.clusterName, '-t', topic, '-r', '2', '-w', '2');
    await using producer = new Producer({ group: uniqueName('AP'), nameservers: rmq.namesrvAddr });
    await producer.start();
    const sent: SendResult[] = [];
    for (let i = 0; i < 7; i++) sent.push(await producer.send({ topic, body: `progress-${i}` }, { queue: { topic, brokerName: rmq.brokerName, queueId: i < 3 ? 0 : 1 } }));

    const group = uniqueName('AG');
    const got = new Set<string>();
    await using consumer = new PushConsumer({ nameservers: rmq.namesrvAddr, group, subscriptions: { [topic]: '*' }, consumeFromWhere: 'CONSUME_FROM_FIRST_OFFSET', handler: (m) => void got.add(m.body.toString()) });
    await consumer.start();
    await waitFor(() => got.size === 7, 'the 7 messages');
    expect([...got].sort()).toEqual(Array.from({ length: 7 }, (_, i) => `progress-${i}`));

    // The consumer commits every persistConsumerOffsetInterval (5 s, its default).
    let progress: { queues: QueueProgress[]; diffTotal: number } | undefined;
    await waitFor(async () => {
      const result = await karmanAdmin(['consumerProgress', '-g', group, '-t', topic, '-n', rmq.namesrvAddr, '--json']);
      if (result.code !== 0) return false;
      progress = JSON.parse(result.stdout) as typeof progress;
      return progress!.diffTotal === 0 && progress!.queues.every((q) => q.consumerOffset === q.brokerOffset);
    }, 'consumerProgress to show every message consumed', 30_000);
    expect(progress!.queues.map((q) => [q.topic, q.brokerName, q.queueId, q.brokerOffset, q.consumerOffset, q.diff])).toEqual([
      [topic, rmq.brokerName, 0, 3, 3, 0],
      [topic, rmq.brokerName, 1, 4, 4, 0],
    ]);
    const text = await admin('consumerProgress', '-g', group, '-t', topic);
    expect(text).toMatch(/^#Topic\s+#Broker Name\s+#QID\s+#Broker Offset\s+#Consumer Offset\s+#Diff\s+#LastTime/);
    expect(text).toContain('Diff Total: 0');

    const status = await adminJson<Array<{ queueId: number; minOffset: number; maxOffset: number }>>('topicStatus', '-t', topic);
    expect(status.map((s) => [s.queueId, s.minOffset, s.maxOffset])).toEqual([
      [0, 0, 3],
      [1, 0, 4],
    ]);
    expect(sent.map((s) => s.queueOffset)).toEqual([0, 1, 2, 0, 1, 2, 3]);
  });
});
