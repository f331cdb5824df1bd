/**
 * Two independent nameservers, three brokers registering with both over real sockets:
 * a killed broker (connection closed) leaves both at once; a hung broker (connection open, silent)
 * leaves after brokerExpiredMillis; a healthy broker stays.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { RemotingClient, ResponseCode } from '@karman/protocol';
import { startNameServer } from '../src/name-server.js';
import type { NameServer } from '../src/name-server.js';
import type { TopicRouteData } from '../src/route-data.js';
import { SimulatedBroker, jsonOf, queryRoute, topicConfigs, waitFor } from './simulated-broker.js';

const EXPIRY = 2000;

describe('broker liveness across two nameservers', () => {
  const cleanup: Array<() => Promise<void>> = [];
  afterEach(async () => {
    for (const step of cleanup.reverse()) await step().catch(() => undefined);
    cleanup.length = 0;
  });

  async function nameServer(): Promise<NameServer> {
    const ns = await startNameServer({ bindAddress: '127.0.0.1', listenPort: 0, brokerExpiredMillis: EXPIRY, scanNotActiveBrokerInterval: 25 });
    cleanup.push(() => ns.close());
    return ns;
  }

  it('removes a killed broker at once and a hung one after expiry; each nameserver on its own', async () => {
    const ns1 = await nameServer();
    const ns2 = await nameServer();
    const addresses = [`tcp://${ns1.address}`, ns2.address];
    const brokers = ['broker-a', 'broker-b', 'broker-c'].map(
      (name, i) => new SimulatedBroker(addresses, { clusterName: 'LivenessCluster', brokerName: name, brokerAddr: `127.0.0.${i + 1}:10911`, brokerId: 0 }, topicConfigs(['Shared', `Only-${name}`])),
    );
    for (const broker of brokers) cleanup.push(() => broker.kill());
    const answers = (await Promise.all(brokers.map((b) => b.register()))).flat();
    const registeredAt = Date.now();
    expect(answers.map((a) => a.code)).toEqual(Array(6).fill(ResponseCode.SUCCESS.code));

    const routeClient = new RemotingClient(ns2.address, { reconnect: false });
    cleanup.push(() => routeClient.close());
    const shared = jsonOf<TopicRouteData>(await queryRoute(routeClient, 'Shared'));
    expect(shared.brokerDatas.map((b) => b.brokerName)).toEqual(['broker-a', 'broker-b', 'broker-c']);
    for (const ns of [ns1, ns2]) expect(ns.routes.stats()).toEqual({ clusters: 1, brokerNames: 3, liveBrokers: 3, topics: 4 });

    // broker-c keeps registering, as a healthy broker does every registerNameServerPeriod.
    const [killed, hung, healthy] = brokers as [SimulatedBroker, SimulatedBroker, SimulatedBroker];
    const heartbeat = setInterval(() => void healthy.register().catch(() => undefined), 200);
    cleanup.push(async () => clearInterval(heartbeat));

    // Killed: its connections close, and both nameservers drop it well before the expiry could.
    await killed.kill();
    const gone = (ns: NameServer) => () => ns.routes.pickupTopicRouteData('Only-broker-a') === undefined;
    expect(await waitFor(gone(ns1), EXPIRY / 2, 'ns1 to drop the killed broker')).toBeLessThan(EXPIRY / 2);
    expect(await waitFor(gone(ns2), EXPIRY / 2, 'ns2 to drop the killed broker')).toBeLessThan(EXPIRY / 2);
    expect(ns1.routes.getBrokerLiveInfo('127.0.0.2:10911')).toBeDefined();

    // Hung: the connection stays open but nothing comes; removed once the expiry has passed.
    const hungGone = (ns: NameServer) => () => ns.routes.getBrokerLiveInfo('127.0.0.2:10911') === undefined;
    await waitFor(() => hungGone(ns1)() && hungGone(ns2)(), EXPIRY * 3, 'both nameservers to expire the hung broker');
    // Not before its expiry: silence shorter than brokerExpiredMillis is no reason to drop a broker.
    expect(Date.now() - registeredAt).toBeGreaterThanOrEqual(EXPIRY);
    expect(hung.identity.brokerName).toBe('broker-b');

    for (const ns of [ns1, ns2]) {
      expect(ns.routes.getClusterInfo().clusterAddrTable).toEqual({ LivenessCluster: ['broker-c'] });
      expect(ns.routes.getAllTopicList()).toEqual(['Only-broker-c', 'Shared']);
    }
    const after = jsonOf<TopicRouteData>(await queryRoute(routeClient, 'Shared'));
    expect(after.brokerDatas.map((b) => b.brokerName)).toEqual(['broker-c']);
    expect((await queryRoute(routeClient, 'Only-broker-b')).code).toBe(ResponseCode.TOPIC_NOT_EXIST.code);
  });

  it('UNREGISTER_BROKER removes a broker from every nameserver it registered with', async () => {
    const ns1 = await nameServer();
    const ns2 = await nameServer();
    const broker = new SimulatedBroker([ns1.address, `tcp://${ns2.address}`], { clusterName: 'C', brokerName: 'broker-x', brokerAddr: '127.0.0.9:10911', brokerId: 0 }, topicConfigs(['T']));
    cleanup.push(() => broker.kill());
    await broker.register();
    expect((await broker.unregister()).map((a) => a.code)).toEqual([0, 0]);
    for (const ns of [ns1, ns2]) expect(ns.routes.stats()).toEqual({ clusters: 0, brokerNames: 0, liveBrokers: 0, topics: 0 });
  });

  it('tells a slave its master over the wire, and skips unchanged registrations via QUERY_DATA_VERSION', async () => {
    const ns = await nameServer();
    const master = new SimulatedBroker([ns.address], { clusterName: 'C', brokerName: 'broker-m', brokerAddr: '127.0.0.1:10911', brokerId: 0, haServerAddr: '127.0.0.1:10912' }, topicConfigs(['T']));
    const slave = new SimulatedBroker([`tcp://${ns.address}`], { clusterName: 'C', brokerName: 'broker-m', brokerAddr: '127.0.0.2:10911', brokerId: 1 });
    cleanup.push(() => master.kill(), () => slave.kill());
    await master.register();
    const [answer] = await slave.register();
    expect(answer?.extFields).toEqual({ masterAddr: '127.0.0.1:10911', haServerAddr: '127.0.0.1:10912' });
    const [unchanged] = await master.queryDataVersion();
    expect(unchanged?.extFields.changed).toBe('false');
    master.dataVersion = { ...master.dataVersion, counter: master.dataVersion.counter + 1 };
    const [changed] = await master.queryDataVersion();
    expect(changed?.extFields.changed).toBe('true');
  });
});
