import { describe, expect, it } from 'vitest';
import { benchmarkTable } from './rocketmq-benchmark.js';
import type { BrokerBenchmark } from './rocketmq-benchmark.js';
import { consumerDrained, parseConsumerLine, parseProducerLine, summarizeConsumer, summarizeProducer } from './rocketmq-benchmark-output.js';
import type { ConsumerReport } from './rocketmq-benchmark-output.js';

// Lines printed by rocketmq-example 5.5.0's benchmark Producer and Consumer on this project's machine.
const PRODUCER_LINES = [
  'topic: BenchProbe, threadCount: 64, messageSize: 1024, keyEnable: false, propertySize: 0, tagCount: 0, traceEnable: false, aclEnable: false, messageQuantity: 100000, delayEnable: false, delayLevel: 1, asyncEnable: false',
  ' compressEnable: false, reportInterval: 1000',
  'Current Time: 2026-12-04 04:22:23,137 | Send TPS: 526 | Max RT(ms): 2676 | Average RT(ms):  86.704 | Send Failed: 21 | Response Failed: 0',
  'Current Time: 2026-12-04 04:22:47,137 | Send TPS: 5531 | Max RT(ms): 2676 | Average RT(ms):  11.568 | Send Failed: 21 | Response Failed: 0',
  '[Complete] Send Total: 100000 | Send TPS: 5531 | Max RT(ms): 2676 | Average RT(ms):  11.568 | Send Failed: 21 | Response Failed: 0',
];
const CONSUMER_LINES = [
  'topic: RmqBench_mx8hkb014miu, threadCount 20, group: benchmark_consumer_mx8hkb014miu, suffix: false, filterType: null, expression: null, msgTraceEnable: false, aclEnable: false, reportInterval: 1000',
  'Consumer Started.',
  'Current Time: 2026-12-04 04:31:41,540 | Consume TPS: 0 | AVG(B2C) RT(ms):     NaN | AVG(S2C) RT(ms):     NaN | MAX(B2C) RT(ms): 0 | MAX(S2C) RT(ms): 0 | Consume Fail: 0',
  'Current Time: 2026-12-04 04:31:42,575 | Consume TPS: 105 | AVG(B2C) RT(ms): 22250.928 | AVG(S2C) RT(ms): 22232.871 | MAX(B2C) RT(ms): 22759 | MAX(S2C) RT(ms): 22699 | Consume Fail: 0',
  'Current Time: 2026-12-04 04:31:49,539 | Consume TPS: 7522 | AVG(B2C) RT(ms): 20326.210 | AVG(S2C) RT(ms): 20322.177 | MAX(B2C) RT(ms): 21589 | MAX(S2C) RT(ms): 21583 | Consume Fail: 0',
  'Current Time: 2026-12-04 04:31:57,540 | Consume TPS: 645 | AVG(B2C) RT(ms): 20753.291 | AVG(S2C) RT(ms): 20749.672 | MAX(B2C) RT(ms): 0 | MAX(S2C) RT(ms): 0 | Consume Fail: 0',
  'Current Time: 2026-12-04 04:31:58,541 | Consume TPS: 0 | AVG(B2C) RT(ms):     NaN | AVG(S2C) RT(ms):     NaN | MAX(B2C) RT(ms): 0 | MAX(S2C) RT(ms): 0 | Consume Fail: 0',
];

