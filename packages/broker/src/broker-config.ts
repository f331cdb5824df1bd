/**
 * The broker's options: one zod schema that is the single source of their types and defaults.
 * Keys keep RocketMQ's `BrokerConfig` names, so a RocketMQ `broker.conf` reads as it is; every
 * interval is in milliseconds with RocketMQ's default, so tests can run them in milliseconds.
 */
import { z } from 'zod';
import { InvalidArgumentError } from '@karman/protocol';

const millis = (defaultValue: number, what: string) => z.coerce.number().int().min(1).default(defaultValue).describe(what);
const bool = (defaultValue: boolean, what: string) =>
  z
    .union([z.boolean(), z.enum(['true', 'false']).transform((v) => v === 'true')])
    .default(defaultValue)
    .describe(what);

export const BrokerRole = { ASYNC_MASTER: 'ASYNC_MASTER', SYNC_MASTER: 'SYNC_MASTER', SLAVE: 'SLAVE' } as const;
export type BrokerRole = (typeof BrokerRole)[keyof typeof BrokerRole];

/** RocketMQ's 18 delay levels. */
export const DEFAULT_DELAY_LEVELS = '1s 5s 10s 30s 1m 2m 3m 4m 5m 6m 7m 8m 9m 10m 20m 30m 1h 2h';

