/**
 * Consumer options: the shared client options plus RocketMQ's `DefaultMQPushConsumer` /
 * `DefaultLitePullConsumer` settings with their names and defaults, in one zod schema
 * each. Every interval is an option so tests can run on milliseconds.
 */
import { constants as bufferConstants } from 'node:buffer';
import { z } from 'zod';
import { ClientOptionsSchema } from '@karman/client';
import { DEFAULT_MAX_DECOMPRESSED_SIZE, InvalidArgumentError, groupNameProblem } from '@karman/protocol';
import type { AllocateStrategy } from './allocate-strategy.js';
import { allocateAveragely } from './allocate-averagely.js';
import type { ConsumedMessage } from './consumed-message.js';
import type { MessageQueue } from '@karman/client';

/** Where a group with no committed offset starts. Ignored once an offset exists. */
export const ConsumeFromWhere = {
  CONSUME_FROM_LAST_OFFSET: 'CONSUME_FROM_LAST_OFFSET',
  CONSUME_FROM_FIRST_OFFSET: 'CONSUME_FROM_FIRST_OFFSET',
  CONSUME_FROM_TIMESTAMP: 'CONSUME_FROM_TIMESTAMP',
} as const;
export type ConsumeFromWhere = (typeof ConsumeFromWhere)[keyof typeof ConsumeFromWhere];

/** Clustering shares queues among the group; broadcasting gives every member every message. */
export const MessageModel = { CLUSTERING: 'CLUSTERING', BROADCASTING: 'BROADCASTING' } as const;
export type MessageModel = (typeof MessageModel)[keyof typeof MessageModel];

/**
 * What a handler may answer. Returning nothing means success; throwing means "later" (concurrent)
 * or "suspend" (orderly).
 */
export const ConsumeResult = {
  /** Done: the offset may move past it. */
  CONSUME_SUCCESS: 'CONSUME_SUCCESS',
  /** Concurrent: send it back for a later retry. */
  RECONSUME_LATER: 'RECONSUME_LATER',
  /** Orderly: stop this queue for `suspendCurrentQueueTimeMillis`, then retry the same message. */
  SUSPEND_CURRENT_QUEUE_A_MOMENT: 'SUSPEND_CURRENT_QUEUE_A_MOMENT',
} as const;
export type ConsumeResult = (typeof ConsumeResult)[keyof typeof ConsumeResult];

/** Passed to each handler call. */
export interface ConsumeContext {
  /** The consumer group consuming the message (what `@karman/dedup` scopes its records by). */
  group: string;
  /** The queue the message was pulled from. */
  queue: MessageQueue;
  /** Concurrent: delay level of the next retry when this call fails; 0 lets the broker choose (3 + reconsumeTimes). -1 sends it straight to the DLQ. */
  delayLevelWhenNextConsume: number;
  /** Aborted when the consumer shuts down or the queue is revoked while the handler runs. */
  signal: AbortSignal;
}

/** A push consumer's handler. */
export type MessageHandler = (message: ConsumedMessage, context: ConsumeContext) => void | ConsumeResult | Promise<void | ConsumeResult>;

const millis = (value: number) => z.number().int().min(1).default(value);

