/**
 * `karman-bench e2e`: the producer and consumer benchmarks in one process on one topic. The
 * consumer (a new group, from the last offset) joins first; once its queues have start offsets the
 * senders begin, optionally paced by --rate. Latency is the body's born time → the handler call,
 * both read from this process's clock, so it is precise to the microsecond. After the last send the
 * run waits for the rest to arrive, up to DRAIN_IDLE_MILLIS without progress; whatever is still
 * missing is reported as lost.
 */
import { Producer } from '@karman/producer';
import { newRunId } from './bench-body.js';
import type { E2eBenchOptions } from './bench-options.js';
import type { E2eSummary } from './bench-summary.js';
import { createCountingConsumer } from './counting-consumer.js';
import { formatCount, formatMillis, startLiveReport } from './live-report.js';
import { round } from './producer-bench.js';
import { aborted, randomSuffix } from './run-context.js';
import type { RunContext } from './run-context.js';
import { SendTally, runSendLoop } from './send-loop.js';

/** How long the drain waits for a message after the previous one before calling the rest lost. */
const DRAIN_IDLE_MILLIS = 30_000;
/** How long the consumer may take to get its queues before the senders start anyway. */
const ASSIGN_TIMEOUT_MILLIS = 20_000;

export async function runE2eBench(options: E2eBenchOptions, context: RunContext): Promise<E2eSummary> {
  const runId = newRunId();
  const counting = createCountingConsumer({ ...options, count: undefined, consumeFromWhere: 'CONSUME_FROM_LAST_OFFSET', onlyRun: runId });
  const { consumer, ledger } = counting;
  const producer = new Producer({ group: `benchmark_producer_${randomSuffix()}`, nameservers: options.nameservers, transport: options.transport, maxInFlightSends: Math.max(1024, options.concurrency) });
  const tally = new SendTally();
  try {
    await consumer.start();
    await producer.start();
  } catch (error) {
    await Promise.allSettled([consumer.shutdown(), producer.shutdown()]);
    throw error;
  }
  let timer: NodeJS.Timeout | undefined;
  const assignment = await Promise.race([counting.assigned.then(() => 'assigned' as const), aborted(context.signal), new Promise<'late'>((resolve) => (timer = setTimeout(() => resolve('late'), ASSIGN_TIMEOUT_MILLIS)))]);
  clearTimeout(timer);
  if (assignment === 'late') context.stderr.write(`karman-bench e2e: the consumer got no queues of ${options.topic} within ${ASSIGN_TIMEOUT_MILLIS / 1000} s (does the topic exist? create it with karman-admin updateTopic); sending anyway\n`);
  const started = performance.now();
  const report = startLiveReport({
    lines: context.lines,
    stderr: context.stderr,
    progress: context.showProgress && options.count !== undefined ? { total: options.count, done: () => ledger.received } : undefined,
    line: (elapsed) => {
      const s = tally.window.take();
      const r = counting.window.take();
      const c = ledger.snapshot();
      return (
        `[${String(elapsed).padStart(4)}s] send tps ${formatCount(s.ok).padStart(8)} rt avg ${formatMillis(s.avgMicros)} max ${formatMillis(s.maxMicros)}` +
        ` | consume tps ${formatCount(r.ok).padStart(8)} e2e avg ${formatMillis(r.avgMicros)} max ${formatMillis(r.maxMicros)}` +
        ` | ok ${formatCount(tally.ok)} failed ${formatCount(tally.failed)} received ${formatCount(c.received)} dup ${formatCount(c.duplicates)} corrupt ${formatCount(c.corrupt)}`
      );
    },
  });
  let sendSeconds: number;
  try {
    await runSendLoop(producer, { ...options, runId, signal: context.signal }, tally);
    sendSeconds = (performance.now() - started) / 1000;
    // Drain: everything SEND_OK should arrive; stop waiting after a long silence or a signal.
    while (ledger.received < tally.ok && !context.signal.aborted && performance.now() - Math.max(counting.lastArrival(), started + sendSeconds * 1000) < DRAIN_IDLE_MILLIS) {
      await Promise.race([new Promise((resolve) => setTimeout(resolve, 20)), aborted(context.signal)]);
    }
  } finally {
    report.stop();
    await producer.shutdown();
    await consumer.shutdown();
  }
  const seconds = (Math.max(counting.lastArrival(), started) - started) / 1000;
  const c = ledger.snapshot();
  return {
    command: 'e2e',
    topic: options.topic,
    group: options.group,
    size: options.size,
    concurrency: options.concurrency,
    rate: options.rate ?? null,
    transport: options.transport,
    sent: tally.ok,
    failed: tally.failed,
    failuresByReason: tally.failuresByReason,
    count: c.received,
    lost: Math.max(0, tally.ok - c.received),
    duplicates: c.duplicates,
    corrupt: c.corrupt,
    corruptByReason: c.corruptByReason,
    otherRuns: c.otherRuns,
    seconds: round(seconds, 3),
    sendTps: sendSeconds > 0 ? Math.round(tally.ok / sendSeconds) : 0,
    tps: seconds > 0 ? Math.round(c.received / seconds) : 0,
    sendLatencyUs: tally.latency.summary(),
    latencyUs: ledger.latency.summary(),
  };
}
