/**
 * karman-bench's command lines: each command's flags (RocketMQ benchmark letters where it has them:
 * -n, -t, -s, -w, -q, -g) and their turning into typed options. Every refusal names the flag, the
 * value given and what to give instead, and is an `InvalidArgumentError` so the CLI exits 2.
 */
import { parseArgs } from 'node:util';
import { InvalidArgumentError } from '@karman/protocol';
import { HEADER_SIZE } from './bench-body.js';

export type CommandName = 'producer' | 'consumer' | 'e2e' | 'compare' | 'rocketmq-benchmark';

export interface FlagSpec {
  long: string;
  short?: string;
  type: 'string' | 'boolean';
  /** What VALUE stands for in help. */
  value?: string;
  description: string;
  defaultText?: string;
}

const NAMESRV: FlagSpec = { long: 'namesrvAddr', short: 'n', type: 'string', value: 'ADDR', description: 'Nameserver addresses, host:port separated by ";".', defaultText: '$NAMESRV_ADDR' };
const TOPIC: FlagSpec = { long: 'topic', short: 't', type: 'string', value: 'TOPIC', description: 'Topic to send to or consume from; it must exist (or the broker must auto-create topics).', defaultText: 'BenchmarkTest' };
const SIZE: FlagSpec = { long: 'size', short: 's', type: 'string', value: 'BYTES', description: `Body size in bytes, at least ${HEADER_SIZE} (the checked header).`, defaultText: '128' };
const CONCURRENCY: FlagSpec = { long: 'concurrency', short: 'w', type: 'string', value: 'N', description: 'Senders, each awaiting its send before the next.', defaultText: '64' };
const COUNT: FlagSpec = { long: 'count', short: 'q', type: 'string', value: 'COUNT', description: 'Stop after this many messages (without it: run until Ctrl-C or SIGTERM).' };
const TRANSPORT: FlagSpec = { long: 'transport', type: 'string', value: 'ws|tcp', description: 'Client transport: RocketMQ remoting TCP or Karman WebSocket.', defaultText: 'tcp' };
const JSON_FLAG: FlagSpec = { long: 'json', type: 'boolean', description: 'Print the summary as one JSON object on stdout; per-second lines go to stderr.' };
const RATE: FlagSpec = { long: 'rate', type: 'string', value: 'R', description: 'Cap the send rate at R messages/s (all senders together).' };
const HELP: FlagSpec = { long: 'help', short: 'h', type: 'boolean', description: 'Print this help.' };

export const COMMAND_FLAGS: Record<CommandName, readonly FlagSpec[]> = {
  producer: [
    NAMESRV, TOPIC, SIZE, CONCURRENCY, COUNT,
    { long: 'batch', type: 'string', value: 'N', description: 'Send batches of N messages with sendBatch (one SEND_BATCH_MESSAGE each).', defaultText: '1: plain send' },
    { long: 'auto-batch', type: 'boolean', description: "Turn on the producer's autoBatch (concurrent plain sends grouped into batches)." },
    { long: 'keys', type: 'boolean', description: 'Give every message a unique key (indexed by the broker).' },
    { long: 'tags', type: 'string', value: 'N', description: 'Cycle N tags, Tag0 ... Tag{N-1}.', defaultText: 'no tag' },
    { long: 'topics', type: 'string', value: 'N', description: 'Spread the messages over N topics TOPIC-0 ... TOPIC-{N-1} (created on first send with 8 queues each, so the brokers need autoCreateTopicEnable).', defaultText: '1: TOPIC itself' },
    { long: 'delay-level', type: 'string', value: 'L', description: 'Delay level 1-18 for every message (1s 5s 10s 30s 1m ... 2h).' },
    RATE, TRANSPORT, JSON_FLAG, HELP,
  ],
  consumer: [
    NAMESRV, TOPIC,
    { long: 'group', short: 'g', type: 'string', value: 'GROUP', description: 'Consumer group (a new group starts at the first offset).', defaultText: 'benchmark_consumer_<random>' },
    COUNT, TRANSPORT, JSON_FLAG, HELP,
  ],
  e2e: [
    NAMESRV, TOPIC, SIZE, CONCURRENCY, COUNT, RATE,
    { long: 'group', short: 'g', type: 'string', value: 'GROUP', description: 'Consumer group of the consuming half.', defaultText: 'benchmark_e2e_<random>' },
    TRANSPORT, JSON_FLAG, HELP,
  ],
  compare: [
    { long: 'count', short: 'q', type: 'string', value: 'N', description: 'Messages each system publishes and consumes.', defaultText: '200000' },
    { long: 'size', short: 's', type: 'string', value: 'BYTES', description: 'Body size in bytes.', defaultText: '1024' },
    { long: 'latency-count', type: 'string', value: 'N', description: 'One-at-a-time sends for the publish→ack latency.', defaultText: '2000' },
    { long: 'only', type: 'string', value: 'LIST', description: 'Run only these systems, comma-separated: karman, rocketmq (Apache RocketMQ, the reference), nats, redis, rabbitmq.', defaultText: 'all' },
    { long: 'out', type: 'string', value: 'FILE', description: 'Write a markdown report to FILE and an SVG chart of the ratios beside it (FILE with .svg).' },
    { long: 'transport', type: 'string', value: 'ws|tcp', description: "Karman clients' transport.", defaultText: 'tcp' },
    JSON_FLAG, HELP,
  ],
  'rocketmq-benchmark': [
    { long: 'seconds', type: 'string', value: 'S', description: "How long RocketMQ's benchmark Producer sends to each broker.", defaultText: '60' },
    { long: 'count', short: 'q', type: 'string', value: 'N', description: "Send N messages per broker instead (the Producer's -q; it then prints a [Complete] line)." },
    { long: 'threads', short: 'w', type: 'string', value: 'N', description: "The Producer's sending threads (-w), each a synchronous send after another.", defaultText: '64' },
    { long: 'size', short: 's', type: 'string', value: 'BYTES', description: "The Producer's message size (-s).", defaultText: '1024' },
    { long: 'consumer-threads', type: 'string', value: 'N', description: "The Consumer's consume threads (-w).", defaultText: '20' },
    { long: 'consume-seconds', type: 'string', value: 'S', description: 'Stop the Consumer after S seconds even if it has not drained the topic.', defaultText: '180' },
    { long: 'only', type: 'string', value: 'LIST', description: 'Run against only these brokers, comma-separated: karman, rocketmq.', defaultText: 'karman,rocketmq' },
    JSON_FLAG, HELP,
  ],
};

