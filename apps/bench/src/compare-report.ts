/**
 * How `karman-bench compare` shows its results: one markdown table (system, publish and consume
 * rates, publish→ack p50/p99, Karman's rates divided by each peer's), a markdown document around it
 * (machine facts, the exact command, per-system notes) and an SVG bar chart of the ratios, written
 * by hand so the report needs no chart library.
 */
import type { MachineFacts } from './machine-facts.js';
import type { PeerRow, PhaseCpu } from './peer-driver.js';

/** Everything one compare run produced. */
export interface CompareResult {
  /** Karman's rows, in order (64 concurrent sends, then auto-batch). */
  karman: PeerRow[];
  /** Apache RocketMQ's rows (the same workloads as Karman's, same client over TCP), when measured. */
  reference?: PeerRow[];
  /** The Karman rows' client transport; the reference rows always use tcp. */
  karmanTransport?: 'ws' | 'tcp';
  peers: PeerRow[];
  /** Systems not measured, and why. */
  skipped: Array<{ system: string; reason: string }>;
  count: number;
  size: number;
  latencyCount: number;
}

const number = (n: number): string => Math.round(n).toLocaleString('en-US');

/** `2.31×`; `–` when either side is missing. */
export function ratioText(karman: number, peer: number): string {
  if (!(karman > 0) || !(peer > 0)) return '–';
  const r = karman / peer;
  return `${r >= 10 ? r.toFixed(1) : r.toFixed(2)}×`;
}

function shortName(row: PeerRow): string {
  return row.shortName ?? row.system;
}

function bestConsume(karman: readonly PeerRow[]): number {
  return Math.max(0, ...karman.map((k) => k.consumePerSecond));
}

/** The results table, markdown. */
export function markdownTable(result: CompareResult): string {
  const k = result.karman;
  const publishHeader = k.length > 0 ? `Karman publish ÷ this (${k.map(shortName).join(' / ')})` : 'Karman publish ÷ this';
  const lines = [
    `| system | publish msg/s | consume msg/s | publish→ack p50 µs | publish→ack p99 µs | ${publishHeader} | Karman consume ÷ this (best) |`,
    '| --- | ---: | ---: | ---: | ---: | ---: | ---: |',
  ];
  for (const row of [...k, ...(result.reference ?? []), ...result.peers]) {
    const isKarman = k.includes(row);
    const flag = row.problems.length > 0 ? ' ⚠' : '';
    lines.push(
      `| ${row.system}${flag} | ${number(row.publishPerSecond)} | ${number(row.consumePerSecond)} | ${number(row.latencyP50Us)} | ${number(row.latencyP99Us)} | ` +
        `${isKarman ? '–' : k.map((kr) => ratioText(kr.publishPerSecond, row.publishPerSecond)).join(' / ') || '–'} | ${isKarman ? '–' : ratioText(bestConsume(k), row.consumePerSecond)} |`,
    );
  }
  for (const skip of result.skipped) lines.push(`| ${skip.system} (skipped) | – | – | – | – | – | – |`);
  return `${lines.join('\n')}\n`;
}

/** Karman's figure ÷ the reference's, with both figures: `0.85× (12,000 / 14,100)`. */
function pairText(karman: number, reference: number): string {
  const ratio = ratioText(karman, reference);
  return ratio === '–' ? '–' : `${ratio} (${number(karman)} / ${number(reference)})`;
}

/**
 * Karman ÷ Apache RocketMQ per workload: each Karman row beside the reference row of the same
 * workload (same `shortName`), throughput and latency; empty when RocketMQ was not measured.
 */
