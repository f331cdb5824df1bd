/**
 * The producer's retry contract against servers that answer as a test tells them to: a failing
 * send is tried exactly 1 + `retryTimesWhenSendFailed` times and never past `sendMsgTimeout`
 * (RocketMQ's `DefaultMQProducerImpl.sendDefaultImpl`); producer heartbeats go to masters only
 * (`MQClientInstance.sendHeartbeatToAllBroker` skips slaves of a producer-only client); routes are
 * refreshed every `pollNameServerInterval`, 30 s by default.
 */
import { afterEach, describe, expect, it, vi } from 'vitest';
import { RemotingServer, RequestCode, ResponseCode, createResponse } from '@karman/protocol';
import type { RemotingCommand } from '@karman/protocol';
import { uniqueName } from '@karman/testkit';
import { Producer } from '../src/index.js';

const cleanups: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
  vi.useRealTimers();
});

interface FakeServer {
  address: string;
  requests: RemotingCommand[];
}

/** A server answering each request code with `answer`, or SUCCESS with no body. */
async function fakeServer(answer: (request: RemotingCommand) => RemotingCommand | Promise<RemotingCommand | undefined> | undefined): Promise<FakeServer> {
  const requests: RemotingCommand[] = [];
  const server = new RemotingServer({ host: '127.0.0.1', port: 0 });
  for (const code of [RequestCode.GET_ROUTEINFO_BY_TOPIC.code, RequestCode.HEART_BEAT.code, RequestCode.SEND_MESSAGE.code, RequestCode.SEND_MESSAGE_V2.code, RequestCode.UNREGISTER_CLIENT.code]) {
    server.registerHandler(code, async (request: RemotingCommand) => {
      requests.push(request);
      return (await answer(request)) ?? createResponse(request, ResponseCode.SUCCESS.code);
    });
  }
  cleanups.push(() => server.close());
  const { port } = await server.listen();
  return { address: `127.0.0.1:${port}`, requests };
}

/** A nameserver routing every topic to brokers `broker-0..n`, each a master (id 0) and optionally a slave (id 1). */
async function nameserver(brokers: Array<{ master: string; slave?: string }>): Promise<FakeServer> {
  return fakeServer((request) => {
    if (request.code !== RequestCode.GET_ROUTEINFO_BY_TOPIC.code) return undefined;
    const route = {
      brokerDatas: brokers.map((b, i) => ({ cluster: 'C', brokerName: `broker-${i}`, brokerAddrs: b.slave ? { '0': b.master, '1': b.slave } : { '0': b.master } })),
      queueDatas: brokers.map((_, i) => ({ brokerName: `broker-${i}`, readQueueNums: 2, writeQueueNums: 2, perm: 6, topicSysFlag: 0 })),
    };
    return createResponse(request, ResponseCode.SUCCESS.code, undefined, {}, Buffer.from(JSON.stringify(route)));
  });
}

const isSend = (r: RemotingCommand): boolean => r.code === RequestCode.SEND_MESSAGE.code || r.code === RequestCode.SEND_MESSAGE_V2.code;

describe('Producer retries', () => {
  it.each([0, 2, 4])('tries a send failing with SYSTEM_ERROR exactly 1 + retryTimesWhenSendFailed (%i) times, moving between brokers', async (retries) => {
    const failing = (request: RemotingCommand): RemotingCommand | undefined => (isSend(request) ? createResponse(request, ResponseCode.SYSTEM_ERROR.code, 'disk broken') : undefined);
    const a = await fakeServer(failing);
    const b = await fakeServer(failing);
    const ns = await nameserver([{ master: a.address }, { master: b.address }]);
    const producer = new Producer({ group: uniqueName('pg'), nameservers: ns.address, instanceName: uniqueName('i'), retryTimesWhenSendFailed: retries });
    cleanups.push(() => producer.shutdown());
    await producer.start();
    await expect(producer.send({ topic: 'T', body: 'x' })).rejects.toMatchObject({ code: 'SEND_FAILED', message: expect.stringContaining(`failed after ${1 + retries} attempt(s)`) });
    const sends = [...a.requests, ...b.requests].filter(isSend);
    expect(sends).toHaveLength(1 + retries);
    // RocketMQ picks another broker for each retry when there is one.
    if (retries > 0) expect(a.requests.some(isSend) && b.requests.some(isSend)).toBe(true);
  });

  it.each([
    ['FLOW_CONTROL', ResponseCode.FLOW_CONTROL.code, 3],
    ['SYSTEM_BUSY', ResponseCode.SYSTEM_BUSY.code, 3],
    ['MESSAGE_ILLEGAL', ResponseCode.MESSAGE_ILLEGAL.code, 1],
  ] as const)('tries a send answered %s as often as the response code table says it is retriable (code %i, %i attempt(s) with 2 retries)', async (name, code, attempts) => {
    const failing = (request: RemotingCommand): RemotingCommand | undefined => (isSend(request) ? createResponse(request, code, 'refused') : undefined);
    const a = await fakeServer(failing);
    const b = await fakeServer(failing);
    const ns = await nameserver([{ master: a.address }, { master: b.address }]);
    const producer = new Producer({ group: uniqueName('pg'), nameservers: ns.address, instanceName: uniqueName('i'), retryTimesWhenSendFailed: 2 });
    cleanups.push(() => producer.shutdown());
    await producer.start();
    const failure = attempts === 1 ? { code: name } : { code: 'SEND_FAILED', message: expect.stringContaining(`failed after ${attempts} attempt(s)`) };
    await expect(producer.send({ topic: 'T', body: 'x' })).rejects.toMatchObject(failure);
    expect([...a.requests, ...b.requests].filter(isSend)).toHaveLength(attempts);
  });

  it('stops retrying when sendMsgTimeout is spent, whatever retryTimesWhenSendFailed allows', async () => {
    // Each attempt times out after what is left of the budget, so a 600 ms budget fits one attempt.
    const silent = (request: RemotingCommand): Promise<RemotingCommand> | undefined =>
      isSend(request) ? new Promise((resolve) => setTimeout(() => resolve(createResponse(request, ResponseCode.SYSTEM_ERROR.code, 'late')), 2_000)) : undefined;
    const a = await fakeServer(silent);
    const b = await fakeServer(silent);
    const ns = await nameserver([{ master: a.address }, { master: b.address }]);
    const producer = new Producer({ group: uniqueName('pg'), nameservers: ns.address, instanceName: uniqueName('i'), retryTimesWhenSendFailed: 10, sendMsgTimeout: 600 });
    cleanups.push(() => producer.shutdown());
    await producer.start();
    const began = Date.now();
    await expect(producer.send({ topic: 'T', body: 'x' })).rejects.toMatchObject({ code: 'SEND_FAILED' });
    expect(Date.now() - began).toBeLessThan(1_500);
    expect([...a.requests, ...b.requests].filter(isSend).length).toBeLessThan(11);
  });
});

