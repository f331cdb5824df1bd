/**
 * A peer that speaks the replication protocol (HA_TRANSFER, code 10001) without being a slave: it
 * reports offsets it never received, to make a SYNC_MASTER acknowledge writes no replica holds.
 * The master must close its connection (and say so, with the peer's address), answer the sends it
 * cannot confirm FLUSH_SLAVE_TIMEOUT or SLAVE_NOT_AVAILABLE, and keep serving its real slave.
 */
import { connect } from 'node:net';
import type { Socket } from 'node:net';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { BrokerOptions } from '@karman/broker';
import { RemotingClient, RequestCode, ResponseCode, createRequest, encodeFrame } from '@karman/protocol';
import type { RemotingCommand } from '@karman/protocol';
import { startCluster, uniqueName } from '../src/index.js';
import type { TestCluster } from '../src/index.js';

const HA_TRANSFER = 10001;
const fast: BrokerOptions = { registerNameServerPeriod: 300, haSendHeartbeatInterval: 100, haReconnectInterval: 50, slaveSyncInterval: 200 };

interface Logged {
  level: string;
  message: string;
}

async function master(options: BrokerOptions = {}, logs: Logged[] = [], withSlave = false): Promise<TestCluster> {
  const logger = (level: string, message: string): void => void logs.push({ level, message });
  return startCluster({
    brokers: [
      { brokerName: 'broker-a', options: { ...fast, brokerRole: 'SYNC_MASTER', slaveTimeout: 300, logger, ...options } },
      ...(withSlave ? [{ brokerName: 'broker-a', brokerId: 1, options: fast }] : []),
    ],
  });
}

function client(address: string): RemotingClient {
  return new RemotingClient(`tcp://${address}`, { reconnect: false });
}

function report(slaveOffset: number | string, brokerName = 'broker-a', extra: Record<string, string> = {}): RemotingCommand {
  return createRequest(HA_TRANSFER, { slaveOffset: String(slaveOffset), brokerName, brokerId: '1', slaveAddr: 'fake:1', ...extra });
}

function send(c: RemotingClient, topic: string, body: string): Promise<RemotingCommand> {
  return c.request(
    createRequest(
      RequestCode.SEND_MESSAGE.code,
      { producerGroup: 'pg', topic, defaultTopic: 'TBW102', defaultTopicQueueNums: 4, queueId: 0, sysFlag: 0, bornTimestamp: Date.now(), flag: 0 },
      Buffer.from(body),
    ),
  );
}

/** Resolves once the client's connection closed. */
function closed(c: RemotingClient): Promise<void> {
  return new Promise((resolve) => c.on('disconnect', () => resolve()));
}

/** Send `request` and expect the master to answer why it refuses it, then close the connection. */
async function expectRefused(c: RemotingClient, request: RemotingCommand, remark: RegExp): Promise<void> {
  const gone = closed(c);
  const answer = await c.request(request);
  expect(answer.code).toBe(ResponseCode.SYSTEM_ERROR.code);
  expect(answer.remark).toMatch(remark);
  await gone;
}