export const BrokerConfigSchema = z.object({
  brokerClusterName: z.string().min(1).default('DefaultCluster').describe('Cluster this broker belongs to.'),
  brokerName: z.string().min(1).default('broker-a').describe('Broker group name; master and slaves share it.'),
  brokerId: z.coerce.number().int().min(0).default(0).describe('0 is the master, 1 and up are slaves.'),
  brokerRole: z.enum(['ASYNC_MASTER', 'SYNC_MASTER', 'SLAVE']).default('ASYNC_MASTER').describe('Replication role.'),
  brokerIP1: z.string().default('').describe('Address advertised to nameservers and clients; empty picks this host\'s first non-internal IPv4 address.'),
  listenHost: z.string().default('0.0.0.0').describe('Interface to listen on.'),
  listenPort: z.coerce.number().int().min(0).max(65535).default(10911).describe('Port for every kind of client (remoting TCP, WebSocket, HTTP).'),
  maxConnections: z.coerce.number().int().min(1).default(10_000).describe('Connections of any protocol (handshakes included) past which new ones are closed at once.'),
  maxInFlightRequestsPerConnection: z.coerce.number().int().min(1).default(65_536).describe('Requests one connection may have being handled at once, held long polls included; past it a request is answered SYSTEM_BUSY without running (RocketMQ clients send at most 65,536, clientAsyncSemaphoreValue).'),
  maxConnectionsPerAddress: z.coerce
    .number()
    .int()
    .min(1)
    .default(1000)
    .describe('Connections from one IP address (an IPv6 /64) past which its new ones are closed at once, so one peer cannot fill maxConnections (RocketMQ has no such limit).'),
  maxBufferedIncompleteFrameBytes: z.coerce
    .number()
    .int()
    .min(16 * 1024 * 1024)
    .default(64 * 1024 * 1024)
    .describe('Bytes all connections together may hold in frames not yet complete (at least one 16 MiB frame); past it the heaviest partial frames (bytes × age) are closed.'),
  frameCompleteTimeoutMillis: millis(30_000, 'Close a connection whose frame has not completed this long after its first byte (RocketMQ has no such timeout).'),
  refusalLogIntervalMillis: millis(60_000, 'Refused connections and protective closes are logged once per address per interval, then summed up.'),
  namesrvAddr: z.string().default('').describe('Nameserver addresses, `host:port` separated by `;`.'),
  storePathRootDir: z.string().default('./store').describe('Root of the store and the config/ folder.'),
  brokerPermission: z.coerce.number().int().min(0).max(15).default(6).describe('Permission bits of the whole broker (PermName): 6 read and write, 4 read-only (drain before maintenance), 2 write-only.'),
  autoCreateTopicEnable: bool(false, 'Create unknown topics on first send through TBW102 (advised off in production).'),
  autoCreateSubscriptionGroup: bool(true, 'Create a consumer group\'s config on first use.'),
  maxSubscriptionGroups: z.coerce.number().int().min(1).default(100_000).describe('Most subscription groups auto-creation may bring the broker to; past it a new group must be created with updateSubGroup.'),
  defaultTopicQueueNums: z.coerce.number().int().min(1).default(8).describe('Queues of TBW102 and the cap for auto-created topics.'),
  registerNameServerPeriod: millis(30_000, 'How often to register with every nameserver.'),
  registerBrokerTimeoutMills: millis(6_000, 'Timeout of one registration.'),
  flushConsumerOffsetInterval: millis(5_000, 'How often consumer offsets are written to disk.'),
  flushDelayOffsetInterval: millis(10_000, 'How often delay-level progress is written to disk.'),
  channelExpiredTimeout: millis(120_000, 'A client silent this long is dropped.'),
  clientHousekeepingInterval: millis(10_000, 'How often silent clients are looked for.'),
  longPollingEnable: bool(true, 'Hold pulls that find nothing until a message arrives or the suspend time ends.'),
  shortPollingTimeMills: millis(1_000, 'How long a pull is held when long polling is off.'),
  pullRequestHoldCheckInterval: millis(5_000, 'How often held pulls are re-checked besides arrival wake-ups.'),
  // RocketMQ caps a pull at 32 messages and 256 KiB whatever the consumer asks. Karman serves
  // up to 1024 and 1 MiB to a consumer that asks for more (its push consumer asks for 256, since
  // per-pull costs dominated a backlog drain at 32); clients asking for RocketMQ's 32 see no
  // difference. Set both to RocketMQ's values to serve exactly as RocketMQ does.
  maxTransferCountOnMessageInMemory: z.coerce
    .number()
    .int()
    .min(1)
    .default(1024)
    .describe('Most messages one pull returns (RocketMQ: 32; a consumer gets min(its maxMsgNums, this), so RocketMQ clients asking for 32 see no difference).'),
  maxTransferBytesOnMessageInMemory: z.coerce
    .number()
    .int()
    .min(1)
    .default(1024 * 1024)
    .describe('Byte budget of one pull; the first message is returned even when larger (RocketMQ: 262144).'),
  metricsMaxConsumerSeries: z.coerce.number().int().min(0).default(10_000).describe('Most consumer_offset and consumer_lag series /metrics lists (known groups, real queues); past it they are counted in broker_consumer_series_dropped.'),
  maxHeldPullRequestsPerConnection: z.coerce.number().int().min(1).default(10_000).describe('Pulls one connection may have held at once; past it its pulls answer PULL_NOT_FOUND at once.'),
  maxHeldPullRequests: z.coerce.number().int().min(1).default(100_000).describe('Cap on pulls held at once; past it pulls answer PULL_NOT_FOUND at once.'),
  messageDelayLevel: z.string().default(DEFAULT_DELAY_LEVELS).describe('Delay of each level, `1s 5s ... 2h`.'),
  notifyConsumerIdsChangedEnable: bool(true, 'Push NOTIFY_CONSUMER_IDS_CHANGED to a group when its members change.'),
  rebalanceLockMaxLiveTime: millis(60_000, 'An orderly-consumption queue lock expires this long after its last renewal.'),
  slaveReadEnable: bool(false, 'Suggest slaves to consumers whose backlog is no longer in memory.'),
  accessMessageInMemoryMaxRatio: z.coerce.number().int().min(0).max(100).default(40).describe('Share of physical memory (store option physicalMemoryBytes, else RAM) behind the log end counted as in memory; reads further behind go to a slave.'),
  haMasterAddress: z.string().default('').describe('Slave: the master\'s `host:port` to replicate from; empty learns it from the nameserver registration answer.'),
  haSendHeartbeatInterval: millis(5_000, 'Longest a replication request waits for new data before answering empty (a heartbeat both ways).'),
  haHousekeepingInterval: millis(20_000, 'A replication connection silent this long is closed (either side); the slave reconnects.'),
  haTransferBatchSize: z.coerce
    .number()
    .int()
    .min(1024)
    .default(1024 * 1024)
    .describe('About how many commit-log bytes one replication answer carries (RocketMQ streams 32 KiB writes without waiting; here each answer costs a round trip, so it carries more).'),
  haSlaveFallbehindMax: z.coerce.number().int().min(1).default(256 * 1024 * 1024).describe('SYNC_MASTER: a slave further behind than this many bytes is not waited for (SLAVE_NOT_AVAILABLE).'),
  slaveTimeout: millis(3_000, 'SYNC_MASTER: how long a send waits for the slave\'s confirmation before FLUSH_SLAVE_TIMEOUT.'),
  haReplicateFromZero: bool(false, 'A slave with an empty store copies the master\'s whole log instead of starting at its last segment.'),
  slaveSyncInterval: millis(10_000, 'Slave: how often topic configs, consumer offsets, delay offsets and groups are copied from the master.'),
  haReconnectInterval: millis(1_000, 'Slave: wait before reconnecting to the master after a failure.'),
});

