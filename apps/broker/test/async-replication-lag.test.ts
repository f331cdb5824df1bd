/**
 * An ASYNC_MASTER and its SLAVE as real processes. The lag is made observable without timing luck: the slave
 * is frozen with SIGSTOP, so it cannot report any offset, while the master acknowledges sends
 * after its own write. The master's runtime info must then show exactly the bytes written since
 * the slave's last report. After SIGCONT the slave catches up. The lag returns to 0, both commit
 * logs end at the same offset, and every message reads back from the slave byte for byte as the
 * master stored it.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { RemotingClient, RequestCode, ResponseCode, createRequest, decodeOffsetMessageId, decodeRecord } from '@karman/protocol';
import { SMALL_STORE, runBroker, waitForLine } from './process-harness.js';
import type { RunningBroker } from './process-harness.js';

const TOPIC = 'AsyncReplicatedTopic';
const QUEUES = 4;
const MESSAGES = 200;

async function runtimeInfo(client: RemotingClient): Promise<Record<string, string>> {
  const response = await client.request(createRequest(RequestCode.GET_BROKER_RUNTIME_INFO.code));
  expect(response.code).toBe(ResponseCode.SUCCESS.code);
  return (JSON.parse(Buffer.from(response.body ?? []).toString('utf8')) as { table: Record<string, string> }).table;
}

async function waitFor(what: string, check: () => Promise<boolean>, timeoutMillis = 15_000): Promise<void> {
  const deadline = Date.now() + timeoutMillis;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

async function viewMessage(client: RemotingClient, physicalOffset: number): Promise<Buffer> {
  const response = await client.request(createRequest(RequestCode.VIEW_MESSAGE_BY_ID.code, { offset: physicalOffset }));
  if (response.code !== ResponseCode.SUCCESS.code) throw new Error(`VIEW_MESSAGE_BY_ID ${physicalOffset} answered ${response.code} ${response.remark ?? ''}`);
  return Buffer.from(response.body ?? []);
}

describe('karman-broker ASYNC_MASTER and SLAVE', () => {
  let dir: string;
  const running: RunningBroker[] = [];
  const clients: RemotingClient[] = [];
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'karman-ha-async-'));
  });
  afterEach(async () => {
    await Promise.all(clients.splice(0).map((c) => c.close()));
    // SIGKILL also ends a process that a failed assertion left stopped (SIGTERM would wait for SIGCONT).
    for (const r of running.splice(0)) if (r.child.exitCode === null && r.child.signalCode === null) r.child.kill('SIGKILL');
    await rm(dir, { recursive: true, force: true });
  });

  it('shows the lag of a stopped slave, then converges byte for byte once it runs again', { timeout: 40_000 }, async () => {
    // The frozen slave must stay a connected slave on the master: the pause (well under a second
    // of sends) is far below haHousekeepingInterval, kept at its 20 s default on both sides.
    const ha = ['--set', 'haSendHeartbeatInterval=500', '--set', 'haReconnectInterval=100', '--set', 'slaveSyncInterval=500'];
    const master = runBroker(['--listen', '127.0.0.1:0', '--role', 'ASYNC_MASTER', '--store', join(dir, 'master'), ...SMALL_STORE, ...ha]);
    running.push(master);
    const masterPort = (await waitForLine(master, 'karman-broker listening')).port as number;
    const slave = runBroker(['--listen', '127.0.0.1:0', '--role', 'SLAVE', '--broker-id', '1', '--store', join(dir, 'slave'), '--set', `haMasterAddress=127.0.0.1:${masterPort}`, ...SMALL_STORE, ...ha]);
    running.push(slave);
    const slavePort = (await waitForLine(slave, 'karman-broker listening')).port as number;

    const toMaster = new RemotingClient(`tcp://127.0.0.1:${masterPort}`, { reconnect: false });
    const toSlave = new RemotingClient(`tcp://127.0.0.1:${slavePort}`, { reconnect: false });
    clients.push(toMaster, toSlave);
    const created = await toMaster.request(
      createRequest(RequestCode.UPDATE_AND_CREATE_TOPIC.code, { topic: TOPIC, defaultTopic: 'TBW102', readQueueNums: QUEUES, writeQueueNums: QUEUES, perm: 6, topicFilterType: 'SINGLE_TAG', order: false }),
    );
    expect(created.code).toBe(ResponseCode.SUCCESS.code);

    const send = async (body: string, queueId: number): Promise<string> => {
      const response = await toMaster.request(
        createRequest(RequestCode.SEND_MESSAGE_V2.code, { a: 'HaAsyncProducer', b: TOPIC, c: 'TBW102', d: QUEUES, e: queueId, f: 0, g: Date.now(), h: 0, i: '', j: 0, k: false }, Buffer.from(body)),
      );
      // ASYNC_MASTER acknowledges after its own write, whatever the slave is doing.
      expect(response.code, `send of ${body}: ${response.remark ?? ''}`).toBe(ResponseCode.SUCCESS.code);
      return String(response.extFields.msgId);
    };

    // A first message, copied and confirmed: the slave's last report is then the master's end.
    const firstId = await send('before-the-pause', 0);
    await waitFor('the slave to connect and confirm the first message', async () => {
      const info = await runtimeInfo(toMaster);
      return info.karmanReplicationSlaveCount === '1' && info.karmanReplicationLagBytes === '0';
    });
    const confirmedEnd = Number((await runtimeInfo(toMaster)).commitLogMaxOffset);
    expect(confirmedEnd).toBeGreaterThan(0);

    slave.child.kill('SIGSTOP');
    const sent: { msgId: string; body: string }[] = [{ msgId: firstId, body: 'before-the-pause' }];
    const padding = 'z'.repeat(300);
    for (let i = 0; i < MESSAGES; i++) {
      const body = `during-the-pause-${i}-${padding}`;
      sent.push({ msgId: await send(body, i % QUEUES), body });
    }

    // The frozen slave reported nothing: its lag is every byte written since `confirmedEnd`.
    const paused = await runtimeInfo(toMaster);
    const masterEnd = Number(paused.commitLogMaxOffset);
    expect(masterEnd).toBeGreaterThan(confirmedEnd);
    expect(paused.karmanReplicationSlaveCount).toBe('1');
    expect(Number(paused.karmanReplicationLagBytes)).toBe(masterEnd - confirmedEnd);
    // The oldest unconfirmed byte was written before the 200 acknowledged round trips that followed it.
    expect(Number(paused.karmanReplicationLagSeconds)).toBeGreaterThan(0);
    const slaves = JSON.parse(paused.karmanReplicationSlaves ?? '[]') as Array<{ brokerId: number; ackOffset: number; lagBytes: number }>;
    expect(slaves).toEqual([expect.objectContaining({ brokerId: 1, ackOffset: confirmedEnd, lagBytes: masterEnd - confirmedEnd })]);

    slave.child.kill('SIGCONT');
    await waitFor('the master to see the slave caught up', async () => {
      const info = await runtimeInfo(toMaster);
      return info.karmanReplicationLagBytes === '0' && info.karmanReplicationLagSeconds === '0';
    });
    const slaveInfo = await runtimeInfo(toSlave);
    expect(slaveInfo.commitLogMaxOffset).toBe(String(masterEnd));
    expect(slaveInfo.karmanReplicationLagBytes).toBe('0');
    expect(slaveInfo.karmanReplicationConnected).toBe('true');

    // Every message: the slave's stored record is the master's, byte for byte, and holds the body sent.
    for (const message of sent) {
      const { physicalOffset } = decodeOffsetMessageId(message.msgId);
      const fromSlave = await viewMessage(toSlave, physicalOffset);
      expect(fromSlave.equals(await viewMessage(toMaster, physicalOffset)), `record at ${physicalOffset} differs between slave and master`).toBe(true);
      const decoded = decodeRecord(fromSlave, 0, { checkCrc: true });
      expect(decoded.kind).toBe('record');
      if (decoded.kind !== 'record') continue;
      expect(Buffer.from(decoded.record.body).toString()).toBe(message.body);
      expect(decoded.record.physicalOffset).toBe(physicalOffset);
    }

    for (const r of [master, slave]) r.child.kill('SIGTERM');
    expect((await master.exited).code).toBe(0);
    expect((await slave.exited).code).toBe(0);
  });
});