async function waitFor(what: string, check: () => boolean, timeoutMillis = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMillis;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

describe('a fake slave on a SYNC_MASTER', () => {
  it('reporting slaveOffset 2^53-1 is refused and closed, and the send answers SLAVE_NOT_AVAILABLE, not SEND_OK', async () => {
    const logs: Logged[] = [];
    await using cluster = await master({}, logs);
    const topic = uniqueName('T');
    await cluster.createTopic(topic, { queues: 1 });
    const broker = cluster.broker('broker-a');
    const producer = client(broker.address);
    const fake = client(broker.address);
    try {
      await expectRefused(fake, report(Number.MAX_SAFE_INTEGER), /slaveOffset 9007199254740991 is past .* this master has/);
      expect(broker.context.replication?.slaves()).toEqual([]);
      expect(logs.some((l) => l.level === 'warn' && l.message.includes('127.0.0.1:') && l.message.includes('9007199254740991'))).toBe(true);
      const r = await send(producer, topic, 'not replicated');
      expect(r.code).toBe(ResponseCode.SLAVE_NOT_AVAILABLE.code);
    } finally {
      await Promise.all([producer.close(), fake.close()]);
    }
  });

  it('with no broker name, or another one, is refused and closed', async () => {
    await using cluster = await master();
    const broker = cluster.broker('broker-a');
    for (const [name, remark] of [
      ['', /no brokerName; a slave must send its brokerName \(broker-a\)/],
      ['broker-b', /this is the master of broker-a, not of "broker-b"/],
      ['x\n'.repeat(5000), /not of "(x\\n){32}…"/],
    ] as const) {
      const fake = client(broker.address);
      try {
        await expectRefused(fake, report(broker.context.store.maxPhyOffset, name), remark);
      } finally {
        await fake.close();
      }
    }
    const fake = client(broker.address);
    try {
      await expectRefused(fake, report(0, 'broker-a', { brokerId: '0' }), /brokerId 0 is the master's/);
    } finally {
      await fake.close();
    }
    expect(broker.context.replication?.slaves()).toEqual([]);
  });

  it('cannot confirm a waiting send with an offset the master never sent it, on its connection or a new one', async () => {
    await using cluster = await master();
    const topic = uniqueName('T');
    await cluster.createTopic(topic, { queues: 1 });
    const broker = cluster.broker('broker-a');
    const store = broker.context.store;
    const producer = client(broker.address);
    const fake = client(broker.address);
    const second = client(broker.address);
    try {
      // A plausible report: the master's end, which it cannot tell from a real slave's.
      const start = store.maxPhyOffset;
      expect((await fake.request(report(start))).code).toBe(ResponseCode.SUCCESS.code);
      expect(broker.context.replication?.slaves()).toHaveLength(1);

      const pending = send(producer, topic, 'waits for a slave');
      await waitFor('the write', () => store.maxPhyOffset > start);
      const end = store.maxPhyOffset;
      // The master sent nothing past `start` to anyone: neither connection may claim `end`.
      await expectRefused(second, report(end), new RegExp(`slaveOffset ${end} is past .*${start}`));
      await expectRefused(fake, report(end), new RegExp(`slaveOffset ${end} is past .*${start}`));
      const r = await pending;
      expect([ResponseCode.FLUSH_SLAVE_TIMEOUT.code, ResponseCode.SLAVE_NOT_AVAILABLE.code]).toContain(r.code);
      expect(broker.context.replication?.slaves()).toEqual([]);
    } finally {
      await Promise.all([producer.close(), fake.close(), second.close()]);
    }
  });

  it('does not stop the real slave: its sends are acknowledged once it holds them', async () => {
    await using cluster = await master({ slaveTimeout: 3_000 }, [], true);
    const topic = uniqueName('T');
    await cluster.createTopic(topic, { queues: 1 });
    const broker = cluster.broker('broker-a');
    const slave = cluster.broker('broker-a', 1);
    const producer = client(broker.address);
    try {
      await waitFor('the slave to connect', () => broker.context.replication?.slaves().length === 1);
      for (let i = 0; i < 10; i++) {
        const fake = client(broker.address);
        await expectRefused(fake, report(Number.MAX_SAFE_INTEGER), /is past/);
        await fake.close();
        const r = await send(producer, topic, `sync ${i}`);
        expect(r.code).toBe(ResponseCode.SUCCESS.code);
        expect(slave.context.store.maxPhyOffset).toBeGreaterThanOrEqual(broker.context.store.maxPhyOffset);
      }
      expect(broker.context.replication?.slaves()).toMatchObject([{ brokerId: 1 }]);
    } finally {
      await producer.close();
    }
  });
});

describe('the replication frame parser', () => {
  /** Write `bytes` on a fresh socket, then half-close; resolves when the master has closed it. */
  function throwAt(address: string, bytes: Uint8Array): Promise<void> {
    const [host, port] = [address.slice(0, address.lastIndexOf(':')), Number(address.slice(address.lastIndexOf(':') + 1))];
    return new Promise((resolve, reject) => {
      const socket: Socket = connect({ host, port }, () => {
        socket.write(bytes);
        socket.end();
      });
      socket.on('error', () => undefined);
      socket.on('close', () => resolve());
      socket.setTimeout(5_000, () => reject(new Error('the master kept a connection of random bytes open for 5 s')));
      socket.resume();
    });
  }

  it('survives random bytes and random HA_TRANSFER headers: connections close, nothing is acknowledged, the master serves on', async () => {
    await using cluster = await master({ haHousekeepingInterval: 60_000 });
    const topic = uniqueName('T');
    await cluster.createTopic(topic, { queues: 1 });
    const broker = cluster.broker('broker-a');
    const address = broker.address;
    const value = fc.oneof(
      fc.string({ maxLength: 24 }),
      fc.integer().map(String),
      fc.constantFrom('-1', '1e999', 'NaN', '9007199254740991', '9007199254740992', '0x10', ' 5', '', 'broker-a', '%RETRY%x'),
    );
    const header = fc.record({ slaveOffset: value, brokerName: value, brokerId: value, slaveAddr: value }, { requiredKeys: [] });
    const frame = fc.oneof(
      fc.uint8Array({ maxLength: 200 }),
      header.map((fields) => encodeFrame(createRequest(HA_TRANSFER, fields))),
      fc.tuple(header, fc.nat(60)).map(([fields, cut]) => {
        const bytes = encodeFrame(createRequest(HA_TRANSFER, fields));
        return bytes.subarray(0, Math.max(0, bytes.length - cut));
      }),
      fc.tuple(fc.integer({ min: 0, max: 0xffffffff }), fc.uint8Array({ maxLength: 64 })).map(([length, rest]) => {
        const b = Buffer.alloc(4 + rest.length);
        b.writeUInt32BE(length, 0);
        b.set(rest, 4);
        return b;
      }),
    );
    await fc.assert(
      fc.asyncProperty(frame, async (bytes) => {
        await throwAt(address, bytes);
      }),
      { numRuns: 200 },
    );
    // No report above what the master sent was taken: a SYNC send is not acknowledged.
    for (const s of broker.context.replication?.slaves() ?? []) expect(s.ackOffset).toBeLessThanOrEqual(broker.context.store.maxPhyOffset);
    const producer = client(address);
    try {
      const r = await send(producer, topic, 'after the fuzz');
      expect([ResponseCode.FLUSH_SLAVE_TIMEOUT.code, ResponseCode.SLAVE_NOT_AVAILABLE.code]).toContain(r.code);
    } finally {
      await producer.close();
    }
  });
});
