/**
 * karman-bench as a function: `run(argv, io)` parses `<command> [flags]`, runs the benchmark and
 * returns the exit code, writing only to the injected streams and stopping on the injected signal,
 * so tests run it in-process and `main.ts` only wires the process to it.
 *
 * Exit codes: 0 the run finished clean; 1 it could not run, or it found failed sends, corrupt
 * messages or lost messages (the summary is printed first; one line on stderr says why);
 * 2 bad command line (unknown command or flag, malformed value).
 */
import { InvalidArgumentError } from '@karman/protocol';
import { COMMAND_FLAGS, compareOptions, consumerOptions, e2eOptions, parseFlags, producerOptions, rocketmqBenchmarkOptions } from './bench-options.js';
import type { CommandName, FlagSpec } from './bench-options.js';
import { summaryProblem, summaryText } from './bench-summary.js';
import type { BenchSummary } from './bench-summary.js';
import { runCompare } from './compare.js';
import { runConsumerBench } from './consumer-bench.js';
import { runE2eBench } from './e2e-bench.js';
import type { Writer } from './live-report.js';
import { runProducerBench } from './producer-bench.js';
import { runRocketMQBenchmark } from './rocketmq-benchmark.js';

/** Where the CLI writes, what it reads from its environment and what stops it. */
export interface CliIo {
  stdout: Writer;
  stderr: Writer & { isTTY?: boolean };
  /** Environment: NAMESRV_ADDR (default for -n); NATS_URL, REDIS_URL, AMQP_URL for compare. */
  env?: Readonly<Record<string, string | undefined>>;
  /** Aborted on SIGINT/SIGTERM: the benchmark stops and prints its summary. */
  signal?: AbortSignal;
}

const COMMANDS: ReadonlyArray<{ name: CommandName; summary: string; example: string }> = [
  { name: 'producer', summary: 'Send as fast as CONCURRENCY senders can (or at --rate); send→ack latency.', example: 'karman-bench producer -n 127.0.0.1:9876 -t BenchmarkTest -s 1024 -w 64 -q 100000' },
  { name: 'consumer', summary: 'Consume with one PushConsumer from the first offset; check every body; born→consume latency.', example: 'karman-bench consumer -n 127.0.0.1:9876 -t BenchmarkTest -g bench_group -q 100000' },
  { name: 'e2e', summary: 'Produce and consume in one process; end-to-end latency in µs.', example: 'karman-bench e2e -n 127.0.0.1:9876 -t BenchmarkTest -s 1024 -w 16 --rate 5000 -q 50000' },
  { name: 'compare', summary: 'Same workload against a fresh Karman cluster and Apache RocketMQ, NATS JetStream, Redis Streams, RabbitMQ.', example: 'karman-bench compare --count 200000 --out docs/benchmarks.md' },
  { name: 'rocketmq-benchmark', summary: "Apache RocketMQ's benchmark Producer, then Consumer, against a fresh Karman cluster and then Apache RocketMQ.", example: 'karman-bench rocketmq-benchmark --seconds 60' },
];

function flagLine(flag: FlagSpec): string {
  const names = `${flag.short ? `-${flag.short}, ` : '    '}--${flag.long}${flag.type === 'string' ? ` ${flag.value ?? 'VALUE'}` : ''}`;
  return `  ${names.padEnd(30)} ${flag.description}${flag.defaultText ? ` (default: ${flag.defaultText})` : ''}`;
}

function usage(): string {
  return [
    'Usage: karman-bench <command> [flags]',
    '',
    "Benchmarks for Karman after RocketMQ's benchmark tools: a line per second, then a summary",
    '(--json: one JSON object). Every consumed message is checked. `karman-bench <command> --help`',
    "lists a command's flags.",
    '',
    'Commands:',
    ...COMMANDS.map((c) => `  ${c.name.padEnd(18)} ${c.summary}`),
    '',
  ].join('\n');
}

function commandHelp(name: CommandName): string {
  const command = COMMANDS.find((c) => c.name === name)!;
  return [`Usage: karman-bench ${name} [flags]`, '', command.summary, '', 'Flags:', ...COMMAND_FLAGS[name].map(flagLine), '', `Example: ${command.example}`, ''].join('\n');
}

/** Run one karman-bench command line; resolves to the exit code. */
export async function run(argv: readonly string[], io: CliIo): Promise<number> {
  const [name, ...rest] = argv;
  if (name === undefined || name === '--help' || name === '-h' || name === 'help') {
    io.stdout.write(usage());
    return name === undefined ? 2 : 0;
  }
  const command = COMMANDS.find((c) => c.name === name.toLowerCase());
  if (!command) {
    io.stderr.write(`karman-bench: unknown command "${name}"; give one of ${COMMANDS.map((c) => c.name).join(', ')} (karman-bench --help)\n`);
    return 2;
  }
  const env = io.env ?? {};
  const signal = io.signal ?? new AbortController().signal;
  const fail = (message: string, code: number): number => {
    io.stderr.write(`karman-bench ${command.name}: ${message.split('\n')[0]!.trim()}${code === 2 ? `; run karman-bench ${command.name} --help` : ''}\n`);
    return code;
  };
  try {
    const values = parseFlags(command.name, rest);
    if (values.help) {
      io.stdout.write(commandHelp(command.name));
      return 0;
    }
    const json = values.json === true;
    if (command.name === 'rocketmq-benchmark') return await runRocketMQBenchmark(rocketmqBenchmarkOptions(values), { stdout: io.stdout, stderr: io.stderr, signal });
    if (command.name === 'compare') return await runCompare(compareOptions(values), { stdout: io.stdout, stderr: io.stderr, env, signal });
    const context = { lines: json ? io.stderr : io.stdout, stderr: io.stderr, showProgress: io.stderr.isTTY === true, signal };
    let summary: BenchSummary;
    if (command.name === 'producer') summary = await runProducerBench(producerOptions(values, env), context);
    else if (command.name === 'consumer') summary = await runConsumerBench(consumerOptions(values, env), context);
    else summary = await runE2eBench(e2eOptions(values, env), context);
    io.stdout.write(json ? `${JSON.stringify(summary)}\n` : summaryText(summary));
    const problem = summaryProblem(summary);
    return problem === undefined ? 0 : fail(problem, 1);
  } catch (error) {
    return fail((error as Error).message ?? String(error), error instanceof InvalidArgumentError ? 2 : 1);
  }
}
