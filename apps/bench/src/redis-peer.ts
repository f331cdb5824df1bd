/**
 * Redis Streams, measured as the peerbench script `redis_bench.js` did, with ioredis on one
 * connection: XADD `<key> * d <payload>` in pipelines of `window` (1000) with one pipeline in
 * flight, XLEN checked; then XGROUP CREATE and XREADGROUP GROUP g c1 COUNT 1000 in a loop, each
 * batch's XACK sent without awaiting ahead of the next read; then one-at-a-time XADDs for latency.
 * Keys are `karman-bench:<runTag>` and `…:lat`, deleted at the end whatever happens.
 */
import { Redis } from 'ioredis';
import { PeerUnavailableError, describeError, meter, percentiles, pidListeningOn, timeRoundTrips } from './peer-driver.js';
import type { PeerDriver, PeerRow, Workload } from './peer-driver.js';

export const DEFAULT_REDIS_URL = 'redis://127.0.0.1:6379';

export function redisDriver(url: string = DEFAULT_REDIS_URL): PeerDriver {
  return { name: 'redis', run: (workload) => runRedis(url, workload) };
}

async function connectRedis(url: string): Promise<Redis> {
  const redis = new Redis(url, { lazyConnect: true, enableOfflineQueue: true, connectTimeout: 2_000, maxRetriesPerRequest: 1, retryStrategy: () => null });
  redis.on('error', () => undefined); // connect() rejects with the cause; no unhandled 'error' events
  try {
    await redis.connect();
  } catch (error) {
    redis.disconnect();
    throw new PeerUnavailableError(`Redis at ${url} is unreachable (${describeError(error)}); start it or set REDIS_URL`, error);
  }
  return redis;
}

async function runRedis(url: string, workload: Workload): Promise<PeerRow[]> {
  const redis = await connectRedis(url);
  const key = `karman-bench:${workload.runTag}`;
  const latencyKey = `${key}:lat`;
  const payload = Buffer.alloc(workload.size, 0x65);
  const port = Number(new URL(url).port || 6379);
  const serverPid = pidListeningOn(port);
  const problems: string[] = [];
  try {
    const notes = [`Redis ${await serverVersion(redis)}`, await persistence(redis)];
    workload.log(`redis: XADD ${workload.count} in pipelines of ${workload.window}`);
    let m = meter(serverPid === undefined ? [] : [serverPid]);
    for (let i = 0; i < workload.count; i += workload.window) {
      const pipeline = redis.pipeline();
      for (let j = 0; j < workload.window && i + j < workload.count; j++) pipeline.xadd(key, '*', 'd', payload);
      const results = (await pipeline.exec()) ?? [];
      for (const [error] of results) if (error) throw error;
    }
    const publish = m();
    const length = await redis.xlen(key);
    if (length !== workload.count) problems.push(`XLEN is ${length}, expected ${workload.count}`);

    workload.log('redis: XREADGROUP COUNT 1000 + XACK');
    await redis.xgroup('CREATE', key, 'g', '0');
    m = meter(serverPid === undefined ? [] : [serverPid]);
    let consumed = 0;
    let wrongSize = 0;
    const acks: Array<Promise<number>> = [];
    while (consumed < workload.count) {
      const reply = (await redis.xreadgroupBuffer('GROUP', 'g', 'c1', 'COUNT', workload.window, 'STREAMS', key, '>')) as Array<[Buffer, Array<[Buffer, Buffer[]]>]> | null;
      if (!reply) break;
      const entries = reply[0]![1];
      if (entries.length === 0) break;
      consumed += entries.length;
      for (const [, fields] of entries) if (fields[1]?.length !== workload.size) wrongSize++;
      acks.push(redis.xack(key, 'g', ...entries.map((e) => e[0])) as Promise<number>);
    }
    const acked = (await Promise.all(acks)).reduce((a, b) => a + b, 0);
    const consume = m();
    if (consumed !== workload.count) problems.push(`read ${consumed} of ${workload.count}`);
    if (acked !== consumed) problems.push(`XACK acknowledged ${acked} of ${consumed}`);
    if (wrongSize > 0) problems.push(`${wrongSize} entries of the wrong size`);
    await redis.del(key);

    workload.log(`redis: ${workload.latencyCount} single XADDs`);
    const latency = percentiles(await timeRoundTrips(workload.latencyCount, () => redis.xadd(latencyKey, '*', 'd', payload)));
    return [
      {
        system: 'Redis Streams',
        publishPerSecond: Math.round(workload.count / publish.seconds),
        consumePerSecond: Math.round(consumed / consume.seconds),
        latencyP50Us: latency.p50,
        latencyP99Us: latency.p99,
        published: length,
        consumed,
        problems,
        cpu: { publish: publish.cpu, consume: consume.cpu },
        notes: [...notes, `XADD pipelines of ${workload.window}, one in flight; XREADGROUP COUNT ${workload.window} + XACK`],
      },
    ];
  } finally {
    await redis.del(key, latencyKey).catch(() => undefined);
    redis.disconnect();
  }
}

async function serverVersion(redis: Redis): Promise<string> {
  const info = await redis.info('server').catch(() => '');
  return /redis_version:(\S+)/.exec(info)?.[1] ?? '(version unknown)';
}

/** The server's durability settings, as far as CONFIG GET is allowed. */
async function persistence(redis: Redis): Promise<string> {
  try {
    const aof = (await redis.config('GET', 'appendonly')) as string[];
    const fsync = (await redis.config('GET', 'appendfsync')) as string[];
    return aof[1] === 'yes' ? `AOF on, appendfsync ${fsync[1]}` : 'AOF off (no fsync before the reply)';
  } catch {
    return 'persistence settings unknown (CONFIG GET refused)';
  }
}