/** Options as the caller writes them: every key optional, strings accepted where a `.properties` file gives them. */
export type BrokerConfigInput = z.input<typeof BrokerConfigSchema>;
/** Options with every default applied. */
export type BrokerConfig = z.output<typeof BrokerConfigSchema>;

/**
 * Merge options over the defaults. Never mutates the input. Throws `InvalidArgumentError` naming
 * each bad key, its value and what is expected.
 */
export function resolveBrokerConfig(input: BrokerConfigInput = {}): BrokerConfig {
  const parsed = BrokerConfigSchema.safeParse(input);
  if (!parsed.success) {
    const problems = parsed.error.issues.map((issue) => {
      const key = issue.path.join('.');
      const value = (input as Record<string, unknown>)[key];
      return `${key}=${JSON.stringify(value)}: ${issue.message}`;
    });
    throw new InvalidArgumentError(`invalid broker option${problems.length > 1 ? 's' : ''}: ${problems.join('; ')}`);
  }
  const config = parsed.data;
  parseDelayLevels(config.messageDelayLevel);
  if (config.brokerId === 0 && config.brokerRole === 'SLAVE') throw new InvalidArgumentError('brokerRole=SLAVE needs brokerId ≥ 1; brokerId 0 is the master');
  if (config.brokerId > 0 && config.brokerRole !== 'SLAVE') throw new InvalidArgumentError(`brokerId=${config.brokerId} is a slave id; set brokerRole=SLAVE or brokerId=0`);
  return config;
}

const UNIT_MS = { s: 1_000, m: 60_000, h: 3_600_000, d: 86_400_000 } as const;

/**
 * Parse `messageDelayLevel` ("1s 5s 10s ... 2h") into milliseconds per level (index 0 = level 1).
 * `ms` is accepted as a unit as well so tests can run the delay table in milliseconds.
 */
export function parseDelayLevels(text: string): number[] {
  const levels = text.trim().split(/\s+/).map((token) => {
    const match = /^(\d+)(ms|s|m|h|d)$/.exec(token);
    if (!match) throw new InvalidArgumentError(`messageDelayLevel entry "${token}" is not a number followed by ms, s, m, h or d (e.g. "1s 5s 10s")`);
    const unit = match[2] as 'ms' | keyof typeof UNIT_MS;
    return Number(match[1]) * (unit === 'ms' ? 1 : UNIT_MS[unit]);
  });
  if (levels.length === 0 || text.trim() === '') throw new InvalidArgumentError('messageDelayLevel is empty; give at least one level such as "1s"');
  return levels;
}