describe('Producer send budget', () => {
  it('counts a slow route lookup against sendMsgTimeout: the attempt after it gets only what is left', async () => {
    // The route takes 700 ms of a 1,000 ms budget; the broker never answers in time. The send must
    // fail near 1,000 ms, not 700 ms plus a full 1,000 ms request timeout.
    const silent = (request: RemotingCommand): Promise<RemotingCommand> | undefined =>
      isSend(request) ? new Promise((resolve) => setTimeout(() => resolve(createResponse(request, ResponseCode.SYSTEM_ERROR.code, 'late')), 3_000)) : undefined;
    const broker = await fakeServer(silent);
    const slowRoute = await fakeServer(async (request) => {
      if (request.code !== RequestCode.GET_ROUTEINFO_BY_TOPIC.code) return undefined;
      await new Promise((resolve) => setTimeout(resolve, 700));
      return createResponse(request, ResponseCode.SUCCESS.code, undefined, {}, Buffer.from(JSON.stringify({
        brokerDatas: [{ cluster: 'C', brokerName: 'broker-0', brokerAddrs: { '0': broker.address } }],
        queueDatas: [{ brokerName: 'broker-0', readQueueNums: 2, writeQueueNums: 2, perm: 6, topicSysFlag: 0 }],
      })));
    });
    const producer = new Producer({ group: uniqueName('pg'), nameservers: slowRoute.address, instanceName: uniqueName('i'), retryTimesWhenSendFailed: 2, sendMsgTimeout: 1_000 });
    cleanups.push(() => producer.shutdown());
    await producer.start();
    const began = Date.now();
    await expect(producer.send({ topic: 'SlowRoute', body: 'x' })).rejects.toMatchObject({ code: 'SEND_FAILED' });
    // 1,000 ms budget, with room for a loaded machine's scheduling; 1,700 ms is what overran it.
    expect(Date.now() - began).toBeLessThan(1_450);
  });
});

describe('Producer membership', () => {
  it('heartbeats masters only: a producer-only client never heartbeats a slave', async () => {
    const master = await fakeServer(() => undefined);
    const slave = await fakeServer(() => undefined);
    const ns = await nameserver([{ master: master.address, slave: slave.address }]);
    const producer = new Producer({ group: uniqueName('pg'), nameservers: ns.address, instanceName: uniqueName('i'), heartbeatBrokerInterval: 50 });
    cleanups.push(() => producer.shutdown());
    await producer.start();
    expect((await producer.send({ topic: 'T', body: 'x' })).status).toBe('SEND_OK');
    await new Promise((r) => setTimeout(r, 300));
    expect(master.requests.filter((r) => r.code === RequestCode.HEART_BEAT.code).length).toBeGreaterThan(1);
    expect(slave.requests).toEqual([]);
  });

  it('refreshes the routes of the topics it sends to every 30 s by default (pollNameServerInterval)', async () => {
    vi.useFakeTimers({ toFake: ['setInterval', 'clearInterval'] });
    const master = await fakeServer(() => undefined);
    const ns = await nameserver([{ master: master.address }]);
    const producer = new Producer({ group: uniqueName('pg'), nameservers: ns.address, instanceName: uniqueName('i') });
    cleanups.push(() => producer.shutdown());
    await producer.start();
    await producer.send({ topic: 'T', body: 'x' });
    const lookups = (): number => ns.requests.filter((r) => r.code === RequestCode.GET_ROUTEINFO_BY_TOPIC.code && r.extFields.topic === 'T').length;
    const before = lookups();
    await vi.advanceTimersByTimeAsync(29_000);
    expect(lookups()).toBe(before);
    await vi.advanceTimersByTimeAsync(1_000);
    await vi.waitFor(() => expect(lookups()).toBe(before + 1), { timeout: 2_000 });
  });
});
