/**
 * `karman-bench rocketmq-benchmark`: Apache RocketMQ's own benchmark tools, unchanged, against a
 * Karman cluster (started as compare starts it) and then against Apache RocketMQ 5.5.0 (started
 * with `startApacheRocketMQ`), in one run. Per broker: a fresh 8-queue topic; the example
 * `org.apache.rocketmq.example.benchmark.Producer` (`-w 64`, synchronous sends, `-s 1024`,
 * `-ri 1000`, as `benchmark/producer.sh` runs it with `sendSmartMsg`) for `--seconds` or `-q`
 * messages; then the example `Consumer` (a new group, `-w 20`) until it has drained the topic (a
 * report window without messages) or `--consume-seconds` pass. Both tools run as `java -cp
 * <the reference's class path>` and their report lines are parsed (`rocketmq-benchmark-output.ts`).
 *
 * A subcommand rather than a script: it reuses compare's Karman cluster, the reference's start-up,
 * the CPU meter and the CLI's flag checking and signal handling, and runs the same everywhere
 * `karman-bench` runs.
 */
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { apacheRocketMQAvailability, apacheRocketMQClasspath } from '@karman/apache-rocketmq';
import { startApacheRocketMQTarget } from './apache-rocketmq-peer.js';
import type { BenchmarkBroker, RocketMQBenchmarkOptions } from './bench-options.js';
import { startKarmanProcesses } from './compare.js';
import type { KarmanTarget } from './karman-peer.js';
import type { Writer } from './live-report.js';
import { machineFacts } from './machine-facts.js';
import type { MachineFacts } from './machine-facts.js';
import { processCpuSeconds } from './peer-driver.js';
import { consumerDrained, parseConsumerLine, parseProducerLine, summarizeConsumer, summarizeProducer } from './rocketmq-benchmark-output.js';
import type { ConsumerReport, ConsumerSummary, ProducerReport, ProducerSummary } from './rocketmq-benchmark-output.js';

export interface RocketMQBenchmarkIo {
  stdout: Writer;
  stderr: Writer;
  signal: AbortSignal;
}

/** What one tool run cost: wall time, CPU (percent of one core) of the tool's JVM and of the broker processes, broker GC when it is a JVM. */
interface ToolPhase {
  seconds: number;
  toolCpu: number | undefined;
  serverCpu: number | undefined;
  /** The broker JVM's collections and GC seconds during the phase (jstat); undefined for Karman. */
  serverGc: { collections: number; seconds: number } | undefined;
  exitCode: number | null;
}

export interface BrokerBenchmark {
  broker: BenchmarkBroker;
  system: string;
  notes: string[];
  producer: ProducerSummary & { phase: ToolPhase };
  consumer: ConsumerSummary & { phase: ToolPhase; drained: boolean };
}

const DISPLAY: Record<BenchmarkBroker, string> = { karman: 'Karman', rocketmq: 'Apache RocketMQ' };

/** The targets, injectable for tests. Each broker process's pid is first in `serverPids`. */
export type BenchmarkTargets = Record<BenchmarkBroker, () => Promise<KarmanTarget & AsyncDisposable>>;

const DEFAULT_TARGETS: BenchmarkTargets = { karman: startKarmanProcesses, rocketmq: startApacheRocketMQTarget };

function javaCommand(): string {
  return process.env.JAVA_HOME ? join(process.env.JAVA_HOME, 'bin', 'java') : 'java';
}

/** Young + full + concurrent collections and total GC seconds of a JVM, from `jstat -gc`; undefined without jstat. */
function jvmGcTotals(pid: number | undefined): { collections: number; seconds: number } | undefined {
  if (pid === undefined) return undefined;
  const out = spawnSync('jstat', ['-gc', String(pid)], { encoding: 'utf8' });
  if (out.error || out.status !== 0) return undefined;
  const [header, values] = out.stdout.trim().split('\n').map((l) => l.trim().split(/\s+/));
  if (!header || !values) return undefined;
  const field = (name: string): number => Number(values[header.indexOf(name)] ?? NaN);
  const collections = ['YGC', 'FGC', 'CGC'].map(field).filter(Number.isFinite).reduce((a, b) => a + b, 0);
  const seconds = field('GCT');
  return Number.isFinite(seconds) ? { collections, seconds } : undefined;
}

