/**
 * What mqadmin's brokerStatus, consumerProgress, topicStatus, consumerConnection,
 * producerConnection, getBrokerConfig and updateBrokerConfig read from a broker: RocketMQ's bodies
 * (fastjson maps with object keys for ConsumeStats and TopicStatsTable), with the numbers a user
 * checks: broker offset, consumer offset and lag per queue, min/max offset and last update time.
 */
import { describe, expect, it } from 'vitest';
import { RequestCode, ResponseCode, parseRemotingJson } from '@karman/protocol';
import type { RemotingCommand } from '@karman/protocol';
import type { ClientChannel } from '../src/client-manager.js';
import { startTestBroker, uniqueName } from './broker-fixture.js';
import type { TestBroker } from './broker-fixture.js';

function text(response: RemotingCommand): string {
  return Buffer.from(response.body ?? []).toString('utf8');
}

async function createTopic(b: TestBroker, topic: string, queues: number): Promise<void> {
  const fields = { topic, defaultTopic: 'TBW102', readQueueNums: queues, writeQueueNums: queues, perm: 6, topicFilterType: 'SINGLE_TAG', order: false };
  expect((await b.request(RequestCode.UPDATE_AND_CREATE_TOPIC.code, fields)).code).toBe(0);
}

/** A connection as the client registry sees it; the admin answers only read its address. */
function channel(id: number, remoteAddress: string): ClientChannel {
  return { id, remoteAddress, closed: false, close: () => {}, oneway: () => {}, request: () => Promise.reject(new Error('not used by these tests')) };
}

type Entry<V> = { key: { brokerName: string; queueId: number; topic: string }; value: V };

