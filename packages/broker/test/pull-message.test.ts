import { describe, expect, it } from 'vitest';
import { Perm, RequestCode, ResponseCode, decodeRecords } from '@karman/protocol';
import type { RemotingCommand } from '@karman/protocol';
import { startTestBroker, uniqueName } from './broker-fixture.js';
import { createTopic, heartbeatBody, pullFields, putMessage } from './pull-fixture.js';

const PULL = RequestCode.PULL_MESSAGE.code;

function offsets(response: RemotingCommand): Record<string, unknown> {
  const { nextBeginOffset, minOffset, maxOffset, suggestWhichBrokerId } = response.extFields;
  return { nextBeginOffset, minOffset, maxOffset, suggestWhichBrokerId };
}

function bodies(response: RemotingCommand): string[] {
  return decodeRecords(Buffer.from(response.body ?? new Uint8Array())).map((r) => r.body.toString());
}

describe('PULL_MESSAGE', () => {
  it('returns the stored records byte for byte, filtered by tag, with offsets on the reply', async () => {
    await using b = await startTestBroker();
    const topic = uniqueName('pull_topic');
    const group = uniqueName('pull_group');
    await createTopic(b, topic, 2);
    const stored = [
      await putMessage(b, topic, 0, 'first', 'TagA'),
      await putMessage(b, topic, 0, 'second', 'TagB'),
      await putMessage(b, topic, 0, 'third', 'TagC'),
      await putMessage(b, topic, 0, 'untagged'),
    ];

    const filtered = await b.request(PULL, pullFields(group, topic, 0, 0, { subscription: 'TagA || TagC' }));
    expect(filtered.code).toBe(ResponseCode.SUCCESS.code);
    const records = decodeRecords(Buffer.from(filtered.body!));
    expect(records.map((r) => [r.body.toString(), r.properties.TAGS, r.queueOffset])).toEqual([
      ['first', 'TagA', 0],
      ['third', 'TagC', 2],
    ]);
    // The body is the commit log's bytes, not a re-encoding.
    const raw = await Promise.all([stored[0]!, stored[2]!].map(async (s) => (await b.broker.context.store.readRecord(s.wroteOffset))!.buffer));
    expect(Buffer.from(filtered.body!).equals(Buffer.concat(raw))).toBe(true);
    expect(offsets(filtered)).toEqual({ nextBeginOffset: '4', minOffset: '0', maxOffset: '4', suggestWhichBrokerId: '0' });

    const all = await b.request(PULL, pullFields(group, topic, 0, 1, { subscription: '*' }));
    expect(bodies(all)).toEqual(['second', 'third', 'untagged']);
    expect(all.extFields.nextBeginOffset).toBe('4');
  });

  it('serves LITE_PULL_MESSAGE (361, what 5.x DefaultLitePullConsumer sends) as PULL_MESSAGE', async () => {
    await using b = await startTestBroker();
    const topic = uniqueName('pull_lite');
    const group = uniqueName('pull_group');
    await createTopic(b, topic, 1);
    await putMessage(b, topic, 0, 'first', 'TagA');
    await putMessage(b, topic, 0, 'second', 'TagB');
    const lite = await b.request(RequestCode.LITE_PULL_MESSAGE.code, pullFields(group, topic, 0, 0, { subscription: 'TagB' }));
    expect(lite.code).toBe(ResponseCode.SUCCESS.code);
    expect(bodies(lite)).toEqual(['second']);
    expect(offsets(lite)).toEqual({ nextBeginOffset: '2', minOffset: '0', maxOffset: '2', suggestWhichBrokerId: '0' });
  });

  it('answers each store status with PullMessageProcessor\'s code, always with nextBeginOffset, minOffset, maxOffset and suggestWhichBrokerId', async () => {
    await using b = await startTestBroker();
    const topic = uniqueName('pull_status');
    const group = uniqueName('pull_group');
    await createTopic(b, topic, 2);
    for (let i = 0; i < 3; i++) await putMessage(b, topic, 0, `m${i}`, 'TagA');
    await putMessage(b, topic, 0, 'untagged');

    const caught = await b.request(PULL, pullFields(group, topic, 0, 4));
    expect(caught.code).toBe(ResponseCode.PULL_NOT_FOUND.code);
    expect(offsets(caught)).toEqual({ nextBeginOffset: '4', minOffset: '0', maxOffset: '4', suggestWhichBrokerId: '0' });

    const beyond = await b.request(PULL, pullFields(group, topic, 0, 10));
    expect(beyond.code).toBe(ResponseCode.PULL_OFFSET_MOVED.code);
    expect(offsets(beyond)).toEqual({ nextBeginOffset: '0', minOffset: '0', maxOffset: '4', suggestWhichBrokerId: '0' });
    expect(beyond.remark).toMatch(/offset 10 .* outside \[0, 4\]/);

    const noMatch = await b.request(PULL, pullFields(group, topic, 0, 3, { subscription: 'TagA' }));
    expect(noMatch.code).toBe(ResponseCode.PULL_RETRY_IMMEDIATELY.code);
    expect(noMatch.extFields.nextBeginOffset).toBe('4');

    const emptyQueue = await b.request(PULL, pullFields(group, topic, 1, 0));
    expect(emptyQueue.code).toBe(ResponseCode.PULL_NOT_FOUND.code);
    expect(offsets(emptyQueue)).toEqual({ nextBeginOffset: '0', minOffset: '0', maxOffset: '0', suggestWhichBrokerId: '0' });

    const emptyQueueMoved = await b.request(PULL, pullFields(group, topic, 1, 7));
    expect(emptyQueueMoved.code).toBe(ResponseCode.PULL_OFFSET_MOVED.code);
    expect(emptyQueueMoved.extFields.nextBeginOffset).toBe('0');
  });

  it('returns at most min(maxMsgNums, maxTransferCountOnMessageInMemory) messages per pull: 32 when asked for 32, as RocketMQ', async () => {
    await using b = await startTestBroker();
    const topic = uniqueName('pull_batch');
    const group = uniqueName('pull_group');
    await createTopic(b, topic, 1);
    for (let i = 0; i < 150; i++) await putMessage(b, topic, 0, `m${i}`);

    const five = await b.request(PULL, pullFields(group, topic, 0, 0, { maxMsgNums: 5 }));
    expect(bodies(five)).toEqual(['m0', 'm1', 'm2', 'm3', 'm4']);
    expect(five.extFields.nextBeginOffset).toBe('5');

    const rocketmqDefault = await b.request(PULL, pullFields(group, topic, 0, 5, { maxMsgNums: 32 }));
    expect(bodies(rocketmqDefault)).toHaveLength(32);
    expect(rocketmqDefault.extFields.nextBeginOffset).toBe('37');

    // Karman serves more than RocketMQ's 32 to a consumer that asks (its push consumer asks for 256).
    const more = await b.request(PULL, pullFields(group, topic, 0, 37, { maxMsgNums: 100 }));
    expect(bodies(more)).toHaveLength(100);
    expect(more.extFields.nextBeginOffset).toBe('137');
    expect(b.broker.context.config.maxTransferCountOnMessageInMemory).toBe(1024);
  });

  it("serves at most 32 messages per pull, as RocketMQ does, with maxTransferCountOnMessageInMemory 32", async () => {
    await using b = await startTestBroker({ maxTransferCountOnMessageInMemory: 32 });
    const topic = uniqueName('pull_rocketmq_cap');
    const group = uniqueName('pull_group');
    await createTopic(b, topic, 1);
    for (let i = 0; i < 50; i++) await putMessage(b, topic, 0, `m${i}`);
    const asked100 = await b.request(PULL, pullFields(group, topic, 0, 0, { maxMsgNums: 100 }));
    expect(bodies(asked100)).toHaveLength(32);
    expect(asked100.extFields.nextBeginOffset).toBe('32');
  });

  it('stops a pull at maxTransferBytesOnMessageInMemory, but always returns at least one message', async () => {
    await using b = await startTestBroker();
    const topic = uniqueName('pull_bytes');
    const group = uniqueName('pull_group');
    await createTopic(b, topic, 1);
    const big = Math.floor(b.broker.context.config.maxTransferBytesOnMessageInMemory / 3);
    for (let i = 0; i < 5; i++) await putMessage(b, topic, 0, `${i}`.padEnd(big, '.'));

    const capped = await b.request(PULL, pullFields(group, topic, 0, 0, { maxMsgNums: 32 }));
    // Three bodies of a third of the budget plus their record headers exceed it: two fit.
    expect(bodies(capped).map((body) => body[0])).toEqual(['0', '1']);
  });

  it('moves a consumer below the retained data forward with PULL_OFFSET_MOVED', async () => {
    await using b = await startTestBroker({ mappedFileSizeCommitLog: 4096, fileReservedTime: 0 });
    const topic = uniqueName('pull_retention');
    const group = uniqueName('pull_group');
    await createTopic(b, topic, 1);
    for (let i = 0; i < 30; i++) await putMessage(b, topic, 0, `m${i}`.padEnd(400, '.'));
    await b.broker.context.store.cleanExpiredFiles(true);
    const min = b.broker.context.store.getMinOffsetInQueue(topic, 0);
    expect(min).toBeGreaterThan(0);

    const moved = await b.request(PULL, pullFields(group, topic, 0, 0));
    expect(moved.code).toBe(ResponseCode.PULL_OFFSET_MOVED.code);
    expect(offsets(moved)).toEqual({ nextBeginOffset: String(min), minOffset: String(min), maxOffset: '30', suggestWhichBrokerId: '0' });
    const resumed = await b.request(PULL, pullFields(group, topic, 0, min, { maxMsgNums: 1 }));
    expect(bodies(resumed)[0]).toMatch(new RegExp(`^m${min}\\.`));
  });

  it('filters by the subscription the group registered when the pull carries none', async () => {
    await using b = await startTestBroker();
    const topic = uniqueName('pull_registered');
    const group = uniqueName('pull_group');
    await createTopic(b, topic, 1);
    await putMessage(b, topic, 0, 'a', 'TagA');
    await putMessage(b, topic, 0, 'b', 'TagB');

    const before = await b.request(PULL, pullFields(group, topic, 0, 0, { subscription: null }));
    expect(before.code).toBe(ResponseCode.SUBSCRIPTION_NOT_EXIST.code);
    expect(before.remark).toMatch(/has not sent a heartbeat/);

    const hb = await b.request(RequestCode.HEART_BEAT.code, {}, heartbeatBody('client-1', group, { [topic]: 'TagB' }));
    expect(hb.code).toBe(ResponseCode.SUCCESS.code);
    const after = await b.request(PULL, pullFields(group, topic, 0, 0, { subscription: null }));
    expect(bodies(after)).toEqual(['b']);

    const otherTopic = uniqueName('pull_unsubscribed');
    await createTopic(b, otherTopic, 1);
    const unsubscribed = await b.request(PULL, pullFields(group, otherTopic, 0, 0, { subscription: null }));
    expect(unsubscribed.code).toBe(ResponseCode.SUBSCRIPTION_NOT_EXIST.code);
    expect(unsubscribed.remark).toContain(otherTopic);

    const newer = await b.request(PULL, pullFields(group, topic, 0, 0, { subscription: null, subVersion: 5 }));
    expect(newer.code).toBe(ResponseCode.SUBSCRIPTION_NOT_LATEST.code);
  });

  it('stores the commit offset a pull carries', async () => {
    await using b = await startTestBroker();
    const topic = uniqueName('pull_commit');
    const group = uniqueName('pull_group');
    await createTopic(b, topic, 1);
    for (let i = 0; i < 5; i++) await putMessage(b, topic, 0, `m${i}`);
    const pulled = await b.request(PULL, pullFields(group, topic, 0, 3, { commitOffset: 3 }));
    expect(pulled.code).toBe(ResponseCode.SUCCESS.code);
    const query = await b.request(RequestCode.QUERY_CONSUMER_OFFSET.code, { consumerGroup: group, topic, queueId: 0 });
    expect(query.extFields.offset).toBe('3');
  });

  it('refuses bad pulls with the RocketMQ code and a remark saying what to do', async () => {
    await using b = await startTestBroker({ autoCreateSubscriptionGroup: false });
    const context = b.broker.context;
    const topic = uniqueName('pull_bad');
    const group = uniqueName('pull_group');
    await createTopic(b, topic, 2);
    await context.groups.upsert({ groupName: group });

    const unknownGroup = await b.request(PULL, pullFields(uniqueName('nobody'), topic, 0, 0));
    expect(unknownGroup.code).toBe(ResponseCode.SUBSCRIPTION_GROUP_NOT_EXIST.code);
    expect(unknownGroup.remark).toMatch(/does not exist.*updateSubGroup or enable autoCreateSubscriptionGroup/);

    const unknownTopic = await b.request(PULL, pullFields(group, 'no_such_topic', 0, 0));
    expect(unknownTopic.code).toBe(ResponseCode.TOPIC_NOT_EXIST.code);
    expect(unknownTopic.remark).toMatch(/topic "no_such_topic" does not exist.*create it/);

    const badQueue = await b.request(PULL, pullFields(group, topic, 5, 0));
    expect(badQueue.code).toBe(ResponseCode.SYSTEM_ERROR.code);
    expect(badQueue.remark).toMatch(/queueId 5 is illegal.*readQueueNums is 2/);

    const badExpression = await b.request(PULL, pullFields(group, topic, 0, 0, { subscription: '||' }));
    expect(badExpression.code).toBe(ResponseCode.SUBSCRIPTION_PARSE_FAILED.code);

    const sql = await b.request(PULL, pullFields(group, topic, 0, 0, { subscription: 'a > 1', expressionType: 'SQL92' }));
    expect(sql.code).toBe(ResponseCode.SYSTEM_ERROR.code);
    expect(sql.remark).toMatch(/SQL92/);

    const malformed = await b.request(PULL, { ...pullFields(group, topic, 0, 0), queueOffset: 'abc' });
    expect(malformed.code).toBe(ResponseCode.SYSTEM_ERROR.code);
    expect(malformed.remark).toMatch(/queueOffset/);

    const writeOnly = uniqueName('pull_write_only');
    await createTopic(b, writeOnly, 1, Perm.WRITE);
    const forbidden = await b.request(PULL, pullFields(group, writeOnly, 0, 0));
    expect(forbidden.code).toBe(ResponseCode.NO_PERMISSION.code);
    expect(forbidden.remark).toMatch(/not readable/);

    await context.groups.upsert({ groupName: group, consumeEnable: false });
    const disabled = await b.request(PULL, pullFields(group, topic, 0, 0));
    expect(disabled.code).toBe(ResponseCode.NO_PERMISSION.code);
    expect(disabled.remark).toMatch(/consumeEnable=false/);

    // Still serving after all of that.
    await context.groups.upsert({ groupName: group });
    expect((await b.request(PULL, pullFields(group, topic, 0, 0))).code).toBe(ResponseCode.PULL_NOT_FOUND.code);
  });

  it('suggests the group\'s broker id with slaveReadEnable; a slave without it still serves what it has, pointing consumers back to the master', async () => {
    await using master = await startTestBroker({ slaveReadEnable: true });
    const topic = uniqueName('pull_suggest');
    const group = uniqueName('pull_group');
    await createTopic(master, topic, 1);
    await putMessage(master, topic, 0, 'm');
    await master.broker.context.groups.upsert({ groupName: group, brokerId: 1 });
    const suggested = await master.request(PULL, pullFields(group, topic, 0, 0));
    expect(suggested.code).toBe(ResponseCode.SUCCESS.code);
    expect(suggested.extFields.suggestWhichBrokerId).toBe('1');

    // slaveReadEnable=false (the default): RocketMQ's PullMessageProcessor still answers SUCCESS
    // with the messages a slave found (only the suggestion says "go back to the master"), which is
    // what lets consumers read from the slave of a master that died.
    await using slave = await startTestBroker({ brokerRole: 'SLAVE', brokerId: 1 });
    await createTopic(slave, topic, 1);
    // A slave's store refuses appends (only replication writes it); lift that to set up its data directly.
    slave.broker.context.store.refuseAppends(undefined);
    await putMessage(slave, topic, 0, 'm');
    const served = await slave.request(PULL, pullFields(group, topic, 0, 0, { suspend: true, commitOffset: 1 }));
    expect(served.code).toBe(ResponseCode.SUCCESS.code);
    expect(served.extFields).toMatchObject({ suggestWhichBrokerId: '0', nextBeginOffset: '1', minOffset: '0', maxOffset: '1' });
    expect(decodeRecords(Buffer.from(served.body!)).map((r) => r.body.toString())).toEqual(["m"]);
    // A slave stores no commit offsets: its offsets come from the master.
    expect(slave.broker.context.offsets.query(group, topic, 0)).toBe(-1);
    // Nothing more there: PULL_NOT_FOUND as on a master (a pull without suspend is not held).
    const empty = await slave.request(PULL, pullFields(group, topic, 0, 1));
    expect(empty.code).toBe(ResponseCode.PULL_NOT_FOUND.code);
    expect(empty.extFields.suggestWhichBrokerId).toBe('0');
    // Past its end (it lacks what a dead master had): retry from the same offset, never a corrected
    // one (a master would answer PULL_OFFSET_MOVED to offset 0 here).
    const beyond = await slave.request(PULL, pullFields(group, topic, 0, 7));
    expect(beyond.code).toBe(ResponseCode.PULL_RETRY_IMMEDIATELY.code);
    expect(beyond.extFields.nextBeginOffset).toBe('7');
    expect(slave.broker.context.stats.pullRequests).toBe(3);
  });
});
