import { describe, expect, it } from 'vitest';
import { InvalidArgumentError } from '@karman/protocol';
import { RouteInfoManager } from './route-info-manager.js';
import type { BrokerConnection, BrokerRemoval, RegisterBrokerInput } from './route-info-manager.js';
import type { TopicConfig } from './route-data.js';

function topic(name: string, queues = 4, perm = 6): TopicConfig {
  return { topicName: name, readQueueNums: queues, writeQueueNums: queues, perm, topicSysFlag: 0, order: false };
}

function reg(overrides: Partial<RegisterBrokerInput> & Pick<RegisterBrokerInput, 'brokerName' | 'brokerAddr'>): RegisterBrokerInput {
  return {
    clusterName: 'DefaultCluster',
    brokerId: 0,
    haServerAddr: overrides.brokerAddr.replace(/:\d+$/, ':10912'),
    topicConfigs: [],
    dataVersion: { timestamp: 1, counter: 1 },
    ...overrides,
  };
}

class FakeClock {
  t = 1_000_000;
  now = (): number => this.t;
}

function fakeConnection(): BrokerConnection & { closedWith: string | undefined } {
  return {
    closedWith: undefined,
    close(reason?: string) {
      this.closedWith = reason ?? 'closed';
    },
  };
}

describe('RouteInfoManager registration', () => {
  it('builds the route of a master registration: queue data, broker data with id "0", cluster', () => {
    const routes = new RouteInfoManager();
    routes.registerBroker(reg({ brokerName: 'broker-a', brokerAddr: '10.0.0.1:10911', topicConfigs: [topic('T1', 8), topic('T2', 2, 4)] }));
    expect(routes.pickupTopicRouteData('T1')).toEqual({
      queueDatas: [{ brokerName: 'broker-a', readQueueNums: 8, writeQueueNums: 8, perm: 6, topicSysFlag: 0 }],
      brokerDatas: [{ cluster: 'DefaultCluster', brokerName: 'broker-a', brokerAddrs: { '0': '10.0.0.1:10911' } }],
      filterServerTable: {},
    });
    expect(routes.pickupTopicRouteData('T2')?.queueDatas[0]?.perm).toBe(4);
    expect(routes.getClusterInfo().clusterAddrTable).toEqual({ DefaultCluster: ['broker-a'] });
    expect(routes.getAllTopicList()).toEqual(['T1', 'T2']);
    expect(routes.pickupTopicRouteData('missing')).toBeUndefined();
  });

  it("ignores a slave's topic table and tells the slave its master's address and HA address", () => {
    const routes = new RouteInfoManager();
    routes.registerBroker(reg({ brokerName: 'broker-a', brokerAddr: '10.0.0.1:10911', haServerAddr: '10.0.0.1:10912', topicConfigs: [topic('T1', 4)] }));
    const answer = routes.registerBroker(reg({ brokerName: 'broker-a', brokerAddr: '10.0.0.2:10911', brokerId: 1, haServerAddr: '10.0.0.2:10912', topicConfigs: [topic('T1', 16), topic('SLAVE_ONLY')] }));
    expect(answer).toEqual({ masterAddr: '10.0.0.1:10911', haServerAddr: '10.0.0.1:10912' });
    expect(routes.pickupTopicRouteData('T1')?.queueDatas[0]?.readQueueNums).toBe(4);
    expect(routes.pickupTopicRouteData('SLAVE_ONLY')).toBeUndefined();
    expect(routes.pickupTopicRouteData('T1')?.brokerDatas[0]?.brokerAddrs).toEqual({ '0': '10.0.0.1:10911', '1': '10.0.0.2:10911' });
  });

  it('gives a slave registering before its master no master address', () => {
    const routes = new RouteInfoManager();
    expect(routes.registerBroker(reg({ brokerName: 'broker-a', brokerAddr: '10.0.0.2:10911', brokerId: 1 }))).toEqual({});
  });

  it("a slave promoted to master replaces its own id-1 entry with id 0 on the same address", () => {
    const routes = new RouteInfoManager();
    routes.registerBroker(reg({ brokerName: 'broker-a', brokerAddr: '10.0.0.1:10911', topicConfigs: [topic('T1')] }));
    routes.registerBroker(reg({ brokerName: 'broker-a', brokerAddr: '10.0.0.2:10911', brokerId: 1 }));
    // The master dies; the slave is switched to master and re-registers its address as id 0.
    routes.unregisterBroker({ clusterName: 'DefaultCluster', brokerName: 'broker-a', brokerAddr: '10.0.0.1:10911', brokerId: 0 });
    routes.registerBroker(reg({ brokerName: 'broker-a', brokerAddr: '10.0.0.2:10911', brokerId: 0, topicConfigs: [topic('T1', 6)], dataVersion: { timestamp: 2, counter: 5 } }));
    const route = routes.pickupTopicRouteData('T1')!;
    expect(route.brokerDatas[0]?.brokerAddrs).toEqual({ '0': '10.0.0.2:10911' });
    expect(route.queueDatas[0]?.readQueueNums).toBe(6);
  });

  it("a slave taking over the master's address replaces the master entry: one record per address", () => {
    const routes = new RouteInfoManager();
    routes.registerBroker(reg({ brokerName: 'broker-a', brokerAddr: '10.0.0.1:10911', topicConfigs: [topic('T1')] }));
    routes.registerBroker(reg({ brokerName: 'broker-a', brokerAddr: '10.0.0.1:10911', brokerId: 1 }));
    expect(routes.getClusterInfo().brokerAddrTable['broker-a']?.brokerAddrs).toEqual({ '1': '10.0.0.1:10911' });
    // The slave-only group keeps its queue data (consumers keep reading from the slave).
    expect(routes.pickupTopicRouteData('T1')?.queueDatas).toHaveLength(1);
  });

  it('a new address for the same id replaces the old address and forgets its liveness', () => {
    const routes = new RouteInfoManager();
    routes.registerBroker(reg({ brokerName: 'broker-a', brokerAddr: '10.0.0.1:10911' }));
    routes.registerBroker(reg({ brokerName: 'broker-a', brokerAddr: '10.0.0.9:10911' }));
    expect(routes.getClusterInfo().brokerAddrTable['broker-a']?.brokerAddrs).toEqual({ '0': '10.0.0.9:10911' });
    expect(routes.getBrokerLiveInfo('10.0.0.1:10911')).toBeUndefined();
    expect(routes.stats().liveBrokers).toBe(1);
  });

  it('an address re-registered under another broker name leaves the old name (no orphan entries)', () => {
    const routes = new RouteInfoManager();
    routes.registerBroker(reg({ brokerName: 'old-name', brokerAddr: '10.0.0.1:10911', topicConfigs: [topic('T1')] }));
    routes.registerBroker(reg({ brokerName: 'new-name', brokerAddr: '10.0.0.1:10911', topicConfigs: [topic('T2')] }));
    expect(Object.keys(routes.getClusterInfo().brokerAddrTable)).toEqual(['new-name']);
    expect(routes.getAllTopicList()).toEqual(['T2']);
  });

  it('rewrites queue data only when the master data version changes', () => {
    const routes = new RouteInfoManager();
    routes.registerBroker(reg({ brokerName: 'broker-a', brokerAddr: '10.0.0.1:10911', topicConfigs: [topic('T1', 4)], dataVersion: { timestamp: 1, counter: 1 } }));
    routes.wipeWritePermOfBroker('broker-a');
    // Same version: the body is not re-applied, so the wiped permission stays.
    routes.registerBroker(reg({ brokerName: 'broker-a', brokerAddr: '10.0.0.1:10911', topicConfigs: [topic('T1', 4)], dataVersion: { timestamp: 1, counter: 1 } }));
    expect(routes.pickupTopicRouteData('T1')?.queueDatas[0]?.perm).toBe(4);
    routes.registerBroker(reg({ brokerName: 'broker-a', brokerAddr: '10.0.0.1:10911', topicConfigs: [topic('T1', 4)], dataVersion: { timestamp: 1, counter: 2 } }));
    expect(routes.pickupTopicRouteData('T1')?.queueDatas[0]?.perm).toBe(6);
    expect(routes.isBrokerTopicConfigChanged('10.0.0.1:10911', { timestamp: 1, counter: 2 })).toBe(false);
    expect(routes.isBrokerTopicConfigChanged('10.0.0.1:10911', { timestamp: 1, counter: 3 })).toBe(true);
  });

  it('with deleteTopicsNotListed a changed master registration drops topics it no longer lists', () => {
    const routes = new RouteInfoManager();
    routes.registerBroker(reg({ brokerName: 'broker-a', brokerAddr: '10.0.0.1:10911', topicConfigs: [topic('T1'), topic('T2')] }));
    routes.registerBroker(reg({ brokerName: 'broker-b', brokerAddr: '10.0.0.2:10911', topicConfigs: [topic('T2')] }));
    routes.registerBroker(reg({ brokerName: 'broker-a', brokerAddr: '10.0.0.1:10911', topicConfigs: [topic('T1')], dataVersion: { timestamp: 2, counter: 2 }, deleteTopicsNotListed: true }));
    expect(routes.getAllTopicList()).toEqual(['T1', 'T2']);
    expect(routes.pickupTopicRouteData('T2')?.queueDatas.map((q) => q.brokerName)).toEqual(['broker-b']);
  });

  it('refuses bad names and addresses before changing anything', () => {
    const routes = new RouteInfoManager();
    const bad: Array<Partial<RegisterBrokerInput>> = [
      { brokerName: 'has space' },
      { brokerName: '' },
      { clusterName: 'c|d' },
      { brokerAddr: 'no-port' },
      { brokerAddr: '10.0.0.1:70000' },
      { brokerId: -1 },
      { topicConfigs: [topic('GOOD'), topic('bad topic')] },
      { topicConfigs: [topic('x'.repeat(128))] },
    ];
    for (const overrides of bad) {
      expect(() => routes.registerBroker({ ...reg({ brokerName: 'broker-a', brokerAddr: '10.0.0.1:10911' }), ...overrides })).toThrow(InvalidArgumentError);
    }
    expect(routes.stats()).toEqual({ clusters: 0, brokerNames: 0, liveBrokers: 0, topics: 0 });
  });

  it('moves a broker group to a new cluster without leaving it in the old one', () => {
    const routes = new RouteInfoManager();
    routes.registerBroker(reg({ brokerName: 'broker-a', brokerAddr: '10.0.0.1:10911', clusterName: 'C1' }));
    routes.registerBroker(reg({ brokerName: 'broker-a', brokerAddr: '10.0.0.1:10911', clusterName: 'C2' }));
    expect(routes.getClusterInfo().clusterAddrTable).toEqual({ C2: ['broker-a'] });
  });

  it('keeps and reports filter servers per broker address', () => {
    const routes = new RouteInfoManager();
    routes.registerBroker(reg({ brokerName: 'broker-a', brokerAddr: '10.0.0.1:10911', topicConfigs: [topic('T1')], filterServerList: ['10.0.0.1:7000'] }));
    expect(routes.pickupTopicRouteData('T1')?.filterServerTable).toEqual({ '10.0.0.1:10911': ['10.0.0.1:7000'] });
  });
});

