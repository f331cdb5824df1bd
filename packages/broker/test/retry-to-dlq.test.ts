import { describe, expect, it } from 'vitest';
import { MessageProperty, Perm, RequestCode, ResponseCode, SystemTopic, decodeOffsetMessageId, dlqTopic, retryTopic } from '@karman/protocol';
import type { MessageRecord, RemotingCommand } from '@karman/protocol';
import { startTestBroker, uniqueName } from './broker-fixture.js';
import type { TestBroker } from './broker-fixture.js';
import { createTopic, field, readQueue, send, waitFor } from './send-helpers.js';

/** Five millisecond levels: 3 + reconsumeTimes gives levels 3, 4, 5, then clamps to 5. */
const LEVELS = '10ms 20ms 30ms 40ms 50ms';

function sendBack(b: TestBroker, offset: number, group: string, delayLevel = 0, extra: Record<string, string | number> = {}): Promise<RemotingCommand> {
  return b.request(RequestCode.CONSUMER_SEND_MSG_BACK.code, { offset, group, delayLevel, unitMode: false, ...extra });
}

async function sendOriginal(b: TestBroker, topic: string): Promise<{ msgId: string; offset: number }> {
  await createTopic(b, topic, 1);
  const response = await send(b, topic, Buffer.from('payload that keeps failing'), {
    properties: { [MessageProperty.TAGS]: 'TagR', [MessageProperty.KEYS]: 'retry-key', [MessageProperty.UNIQ_KEY]: 'UNIQ-R' },
  });
  expect(response.code, response.remark).toBe(ResponseCode.SUCCESS.code);
  const msgId = field(response, 'msgId')!;
  return { msgId, offset: decodeOffsetMessageId(msgId).physicalOffset };
}

async function nth(b: TestBroker, topic: string, n: number): Promise<MessageRecord> {
  return waitFor(async () => (await readQueue(b, topic, 0))[n], 5000, `message ${n} of ${topic}`);
}

