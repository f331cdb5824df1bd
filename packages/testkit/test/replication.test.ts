/**
 * Master/slave replication, in-process: a master and its slave from
 * `startCluster`, talking over real sockets. The slave learns its master from the nameserver.
 */
import { describe, expect, it } from 'vitest';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Broker } from '@karman/broker';
import type { BrokerOptions } from '@karman/broker';
import { RemotingClient, RequestCode, ResponseCode, createRequest, decodeRecords } from '@karman/protocol';
import type { RemotingCommand } from '@karman/protocol';
import { startCluster, uniqueName } from '../src/index.js';
import type { TestCluster } from '../src/index.js';

/** Intervals in milliseconds so the scenarios run in seconds, not minutes. */
const fast: BrokerOptions = {
  registerNameServerPeriod: 300,
  haSendHeartbeatInterval: 200,
  haReconnectInterval: 50,
  slaveSyncInterval: 200,
  slaveTimeout: 2_000,
};

async function pair(master: BrokerOptions = {}, slave: BrokerOptions = {}): Promise<TestCluster> {
  return startCluster({
    brokers: [
      { brokerName: 'broker-a', options: { ...fast, ...master } },
      { brokerName: 'broker-a', brokerId: 1, options: { ...fast, ...slave } },
    ],
  });
}