const CommonConsumerOptionsSchema = ClientOptionsSchema.extend({
  /** Consumer group (`consumerGroup`): members of one group share its queues and its offsets. */
  group: z.string(),
  /** Topic → tag expression (`*` or `TagA || TagB`). More can be added with `subscribe()`. */
  subscriptions: z.record(z.string(), z.string()).default({}),
  /** CLUSTERING (default: share queues) or BROADCASTING (every member gets everything). */
  messageModel: z.enum(['CLUSTERING', 'BROADCASTING']).default('CLUSTERING'),
  /** Where a group with no committed offset starts (CONSUME_FROM_LAST_OFFSET; see ConsumerManageProcessor.queryConsumerOffset for the young-queue quirk). */
  consumeFromWhere: z.enum(['CONSUME_FROM_LAST_OFFSET', 'CONSUME_FROM_FIRST_OFFSET', 'CONSUME_FROM_TIMESTAMP']).default('CONSUME_FROM_LAST_OFFSET'),
  /** For CONSUME_FROM_TIMESTAMP: `yyyyMMddHHmmss` in local time (RocketMQ's format), a Date or epoch ms; default half an hour before start. */
  consumeTimestamp: z.union([z.string().regex(/^\d{14}$/, 'use yyyyMMddHHmmss, e.g. 20240131235959'), z.date(), z.number().int().min(0)]).optional(),
  /** How the group's queues are shared (`allocateMessageQueueStrategy`, default AVG). */
  allocateStrategy: z.custom<AllocateStrategy>((v) => typeof v === 'object' && v !== null && typeof (v as AllocateStrategy).allocate === 'function', 'must be an AllocateStrategy (e.g. allocateAveragely)').default(allocateAveragely),
  /**
   * Most messages one pull asks for (`pullBatchSize`): 256 here, 32 in RocketMQ. A RocketMQ broker
   * returns at most 32 (its `maxTransferCountOnMessageInMemory`) whatever is asked, so the larger
   * default only changes anything against a Karman broker, which serves up to 1024 messages or 1 MiB
   * per pull; set 32 for RocketMQ's behaviour exactly.
   */
  pullBatchSize: z.number().int().min(1).max(1024).default(256),
  /** Pause between two pulls of a queue (`pullInterval`, 0). */
  pullInterval: z.number().int().min(0).default(0),
  /**
   * Pause before pulling a queue again after a PULL_RETRY_IMMEDIATELY answer that brought nothing
   * and did not move the offset (20 ms, RocketMQ's pause after a broker's FLOW_CONTROL). Such an
   * answer comes again if asked again at once: a slave that lacks what its dead master had answers
   * it until the master is back. RocketMQ re-pulls at once; 20 ms caps that loop at about 50 pulls
   * a second per queue. 0 re-pulls at once, as RocketMQ does.
   */
  pullTimeDelayMillsWhenRetryImmediately: z.number().int().min(0).default(20),
  /** How long the broker holds a pull that found nothing (`brokerSuspendMaxTimeMillis`, 15 s). */
  brokerSuspendMaxTimeMillis: millis(15_000),
  /** Client timeout of a held pull (`consumerTimeoutMillisWhenSuspend`, 30 s); must exceed the suspend time. */
  consumerTimeoutMillisWhenSuspend: millis(30_000),
  /** Wait before pulling a queue again after an error (`pullTimeDelayMillsWhenException`, 3 s). */
  pullTimeDelayMillsWhenException: millis(3_000),
  /** How often the group's queues are re-shared (`rocketmq.client.rebalance.waitInterval`, 20 s). */
  rebalanceInterval: millis(20_000),
  /** Shortest gap between two rebalances (1 s in RocketMQ 5.x). */
  rebalanceMinGapMillis: z.number().int().min(0).default(1_000),
  /** How often offsets are committed (`persistConsumerOffsetInterval`, 5 s). */
  persistConsumerOffsetInterval: millis(5_000),
  /** Timeout of offset, member-list, lock and send-back requests (`mqClientApiTimeout`-like, 3 s). */
  brokerRequestTimeoutMillis: millis(3_000),
  /**
   * Let the broker answer 0 for a group with no committed offset on a young queue (true, RocketMQ's
   * behaviour), which makes a brand-new group start at the beginning whatever
   * `consumeFromWhere` says. false sends `setZeroIfNotFound=false` so `consumeFromWhere` applies.
   */
  setZeroIfNotFound: z.boolean().default(true),
  /** Directory of broadcasting offset files (`rocketmq.client.localOffsetStoreDir`, `~/.rocketmq_offsets`). */
  localOffsetStoreDir: z.string().optional(),
  /**
   * Most bytes a compressed body may inflate to (`maxMessageSize`, 4 MiB: the limit RocketMQ's
   * producer checks before compressing and the broker's default). Bodies are inflated when the
   * handler reads `body`; one that inflates further throws BODY_TOO_LARGE there instead of
   * inflating without end. Raise it with the producers' and brokers' `maxMessageSize`.
   */
  maxMessageSize: z.number().int().min(1).max(bufferConstants.MAX_LENGTH).default(DEFAULT_MAX_DECOMPRESSED_SIZE),
});