describe('broker status', () => {
  it('reports consume stats per queue: broker offset, consumer offset, last consumed time, in fastjson form', async () => {
    await using b = await startTestBroker();
    const topic = uniqueName('StatsTopic');
    const group = uniqueName('StatsGroup');
    await createTopic(b, topic, 2);
    const { store, offsets } = b.broker.context;
    for (let i = 0; i < 5; i++) await store.put({ topic, queueId: 0, body: Buffer.from(`a${i}`) });
    for (let i = 0; i < 2; i++) await store.put({ topic, queueId: 1, body: Buffer.from(`b${i}`) });
    offsets.commit(group, topic, 0, 3);

    const response = await b.request(RequestCode.GET_CONSUME_STATS.code, { consumerGroup: group });
    expect(response.code).toBe(ResponseCode.SUCCESS.code);
    // The key is an object, as fastjson writes HashMap<MessageQueue, OffsetWrapper>: Java tools read this unchanged.
    expect(text(response)).toContain(`"offsetTable":{{"brokerName":"broker-a","queueId":0,"topic":"${topic}"}:{"brokerOffset":5,"consumerOffset":3,"lastTimestamp":`);
    const stats = parseRemotingJson(text(response)) as { consumeTps: number; offsetTable: Array<Entry<{ brokerOffset: number; consumerOffset: number; lastTimestamp: number }>> };
    expect(stats.consumeTps).toBe(0);
    const byQueue = new Map(stats.offsetTable.map((e) => [e.key.queueId, e.value]));
    expect(byQueue.get(0)).toMatchObject({ brokerOffset: 5, consumerOffset: 3 });
    expect(byQueue.get(0)!.lastTimestamp).toBeGreaterThan(Date.now() - 60_000);
    // Never consumed: consumer offset 0, no last time, lag = broker offset.
    expect(byQueue.get(1)).toEqual({ brokerOffset: 2, consumerOffset: 0, lastTimestamp: 0, pullOffset: 0 });
    expect(stats.offsetTable.every((e) => e.key.topic === topic && e.key.brokerName === 'broker-a')).toBe(true);

    const oneTopic = parseRemotingJson(text(await b.request(RequestCode.GET_CONSUME_STATS.code, { consumerGroup: group, topic }))) as typeof stats;
    expect(oneTopic.offsetTable).toHaveLength(2);
    const unknown = await b.request(RequestCode.GET_CONSUME_STATS.code, { consumerGroup: 'NoSuchGroup' });
    expect(text(unknown)).toBe('{"consumeTps":0.0,"offsetTable":{}}');
  });

  it('reports topic stats per queue and TOPIC_NOT_EXIST for an unknown topic', async () => {
    await using b = await startTestBroker();
    const topic = uniqueName('TopicStats');
    await createTopic(b, topic, 3);
    const { store } = b.broker.context;
    const before = Date.now() - 1;
    for (let i = 0; i < 4; i++) await store.put({ topic, queueId: 2, body: Buffer.from(`m${i}`) });
    const response = await b.request(RequestCode.GET_TOPIC_STATS_INFO.code, { topic });
    expect(response.code).toBe(0);
    const table = parseRemotingJson(text(response)) as { offsetTable: Array<Entry<{ minOffset: number; maxOffset: number; lastUpdateTimestamp: number }>> };
    const byQueue = new Map(table.offsetTable.map((e) => [e.key.queueId, e.value]));
    expect([...byQueue.keys()].sort()).toEqual([0, 1, 2]);
    expect(byQueue.get(0)).toEqual({ minOffset: 0, maxOffset: 0, lastUpdateTimestamp: 0 });
    expect(byQueue.get(2)).toMatchObject({ minOffset: 0, maxOffset: 4 });
    expect(byQueue.get(2)!.lastUpdateTimestamp).toBeGreaterThanOrEqual(before);

    const missing = await b.request(RequestCode.GET_TOPIC_STATS_INFO.code, { topic: 'NoSuchTopic' });
    expect(missing.code).toBe(ResponseCode.TOPIC_NOT_EXIST.code);
    expect(missing.remark).toMatch(/topic "NoSuchTopic" does not exist on broker-a/);
  });

  it('reports runtime info with RocketMQ keys as strings', async () => {
    await using b = await startTestBroker();
    const topic = uniqueName('RuntimeTopic');
    await createTopic(b, topic, 1);
    await b.broker.context.store.put({ topic, queueId: 0, body: Buffer.from('x') });
    b.broker.context.stats.recordPut(topic, 1, 100, 2);
    const response = await b.request(RequestCode.GET_BROKER_RUNTIME_INFO.code);
    expect(response.code).toBe(0);
    const { table } = JSON.parse(text(response)) as { table: Record<string, string> };
    expect(table).toMatchObject({ brokerVersionDesc: 'V4_9_4', msgPutTotalTodayNow: '1', msgGetTotalTodayNow: '0', commitLogMinOffset: '0', karmanHeldPullRequests: '0' });
    expect(Number(table.commitLogMaxOffset)).toBe(b.broker.context.store.maxPhyOffset);
    expect(table.putTps!.split(' ')).toHaveLength(3);
    expect(table.runtime).toMatch(/^\[ 0 days, 0 hours, \d+ minutes, \d+ seconds \]$/);
    expect(table.commitLogDirCapacity).toMatch(/^Total : [\d.]+ GiB, Free : [\d.]+ GiB\.$/);
    expect(Object.values(table).every((v) => typeof v === 'string')).toBe(true);
    // What mqadmin clusterList reads besides: the 5.x spelling of the get rate, the store time of
    // the oldest message (its "#Hour" column), and the wait times it prints (never "null").
    expect(table.getTransferredTps).toBe(table.getTransferedTps);
    const stored = Number(table.earliestMessageTimeStamp);
    expect(stored).toBeGreaterThan(Date.now() - 60_000);
    expect(stored).toBeLessThanOrEqual(Date.now());
    for (const key of ['pageCacheLockTimeMills', 'sendThreadPoolQueueHeadWaitTimeMills', 'pullThreadPoolQueueHeadWaitTimeMills']) expect(table[key], key).toBe('0');
  });

  it('lists the connections of a consumer group and of a producer group, or says nobody is connected', async () => {
    await using b = await startTestBroker();
    const group = uniqueName('ConnGroup');
    const { clients } = b.broker.context;
    clients.heartbeat(
      channel(1, '10.0.0.5:50001'),
      {
        clientID: '10.0.0.5@1',
        producerDataSet: [{ groupName: 'ProducerG' }],
        consumerDataSet: [
          {
            groupName: group,
            consumeType: 'CONSUME_PASSIVELY',
            messageModel: 'CLUSTERING',
            consumeFromWhere: 'CONSUME_FROM_FIRST_OFFSET',
            unitMode: false,
            subscriptionDataSet: [{ topic: 'T1', subString: 'a || b', tagsSet: ['a', 'b'], codeSet: [97, 98], subVersion: 1, expressionType: 'TAG', classFilterMode: false }],
          },
        ],
      },
      'NODE',
      395,
    );
    const response = await b.request(RequestCode.GET_CONSUMER_CONNECTION_LIST.code, { consumerGroup: group });
    expect(response.code).toBe(0);
    expect(JSON.parse(text(response))).toEqual({
      connectionSet: [{ clientAddr: '10.0.0.5:50001', clientId: '10.0.0.5@1', language: 'NODE', version: 395 }],
      consumeFromWhere: 'CONSUME_FROM_FIRST_OFFSET',
      consumeType: 'CONSUME_PASSIVELY',
      messageModel: 'CLUSTERING',
      subscriptionTable: { T1: { topic: 'T1', subString: 'a || b', tagsSet: ['a', 'b'], codeSet: [97, 98], subVersion: 1, expressionType: 'TAG', classFilterMode: false } },
    });
    const offline = await b.request(RequestCode.GET_CONSUMER_CONNECTION_LIST.code, { consumerGroup: 'Nobody' });
    expect(offline.code).toBe(ResponseCode.CONSUMER_NOT_ONLINE.code);
    expect(offline.remark).toMatch(/"Nobody" has no consumer connected/);

    const producers = await b.request(RequestCode.GET_PRODUCER_CONNECTION_LIST.code, { producerGroup: 'ProducerG' });
    expect(JSON.parse(text(producers))).toEqual({ connectionSet: [{ clientAddr: '10.0.0.5:50001', clientId: '10.0.0.5@1', language: 'NODE', version: 395 }] });
    const noProducers = await b.request(RequestCode.GET_PRODUCER_CONNECTION_LIST.code, { producerGroup: 'NoProducers' });
    expect(noProducers.code).toBe(ResponseCode.SYSTEM_ERROR.code);
  });
});

