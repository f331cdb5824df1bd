/**
 * What each benchmark reports at the end: one object (printed as JSON with --json) and its text
 * form. Every latency is in microseconds; `count` is what succeeded (SEND_OK sends, or distinct
 * intact messages consumed); `tps` is count over the run's wall time.
 */
import type { LatencySummary } from './histogram.js';
import { formatCount } from './live-report.js';

export interface ProducerSummary {
  command: 'producer';
  topic: string;
  size: number;
  concurrency: number;
  batch: number;
  autoBatch: boolean;
  transport: 'ws' | 'tcp';
  /** Messages answered SEND_OK. */
  count: number;
  /** Messages that failed or were answered with another status. */
  failed: number;
  failuresByReason: Record<string, number>;
  firstErrors: Record<string, string>;
  seconds: number;
  tps: number;
  mbPerSecond: number;
  /** send → SEND_OK time of each message. */
  latencyUs: LatencySummary;
}

export interface ConsumerSummary {
  command: 'consumer';
  topic: string;
  group: string;
  transport: 'ws' | 'tcp';
  /** Distinct intact messages. */
  count: number;
  duplicates: number;
  corrupt: number;
  corruptByReason: Record<string, number>;
  seconds: number;
  tps: number;
  /** Born (producer's clock, in the body) → handler call. */
  latencyUs: LatencySummary;
}

export interface E2eSummary {
  command: 'e2e';
  topic: string;
  group: string;
  size: number;
  concurrency: number;
  rate: number | null;
  transport: 'ws' | 'tcp';
  sent: number;
  failed: number;
  failuresByReason: Record<string, number>;
  /** Distinct intact messages of this run consumed. */
  count: number;
  /** Sent (SEND_OK) but not consumed when the run ended. */
  lost: number;
  duplicates: number;
  corrupt: number;
  corruptByReason: Record<string, number>;
  /** Messages of earlier runs found on the topic, not counted. */
  otherRuns: number;
  seconds: number;
  sendTps: number;
  /** Consumed distinct messages per second. */
  tps: number;
  sendLatencyUs: LatencySummary;
  /** Born → consumed, the end-to-end latency. */
  latencyUs: LatencySummary;
}

export type BenchSummary = ProducerSummary | ConsumerSummary | E2eSummary;

function latencyLine(label: string, l: LatencySummary): string {
  return `  ${label.padEnd(22)} p50 ${formatCount(l.p50)}  p99 ${formatCount(l.p99)}  p99.9 ${formatCount(l.p999)}  max ${formatCount(l.max)}  mean ${formatCount(l.mean)}  (${formatCount(l.count)} samples)`;
}

function reasons(byReason: Record<string, number>): string {
  const entries = Object.entries(byReason);
  return entries.length === 0 ? '' : ` (${entries.map(([r, n]) => `${r}: ${formatCount(n)}`).join(', ')})`;
}

/** The summary as text, a few lines. */
export function summaryText(s: BenchSummary): string {
  const lines: string[] = [];
  const rate = (n: number): string => `${formatCount(n)} in ${s.seconds.toFixed(2)} s = ${formatCount(s.seconds > 0 ? n / s.seconds : 0)} msg/s`;
  if (s.command === 'producer') {
    lines.push(`karman-bench producer: topic ${s.topic}, ${s.size}-byte bodies, ${s.concurrency} senders${s.batch > 1 ? `, batches of ${s.batch}` : ''}${s.autoBatch ? ', auto-batch' : ''}, ${s.transport}`);
    lines.push(`  sent (SEND_OK)         ${rate(s.count)} (${s.mbPerSecond.toFixed(1)} MB/s)`);
    lines.push(`  failed                 ${formatCount(s.failed)}${reasons(s.failuresByReason)}`);
    for (const [reason, text] of Object.entries(s.firstErrors)) lines.push(`    first ${reason}: ${text}`);
    lines.push(latencyLine('send→ack µs', s.latencyUs));
  } else if (s.command === 'consumer') {
    lines.push(`karman-bench consumer: topic ${s.topic}, group ${s.group}, ${s.transport}`);
    lines.push(`  consumed (distinct)    ${rate(s.count)}`);
    lines.push(`  duplicates             ${formatCount(s.duplicates)}`);
    lines.push(`  corrupt                ${formatCount(s.corrupt)}${reasons(s.corruptByReason)}`);
    lines.push(latencyLine('born→consume µs', s.latencyUs));
  } else {
    lines.push(`karman-bench e2e: topic ${s.topic}, group ${s.group}, ${s.size}-byte bodies, ${s.concurrency} senders${s.rate === null ? '' : `, rate cap ${formatCount(s.rate)} msg/s`}, ${s.transport}`);
    lines.push(`  sent (SEND_OK)         ${rate(s.sent)}`);
    lines.push(`  consumed (distinct)    ${rate(s.count)}`);
    lines.push(`  failed sends           ${formatCount(s.failed)}${reasons(s.failuresByReason)}`);
    lines.push(`  lost (sent, not seen)  ${formatCount(s.lost)}`);
    lines.push(`  duplicates             ${formatCount(s.duplicates)}`);
    lines.push(`  corrupt                ${formatCount(s.corrupt)}${reasons(s.corruptByReason)}`);
    if (s.otherRuns > 0) lines.push(`  other runs' messages   ${formatCount(s.otherRuns)} (ignored)`);
    lines.push(latencyLine('send→ack µs', s.sendLatencyUs));
    lines.push(latencyLine('born→consume µs', s.latencyUs));
  }
  return `${lines.join('\n')}\n`;
}

/** Why a finished run counts as failed (exit 1), or undefined when it is clean. */
export function summaryProblem(s: BenchSummary): string | undefined {
  const problems: string[] = [];
  if (s.command !== 'consumer' && s.failed > 0) problems.push(`${formatCount(s.failed)} failed sends`);
  if (s.command !== 'producer' && s.corrupt > 0) problems.push(`${formatCount(s.corrupt)} corrupt messages`);
  if (s.command === 'e2e' && s.lost > 0) problems.push(`${formatCount(s.lost)} messages sent but never consumed`);
  return problems.length === 0 ? undefined : problems.join(', ');
}
