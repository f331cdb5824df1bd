/**
 * karman-broker's command line: flags, a RocketMQ `broker.conf` (or JSON) file and `--set`, merged
 * into the broker's options. Later sources win: defaults, then `-c FILE`, then the named flags
 * (`--listen`, `--namesrv`, ...), then each `--set key=value` in order. Every key must be a broker
 * option (BrokerConfigSchema) or a store option (storeOptionsSchema), so a typo stops the process
 * with a message naming it instead of being ignored.
 */
import { parseArgs } from 'node:util';
import { LOG_LEVELS, parseLogLevel } from '@karman/server-runtime';
import type { LogLevel } from '@karman/server-runtime';
import type { z } from 'zod';
import { InvalidArgumentError, applySetFlags, readConfigFile, splitListenAddress } from '@karman/protocol';
import { BrokerConfigSchema, resolveBrokerConfig } from '@karman/broker';
import type { BrokerOptions } from '@karman/broker';
import { resolveStoreOptions, storeOptionsSchema } from '@karman/commitlog';

/** Log levels pino knows. */

/** What the command line asks for. */
export type CliCommand = { kind: 'help' } | { kind: 'run'; options: BrokerOptions; logLevel: LogLevel };

/** Store options the broker sets itself (from its own address, clock and logger); not settable here. */
const STORE_INTERNAL = new Set(['storePathRootDir', 'storeHost', 'clock', 'logger', 'diskUsageProbe']);
const BROKER_KEYS = Object.keys(BrokerConfigSchema.shape);
const STORE_KEYS = Object.keys(storeOptionsSchema.shape).filter((key) => !STORE_INTERNAL.has(key));

/** One-line descriptions of the store options (the store's schema documents them in JSDoc only). */
const STORE_HELP: Record<string, string> = {
  mappedFileSizeCommitLog: 'Size of each commit-log segment in bytes.',
  mappedFileSizeConsumeQueue: 'Size of each consume-queue file in bytes (a multiple of 20).',
  flushDiskType: 'ASYNC_FLUSH (acknowledge at the OS) or SYNC_FLUSH (acknowledge after fdatasync).',
  flushIntervalCommitLog: 'ASYNC_FLUSH: how often the background flush runs, ms.',
  flushCommitLogLeastPages: 'ASYNC_FLUSH: flush only when at least this many 4 KiB pages are dirty.',
  flushCommitLogThoroughInterval: 'ASYNC_FLUSH: flush whatever is dirty at least this often, ms.',
  syncFlushTimeout: 'SYNC_FLUSH: a send not flushed within this many ms answers FLUSH_DISK_TIMEOUT (still stored).',
  flushIntervalConsumeQueue: 'How often consume queues, the index and the checkpoint are flushed, ms.',
  appendRetryInterval: 'After a failed commit-log write (a full disk), how long sends are refused before the next is tried, ms.',
  maxMessageSize: 'Largest message body accepted, bytes.',
  fileReservedTime: 'Hours a commit-log segment is kept after its last write.',
  deleteWhen: 'Hours of the day (";"-separated) at which expired segments are deleted.',
  diskMaxUsedSpaceRatio: 'Disk use (percent) above which expired segments are deleted at any hour.',
  diskSpaceCleanForciblyRatio: 'Disk use (percent) above which old segments are deleted regardless of age.',
  diskSpaceWarningLevelRatio: 'Disk use (percent) above which sends are refused.',
  cleanResourceInterval: 'How often the retention check runs, ms; 0 disables it.',
  cleanResourceInitialDelay: 'Delay before the first retention check, ms.',
  deleteFileBatchMax: 'Most segments deleted in one retention round.',
  physicalMemoryBytes: 'Memory the in-memory window (accessMessageInMemoryMaxRatio) is a share of, bytes; 0 reads the RAM.',
  checkCRCOnRecover: 'Check body CRCs while recovering after a crash.',
  checkCRCOnRead: 'Check the body CRC of every record before a pull or query hands it out (damaged ones are quarantined, not served).',
  messageIndexEnable: 'Build the key index used by QUERY_MESSAGE.',
  maxHashSlotNum: 'Hash slots per index file.',
  maxIndexNum: 'Entries per index file.',
};

/** The usage text, listing every flag and every option with its default. */
export function helpText(): string {
  const brokerDefaults = resolveBrokerConfig({}) as Record<string, unknown>;
  const storeDefaults = resolveStoreOptions({ storePathRootDir: '.' }) as unknown as Record<string, unknown>;
  const width = Math.max(...[...BROKER_KEYS, ...STORE_KEYS].map((name) => name.length));
  const line = (name: string, description: string, value: unknown): string =>
    `  ${name.padEnd(width)}  ${description} (default: ${value === undefined || value === '' ? 'unset' : String(value)})`;
  const shape = BrokerConfigSchema.shape as Record<string, z.ZodType>;
  return [
    'Usage: karman-broker [flags]',
    '',
    'The Karman broker: a RocketMQ-compatible broker with a commit-log store. Serves remoting TCP,',
    'WebSocket and GET /health on one port, and registers with every nameserver given.',
    '',
    'Flags:',
    '  --listen HOST:PORT     Address to listen on (default: 0.0.0.0:10911); port 0 picks a free one. Sets listenHost, listenPort.',
    '  --namesrv ADDR[;ADDR]  Nameservers to register with (default: none). Sets namesrvAddr.',
    '  --cluster NAME         Cluster name (default: DefaultCluster). Sets brokerClusterName.',
    '  --broker-name NAME     Broker name; master and slaves share it (default: broker-a). Sets brokerName.',
    '  --broker-id N          0 for the master, 1 and up for slaves (default: 0). Sets brokerId.',
    '  --role ROLE            ASYNC_MASTER, SYNC_MASTER or SLAVE (default: ASYNC_MASTER). Sets brokerRole.',
    '  --flush TYPE           ASYNC_FLUSH or SYNC_FLUSH (default: ASYNC_FLUSH). Sets flushDiskType.',
    '  --store DIR            Store folder: commitlog/, consumequeue/, index/, config/ (default: ./store). Sets storePathRootDir.',
    '  -c, --config FILE      Read options from a RocketMQ broker.conf (.properties), or JSON when FILE ends in .json.',
    '  --set KEY=VALUE        Set any option below; repeatable; applied after the other flags.',
    `  --log-level LEVEL      One of ${LOG_LEVELS.join(', ')} (default: info).`,
    '  -h, --help             Print this help and exit.',
    '',
    'Broker options (for -c and --set):',
    ...BROKER_KEYS.map((name) => line(name, shape[name]?.description ?? '', brokerDefaults[name])),
    '',
    'Store options (for -c and --set):',
    ...STORE_KEYS.map((name) => line(name, STORE_HELP[name] ?? '', storeDefaults[name])),
    '',
    'Logs are JSON lines (pino) on stdout. SIGTERM or SIGINT stops gracefully: unregister from the',
    'nameservers, answer held pulls, persist consumer offsets, flush the store, exit 0.',
    '',
  ].join('\n');
}

