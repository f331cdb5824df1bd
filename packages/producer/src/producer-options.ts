/**
 * Producer options: the shared client options plus RocketMQ's `DefaultMQProducer` settings, with
 * their names and defaults, in one zod schema.
 */
import { z } from 'zod';
import { ClientOptionsSchema } from '@karman/client';
import { InvalidArgumentError, groupNameProblem } from '@karman/protocol';

export const ProducerOptionsSchema = ClientOptionsSchema.extend({
  /** Producer group (`producerGroup`); groups identify producers to brokers. */
  group: z.string(),
  /** Budget of one `send`, every retry included (`sendMsgTimeout`, 3 s). */
  sendMsgTimeout: z.number().int().min(1).default(3_000),
  /** Extra attempts after a failed synchronous send (`retryTimesWhenSendFailed`, 2: three attempts). */
  retryTimesWhenSendFailed: z.number().int().min(0).default(2),
  /** Retry when the broker stored the message but answered FLUSH_DISK_TIMEOUT and the like (false). */
  retryAnotherBrokerWhenNotStoreOK: z.boolean().default(false),
  /** Largest body (or batch body) sent (`maxMessageSize`, 4 MiB). */
  maxMessageSize: z.number().int().min(1).default(4 * 1024 * 1024),
  /** Bodies of at least this many bytes are deflated (`compressMsgBodyOverHowmuch`, 4096). */
  compressMsgBodyOverHowmuch: z.number().int().min(0).default(4096),
  /** zlib level for compressed bodies (5). */
  compressLevel: z.number().int().min(0).max(9).default(5),
  /** Queues per broker for a topic auto-created through TBW102 (`defaultTopicQueueNums`, 4). */
  defaultTopicQueueNums: z.number().int().min(1).default(4),
  /** Template topic for auto-creation (`createTopicKey`, TBW102). */
  createTopicKey: z.string().default('TBW102'),
  /** Avoid slow and failing brokers for a while (`sendLatencyFaultEnable`, off). */
  sendLatencyFaultEnable: z.boolean().default(false),
  /** How often unreachable brokers are probed when fault isolation is on (2 s). */
  detectInterval: z.number().int().min(1).default(2_000),
  /** Sends awaiting their answer at once; more wait (or fail when `failFastWhenBusy`). */
  maxInFlightSends: z.number().int().min(1).default(1024),
  /** Body bytes in flight at once (100 MiB). */
  maxInFlightBytes: z.number().int().min(1).default(100 * 1024 * 1024),
  /** Reject a send at once with PRODUCER_BUSY instead of waiting when the caps are reached. */
  failFastWhenBusy: z.boolean().default(false),
  /**
   * Automatic batching of concurrent plain sends into SEND_BATCH_MESSAGE (off). Sends with an
   * explicit queue, a selector or a delay level are never batched.
   */
  autoBatch: z
    .union([
      z.literal(false),
      z.object({
        /**
         * How long the first message of a batch waits for company, ms. 0 (the default): until the
         * end of the current event-loop turn, so sends made together go together and a lone send
         * does not wait.
         */
        lingerMillis: z.number().min(0).default(0),
        /** Most messages in one batch. */
        maxMessages: z.number().int().min(1).default(256),
        /** Most body bytes in one batch. */
        maxBytes: z.number().int().min(1).default(1024 * 1024),
      }),
    ])
    .default(false),
});

export type ProducerOptions = z.input<typeof ProducerOptionsSchema>;
export type ResolvedProducerOptions = z.output<typeof ProducerOptionsSchema>;

export function resolveProducerOptions(options: ProducerOptions): ResolvedProducerOptions {
  const parsed = ProducerOptionsSchema.safeParse(options);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    throw new InvalidArgumentError(`invalid producer option ${issue.path.join('.') || '(options)'}: ${issue.message}`);
  }
  const problem = groupNameProblem(parsed.data.group);
  if (problem) throw new InvalidArgumentError(`invalid producer option group: ${problem}`);
  if (parsed.data.nameservers.length === 0) throw new InvalidArgumentError('no nameserver given: set `nameservers` to "host:port" or a list (e.g. "127.0.0.1:9876")');
  return parsed.data;
}
