/**
 * NATS JetStream, measured as the peerbench script `nats_bench.js` did, with the official `nats`
 * client: a file-storage stream (1 replica, limits retention), `js.publish` with a sliding window of
 * `window` (1000) unacknowledged publishes; an ordered consumer (`consumers.get(stream)` →
 * `consume({ max_messages: 1000 })`) reading them all; then one-at-a-time `await js.publish` into a
 * fresh stream for latency. Streams are `KBENCH_<runTag>` and `KBENCHLAT_<runTag>`, deleted at the
 * end whatever happens.
 */
import { StorageType, connect } from 'nats';
import type { NatsConnection } from 'nats';
import { PeerUnavailableError, describeError, meter, percentiles, pidListeningOn, slidingWindow, timeRoundTrips } from './peer-driver.js';
import type { PeerDriver, PeerRow, Workload } from './peer-driver.js';

export const DEFAULT_NATS_URL = '127.0.0.1:4222';

export function natsDriver(url: string = DEFAULT_NATS_URL): PeerDriver {
  return { name: 'nats', run: (workload) => runNats(url, workload) };
}

async function runNats(url: string, workload: Workload): Promise<PeerRow[]> {
  let nc: NatsConnection;
  try {
    nc = await connect({ servers: url, timeout: 2_000, reconnect: false });
  } catch (error) {
    throw new PeerUnavailableError(`NATS at ${url} is unreachable (${describeError(error)}); start nats-server -js or set NATS_URL`, error);
  }
  const tag = workload.runTag.replace(/[^A-Za-z0-9_-]/g, '_');
  const stream = `KBENCH_${tag}`;
  const latencyStream = `KBENCHLAT_${tag}`;
  const payload = Buffer.alloc(workload.size, 0x64);
  const serverPid = pidListeningOn(Number(/:(\d+)\s*$/.exec(url)?.[1] ?? 4222));
  const pids = serverPid === undefined ? [] : [serverPid];
  const problems: string[] = [];
  let jsm;
  try {
    jsm = await nc.jetstreamManager({ timeout: 5_000 });
  } catch (error) {
    await nc.close();
    throw new PeerUnavailableError(`NATS at ${url} has no JetStream (${describeError(error)}); start nats-server with -js`, error);
  }
  const js = nc.jetstream();
  try {
    await jsm.streams.add({ name: stream, subjects: [`kbench.${tag}.>`], storage: StorageType.File });
    workload.log(`nats: js.publish ${workload.count}, ${workload.window} in flight`);
    let m = meter(pids);
    const sent = await slidingWindow(workload.count, workload.window, () => js.publish(`kbench.${tag}.a`, payload));
    const publish = m();
    if (sent.failed > 0) problems.push(`${sent.failed} publishes failed (first: ${describeError(sent.firstError)})`);
    const stored = (await jsm.streams.info(stream)).state.messages;
    if (stored !== workload.count - sent.failed) problems.push(`the stream holds ${stored}, expected ${workload.count - sent.failed}`);

    workload.log('nats: ordered consumer');
    m = meter(pids);
    let consumed = 0;
    let wrongSize = 0;
    const consumer = await js.consumers.get(stream);
    const messages = await consumer.consume({ max_messages: 1000 });
    for await (const message of messages) {
      consumed++;
      if (message.data.length !== workload.size) wrongSize++;
      if (consumed >= stored) break;
    }
    const consume = m();
    await messages.close().catch(() => undefined);
    if (consumed !== stored) problems.push(`read ${consumed} of ${stored}`);
    if (wrongSize > 0) problems.push(`${wrongSize} messages of the wrong size`);
    await jsm.streams.delete(stream);

    workload.log(`nats: ${workload.latencyCount} single publishes`);
    await jsm.streams.add({ name: latencyStream, subjects: [`kbenchlat.${tag}.>`], storage: StorageType.File });
    const latency = percentiles(await timeRoundTrips(workload.latencyCount, () => js.publish(`kbenchlat.${tag}.a`, payload)));
    return [
      {
        system: 'NATS JetStream',
        publishPerSecond: Math.round((workload.count - sent.failed) / publish.seconds),
        consumePerSecond: Math.round(consumed / consume.seconds),
        latencyP50Us: latency.p50,
        latencyP99Us: latency.p99,
        published: stored,
        consumed,
        problems,
        cpu: { publish: publish.cpu, consume: consume.cpu },
        notes: [`nats-server ${nc.info?.version ?? '(version unknown)'}`, 'file storage, 1 replica; acknowledged before fsync', `js.publish, ${workload.window} in flight; ordered consumer`],
      },
    ];
  } finally {
    await jsm.streams.delete(stream).catch(() => undefined);
    await jsm.streams.delete(latencyStream).catch(() => undefined);
    await nc.close();
  }
}
