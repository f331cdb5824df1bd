/**
 * RabbitMQ, measured as the peerbench script `rabbit_bench.js` did, with amqplib over AMQP 0-9-1,
 * once for a quorum queue and once for a stream queue: a durable queue of that type; a confirm
 * channel publishing persistent messages with at most `window` (1000) unconfirmed; a second
 * channel with prefetch 1000 consuming them all, acknowledging with `multiple` every 100 (the stream
 * from `x-stream-offset: first`); then one-at-a-time publish→confirm round trips into a fresh queue.
 * Queues are `karman-bench.<runTag>.<type>` and `….lat`, deleted at the end whatever happens.
 */
import { connect } from 'amqplib';
import type { ChannelModel, ConfirmChannel } from 'amqplib';
import { KarmanError } from '@karman/protocol';
import { PeerUnavailableError, describeError, meter, percentiles, pidListeningOn, slidingWindow, timeRoundTrips } from './peer-driver.js';
import type { PeerDriver, PeerRow, Workload } from './peer-driver.js';

export const DEFAULT_AMQP_URL = 'amqp://guest:guest@127.0.0.1:5672';
const RABBIT_QUEUE_TYPES = ['quorum', 'stream'] as const;

export function rabbitDriver(url: string = DEFAULT_AMQP_URL): PeerDriver {
  return { name: 'rabbitmq', run: (workload) => runRabbit(url, workload) };
}

/** The URL without its password, for messages. */
function safeUrl(url: string): string {
  return url.replace(/\/\/([^:@/]+):[^@/]*@/, '//$1:***@');
}

async function runRabbit(url: string, workload: Workload): Promise<PeerRow[]> {
  let connection: ChannelModel;
  try {
    connection = await connect(url, { timeout: 2_000 });
  } catch (error) {
    throw new PeerUnavailableError(`RabbitMQ at ${safeUrl(url)} is unreachable (${describeError(error)}); start it or set AMQP_URL`, error);
  }
  connection.on('error', () => undefined);
  const serverPid = pidListeningOn(Number(new URL(url).port || 5672));
  const product = connection.connection.serverProperties;
  try {
    const rows: PeerRow[] = [];
    for (const type of RABBIT_QUEUE_TYPES) rows.push(await runQueueType(connection, type, workload, serverPid, `RabbitMQ ${product.version ?? ''}`.trim()));
    return rows;
  } finally {
    // Again on a fresh channel: a channel the server closed over an error cannot clean up.
    const cleanup = await connection.createChannel().catch(() => undefined);
    cleanup?.on('error', () => undefined);
    for (const type of RABBIT_QUEUE_TYPES) {
      for (const name of [queueName(workload, type), `${queueName(workload, type)}.lat`]) await cleanup?.deleteQueue(name).catch(() => undefined);
    }
    await connection.close().catch(() => undefined);
  }
}

function queueName(workload: Workload, type: string): string {
  return `karman-bench.${workload.runTag}.${type}`;
}

async function runQueueType(connection: ChannelModel, type: (typeof RABBIT_QUEUE_TYPES)[number], workload: Workload, serverPid: number | undefined, version: string): Promise<PeerRow> {
  const queue = queueName(workload, type);
  const latencyQueue = `${queue}.lat`;
  const payload = Buffer.alloc(workload.size, 0x66);
  const pids = serverPid === undefined ? [] : [serverPid];
  const problems: string[] = [];
  const channel = await connection.createConfirmChannel();
  channel.on('error', () => undefined);
  const confirm = (ch: ConfirmChannel, q: string): Promise<void> =>
    new Promise((resolve, reject) => {
      ch.sendToQueue(q, payload, { persistent: true }, (error) => (error ? reject(error instanceof Error ? error : new KarmanError('PEER_UNAVAILABLE', 'RabbitMQ nacked a publish')) : resolve()));
    });
  try {
    await channel.assertQueue(queue, { durable: true, arguments: { 'x-queue-type': type } });
    workload.log(`rabbitmq ${type}: publish ${workload.count} with confirms, ${workload.window} unconfirmed`);
    let m = meter(pids);
    const sent = await slidingWindow(workload.count, workload.window, () => confirm(channel, queue));
    const publish = m();
    if (sent.failed > 0) problems.push(`${sent.failed} publishes nacked or failed (first: ${describeError(sent.firstError)})`);
    const published = workload.count - sent.failed;

    workload.log(`rabbitmq ${type}: consume, prefetch 1000`);
    const consumer = await connection.createChannel();
    consumer.on('error', () => undefined);
    await consumer.prefetch(1000);
    m = meter(pids);
    let consumed = 0;
    let wrongSize = 0;
    let tag = '';
    await new Promise<void>((resolve, reject) => {
      const args = type === 'stream' ? { arguments: { 'x-stream-offset': 'first' } } : {};
      consumer
        .consume(
          queue,
          (message) => {
            if (!message) return reject(new KarmanError('PEER_UNAVAILABLE', `the ${type} queue's consumer was cancelled by the server`));
            consumed++;
            if (message.content.length !== workload.size) wrongSize++;
            if (consumed % 100 === 0 || consumed === published) consumer.ack(message, true);
            if (consumed === published) resolve();
          },
          { noAck: false, ...args },
        )
        .then((reply) => (tag = reply.consumerTag), reject);
    });
    const consume = m();
    await consumer.cancel(tag).catch(() => undefined);
    await consumer.close().catch(() => undefined);
    if (wrongSize > 0) problems.push(`${wrongSize} messages of the wrong size`);
    await channel.deleteQueue(queue);

    workload.log(`rabbitmq ${type}: ${workload.latencyCount} single publish→confirm`);
    await channel.assertQueue(latencyQueue, { durable: true, arguments: { 'x-queue-type': type } });
    const latency = percentiles(await timeRoundTrips(workload.latencyCount, () => confirm(channel, latencyQueue)));
    return {
      system: `RabbitMQ ${type} queue`,
      publishPerSecond: Math.round(published / publish.seconds),
      consumePerSecond: Math.round(consumed / consume.seconds),
      latencyP50Us: latency.p50,
      latencyP99Us: latency.p99,
      published,
      consumed,
      problems,
      cpu: { publish: publish.cpu, consume: consume.cpu },
      notes: [
        version,
        type === 'quorum' ? 'quorum queue (Raft WAL, fsync before confirm)' : 'stream queue over AMQP 0-9-1 (x-stream-offset first)',
        `persistent publishes on a confirm channel, ≤ ${workload.window} unconfirmed; prefetch 1000, ack multiple every 100`,
      ],
    };
  } finally {
    await channel.deleteQueue(queue).catch(() => undefined);
    await channel.deleteQueue(latencyQueue).catch(() => undefined);
    await channel.close().catch(() => undefined);
  }
}