describe("RocketMQ benchmark tools' output", () => {
  it('parses periodic and [Complete] Producer lines, and nothing else', () => {
    const reports = PRODUCER_LINES.map(parseProducerLine);
    expect(reports.slice(0, 2)).toEqual([undefined, undefined]);
    expect(reports[2]).toEqual({ complete: false, time: '2026-12-04 04:22:23,137', sendTps: 526, maxRtMs: 2676, averageRtMs: 86.704, sendFailed: 21, responseFailed: 0 });
    expect(reports[4]).toEqual({ complete: true, sendTotal: 100_000, sendTps: 5531, maxRtMs: 2676, averageRtMs: 11.568, sendFailed: 21, responseFailed: 0 });
    // A window without a successful send, against a cluster without the topic's route.
    expect(parseProducerLine('Current Time: 2026-12-04 04:24:17,873 | Send TPS: 0 | Max RT(ms): 0 | Average RT(ms):     NaN | Send Failed: 5864 | Response Failed: 0')?.averageRtMs).toBeNaN();
    // The short form, printed when the run ended before two snapshots were taken.
    expect(parseProducerLine('[Complete] Send Total: 12 Send Failed: 0 Response Failed: 0')).toEqual({ complete: true, sendTotal: 12, sendFailed: 0, responseFailed: 0 });
  });

  it('summarizes a Producer run by its [Complete] line, else its last report, and keeps the best window', () => {
    const reports = PRODUCER_LINES.map(parseProducerLine).filter((r) => r !== undefined);
    expect(summarizeProducer(reports)).toMatchObject({ final: { complete: true, sendTps: 5531, sendTotal: 100_000 }, peakSendTps: 5531, reports: 2 });
    expect(summarizeProducer(reports.slice(0, 2))).toMatchObject({ final: { complete: false, sendTps: 5531, averageRtMs: 11.568 }, reports: 2 });
    const short = [reports[1]!, parseProducerLine('[Complete] Send Total: 5000 Send Failed: 1 Response Failed: 0')!];
    expect(summarizeProducer(short).final).toMatchObject({ complete: true, sendTotal: 5000, sendTps: 5531, sendFailed: 1 });
    expect(summarizeProducer([])).toEqual({ final: undefined, peakSendTps: 0, reports: 0 });
  });

  it('parses Consumer lines, NaN averages included, and sees the drain end at a window without messages', () => {
    const reports = CONSUMER_LINES.map(parseConsumerLine);
    expect(reports.slice(0, 2)).toEqual([undefined, undefined]);
    expect(reports[4]).toEqual({ time: '2026-12-04 04:31:49,539', consumeTps: 7522, avgB2cMs: 20326.21, avgS2cMs: 20322.177, maxB2cMs: 21589, maxS2cMs: 21583, consumeFail: 0 });
    expect(reports[2]?.avgB2cMs).toBeNaN();
    const parsed = reports.filter((r): r is ConsumerReport => r !== undefined);
    expect(consumerDrained(parsed.slice(0, 1))).toBe(false);
    expect(consumerDrained(parsed.slice(0, 4))).toBe(false);
    expect(consumerDrained(parsed)).toBe(true);
    expect(summarizeConsumer(parsed)).toMatchObject({ best: { consumeTps: 7522, avgB2cMs: 20326.21 }, maxB2cMs: 22759, maxS2cMs: 22699, consumeFail: 0, nonZeroReports: 3, reports: 5, exact: false });
  });

  it('tabulates both brokers with Karman ÷ RocketMQ, marking a drain rate that is only a lower bound', () => {
    const phase = { seconds: 60, toolCpu: 50, serverCpu: 80, serverGc: undefined, exitCode: null };
    const bench = (broker: 'karman' | 'rocketmq', system: string, sendTps: number, consumeTps: number, exact: boolean): BrokerBenchmark => ({
      broker,
      system,
      notes: [],
      producer: { final: { complete: false, sendTps, maxRtMs: 100, averageRtMs: 8, sendFailed: 0, responseFailed: 0 }, peakSendTps: sendTps, reports: 50, phase },
      consumer: { best: { time: 't', consumeTps, avgB2cMs: 1, avgS2cMs: 1, maxB2cMs: 2, maxS2cMs: 2, consumeFail: 0 }, maxB2cMs: 2, maxS2cMs: 2, consumeFail: 0, nonZeroReports: exact ? 30 : 10, reports: 40, exact, drained: true, phase: { ...phase, serverGc: broker === 'rocketmq' ? { collections: 3, seconds: 0.05 } : undefined } },
    });
    const lines = benchmarkTable([bench('karman', 'Karman', 6_000, 20_000, true), bench('rocketmq', 'Apache RocketMQ', 8_000, 40_000, true)]).split('\n');
    expect(lines[0]).toBe('| figure | Karman | Apache RocketMQ | Karman ÷ RocketMQ |');
    expect(lines[2]).toBe('| Producer Send TPS (`[Complete]`, else last report; 9-s window) | 6,000 | 8,000 | 0.75× |');
    expect(lines.find((l) => l.startsWith('| Consumer Consume TPS'))).toBe('| Consumer Consume TPS, best window | 20,000 | 40,000 | 0.50× |');
    expect(lines.find((l) => l.startsWith('| broker JVM GC while consuming'))).toBe('| broker JVM GC while consuming | – | 3 / 0.050 s | – |');
    const loose = benchmarkTable([bench('karman', 'Karman', 6_000, 20_000, true), bench('rocketmq', 'Apache RocketMQ', 8_000, 40_000, false)]).split('\n');
    expect(loose.find((l) => l.startsWith('| Consumer Consume TPS'))).toBe('| Consumer Consume TPS, best window | 20,000 | ≥ 40,000 | – |');
    expect(benchmarkTable([bench('karman', 'Karman', 6_000, 20_000, true)]).split('\n')[0]).toBe('| figure | Karman |');
  });
});
