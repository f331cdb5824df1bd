import { describe, expect, it } from 'vitest';
import { RequestCode, ResponseCode, createRequest } from '@karman/protocol';
import type { RemotingCommand } from '@karman/protocol';
import { KVConfigManager } from './kv-config-manager.js';
import { RUNTIME_UPDATABLE_OPTIONS, resolveNameServerOptions } from './name-server-options.js';
import type { NameServerConfig } from './name-server-options.js';
import { parseProperties } from '@karman/protocol';
import { encodeRegisterBrokerBody } from './register-broker-body.js';
import { createNameServerHandlers } from './request-handlers.js';
import { RouteInfoManager } from './route-info-manager.js';

function setup(overrides: Record<string, unknown> = {}) {
  const routes = new RouteInfoManager();
  const kv = new KVConfigManager();
  let config: NameServerConfig = resolveNameServerOptions(overrides);
  const handlers = createNameServerHandlers({
    routes,
    kv,
    config: () => config,
    updateConfig: (changes) => {
      config = resolveNameServerOptions({ ...config, ...changes });
    },
  });
  const call = async (code: number, header: Record<string, unknown> = {}, body?: Uint8Array): Promise<RemotingCommand> => {
    const handler = handlers.get(code);
    if (!handler) throw new Error(`no handler for ${code}`);
    return handler(createRequest(code, {}, body), header, undefined);
  };
  return { routes, kv, call, config: () => config };
}

const json = (command: RemotingCommand): unknown => JSON.parse(Buffer.from(command.body ?? []).toString('utf8'));
const topics = (...names: string[]) => names.map((topicName) => ({ topicName, readQueueNums: 4, writeQueueNums: 4, perm: 6, topicSysFlag: 0, order: false }));
const broker = (brokerName: string, brokerAddr: string, brokerId = 0) => ({ clusterName: 'DefaultCluster', brokerName, brokerAddr, haServerAddr: brokerAddr.replace(/:\d+$/, ':10912'), brokerId, compressed: false, bodyCrc32: 0 });

