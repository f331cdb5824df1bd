/**
 * What Apache RocketMQ's benchmark tools print, read back: `org.apache.rocketmq.example.benchmark.Producer`
 * and `Consumer` (rocketmq-example 5.5.0) print one line per report interval (`-ri`) once they hold
 * ten one-second snapshots, each over the window from the oldest snapshot to the newest (9 s with
 * `-ri 1000`), and the Producer, when it stops after `-q` messages, a `[Complete]` line:
 *
 *   Current Time: 2026-12-04 04:22:47,137 | Send TPS: 5531 | Max RT(ms): 2676 | Average RT(ms):  11.568 | Send Failed: 21 | Response Failed: 0
 *   [Complete] Send Total: 100000 | Send TPS: 5531 | Max RT(ms): 2676 | Average RT(ms):  11.568 | Send Failed: 21 | Response Failed: 0
 *   [Complete] Send Total: 12 Send Failed: 0 Response Failed: 0          (fewer than two snapshots)
 *   Current Time: 2026-12-04 04:33:26,017 | Consume TPS: 7547 | AVG(B2C) RT(ms): 11958.220 | AVG(S2C) RT(ms): 11952.155 | MAX(B2C) RT(ms): 19909 | MAX(S2C) RT(ms): 19682 | Consume Fail: 0
 *
 * Send TPS and Average RT are over the window; Max RT is over the whole run; Send Failed and
 * Response Failed are running totals (client-side exceptions, and broker error responses). The
 * Consumer's figures are all over the window, MAX reset at each report; B2C is born time (the
 * producer's clock) → consume, S2C the broker's store time → consume. `Send Total` counts attempts,
 * failed ones included. Average RT prints `NaN` for a window without a successful send.
 */

/** One Producer report line. */
export interface ProducerReport {
  /** `[Complete]` (the final line of a `-q` run) rather than a periodic one. */
  complete: boolean;
  /** `Current Time` of a periodic line. */
  time?: string;
  /** Attempts, failed included (`[Complete]` only). */
  sendTotal?: number;
  /** Undefined on the short `[Complete]` line. */
  sendTps?: number;
  maxRtMs?: number;
  /** NaN when the window held no successful send. */
  averageRtMs?: number;
  sendFailed: number;
  responseFailed: number;
}

/** One Consumer report line. */
export interface ConsumerReport {
  time: string;
  consumeTps: number;
  avgB2cMs: number;
  avgS2cMs: number;
  maxB2cMs: number;
  maxS2cMs: number;
  consumeFail: number;
}

const DECIMAL = '(NaN|-?\\d+(?:\\.\\d+)?)';
const PRODUCER_LINE = new RegExp(`^(?:Current Time: (.+?)|\\[Complete\\] Send Total: (\\d+)) \\| Send TPS: (\\d+) \\| Max RT\\(ms\\): (\\d+) \\| Average RT\\(ms\\):\\s*${DECIMAL} \\| Send Failed: (\\d+) \\| Response Failed: (\\d+)\\s*$`);
const PRODUCER_SHORT_COMPLETE = /^\[Complete\] Send Total: (\d+) Send Failed: (\d+) Response Failed: (\d+)\s*$/;
const CONSUMER_LINE = new RegExp(`^Current Time: (.+?) \\| Consume TPS: (\\d+) \\| AVG\\(B2C\\) RT\\(ms\\):\\s*${DECIMAL} \\| AVG\\(S2C\\) RT\\(ms\\):\\s*${DECIMAL} \\| MAX\\(B2C\\) RT\\(ms\\): (-?\\d+) \\| MAX\\(S2C\\) RT\\(ms\\): (-?\\d+) \\| Consume Fail: (\\d+)\\s*$`);

