/**
 * `karman-bench consumer`: one PushConsumer (CONSUME_FROM_FIRST_OFFSET, no-op handler) counting
 * messages until -q distinct ones or a signal. Every body is checked; duplicates and corrupt
 * messages are counted apart; latency is born (the producer's timestamp in the body) → handler.
 */
import type { ConsumerBenchOptions } from './bench-options.js';
import type { ConsumerSummary } from './bench-summary.js';
import { createCountingConsumer } from './counting-consumer.js';
import { formatCount, formatMillis, startLiveReport } from './live-report.js';
import { round } from './producer-bench.js';
import { aborted } from './run-context.js';
import type { RunContext } from './run-context.js';

export async function runConsumerBench(options: ConsumerBenchOptions, context: RunContext): Promise<ConsumerSummary> {
  const counting = createCountingConsumer({ ...options, consumeFromWhere: 'CONSUME_FROM_FIRST_OFFSET' });
  const { consumer, ledger } = counting;
  const started = performance.now();
  try {
    await consumer.start();
  } catch (error) {
    await consumer.shutdown().catch(() => undefined);
    throw error;
  }
  const report = startLiveReport({
    lines: context.lines,
    stderr: context.stderr,
    progress: context.showProgress && options.count !== undefined ? { total: options.count, done: () => ledger.received } : undefined,
    line: (elapsed) => {
      const w = counting.window.take();
      const c = ledger.snapshot();
      return `[${String(elapsed).padStart(4)}s] consume tps ${formatCount(w.ok).padStart(8)} | born→consume avg ${formatMillis(w.avgMicros)} max ${formatMillis(w.maxMicros)} | received ${formatCount(c.received)} dup ${formatCount(c.duplicates)} corrupt ${formatCount(c.corrupt)}`;
    },
  });
  try {
    await Promise.race([counting.done, aborted(context.signal)]);
  } finally {
    report.stop();
    await consumer.shutdown();
  }
  // The run ends at the last counted message, not at the signal that stopped an idle consumer.
  const seconds = (counting.lastArrival() - started) / 1000;
  const c = ledger.snapshot();
  return {
    command: 'consumer',
    topic: options.topic,
    group: options.group,
    transport: options.transport,
    count: c.received,
    duplicates: c.duplicates,
    corrupt: c.corrupt,
    corruptByReason: c.corruptByReason,
    seconds: round(Math.max(seconds, 0), 3),
    tps: seconds > 0 ? Math.round(c.received / seconds) : 0,
    latencyUs: ledger.latency.summary(),
  };
}