interface ToolRun<T> {
  reports: T[];
  phase: ToolPhase;
}

/**
 * Run one benchmark class until it exits, `stopWhen` says so, `maxMillis` pass or the run is
 * stopped; its report lines go to `onLine` and are parsed with `parse`.
 */
async function runTool<T>(classpath: string, home: string, mainClass: string, args: string[], serverPids: readonly number[], parse: (line: string) => T | undefined, onLine: (line: string) => void, stopWhen: (reports: readonly T[]) => boolean, maxMillis: number, signal: AbortSignal): Promise<ToolRun<T>> {
  const jvm = ['-Xms1g', '-Xmx1g', '-XX:+UseG1GC', '-XX:-OmitStackTraceInFastThrow', '-Dorg.apache.rocketmq.client.sendSmartMsg=true', `-Duser.home=${home}`, '-Drmq.logback.configurationFile=rmq.client.logback.xml', '-cp', classpath];
  const child = spawn(javaCommand(), [...jvm, mainClass, ...args], { cwd: home, stdio: ['ignore', 'pipe', 'pipe'] });
  const reports: T[] = [];
  const started = performance.now();
  const serverStart = processCpuSeconds(serverPids);
  const gcStart = jvmGcTotals(serverPids[0]);
  let toolCpu = 0;
  const sampleTool = (): void => {
    toolCpu = (child.pid !== undefined ? processCpuSeconds([child.pid]) : undefined) ?? toolCpu;
  };
  const sampler = setInterval(sampleTool, 500);
  let pending = '';
  let stopping = false;
  const stop = (): void => {
    if (stopping || child.exitCode !== null) return;
    stopping = true;
    sampleTool();
    child.kill('SIGTERM');
    setTimeout(() => child.exitCode === null && child.kill('SIGKILL'), 10_000).unref();
  };
  const onData = (chunk: Buffer): void => {
    pending += chunk.toString('utf8');
    const lines = pending.split('\n');
    pending = lines.pop() ?? '';
    for (const line of lines) {
      if (line.trim() !== '') onLine(line.trim());
      const report = parse(line);
      if (report === undefined) continue;
      reports.push(report);
      if (stopWhen(reports)) stop();
    }
  };
  child.stdout.on('data', onData);
  child.stderr.on('data', (chunk: Buffer) => void chunk);
  const timer = setTimeout(stop, maxMillis);
  const onAbort = (): void => stop();
  signal.addEventListener('abort', onAbort);
  const exitCode = await new Promise<number | null>((resolve) => {
    child.on('error', () => resolve(null));
    child.on('exit', (code) => resolve(code));
  });
  clearTimeout(timer);
  clearInterval(sampler);
  signal.removeEventListener('abort', onAbort);
  const seconds = (performance.now() - started) / 1000;
  const serverEnd = processCpuSeconds(serverPids);
  const gcEnd = jvmGcTotals(serverPids[0]);
  const percent = (cpuSeconds: number): number => Math.round((cpuSeconds / seconds) * 1000) / 10;
  return {
    reports,
    phase: {
      seconds,
      toolCpu: toolCpu > 0 ? percent(toolCpu) : undefined,
      serverCpu: serverStart === undefined || serverEnd === undefined ? undefined : percent(serverEnd - serverStart),
      serverGc: gcStart && gcEnd ? { collections: gcEnd.collections - gcStart.collections, seconds: Math.round((gcEnd.seconds - gcStart.seconds) * 1000) / 1000 } : undefined,
      exitCode: stopping ? null : exitCode,
    },
  };
}