describe('RouteInfoManager liveness and cascading removal', () => {
  function cluster(clock: FakeClock, removals: BrokerRemoval[] = []) {
    const routes = new RouteInfoManager({ now: clock.now, brokerExpiredMillis: 120_000, onBrokerRemoved: (r) => removals.push(r) });
    // C1: broker-a (master + slave) serving T1 and SHARED; broker-b (master) serving T2 and SHARED. C2: broker-c serving T3.
    routes.registerBroker(reg({ clusterName: 'C1', brokerName: 'broker-a', brokerAddr: '10.0.0.1:10911', topicConfigs: [topic('T1'), topic('SHARED')] }));
    routes.registerBroker(reg({ clusterName: 'C1', brokerName: 'broker-a', brokerAddr: '10.0.0.2:10911', brokerId: 1 }));
    routes.registerBroker(reg({ clusterName: 'C1', brokerName: 'broker-b', brokerAddr: '10.0.0.3:10911', topicConfigs: [topic('T2'), topic('SHARED')] }));
    routes.registerBroker(reg({ clusterName: 'C2', brokerName: 'broker-c', brokerAddr: '10.0.0.4:10911', topicConfigs: [topic('T3')] }));
    return routes;
  }

  it('expires a broker silent for longer than brokerExpiredMillis, and not a moment before', () => {
    const clock = new FakeClock();
    const routes = new RouteInfoManager({ now: clock.now, brokerExpiredMillis: 120_000 });
    const connection = fakeConnection();
    routes.registerBroker(reg({ brokerName: 'broker-a', brokerAddr: '10.0.0.1:10911', topicConfigs: [topic('T1')], connection }));
    clock.t += 120_000;
    expect(routes.scanNotActiveBrokers()).toEqual([]);
    clock.t += 1;
    expect(routes.scanNotActiveBrokers()).toEqual(['10.0.0.1:10911']);
    expect(connection.closedWith).toMatch(/sent nothing for 120001 ms/);
    expect(routes.pickupTopicRouteData('T1')).toBeUndefined();
    expect(routes.stats()).toEqual({ clusters: 0, brokerNames: 0, liveBrokers: 0, topics: 0 });
  });

  it('expiry leaves open a connection that still carries another live broker', () => {
    const clock = new FakeClock();
    const routes = new RouteInfoManager({ now: clock.now, brokerExpiredMillis: 1000 });
    const shared = fakeConnection();
    routes.registerBroker(reg({ brokerName: 'broker-a', brokerAddr: '10.0.0.1:10911', connection: shared }));
    clock.t += 600;
    routes.registerBroker(reg({ brokerName: 'broker-b', brokerAddr: '10.0.0.2:10911', connection: shared }));
    clock.t += 600;
    expect(routes.scanNotActiveBrokers()).toEqual(['10.0.0.1:10911']);
    expect(shared.closedWith).toBeUndefined();
    clock.t += 600;
    expect(routes.scanNotActiveBrokers()).toEqual(['10.0.0.2:10911']);
    expect(shared.closedWith).toMatch(/10\.0\.0\.2:10911 sent nothing/);
  });

  it('a re-registration or an unchanged data-version query keeps a broker alive', () => {
    const clock = new FakeClock();
    const routes = new RouteInfoManager({ now: clock.now, brokerExpiredMillis: 1000 });
    routes.registerBroker(reg({ brokerName: 'broker-a', brokerAddr: '10.0.0.1:10911', topicConfigs: [topic('T1')] }));
    clock.t += 900;
    routes.registerBroker(reg({ brokerName: 'broker-a', brokerAddr: '10.0.0.1:10911', topicConfigs: [topic('T1')] }));
    clock.t += 900;
    routes.updateBrokerInfoUpdateTimestamp('10.0.0.1:10911');
    clock.t += 900;
    expect(routes.scanNotActiveBrokers()).toEqual([]);
    expect(routes.getBrokerLiveInfo('10.0.0.1:10911')?.lastUpdateTimestamp).toBe(clock.t - 900);
  });

  it("uses a registration's own heartbeat timeout when it gives one (5.x)", () => {
    const clock = new FakeClock();
    const routes = new RouteInfoManager({ now: clock.now, brokerExpiredMillis: 120_000 });
    routes.registerBroker(reg({ brokerName: 'broker-a', brokerAddr: '10.0.0.1:10911', timeoutMillis: 10_000 }));
    clock.t += 10_001;
    expect(routes.scanNotActiveBrokers()).toEqual(['10.0.0.1:10911']);
  });

  it('removing a slave keeps the broker data, the queue data and the cluster', () => {
    const clock = new FakeClock();
    const routes = cluster(clock);
    routes.unregisterBroker({ clusterName: 'C1', brokerName: 'broker-a', brokerAddr: '10.0.0.2:10911', brokerId: 1 });
    expect(routes.getClusterInfo().brokerAddrTable['broker-a']?.brokerAddrs).toEqual({ '0': '10.0.0.1:10911' });
    expect(routes.pickupTopicRouteData('T1')?.queueDatas).toHaveLength(1);
    expect(routes.getBrokerLiveInfo('10.0.0.2:10911')).toBeUndefined();
  });

  it('removing only the master leaves a slave-only broker data whose topics stay routable', () => {
    const clock = new FakeClock();
    const removals: BrokerRemoval[] = [];
    const routes = cluster(clock, removals);
    routes.unregisterBroker({ clusterName: 'C1', brokerName: 'broker-a', brokerAddr: '10.0.0.1:10911', brokerId: 0 });
    const route = routes.pickupTopicRouteData('T1')!;
    expect(route.brokerDatas).toEqual([{ cluster: 'C1', brokerName: 'broker-a', brokerAddrs: { '1': '10.0.0.2:10911' } }]);
    expect(route.queueDatas).toHaveLength(1);
    expect(removals).toEqual([{ brokerAddr: '10.0.0.1:10911', brokerName: 'broker-a', clusterName: 'C1', reason: 'unregistered', brokerNameRemoved: false }]);
  });

  it('removing the last address of a broker name drops its queue data and only the topics left with none', () => {
    const clock = new FakeClock();
    const routes = cluster(clock);
    routes.unregisterBroker({ clusterName: 'C1', brokerName: 'broker-a', brokerAddr: '10.0.0.1:10911', brokerId: 0 });
    routes.unregisterBroker({ clusterName: 'C1', brokerName: 'broker-a', brokerAddr: '10.0.0.2:10911', brokerId: 1 });
    expect(routes.pickupTopicRouteData('T1')).toBeUndefined();
    expect(routes.getAllTopicList()).toEqual(['SHARED', 'T2', 'T3']);
    expect(routes.pickupTopicRouteData('SHARED')?.queueDatas.map((q) => q.brokerName)).toEqual(['broker-b']);
    expect(routes.getClusterInfo().clusterAddrTable).toEqual({ C1: ['broker-b'], C2: ['broker-c'] });
  });

  it('removing the last broker name of a cluster drops the cluster', () => {
    const clock = new FakeClock();
    const routes = cluster(clock);
    routes.unregisterBroker({ clusterName: 'C2', brokerName: 'broker-c', brokerAddr: '10.0.0.4:10911', brokerId: 0 });
    expect(routes.getClusterInfo().clusterAddrTable).toEqual({ C1: ['broker-a', 'broker-b'] });
    expect(routes.getTopicsByCluster('C2')).toEqual([]);
    expect(routes.pickupTopicRouteData('T3')).toBeUndefined();
  });

  it('a closed connection removes every address registered over it, at once, and nothing else', () => {
    const clock = new FakeClock();
    const routes = new RouteInfoManager({ now: clock.now });
    const connA = fakeConnection();
    const connB = fakeConnection();
    routes.registerBroker(reg({ brokerName: 'broker-a', brokerAddr: '10.0.0.1:10911', topicConfigs: [topic('T1')], connection: connA }));
    routes.registerBroker(reg({ brokerName: 'broker-b', brokerAddr: '10.0.0.2:10911', topicConfigs: [topic('T1')], connection: connB }));
    expect(routes.onConnectionClosed(connA)).toEqual(['10.0.0.1:10911']);
    expect(routes.pickupTopicRouteData('T1')?.brokerDatas.map((b) => b.brokerName)).toEqual(['broker-b']);
  });

  it('an old connection closing after the broker re-registered over a new one removes nothing', () => {
    const routes = new RouteInfoManager();
    const oldConnection = fakeConnection();
    routes.registerBroker(reg({ brokerName: 'broker-a', brokerAddr: '10.0.0.1:10911', connection: oldConnection }));
    routes.registerBroker(reg({ brokerName: 'broker-a', brokerAddr: '10.0.0.1:10911', connection: fakeConnection() }));
    expect(routes.onConnectionClosed(oldConnection)).toEqual([]);
    expect(routes.stats().liveBrokers).toBe(1);
  });

  it('an unregister naming the wrong broker still removes the address wherever it is', () => {
    const routes = cluster(new FakeClock());
    expect(routes.unregisterBroker({ clusterName: 'C1', brokerName: 'no-such-broker', brokerAddr: '10.0.0.4:10911', brokerId: 0 })).toBe(true);
    expect(routes.getClusterInfo().brokerAddrTable['broker-c']).toBeUndefined();
    expect(routes.unregisterBroker({ clusterName: 'C1', brokerName: 'broker-a', brokerAddr: '10.9.9.9:1', brokerId: 0 })).toBe(false);
  });
});

