import { describe, expect, it } from 'vitest';
import { markdownDocument, markdownTable, ratioChartSvg, ratioText, referenceTable } from './compare-report.js';
import type { CompareResult } from './compare-report.js';
import type { PeerRow } from './peer-driver.js';

function row(system: string, publish: number, consume: number, extra: Partial<PeerRow> = {}): PeerRow {
  return {
    system,
    publishPerSecond: publish,
    consumePerSecond: consume,
    latencyP50Us: 200,
    latencyP99Us: 900,
    published: 1000,
    consumed: 1000,
    problems: [],
    cpu: { publish: { client: 95.5, server: 40 }, consume: { client: 50, server: undefined } },
    notes: ['a note'],
    ...extra,
  };
}

const result: CompareResult = {
  karman: [row('Karman (64 concurrent sends)', 10_000, 20_000, { shortName: '64 sends' }), row('Karman (auto-batch, 1000 concurrent sends)', 40_000, 30_000, { shortName: 'auto-batch' })],
  peers: [row('NATS JetStream', 20_000, 150_000), row('Redis Streams <&>', 80_000, 0, { problems: ['read 0 of 1000'] })],
  skipped: [{ system: 'RabbitMQ', reason: 'RabbitMQ at amqp://guest:***@127.0.0.1:5672 is unreachable (ECONNREFUSED)' }],
  count: 1000,
  size: 1024,
  latencyCount: 100,
};

describe('compare report', () => {
  it('writes ratios as Karman ÷ peer with two decimals, and a dash when a side is missing', () => {
    expect(ratioText(40_000, 20_000)).toBe('2.00×');
    expect(ratioText(1, 3)).toBe('0.33×');
    expect(ratioText(123, 1)).toBe('123.0×');
    expect(ratioText(10, 0)).toBe('–');
  });

  it('renders one markdown table: Karman rows first, each peer with both publish ratios and the best consume ratio', () => {
    const lines = markdownTable(result).trimEnd().split('\n');
    expect(lines[0]).toBe('| system | publish msg/s | consume msg/s | publish→ack p50 µs | publish→ack p99 µs | Karman publish ÷ this (64 sends / auto-batch) | Karman consume ÷ this (best) |');
    expect(lines[1]).toBe('| --- | ---: | ---: | ---: | ---: | ---: | ---: |');
    expect(lines[2]).toBe('| Karman (64 concurrent sends) | 10,000 | 20,000 | 200 | 900 | – | – |');
    expect(lines[4]).toBe('| NATS JetStream | 20,000 | 150,000 | 200 | 900 | 0.50× / 2.00× | 0.20× |');
    expect(lines[5]).toBe('| Redis Streams <&> ⚠ | 80,000 | 0 | 200 | 900 | 0.13× / 0.50× | – |');
    expect(lines[6]).toBe('| RabbitMQ (skipped) | – | – | – | – | – | – |');
    expect(lines).toHaveLength(7);
  });

  it('draws an SVG with three bars per peer, a parity line and escaped labels', () => {
    const svg = ratioChartSvg(result);
    expect(svg.startsWith('<svg xmlns="http://www.w3.org/2000/svg"')).toBe(true);
    expect(svg.trimEnd().endsWith('</svg>')).toBe(true);
    // background + 3 legend swatches + 2 peers × 3 bars
    expect(svg.match(/<rect /g)).toHaveLength(1 + 3 + 6);
    expect(svg).toContain('Redis Streams &lt;&amp;&gt;');
    expect(svg).not.toContain('<&>');
    expect(svg).toContain('>2.00×<');
    expect(svg).toContain('1× (parity)');
    expect(svg).toContain('stroke-dasharray');
  });

  it('writes a document with the machine facts, the command, the table, the chart and the skipped systems', () => {
    const doc = markdownDocument(result, { nproc: 2, cpuModel: 'AMD EPYC', memoryMiB: 24_105, os: 'Linux 6.1 x64', node: 'v20.20.2', loadAverageStart: [0.5, 0.25, 0.1], loadAverageEnd: [1.5, 1, 0.5], date: '2025-01-01T00:00:00.000Z' }, 'karman-bench compare --count 1000', 'benchmarks.svg');
    expect(doc).toContain('```sh\nkarman-bench compare --count 1000\n```');
    expect(doc).toContain('| processors (`nproc`) | 2 |');
    expect(doc).toContain('| CPU | AMD EPYC |');
    expect(doc).toContain('| Node.js | v20.20.2 |');
    expect(doc).toContain('| load average (1, 5, 15 min) at start | 0.50, 0.25, 0.10 |');
    expect(doc).toContain(markdownTable(result).trimEnd());
    expect(doc).toContain("![Karman throughput divided by each peer's](benchmarks.svg)");
    expect(doc).toContain('**Problems:** read 0 of 1000');
    expect(doc).toContain('- **RabbitMQ**: RabbitMQ at amqp://guest:***@127.0.0.1:5672 is unreachable');
    expect(doc).toContain('client 95.5%, server 40%');
  });
});

