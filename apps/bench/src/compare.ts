/**
 * `karman-bench compare`: the same workload against a Karman cluster this command starts (one
 * nameserver and one broker as child processes, ASYNC_FLUSH, store in a temporary folder, the
 * broker's production store sizes), against Apache RocketMQ started the same way (the reference: its
 * rows run the Karman rows' workloads with the same Karman client over TCP, and a second table divides
 * each Karman figure by its RocketMQ twin), and against the peers already running on this machine (NATS
 * JetStream, Redis Streams, RabbitMQ; addresses from NATS_URL, REDIS_URL, AMQP_URL). A peer that
 * cannot be reached is skipped with a line saying so. Prints one markdown table (or JSON); with
 * `--out FILE` also writes a markdown report and an SVG chart of the ratios beside it.
 *
 * Exit code 1 when a measured system reported a problem (failed publishes, missing or corrupt
 * messages) or a driver failed midway; unreachable peers are skipped, not failures.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { basename, dirname, extname, join } from 'node:path';
import { startProcessCluster } from '@karman/testkit';
import { apacheRocketMQDriver } from './apache-rocketmq-peer.js';
import type { ApacheRocketMQTarget } from './apache-rocketmq-peer.js';
import { SYSTEMS } from './bench-options.js';
import type { CompareOptions } from './bench-options.js';
import { markdownDocument, markdownTable, ratioChartSvg, referenceTable } from './compare-report.js';
import type { CompareResult } from './compare-report.js';
import { karmanDriver } from './karman-peer.js';
import type { KarmanTarget } from './karman-peer.js';
import type { Writer } from './live-report.js';
import { machineFacts } from './machine-facts.js';
import { DEFAULT_NATS_URL, natsDriver } from './nats-peer.js';
import { PeerUnavailableError, describeError } from './peer-driver.js';
import type { PeerDriver, PeerRow } from './peer-driver.js';
import { DEFAULT_AMQP_URL, rabbitDriver } from './rabbit-peer.js';
import { DEFAULT_REDIS_URL, redisDriver } from './redis-peer.js';

export interface CompareIo {
  stdout: Writer;
  stderr: Writer;
  env: Readonly<Record<string, string | undefined>>;
  signal: AbortSignal;
}

/** In flight while publishing, for every system: the peerbench scripts' window. */
const WINDOW = 1000;

/** The broker's production store sizes (the process cluster's defaults are small test sizes). */
const PRODUCTION_STORE_ARGS = [
  '--flush', 'ASYNC_FLUSH',
  '--set', `mappedFileSizeCommitLog=${1024 ** 3}`,
  '--set', `mappedFileSizeConsumeQueue=${300_000 * 20}`,
  '--set', 'maxHashSlotNum=5000000',
  '--set', 'maxIndexNum=20000000',
  '--set', 'cleanResourceInterval=10000',
];

/** One nameserver and one broker as real processes, for the Karman rows. */
export async function startKarmanProcesses(): Promise<KarmanTarget & AsyncDisposable> {
  const cluster = await startProcessCluster({ brokerArgs: PRODUCTION_STORE_ARGS });
  const pids = [cluster.brokerProcess()?.child.pid, cluster.nameserverProcess()?.child.pid].filter((p): p is number => p !== undefined);
  return {
    namesrvAddr: cluster.namesrvAddr,
    createTopic: (topic, options) => cluster.createTopic(topic, options),
    serverPids: pids,
    notes: ['one nameserver + one broker (ASYNC_MASTER, ASYNC_FLUSH) as child processes run from source with tsx'],
    [Symbol.asyncDispose]: () => cluster.close(),
  };
}

/** The drivers compare runs, in order; the Karman and Apache RocketMQ targets are injectable for tests. */
function drivers(env: Readonly<Record<string, string | undefined>>, transport: 'ws' | 'tcp' = 'tcp', karman: () => Promise<KarmanTarget & AsyncDisposable> = startKarmanProcesses, rocketmq?: () => Promise<ApacheRocketMQTarget>): PeerDriver[] {
  return [karmanDriver(karman, transport), apacheRocketMQDriver(rocketmq), natsDriver(env.NATS_URL || DEFAULT_NATS_URL), redisDriver(env.REDIS_URL || DEFAULT_REDIS_URL), rabbitDriver(env.AMQP_URL || DEFAULT_AMQP_URL)];
}