async function benchmarkBroker(broker: BenchmarkBroker, options: RocketMQBenchmarkOptions, classpath: string, runTag: string, targets: BenchmarkTargets, log: (line: string) => void, signal: AbortSignal): Promise<BrokerBenchmark> {
  const system = DISPLAY[broker];
  log(`${system}: starting`);
  await using target = await targets[broker]();
  const home = mkdtempSync(join(tmpdir(), 'karman-rocketmq-benchmark-'));
  try {
    const topic = `RmqBench_${runTag}`;
    await target.createTopic(topic, { queues: 8 });
    const producerArgs = ['-n', target.namesrvAddr, '-t', topic, '-w', String(options.threads), '-s', String(options.size), '-ri', '1000', ...(options.count !== undefined ? ['-q', String(options.count)] : [])];
    log(`${system}: Producer ${producerArgs.join(' ')}${options.count === undefined ? ` for ${options.seconds} s` : ''}`);
    const producer = await runTool<ProducerReport>(classpath, home, 'org.apache.rocketmq.example.benchmark.Producer', producerArgs, target.serverPids, parseProducerLine, (line) => log(`${system} Producer: ${line}`), () => false, options.count === undefined ? options.seconds * 1000 : 24 * 3_600_000, signal);
    const consumerArgs = ['-n', target.namesrvAddr, '-t', topic, '-g', `benchmark_consumer_${runTag}`, '-w', String(options.consumerThreads), '-ri', '1000'];
    log(`${system}: Consumer ${consumerArgs.join(' ')} until drained (at most ${options.consumeSeconds} s)`);
    const consumer = signal.aborted
      ? { reports: [] as ConsumerReport[], phase: { seconds: 0, toolCpu: undefined, serverCpu: undefined, serverGc: undefined, exitCode: null } }
      : await runTool<ConsumerReport>(classpath, home, 'org.apache.rocketmq.example.benchmark.Consumer', consumerArgs, target.serverPids, parseConsumerLine, (line) => log(`${system} Consumer: ${line}`), consumerDrained, options.consumeSeconds * 1000, signal);
    return {
      broker,
      system,
      notes: target.notes,
      producer: { ...summarizeProducer(producer.reports), phase: producer.phase },
      consumer: { ...summarizeConsumer(consumer.reports), phase: consumer.phase, drained: consumerDrained(consumer.reports) },
    };
  } finally {
    rmSync(home, { recursive: true, force: true });
  }
}

const fixed = (n: number | undefined, digits = 0): string => (n === undefined || Number.isNaN(n) ? '–' : n.toLocaleString('en-US', { minimumFractionDigits: digits, maximumFractionDigits: digits }));

/** `karman ÷ rocketmq` as `0.85×`; `–` when either is missing or zero. */
function ratio(karman: number | undefined, reference: number | undefined): string {
  if (karman === undefined || reference === undefined || !(karman > 0) || !(reference > 0)) return '–';
  const r = karman / reference;
  return `${r >= 10 ? r.toFixed(1) : r.toFixed(2)}×`;
}

/** The table: one row per figure, one column per broker, and Karman ÷ RocketMQ when both ran. */
export function benchmarkTable(results: readonly BrokerBenchmark[]): string {
  const k = results.find((r) => r.broker === 'karman');
  const r = results.find((x) => x.broker === 'rocketmq');
  const both = k !== undefined && r !== undefined;
  const rows: Array<[string, (b: BrokerBenchmark) => number | undefined, number, boolean]> = [
    ['Producer Send TPS (`[Complete]`, else last report; 9-s window)', (b) => b.producer.final?.sendTps, 0, true],
    ['Producer Send TPS, best window', (b) => b.producer.peakSendTps, 0, true],
    ['Producer Max RT ms (whole run)', (b) => b.producer.final?.maxRtMs, 0, true],
    ['Producer Average RT ms (that window)', (b) => b.producer.final?.averageRtMs, 3, true],
    ['Producer Send Failed', (b) => b.producer.final?.sendFailed, 0, false],
    ['Producer Response Failed', (b) => b.producer.final?.responseFailed, 0, false],
    ['Consumer Consume TPS, best window', (b) => b.consumer.best?.consumeTps, 0, true],
    ['Consumer AVG(B2C) RT ms (that window)', (b) => b.consumer.best?.avgB2cMs, 3, true],
    ['Consumer AVG(S2C) RT ms (that window)', (b) => b.consumer.best?.avgS2cMs, 3, true],
    ['Consumer MAX(B2C) RT ms (all windows)', (b) => b.consumer.maxB2cMs, 0, true],
    ['Consumer MAX(S2C) RT ms (all windows)', (b) => b.consumer.maxS2cMs, 0, true],
    ['Consumer Consume Fail (worst window)', (b) => b.consumer.consumeFail, 0, false],
    ['Consumer report windows with messages (18+: the best window lay inside the drain)', (b) => b.consumer.nonZeroReports, 0, false],
    ['broker + nameserver CPU % over the Producer run', (b) => b.producer.phase.serverCpu, 1, false],
    ['Producer JVM CPU % (its whole run, start-up included)', (b) => b.producer.phase.toolCpu, 1, false],
    ['broker + nameserver CPU % over the Consumer run', (b) => b.consumer.phase.serverCpu, 1, false],
    ['Consumer JVM CPU % (its whole run)', (b) => b.consumer.phase.toolCpu, 1, false],
  ];
  const gc = (phase: ToolPhase): string => (phase.serverGc ? `${phase.serverGc.collections} / ${phase.serverGc.seconds.toFixed(3)} s` : '–');
  const header = `| figure | ${results.map((b) => b.system).join(' | ')} |${both ? ' Karman ÷ RocketMQ |' : ''}`;
  const lines = [header, `| --- |${results.map(() => ' ---: |').join('')}${both ? ' ---: |' : ''}`];
  for (const [name, get, digits, ratioed] of rows) {
    // A drain shorter than a report window gives only a lower bound of its rate.
    const bound = (b: BrokerBenchmark): string => (name.startsWith('Consumer Consume TPS') && b.consumer.best && !b.consumer.exact ? '≥ ' : '');
    const loose = name.startsWith('Consumer Consume TPS') && results.some((b) => bound(b) !== '');
    lines.push(`| ${name} | ${results.map((b) => `${bound(b)}${fixed(get(b), digits)}`).join(' | ')} |${both ? ` ${ratioed && !loose ? ratio(get(k), get(r)) : '–'} |` : ''}`);
  }
  lines.push(`| broker JVM GC while producing (collections / time) | ${results.map((b) => gc(b.producer.phase)).join(' | ')} |${both ? ' – |' : ''}`);
  lines.push(`| broker JVM GC while consuming | ${results.map((b) => gc(b.consumer.phase)).join(' | ')} |${both ? ' – |' : ''}`);
  return `${lines.join('\n')}\n`;
}

