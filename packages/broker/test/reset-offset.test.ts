/**
 * mqadmin resetOffsetByTime and getConsumerStatus as the broker serves them (RocketMQ
 * `Broker2Client`): INVOKE_BROKER_TO_RESET_OFFSET (222) computes each queue's offset for the
 * timestamp, stores it and pushes RESET_CONSUMER_CLIENT_OFFSET (220) to every online member;
 * INVOKE_BROKER_TO_GET_CONSUMER_STATUS (223) asks each member with GET_CONSUMER_STATUS_FROM_CLIENT
 * (221) and gathers the answers.
 */
import { describe, expect, it } from 'vitest';
import { RemotingClient, RequestCode, ResponseCode, createRequest, createResponse, encodeQueueOffsets, parseRemotingJson, readQueueOffsets } from '@karman/protocol';
import type { RemotingCommand } from '@karman/protocol';
import { startTestBroker, uniqueName } from './broker-fixture.js';
import type { TestBroker } from './broker-fixture.js';
import { heartbeatBody, pullFields, until } from './pull-fixture.js';

const RESET = RequestCode.INVOKE_BROKER_TO_RESET_OFFSET.code;
const STATUS = RequestCode.INVOKE_BROKER_TO_GET_CONSUMER_STATUS.code;

/** A consumer connection that records the resets and status requests the broker pushes, answering 221 with `offsets`. */
function member(b: TestBroker, clientId: string, group: string, topic: string, offsets: Array<[number, number]>) {
  const pushed: RemotingCommand[] = [];
  const client = new RemotingClient(`tcp://${b.broker.address}`, {
    reconnect: false,
    onRequest: (request) => {
      // Members-changed notices (NOTIFY_CONSUMER_IDS_CHANGED) come with every join; not what these tests read.
      if (request.code === RequestCode.NOTIFY_CONSUMER_IDS_CHANGED.code) return undefined;
      pushed.push(request);
      if (request.code !== RequestCode.GET_CONSUMER_STATUS_FROM_CLIENT.code) return undefined;
      const table = encodeQueueOffsets(offsets.map(([queueId, offset]) => ({ queue: { topic, brokerName: 'broker-a', queueId }, offset })));
      return createResponse(request, ResponseCode.SUCCESS.code, undefined, {}, Buffer.from(`{"consumerTable":{},"messageQueueTable":${table}}`));
    },
  });
  const join = async (): Promise<void> => {
    expect((await client.request(createRequest(RequestCode.HEART_BEAT.code, {}, heartbeatBody(clientId, group, { [topic]: '*' })))).code).toBe(ResponseCode.SUCCESS.code);
  };
  return { client, pushed, join };
}

async function topicWithMessages(b: TestBroker, topic: string): Promise<number> {
  const fields = { topic, defaultTopic: 'TBW102', readQueueNums: 2, writeQueueNums: 2, perm: 6, topicFilterType: 'SINGLE_TAG', order: false };
  expect((await b.request(RequestCode.UPDATE_AND_CREATE_TOPIC.code, fields)).code).toBe(0);
  const { store } = b.broker.context;
  for (let i = 0; i < 3; i++) for (const queueId of [0, 1]) await store.put({ topic, queueId, body: Buffer.from(`old-${i}`) });
  await new Promise((r) => setTimeout(r, 30));
  const between = Date.now();
  await new Promise((r) => setTimeout(r, 30));
  for (let i = 0; i < 2; i++) for (const queueId of [0, 1]) await store.put({ topic, queueId, body: Buffer.from(`new-${i}`) });
  return between;
}

function offsetTable(body: Uint8Array | undefined): Map<number, number> {
  const parsed = parseRemotingJson(Buffer.from(body ?? []).toString('utf8')) as { offsetTable: unknown };
  return new Map((readQueueOffsets(parsed.offsetTable) ?? []).map((e) => [e.queue.queueId, e.offset]));
}

