import { describe, expect, it } from 'vitest';
import { Perm, RemotingClient, RemotingServer, RequestCode, ResponseCode, createRequest, createResponse, retryTopic } from '@karman/protocol';
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

    const none = await b.request(LIST, { consumerGroup: group });
    expect(none.code).toBe(ResponseCode.SYSTEM_ERROR.code);
    expect(none.remark).toContain(`no consumer for this group, ${group}`);

    expect((await b.request(HEART_BEAT, {}, heartbeatBody('client-b', group, { [topic]: '*' }))).code).toBe(ResponseCode.SUCCESS.code);
    expect((await b.request(HEART_BEAT, {}, heartbeatBody('client-a', group, { [topic]: '*' }))).code).toBe(ResponseCode.SUCCESS.code);
    expect(consumerIds(await b.request(LIST, { consumerGroup: group }))).toEqual(['client-a', 'client-b']);
    expect(b.broker.context.topics.get(retryTopic(group))).toMatchObject({ readQueueNums: 1, writeQueueNums: 1, perm: Perm.READ | Perm.WRITE });
    expect(b.broker.context.groups.get(group)?.groupName).toBe(group);

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

  it('answers the heartbeat that creates a retry topic only after the nameservers route it', async () => {
    // RocketMQ registers with the nameservers inside the heartbeat when it creates %RETRY%<group>
    // (createTopicInSendMessageBackMethod → registerBrokerAll, which waits for the answers). Clients
    // such as ali-ons look the retry topic's route up right after their first heartbeat and then
    // only every 30 s, so a route that appears a moment later leaves retries unconsumed meanwhile.
    const registered: string[][] = [];
    const nameserver = new RemotingServer({ host: '127.0.0.1', port: 0 });
    nameserver.registerHandler(RequestCode.REGISTER_BROKER.code, async (request) => {
      // A slow nameserver makes an unawaited registration lose the race every time.
      await new Promise((resolve) => setTimeout(resolve, 200));
      const body = JSON.parse(Buffer.from(request.body ?? []).toString('utf8')) as { topicConfigSerializeWrapper: { topicConfigTable: Record<string, unknown> } };
      registered.push(Object.keys(body.topicConfigSerializeWrapper.topicConfigTable));
      return createResponse(request, ResponseCode.SUCCESS.code);
    });
    nameserver.registerHandler(RequestCode.UNREGISTER_BROKER.code, (request) => createResponse(request, ResponseCode.SUCCESS.code));
    const { port } = await nameserver.listen();
    try {
      await using b = await startTestBroker({ namesrvAddr: `127.0.0.1:${port}` });
      const group = uniqueName('mem_retry_route');
      const topic = uniqueName('mem_topic');
      const atStart = registered.length;
      const answer = await b.request(HEART_BEAT, {}, heartbeatBody('client-r', group, { [topic]: '*' }));
      expect(answer.code).toBe(ResponseCode.SUCCESS.code);
      // By the time the client reads the answer, a registration carrying the retry topic was answered.
      expect(registered.slice(atStart).map((topics) => topics.includes(retryTopic(group)))).toEqual([true]);
      // Another member's heartbeat creates nothing, so it neither registers nor waits.
      expect((await b.request(HEART_BEAT, {}, heartbeatBody('client-s', group, { [topic]: '*' }))).code).toBe(ResponseCode.SUCCESS.code);
      expect(registered.length).toBe(atStart + 1);
    } finally {
      await nameserver.close();
    }
  });
});
