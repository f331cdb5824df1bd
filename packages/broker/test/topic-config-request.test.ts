/**
 * GET_TOPIC_CONFIG (351, 5.x): one topic's config, what the 5.x admin tools ask every broker of a
 * topic's route while computing a group's consume stats (mqadmin consumerProgress).
 */
import { describe, expect, it } from 'vitest';
import { RequestCode, ResponseCode } from '@karman/protocol';
import { startTestBroker, uniqueName } from './broker-fixture.js';

describe('GET_TOPIC_CONFIG', () => {
  it('answers the topic config as TopicConfigAndQueueMapping JSON, and TOPIC_NOT_EXIST for an unknown topic', async () => {
    await using b = await startTestBroker();
    const topic = uniqueName('OneTopic');
    const fields = { topic, defaultTopic: 'TBW102', readQueueNums: 3, writeQueueNums: 2, perm: 6, topicFilterType: 'SINGLE_TAG', order: true };
    expect((await b.request(RequestCode.UPDATE_AND_CREATE_TOPIC.code, fields)).code).toBe(0);

    const response = await b.request(RequestCode.GET_TOPIC_CONFIG.code, { topic, lo: true });
    expect(response.code).toBe(ResponseCode.SUCCESS.code);
    expect(JSON.parse(Buffer.from(response.body!).toString())).toMatchObject({ topicName: topic, readQueueNums: 3, writeQueueNums: 2, perm: 6, order: true, topicSysFlag: 0 });

    const missing = await b.request(RequestCode.GET_TOPIC_CONFIG.code, { topic: 'NoSuchTopic' });
    expect(missing.code).toBe(ResponseCode.TOPIC_NOT_EXIST.code);
    expect(missing.remark).toContain('No topic in this broker. topic: NoSuchTopic');
  });
});