describe('offset reset pushed to online consumers', () => {
  it('stores the offsets for the timestamp and pushes them to every member as RESET_CONSUMER_CLIENT_OFFSET', async () => {
    await using b = await startTestBroker();
    const topic = uniqueName('ResetTopic');
    const group = uniqueName('ResetGroup');
    const between = await topicWithMessages(b, topic);
    const { offsets } = b.broker.context;
    offsets.commit(group, topic, 0, 5);
    offsets.commit(group, topic, 1, 5);
    const a = member(b, 'client-a', group, topic, []);
    const c = member(b, 'client-c', group, topic, []);
    await a.join();
    await c.join();

    const response = await b.request(RESET, { topic, group, timestamp: between, isForce: true });
    expect(response.code).toBe(ResponseCode.SUCCESS.code);
    // Three messages of each queue were stored before the timestamp: both queues go back to 3.
    expect(offsetTable(response.body)).toEqual(new Map([[0, 3], [1, 3]]));
    expect([offsets.query(group, topic, 0), offsets.query(group, topic, 1)]).toEqual([3, 3]);
    await until(() => a.pushed.length === 1 && c.pushed.length === 1, 'the reset pushed to both members');
    for (const pushed of [a.pushed[0]!, c.pushed[0]!]) {
      expect(pushed.code).toBe(RequestCode.RESET_CONSUMER_CLIENT_OFFSET.code);
      expect(pushed.extFields).toMatchObject({ topic, group, timestamp: String(between) });
      expect(Buffer.from(pushed.body!).toString()).toBe(`{"offsetTable":{{"brokerName":"broker-a","queueId":0,"topic":"${topic}"}:3,{"brokerName":"broker-a","queueId":1,"topic":"${topic}"}:3}}`);
    }

    // -1 is "now": the end of every queue. Without isForce an offset never moves forward.
    expect(offsetTable((await b.request(RESET, { topic, group, timestamp: -1, isForce: false })).body)).toEqual(new Map([[0, 3], [1, 3]]));
    expect(offsetTable((await b.request(RESET, { topic, group, timestamp: -1, isForce: true })).body)).toEqual(new Map([[0, 5], [1, 5]]));
    expect(offsets.query(group, topic, 1)).toBe(5);
    await Promise.all([a.client.close(), c.client.close()]);
  });

  it('answers CONSUMER_NOT_ONLINE and changes nothing when no member is connected, and names a missing topic or offset', async () => {
    await using b = await startTestBroker();
    const topic = uniqueName('ResetTopic');
    const group = uniqueName('ResetGroup');
    const between = await topicWithMessages(b, topic);
    const { offsets } = b.broker.context;

    const noOffset = await b.request(RESET, { topic, group, timestamp: between, isForce: true });
    expect(noOffset.code).toBe(ResponseCode.SYSTEM_ERROR.code);
    expect(noOffset.remark).toContain(`the consumer group "${group}" has no offset for ${topic} queue 0`);

    offsets.commit(group, topic, 0, 5);
    offsets.commit(group, topic, 1, 4);
    const offline = await b.request(RESET, { topic, group, timestamp: between, isForce: true });
    // mqadmin answers this code by setting the offsets itself (resetOffsetByTimeOld).
    expect(offline.code).toBe(ResponseCode.CONSUMER_NOT_ONLINE.code);
    expect(offline.remark).toContain(`Consumer not online, so can not reset offset, Group: ${group} Topic: ${topic}`);
    expect([offsets.query(group, topic, 0), offsets.query(group, topic, 1)]).toEqual([5, 4]);

    const missing = await b.request(RESET, { topic: 'NoSuchTopic', group, timestamp: between, isForce: true });
    expect(missing.code).toBe(ResponseCode.TOPIC_NOT_EXIST.code);
  });

  it('gathers every member\'s offsets for INVOKE_BROKER_TO_GET_CONSUMER_STATUS, or one member\'s by client id', async () => {
    await using b = await startTestBroker();
    const topic = uniqueName('StatusTopic');
    const group = uniqueName('StatusGroup');
    await topicWithMessages(b, topic);
    const a = member(b, 'client-a', group, topic, [[0, 4]]);
    const c = member(b, 'client-c', group, topic, [[1, 2]]);
    await a.join();
    await c.join();

    const all = await b.request(STATUS, { topic, group });
    expect(all.code).toBe(ResponseCode.SUCCESS.code);
    const text = Buffer.from(all.body!).toString();
    expect(text).toContain(`"client-a":{{"brokerName":"broker-a","queueId":0,"topic":"${topic}"}:4}`);
    const parsed = parseRemotingJson(text) as { consumerTable: Record<string, unknown>; messageQueueTable: unknown };
    expect(Object.keys(parsed.consumerTable).sort()).toEqual(['client-a', 'client-c']);
    expect(readQueueOffsets(parsed.consumerTable['client-c'])).toEqual([{ queue: { topic, brokerName: 'broker-a', queueId: 1 }, offset: 2 }]);
    expect(a.pushed[0]).toMatchObject({ code: RequestCode.GET_CONSUMER_STATUS_FROM_CLIENT.code, extFields: { topic, group } });

    const one = parseRemotingJson(Buffer.from((await b.request(STATUS, { topic, group, clientAddr: 'client-c' })).body!).toString()) as typeof parsed;
    expect(Object.keys(one.consumerTable)).toEqual(['client-c']);

    const nobody = await b.request(STATUS, { topic, group: uniqueName('NoGroup') });
    expect(nobody.code).toBe(ResponseCode.SYSTEM_ERROR.code);
    expect(nobody.remark).toContain('No Any Consumer online in the consumer group');
    await Promise.all([a.client.close(), c.client.close()]);
  });
});