describe('compare report with Apache RocketMQ, the reference', () => {
  const withReference: CompareResult = {
    ...result,
    reference: [row('Apache RocketMQ (64 concurrent sends)', 20_000, 40_000, { shortName: '64 sends', latencyP50Us: 400, latencyP99Us: 1_800 }), row('Apache RocketMQ (auto-batch, 1000 concurrent sends)', 50_000, 0, { shortName: 'auto-batch' })],
    karmanTransport: 'tcp',
  };

  it('lists the reference rows after Karman\'s, with the peers\' ratio columns', () => {
    const lines = markdownTable(withReference).trimEnd().split('\n');
    expect(lines[4]).toBe('| Apache RocketMQ (64 concurrent sends) | 20,000 | 40,000 | 400 | 1,800 | 0.50× / 2.00× | 0.75× |');
    expect(lines[5]).toBe('| Apache RocketMQ (auto-batch, 1000 concurrent sends) | 50,000 | 0 | 200 | 900 | 0.20× / 0.80× | – |');
    expect(lines[6]).toBe('| NATS JetStream | 20,000 | 150,000 | 200 | 900 | 0.50× / 2.00× | 0.20× |');
  });

  it('divides each Karman row by the reference row of the same workload, throughput and latency', () => {
    const lines = referenceTable(withReference).trimEnd().split('\n');
    expect(lines[0]).toBe('| workload | publish msg/s, Karman ÷ RocketMQ | consume msg/s, Karman ÷ RocketMQ | publish→ack p50, Karman ÷ RocketMQ | publish→ack p99, Karman ÷ RocketMQ | published per server CPU-second, Karman ÷ RocketMQ | consumed per server CPU-second, Karman ÷ RocketMQ |');
    // Server CPU 40 % publishing on both sides; consuming it is unknown (undefined), so no ratio.
    expect(lines[2]).toBe('| 64 sends | 0.50× (10,000 / 20,000) | 0.50× (20,000 / 40,000) | 0.50× (200 / 400) | 0.50× (900 / 1,800) | 0.50× (25,000 / 50,000) | – |');
    expect(lines[3]).toBe('| auto-batch | 0.80× (40,000 / 50,000) | – | 1.00× (200 / 200) | 1.00× (900 / 900) | 0.80× (100,000 / 125,000) | – |');
    expect(lines.at(-1)).toContain('only the broker differs');
    expect(referenceTable({ ...withReference, karmanTransport: 'ws' })).toContain('run with `--transport tcp`');
    expect(referenceTable(result)).toBe('');
  });

  it('charts the reference as the first group and puts its table in the document', () => {
    const svg = ratioChartSvg(withReference);
    // background + 3 legend swatches + 4 groups × 3 bars
    expect(svg.match(/<rect /g)).toHaveLength(1 + 3 + 12);
    expect(svg.indexOf('Apache RocketMQ (64 concurrent sends)')).toBeLessThan(svg.indexOf('NATS JetStream'));
    const doc = markdownDocument(withReference, { nproc: 2, cpuModel: 'AMD EPYC', memoryMiB: 24_105, os: 'Linux', node: 'v20', loadAverageStart: [1, 1, 1], loadAverageEnd: [1, 1, 1], date: '2025-01-01T00:00:00.000Z' }, 'karman-bench compare', 'benchmarks.svg');
    expect(doc).toContain('## Karman ÷ Apache RocketMQ, same workload, same client');
    expect(doc).toContain(referenceTable(withReference).split('\n')[2]);
    expect(doc).toContain('- **Apache RocketMQ (64 concurrent sends)**: a note.');
  });
});