describe('CONSUMER_SEND_MSG_BACK: retry with delay levels, then the dead-letter queue', () => {
  it('redelivers through %RETRY%<group> with growing delay levels and after retryMaxTimes lands in %DLQ%<group>', async () => {
    await using b = await startTestBroker({ messageDelayLevel: LEVELS });
    const topic = uniqueName('orig');
    const group = uniqueName('cg');
    await b.broker.context.groups.upsert({ groupName: group, retryMaxTimes: 3 });
    const original = await sendOriginal(b, topic);

    let offset = original.offset;
    for (let attempt = 1; attempt <= 3; attempt++) {
      const response = await sendBack(b, offset, group, 0, { originMsgId: original.msgId, originTopic: topic });
      expect(response.code, response.remark).toBe(ResponseCode.SUCCESS.code);
      // Parked at delay level 3 + reconsumeTimes (clamped to the 5 levels) until due.
      const level = Math.min(3 + attempt - 1, 5);
      const parked = (await readQueue(b, SystemTopic.SCHEDULE, level - 1)).at(-1)!;
      expect(parked.properties).toMatchObject({ [MessageProperty.REAL_TOPIC]: retryTopic(group), [MessageProperty.DELAY]: String(level) });

      const retried = await nth(b, retryTopic(group), attempt - 1);
      expect(retried.topic).toBe(retryTopic(group));
      expect(retried.reconsumeTimes).toBe(attempt);
      expect(retried.body.toString()).toBe('payload that keeps failing');
      expect(retried.properties).toMatchObject({
        [MessageProperty.RETRY_TOPIC]: topic,
        [MessageProperty.ORIGIN_MESSAGE_ID]: original.msgId,
        [MessageProperty.TAGS]: 'TagR',
        [MessageProperty.KEYS]: 'retry-key',
        [MessageProperty.UNIQ_KEY]: 'UNIQ-R',
      });
      expect(retried.properties[MessageProperty.DELAY]).toBeUndefined();
      offset = retried.physicalOffset;
    }
    expect(b.broker.context.topics.get(retryTopic(group))).toMatchObject({ readQueueNums: 1, writeQueueNums: 1, perm: Perm.READ | Perm.WRITE });

    // Reconsumed 3 times = the group's retryMaxTimes: dead letter, stored at once (no delay).
    const last = await sendBack(b, offset, group, 0);
    expect(last.code, last.remark).toBe(ResponseCode.SUCCESS.code);
    const [dead] = await readQueue(b, dlqTopic(group), 0);
    expect(dead).toBeDefined();
    expect(dead!.reconsumeTimes).toBe(4);
    expect(dead!.properties).toMatchObject({ [MessageProperty.RETRY_TOPIC]: topic, [MessageProperty.ORIGIN_MESSAGE_ID]: original.msgId });
    expect(dead!.properties[MessageProperty.DELAY]).toBeUndefined();
    expect(b.broker.context.topics.get(dlqTopic(group))).toMatchObject({ readQueueNums: 1, writeQueueNums: 1, perm: Perm.READ | Perm.WRITE });
    expect(b.broker.context.store.getMaxOffsetInQueue(retryTopic(group), 0)).toBe(3);
  });

  it('sends straight to the DLQ when the consumer asks with a negative delay level', async () => {
    await using b = await startTestBroker({ messageDelayLevel: LEVELS });
    const group = uniqueName('cg');
    const original = await sendOriginal(b, uniqueName('orig'));
    const response = await sendBack(b, original.offset, group, -1);
    expect(response.code, response.remark).toBe(ResponseCode.SUCCESS.code);
    const [dead] = await readQueue(b, dlqTopic(group), 0);
    expect(dead?.reconsumeTimes).toBe(1);
    expect(b.broker.context.topics.get(retryTopic(group))).toBeUndefined();
  });

  it("takes the client's maxReconsumeTimes over the group's and an explicit delay level over 3 + reconsumeTimes", async () => {
    await using b = await startTestBroker({ messageDelayLevel: LEVELS });
    const group = uniqueName('cg');
    const original = await sendOriginal(b, uniqueName('orig'));
    const first = await sendBack(b, original.offset, group, 1, { maxReconsumeTimes: 1 });
    expect(first.code, first.remark).toBe(ResponseCode.SUCCESS.code);
    expect((await readQueue(b, SystemTopic.SCHEDULE, 0)).at(-1)?.properties[MessageProperty.DELAY]).toBe('1');
    const retried = await nth(b, retryTopic(group), 0);
    const second = await sendBack(b, retried.physicalOffset, group, 1, { maxReconsumeTimes: 1 });
    expect(second.code, second.remark).toBe(ResponseCode.SUCCESS.code);
    expect((await readQueue(b, dlqTopic(group), 0)).map((r) => r.reconsumeTimes)).toEqual([2]);
  });

  it('routes a message the client re-sent itself to %RETRY%<group> into the DLQ once past the maximum', async () => {
    await using b = await startTestBroker({ messageDelayLevel: LEVELS });
    const group = uniqueName('cg');
    await b.broker.context.groups.upsert({ groupName: group, retryMaxTimes: 2 });
    const early = await send(b, retryTopic(group), Buffer.from('again'), { reconsumeTimes: 1, properties: { [MessageProperty.DELAY]: '1', [MessageProperty.RETRY_TOPIC]: 'T' } });
    expect(early.code, early.remark).toBe(ResponseCode.SUCCESS.code);
    expect((await nth(b, retryTopic(group), 0)).body.toString()).toBe('again');
    const late = await send(b, retryTopic(group), Buffer.from('dead'), { reconsumeTimes: 2, properties: { [MessageProperty.DELAY]: '1' } });
    expect(late.code, late.remark).toBe(ResponseCode.SUCCESS.code);
    const [dead] = await readQueue(b, dlqTopic(group), 0);
    expect(dead?.body.toString()).toBe('dead');
    expect(dead?.properties[MessageProperty.DELAY]).toBeUndefined();
  });

  it('answers SUBSCRIPTION_GROUP_NOT_EXIST for an unknown group and SYSTEM_ERROR for an offset with no message', async () => {
    await using b = await startTestBroker({ messageDelayLevel: LEVELS, autoCreateSubscriptionGroup: false });
    const original = await sendOriginal(b, uniqueName('orig'));
    const unknown = await sendBack(b, original.offset, 'no_such_group');
    expect(unknown.code).toBe(ResponseCode.SUBSCRIPTION_GROUP_NOT_EXIST.code);
    expect(unknown.remark).toMatch(/consumer group "no_such_group" does not exist on broker broker-a; create it with updateSubscriptionGroup or enable autoCreateSubscriptionGroup/);

    const group = uniqueName('cg');
    await b.broker.context.groups.upsert({ groupName: group });
    const missing = await sendBack(b, original.offset + 3, group);
    expect(missing.code).toBe(ResponseCode.SYSTEM_ERROR.code);
    expect(missing.remark).toMatch(/no message starts at commit-log offset \d+ on broker broker-a/);
    const beyond = await sendBack(b, 10 ** 12, group);
    expect(beyond.code).toBe(ResponseCode.SYSTEM_ERROR.code);
    expect(b.broker.context.topics.get(retryTopic(group))).toBeUndefined();
  });
});
