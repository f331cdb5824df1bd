/**
 * Replication end to end with real processes: a SYNC_MASTER karman-broker
 * and its SLAVE under load from concurrent senders; the master is killed with SIGKILL mid-stream.
 * Every message the master acknowledged with SUCCESS must be readable from the slave, byte for
 * byte, at the same physical offset (the message id's offset names the same record on both).
 * The master then restarts on its store and the slave resumes copying from it.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { RemotingClient, RequestCode, ResponseCode, createRequest, decodeOffsetMessageId, decodeRecord } from '@karman/protocol';
import { SMALL_STORE, runBroker, waitForLine } from './process-harness.js';
import type { RunningBroker } from './process-harness.js';

const TOPIC = 'ReplicatedTopic';
const QUEUES = 4;
const LOOPS = 16;

interface Acked {
  msgId: string;
  body: string;
}

async function runtimeInfo(client: RemotingClient): Promise<Record<string, string>> {
  const response = await client.request(createRequest(RequestCode.GET_BROKER_RUNTIME_INFO.code));
  return (JSON.parse(Buffer.from(response.body ?? []).toString('utf8')) as { table: Record<string, string> }).table;
}

async function waitFor(what: string, check: () => Promise<boolean>, timeoutMillis = 15_000): Promise<void> {
  const deadline = Date.now() + timeoutMillis;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

describe('karman-broker SYNC_MASTER and SLAVE under SIGKILL', () => {
  let dir: string;
  const running: RunningBroker[] = [];
  const clients: RemotingClient[] = [];
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'karman-ha-kill-'));
  });
  afterEach(async () => {
    await Promise.all(clients.splice(0).map((c) => c.close()));
    for (const r of running.splice(0)) if (r.child.exitCode === null && r.child.signalCode === null) r.child.kill('SIGKILL');
    await rm(dir, { recursive: true, force: true });
  });

  it('keeps every acknowledged message on the slave when the master is killed, and resumes when it returns', { timeout: 60_000 }, async () => {
    const ha = ['--set', 'haSendHeartbeatInterval=500', '--set', 'haReconnectInterval=100', '--set', 'slaveSyncInterval=500'];
    const masterArgs = (port: number) => ['--listen', `127.0.0.1:${port}`, '--role', 'SYNC_MASTER', '--store', join(dir, 'master'), ...SMALL_STORE, ...ha];
    const master = runBroker(masterArgs(0));
    running.push(master);
    const masterPort = (await waitForLine(master, 'karman-broker listening')).port as number;
    const slave = runBroker(['--listen', '127.0.0.1:0', '--role', 'SLAVE', '--broker-id', '1', '--store', join(dir, 'slave'), '--set', `haMasterAddress=127.0.0.1:${masterPort}`, ...SMALL_STORE, ...ha]);
    running.push(slave);
    const slavePort = (await waitForLine(slave, 'karman-broker listening')).port as number;

    const producer = new RemotingClient(`tcp://127.0.0.1:${masterPort}`, { reconnect: false });
    const toSlave = new RemotingClient(`tcp://127.0.0.1:${slavePort}`);
    clients.push(producer, toSlave);
    const created = await producer.request(
      createRequest(RequestCode.UPDATE_AND_CREATE_TOPIC.code, { topic: TOPIC, defaultTopic: 'TBW102', readQueueNums: QUEUES, writeQueueNums: QUEUES, perm: 6, topicFilterType: 'SINGLE_TAG', order: false }),
    );
    expect(created.code).toBe(ResponseCode.SUCCESS.code);
    await waitFor('the slave to connect', async () => (await runtimeInfo(producer)).karmanReplicationSlaveCount === '1');

    const acked: Acked[] = [];
    const otherCodes = new Map<number, number>();
    const padding = 'y'.repeat(400);
    const loop = async (loopId: number): Promise<void> => {
      for (let n = 0; ; n++) {
        const body = `loop-${loopId}-msg-${n}-${padding}`;
        let response;
        try {
          response = await producer.request(
            createRequest(RequestCode.SEND_MESSAGE_V2.code, { a: 'HaProducer', b: TOPIC, c: 'TBW102', d: QUEUES, e: loopId % QUEUES, f: 0, g: Date.now(), h: 0, i: '', j: 0, k: false }, Buffer.from(body)),
            { timeoutMillis: 5_000 },
          );
        } catch {
          return; // the master is gone
        }
        if (response.code === ResponseCode.SUCCESS.code) acked.push({ msgId: String(response.extFields.msgId), body });
        else otherCodes.set(response.code, (otherCodes.get(response.code) ?? 0) + 1);
      }
    };
    const loops = Array.from({ length: LOOPS }, (_, i) => loop(i));
    const start = Date.now();
    while (acked.length < 500 && Date.now() - start < 5_000) await new Promise((resolve) => setTimeout(resolve, 10));
    master.child.kill('SIGKILL');
    expect(await master.exited).toEqual({ code: null, signal: 'SIGKILL' });
    await Promise.all(loops);
    expect(acked.length, `acknowledged sends (other codes: ${JSON.stringify([...otherCodes])})`).toBeGreaterThan(50);

    // SUCCESS from a SYNC_MASTER means the slave confirmed the bytes: each is on the slave already.
    const missing: string[] = [];
    for (const message of acked) {
      const { physicalOffset } = decodeOffsetMessageId(message.msgId);
      const response = await toSlave.request(createRequest(RequestCode.VIEW_MESSAGE_BY_ID.code, { offset: physicalOffset }));
      if (response.code !== ResponseCode.SUCCESS.code) {
        missing.push(`${message.msgId}: ${response.code} ${response.remark ?? ''}`);
        continue;
      }
      const decoded = decodeRecord(Buffer.from(response.body ?? []), 0, { checkCrc: true });
      if (decoded.kind !== 'record') {
        missing.push(`${message.msgId}: not a record`);
        continue;
      }
      expect(Buffer.from(decoded.record.body).toString()).toBe(message.body);
      expect(decoded.record.physicalOffset).toBe(physicalOffset);
    }
    expect(missing).toEqual([]);

    // The master comes back on its store and port; the slave reconnects and ends equal to it.
    const again = runBroker(masterArgs(masterPort));
    running.push(again);
    await waitForLine(again, 'karman-broker listening');
    const reader = new RemotingClient(`tcp://127.0.0.1:${masterPort}`, { reconnect: false });
    clients.push(reader);
    // Until the slave reconnects a SYNC_MASTER answers SLAVE_NOT_AVAILABLE (stored, not confirmed).
    await waitFor('the slave to reconnect to the restarted master', async () => (JSON.parse((await runtimeInfo(reader)).karmanReplicationSlaves ?? '[]') as unknown[]).length > 0);
    for (let i = 0; i < 20; i++) {
      const r = await reader.request(
        createRequest(RequestCode.SEND_MESSAGE_V2.code, { a: 'HaProducer', b: TOPIC, c: 'TBW102', d: QUEUES, e: 0, f: 0, g: Date.now(), h: 0, i: '', j: 0, k: false }, Buffer.from(`after-${i}`)),
      );
      expect(r.code).toBe(ResponseCode.SUCCESS.code);
    }
    const masterMax = (await runtimeInfo(reader)).commitLogMaxOffset;
    await waitFor('the slave to catch up with the restarted master', async () => (await runtimeInfo(toSlave)).commitLogMaxOffset === masterMax);
    expect((await runtimeInfo(toSlave)).karmanReplicationLagBytes).toBe('0');

    for (const r of [again, slave]) r.child.kill('SIGTERM');
    expect((await again.exited).code).toBe(0);
    expect((await slave.exited).code).toBe(0);
  });
});