/** Options shared by the commands that talk to a Karman cluster. */
interface ClusterTarget {
  nameservers: string;
  topic: string;
  transport: 'ws' | 'tcp';
  /** Messages to count before stopping; undefined runs until a signal. */
  count: number | undefined;
  json: boolean;
}

export interface ProducerBenchOptions extends ClusterTarget {
  size: number;
  concurrency: number;
  /** Messages per sendBatch call; 1 sends one by one. */
  batch: number;
  autoBatch: boolean;
  keys: boolean;
  /** Tags to cycle; 0 sends no tag. */
  tags: number;
  /** Topics to spread over (TOPIC-0 ...); 1 sends to TOPIC itself. */
  topics: number;
  delayLevel: number;
  /** Messages per second, all senders together; undefined is as fast as it goes. */
  rate: number | undefined;
}

export interface ConsumerBenchOptions extends ClusterTarget {
  group: string;
}

export interface E2eBenchOptions extends ClusterTarget {
  size: number;
  concurrency: number;
  rate: number | undefined;
  group: string;
}

export const SYSTEMS = ['karman', 'rocketmq', 'nats', 'redis', 'rabbitmq'] as const;
type SystemName = (typeof SYSTEMS)[number];

export interface CompareOptions {
  count: number;
  size: number;
  latencyCount: number;
  systems: readonly SystemName[];
  out: string | undefined;
  /** Karman clients' transport. */
  transport: 'ws' | 'tcp';
  json: boolean;
}

/** The brokers `rocketmq-benchmark` measures, in order. */
const BENCHMARK_BROKERS = ['karman', 'rocketmq'] as const;
export type BenchmarkBroker = (typeof BENCHMARK_BROKERS)[number];

export interface RocketMQBenchmarkOptions {
  brokers: readonly BenchmarkBroker[];
  /** The Producer's run per broker, seconds (ignored with `count`). */
  seconds: number;
  /** Messages per broker (the Producer's -q), instead of `seconds`. */
  count: number | undefined;
  threads: number;
  size: number;
  consumerThreads: number;
  /** The longest the Consumer may take to drain one broker's topic. */
  consumeSeconds: number;
  json: boolean;
}

export type FlagValues = Readonly<Record<string, string | boolean | undefined>>;