export const PushConsumerOptionsSchema = CommonConsumerOptionsSchema.extend({
  /** The handler; or leave it out and iterate `consumer.messages()`. */
  handler: z.custom<MessageHandler>((v) => typeof v === 'function', 'must be a function (message, context) => ...').optional(),
  /** Orderly consumption (`MessageListenerOrderly`): one message at a time per queue, under a broker lock. */
  orderly: z.boolean().default(false),
  /** Handler calls at once, all queues together (`consumeThreadMax`, 20). */
  concurrency: z.number().int().min(1).default(20),
  /** Stop pulling a queue holding this many unconsumed messages (`pullThresholdForQueue`, 1000). */
  pullThresholdForQueue: z.number().int().min(1).default(1000),
  /** Stop pulling a queue holding this many MiB of unconsumed bodies (`pullThresholdSizeForQueue`, 100). */
  pullThresholdSizeForQueue: z.number().int().min(1).default(100),
  /** Concurrent mode: stop pulling when newest − oldest unconsumed offset exceeds this (`consumeConcurrentlyMaxSpan`, 2000). */
  consumeConcurrentlyMaxSpan: z.number().int().min(1).default(2000),
  /** Wait before pulling a flow-controlled queue again (50 ms). */
  pullTimeDelayMillsWhenFlowControl: millis(50),
  /** Retries before the DLQ (`maxReconsumeTimes`): default 16 for concurrent, unlimited for orderly. */
  maxReconsumeTimes: z.number().int().min(-1).default(-1),
  /** Orderly: pause of a queue after a failure (`suspendCurrentQueueTimeMillis`, 1 s). */
  suspendCurrentQueueTimeMillis: millis(1_000),
  /** Retry a message locally after this when neither send-back nor resend worked (5 s). */
  localRetryDelayMillis: millis(5_000),
  /** Timeout of CONSUMER_SEND_MSG_BACK (5 s). */
  sendMessageBackTimeout: millis(5_000),
  /** Orderly: how often broker locks are renewed (`rocketmq.client.rebalance.lockInterval`, 20 s). */
  lockInterval: millis(20_000),
  /** Orderly: a lock not renewed for this long counts as lost (`lockMaxLiveTime`, 30 s). */
  lockMaxLiveTime: millis(30_000),
  /**
   * Minutes a message may sit in a concurrent handler (`consumeTimeout`, 15); past that it is sent
   * back for a retry and the queue's offset moves on. The handler is not stopped, so this can
   * duplicate (apache/rocketmq#1600). Checked every `consumeTimeout` minutes.
   */
  consumeTimeout: z.number().positive().default(15),
  /** A queue whose last pull is older than this is dropped and re-created at the next rebalance (`pullMaxIdleTime`, 120 s). */
  pullMaxIdleTime: millis(120_000),
});

export type PushConsumerOptions = z.input<typeof PushConsumerOptionsSchema>;
export type ResolvedPushConsumerOptions = z.output<typeof PushConsumerOptionsSchema>;

