/**
 * The nameserver's configuration: one zod schema is the single source of every option's type,
 * default and one-line description (the `--help` of karman-nameserver prints them from here). Keys
 * keep RocketMQ's names where RocketMQ has one (`listenPort`, `bindAddress`,
 * `scanNotActiveBrokerInterval`, `orderMessageEnable`, ...). Values may arrive as strings (from a
 * `.properties` file, `--set key=value` or UPDATE_NAMESRV_CONFIG) and are coerced.
 */
import { z } from 'zod';
import { InvalidArgumentError } from '@karman/protocol';

/** An integer option: a number, or a decimal string from a file or `--set`. */
const intOption = (min: number, max: number = Number.MAX_SAFE_INTEGER) =>
  // z.custom() accepts anything at run time; the transform checks. The type says what callers may pass.
  z.custom<number | string>().transform((value, ctx) => {
    const n = typeof value === 'number' ? value : typeof value === 'string' && /^\s*[+-]?\d+\s*$/.test(value) ? Number(value) : Number.NaN;
    if (!Number.isInteger(n)) {
      ctx.addIssue({ code: 'custom', message: `must be an integer between ${min} and ${max}` });
      return z.NEVER;
    }
    if (n < min || n > max) {
      ctx.addIssue({ code: 'custom', message: n < min ? `must be at least ${min}` : `must be at most ${max}` });
      return z.NEVER;
    }
    return n;
  });

/** A boolean option: true/false, or the strings "true"/"false" in any case (as Java's Boolean.parseBoolean reads them). */
const boolOption = () =>
  z.custom<boolean | string>().transform((value, ctx) => {
    if (typeof value === 'boolean') return value;
    if (typeof value === 'string' && /^\s*(true|false)\s*$/i.test(value)) return value.trim().toLowerCase() === 'true';
    ctx.addIssue({ code: 'custom', message: 'must be true or false' });
    return z.NEVER;
  });

/** The schema of `NameServerOptions`. */
export const NameServerOptionsSchema = z.strictObject({
  bindAddress: z.string().min(1).default('0.0.0.0').describe('Address to listen on.'),
  listenPort: intOption(0, 65535).default(9876).describe('Port for remoting TCP, WebSocket and GET /health (0 picks a free port).'),
  dataDir: z.string().min(1).optional().describe('Folder for kvConfig.json; without it KV config lives in memory only.'),
  brokerExpiredMillis: intOption(1).default(120_000).describe('A broker silent this long is removed (RocketMQ: 120 s).'),
  scanNotActiveBrokerInterval: intOption(1).default(10_000).describe('How often to look for silent brokers, in ms (RocketMQ 4.x: 10 s).'),
  orderMessageEnable: boolOption().default(false).describe('Add orderTopicConf from the ORDER_TOPIC_CONFIG KV namespace to routes.'),
  returnOrderTopicConfigToBroker: boolOption().default(true).describe('Answer a broker registration with the ORDER_TOPIC_CONFIG KV namespace.'),
  deleteTopicWithBrokerRegistration: boolOption().default(false).describe("Drop a master's topics that its registration no longer lists."),
  idleTimeoutMillis: intOption(1).default(120_000).describe('Close a connection silent this long (RocketMQ: 120 s channel idle).'),
  handshakeTimeoutMillis: intOption(1).default(10_000).describe('Close a connection that has not sent its first request bytes in this time.'),
  maxFrameSize: intOption(1024).default(16 * 1024 * 1024).describe('Largest frame accepted, in bytes (RocketMQ: 16 MiB).'),
  maxConnections: intOption(1).default(10_000).describe('Connections accepted at once.'),
  maxInFlightRequestsPerConnection: intOption(1).default(65_536).describe('Requests one connection may have being handled at once, held long polls included; past it a request is answered SYSTEM_BUSY without running (RocketMQ clients send at most 65,536, clientAsyncSemaphoreValue).'),
  maxConnectionsPerAddress: intOption(1)
    .default(1000)
    .describe('Connections from one IP address (an IPv6 /64) past which its new ones are closed at once, so one peer cannot fill maxConnections (RocketMQ has no such limit).'),
  maxBufferedIncompleteFrameBytes: intOption(1024)
    .default(64 * 1024 * 1024)
    .describe('Bytes all connections together may hold in frames not yet complete (at least maxFrameSize); past it the heaviest partial frames (bytes × age) are closed.'),
  frameCompleteTimeoutMillis: intOption(1).default(30_000).describe('Close a connection whose frame has not completed this long after its first byte (RocketMQ has no such timeout).'),
  refusalLogIntervalMillis: intOption(1).default(60_000).describe('Refused connections and protective closes are logged once per address per interval, then summed up.'),
}).superRefine((config, ctx) => {
  if (config.maxBufferedIncompleteFrameBytes < config.maxFrameSize) {
    ctx.addIssue({ code: 'custom', path: ['maxBufferedIncompleteFrameBytes'], message: `must be at least maxFrameSize (${config.maxFrameSize}); raise it or lower maxFrameSize` });
  }
});

/** Options of a `NameServer`, as given (every field optional, strings accepted for numbers and booleans). */
export type NameServerOptionsInput = z.input<typeof NameServerOptionsSchema>;
/** Options of a `NameServer` with every default applied. */
export type NameServerConfig = z.output<typeof NameServerOptionsSchema>;

/** The option names, in schema order. */
export const nameServerOptionNames = Object.keys(NameServerOptionsSchema.shape) as Array<keyof NameServerConfig>;

/** Options that UPDATE_NAMESRV_CONFIG may change while running; the rest need a restart. */
export const RUNTIME_UPDATABLE_OPTIONS: ReadonlySet<string> = new Set([
  'brokerExpiredMillis',
  'orderMessageEnable',
  'returnOrderTopicConfigToBroker',
  'deleteTopicWithBrokerRegistration',
]);

/**
 * Merge options onto the defaults. Never mutates `input`. Throws `InvalidArgumentError` naming each
 * bad key, what was wrong, and the known keys when a key is unknown.
 */
export function resolveNameServerOptions(input: NameServerOptionsInput | Record<string, unknown> = {}): NameServerConfig {
  const result = NameServerOptionsSchema.safeParse({ ...input });
  if (result.success) return result.data;
  const problems = result.error.issues.map((issue) => {
    if (issue.code === 'unrecognized_keys') return `unknown option ${issue.keys.map((k) => JSON.stringify(k)).join(', ')} (known: ${nameServerOptionNames.join(', ')})`;
    const key = issue.path.map(String).join('.');
    const given = (input as Record<string, unknown>)[key];
    return `option "${key}" ${issue.message}${given === undefined ? '' : `, got ${JSON.stringify(given)?.slice(0, 60)}`}`;
  });
  throw new InvalidArgumentError(`invalid nameserver options: ${problems.join('; ')}`);
}