/** Parse `argv` (after the command name) against the command's flags; unknown flags and stray words are refused. */
export function parseFlags(command: CommandName, argv: readonly string[]): FlagValues {
  const options: Record<string, { type: 'string' | 'boolean'; short?: string }> = {};
  for (const flag of COMMAND_FLAGS[command]) options[flag.long] = flag.short ? { type: flag.type, short: flag.short } : { type: flag.type };
  try {
    const parsed = parseArgs({ args: [...argv], options, strict: true, allowPositionals: true });
    if (parsed.positionals.length > 0) throw new InvalidArgumentError(`unexpected argument "${parsed.positionals[0]}": every value belongs to a flag (e.g. -t ${parsed.positionals[0]})`);
    return parsed.values as FlagValues;
  } catch (error) {
    if (error instanceof InvalidArgumentError) throw error;
    // node's messages name the flag ("Unknown option '--bogus'", "Option '-s, --size <value>' argument missing").
    throw new InvalidArgumentError((error as Error).message.split('\n')[0]!.replace(/\. To specify a positional.*$/, ''));
  }
}

function flagName(command: CommandName, long: string): string {
  const spec = COMMAND_FLAGS[command].find((f) => f.long === long);
  return spec?.short ? `-${spec.short} (--${long})` : `--${long}`;
}

/** A whole-number flag within [min, max], or its fallback. */
function intFlag(command: CommandName, values: FlagValues, long: string, fallback: number | undefined, min: number, max: number, meaning: string): number | undefined {
  const text = values[long];
  if (text === undefined) return fallback;
  const value = typeof text === 'string' && /^\d+$/.test(text.replace(/_/g, '')) ? Number(text.replace(/_/g, '')) : NaN;
  if (!Number.isSafeInteger(value) || value < min || value > max) {
    throw new InvalidArgumentError(`${flagName(command, long)} ${JSON.stringify(text)} is not valid: give ${meaning}, a whole number from ${min} to ${max}`);
  }
  return value;
}

function nonEmpty(command: CommandName, values: FlagValues, long: string, fallback: string | undefined): string | undefined {
  const text = values[long];
  if (text === undefined) return fallback;
  if (typeof text !== 'string' || text.trim() === '') throw new InvalidArgumentError(`${flagName(command, long)} is empty: give a value`);
  return text.trim();
}

const MAX_BODY = 4 * 1024 * 1024;

function target(command: CommandName, values: FlagValues, env: Readonly<Record<string, string | undefined>>): ClusterTarget {
  const nameservers = nonEmpty(command, values, 'namesrvAddr', env.NAMESRV_ADDR);
  if (!nameservers) throw new InvalidArgumentError('no nameserver given: pass -n HOST:PORT (for example -n 127.0.0.1:9876) or set NAMESRV_ADDR');
  const topic = nonEmpty(command, values, 'topic', 'BenchmarkTest')!;
  if (!/^[%|a-zA-Z0-9_-]{1,127}$/.test(topic)) throw new InvalidArgumentError(`-t (--topic) ${JSON.stringify(topic)} is not a topic name: use letters, digits, "_", "-", "%" or "|", at most 127 characters`);
  const transport = transportFlag(values);
  return {
    nameservers,
    topic,
    transport,
    count: intFlag(command, values, 'count', undefined, 1, Number.MAX_SAFE_INTEGER, 'the number of messages'),
    json: values.json === true,
  };
}

function transportFlag(values: FlagValues): 'ws' | 'tcp' {
  const transport = values.transport ?? 'tcp';
  if (transport !== 'ws' && transport !== 'tcp') throw new InvalidArgumentError(`--transport ${JSON.stringify(transport)} is not a transport: give ws (Karman WebSocket) or tcp (RocketMQ remoting)`);
  return transport;
}

function randomSuffix(): string {
  return Math.random().toString(36).slice(2, 10);
}

export function producerOptions(values: FlagValues, env: Readonly<Record<string, string | undefined>>): ProducerBenchOptions {
  const size = intFlag('producer', values, 'size', 128, HEADER_SIZE, MAX_BODY, 'the body size in bytes')!;
  const batch = intFlag('producer', values, 'batch', 1, 1, 1024, 'the messages per batch')!;
  const delayLevel = intFlag('producer', values, 'delay-level', 0, 1, 18, 'a delay level')!;
  const autoBatch = values['auto-batch'] === true;
  if (batch > 1 && autoBatch) throw new InvalidArgumentError('--batch and --auto-batch do not go together: --batch sends explicit batches, --auto-batch lets the producer form them; pick one');
  if (batch > 1 && delayLevel > 0) throw new InvalidArgumentError('--batch and --delay-level do not go together: batches cannot carry delay levels; drop one of them');
  if (batch * size > MAX_BODY) throw new InvalidArgumentError(`--batch ${batch} of ${size}-byte bodies is ${batch * size} bytes, above the 4 MiB batch limit; lower --batch or -s`);
  return {
    ...target('producer', values, env),
    size,
    concurrency: intFlag('producer', values, 'concurrency', 64, 1, 10_000, 'the number of senders')!,
    batch,
    autoBatch,
    keys: values.keys === true,
    tags: intFlag('producer', values, 'tags', 0, 1, 1_000_000, 'the number of tags to cycle')!,
    topics: intFlag('producer', values, 'topics', 1, 1, 100_000, 'the number of topics')!,
    delayLevel,
    rate: intFlag('producer', values, 'rate', undefined, 1, 10_000_000, 'messages per second'),
  };
}

