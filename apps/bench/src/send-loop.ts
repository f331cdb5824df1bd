/**
 * The sending half of every Karman benchmark, after RocketMQ's benchmark `Producer`: CONCURRENCY
 * async senders, each awaiting `producer.send` (or `sendBatch`) before its next message, until the
 * count is reached or the run is stopped. Only SEND_OK counts as sent; any other status and every
 * thrown error count as failed, by reason. Each message's send→ack time goes to a histogram.
 */
import { KarmanError } from '@karman/protocol';
import type { Message, Producer } from '@karman/producer';
import { encodeBody, preciseNow } from './bench-body.js';
import { Histogram } from './histogram.js';
import { SecondWindow } from './live-report.js';

export interface SendLoopOptions {
  topic: string;
  size: number;
  concurrency: number;
  /** Messages to send in all; undefined sends until `signal` aborts. */
  count: number | undefined;
  /** Messages per sendBatch call (1: plain send). */
  batch?: number;
  keys?: boolean;
  tags?: number;
  /** Topics to spread over: `${topic}-${i}`; 1 (default) sends to `topic`. */
  topics?: number;
  delayLevel?: number;
  /** Messages per second, all senders together. */
  rate?: number | undefined;
  runId: number;
  signal?: AbortSignal;
}

/** What a send loop did. */
export class SendTally {
  readonly latency = new Histogram();
  readonly window = new SecondWindow();
  ok = 0;
  failed = 0;
  readonly failuresByReason: Record<string, number> = {};
  /** First error text per reason, so the summary can say what went wrong. */
  readonly firstError: Record<string, string> = {};

  fail(reason: string, messages: number, detail: string): void {
    this.failed += messages;
    this.window.fail(messages);
    this.failuresByReason[reason] = (this.failuresByReason[reason] ?? 0) + messages;
    this.firstError[reason] ??= detail;
  }
}

function reasonOf(error: unknown): string {
  if (error instanceof KarmanError) return error.code;
  if (error instanceof Error) return error.name;
  return 'UNKNOWN';
}

const sleep = (millis: number): Promise<void> => new Promise((wake) => setTimeout(wake, millis));

/** Run the senders to the end; resolves when every sender has stopped. */
export async function runSendLoop(producer: Producer, options: SendLoopOptions, tally: SendTally): Promise<void> {
  const batch = options.batch ?? 1;
  const tagCount = options.tags ?? 0;
  const runHex = options.runId.toString(16).padStart(8, '0');
  let next = 0; // next sequence to hand out
  const started = performance.now();

  const topicCount = options.topics ?? 1;
  const topicNames = topicCount > 1 ? Array.from({ length: topicCount }, (_, i) => `${options.topic}-${i}`) : [options.topic];
  const message = (sequence: number): Message => {
    // A batch goes to one topic: spread whole batches.
    const m: Message = { topic: topicNames[Math.floor(sequence / batch) % topicNames.length]!, body: encodeBody(options.size, options.runId, sequence) };
    if (options.keys) m.keys = `${runHex}-${sequence}`;
    if (tagCount > 0) m.tags = `Tag${sequence % tagCount}`;
    if (options.delayLevel) m.delayLevel = options.delayLevel;
    return m;
  };

  const sender = async (): Promise<void> => {
    for (;;) {
      if (options.signal?.aborted) return;
      const left = options.count === undefined ? batch : Math.min(batch, options.count - next);
      if (left <= 0) return;
      const first = next;
      next += left;
      if (options.rate !== undefined) {
        const due = started + (first * 1000) / options.rate;
        const wait = due - performance.now();
        if (wait >= 1) await sleep(wait);
        if (options.signal?.aborted) {
          next = Math.min(next, first); // nothing was sent for this claim
          return;
        }
      }
      const messages = Array.from({ length: left }, (_, i) => message(first + i));
      const sentAt = preciseNow();
      try {
        const results = left === 1 && batch === 1 ? [await producer.send(messages[0]!)] : await producer.sendBatch(messages);
        const micros = (preciseNow() - sentAt) * 1000;
        for (const result of results) {
          if (result.status === 'SEND_OK') {
            tally.ok++;
            tally.latency.record(micros);
            tally.window.record(micros);
          } else {
            tally.fail(result.status, 1, `the broker answered ${result.status}`);
          }
        }
      } catch (error) {
        tally.fail(reasonOf(error), left, (error as Error).message ?? String(error));
      }
    }
  };
  await Promise.all(Array.from({ length: options.concurrency }, sender));
}