async function waitFor(what: string, check: () => boolean | Promise<boolean>, timeoutMillis = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMillis;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

const clients: RemotingClient[] = [];
function client(address: string): RemotingClient {
  const c = new RemotingClient(`tcp://${address}`, { reconnect: false });
  clients.push(c);
  return c;
}
async function closeClients(): Promise<void> {
  await Promise.all(clients.splice(0).map((c) => c.close()));
}

/**
 * A group's offset committed on the master (5) and copied to the slave, the master stopped, and
 * the group committing 9 on the slave meanwhile: where a master that returns has to be caught up.
 */
async function committedOnSlaveWhileMasterDown(cluster: TestCluster): Promise<{ slave: Broker; group: string; topic: string }> {
  const topic = uniqueName('T');
  const group = uniqueName('G');
  await cluster.createTopic(topic, { queues: 1 });
  const slave = cluster.broker('broker-a', 1);
  await client(cluster.broker('broker-a').address).request(createRequest(RequestCode.UPDATE_CONSUMER_OFFSET.code, { consumerGroup: group, topic, queueId: 0, commitOffset: 5 }));
  await waitFor('the slave to copy the offset', () => slave.context.offsets.query(group, topic, 0) === 5);
  await cluster.stopBroker('broker-a');
  const committed = await client(slave.address).request(createRequest(RequestCode.UPDATE_CONSUMER_OFFSET.code, { consumerGroup: group, topic, queueId: 0, commitOffset: 9 }));
  expect(committed.code).toBe(ResponseCode.SUCCESS.code);
  return { slave, group, topic };
}

function send(c: RemotingClient, topic: string, queueId: number, body: Buffer): Promise<RemotingCommand> {
  return c.request(
    createRequest(
      RequestCode.SEND_MESSAGE.code,
      { producerGroup: 'pg', topic, defaultTopic: 'TBW102', defaultTopicQueueNums: 4, queueId, sysFlag: 0, bornTimestamp: Date.now(), flag: 0 },
      body,
    ),
  );
}

/** The whole commit log of a broker from `from` to its end, as the store reads it. */
async function commitLog(broker: Broker, from: number): Promise<Buffer> {
  const parts: Buffer[] = [];
  for (let at = from; ; ) {
    const chunk = await broker.context.store.readReplicationChunk(at, 1 << 20);
    if (!chunk) return Buffer.concat(parts);
    parts.push(chunk.data);
    at = chunk.end;
  }
}

async function queueBytes(broker: Broker, topic: string, queueId: number): Promise<Buffer> {
  const store = broker.context.store;
  const parts: Buffer[] = [];
  for (let offset = store.getMinOffsetInQueue(topic, queueId); offset < store.getMaxOffsetInQueue(topic, queueId); ) {
    const r = await store.getMessage({ topic, queueId, offset, maxCount: 32 });
    parts.push(...r.buffers);
    offset = r.nextBeginOffset;
  }
  return Buffer.concat(parts);
}

describe('master/slave replication', () => {
  it('ships the log byte for byte: the slave reads the same records from its own queues and index', async () => {
    await using cluster = await pair({ haReplicateFromZero: true });
    const topic = uniqueName('T');
    await cluster.createTopic(topic, { queues: 2 });
    const master = cluster.broker('broker-a');
    const slave = cluster.broker('broker-a', 1);
    const c = client(master.address);
    try {
      for (let i = 0; i < 200; i++) expect((await send(c, topic, i % 2, Buffer.from(`message ${i} `.padEnd(300 + i, '*')))).code).toBe(ResponseCode.SUCCESS.code);
      await waitFor('the slave to catch up', () => slave.context.store.maxPhyOffset === master.context.store.maxPhyOffset);
      expect(slave.context.store.minPhyOffset).toBe(0);
      expect((await commitLog(slave, 0)).equals(await commitLog(master, 0))).toBe(true);
      for (const q of [0, 1]) {
        expect(slave.context.store.getMaxOffsetInQueue(topic, q)).toBe(100);
        expect((await queueBytes(slave, topic, q)).equals(await queueBytes(master, topic, q))).toBe(true);
      }
      const records = decodeRecords(await queueBytes(slave, topic, 1));
      expect(records.map((r) => r.body.toString().split(' ')[1])).toEqual(Array.from({ length: 100 }, (_, i) => String(2 * i + 1)));
      const info = await c.request(createRequest(RequestCode.GET_BROKER_RUNTIME_INFO.code));
      const table = (JSON.parse(Buffer.from(info.body ?? []).toString()) as { table: Record<string, string> }).table;
      expect(table.karmanReplicationSlaveCount).toBe('1');
      expect(table.karmanReplicationLagBytes).toBe('0');
      expect(JSON.parse(table.karmanReplicationSlaves ?? '[]')).toMatchObject([{ slaveAddr: slave.address, brokerId: 1, ackOffset: master.context.store.maxPhyOffset }]);
    } finally {
      await closeClients();
    }
  });

  it('starts an empty slave at the beginning of the master\'s last segment', async () => {
    await using cluster = await startCluster({
      brokers: [{ brokerName: 'broker-a', options: { ...fast, mappedFileSizeCommitLog: 64 * 1024 } }],
    });
    const topic = uniqueName('T');
    await cluster.createTopic(topic, { queues: 1 });
    const master = cluster.broker('broker-a');
    const c = client(master.address);
    try {
      for (let i = 0; i < 100; i++) await send(c, topic, 0, Buffer.alloc(2000, i));
      const lastSegment = master.context.store.maxPhyOffset - (master.context.store.maxPhyOffset % (64 * 1024));
      expect(lastSegment).toBeGreaterThan(0);
      await using fresh = await startSlave(master.address, { mappedFileSizeCommitLog: 64 * 1024 });
      const slave = fresh.broker;
      await waitFor('the slave to catch up', () => slave.context.store.maxPhyOffset === master.context.store.maxPhyOffset);
      expect(slave.context.store.minPhyOffset).toBe(lastSegment);
      expect((await commitLog(slave, lastSegment)).equals(await commitLog(master, lastSegment))).toBe(true);
    } finally {
      await closeClients();
    }
  });

  it('resumes a slave restarted mid-stream from its own offset, without gaps or duplicates', async () => {
    await using cluster = await pair({ haReplicateFromZero: true });
    const topic = uniqueName('T');
    await cluster.createTopic(topic, { queues: 4 });
    const master = cluster.broker('broker-a');
    const c = client(master.address);
    try {
      let sent = 0;
      let stop = false;
      const load = (async () => {
        while (!stop) {
          const r = await send(c, topic, sent % 4, Buffer.from(`load ${sent}`.padEnd(500, '.')));
          expect(r.code).toBe(ResponseCode.SUCCESS.code);
          sent++;
        }
      })();
      await waitFor('some replication', () => (cluster.broker('broker-a', 1).context.store.maxPhyOffset ?? 0) > 20_000);
      await cluster.stopBroker('broker-a', 1);
      const sentWhileDown = sent;
      await waitFor('more sends while the slave is down', () => sent > sentWhileDown + 50);
      const slave = await cluster.startBroker('broker-a', 1);
      await waitFor('more sends after the restart', () => sent > sentWhileDown + 150);
      stop = true;
      await load;
      await waitFor('the slave to catch up', () => slave.context.store.maxPhyOffset === master.context.store.maxPhyOffset);
      expect((await commitLog(slave, 0)).equals(await commitLog(master, 0))).toBe(true);
      let total = 0;
      for (let q = 0; q < 4; q++) {
        const records = decodeRecords(await queueBytes(slave, topic, q));
        expect(records.map((r) => r.queueOffset)).toEqual(records.map((_, i) => i));
        total += records.length;
      }
      expect(total).toBe(sent);
    } finally {
      await closeClients();
    }
  });

  it('reconnects on its own when the master restarts, and copies what the master took meanwhile', async () => {
    await using cluster = await pair({ haReplicateFromZero: true });
    const topic = uniqueName('T');
    await cluster.createTopic(topic, { queues: 1 });
    const slave = cluster.broker('broker-a', 1);
    try {
      for (let i = 0; i < 10; i++) await send(client(cluster.broker('broker-a').address), topic, 0, Buffer.from(`before ${i}`));
      await waitFor('the first copy', () => slave.context.store.getMaxOffsetInQueue(topic, 0) === 10);
      await cluster.stopBroker('broker-a');
      await waitFor('the slave to notice', () => slave.context.replication?.master?.()?.connected === false);
      const master = await cluster.startBroker('broker-a');
      await cluster.waitForRoute(topic, ['broker-a']);
      const c = client(master.address);
      for (let i = 0; i < 10; i++) expect((await send(c, topic, 0, Buffer.from(`after ${i}`))).code).toBe(ResponseCode.SUCCESS.code);
      await waitFor('the slave to catch up', () => slave.context.store.maxPhyOffset === master.context.store.maxPhyOffset);
      expect((await commitLog(slave, 0)).equals(await commitLog(master, 0))).toBe(true);
      expect(slave.context.replication?.master?.()).toMatchObject({ masterAddr: master.address, connected: true, lagBytes: 0 });
    } finally {
      await closeClients();
    }
  });

  it('closes a slave connection silent for haHousekeepingInterval', async () => {
    await using cluster = await startCluster({ brokers: [{ brokerName: 'broker-a', options: { ...fast, haHousekeepingInterval: 300 } }] });
    const master = cluster.broker('broker-a');
    const silent = client(master.address);
    try {
      const closed = new Promise<void>((resolve) => silent.on('disconnect', () => resolve()));
      await silent.request(createRequest(10001, { slaveOffset: String(master.context.store.maxPhyOffset), brokerName: 'broker-a', brokerId: '1', slaveAddr: 'silent' }));
      expect(master.context.replication?.slaves()).toHaveLength(1);
      await closed;
      expect(master.context.replication?.slaves()).toHaveLength(0);
    } finally {
      await closeClients();
    }
  });

  it('SYNC_MASTER acknowledges once the slave has the bytes, and SLAVE_NOT_AVAILABLE at once without a slave', async () => {
    await using cluster = await pair({ brokerRole: 'SYNC_MASTER' });
    const topic = uniqueName('T');
    await cluster.createTopic(topic, { queues: 1 });
    const master = cluster.broker('broker-a');
    const slave = cluster.broker('broker-a', 1);
    const c = client(master.address);
    try {
      await waitFor('the slave to connect', () => master.context.replication?.slaves().length === 1);
      for (let i = 0; i < 20; i++) {
        const r = await send(c, topic, 0, Buffer.from(`sync ${i}`));
        expect(r.code).toBe(ResponseCode.SUCCESS.code);
        // Acknowledged means the slave holds it: its log already reaches the message's end.
        expect(slave.context.store.maxPhyOffset).toBeGreaterThanOrEqual(master.context.store.maxPhyOffset);
      }
      await cluster.stopBroker('broker-a', 1);
      await waitFor('the master to drop the slave', () => master.context.replication?.slaves().length === 0);
      const started = Date.now();
      const r = await send(c, topic, 0, Buffer.from('no slave'));
      expect(r.code).toBe(ResponseCode.SLAVE_NOT_AVAILABLE.code);
      expect(Date.now() - started).toBeLessThan(1_000); // at once, not after slaveTimeout (2 s here)
      expect(r.extFields.msgId).toBeTruthy(); // still stored on the master
      expect(master.context.store.getMaxOffsetInQueue(topic, 0)).toBe(21);
      // The slave comes back, copies what it missed, and sends are acknowledged again.
      await cluster.startBroker('broker-a', 1);
      await waitFor('the slave to catch up', () => cluster.broker('broker-a', 1).context.store.maxPhyOffset === master.context.store.maxPhyOffset);
      expect((await send(c, topic, 0, Buffer.from('back'))).code).toBe(ResponseCode.SUCCESS.code);
    } finally {
      await closeClients();
    }
  });

  it('SYNC_MASTER answers FLUSH_SLAVE_TIMEOUT when the slave does not confirm in time, and SLAVE_NOT_AVAILABLE when it is too far behind', async () => {
    await using cluster = await startCluster({ brokers: [{ brokerName: 'broker-a', options: { ...fast, brokerRole: 'SYNC_MASTER', slaveTimeout: 300, haSlaveFallbehindMax: 4096 } }] });
    const topic = uniqueName('T');
    await cluster.createTopic(topic, { queues: 1 });
    const master = cluster.broker('broker-a');
    const c = client(master.address);
    // A slave at the edge of the test: it reports the master's end once, then never again.
    const silent = client(master.address);
    try {
      const report = await silent.request(
        createRequest(10001, { slaveOffset: String(master.context.store.maxPhyOffset), brokerName: 'broker-a', brokerId: '1', slaveAddr: 'silent' }),
      );
      expect(report.code).toBe(ResponseCode.SUCCESS.code);
      expect(master.context.replication?.slaves()).toMatchObject([{ slaveAddr: 'silent' }]);
      const started = Date.now();
      const late = await send(c, topic, 0, Buffer.from('unconfirmed'));
      expect(late.code).toBe(ResponseCode.FLUSH_SLAVE_TIMEOUT.code);
      expect(Date.now() - started).toBeGreaterThanOrEqual(250);
      expect(master.context.store.getMaxOffsetInQueue(topic, 0)).toBe(1);
      const far = await send(c, topic, 0, Buffer.alloc(8192, 1));
      expect(far.code).toBe(ResponseCode.SLAVE_NOT_AVAILABLE.code);
      expect(master.context.store.getMaxOffsetInQueue(topic, 0)).toBe(2);
    } finally {
      await closeClients();
    }
  });

  it('keeps the slave read-only but lets consumers pull from it, and copies the master\'s metadata', async () => {
    await using cluster = await pair({}, { slaveReadEnable: true });
    const topic = uniqueName('T');
    const group = uniqueName('G');
    await cluster.createTopic(topic, { queues: 1 });
    const master = cluster.broker('broker-a');
    const slave = cluster.broker('broker-a', 1);
    const toMaster = client(master.address);
    const toSlave = client(slave.address);
    try {
      const refused = await send(toSlave, topic, 0, Buffer.from('to the slave'));
      expect(refused.code).toBe(ResponseCode.SERVICE_NOT_AVAILABLE.code);
      expect(refused.remark).toMatch(/slave/);
      for (let i = 0; i < 5; i++) await send(toMaster, topic, 0, Buffer.from(`m${i}`));
      await toMaster.request(createRequest(RequestCode.UPDATE_AND_CREATE_SUBSCRIPTIONGROUP.code, {}, Buffer.from(JSON.stringify({ groupName: group, consumeBroadcastEnable: true }))));
      await toMaster.request(createRequest(RequestCode.UPDATE_CONSUMER_OFFSET.code, { consumerGroup: group, topic, queueId: 0, commitOffset: 3 }));
      await waitFor('the slave to copy the log', () => slave.context.store.getMaxOffsetInQueue(topic, 0) === 5);
      // Topic configs reach a slave through metadata sync, not the log: it answers pulls once it has them.
      await waitFor('the slave to copy the topic', () => slave.context.topics.get(topic) !== undefined);
      const pulled = await toSlave.request(
        createRequest(RequestCode.PULL_MESSAGE.code, { consumerGroup: group, topic, queueId: 0, queueOffset: 3, maxMsgNums: 32, sysFlag: 4, commitOffset: 0, suspendTimeoutMillis: 0, subVersion: 0, subscription: '*', expressionType: 'TAG' }),
      );
      expect(pulled.code).toBe(ResponseCode.SUCCESS.code);
      expect(decodeRecords(Buffer.from(pulled.body ?? [])).map((r) => r.body.toString())).toEqual(['m3', 'm4']);
      await waitFor('the slave to copy offsets, groups and topics', () => slave.context.offsets.query(group, topic, 0) === 3 && slave.context.groups.get(group) !== undefined);
      expect(slave.context.groups.get(group)?.consumeBroadcastEnable).toBe(true);
      expect(slave.context.topics.get(topic)?.readQueueNums).toBe(1);
      const delays = await toMaster.request(createRequest(RequestCode.GET_ALL_DELAY_OFFSET.code));
      expect(JSON.parse(Buffer.from(delays.body ?? []).toString())).toMatchObject({ offsetTable: { '1': 0 } });
    } finally {
      await closeClients();
    }
  });

  it('copies the master\'s delay-level progress to the slave, which answers it and keeps it across a restart (SlaveSynchronize.syncDelayOffset)', async () => {
    const levels = { messageDelayLevel: '50ms 100ms' };
    await using cluster = await pair(levels, levels);
    const topic = uniqueName('T');
    await cluster.createTopic(topic, { queues: 1 });
    const master = cluster.broker('broker-a');
    const toMaster = client(master.address);
    const delayOffsets = async (address: string): Promise<unknown> => {
      const answer = await client(address).request(createRequest(RequestCode.GET_ALL_DELAY_OFFSET.code));
      return JSON.parse(Buffer.from(answer.body ?? []).toString()).offsetTable;
    };
    try {
      const delayed = { producerGroup: 'pg', topic, defaultTopic: 'TBW102', defaultTopicQueueNums: 4, queueId: 0, sysFlag: 0, bornTimestamp: Date.now(), flag: 0 };
      for (let i = 0; i < 3; i++) {
        const sent = await toMaster.request(createRequest(RequestCode.SEND_MESSAGE.code, { ...delayed, properties: 'DELAY\u00011\u0002' }, Buffer.from(`d${i}`)));
        expect(sent.code).toBe(ResponseCode.SUCCESS.code);
      }
      await waitFor('the master to deliver the 3 delayed messages', () => master.context.store.getMaxOffsetInQueue(topic, 0) === 3);
      await waitFor('the master to count level 1 delivered', async () => JSON.stringify(await delayOffsets(master.address)) === JSON.stringify({ '1': 3, '2': 0 }));
      // The slave's own answer, not only its file, follows the master's.
      await waitFor('the slave to answer the master\'s delay progress', async () => JSON.stringify(await delayOffsets(cluster.broker('broker-a', 1).address)) === JSON.stringify({ '1': 3, '2': 0 }));
      await cluster.stopBroker('broker-a', 1);
      await cluster.stopBroker('broker-a');
      const slave = await cluster.startBroker('broker-a', 1);
      expect(await delayOffsets(slave.context.brokerAddr)).toEqual({ '1': 3, '2': 0 });
    } finally {
      await closeClients();
    }
  });

  it('hands offsets committed to the slave while the master was down back to the master when it returns', async () => {
    await using cluster = await pair();
    try {
      const { slave, group, topic } = await committedOnSlaveWhileMasterDown(cluster);
      const master = await cluster.startBroker('broker-a');
      await waitFor('the master to get the offset back', () => master.context.offsets.query(group, topic, 0) === 9);
      await new Promise((r) => setTimeout(r, 500)); // a few more sync rounds: the slave keeps 9 as well
      expect(slave.context.offsets.query(group, topic, 0)).toBe(9);
    } finally {
      await closeClients();
    }
  });

  it.each([
    ['a consumer commits further on the returned master', 12],
    ['an operator resets the offset back on the returned master', 2],
  ])('never rewinds the master with an offset from the slave when %s', async (_what, onMaster) => {
    // A slow sync round, so the master's new offset lands before the slave's next round.
    await using cluster = await pair({}, { slaveSyncInterval: 1_500 });
    try {
      const { slave, group, topic } = await committedOnSlaveWhileMasterDown(cluster);
      const master = await cluster.startBroker('broker-a');
      const moved = await client(master.address).request(createRequest(RequestCode.UPDATE_CONSUMER_OFFSET.code, { consumerGroup: group, topic, queueId: 0, commitOffset: onMaster }));
      expect(moved.code).toBe(ResponseCode.SUCCESS.code);
      // Two sync rounds: the slave's 9 must not overwrite what the master has now.
      await waitFor('the slave to copy the master again', () => slave.context.offsets.query(group, topic, 0) === onMaster, 8_000);
      expect(master.context.offsets.query(group, topic, 0)).toBe(onMaster);
    } finally {
      await closeClients();
    }
  });

  it('suggests the slave to a consumer reading further behind than the memory rule allows', async () => {
    // 40 % of 64 KiB: a pull more than ~26 KiB behind the log's end is sent to broker id 1.
    await using cluster = await pair({ slaveReadEnable: true, physicalMemoryBytes: 64 * 1024 });
    const topic = uniqueName('T');
    await cluster.createTopic(topic, { queues: 1 });
    const c = client(cluster.broker('broker-a').address);
    try {
      for (let i = 0; i < 60; i++) await send(c, topic, 0, Buffer.alloc(1024, i));
      const pull = (queueOffset: number) =>
        c.request(
          createRequest(RequestCode.PULL_MESSAGE.code, { consumerGroup: 'g', topic, queueId: 0, queueOffset, maxMsgNums: 1, sysFlag: 4, commitOffset: 0, suspendTimeoutMillis: 0, subVersion: 0, subscription: '*', expressionType: 'TAG' }),
        );
      expect((await pull(0)).extFields.suggestWhichBrokerId).toBe('1');
      expect((await pull(59)).extFields.suggestWhichBrokerId).toBe('0');
    } finally {
      await closeClients();
    }
  });
});

/** A slave of `masterAddress` outside the cluster's specs (configured address, no nameserver); disposing removes its store. */
async function startSlave(masterAddress: string, options: BrokerOptions): Promise<{ broker: Broker } & AsyncDisposable> {
  const dir = mkdtempSync(join(tmpdir(), 'karman-slave-'));
  const broker = await Broker.start({
    ...fast,
    listenHost: '127.0.0.1',
    listenPort: 0,
    storePathRootDir: dir,
    brokerName: 'broker-a',
    brokerId: 1,
    brokerRole: 'SLAVE',
    haMasterAddress: masterAddress,
    cleanResourceInterval: 0,
    logger: () => {},
    ...options,
  });
  return {
    broker,
    async [Symbol.asyncDispose]() {
      await broker.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