describe('RouteInfoManager administration', () => {
  it('wipes and restores write permission of one broker name', () => {
    const routes = new RouteInfoManager();
    routes.registerBroker(reg({ brokerName: 'broker-a', brokerAddr: '10.0.0.1:10911', topicConfigs: [topic('T1'), topic('T2')] }));
    routes.registerBroker(reg({ brokerName: 'broker-b', brokerAddr: '10.0.0.2:10911', topicConfigs: [topic('T1')] }));
    expect(routes.wipeWritePermOfBroker('broker-a')).toBe(2);
    expect(routes.pickupTopicRouteData('T1')?.queueDatas.map((q) => q.perm)).toEqual([4, 6]);
    expect(routes.addWritePermOfBroker('broker-a')).toBe(2);
    expect(routes.pickupTopicRouteData('T1')?.queueDatas.map((q) => q.perm)).toEqual([6, 6]);
    expect(routes.wipeWritePermOfBroker('unknown')).toBe(0);
  });

  it('deletes a topic everywhere or only on one cluster', () => {
    const routes = new RouteInfoManager();
    routes.registerBroker(reg({ clusterName: 'C1', brokerName: 'broker-a', brokerAddr: '10.0.0.1:10911', topicConfigs: [topic('T1')] }));
    routes.registerBroker(reg({ clusterName: 'C2', brokerName: 'broker-b', brokerAddr: '10.0.0.2:10911', topicConfigs: [topic('T1'), topic('T2')] }));
    expect(routes.deleteTopic('T1', 'C1')).toBe(true);
    expect(routes.pickupTopicRouteData('T1')?.queueDatas.map((q) => q.brokerName)).toEqual(['broker-b']);
    expect(routes.deleteTopic('T1')).toBe(true);
    expect(routes.pickupTopicRouteData('T1')).toBeUndefined();
    expect(routes.deleteTopic('T1')).toBe(false);
    expect(routes.getTopicsByCluster('C2')).toEqual(['T2']);
  });

  it('registers a topic only on broker names that are registered', () => {
    const routes = new RouteInfoManager();
    routes.registerBroker(reg({ brokerName: 'broker-a', brokerAddr: '10.0.0.1:10911' }));
    const applied = routes.registerTopic('NEW', [
      { brokerName: 'broker-a', readQueueNums: 3, writeQueueNums: 3, perm: 6, topicSysFlag: 0 },
      { brokerName: 'ghost', readQueueNums: 3, writeQueueNums: 3, perm: 6, topicSysFlag: 0 },
    ]);
    expect(applied).toBe(1);
    expect(routes.pickupTopicRouteData('NEW')?.queueDatas.map((q) => q.brokerName)).toEqual(['broker-a']);
    expect(() => routes.registerTopic('bad topic', [])).toThrow(/characters outside/);
  });

  it('serves names such as "__proto__" as ordinary entries', () => {
    const routes = new RouteInfoManager();
    routes.registerBroker(reg({ clusterName: '__proto__', brokerName: '__proto__', brokerAddr: '10.0.0.1:10911', topicConfigs: [topic('__proto__')] }));
    expect(JSON.parse(JSON.stringify(routes.getClusterInfo()))).toEqual(
      JSON.parse('{"brokerAddrTable":{"__proto__":{"cluster":"__proto__","brokerName":"__proto__","brokerAddrs":{"0":"10.0.0.1:10911"}}},"clusterAddrTable":{"__proto__":["__proto__"]}}'),
    );
    expect(routes.pickupTopicRouteData('__proto__')?.brokerDatas).toHaveLength(1);
  });

  it('returns copies: changing an answer does not change the tables', () => {
    const routes = new RouteInfoManager();
    routes.registerBroker(reg({ brokerName: 'broker-a', brokerAddr: '10.0.0.1:10911', topicConfigs: [topic('T1')] }));
    const route = routes.pickupTopicRouteData('T1')!;
    route.queueDatas[0]!.perm = 0;
    route.brokerDatas[0]!.brokerAddrs['0'] = 'x:1';
    expect(routes.pickupTopicRouteData('T1')).toMatchObject({ queueDatas: [{ perm: 6 }], brokerDatas: [{ brokerAddrs: { '0': '10.0.0.1:10911' } }] });
  });
});