describe('nameserver request handlers', () => {
  it('REGISTER_BROKER answers a slave with masterAddr/haServerAddr and the ORDER_TOPIC_CONFIG table', async () => {
    const { call, kv } = setup();
    await kv.put('ORDER_TOPIC_CONFIG', 'Orders', 'broker-a:4');
    const master = await call(RequestCode.REGISTER_BROKER.code, broker('broker-a', '10.0.0.1:10911'), encodeRegisterBrokerBody(topics('Orders'), { timestamp: 1, counter: 1 }));
    expect(master.code).toBe(ResponseCode.SUCCESS.code);
    expect(master.extFields).toEqual({});
    const slave = await call(RequestCode.REGISTER_BROKER.code, broker('broker-a', '10.0.0.2:10911', 1), encodeRegisterBrokerBody([], { timestamp: 1, counter: 1 }));
    expect(slave.extFields).toEqual({ masterAddr: '10.0.0.1:10911', haServerAddr: '10.0.0.1:10912' });
    expect(json(slave)).toEqual({ table: { Orders: 'broker-a:4' } });
  });

  it('REGISTER_BROKER with a body that is not a topic-config table fails with a remark and changes nothing', async () => {
    const { call, routes } = setup();
    await expect(call(RequestCode.REGISTER_BROKER.code, broker('broker-a', '10.0.0.1:10911'), Buffer.from('{"foo":1}'))).rejects.toThrow(/not a topic-config table/);
    await expect(call(RequestCode.REGISTER_BROKER.code, { ...broker('bad name', '10.0.0.1:10911') }, encodeRegisterBrokerBody([], { timestamp: 1, counter: 1 }))).rejects.toThrow(/broker name "bad name"/);
    expect(routes.stats()).toEqual({ clusters: 0, brokerNames: 0, liveBrokers: 0, topics: 0 });
  });

  it('GET_ROUTEINFO_BY_TOPIC answers TopicRouteData JSON, with orderTopicConf when orderMessageEnable', async () => {
    const { call, kv } = setup({ orderMessageEnable: true });
    await call(RequestCode.REGISTER_BROKER.code, broker('broker-a', '10.0.0.1:10911'), encodeRegisterBrokerBody(topics('T1', 'Orders'), { timestamp: 1, counter: 1 }));
    await kv.put('ORDER_TOPIC_CONFIG', 'Orders', 'broker-a:4');
    const route = await call(RequestCode.GET_ROUTEINFO_BY_TOPIC.code, { topic: 'T1' });
    expect(route.code).toBe(0);
    expect(json(route)).toEqual({
      queueDatas: [{ brokerName: 'broker-a', readQueueNums: 4, writeQueueNums: 4, perm: 6, topicSysFlag: 0 }],
      brokerDatas: [{ cluster: 'DefaultCluster', brokerName: 'broker-a', brokerAddrs: { '0': '10.0.0.1:10911' } }],
      filterServerTable: {},
    });
    expect(json(await call(RequestCode.GET_ROUTEINFO_BY_TOPIC.code, { topic: 'Orders' }))).toMatchObject({ orderTopicConf: 'broker-a:4' });
    const missing = await call(RequestCode.GET_ROUTEINFO_BY_TOPIC.code, { topic: 'Nope' });
    expect(missing.code).toBe(ResponseCode.TOPIC_NOT_EXIST.code);
    expect(missing.remark).toBe('No topic route info in name server for the topic: Nope');
  });

  it('leaves orderTopicConf out of routes by default, as RocketMQ (orderMessageEnable=false)', async () => {
    const { call, kv } = setup();
    await call(RequestCode.REGISTER_BROKER.code, broker('broker-a', '10.0.0.1:10911'), encodeRegisterBrokerBody(topics('Orders'), { timestamp: 1, counter: 1 }));
    await kv.put('ORDER_TOPIC_CONFIG', 'Orders', 'broker-a:4');
    expect(json(await call(RequestCode.GET_ROUTEINFO_BY_TOPIC.code, { topic: 'Orders' }))).not.toHaveProperty('orderTopicConf');
  });

  it('QUERY_DATA_VERSION says whether the version changed, returns the stored one, and counts as life when unchanged', async () => {
    const { call, routes } = setup();
    const id = broker('broker-a', '10.0.0.1:10911');
    const unknown = await call(RequestCode.QUERY_DATA_VERSION.code, id, Buffer.from(JSON.stringify({ timestamp: 1, counter: 1 })));
    expect(unknown.extFields).toEqual({ changed: true });
    expect(unknown.body).toBeUndefined();
    await call(RequestCode.REGISTER_BROKER.code, id, encodeRegisterBrokerBody(topics('T1'), { timestamp: 1, counter: 1 }));
    const before = routes.getBrokerLiveInfo('10.0.0.1:10911')!.lastUpdateTimestamp;
    await new Promise((resolve) => setTimeout(resolve, 5));
    const same = await call(RequestCode.QUERY_DATA_VERSION.code, id, Buffer.from(JSON.stringify({ timestamp: 1, counter: 1 })));
    expect(same.extFields).toEqual({ changed: false });
    expect(json(same)).toEqual({ timestamp: 1, counter: 1 });
    expect(routes.getBrokerLiveInfo('10.0.0.1:10911')!.lastUpdateTimestamp).toBeGreaterThan(before);
    const newer = await call(RequestCode.QUERY_DATA_VERSION.code, id, Buffer.from(JSON.stringify({ timestamp: 1, counter: 2 })));
    expect(newer.extFields).toEqual({ changed: true });
    await expect(call(RequestCode.QUERY_DATA_VERSION.code, id, Buffer.from('[]'))).rejects.toThrow(/QUERY_DATA_VERSION body/);
  });

  it('UNREGISTER_BROKER removes the broker and its topics', async () => {
    const { call } = setup();
    await call(RequestCode.REGISTER_BROKER.code, broker('broker-a', '10.0.0.1:10911'), encodeRegisterBrokerBody(topics('T1'), { timestamp: 1, counter: 1 }));
    expect((await call(RequestCode.UNREGISTER_BROKER.code, broker('broker-a', '10.0.0.1:10911'))).code).toBe(0);
    expect((await call(RequestCode.GET_ROUTEINFO_BY_TOPIC.code, { topic: 'T1' })).code).toBe(ResponseCode.TOPIC_NOT_EXIST.code);
  });

  it('answers cluster info, topic lists, and write-permission changes with their counts', async () => {
    const { call } = setup();
    await call(RequestCode.REGISTER_BROKER.code, broker('broker-a', '10.0.0.1:10911'), encodeRegisterBrokerBody(topics('T1', 'T2'), { timestamp: 1, counter: 1 }));
    expect(json(await call(RequestCode.GET_BROKER_CLUSTER_INFO.code))).toEqual({
      brokerAddrTable: { 'broker-a': { cluster: 'DefaultCluster', brokerName: 'broker-a', brokerAddrs: { '0': '10.0.0.1:10911' } } },
      clusterAddrTable: { DefaultCluster: ['broker-a'] },
    });
    expect(json(await call(RequestCode.GET_ALL_TOPIC_LIST_FROM_NAMESERVER.code))).toEqual({ topicList: ['T1', 'T2'] });
    expect(json(await call(RequestCode.GET_TOPICS_BY_CLUSTER.code, { cluster: 'DefaultCluster' }))).toEqual({ topicList: ['T1', 'T2'] });
    expect((await call(RequestCode.WIPE_WRITE_PERM_OF_BROKER.code, { brokerName: 'broker-a' })).extFields).toEqual({ wipeTopicCount: 2 });
    expect(json(await call(RequestCode.GET_ROUTEINFO_BY_TOPIC.code, { topic: 'T1' }))).toMatchObject({ queueDatas: [{ perm: 4 }] });
    expect((await call(RequestCode.ADD_WRITE_PERM_OF_BROKER.code, { brokerName: 'broker-a' })).extFields).toEqual({ addTopicCount: 2 });
    await call(RequestCode.DELETE_TOPIC_IN_NAMESRV.code, { topic: 'T2' });
    expect(json(await call(RequestCode.GET_ALL_TOPIC_LIST_FROM_NAMESERVER.code))).toEqual({ topicList: ['T1'] });
    await expect(call(RequestCode.DELETE_TOPIC_IN_NAMESRV.code, { topic: 'bad/topic' })).rejects.toThrow(/characters outside/);
  });

  it('REGISTER_TOPIC_IN_NAMESRV adds queue data from a TopicRouteData body, refusing a bad one', async () => {
    const { call } = setup();
    await call(RequestCode.REGISTER_BROKER.code, broker('broker-a', '10.0.0.1:10911'), encodeRegisterBrokerBody([], { timestamp: 1, counter: 1 }));
    const body = Buffer.from(JSON.stringify({ queueDatas: [{ brokerName: 'broker-a', readQueueNums: 2, writeQueueNums: 2, perm: 6, topicSysFlag: 0 }] }));
    expect((await call(RequestCode.REGISTER_TOPIC_IN_NAMESRV.code, { topic: 'Made' }, body)).code).toBe(0);
    expect(json(await call(RequestCode.GET_ROUTEINFO_BY_TOPIC.code, { topic: 'Made' }))).toMatchObject({ queueDatas: [{ readQueueNums: 2 }] });
    await expect(call(RequestCode.REGISTER_TOPIC_IN_NAMESRV.code, { topic: 'Made' }, Buffer.from('{"queueDatas":[{"brokerName":1}]}'))).rejects.toThrow(/queueDatas\.0\.brokerName/);
    await expect(call(RequestCode.REGISTER_TOPIC_IN_NAMESRV.code, { topic: 'Made' })).rejects.toThrow(/needs a body/);
  });

  it('serves the KV codes, answering QUERY_NOT_FOUND for what is absent', async () => {
    const { call } = setup();
    expect((await call(RequestCode.PUT_KV_CONFIG.code, { namespace: 'ns', key: 'k', value: 'v' })).code).toBe(0);
    expect((await call(RequestCode.GET_KV_CONFIG.code, { namespace: 'ns', key: 'k' })).extFields).toEqual({ value: 'v' });
    expect(json(await call(RequestCode.GET_KVLIST_BY_NAMESPACE.code, { namespace: 'ns' }))).toEqual({ table: { k: 'v' } });
    expect((await call(RequestCode.DELETE_KV_CONFIG.code, { namespace: 'ns', key: 'k' })).code).toBe(0);
    const missing = await call(RequestCode.GET_KV_CONFIG.code, { namespace: 'ns', key: 'k' });
    expect([missing.code, missing.remark]).toEqual([ResponseCode.QUERY_NOT_FOUND.code, 'No config item, Namespace: ns Key: k']);
    expect((await call(RequestCode.GET_KVLIST_BY_NAMESPACE.code, { namespace: 'ns' })).code).toBe(ResponseCode.QUERY_NOT_FOUND.code);
  });

  it('GET/UPDATE_NAMESRV_CONFIG read and change the runtime-changeable options, refusing the rest', async () => {
    const { call, config } = setup();
    const text = Buffer.from((await call(RequestCode.GET_NAMESRV_CONFIG.code)).body ?? []).toString('utf8');
    expect(parseProperties(text)).toMatchObject({ listenPort: '9876', brokerExpiredMillis: '120000', orderMessageEnable: 'false' });
    expect((await call(RequestCode.UPDATE_NAMESRV_CONFIG.code, {}, Buffer.from('orderMessageEnable=true\nbrokerExpiredMillis=5000\n'))).code).toBe(0);
    expect(config()).toMatchObject({ orderMessageEnable: true, brokerExpiredMillis: 5000 });
    await expect(call(RequestCode.UPDATE_NAMESRV_CONFIG.code, {}, Buffer.from('listenPort=1'))).rejects.toThrow(/"listenPort" cannot change while the nameserver runs/);
    await expect(call(RequestCode.UPDATE_NAMESRV_CONFIG.code, {}, Buffer.from('nope=1'))).rejects.toThrow(/unknown nameserver option "nope"/);
    await expect(call(RequestCode.UPDATE_NAMESRV_CONFIG.code, {}, Buffer.from('brokerExpiredMillis=abc'))).rejects.toThrow(/brokerExpiredMillis/);
    expect(config().brokerExpiredMillis).toBe(5000);
    await expect(call(RequestCode.UPDATE_NAMESRV_CONFIG.code, {}, Buffer.from(`brokerExpiredMillis=1\n#${'x'.repeat(70_000)}`))).rejects.toThrow(/UPDATE_NAMESRV_CONFIG body is 70023 bytes, over the 65536-byte limit/);
    expect(config().brokerExpiredMillis).toBe(5000);
    expect(RUNTIME_UPDATABLE_OPTIONS.has('orderMessageEnable')).toBe(true);
  });
});
