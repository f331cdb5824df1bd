/**
 * The compare drivers for the peers running on this machine, each with a tiny workload; a test
 * whose server is not reachable is skipped, saying so. Every driver must read back exactly what it
 * wrote and leave nothing behind (its stream, key or queues are deleted).
 */
import { serviceMissing } from '@karman/testkit';
import { connect as connectTcp } from 'node:net';
import { connect as connectNats } from 'nats';
import { Redis } from 'ioredis';
import { connect as connectAmqp } from 'amqplib';
import { describe, expect, it } from 'vitest';
import { DEFAULT_NATS_URL, natsDriver } from '../src/nats-peer.js';
import { PeerUnavailableError } from '../src/peer-driver.js';
import type { Workload } from '../src/peer-driver.js';
import { DEFAULT_AMQP_URL, rabbitDriver } from '../src/rabbit-peer.js';
import { DEFAULT_REDIS_URL, redisDriver } from '../src/redis-peer.js';

function reachable(host: string, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connectTcp({ host, port, timeout: 1_000 });
    socket.once('connect', () => (socket.destroy(), resolve(true)));
    socket.once('error', () => resolve(false));
    socket.once('timeout', () => (socket.destroy(), resolve(false)));
  });
}

function workload(): Workload {
  return { count: 300, size: 1024, window: 100, latencyCount: 20, runTag: `t${Date.now().toString(36)}${Math.random().toString(36).slice(2, 6)}`, log: () => undefined };
}

const redisUrl = process.env.REDIS_URL || DEFAULT_REDIS_URL;
const natsUrl = process.env.NATS_URL || DEFAULT_NATS_URL;
const amqpUrl = process.env.AMQP_URL || DEFAULT_AMQP_URL;

describe('peer drivers', () => {
  it('Redis Streams: XADD, XREADGROUP + XACK and single XADDs; the keys are gone afterwards', async (context) => {
    const url = new URL(redisUrl);
    if (!(await reachable(url.hostname, Number(url.port || 6379)))) return context.skip(serviceMissing('peer drivers', `Redis is not reachable at ${redisUrl}; set REDIS_URL to run this test`));
    const w = workload();
    const [row] = await redisDriver(redisUrl).run(w);
    expect(row).toMatchObject({ system: 'Redis Streams', published: 300, consumed: 300, problems: [] });
    expect(row!.publishPerSecond).toBeGreaterThan(0);
    expect(row!.latencyP99Us).toBeGreaterThanOrEqual(row!.latencyP50Us);
    const redis = new Redis(redisUrl);
    try {
      expect(await redis.exists(`karman-bench:${w.runTag}`, `karman-bench:${w.runTag}:lat`)).toBe(0);
    } finally {
      redis.disconnect();
    }
  });

  it('NATS JetStream: window publish, ordered consumer, single publishes; the streams are gone afterwards', async (context) => {
    const [host, port] = natsUrl.replace(/^nats:\/\//, '').split(':');
    if (!(await reachable(host!, Number(port ?? 4222)))) return context.skip(serviceMissing('peer drivers', `NATS is not reachable at ${natsUrl}; set NATS_URL to run this test`));
    const w = workload();
    const [row] = await natsDriver(natsUrl).run(w);
    expect(row).toMatchObject({ system: 'NATS JetStream', published: 300, consumed: 300, problems: [] });
    const nc = await connectNats({ servers: natsUrl });
    try {
      const jsm = await nc.jetstreamManager();
      const names: string[] = [];
      for await (const name of jsm.streams.names()) names.push(name);
      expect(names.filter((n) => n.includes(w.runTag))).toEqual([]);
    } finally {
      await nc.close();
    }
  });

  it('RabbitMQ: quorum and stream queues with confirms; the queues are gone afterwards', async (context) => {
    const url = new URL(amqpUrl);
    if (!(await reachable(url.hostname, Number(url.port || 5672)))) return context.skip(serviceMissing('peer drivers', `RabbitMQ is not reachable at ${amqpUrl}; set AMQP_URL to run this test`));
    const w = workload();
    const rows = await rabbitDriver(amqpUrl).run(w);
    expect(rows.map((r) => [r.system, r.published, r.consumed, r.problems])).toEqual([
      ['RabbitMQ quorum queue', 300, 300, []],
      ['RabbitMQ stream queue', 300, 300, []],
    ]);
    const connection = await connectAmqp(amqpUrl);
    try {
      for (const name of [`karman-bench.${w.runTag}.quorum`, `karman-bench.${w.runTag}.stream.lat`]) {
        const channel = await connection.createChannel();
        channel.on('error', () => undefined);
        await expect(channel.checkQueue(name)).rejects.toThrow(/NOT_FOUND/);
      }
    } finally {
      await connection.close();
    }
  });

  it('says where it looked and how to point elsewhere when a server is not there', async () => {
    await expect(redisDriver('redis://127.0.0.1:1').run(workload())).rejects.toThrow(PeerUnavailableError);
    await expect(redisDriver('redis://127.0.0.1:1').run(workload())).rejects.toThrow(/Redis at redis:\/\/127\.0\.0\.1:1 is unreachable \(.*\); start it or set REDIS_URL/);
    await expect(natsDriver('127.0.0.1:1').run(workload())).rejects.toThrow(/NATS at 127\.0\.0\.1:1 is unreachable .*set NATS_URL/);
    await expect(rabbitDriver('amqp://guest:secret@127.0.0.1:1').run(workload())).rejects.toThrow(/RabbitMQ at amqp:\/\/guest:\*\*\*@127\.0\.0\.1:1 is unreachable .*set AMQP_URL/);
  });
});
