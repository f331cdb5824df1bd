import { afterEach, describe, expect, it } from 'vitest';
import { RemotingServer, ResponseCode, SerializeType, createRequest, createResponse } from '@karman/protocol';
import type { RemotingCommand } from '@karman/protocol';
import { ClientInstance } from './client-instance.js';

const cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

/** A fake broker that records the serialization of every request and answers in kind. */
async function recordingBroker(): Promise<{ address: string; seen: Array<number | undefined> }> {
  const seen: Array<number | undefined> = [];
  const server = new RemotingServer({ host: '127.0.0.1', port: 0 });
  server.registerHandler(34, (request: RemotingCommand) => {
    seen.push(request.serializeType);
    return createResponse(request, ResponseCode.SUCCESS.code);
  });
  cleanups.push(() => server.close());
  const { port } = await server.listen();
  return { address: `127.0.0.1:${port}`, seen };
}

describe('ClientInstance broker connections', () => {
  it.each([
    [undefined, SerializeType.ROCKETMQ],
    ['JSON', SerializeType.JSON],
    ['ROCKETMQ', SerializeType.ROCKETMQ],
  ] as const)('serializeType %s sends broker requests with %s headers, on both transports', async (option, expected) => {
    const broker = await recordingBroker();
    for (const transport of ['ws', 'tcp'] as const) {
      const instance = ClientInstance.acquire({ nameservers: '127.0.0.1:1', instanceName: `ser-${String(option)}-${transport}`, transport, ...(option ? { serializeType: option } : {}) });
      cleanups.push(() => instance.release());
      const response = await instance.broker(broker.address).request(createRequest(34, { clientID: 'x' }));
      expect(response.code).toBe(ResponseCode.SUCCESS.code);
    }
    expect(broker.seen).toEqual([expected, expected]);
  });
});

/** A fake broker that counts heartbeats. */
async function heartbeatCounter(): Promise<{ address: string; heartbeats: () => number }> {
  let count = 0;
  const server = new RemotingServer({ host: '127.0.0.1', port: 0 });
  server.registerHandler(34, (request: RemotingCommand) => {
    count++;
    return createResponse(request, ResponseCode.SUCCESS.code);
  });
  cleanups.push(() => server.close());
  const { port } = await server.listen();
  return { address: `127.0.0.1:${port}`, heartbeats: () => count };
}

/** A fake nameserver whose route for any topic names the brokers `route.brokers` holds, or TOPIC_NOT_EXIST when empty. */
async function routingNameServer(route: { brokers: Array<[string, string]> }): Promise<string> {
  const server = new RemotingServer({ host: '127.0.0.1', port: 0 });
  server.registerHandler(105, (request: RemotingCommand) => {
    if (route.brokers.length === 0) return createResponse(request, ResponseCode.TOPIC_NOT_EXIST.code, 'no route');
    const body = {
      brokerDatas: route.brokers.map(([brokerName, addr]) => ({ cluster: 'C', brokerName, brokerAddrs: { '0': addr } })),
      queueDatas: route.brokers.map(([brokerName]) => ({ brokerName, readQueueNums: 4, writeQueueNums: 4, perm: 6, topicSysFlag: 0 })),
    };
    return createResponse(request, ResponseCode.SUCCESS.code, undefined, {}, Buffer.from(JSON.stringify(body)));
  });
  cleanups.push(() => server.close());
  const { port } = await server.listen();
  return `127.0.0.1:${port}`;
}