describe('broker config', () => {
  it('lists every option as properties text and applies run-time options, refusing the others by name', async () => {
    await using b = await startTestBroker({ brokerName: 'broker-cfg' });
    const got = await b.request(RequestCode.GET_BROKER_CONFIG.code);
    expect(got.code).toBe(0);
    const body = text(got);
    expect(body).toMatch(/^brokerName=broker-cfg$/m);
    expect(body).toMatch(/^slaveReadEnable=false$/m);
    expect(body).toMatch(/^flushDiskType=ASYNC_FLUSH$/m);
    expect(body).toMatch(/^mappedFileSizeCommitLog=1048576$/m);
    expect(body).not.toMatch(/^clock=/m);
    const version = JSON.parse(String(got.extFields.version)) as { counter: number };

    const updated = await b.request(RequestCode.UPDATE_BROKER_CONFIG.code, {}, Buffer.from('slaveReadEnable=true\naccessMessageInMemoryMaxRatio=30\n'));
    expect(updated.code).toBe(ResponseCode.SUCCESS.code);
    expect(b.broker.config.slaveReadEnable).toBe(true);
    expect(b.broker.config.accessMessageInMemoryMaxRatio).toBe(30);
    const after = await b.request(RequestCode.GET_BROKER_CONFIG.code);
    expect(text(after)).toMatch(/^slaveReadEnable=true$/m);
    expect((JSON.parse(String(after.extFields.version)) as { counter: number }).counter).toBe(version.counter + 1);

    // mqadmin updateBrokerConfig -k brokerPermission -v 4: read-only before maintenance.
    expect((await b.request(RequestCode.UPDATE_BROKER_CONFIG.code, {}, Buffer.from('brokerPermission=4'))).code).toBe(0);
    expect(b.broker.config.brokerPermission).toBe(4);

    const fixed = await b.request(RequestCode.UPDATE_BROKER_CONFIG.code, {}, Buffer.from('listenPort=1234\nslaveReadEnable=false'));
    expect(fixed.code).toBe(ResponseCode.SYSTEM_ERROR.code);
    expect(fixed.remark).toMatch(/option listenPort cannot change while the broker runs; set it in broker.conf and restart/);
    expect(b.broker.config.slaveReadEnable).toBe(true);

    const unknown = await b.request(RequestCode.UPDATE_BROKER_CONFIG.code, {}, Buffer.from('noSuchOption=1'));
    expect(unknown.remark).toMatch(/unknown option noSuchOption/);
    const badValue = await b.request(RequestCode.UPDATE_BROKER_CONFIG.code, {}, Buffer.from('accessMessageInMemoryMaxRatio=500'));
    expect(badValue.code).toBe(ResponseCode.SYSTEM_ERROR.code);
    expect(badValue.remark).toMatch(/accessMessageInMemoryMaxRatio/);
    expect(b.broker.config.accessMessageInMemoryMaxRatio).toBe(30);
    const empty = await b.request(RequestCode.UPDATE_BROKER_CONFIG.code);
    expect(empty.remark).toMatch(/no key=value lines/);
    // A body past 64 KiB is refused before it is parsed, naming the limit; the broker keeps serving.
    const huge = await b.request(RequestCode.UPDATE_BROKER_CONFIG.code, {}, Buffer.from(`slaveReadEnable=false\n#${'x'.repeat(70_000)}`));
    expect([huge.code, huge.remark]).toEqual([ResponseCode.SYSTEM_ERROR.code, expect.stringMatching(/UPDATE_BROKER_CONFIG body is 70023 bytes, over the 65536-byte limit/)]);
    expect(b.broker.config.slaveReadEnable).toBe(true);
  });
});
