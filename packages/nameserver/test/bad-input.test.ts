/**
 * Bad input over real sockets: every case gets a clear error response or a closed connection, the
 * server keeps serving, and the registry stays consistent.
 */
import { connect } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RemotingClient, RequestCode, ResponseCode, createRequest } from '@karman/protocol';
import { startNameServer } from '../src/name-server.js';
import type { NameServer, NameServerEvent } from '../src/name-server.js';
import { encodeRegisterBrokerBody } from '../src/register-broker-body.js';
import type { TopicRouteData } from '../src/route-data.js';
import { SimulatedBroker, jsonOf, queryRoute, topicConfigs } from './simulated-broker.js';

const registerHeader = (brokerName: string, brokerAddr = '127.0.0.1:10911') => ({
  clusterName: 'BadInputCluster',
  brokerName,
  brokerAddr,
  haServerAddr: '127.0.0.1:10912',
  brokerId: 0,
});

describe('bad input to the nameserver', () => {
  let ns: NameServer;
  let client: RemotingClient;
  let good: SimulatedBroker;
  const errors: Error[] = [];
  const skippedEvents: NameServerEvent[] = [];

  beforeAll(async () => {
    ns = await startNameServer({ bindAddress: '127.0.0.1', listenPort: 0, handshakeTimeoutMillis: 300, onError: (error) => errors.push(error), onEvent: (event) => void (event.type === 'registration_entries_skipped' && skippedEvents.push(event)) });
    client = new RemotingClient(`tcp://${ns.address}`, { reconnect: false, requestTimeoutMillis: 20_000 });
    good = new SimulatedBroker([ns.address], { clusterName: 'BadInputCluster', brokerName: 'good-broker', brokerAddr: '127.0.0.5:10911', brokerId: 0 }, topicConfigs(['Good']));
    await good.register();
  });
  afterAll(async () => {
    await client.close();
    await good.kill();
    await ns.close();
  });

  const snapshot = () => ({ stats: ns.routes.stats(), cluster: ns.routes.getClusterInfo(), topics: ns.routes.getAllTopicList() });

  it('a registration body that is not a topic-config table gets SYSTEM_ERROR naming the problem, and changes nothing', async () => {
    const before = snapshot();
    const cases: Array<[Buffer, RegExp]> = [
      [Buffer.from('this is not json'), /not JSON/],
      [Buffer.from(JSON.stringify({ topicConfigSerializeWrapper: { topicConfigTable: [], dataVersion: { timestamp: 1, counter: 1 } } })), /topicConfigTable/],
    ];
    for (const [body, remark] of cases) {
      const response = await client.request(createRequest(RequestCode.REGISTER_BROKER.code, registerHeader('bad-body-broker'), body));
      expect(response.code).toBe(ResponseCode.SYSTEM_ERROR.code);
      expect(response.remark).toMatch(remark);
    }
    const compressed = await client.request(createRequest(RequestCode.REGISTER_BROKER.code, { ...registerHeader('bad-body-broker'), compressed: true }, Buffer.from([0x78, 0x9c])));
    expect(compressed.remark).toMatch(/compressed=false/);
    expect(snapshot()).toEqual(before);
  });

  it('a frame that never completes is closed after frameCompleteTimeoutMillis and counted in /health, and the others are served', async () => {
    await using slow = await startNameServer({ bindAddress: '127.0.0.1', listenPort: 0, frameCompleteTimeoutMillis: 200 });
    const socket = connect({ host: '127.0.0.1', port: slow.port });
    socket.on('error', () => {});
    const closed = new Promise<void>((resolve) => socket.once('close', () => resolve()));
    await new Promise<void>((resolve) => socket.once('connect', () => resolve()));
    const head = Buffer.alloc(8);
    head.writeUInt32BE(1 << 20, 0);
    socket.write(head);
    await closed;
    const health = (await (await fetch(`http://127.0.0.1:${slow.port}/health`)).json()) as { remoting: { frameTimeoutConnectionsClosed: number; bufferedIncompleteFrameBytes: number } };
    expect(health.remoting.frameTimeoutConnectionsClosed).toBe(1);
    expect(health.remoting.bufferedIncompleteFrameBytes).toBe(0);
    const other = new RemotingClient(`tcp://${slow.address}`, { reconnect: false });
    try {
      expect((await other.request(createRequest(RequestCode.GET_ALL_TOPIC_LIST_FROM_NAMESERVER.code))).code).toBe(ResponseCode.SUCCESS.code);
    } finally {
      await other.close();
    }
  });

  it('names that break RocketMQ rules get an error naming the rule', async () => {
    const before = snapshot();
    const body = encodeRegisterBrokerBody(topicConfigs(['Fine']), { timestamp: 1, counter: 1 });
    const badBroker = await client.request(createRequest(RequestCode.REGISTER_BROKER.code, registerHeader('broker with spaces'), body));
    expect([badBroker.code, badBroker.remark]).toEqual([ResponseCode.SYSTEM_ERROR.code, 'broker name "broker with spaces" has characters outside [a-zA-Z0-9_.-]']);
    const badAddr = await client.request(createRequest(RequestCode.REGISTER_BROKER.code, registerHeader('ok-name', 'localhost'), body));
    expect(badAddr.remark).toMatch(/broker address "localhost" is not "host:port"/);
    const badHeader = await client.request(createRequest(RequestCode.REGISTER_BROKER.code, { ...registerHeader('ok-name'), brokerId: 'zero' }, body));
    expect(badHeader.code).toBe(ResponseCode.SYSTEM_ERROR.code);
    expect(badHeader.remark).toMatch(/brokerId/);
    const missingField = await client.request(createRequest(RequestCode.GET_ROUTEINFO_BY_TOPIC.code, {}));
    expect(missingField.remark).toMatch(/topic/);
    expect(snapshot()).toEqual(before);
  });

  it('a registration with bad entries is routed without them, and says which were left out', async () => {
    const before = snapshot();
    const body = encodeRegisterBrokerBody(
      [...topicConfigs(['Kept', '%RETRY%a/b']), { topicName: 'Huge', readQueueNums: 0x7fffffff, writeQueueNums: 0x7fffffff, perm: 6, topicSysFlag: 0, order: false }],
      { timestamp: 1, counter: 1 },
    );
    const answer = await client.request(createRequest(RequestCode.REGISTER_BROKER.code, registerHeader('skip-broker', '127.0.0.7:10911'), body));
    expect(answer.code).toBe(ResponseCode.SUCCESS.code);
    expect(jsonOf<TopicRouteData>(await queryRoute(client, 'Kept')).brokerDatas.map((b) => b.brokerName)).toEqual(['skip-broker']);
    expect((await queryRoute(client, 'Huge')).code).toBe(ResponseCode.TOPIC_NOT_EXIST.code);
    expect(skippedEvents.at(-1)).toEqual({
      type: 'registration_entries_skipped',
      brokerName: 'skip-broker',
      brokerAddr: '127.0.0.7:10911',
      skipped: [expect.stringMatching(/^"%RETRY%a\/b": .*characters outside/), expect.stringMatching(/^"Huge": readQueueNums must be an integer from 0 to 1024/)],
    });
    const gone = await client.request(createRequest(RequestCode.UNREGISTER_BROKER.code, { clusterName: 'BadInputCluster', brokerName: 'skip-broker', brokerAddr: '127.0.0.7:10911', brokerId: 0 }));
    expect(gone.code).toBe(ResponseCode.SUCCESS.code);
    expect(snapshot()).toEqual(before);
  });

  it('a 100,000-entry topic table is applied whole, served, and removed whole', async () => {
    const names = Array.from({ length: 100_000 }, (_, i) => `Bulk${String(i).padStart(6, '0')}`);
    const huge = new SimulatedBroker([`tcp://${ns.address}`], { clusterName: 'BadInputCluster', brokerName: 'huge-broker', brokerAddr: '127.0.0.6:10911', brokerId: 0 }, topicConfigs(names, 1));
    try {
      const [answer] = await huge.register();
      expect(answer?.code).toBe(ResponseCode.SUCCESS.code);
      expect(ns.routes.stats().topics).toBe(100_000 + 1);
      const route = jsonOf<TopicRouteData>(await queryRoute(client, 'Bulk099999'));
      expect(route.brokerDatas.map((b) => b.brokerName)).toEqual(['huge-broker']);
      // The server stayed responsive for others meanwhile.
      expect((await queryRoute(client, 'Good')).code).toBe(ResponseCode.SUCCESS.code);
    } finally {
      await huge.unregister();
      await huge.kill();
    }
    expect(ns.routes.getAllTopicList()).toEqual(['Good']);
  });

  it('a client that connects and sends nothing is disconnected; others are served meanwhile', async () => {
    const socket = connect({ host: '127.0.0.1', port: ns.port });
    const closed = new Promise<number>((resolve) => {
      const start = Date.now();
      socket.on('close', () => resolve(Date.now() - start));
      socket.on('error', () => undefined);
    });
    expect((await queryRoute(client, 'Good')).code).toBe(ResponseCode.SUCCESS.code);
    expect(await closed).toBeGreaterThanOrEqual(250);
  });

  it('a garbage frame closes only its own connection', async () => {
    const socket = connect({ host: '127.0.0.1', port: ns.port });
    await new Promise<void>((resolve) => socket.once('connect', resolve));
    const closed = new Promise<void>((resolve) => socket.on('close', () => resolve()));
    socket.on('error', () => undefined);
    // A length of 0xFFFFFFF0 is far past the 16 MiB frame limit.
    socket.write(Buffer.from([0xff, 0xff, 0xff, 0xf0, 0, 0, 0, 0]));
    await closed;
    expect((await queryRoute(client, 'Good')).code).toBe(ResponseCode.SUCCESS.code);
    expect(errors.length).toBeGreaterThan(0);
  });

  it('an unknown request code gets REQUEST_CODE_NOT_SUPPORTED', async () => {
    const response = await client.request(createRequest(RequestCode.SEND_MESSAGE.code, {}));
    expect(response.code).toBe(ResponseCode.REQUEST_CODE_NOT_SUPPORTED.code);
  });
});