export function referenceTable(result: CompareResult): string {
  const reference = result.reference ?? [];
  const pairs = result.karman.flatMap((k) => {
    const r = reference.find((row) => shortName(row) === shortName(k));
    return r ? [{ k, r }] : [];
  });
  if (pairs.length === 0) return '';
  // Messages per second of server CPU: what a message costs the broker, whatever share of the cores it got.
  const perCpu = (rate: number, cpu: PhaseCpu): number => (cpu.server !== undefined && cpu.server > 0 ? rate / (cpu.server / 100) : 0);
  const lines = [
    '| workload | publish msg/s, Karman ÷ RocketMQ | consume msg/s, Karman ÷ RocketMQ | publish→ack p50, Karman ÷ RocketMQ | publish→ack p99, Karman ÷ RocketMQ | published per server CPU-second, Karman ÷ RocketMQ | consumed per server CPU-second, Karman ÷ RocketMQ |',
    '| --- | ---: | ---: | ---: | ---: | ---: | ---: |',
    ...pairs.map(
      ({ k, r }) =>
        `| ${shortName(k)}${k.problems.length + r.problems.length > 0 ? ' ⚠' : ''} | ${pairText(k.publishPerSecond, r.publishPerSecond)} | ${pairText(k.consumePerSecond, r.consumePerSecond)} | ${pairText(k.latencyP50Us, r.latencyP50Us)} | ${pairText(k.latencyP99Us, r.latencyP99Us)} | ` +
        `${pairText(perCpu(k.publishPerSecond, k.cpu.publish), perCpu(r.publishPerSecond, r.cpu.publish))} | ${pairText(perCpu(k.consumePerSecond, k.cpu.consume), perCpu(r.consumePerSecond, r.cpu.consume))} |`,
    ),
  ];
  const transport = result.karmanTransport === 'ws' ? ' Karman\'s rows used the WebSocket transport, RocketMQ\'s TCP: run with `--transport tcp` so that only the broker differs.' : ' Both sides used the same Karman client over remoting TCP; only the broker differs.';
  return `${lines.join('\n')}\n\nThroughput above 1× and latency below 1× mean Karman's broker is faster (figures in parentheses: Karman / RocketMQ). Per server CPU-second: each rate divided by its broker and nameserver's CPU use in that phase (cores), which holds when the brokers get different shares of a loaded machine.${transport}\n`;
}

function escapeXml(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
}

const SERIES_COLORS = ['#2f6fb3', '#7fb3e6', '#e0873a'];

/**
 * A horizontal grouped bar chart, one group per peer: Karman's publish rate ÷ the peer's for each
 * Karman row, and Karman's best consume rate ÷ the peer's, with a dashed line at 1× (parity).
 */