function commandLine(options: RocketMQBenchmarkOptions): string {
  const parts = ['karman-bench rocketmq-benchmark', options.count !== undefined ? `-q ${options.count}` : `--seconds ${options.seconds}`, `-w ${options.threads}`, `-s ${options.size}`, `--consumer-threads ${options.consumerThreads}`, `--consume-seconds ${options.consumeSeconds}`];
  if (options.brokers.length < 2) parts.push(`--only ${options.brokers.join(',')}`);
  if (options.json) parts.push('--json');
  return parts.join(' ');
}

/** Run the benchmark tools against each broker in turn; resolves to the exit code (1 when a broker could not be measured or sends failed). */
export async function runRocketMQBenchmark(options: RocketMQBenchmarkOptions, io: RocketMQBenchmarkIo, targets: BenchmarkTargets = DEFAULT_TARGETS): Promise<number> {
  const log = (line: string): void => void io.stderr.write(`karman-bench rocketmq-benchmark: ${line}\n`);
  const availability = apacheRocketMQAvailability();
  if (!availability.available) {
    log(`cannot run Apache RocketMQ's benchmark tools: ${availability.reason}`);
    return 1;
  }
  const classpath = apacheRocketMQClasspath();
  const machine = machineFacts();
  const runTag = `${Date.now().toString(36)}${Math.random().toString(36).slice(2, 6)}`;
  const results: BrokerBenchmark[] = [];
  const problems: string[] = [];
  for (const broker of options.brokers) {
    if (io.signal.aborted) break;
    try {
      const result = await benchmarkBroker(broker, options, classpath, runTag, targets, log, io.signal);
      results.push(result);
      const final = result.producer.final;
      if (!final) problems.push(`${result.system}: the Producer printed no report`);
      else if (final.sendFailed + final.responseFailed > 0) problems.push(`${result.system}: ${final.sendFailed} sends failed, ${final.responseFailed} error responses`);
      if (!result.consumer.best) problems.push(`${result.system}: the Consumer reported no messages`);
    } catch (error) {
      problems.push(`${DISPLAY[broker]}: ${(error as Error).message ?? String(error)}`);
      log(`${DISPLAY[broker]} failed: ${(error as Error).message ?? String(error)}`);
    }
  }
  const facts: MachineFacts = machine.finish();
  const command = commandLine(options);
  if (options.json) io.stdout.write(`${JSON.stringify({ command, machine: facts, results, problems })}\n`);
  else io.stdout.write(benchmarkTable(results));
  if (problems.length > 0) {
    log(problems.join(' | '));
    return 1;
  }
  return 0;
}
