import { describe, expect, it } from 'vitest';
import { Perm, RemotingClient, RequestCode, ResponseCode, createRequest, createResponse, retryTopic } from '@karman/protocol';
import type { RemotingCommand } from '@karman/protocol';
import { startTestBroker, uniqueName } from './broker-fixture.js';
import { heartbeatBody, until } from './pull-fixture.js';

const HEART_BEAT = RequestCode.HEART_BEAT.code;
const LIST = RequestCode.GET_CONSUMER_LIST_BY_GROUP.code;

function consumerIds(response: RemotingCommand): string[] {
  expect(response.code).toBe(ResponseCode.SUCCESS.code);
  return (JSON.parse(Buffer.from(response.body!).toString()) as { consumerIdList: string[] }).consumerIdList;
}

/** A consumer connection that records the requests the broker pushes to it. */
function member(address: string): { client: RemotingClient; pushed: RemotingCommand[] } {
  const pushed: RemotingCommand[] = [];
  const client = new RemotingClient(`tcp://${address}`, {
    reconnect: false,
    onRequest: (request) => {
      pushed.push(request);
      return createResponse(request, ResponseCode.SUCCESS.code);
    },
  });
  return { client, pushed };
}

describe('consumer membership', () => {
  it('registers consumers by heartbeat, lists them sorted, creates the retry topic, and forgets them on UNREGISTER_CLIENT', async () => {
    await using b = await startTestBroker();
    const group = uniqueName('mem_group');
    const topic = uniqueName('mem_topic');
    const changes: string[] = [];
    b.broker.context.topicsChanged = () => changes.push('changed');

    const none = await b.request(LIST, { consumerGroup: group });
    expect(none.code).toBe(ResponseCode.SYSTEM_ERROR.code);
    expect(none.remark).toContain(`no consumer for this group, ${group}`);

    expect((await b.request(HEART_BEAT, {}, heartbeatBody('client-b', group, { [topic]: '*' }))).code).toBe(ResponseCode.SUCCESS.code);
    expect((await b.request(HEART_BEAT, {}, heartbeatBody('client-a', group, { [topic]: '*' }))).code).toBe(ResponseCode.SUCCESS.code);
    expect(consumerIds(await b.request(LIST, { consumerGroup: group }))).toEqual(['client-a', 'client-b']);
    expect(b.broker.context.topics.get(retryTopic(group))).toMatchObject({ readQueueNums: 1, writeQueueNums: 1, perm: Perm.READ | Perm.WRITE });
    expect(b.broker.context.groups.get(group)?.groupName).toBe(group);
    expect(changes).toEqual(['changed']); // once, when the retry topic appeared

    const unregister = await b.request(RequestCode.UNREGISTER_CLIENT.code, { clientID: 'client-b', consumerGroup: group });
    expect(unregister.code).toBe(ResponseCode.SUCCESS.code);
    expect(consumerIds(await b.request(LIST, { consumerGroup: group }))).toEqual(['client-a']);
  });

  it('answers a malformed heartbeat body with SYSTEM_ERROR naming the problem and keeps serving', async () => {
    await using b = await startTestBroker();
    const notJson = await b.request(HEART_BEAT, {}, Buffer.from('{not json'));
    expect(notJson.code).toBe(ResponseCode.SYSTEM_ERROR.code);
    expect(notJson.remark).toMatch(/HEART_BEAT body is not JSON/);
    const noClient = await b.request(HEART_BEAT, {}, Buffer.from(JSON.stringify({ consumerDataSet: [] })));
    expect(noClient.code).toBe(ResponseCode.SYSTEM_ERROR.code);
    expect(noClient.remark).toMatch(/clientID/);
    const empty = await b.request(HEART_BEAT, {});
    expect(empty.remark).toMatch(/HEART_BEAT body is empty/);
    const group = uniqueName('mem_group');
    expect((await b.request(HEART_BEAT, {}, heartbeatBody('ok', group))).code).toBe(ResponseCode.SUCCESS.code);
  });

  it('pushes NOTIFY_CONSUMER_IDS_CHANGED to members when the group changes', async () => {
    await using b = await startTestBroker();
    const group = uniqueName('mem_notify');
    const first = member(b.broker.address);
    const second = member(b.broker.address);
    try {
      await first.client.request(createRequest(HEART_BEAT, {}, heartbeatBody('c1', group)));
      const seenAtJoin = first.pushed.length;
      await second.client.request(createRequest(HEART_BEAT, {}, heartbeatBody('c2', group)));
      await until(() => first.pushed.length > seenAtJoin, 'a push to the first member when the second joins');
      const push = first.pushed.at(-1)!;
      expect(push.code).toBe(RequestCode.NOTIFY_CONSUMER_IDS_CHANGED.code);
      expect(push.extFields.consumerGroup).toBe(group);

      // A repeated heartbeat is not a change.
      const beforeRepeat = first.pushed.length;
      await second.client.request(createRequest(HEART_BEAT, {}, heartbeatBody('c2', group)));
      await new Promise((resolve) => setTimeout(resolve, 30));
      expect(first.pushed.length).toBe(beforeRepeat);

      // The second member's connection closing is a change too.
      await second.client.close();
      await until(() => first.pushed.length > beforeRepeat, 'a push when the second member leaves');
      expect(consumerIds(await b.request(LIST, { consumerGroup: group }))).toEqual(['c1']);
    } finally {
      await first.client.close();
      await second.client.close();
    }
  });

  it('drops a consumer silent for channelExpiredTimeout and tells the rest', async () => {
    await using b = await startTestBroker({ channelExpiredTimeout: 200, clientHousekeepingInterval: 20 });
    const group = uniqueName('mem_expire');
    const silent = member(b.broker.address);
    const alive = member(b.broker.address);
    try {
      await silent.client.request(createRequest(HEART_BEAT, {}, heartbeatBody('silent', group)));
      await alive.client.request(createRequest(HEART_BEAT, {}, heartbeatBody('alive', group)));
      const pushedBefore = alive.pushed.length;
      expect(consumerIds(await b.request(LIST, { consumerGroup: group }))).toEqual(['alive', 'silent']);
      const keepAlive = setInterval(() => {
        alive.client.request(createRequest(HEART_BEAT, {}, heartbeatBody('alive', group))).catch(() => undefined);
      }, 50);
      try {
        await until(() => b.broker.context.clients.consumerIds(group).length === 1, 'the silent consumer to expire', 3_000);
      } finally {
        clearInterval(keepAlive);
      }
      expect(consumerIds(await b.request(LIST, { consumerGroup: group }))).toEqual(['alive']);
      await until(() => alive.pushed.length > pushedBefore, 'a push to the remaining member');
      await until(() => !silent.client.connected, 'the silent connection to be closed');
    } finally {
      await silent.client.close();
      await alive.client.close();
    }
  });
});
