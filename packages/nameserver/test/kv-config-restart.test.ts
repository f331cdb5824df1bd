/**
 * KV config survives a restart on the same data folder; routes do not (they are rebuilt from
 * registrations), and ORDER_TOPIC_CONFIG reaches routes and broker registrations. Also GET /health.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { RemotingClient, RequestCode, ResponseCode, createRequest } from '@karman/protocol';
import { startNameServer } from '../src/name-server.js';
import type { TopicRouteData } from '../src/route-data.js';
import { SimulatedBroker, jsonOf, queryRoute, topicConfigs } from './simulated-broker.js';

describe('nameserver restart', () => {
  let dataDir: string;
  beforeEach(async () => {
    dataDir = await mkdtemp(join(tmpdir(), 'karman-ns-'));
  });
  afterEach(async () => {
    await rm(dataDir, { recursive: true, force: true });
  });

  it('keeps KV config across a restart and rebuilds routes from registrations', async () => {
    const first = await startNameServer({ bindAddress: '127.0.0.1', listenPort: 0, dataDir, orderMessageEnable: true });
    const client = new RemotingClient(first.address, { reconnect: false });
    const broker = new SimulatedBroker([first.address], { clusterName: 'C', brokerName: 'broker-a', brokerAddr: '127.0.0.1:10911', brokerId: 0 }, topicConfigs(['Orders']));
    try {
      await broker.register();
      const put = await client.request(createRequest(RequestCode.PUT_KV_CONFIG.code, { namespace: 'ORDER_TOPIC_CONFIG', key: 'Orders', value: 'broker-a:4' }));
      expect(put.code).toBe(ResponseCode.SUCCESS.code);
      await client.request(createRequest(RequestCode.PUT_KV_CONFIG.code, { namespace: 'app', key: 'k', value: 'v' }));
      expect(jsonOf<TopicRouteData>(await queryRoute(client, 'Orders')).orderTopicConf).toBe('broker-a:4');
    } finally {
      await client.close();
      await broker.kill();
      await first.close();
    }

    const second = await startNameServer({ bindAddress: '127.0.0.1', listenPort: 0, dataDir, orderMessageEnable: true });
    const again = new RemotingClient(`tcp://${second.address}`, { reconnect: false });
    const broker2 = new SimulatedBroker([second.address], { clusterName: 'C', brokerName: 'broker-a', brokerAddr: '127.0.0.1:10911', brokerId: 0 }, topicConfigs(['Orders']));
    try {
      const value = await again.request(createRequest(RequestCode.GET_KV_CONFIG.code, { namespace: 'app', key: 'k' }));
      expect(value.extFields.value).toBe('v');
      // Routes are not persisted: none until a broker registers again.
      expect((await queryRoute(again, 'Orders')).code).toBe(ResponseCode.TOPIC_NOT_EXIST.code);
      const [registration] = await broker2.register();
      expect(jsonOf(registration!)).toEqual({ table: { Orders: 'broker-a:4' } });
      expect(jsonOf<TopicRouteData>(await queryRoute(again, 'Orders')).orderTopicConf).toBe('broker-a:4');

      const health = await fetch(`http://${second.address}/health`);
      expect(health.status).toBe(200);
      expect(await health.json()).toMatchObject({ status: 'ok', role: 'nameserver', brokerNames: 1, topics: 1 });
    } finally {
      await again.close();
      await broker2.kill();
      await second.close();
    }
  });

  it('refuses to start twice and closes idempotently', async () => {
    await using ns = await startNameServer({ bindAddress: '127.0.0.1', listenPort: 0 });
    await expect(ns.start()).rejects.toThrow(/start\(\) called on a nameserver that is running/);
    await ns.close();
    await ns.close();
  });
});
