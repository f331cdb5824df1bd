import { describe, expect, it } from 'vitest';
import { RequestCode, ResponseCode, createRequest } from '@karman/protocol';
import { startTestBroker, uniqueName } from './broker-fixture.js';
import { createTopic, putMessage, until } from './pull-fixture.js';

const QUERY = RequestCode.QUERY_CONSUMER_OFFSET.code;
const UPDATE = RequestCode.UPDATE_CONSUMER_OFFSET.code;

describe('consumer offsets', () => {
  it('answers an UPDATE_CONSUMER_OFFSET sent without the oneway bit, and keeps offsets across a restart', async () => {
    await using b = await startTestBroker();
    const topic = uniqueName('off_topic');
    const group = uniqueName('off_group');
    await createTopic(b, topic, 2);

    const update = await b.request(UPDATE, { consumerGroup: group, topic, queueId: 1, commitOffset: 42 });
    expect(update.code).toBe(ResponseCode.SUCCESS.code);
    // The Java client's oneway commit is stored too.
    const oneway = b.client();
    await oneway.oneway(createRequest(UPDATE, { consumerGroup: group, topic, queueId: 0, commitOffset: '7' }));
    await until(() => b.broker.context.offsets.query(group, topic, 0) === 7, 'the oneway commit');

    await b.restart();
    const q1 = await b.request(QUERY, { consumerGroup: group, topic, queueId: 1 });
    expect(q1.code).toBe(ResponseCode.SUCCESS.code);
    expect(q1.extFields.offset).toBe('42');
    const q0 = await b.request(QUERY, { consumerGroup: group, topic, queueId: 0 });
    expect(q0.extFields.offset).toBe('7');
  });

  it('refuses a negative commit with a remark, keeping the old offset', async () => {
    await using b = await startTestBroker();
    const topic = uniqueName('off_neg');
    const group = uniqueName('off_group');
    await createTopic(b, topic, 1);
    await b.request(UPDATE, { consumerGroup: group, topic, queueId: 0, commitOffset: 5 });
    const bad = await b.request(UPDATE, { consumerGroup: group, topic, queueId: 0, commitOffset: -3 });
    expect(bad.code).toBe(ResponseCode.SYSTEM_ERROR.code);
    expect(bad.remark).toMatch(/commitOffset -3 .* negative/);
    expect((await b.request(QUERY, { consumerGroup: group, topic, queueId: 0 })).extFields.offset).toBe('5');
  });

  it('keeps only commits that name a real queue: a valid group, a topic of this broker, a queue id it has', async () => {
    await using b = await startTestBroker();
    const topic = uniqueName('off_real');
    const group = uniqueName('off_group');
    await createTopic(b, topic, 2);
    const cases: Array<[Record<string, string | number>, RegExp]> = [
      [{ consumerGroup: 'a@b', topic, queueId: 0 }, /cannot commit the offset: the group name "a@b" has characters outside/],
      [{ consumerGroup: group, topic: 'NoSuchTopic', queueId: 0 }, /cannot commit the offset: topic "NoSuchTopic" does not exist/],
      [{ consumerGroup: group, topic, queueId: 2 }, /cannot commit the offset: topic \S+ has 2 queues on \S+; queueId 2 is not one of them/],
    ];
    for (const [fields, remark] of cases) {
      const answer = await b.request(UPDATE, { ...fields, commitOffset: 1 });
      expect([answer.code, answer.remark]).toEqual([ResponseCode.SYSTEM_ERROR.code, expect.stringMatching(remark)]);
    }
    expect([...b.broker.context.offsets.entries()]).toEqual([]);
    expect((await b.request(UPDATE, { consumerGroup: group, topic, queueId: 1, commitOffset: 1 })).code).toBe(ResponseCode.SUCCESS.code);
  });

  it('keeps a commit only for a group that exists or may be created, so random group names add no rows', async () => {
    await using b = await startTestBroker({ autoCreateSubscriptionGroup: false });
    const topic = uniqueName('off_known');
    await createTopic(b, topic, 1);
    const unknown = await b.request(UPDATE, { consumerGroup: uniqueName('random'), topic, queueId: 0, commitOffset: 1 });
    expect([unknown.code, unknown.remark]).toEqual([ResponseCode.SUBSCRIPTION_GROUP_NOT_EXIST.code, expect.stringMatching(/does not exist .*create it with updateSubGroup/)]);
    expect([...b.broker.context.offsets.entries()]).toEqual([]);
    const group = uniqueName('known');
    await b.broker.context.groups.upsert({ groupName: group });
    expect((await b.request(UPDATE, { consumerGroup: group, topic, queueId: 0, commitOffset: 1 })).code).toBe(ResponseCode.SUCCESS.code);
  });

  it('answers 0 for a new group on a queue that still starts at 0, QUERY_NOT_FOUND once it does not', async () => {
    await using b = await startTestBroker({ mappedFileSizeCommitLog: 4096, fileReservedTime: 0 });
    const young = uniqueName('off_young');
    const old = uniqueName('off_old');
    const group = uniqueName('off_group');
    await createTopic(b, young, 2);
    await createTopic(b, old, 1);
    await putMessage(b, young, 0, 'first');

    const withMessage = await b.request(QUERY, { consumerGroup: group, topic: young, queueId: 0 });
    expect([withMessage.code, withMessage.extFields.offset]).toEqual([ResponseCode.SUCCESS.code, '0']);
    const emptyQueue = await b.request(QUERY, { consumerGroup: group, topic: young, queueId: 1 });
    expect([emptyQueue.code, emptyQueue.extFields.offset]).toEqual([ResponseCode.SUCCESS.code, '0']);
    const optedOut = await b.request(QUERY, { consumerGroup: group, topic: young, queueId: 0, setZeroIfNotFound: false });
    expect(optedOut.code).toBe(ResponseCode.QUERY_NOT_FOUND.code);

    for (let i = 0; i < 30; i++) await putMessage(b, old, 0, `m${i}`.padEnd(400, '.'));
    await b.broker.context.store.cleanExpiredFiles(true);
    expect(b.broker.context.store.getMinOffsetInQueue(old, 0)).toBeGreaterThan(0);
    const trimmed = await b.request(QUERY, { consumerGroup: group, topic: old, queueId: 0 });
    expect(trimmed.code).toBe(ResponseCode.QUERY_NOT_FOUND.code);
    expect(trimmed.remark).toBe('Not found, maybe this group consumer boot first');

    // A committed offset always wins.
    await b.request(UPDATE, { consumerGroup: group, topic: old, queueId: 0, commitOffset: 25 });
    const committed = await b.request(QUERY, { consumerGroup: group, topic: old, queueId: 0 });
    expect([committed.code, committed.extFields.offset]).toEqual([ResponseCode.SUCCESS.code, '25']);
  });

  it('counts every message as on disk with accessMessageInMemoryMaxRatio 0, so a new group gets QUERY_NOT_FOUND (LAST_OFFSET then starts at the end)', async () => {
    // RocketMQ's MessageStoreConfig takes any int here; UPDATE_BROKER_CONFIG sets it while running.
    await using b = await startTestBroker({ accessMessageInMemoryMaxRatio: 0 });
    const topic = uniqueName('off_ratio0');
    const group = uniqueName('off_group');
    await createTopic(b, topic, 1);
    await putMessage(b, topic, 0, 'first');
    await putMessage(b, topic, 0, 'second');
    const query = await b.request(QUERY, { consumerGroup: group, topic, queueId: 0 });
    expect(query.code).toBe(ResponseCode.QUERY_NOT_FOUND.code);
    const updated = await b.request(RequestCode.UPDATE_BROKER_CONFIG.code, {}, Buffer.from('accessMessageInMemoryMaxRatio=40\n'));
    expect(updated.code).toBe(ResponseCode.SUCCESS.code);
    const young = await b.request(QUERY, { consumerGroup: group, topic, queueId: 0 });
    expect([young.code, young.extFields.offset]).toEqual([ResponseCode.SUCCESS.code, '0']);
  });

  it('keeps one in-memory window: an UPDATE_BROKER_CONFIG of accessMessageInMemoryMaxRatio moves the store\'s, and GET_BROKER_CONFIG reports it', async () => {
    await using b = await startTestBroker({ physicalMemoryBytes: 10_000 });
    const topic = uniqueName('off_window');
    await createTopic(b, topic, 1);
    await putMessage(b, topic, 0, 'x'.repeat(3_000));
    const store = b.broker.context.store;
    const first = 0;
    // 40 % of 10,000 bytes: the first record, ~3 KiB behind the end, is in memory.
    expect(store.isInMemory(first)).toBe(true);
    const updated = await b.request(RequestCode.UPDATE_BROKER_CONFIG.code, {}, Buffer.from('accessMessageInMemoryMaxRatio=10\n'));
    expect(updated.code).toBe(ResponseCode.SUCCESS.code);
    // 10 % of 10,000 bytes: now it is not, for the store's reads as for the broker's answers.
    expect(store.isInMemory(first)).toBe(false);
    const config = await b.request(RequestCode.GET_BROKER_CONFIG.code, {});
    expect(Buffer.from(config.body ?? []).toString('utf8')).toMatch(/^accessMessageInMemoryMaxRatio=10$/m);
  });

  it('judges "still in memory" against physicalMemoryBytes when it is set, as the slave-read rule does', async () => {
    // RocketMQ measures both against one figure (StoreUtil.TOTAL_PHYSICAL_MEMORY_SIZE).
    await using b = await startTestBroker({ physicalMemoryBytes: 1000 });
    const topic = uniqueName('off_mem');
    const group = uniqueName('off_group');
    await createTopic(b, topic, 1);
    await putMessage(b, topic, 0, 'first');
    const young = await b.request(QUERY, { consumerGroup: group, topic, queueId: 0 });
    expect([young.code, young.extFields.offset]).toEqual([ResponseCode.SUCCESS.code, '0']);
    // 40 % of 1000 bytes: a few hundred bytes written after the first message put it "on disk".
    for (let i = 0; i < 3; i++) await putMessage(b, topic, 0, 'x'.repeat(300));
    const old = await b.request(QUERY, { consumerGroup: group, topic, queueId: 0 });
    expect(old.code).toBe(ResponseCode.QUERY_NOT_FOUND.code);
  });

  it('answers max, min, by-timestamp and earliest-store-time queries with RocketMQ field names', async () => {
    let now = 1_700_000_000_000;
    await using b = await startTestBroker({ clock: () => now });
    const topic = uniqueName('off_queue');
    await createTopic(b, topic, 2);
    for (const at of [1_000, 2_000, 3_000]) {
      now = 1_700_000_000_000 + at;
      await putMessage(b, topic, 0, `at ${at}`);
    }
    const ask = async (code: number, fields: Record<string, string | number>): Promise<Record<string, string | number | boolean>> => {
      const response = await b.request(code, { topic, queueId: 0, ...fields });
      expect(response.code).toBe(ResponseCode.SUCCESS.code);
      return response.extFields;
    };
    expect((await ask(RequestCode.GET_MAX_OFFSET.code, {})).offset).toBe('3');
    expect((await ask(RequestCode.GET_MIN_OFFSET.code, {})).offset).toBe('0');
    expect((await ask(RequestCode.SEARCH_OFFSET_BY_TIMESTAMP.code, { timestamp: 1_700_000_001_500 })).offset).toBe('1');
    expect((await ask(RequestCode.SEARCH_OFFSET_BY_TIMESTAMP.code, { timestamp: 0 })).offset).toBe('0');
    expect((await ask(RequestCode.SEARCH_OFFSET_BY_TIMESTAMP.code, { timestamp: 1_800_000_000_000 })).offset).toBe('3');
    expect((await ask(RequestCode.GET_EARLIEST_MSG_STORETIME.code, {})).timestamp).toBe('1700000001000');
    expect((await ask(RequestCode.GET_EARLIEST_MSG_STORETIME.code, { queueId: 1 })).timestamp).toBe('-1');
    expect((await ask(RequestCode.GET_MAX_OFFSET.code, { queueId: 1 })).offset).toBe('0');
  });
});