/** Split "HOST:PORT" (IPv6 in brackets). */
export function parseListen(value: string): { listenHost: string; listenPort: string } {
  const { host, port } = splitListenAddress(value, '0.0.0.0:10911 or [::1]:10911');
  return { listenHost: host, listenPort: port };
}

/**
 * A store option's value as its schema wants it. Files and `--set` give text, and the store's
 * schema (unlike the broker's) does not coerce, so try the text as it is, then as a number, then
 * as a boolean.
 */
function coerceStoreValue(key: string, value: unknown): unknown {
  const schema = (storeOptionsSchema.shape as Record<string, z.ZodType>)[key]!;
  const candidates: unknown[] = [value];
  if (typeof value === 'string') {
    const trimmed = value.trim();
    if (trimmed !== '' && Number.isFinite(Number(trimmed))) candidates.push(Number(trimmed));
    if (trimmed === 'true' || trimmed === 'false') candidates.push(trimmed === 'true');
  }
  let firstIssue = '';
  for (const candidate of candidates) {
    const result = schema.safeParse(candidate);
    if (result.success) return result.data;
    firstIssue ||= result.error.issues[0]?.message ?? 'invalid';
  }
  throw new InvalidArgumentError(`option "${key}"=${JSON.stringify(value)}: ${firstIssue}`);
}

/**
 * Check every option and return them as `Broker.start` takes them. Throws `InvalidArgumentError`
 * naming an unknown key (with the nearest known name when there is one) or a bad value.
 */
function resolveOptions(input: Record<string, unknown>): BrokerOptions {
  const broker: Record<string, unknown> = {};
  const store: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(input)) {
    if (BROKER_KEYS.includes(key)) broker[key] = value;
    else if (STORE_KEYS.includes(key)) store[key] = coerceStoreValue(key, value);
    else if (STORE_INTERNAL.has(key)) throw new InvalidArgumentError(`option "${key}" is set by the broker itself; remove it`);
    else {
      const near = [...BROKER_KEYS, ...STORE_KEYS].find((known) => known.toLowerCase() === key.toLowerCase());
      throw new InvalidArgumentError(`unknown option "${key}"${near ? `; did you mean "${near}"?` : ''}; run karman-broker --help for the options`);
    }
  }
  const config = resolveBrokerConfig(broker);
  // Catch cross-field store problems (e.g. a consume-queue size not a multiple of 20) before start.
  resolveStoreOptions({ ...store, storePathRootDir: config.storePathRootDir });
  return { ...config, ...store };
}

/** Turn argv (without node and the script) into what to do. Throws `InvalidArgumentError` on bad input. */
export async function parseCommandLine(argv: readonly string[]): Promise<CliCommand> {
  let parsed;
  try {
    parsed = parseArgs({
      args: [...argv],
      strict: true,
      allowPositionals: false,
      options: {
        listen: { type: 'string' },
        namesrv: { type: 'string' },
        cluster: { type: 'string' },
        'broker-name': { type: 'string' },
        'broker-id': { type: 'string' },
        role: { type: 'string' },
        flush: { type: 'string' },
        store: { type: 'string' },
        config: { type: 'string', short: 'c' },
        set: { type: 'string', multiple: true },
        'log-level': { type: 'string' },
        help: { type: 'boolean', short: 'h' },
      },
    });
  } catch (error) {
    throw new InvalidArgumentError(`${(error as Error).message}; run karman-broker --help for the flags`);
  }
  const { values } = parsed;
  if (values.help) return { kind: 'help' };
  const logLevel = parseLogLevel(values['log-level']);

  let options: Record<string, unknown> = {};
  if (values.config !== undefined) options = await readConfigFile(values.config);
  const flags: Record<string, string | undefined> = {
    namesrvAddr: values.namesrv,
    brokerClusterName: values.cluster,
    brokerName: values['broker-name'],
    brokerId: values['broker-id'],
    brokerRole: values.role,
    flushDiskType: values.flush,
    storePathRootDir: values.store,
  };
  if (values.listen !== undefined) options = { ...options, ...parseListen(values.listen) };
  for (const [key, value] of Object.entries(flags)) if (value !== undefined) options[key] = value;
  options = applySetFlags(options, values.set ?? []);
  return { kind: 'run', options: resolveOptions(options), logLevel };
}