const DISPLAY: Record<string, string> = { karman: 'Karman', rocketmq: 'Apache RocketMQ', nats: 'NATS JetStream', redis: 'Redis Streams', rabbitmq: 'RabbitMQ' };

/** The command line as typed, for the report. */
function commandLine(options: CompareOptions): string {
  const parts = ['karman-bench compare', `--count ${options.count}`, `--size ${options.size}`, `--latency-count ${options.latencyCount}`];
  if (options.systems.length < SYSTEMS.length) parts.push(`--only ${options.systems.join(',')}`);
  if (options.transport !== 'tcp') parts.push(`--transport ${options.transport}`);
  if (options.out) parts.push(`--out ${options.out}`);
  if (options.json) parts.push('--json');
  return parts.join(' ');
}

export async function runCompare(options: CompareOptions, io: CompareIo, all: PeerDriver[] = drivers(io.env, options.transport)): Promise<number> {
  const machine = machineFacts();
  const runTag = `${Date.now().toString(36)}${Math.random().toString(36).slice(2, 6)}`;
  const log = (line: string): void => void io.stderr.write(`karman-bench compare: ${line}\n`);
  const reference: PeerRow[] = [];
  const result: CompareResult = { karman: [], reference, karmanTransport: options.transport, peers: [], skipped: [], count: options.count, size: options.size, latencyCount: options.latencyCount };
  let failedDrivers = 0;
  for (const driver of all.filter((d) => (options.systems as readonly string[]).includes(d.name))) {
    if (io.signal.aborted) {
      result.skipped.push({ system: DISPLAY[driver.name] ?? driver.name, reason: 'the run was stopped before it' });
      continue;
    }
    try {
      const rows = await driver.run({ count: options.count, size: options.size, window: WINDOW, latencyCount: options.latencyCount, runTag, log });
      (driver.name === 'karman' ? result.karman : driver.name === 'rocketmq' ? reference : result.peers).push(...rows);
      for (const row of rows) log(`${row.system}: publish ${row.publishPerSecond} msg/s, consume ${row.consumePerSecond} msg/s, p50 ${row.latencyP50Us} µs, p99 ${row.latencyP99Us} µs${row.problems.length > 0 ? `; PROBLEMS: ${row.problems.join('; ')}` : ''}`);
    } catch (error) {
      const unavailable = error instanceof PeerUnavailableError;
      if (!unavailable) failedDrivers++;
      const reason = unavailable ? (error as Error).message : `failed: ${describeError(error)}`;
      log(`${DISPLAY[driver.name] ?? driver.name} skipped: ${reason}`);
      result.skipped.push({ system: DISPLAY[driver.name] ?? driver.name, reason });
    }
  }
  const facts = machine.finish();
  const command = commandLine(options);
  if (options.json) io.stdout.write(`${JSON.stringify({ command, machine: facts, ...result })}\n`);
  else io.stdout.write(`${markdownTable(result)}${referenceTable(result) === '' ? '' : `\n${referenceTable(result)}`}`);
  if (options.out) {
    const chart = `${basename(options.out, extname(options.out))}.svg`;
    mkdirSync(dirname(options.out), { recursive: true });
    writeFileSync(options.out, markdownDocument(result, facts, command, chart));
    writeFileSync(join(dirname(options.out), chart), ratioChartSvg(result));
    log(`wrote ${options.out} and ${join(dirname(options.out), chart)}`);
  }
  const problems = [...result.karman, ...reference, ...result.peers].filter((r) => r.problems.length > 0);
  if (problems.length > 0 || failedDrivers > 0) {
    io.stderr.write(`karman-bench compare: ${[...problems.map((r) => `${r.system}: ${r.problems.join('; ')}`), ...(failedDrivers > 0 ? [`${failedDrivers} system(s) failed midway`] : [])].join(' | ')}\n`);
    return 1;
  }
  return 0;
}
