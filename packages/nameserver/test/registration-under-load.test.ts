/**
 * 100 brokers register while 1,000 route queries run: every registration succeeds, every route
 * answer is whole (each queue data's broker is among its broker datas), and the end state holds all
 * 100 brokers. Registrations and queries interleave on one event loop, as RocketMQ's read-write lock
 * lets them interleave between threads.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RemotingClient, ResponseCode } from '@karman/protocol';
import { startNameServer } from '../src/name-server.js';
import type { NameServer } from '../src/name-server.js';
import type { TopicRouteData } from '../src/route-data.js';
import { SimulatedBroker, jsonOf, queryRoute, topicConfigs } from './simulated-broker.js';

describe('registrations under concurrent route queries', () => {
  let ns: NameServer;
  const brokers: SimulatedBroker[] = [];
  const readers: RemotingClient[] = [];

  beforeAll(async () => {
    ns = await startNameServer({ bindAddress: '127.0.0.1', listenPort: 0 });
  });
  afterAll(async () => {
    await Promise.all([...brokers.map((b) => b.kill()), ...readers.map((r) => r.close())]);
    await ns.close();
  });

  it('100 brokers register while 1,000 route queries run', async () => {
    for (let i = 0; i < 100; i++) {
      const name = `load-broker-${String(i).padStart(3, '0')}`;
      const address = i % 2 === 0 ? `tcp://${ns.address}` : ns.address;
      brokers.push(new SimulatedBroker([address], { clusterName: `LoadCluster${i % 3}`, brokerName: name, brokerAddr: `127.0.1.${i + 1}:10911`, brokerId: 0 }, topicConfigs(['LoadShared', `Load-${name}`], 8)));
    }
    for (let i = 0; i < 10; i++) readers.push(new RemotingClient(i % 2 === 0 ? ns.address : `tcp://${ns.address}`, { reconnect: false, requestTimeoutMillis: 20_000 }));

    const registrations = brokers.map((broker) => broker.register());
    const queries = Array.from({ length: 1000 }, (_, i) => queryRoute(readers[i % readers.length]!, i % 2 === 0 ? 'LoadShared' : `Load-load-broker-${String(i % 100).padStart(3, '0')}`));
    const [registered, answered] = await Promise.all([Promise.all(registrations), Promise.all(queries)]);

    expect(registered.flat().every((r) => r.code === ResponseCode.SUCCESS.code)).toBe(true);
    let found = 0;
    for (const answer of answered) {
      // Before its broker registered a topic has no route; after, the route must be whole.
      expect([ResponseCode.SUCCESS.code, ResponseCode.TOPIC_NOT_EXIST.code]).toContain(answer.code);
      if (answer.code !== ResponseCode.SUCCESS.code) continue;
      found++;
      const route = jsonOf<TopicRouteData>(answer);
      const brokerNames = new Set(route.brokerDatas.map((b) => b.brokerName));
      for (const queue of route.queueDatas) expect(brokerNames.has(queue.brokerName)).toBe(true);
      for (const data of route.brokerDatas) expect(Object.keys(data.brokerAddrs)).toEqual(['0']);
    }
    expect(found).toBeGreaterThan(0);

    const final = jsonOf<TopicRouteData>(await queryRoute(readers[0]!, 'LoadShared'));
    expect(final.brokerDatas).toHaveLength(100);
    expect(final.queueDatas).toHaveLength(100);
    expect(ns.routes.stats()).toEqual({ clusters: 3, brokerNames: 100, liveBrokers: 100, topics: 101 });
  });
});