/** A Producer report, or undefined for any other line (the start banner, log noise). */
export function parseProducerLine(line: string): ProducerReport | undefined {
  const m = PRODUCER_LINE.exec(line.trim());
  if (m) {
    return {
      complete: m[2] !== undefined,
      ...(m[1] !== undefined ? { time: m[1] } : { sendTotal: Number(m[2]) }),
      sendTps: Number(m[3]),
      maxRtMs: Number(m[4]),
      averageRtMs: Number(m[5]),
      sendFailed: Number(m[6]),
      responseFailed: Number(m[7]),
    };
  }
  const s = PRODUCER_SHORT_COMPLETE.exec(line.trim());
  if (s) return { complete: true, sendTotal: Number(s[1]), sendFailed: Number(s[2]), responseFailed: Number(s[3]) };
  return undefined;
}

/** A Consumer report, or undefined for any other line. */
export function parseConsumerLine(line: string): ConsumerReport | undefined {
  const m = CONSUMER_LINE.exec(line.trim());
  if (!m) return undefined;
  return { time: m[1]!, consumeTps: Number(m[2]), avgB2cMs: Number(m[3]), avgS2cMs: Number(m[4]), maxB2cMs: Number(m[5]), maxS2cMs: Number(m[6]), consumeFail: Number(m[7]) };
}

/** The Producer's figures for the table: its `[Complete]` line, else its last periodic one, and the best window. */
export interface ProducerSummary {
  /** The line the figures come from. */
  final: ProducerReport | undefined;
  /** The highest Send TPS of any window. */
  peakSendTps: number;
  reports: number;
}

export function summarizeProducer(reports: readonly ProducerReport[]): ProducerSummary {
  const periodic = reports.filter((r) => !r.complete);
  const complete = reports.find((r) => r.complete);
  // The short [Complete] line has no rates; the last window then speaks for the run.
  const last = periodic[periodic.length - 1];
  const final = complete && complete.sendTps !== undefined ? complete : complete && last ? { ...last, complete: true, sendTotal: complete.sendTotal, sendFailed: complete.sendFailed, responseFailed: complete.responseFailed } : (complete ?? last);
  return { final, peakSendTps: Math.max(0, ...periodic.map((r) => r.sendTps ?? 0)), reports: periodic.length };
}

/**
 * The Consumer's figures for the table. A drain of a backlog shows as a run of windows with
 * messages; the best window's Consume TPS is the drain rate once one window lay wholly inside the
 * drain, which at least 18 windows with messages prove (`-ri 1000`: each window spans 9 s, and the
 * first report comes 10 s after the start, so a drain that began before it still leaves 9 windows
 * after its end). With fewer it is a lower bound (`exact` false). MAX B2C/S2C are over all
 * windows; the AVGs are the best window's.
 */
export interface ConsumerSummary {
  best: ConsumerReport | undefined;
  maxB2cMs: number;
  maxS2cMs: number;
  /** Highest Consume Fail of a window. */
  consumeFail: number;
  nonZeroReports: number;
  reports: number;
  /** Whether the best window's Consume TPS is the drain rate rather than a lower bound. */
  exact: boolean;
}

/** Windows with messages that prove one window lay wholly inside the drain (see `summarizeConsumer`). */
const EXACT_DRAIN_REPORTS = 18;

export function summarizeConsumer(reports: readonly ConsumerReport[]): ConsumerSummary {
  let best: ConsumerReport | undefined;
  for (const r of reports) if (r.consumeTps > 0 && (!best || r.consumeTps > best.consumeTps)) best = r;
  const nonZeroReports = reports.filter((r) => r.consumeTps > 0).length;
  return {
    best,
    maxB2cMs: Math.max(0, ...reports.map((r) => r.maxB2cMs)),
    maxS2cMs: Math.max(0, ...reports.map((r) => r.maxS2cMs)),
    consumeFail: Math.max(0, ...reports.map((r) => r.consumeFail)),
    nonZeroReports,
    reports: reports.length,
    exact: nonZeroReports >= EXACT_DRAIN_REPORTS,
  };
}

/** Whether a Consumer has drained its topic: a window without messages after windows with some. */
export function consumerDrained(reports: readonly ConsumerReport[]): boolean {
  const last = reports[reports.length - 1];
  return last !== undefined && last.consumeTps === 0 && reports.some((r) => r.consumeTps > 0);
}