describe('GET_BROKER_CONSUME_STATS', () => {
  it('reports every subscription group\'s consume stats per topic with the broker\'s total lag', async () => {
    await using b = await startTestBroker();
    const topic = uniqueName('BrokerStatsTopic');
    const group = uniqueName('BrokerStatsGroup');
    await topicWithMessages(b, topic);
    const { offsets, groups } = b.broker.context;
    await groups.findOrCreate(group);
    offsets.commit(group, topic, 0, 5);
    offsets.commit(group, topic, 1, 2);

    const response = await b.request(RequestCode.GET_BROKER_CONSUME_STATS.code, { isOrder: false });
    expect(response.code).toBe(ResponseCode.SUCCESS.code);
    const body = parseRemotingJson(Buffer.from(response.body!).toString()) as {
      brokerAddr: string;
      totalDiff: number;
      consumeStatsList: Array<Record<string, Array<{ offsetTable: Array<{ key: { queueId: number; topic: string }; value: { brokerOffset: number; consumerOffset: number } }> }>>>;
    };
    expect(body.brokerAddr).toBe(b.broker.address);
    expect(body.totalDiff).toBe(3);
    const ours = body.consumeStatsList.find((entry) => group in entry)![group]!;
    expect(ours).toHaveLength(1);
    expect(ours[0]!.offsetTable.map((e) => [e.key.queueId, e.value.brokerOffset, e.value.consumerOffset])).toEqual([
      [0, 5, 5],
      [1, 5, 2],
    ]);
    // Ordered topics only: this one is not.
    const ordered = parseRemotingJson(Buffer.from((await b.request(RequestCode.GET_BROKER_CONSUME_STATS.code, { isOrder: true })).body!).toString()) as typeof body;
    expect(ordered.consumeStatsList.find((entry) => group in entry)![group]).toEqual([]);
  });
});

describe('consume stats pull offset (5.x inflight)', () => {
  it('reports where the group last pulled, so tools show pulled-but-uncommitted messages as inflight; a reset forgets it', async () => {
    await using b = await startTestBroker();
    const topic = uniqueName('InflightTopic');
    const group = uniqueName('InflightGroup');
    const between = await topicWithMessages(b, topic);
    b.broker.context.offsets.commit(group, topic, 0, 1);
    const pulled = await b.request(RequestCode.PULL_MESSAGE.code, pullFields(group, topic, 0, 1, { maxMsgNums: 3 }));
    expect(pulled.code).toBe(ResponseCode.SUCCESS.code);
    const stats = (await b.request(RequestCode.GET_CONSUME_STATS.code, { consumerGroup: group, topic })).body;
    const parsed = parseRemotingJson(Buffer.from(stats!).toString()) as { offsetTable: Array<{ key: { queueId: number }; value: Record<string, number> }> };
    const byQueue = new Map(parsed.offsetTable.map((e) => [e.key.queueId, e.value]));
    // Pulled 1..3, committed 1: pullOffset 4, three messages in flight.
    expect(byQueue.get(0)).toMatchObject({ brokerOffset: 5, consumerOffset: 1, pullOffset: 4 });
    // Never pulled: the pull offset is the consumer offset (nothing in flight).
    expect(byQueue.get(1)).toMatchObject({ consumerOffset: 0, pullOffset: 0 });

    const member = new RemotingClient(`tcp://${b.broker.address}`, { reconnect: false });
    expect((await member.request(createRequest(RequestCode.HEART_BEAT.code, {}, heartbeatBody('client-a', group, { [topic]: '*' })))).code).toBe(0);
    b.broker.context.offsets.commit(group, topic, 1, 0);
    expect((await b.request(RESET, { topic, group, timestamp: between, isForce: true })).code).toBe(ResponseCode.SUCCESS.code);
    const after = parseRemotingJson(Buffer.from((await b.request(RequestCode.GET_CONSUME_STATS.code, { consumerGroup: group, topic })).body!).toString()) as typeof parsed;
    expect(after.offsetTable.find((e) => e.key.queueId === 0)!.value).toMatchObject({ consumerOffset: 3, pullOffset: 3 });
    await member.close();
  });
});
