import { describe, expect, it } from 'vitest';
import { RemotingClient, RequestCode, ResponseCode, createRequest } from '@karman/protocol';
import { startCluster, uniqueName } from './cluster.js';

async function route(nameserver: string, topic: string): Promise<{ code: number; brokers: string[] }> {
  const client = new RemotingClient(`tcp://${nameserver}`);
  try {
    const response = await client.request(createRequest(RequestCode.GET_ROUTEINFO_BY_TOPIC.code, { topic }));
    if (response.code !== ResponseCode.SUCCESS.code) return { code: response.code, brokers: [] };
    const body = JSON.parse(Buffer.from(response.body ?? []).toString('utf8')) as { brokerDatas: Array<{ brokerName: string; brokerAddrs: Record<string, string> }> };
    return { code: response.code, brokers: body.brokerDatas.map((b) => `${b.brokerName}@${b.brokerAddrs['0']}`).sort() };
  } finally {
    await client.close();
  }
}

describe('startCluster', () => {
  it('runs two nameservers and two brokers; a created topic is routed by both nameservers to both brokers', async () => {
    await using cluster = await startCluster({ nameservers: 2, brokers: 2 });
    const topic = uniqueName('T');
    await cluster.createTopic(topic, { queues: 2 });
    const expected = cluster.brokers.map((b) => `${b.brokerName}@${b.address}`).sort();
    for (const ns of cluster.nameservers) expect(await route(ns, topic)).toEqual({ code: ResponseCode.SUCCESS.code, brokers: expected });
  });

  it('keeps registrations accepted whatever the body CRC (RocketMQ masks it to 31 bits)', async () => {
    // Each topic change re-registers with a new body; about half of all bodies have a CRC32 with the
    // top bit set, which a signed or unmasked CRC would get wrong. Ten changes exercise both halves.
    await using cluster = await startCluster({ brokers: 1 });
    for (let i = 0; i < 10; i++) await cluster.createTopic(uniqueName('T'), { queues: 1 });
  });

  it('restarts a broker on the same address after a clean stop, and the route follows it', async () => {
    await using cluster = await startCluster({ brokers: 1 });
    const topic = uniqueName('T');
    await cluster.createTopic(topic);
    const address = cluster.brokers[0]!.address;
    await cluster.stopBroker('broker-a');
    expect((await route(cluster.nameservers[0]!, topic)).code).toBe(ResponseCode.TOPIC_NOT_EXIST.code);
    await cluster.startBroker('broker-a');
    await cluster.waitForRoute(topic, ['broker-a']);
    expect(cluster.brokers[0]!.address).toBe(address);
  });
});
