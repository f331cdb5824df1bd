/**
 * QUERY_TOPIC_CONSUME_BY_WHO (300): the groups that consume a topic, online subscribers and groups
 * with offsets on it alike, what mqadmin's message track (queryMsgByUniqueKey, queryMsgById) asks
 * before it reports each group's consume state.
 */
import { describe, expect, it } from 'vitest';
import { RequestCode, ResponseCode } from '@karman/protocol';
import { startTestBroker, uniqueName } from './broker-fixture.js';
import { heartbeatBody } from './pull-fixture.js';

describe('QUERY_TOPIC_CONSUME_BY_WHO', () => {
  it('lists online subscribers and groups with offsets on the topic, once each', async () => {
    await using b = await startTestBroker();
    const topic = uniqueName('WhoTopic');
    const online = uniqueName('OnlineGroup');
    const offline = uniqueName('OfflineGroup');
    expect((await b.request(RequestCode.HEART_BEAT.code, {}, heartbeatBody('client-a', online, { [topic]: '*' }))).code).toBe(ResponseCode.SUCCESS.code);
    b.broker.context.offsets.commit(offline, topic, 0, 3);
    b.broker.context.offsets.commit(online, topic, 1, 1);
    b.broker.context.offsets.commit(uniqueName('OtherGroup'), uniqueName('OtherTopic'), 0, 1);

    const response = await b.request(RequestCode.QUERY_TOPIC_CONSUME_BY_WHO.code, { topic });
    expect(response.code).toBe(ResponseCode.SUCCESS.code);
    const { groupList } = JSON.parse(Buffer.from(response.body!).toString()) as { groupList: string[] };
    expect(groupList.sort()).toEqual([offline, online].sort());

    const nobody = JSON.parse(Buffer.from((await b.request(RequestCode.QUERY_TOPIC_CONSUME_BY_WHO.code, { topic: uniqueName('Unread') })).body!).toString()) as { groupList: string[] };
    expect(nobody.groupList).toEqual([]);
  });
});