export function ratioChartSvg(result: CompareResult): string {
  const series = [...result.karman.map((k) => ({ label: `publish, ${shortName(k)}`, value: (p: PeerRow) => (p.publishPerSecond > 0 ? k.publishPerSecond / p.publishPerSecond : 0) })), { label: 'consume (best Karman)', value: (p: PeerRow) => (p.consumePerSecond > 0 ? bestConsume(result.karman) / p.consumePerSecond : 0) }];
  const groups = [...(result.reference ?? []), ...result.peers];
  const width = 820;
  const left = 190;
  const right = 70;
  const barHeight = 16;
  const groupGap = 18;
  const top = 56;
  const groupHeight = series.length * barHeight + groupGap;
  const plotHeight = Math.max(1, groups.length) * groupHeight;
  const height = top + plotHeight + 30;
  const maxRatio = Math.max(1, ...groups.flatMap((g) => series.map((s) => s.value(g)))) * 1.1;
  const x = (ratio: number): number => left + (ratio / maxRatio) * (width - left - right);
  const parts: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="sans-serif" font-size="12">`,
    `<rect width="${width}" height="${height}" fill="#ffffff"/>`,
    `<text x="12" y="20" font-size="14" font-weight="bold">Karman throughput ÷ peer throughput (${number(result.count)} × ${result.size}-byte messages; above 1× Karman is faster)</text>`,
  ];
  series.forEach((s, i) => {
    const lx = left + i * 200;
    parts.push(`<rect x="${lx}" y="30" width="12" height="12" fill="${SERIES_COLORS[i % SERIES_COLORS.length]}"/>`, `<text x="${lx + 16}" y="40">${escapeXml(s.label)}</text>`);
  });
  groups.forEach((group, g) => {
    const y0 = top + g * groupHeight;
    parts.push(`<text x="${left - 8}" y="${y0 + (series.length * barHeight) / 2 + 4}" text-anchor="end">${escapeXml(group.system)}</text>`);
    series.forEach((s, i) => {
      const ratio = s.value(group);
      const y = y0 + i * barHeight;
      parts.push(
        `<rect x="${left}" y="${y}" width="${Math.max(0, x(ratio) - left).toFixed(1)}" height="${barHeight - 3}" fill="${SERIES_COLORS[i % SERIES_COLORS.length]}"/>`,
        `<text x="${(x(ratio) + 4).toFixed(1)}" y="${y + barHeight - 5}">${ratio > 0 ? `${ratio.toFixed(2)}×` : 'n/a'}</text>`,
      );
    });
  });
  const parity = x(1).toFixed(1);
  parts.push(
    `<line x1="${parity}" y1="${top - 6}" x2="${parity}" y2="${top + plotHeight - groupGap + 4}" stroke="#444" stroke-dasharray="4 3"/>`,
    `<text x="${parity}" y="${top + plotHeight}" text-anchor="middle" fill="#444">1× (parity)</text>`,
  );
  if (groups.length === 0) parts.push(`<text x="${left}" y="${top + 12}">no peer was measured</text>`);
  parts.push('</svg>');
  return `${parts.join('\n')}\n`;
}

/** The markdown document `--out FILE` writes; `chartFile` is the SVG's name beside it. */
export function markdownDocument(result: CompareResult, machine: MachineFacts, command: string, chartFile: string): string {
  const rows = [...result.karman, ...(result.reference ?? []), ...result.peers];
  const reference = referenceTable(result);
  const cpu = (c: { client: number; server: number | undefined }): string => `client ${c.client}%${c.server === undefined ? '' : `, server ${c.server}%`}`;
  return [
    '# Karman compared with Apache RocketMQ, NATS JetStream, Redis Streams and RabbitMQ',
    '',
    `Measured by \`karman-bench compare\` on ${machine.date}: each system publishes ${number(result.count)} messages of ${result.size} bytes with 1000 in flight, consumes them all, then times ${number(result.latencyCount)} one-at-a-time publish→ack round trips. Every client runs in the benchmark's process; each server in its own. The ratio columns are Karman's rate divided by the system's: above 1× Karman is faster.`,
    '',
    '```sh',
    command,
    '```',
    '',
    '## Results',
    '',
    markdownTable(result).trimEnd(),
    '',
    `![Karman throughput divided by each peer's](${chartFile})`,
    '',
    ...(reference === '' ? [] : ['## Karman ÷ Apache RocketMQ, same workload, same client', '', reference.trimEnd(), '']),
    '## Machine',
    '',
    '| item | value |',
    '| --- | --- |',
    `| processors (\`nproc\`) | ${machine.nproc} |`,
    `| CPU | ${machine.cpuModel} |`,
    `| memory | ${number(machine.memoryMiB)} MiB |`,
    `| OS | ${machine.os} |`,
    `| Node.js | ${machine.node} |`,
    `| load average (1, 5, 15 min) at start | ${machine.loadAverageStart.map((l) => l.toFixed(2)).join(', ')} |`,
    `| load average at end | ${machine.loadAverageEnd.map((l) => l.toFixed(2)).join(', ')} |`,
    `| date | ${machine.date} |`,
    '',
    '## Per system',
    '',
    ...rows.flatMap((row) => [
      `- **${row.system}**: ${row.notes.join('; ')}. Published ${number(row.published)}, consumed ${number(row.consumed)}. CPU (percent of one core) while publishing: ${cpu(row.cpu.publish)}; while consuming: ${cpu(row.cpu.consume)}.${row.problems.length > 0 ? ` **Problems:** ${row.problems.join('; ')}.` : ''}`,
    ]),
    ...(result.skipped.length > 0 ? ['', '## Skipped', '', ...result.skipped.map((s) => `- **${s.system}**: ${s.reason}`)] : []),
    '',
    '## Workloads',
    '',
    '- **Karman**: a cluster started for the run (one nameserver, one broker, ASYNC_FLUSH, as child processes, store in a temporary folder); 8-queue topics. Publish: 64 async senders each awaiting `producer.send` (RocketMQ benchmark default), and separately the producer\'s `autoBatch` with 1000 concurrent sends. Consume: one PushConsumer, new group, first offset, no-op handler that checks each body\'s size, sequence and CRC. Latency: `await producer.send` one at a time.',
    '- **Apache RocketMQ** (the reference): started for the run from the Maven Central jars (one nameserver, one broker, ASYNC_MASTER, ASYNC_FLUSH, RocketMQ\'s defaults otherwise; heap 1g, G1); 8-queue topics made with UPDATE_AND_CREATE_TOPIC; the Karman rows\' phases with the same Karman client over remoting TCP.',
    '- **NATS JetStream**: file-storage stream; `js.publish` with a sliding window of 1000 unacknowledged; ordered consumer (`consume({ max_messages: 1000 })`); latency: `await js.publish` one at a time into a fresh stream.',
    '- **Redis Streams**: `XADD key * d <payload>` in ioredis pipelines of 1000, one pipeline in flight; `XREADGROUP GROUP g c1 COUNT 1000` + `XACK` of each batch sent ahead of the next read; latency: `await XADD` one at a time.',
    '- **RabbitMQ**: durable quorum queue, then stream queue; persistent `sendToQueue` on a confirm channel with ≤ 1000 unconfirmed; consume on a second channel with prefetch 1000, ack `multiple` every 100 (stream from `x-stream-offset: first`); latency: publish → confirm one at a time.',
    '',
    'Throughput figures on a 2-core machine vary by 10–30 % between runs and latency p50 by up to 3×: compare systems within one run.',
    '',
  ].join('\n');
}