export function consumerOptions(values: FlagValues, env: Readonly<Record<string, string | undefined>>): ConsumerBenchOptions {
  return { ...target('consumer', values, env), group: nonEmpty('consumer', values, 'group', `benchmark_consumer_${randomSuffix()}`)! };
}

export function e2eOptions(values: FlagValues, env: Readonly<Record<string, string | undefined>>): E2eBenchOptions {
  return {
    ...target('e2e', values, env),
    size: intFlag('e2e', values, 'size', 128, HEADER_SIZE, MAX_BODY, 'the body size in bytes')!,
    concurrency: intFlag('e2e', values, 'concurrency', 64, 1, 10_000, 'the number of senders')!,
    rate: intFlag('e2e', values, 'rate', undefined, 1, 10_000_000, 'messages per second'),
    group: nonEmpty('e2e', values, 'group', `benchmark_e2e_${randomSuffix()}`)!,
  };
}

export function compareOptions(values: FlagValues): CompareOptions {
  const only = nonEmpty('compare', values, 'only', undefined);
  let systems: readonly SystemName[] = SYSTEMS;
  if (only !== undefined) {
    const names = only.split(',').map((s) => s.trim().toLowerCase()).filter(Boolean);
    const unknown = names.find((n) => !(SYSTEMS as readonly string[]).includes(n));
    if (unknown !== undefined || names.length === 0) throw new InvalidArgumentError(`--only ${JSON.stringify(only)} names ${unknown === undefined ? 'no system' : `an unknown system "${unknown}"`}: give a comma-separated list of ${SYSTEMS.join(', ')}`);
    systems = SYSTEMS.filter((s) => names.includes(s));
  }
  return {
    count: intFlag('compare', values, 'count', 200_000, 1, 100_000_000, 'the messages per system')!,
    size: intFlag('compare', values, 'size', 1024, HEADER_SIZE, 1024 * 1024, 'the body size in bytes')!,
    latencyCount: intFlag('compare', values, 'latency-count', 2_000, 1, 1_000_000, 'the one-at-a-time sends')!,
    systems,
    out: nonEmpty('compare', values, 'out', undefined),
    transport: transportFlag(values),
    json: values.json === true,
  };
}

export function rocketmqBenchmarkOptions(values: FlagValues): RocketMQBenchmarkOptions {
  const only = nonEmpty('rocketmq-benchmark', values, 'only', undefined);
  let brokers: readonly BenchmarkBroker[] = BENCHMARK_BROKERS;
  if (only !== undefined) {
    const names = only.split(',').map((s) => s.trim().toLowerCase()).filter(Boolean);
    const unknown = names.find((n) => !(BENCHMARK_BROKERS as readonly string[]).includes(n));
    if (unknown !== undefined || names.length === 0) throw new InvalidArgumentError(`--only ${JSON.stringify(only)} names ${unknown === undefined ? 'no broker' : `an unknown broker "${unknown}"`}: give a comma-separated list of ${BENCHMARK_BROKERS.join(', ')}`);
    brokers = BENCHMARK_BROKERS.filter((b) => names.includes(b));
  }
  return {
    brokers,
    seconds: intFlag('rocketmq-benchmark', values, 'seconds', 60, 1, 86_400, 'the seconds of sending per broker')!,
    count: intFlag('rocketmq-benchmark', values, 'count', undefined, 1, 1_000_000_000, 'the messages per broker'),
    threads: intFlag('rocketmq-benchmark', values, 'threads', 64, 1, 1_000, 'the Producer threads')!,
    size: intFlag('rocketmq-benchmark', values, 'size', 1024, 1, 4 * 1024 * 1024, 'the message size in bytes')!,
    consumerThreads: intFlag('rocketmq-benchmark', values, 'consumer-threads', 20, 1, 1_000, 'the Consumer threads')!,
    consumeSeconds: intFlag('rocketmq-benchmark', values, 'consume-seconds', 180, 11, 86_400, 'the longest drain in seconds (its reports start after 10 s)')!,
    json: values.json === true,
  };
}