describe('ClientInstance forgets brokers no route names (RocketMQ MQClientInstance.cleanOfflineBroker)', () => {
  it.each(['left the route', 'lost its last topic (TOPIC_NOT_EXIST)'] as const)('stops heartbeating a broker that %s, and says so', async (how) => {
    const a = await heartbeatCounter();
    const b = await heartbeatCounter();
    const route = { brokers: [['broker-a', a.address], ['broker-b', b.address]] as Array<[string, string]> };
    const nameserver = await routingNameServer(route);
    const instance = ClientInstance.acquire({ nameservers: nameserver, instanceName: `offline-${how}`, transport: 'tcp', heartbeatBrokerInterval: 30, pollNameServerInterval: 30 });
    cleanups.push(() => instance.release());
    const dropped: string[] = [];
    instance.on('status', (s) => (s.type === 'broker_dropped' ? dropped.push(s.broker) : undefined));
    instance.registerProducer({ group: 'pg-offline' });
    instance.watchTopic(how === 'left the route' ? 'Both' : 'OnlyB');
    if (how === 'left the route') await instance.updateRoute('Both');
    else {
      route.brokers = [['broker-b', b.address]];
      await instance.updateRoute('OnlyB');
    }
    await expect.poll(() => b.heartbeats(), { timeout: 5_000 }).toBeGreaterThan(0);
    route.brokers = how === 'left the route' ? [['broker-a', a.address]] : [];
    await expect.poll(() => dropped, { timeout: 5_000 }).toContain(b.address);
    const seen = b.heartbeats();
    await new Promise((r) => setTimeout(r, 300));
    expect(b.heartbeats()).toBe(seen);
    expect(instance.findBrokerAddress('broker-b')).toBeUndefined();
    if (how === 'left the route') expect(a.heartbeats()).toBeGreaterThan(1);
  });
});

/** A fake nameserver routing every topic to broker-a with the given id → address table. */
async function brokerTableNameServer(table: { addrs: Record<string, string> }): Promise<string> {
  const server = new RemotingServer({ host: '127.0.0.1', port: 0 });
  server.registerHandler(105, (request: RemotingCommand) => {
    const body = { brokerDatas: [{ cluster: 'C', brokerName: 'broker-a', brokerAddrs: table.addrs }], queueDatas: [{ brokerName: 'broker-a', readQueueNums: 1, writeQueueNums: 1, perm: 6, topicSysFlag: 0 }] };
    return createResponse(request, ResponseCode.SUCCESS.code, undefined, {}, Buffer.from(JSON.stringify(body)));
  });
  cleanups.push(() => server.close());
  const { port } = await server.listen();
  return `127.0.0.1:${port}`;
}

describe('ClientInstance sharing and broker addresses', () => {
  it('shares one instance between acquires of the same options and shuts it down with the last release', async () => {
    const ns = await brokerTableNameServer({ addrs: { '0': '10.0.0.1:10911' } });
    const options = { nameservers: ns, instanceName: 'shared-instance-test' };
    const a = ClientInstance.acquire(options);
    const b = ClientInstance.acquire(options);
    expect(b).toBe(a);
    const other = ClientInstance.acquire({ ...options, instanceName: 'another-instance' });
    expect(other).not.toBe(a);
    await other.release();
    await a.release();
    // One reference left: still serving.
    expect((await b.updateRoute('T'))?.brokerDatas[0]?.brokerName).toBe('broker-a');
    await b.release();
    // Released for good: the next acquire makes a new instance.
    const c = ClientInstance.acquire(options);
    cleanups.push(() => c.release());
    expect(c).not.toBe(a);
  });

  it('finds the master, a given id, or with masterOnly false the lowest-id slave when the master is gone', async () => {
    const table = { addrs: { '0': '10.0.0.1:10911', '2': '10.0.0.3:10911', '1': '10.0.0.2:10911' } as Record<string, string> };
    const ns = await brokerTableNameServer(table);
    const instance = ClientInstance.acquire({ nameservers: ns, instanceName: 'address-test' });
    cleanups.push(() => instance.release());
    await instance.updateRoute('T');
    expect([instance.findBrokerAddress('broker-a'), instance.findBrokerAddress('broker-a', false), instance.brokerAddress('broker-a', 2)]).toEqual(['10.0.0.1:10911', '10.0.0.1:10911', '10.0.0.3:10911']);
    table.addrs = { '2': '10.0.0.3:10911', '1': '10.0.0.2:10911' };
    await instance.updateRoute('T');
    expect([instance.findBrokerAddress('broker-a'), instance.findBrokerAddress('broker-a', false)]).toEqual([undefined, '10.0.0.2:10911']);
    expect(instance.findBrokerAddress('broker-z', false)).toBeUndefined();
  });
});
