/**
 * Topic and subscription-group administration over the wire, as mqadmin's updateTopic,
 * deleteTopic, topicList, updateSubGroup and deleteSubGroup drive it: changes show in the listings,
 * survive a restart, and bad input is answered with a remark naming the problem.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { RequestCode, ResponseCode } from '@karman/protocol';
import type { RemotingCommand } from '@karman/protocol';
import { startTestBroker, uniqueName } from './broker-fixture.js';

function json(response: RemotingCommand): Record<string, unknown> {
  return JSON.parse(Buffer.from(response.body ?? []).toString('utf8')) as Record<string, unknown>;
}

const createTopic = (topic: string, overrides: Record<string, string | number | boolean> = {}) => ({
  topic,
  defaultTopic: 'TBW102',
  readQueueNums: 4,
  writeQueueNums: 4,
  perm: 6,
  topicFilterType: 'SINGLE_TAG',
  topicSysFlag: 0,
  order: false,
  ...overrides,
});

describe('topic administration', () => {
  it('creates a topic, lists it, keeps it across a restart, updates it and deletes it with its offsets', async () => {
    await using b = await startTestBroker();
    const topic = uniqueName('AdminTopic');
    const created = await b.request(RequestCode.UPDATE_AND_CREATE_TOPIC.code, createTopic(topic, { readQueueNums: '3', writeQueueNums: '5', order: 'true' }));
    expect(created.code).toBe(ResponseCode.SUCCESS.code);

    const list = json(await b.request(RequestCode.GET_ALL_TOPIC_CONFIG.code));
    const table = list.topicConfigTable as Record<string, unknown>;
    expect(table[topic]).toEqual({ topicName: topic, readQueueNums: 3, writeQueueNums: 5, perm: 6, topicFilterType: 'SINGLE_TAG', topicSysFlag: 0, order: true });
    expect(list.dataVersion).toMatchObject({ counter: expect.any(Number), timestamp: expect.any(Number) });

    b.broker.context.offsets.commit('SomeGroup', topic, 0, 7);
    await b.restart();
    const again = json(await b.request(RequestCode.GET_ALL_TOPIC_CONFIG.code));
    expect((again.topicConfigTable as Record<string, unknown>)[topic]).toMatchObject({ readQueueNums: 3, writeQueueNums: 5, order: true });
    expect(b.broker.context.offsets.query('SomeGroup', topic, 0)).toBe(7);

    expect((await b.request(RequestCode.UPDATE_AND_CREATE_TOPIC.code, createTopic(topic, { perm: 4 }))).code).toBe(0);
    expect(b.broker.context.topics.get(topic)).toMatchObject({ perm: 4, readQueueNums: 4, order: false });

    await b.broker.context.store.put({ topic, queueId: 1, body: Buffer.from('kept until retention') });
    expect(b.broker.context.store.getMaxOffsetInQueue(topic, 1)).toBe(1);
    const deleted = await b.request(RequestCode.DELETE_TOPIC_IN_BROKER.code, { topic });
    expect(deleted.code).toBe(ResponseCode.SUCCESS.code);
    // Its consume queues go too (files and all), so a topic created again starts at offset 0.
    expect(b.broker.context.store.getMaxOffsetInQueue(topic, 1)).toBe(0);
    expect(existsSync(join(b.broker.context.store.options.storePathRootDir, 'consumequeue', topic))).toBe(false);
    const after = json(await b.request(RequestCode.GET_ALL_TOPIC_CONFIG.code));
    expect((after.topicConfigTable as Record<string, unknown>)[topic]).toBeUndefined();
    expect(b.broker.context.offsets.query('SomeGroup', topic, 0)).toBe(-1);
    await b.restart();
    expect(b.broker.context.topics.get(topic)).toBeUndefined();
    expect(b.broker.context.store.getMaxOffsetInQueue(topic, 1)).toBe(0);

    // Deleting again is not an error: the topic is gone either way.
    const twice = await b.request(RequestCode.DELETE_TOPIC_IN_BROKER.code, { topic });
    expect(twice.code).toBe(ResponseCode.SUCCESS.code);
    expect(twice.remark).toMatch(/did not exist/);
  });

  it('refuses bad names, queue counts, permissions and system topics with a remark naming the fix', async () => {
    await using b = await startTestBroker();
    const cases: Array<[Record<string, string | number | boolean>, RegExp]> = [
      [createTopic('bad topic!'), /characters outside/],
      [createTopic('x'.repeat(128)), /limit is 127/],
      [createTopic(uniqueName('T'), { readQueueNums: 0 }), /readQueueNums=0 is out of range; give 1 to 1024/],
      [createTopic(uniqueName('T'), { writeQueueNums: 1025 }), /writeQueueNums=1025 is out of range/],
      [createTopic(uniqueName('T'), { perm: 16 }), /perm=16 has bits other than/],
      [createTopic(uniqueName('T'), { topicFilterType: 'SQL' }), /neither SINGLE_TAG nor MULTI_TAG/],
      [createTopic('SCHEDULE_TOPIC_XXXX'), /system topic managed by the broker/],
      [createTopic('DefaultCluster'), /cluster name/],
      [createTopic('broker-a'), /broker name/],
    ];
    for (const [fields, remark] of cases) {
      const response = await b.request(RequestCode.UPDATE_AND_CREATE_TOPIC.code, fields);
      expect(response.code, String(fields.topic)).toBe(ResponseCode.SYSTEM_ERROR.code);
      expect(response.remark).toMatch(remark);
    }
    // A missing required field is answered by the header schema, before the handler.
    const missing = await b.request(RequestCode.UPDATE_AND_CREATE_TOPIC.code, { topic: 'T' });
    expect(missing.code).not.toBe(ResponseCode.SUCCESS.code);
    expect(missing.remark).toMatch(/readQueueNums/);

    const system = await b.request(RequestCode.DELETE_TOPIC_IN_BROKER.code, { topic: 'SCHEDULE_TOPIC_XXXX' });
    expect(system.code).toBe(ResponseCode.SYSTEM_ERROR.code);
    expect(b.broker.context.topics.get('SCHEDULE_TOPIC_XXXX')).toBeDefined();
  });
});

describe('subscription group administration', () => {
  it('creates a group with RocketMQ defaults, updates, lists, persists and deletes it with its offsets', async () => {
    await using b = await startTestBroker();
    const group = uniqueName('AdminGroup');
    const body = Buffer.from(JSON.stringify({ groupName: group, retryMaxTimes: 3, consumeBroadcastEnable: false, groupSysFlag: 0 }));
    expect((await b.request(RequestCode.UPDATE_AND_CREATE_SUBSCRIPTIONGROUP.code, {}, body)).code).toBe(ResponseCode.SUCCESS.code);

    const list = json(await b.request(RequestCode.GET_ALL_SUBSCRIPTIONGROUP_CONFIG.code));
    expect((list.subscriptionGroupTable as Record<string, unknown>)[group]).toEqual({
      groupName: group,
      consumeEnable: true,
      consumeFromMinEnable: true,
      consumeBroadcastEnable: false,
      retryQueueNums: 1,
      retryMaxTimes: 3,
      brokerId: 0,
      whichBrokerWhenConsumeSlowly: 1,
      notifyConsumerIdsChangedEnable: true,
      consumeTimeoutMinute: 15,
    });
    expect(list.dataVersion).toBeDefined();

    b.broker.context.offsets.commit(group, 'AnyTopic', 1, 42);
    await b.restart();
    expect(b.broker.context.groups.get(group)).toMatchObject({ retryMaxTimes: 3 });

    expect((await b.request(RequestCode.DELETE_SUBSCRIPTIONGROUP.code, { groupName: group })).code).toBe(ResponseCode.SUCCESS.code);
    expect(b.broker.context.groups.get(group)).toBeUndefined();
    expect(b.broker.context.offsets.query(group, 'AnyTopic', 1)).toBe(-1);
    await b.restart();
    expect(b.broker.context.groups.get(group)).toBeUndefined();
  });

  it('refuses a body that is not a valid SubscriptionGroupConfig', async () => {
    await using b = await startTestBroker();
    const notJson = await b.request(RequestCode.UPDATE_AND_CREATE_SUBSCRIPTIONGROUP.code, {}, Buffer.from('{nope'));
    expect(notJson.code).toBe(ResponseCode.SYSTEM_ERROR.code);
    expect(notJson.remark).toMatch(/not SubscriptionGroupConfig JSON/);
    const badField = await b.request(RequestCode.UPDATE_AND_CREATE_SUBSCRIPTIONGROUP.code, {}, Buffer.from(JSON.stringify({ groupName: 'G', retryMaxTimes: -1 })));
    expect(badField.code).toBe(ResponseCode.SYSTEM_ERROR.code);
    expect(badField.remark).toMatch(/retryMaxTimes/);
    const huge = await b.request(RequestCode.UPDATE_AND_CREATE_SUBSCRIPTIONGROUP.code, {}, Buffer.from(JSON.stringify({ groupName: 'G', pad: 'x'.repeat(70_000) })));
    expect([huge.code, huge.remark]).toEqual([ResponseCode.SYSTEM_ERROR.code, expect.stringMatching(/over the 65536-byte limit of a SubscriptionGroupConfig/)]);
    const badName = await b.request(RequestCode.UPDATE_AND_CREATE_SUBSCRIPTIONGROUP.code, {}, Buffer.from(JSON.stringify({ groupName: 'a b' })));
    expect(badName.remark).toMatch(/group name "a b" has characters outside/);
    const noBody = await b.request(RequestCode.UPDATE_AND_CREATE_SUBSCRIPTIONGROUP.code);
    expect(noBody.code).toBe(ResponseCode.SYSTEM_ERROR.code);
  });
});
