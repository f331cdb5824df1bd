/**
 * Karman in `karman-bench compare`: the same phases as the peers, with Karman's own clients in this
 * process against a cluster whose broker runs in its own process. Two rows: 64 concurrent plain
 * `send`s (RocketMQ's benchmark default) and the producer's `autoBatch` with `window` (1000)
 * concurrent sends (the peers' 1000 in flight). Each row publishes `count` messages to a fresh
 * 8-queue topic, drains them with one PushConsumer (a new group, first offset) that checks every
 * body, then times one-at-a-time sends to another fresh topic.
 */
import { Producer } from '@karman/producer';
import type { ProducerOptions } from '@karman/producer';
import { encodeBody, newRunId } from './bench-body.js';
import { createCountingConsumer } from './counting-consumer.js';
import { meter, percentiles, timeRoundTrips } from './peer-driver.js';
import type { PeerDriver, PeerRow, Workload } from './peer-driver.js';
import { SendTally, runSendLoop } from './send-loop.js';

/** A running Karman cluster to measure. */
export interface KarmanTarget {
  namesrvAddr: string;
  createTopic(topic: string, options: { queues: number }): Promise<void>;
  /** Broker and nameserver pids, for their CPU use; empty when in-process. */
  serverPids: number[];
  /** How the cluster runs, for the report. */
  notes: string[];
}

/** Plain sends of RocketMQ's benchmark Producer default. */
export const PLAIN_CONCURRENCY = 64;
const TOPIC_QUEUES = 8;

export function karmanDriver(target: () => Promise<KarmanTarget & AsyncDisposable>, transport: 'ws' | 'tcp' = 'tcp'): PeerDriver {
  return {
    name: 'karman',
    run: async (workload) => {
      await using cluster = await target();
      const rows: PeerRow[] = [];
      rows.push(await measure(cluster, workload, transport, 'plain', `Karman (${PLAIN_CONCURRENCY} concurrent sends)`, `${PLAIN_CONCURRENCY} sends`, PLAIN_CONCURRENCY, {}));
      rows.push(await measure(cluster, workload, transport, 'batch', `Karman (auto-batch, ${workload.window} concurrent sends)`, 'auto-batch', workload.window, { autoBatch: {} }));
      return rows;
    },
  };
}

/** One row: publish `count` to a fresh topic with `concurrency` senders, drain it with one PushConsumer, then time one-at-a-time sends. */
export async function measure(cluster: KarmanTarget, workload: Workload, transport: 'ws' | 'tcp', key: string, system: string, shortName: string, concurrency: number, producerOptions: Partial<ProducerOptions>): Promise<PeerRow> {
  const topic = `KBench_${key}_${workload.runTag}`;
  const latencyTopic = `KBenchLat_${key}_${workload.runTag}`;
  await cluster.createTopic(topic, { queues: TOPIC_QUEUES });
  await cluster.createTopic(latencyTopic, { queues: TOPIC_QUEUES });
  const problems: string[] = [];
  const producer = new Producer({ group: `kbench_producer_${key}_${workload.runTag}`, nameservers: cluster.namesrvAddr, transport, maxInFlightSends: Math.max(1024, concurrency), ...producerOptions });
  await producer.start();
  try {
    // One send first, so route lookup and connecting are not timed (the peers connect before too).
    await producer.send({ topic: latencyTopic, body: encodeBody(workload.size, 0, 0) });
    workload.log(`karman: ${system}: publish ${workload.count}`);
    const runId = newRunId();
    const tally = new SendTally();
    let m = meter(cluster.serverPids);
    await runSendLoop(producer, { topic, size: workload.size, concurrency, count: workload.count, runId }, tally);
    const publish = m();
    if (tally.failed > 0) problems.push(`${tally.failed} sends failed (${Object.entries(tally.firstError).map(([r, t]) => `${r}: ${t}`).join('; ')})`);

    workload.log(`karman: ${system}: consume with one PushConsumer`);
    const counting = createCountingConsumer({ nameservers: cluster.namesrvAddr, topic, group: `kbench_consumer_${key}_${workload.runTag}`, transport, count: tally.ok, consumeFromWhere: 'CONSUME_FROM_FIRST_OFFSET', onlyRun: runId });
    m = meter(cluster.serverPids);
    const consumeStarted = performance.now();
    await counting.consumer.start();
    let stalled = false;
    await waitOrStall(counting.done, () => counting.lastArrival(), () => (stalled = true));
    const consume = m();
    // A stalled drain is timed to its last message, not to the stall detection.
    const consumeSeconds = ((stalled ? counting.lastArrival() : performance.now()) - consumeStarted) / 1000;
    await counting.consumer.shutdown();
    const c = counting.ledger.snapshot();
    if (stalled) problems.push(`consumed ${c.received} of ${tally.ok}: nothing new for ${STALL_MILLIS / 1000} s`);
    if (c.duplicates > 0) problems.push(`${c.duplicates} duplicates (at-least-once redeliveries)`);
    if (c.corrupt > 0) problems.push(`${c.corrupt} corrupt messages`);

    workload.log(`karman: ${system}: ${workload.latencyCount} single sends`);
    let sequence = 1;
    const latency = percentiles(await timeRoundTrips(workload.latencyCount, () => producer.send({ topic: latencyTopic, body: encodeBody(workload.size, runId, sequence++) })));
    return {
      system,
      shortName,
      publishPerSecond: Math.round(tally.ok / publish.seconds),
      consumePerSecond: consumeSeconds > 0 ? Math.round(c.received / consumeSeconds) : 0,
      latencyP50Us: latency.p50,
      latencyP99Us: latency.p99,
      published: tally.ok,
      consumed: c.received,
      problems,
      cpu: { publish: publish.cpu, consume: consume.cpu },
      notes: [...cluster.notes, transport === 'ws' ? 'WebSocket transport' : 'RocketMQ remoting TCP transport (the client default)', producerOptions.autoBatch ? `producer autoBatch (batches close at the end of each event-loop turn, ≤ 256 messages), ${concurrency} senders` : `${concurrency} senders awaiting producer.send`, 'one PushConsumer (default options), every body checked'],
    };
  } finally {
    await producer.shutdown();
  }
}

const STALL_MILLIS = 30_000;

/** Wait for `done`, or until no message has arrived for STALL_MILLIS. */
async function waitOrStall(done: Promise<void>, lastArrival: () => number, onStall: () => void): Promise<void> {
  let finished = false;
  void done.then(() => (finished = true));
  const started = performance.now();
  while (!finished) {
    await Promise.race([done, new Promise((resolve) => setTimeout(resolve, 100))]);
    if (!finished && performance.now() - Math.max(lastArrival(), started) > STALL_MILLIS) {
      onStall();
      return;
    }
  }
}
