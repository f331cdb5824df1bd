/**
 * `karman-bench producer`: RocketMQ's benchmark Producer for Karman. CONCURRENCY senders each await
 * `send` (or `sendBatch` of --batch) in a loop, until -q messages or a signal; one line a second,
 * then the summary (SEND_OK counts, failures by reason, send→ack percentiles).
 */
import { Producer } from '@karman/producer';
import { newRunId } from './bench-body.js';
import type { ProducerBenchOptions } from './bench-options.js';
import type { ProducerSummary } from './bench-summary.js';
import { formatCount, formatMillis, startLiveReport } from './live-report.js';
import { randomSuffix } from './run-context.js';
import type { RunContext } from './run-context.js';
import { SendTally, runSendLoop } from './send-loop.js';

export async function runProducerBench(options: ProducerBenchOptions, context: RunContext): Promise<ProducerSummary> {
  const producer = new Producer({
    group: `benchmark_producer_${randomSuffix()}`,
    nameservers: options.nameservers,
    transport: options.transport,
    autoBatch: options.autoBatch ? {} : false,
    // Topics created by the first send get 8 queues (--topics).
    defaultTopicQueueNums: 8,
    // Each sender has at most one call in flight; let all of them (and their batches) through.
    maxInFlightSends: Math.max(1024, options.concurrency),
  });
  await producer.start();
  const tally = new SendTally();
  const started = performance.now();
  const report = startLiveReport({
    lines: context.lines,
    stderr: context.stderr,
    progress: context.showProgress && options.count !== undefined ? { total: options.count, done: () => tally.ok + tally.failed } : undefined,
    line: (elapsed) => {
      const w = tally.window.take();
      return `[${String(elapsed).padStart(4)}s] send tps ${formatCount(w.ok).padStart(8)} | rt avg ${formatMillis(w.avgMicros)} max ${formatMillis(w.maxMicros)} | ok ${formatCount(tally.ok)} failed ${formatCount(tally.failed)}`;
    },
  });
  let ended: number;
  try {
    await runSendLoop(producer, { ...options, runId: newRunId(), signal: context.signal }, tally);
    ended = performance.now();
  } finally {
    report.stop();
    await producer.shutdown();
  }
  const seconds = (ended - started) / 1000;
  return {
    command: 'producer',
    topic: options.topic,
    size: options.size,
    concurrency: options.concurrency,
    batch: options.batch,
    autoBatch: options.autoBatch,
    transport: options.transport,
    count: tally.ok,
    failed: tally.failed,
    failuresByReason: tally.failuresByReason,
    firstErrors: tally.firstError,
    seconds: round(seconds, 3),
    tps: Math.round(tally.ok / seconds),
    mbPerSecond: round((tally.ok * options.size) / seconds / 1e6, 2),
    latencyUs: tally.latency.summary(),
  };
}

export function round(value: number, digits: number): number {
  const f = 10 ** digits;
  return Math.round(value * f) / f;
}