export const PullConsumerOptionsSchema = CommonConsumerOptionsSchema.extend({
  /** Persist consumed offsets by themselves every `autoCommitIntervalMillis` (`autoCommit`, true). */
  autoCommit: z.boolean().default(true),
  /** How often auto-commit persists offsets (`autoCommitIntervalMillis`, 5 s). */
  autoCommitIntervalMillis: millis(5_000),
  /** Stop pulling a queue holding this many unpolled messages (`pullThresholdForQueue`, 1000). */
  pullThresholdForQueue: z.number().int().min(1).default(1000),
  /** Stop pulling when the consumer holds this many unpolled messages in all (`pullThresholdForAll`, 10000). */
  pullThresholdForAll: z.number().int().min(1).default(10_000),
  /** Wait before pulling a flow-controlled queue again (50 ms). */
  pullTimeDelayMillsWhenFlowControl: millis(50),
  /** Most messages one `poll` returns (`pullBatchSize` in RocketMQ's lite consumer, 10). */
  pollBatchSize: z.number().int().min(1).default(10),
});

export type PullConsumerOptions = z.input<typeof PullConsumerOptionsSchema>;
export type ResolvedPullConsumerOptions = z.output<typeof PullConsumerOptionsSchema>;

function resolve<S extends z.ZodType>(schema: S, options: unknown, what: string): z.output<S> {
  const parsed = schema.safeParse(options);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    throw new InvalidArgumentError(`invalid ${what} option ${issue.path.join('.') || '(options)'}: ${issue.message}`);
  }
  const data = parsed.data as z.output<typeof CommonConsumerOptionsSchema>;
  const problem = groupNameProblem(data.group);
  if (problem) throw new InvalidArgumentError(`invalid ${what} option group: ${problem}`);
  if (data.nameservers.length === 0) throw new InvalidArgumentError('no nameserver given: set `nameservers` to "host:port" or a list (e.g. "127.0.0.1:9876")');
  if (data.consumeTimestamp !== undefined) consumeTimestampMillis(data.consumeTimestamp);
  if (data.consumerTimeoutMillisWhenSuspend <= data.brokerSuspendMaxTimeMillis) {
    throw new InvalidArgumentError(
      `consumerTimeoutMillisWhenSuspend (${data.consumerTimeoutMillisWhenSuspend}) must be greater than brokerSuspendMaxTimeMillis (${data.brokerSuspendMaxTimeMillis}), or every held pull times out; raise the first or lower the second`,
    );
  }
  return parsed.data;
}

/** Apply defaults without mutating the input; the error names the bad option and the fix. */
export function resolvePushConsumerOptions(options: PushConsumerOptions): ResolvedPushConsumerOptions {
  const resolved = resolve(PushConsumerOptionsSchema, options, 'push consumer');
  if (resolved.lockMaxLiveTime <= resolved.lockInterval) {
    throw new InvalidArgumentError(`lockMaxLiveTime (${resolved.lockMaxLiveTime}) must be greater than lockInterval (${resolved.lockInterval}), or orderly locks lapse between renewals`);
  }
  return resolved;
}

export function resolvePullConsumerOptions(options: PullConsumerOptions): ResolvedPullConsumerOptions {
  return resolve(PullConsumerOptionsSchema, options, 'pull consumer');
}

/**
 * The consume-from timestamp in epoch ms: `yyyyMMddHHmmss` is read in local time, as RocketMQ's
 * `UtilAll.parseDate` does; undefined means half an hour before `now`.
 */
export function consumeTimestampMillis(value: string | Date | number | undefined, now = Date.now()): number {
  if (value === undefined) return now - 30 * 60 * 1000;
  if (typeof value === 'number') return value;
  if (value instanceof Date) return value.getTime();
  const [y, mo, d, h, mi, s] = [value.slice(0, 4), value.slice(4, 6), value.slice(6, 8), value.slice(8, 10), value.slice(10, 12), value.slice(12, 14)].map(Number) as [number, number, number, number, number, number];
  const date = new Date(y, mo - 1, d, h, mi, s);
  if (date.getMonth() !== mo - 1 || date.getDate() !== d) throw new InvalidArgumentError(`consumeTimestamp "${value}" is not a real date; use yyyyMMddHHmmss`);
  return date.getTime();
}
