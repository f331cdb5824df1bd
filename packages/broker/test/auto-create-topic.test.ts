import { describe, expect, it } from 'vitest';
import { Perm, ResponseCode } from '@karman/protocol';
import { startTestBroker, uniqueName } from './broker-fixture.js';
import { field, readQueue, send, sendV2 } from './send-helpers.js';

describe('topic auto-creation through TBW102', () => {
  it('creates an unknown topic on first send when autoCreateTopicEnable is on, and keeps it across a restart', async () => {
    await using b = await startTestBroker({ autoCreateTopicEnable: true, defaultTopicQueueNums: 8 });
    const topic = uniqueName('auto');
    expect(b.broker.context.topics.get(topic)).toBeUndefined();

    const response = await sendV2(b, topic, Buffer.from('first'), { queueId: 3, defaultTopic: 'TBW102', defaultTopicQueueNums: 4 });
    expect(response.code, response.remark).toBe(ResponseCode.SUCCESS.code);
    expect(field(response, 'queueId')).toBe('3');
    const created = b.broker.context.topics.get(topic);
    // The template's permission less INHERIT; the producer's queue count, within TBW102's.
    expect(created).toMatchObject({ topicName: topic, readQueueNums: 4, writeQueueNums: 4, perm: Perm.READ | Perm.WRITE });
    expect((await readQueue(b, topic, 3)).map((r) => r.body.toString())).toEqual(['first']);

    await b.restart();
    expect(b.broker.context.topics.get(topic)).toMatchObject({ readQueueNums: 4, writeQueueNums: 4 });
    const again = await send(b, topic, Buffer.from('second'), { queueId: 3 });
    expect(again.code, again.remark).toBe(ResponseCode.SUCCESS.code);
    expect(field(again, 'queueOffset')).toBe('1');
  });

  it('caps the queue count of an auto-created topic at TBW102 queue count', async () => {
    await using b = await startTestBroker({ autoCreateTopicEnable: true, defaultTopicQueueNums: 2 });
    const topic = uniqueName('capped');
    const response = await send(b, topic, Buffer.from('x'), { defaultTopicQueueNums: 16 });
    expect(response.code, response.remark).toBe(ResponseCode.SUCCESS.code);
    expect(b.broker.context.topics.get(topic)).toMatchObject({ readQueueNums: 2, writeQueueNums: 2 });
  });

  it('answers TOPIC_NOT_EXIST when auto-creation is off, and creates nothing', async () => {
    await using b = await startTestBroker({ autoCreateTopicEnable: false });
    const topic = uniqueName('off');
    const response = await send(b, topic, Buffer.from('x'));
    expect(response.code).toBe(ResponseCode.TOPIC_NOT_EXIST.code);
    expect(response.remark).toMatch(new RegExp(`topic "${topic}" does not exist on broker broker-a; create it with updateTopic or enable autoCreateTopicEnable`));
    expect(b.broker.context.topics.get(topic)).toBeUndefined();
    expect(b.broker.context.topics.get('TBW102')).toBeUndefined();
  });

  it('does not auto-create from a default topic other than TBW102', async () => {
    await using b = await startTestBroker({ autoCreateTopicEnable: true });
    const topic = uniqueName('otherdefault');
    const response = await send(b, topic, Buffer.from('x'), { defaultTopic: 'SomeOtherTemplate' });
    expect(response.code).toBe(ResponseCode.TOPIC_NOT_EXIST.code);
    expect(response.remark).toMatch(/the producer's default topic is "SomeOtherTemplate", not TBW102/);
    expect(b.broker.context.topics.get(topic)).toBeUndefined();
  });
});
