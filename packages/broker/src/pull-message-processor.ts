/**
 * PULL_MESSAGE (11) and LITE_PULL_MESSAGE (361) with long polling (RocketMQ `PullMessageProcessor` and
 * `DefaultPullMessageResultHandler`).
 *
 * A pull is checked in RocketMQ's order (group exists or is auto-created, group may consume, topic
 * exists and is readable, queue id in range, subscription known and not older than the request's),
 * then read from the store with tag-code filtering. Every reply, found or not, carries
 * nextBeginOffset, minOffset, maxOffset and suggestWhichBrokerId: real clients read them on every
 * code. A FOUND body is the stored records exactly as in the commit log, concatenated.
 *
 * A pull that finds nothing (PULL_NOT_FOUND) and carries the suspend flag is parked in the
 * `PullRequestHoldService` instead of answered: the handler's promise resolves only when the hold
 * service re-executes the pull (a matching arrival, the periodic check, the suspend time ending or
 * the broker stopping), or with a never-delivered answer when the connection closes, so nothing
 * waits on a vanished consumer.
 */
import { InvalidArgumentError, RequestCode, ResponseCode, createResponse, isReadable, recordPhysicalOffset, tagsCode } from '@karman/protocol';
import type { PullMessageRequestHeader, RemotingCommand, ServerConnection } from '@karman/protocol';
import { GetMessageStatus } from '@karman/commitlog';
import type { GetMessageResult } from '@karman/commitlog';
import type { BrokerContext } from './broker-context.js';

/** Bits of the pull request's `sysFlag` (RocketMQ `PullSysFlag`). */
export const PullSysFlag = { COMMIT_OFFSET: 1, SUSPEND: 2, SUBSCRIPTION: 4, CLASS_FILTER: 8 } as const;
export type PullSysFlag = (typeof PullSysFlag)[keyof typeof PullSysFlag];

/** RocketMQ's `MixAll.MASTER_ID`. */
const MASTER_ID = 0;
/** `SubscriptionData.SUB_ALL`. */
const SUB_ALL = '*';

/** A parsed tag expression: the tags and their codes; `undefined` from the parser means every message. */
export interface TagFilter {
  tags: string[];
  codes: ReadonlySet<number>;
}

/**
 * Parse a tag subscription as RocketMQ's `FilterAPI.buildSubscriptionData`: `"*"` or empty
 * means every message (undefined); otherwise `"A || B"` split on `||` and trimmed. Throws
 * `InvalidArgumentError` naming the problem when no tag is left (the pull answers SUBSCRIPTION_PARSE_FAILED).
 */
export function parseTagExpression(expression: string | undefined): TagFilter | undefined {
  const text = expression?.trim() ?? '';
  if (text === '' || text === SUB_ALL) return undefined;
  const tags = [...new Set(text.split('||').map((t) => t.trim()).filter((t) => t.length > 0))];
  if (tags.length === 0) throw new InvalidArgumentError(`tag expression ${JSON.stringify(expression)} names no tag; write "*" for every message or "TagA || TagB"`);
  return { tags, codes: new Set(tags.map((t) => tagsCode(t))) };
}

/** Response codes of the pull outcome, by store status (PullMessageProcessor.processRequest's table). */
export function pullResponseCode(status: GetMessageStatus, requestOffset: number): number {
  switch (status) {
    case GetMessageStatus.FOUND:
      return ResponseCode.SUCCESS.code;
    case GetMessageStatus.NO_MATCHED_MESSAGE:
      return ResponseCode.PULL_RETRY_IMMEDIATELY.code;
    case GetMessageStatus.NO_MESSAGE_IN_QUEUE:
    case GetMessageStatus.NO_MATCHED_LOGIC_QUEUE:
      return requestOffset !== 0 ? ResponseCode.PULL_OFFSET_MOVED.code : ResponseCode.PULL_NOT_FOUND.code;
    case GetMessageStatus.OFFSET_OVERFLOW_ONE:
    case GetMessageStatus.OFFSET_FOUND_NULL:
      return ResponseCode.PULL_NOT_FOUND.code;
    case GetMessageStatus.OFFSET_OVERFLOW_BADLY:
    case GetMessageStatus.OFFSET_TOO_SMALL:
      return ResponseCode.PULL_OFFSET_MOVED.code;
    default:
      // MESSAGE_WAS_REMOVING and any status a later store adds: let the consumer try again.
      return ResponseCode.PULL_RETRY_IMMEDIATELY.code;
  }
}

/** What a pull needs after its checks passed. */
interface PullPlan {
  header: PullMessageRequestHeader;
  /** undefined accepts every message. */
  tagCodes: ReadonlySet<number> | undefined;
  /** Group's broker ids for slave reads. */
  groupBrokerId: number;
  whichBrokerWhenConsumeSlowly: number;
}

/**
 * Register PULL_MESSAGE (11) and LITE_PULL_MESSAGE (361). RocketMQ 5.x's DefaultLitePullConsumer
 * sends the second with the same header; its broker serves both with one `PullMessageProcessor`
 * (on a separate thread pool, which Karman does not need).
 */
export function registerPullProcessor(context: BrokerContext): void {
  // Held pulls per connection, so a closing connection settles their handler promises at once.
  const abandoners = new Map<number, Set<() => void>>();
  context.server.on('disconnect', (connection) => {
    const set = abandoners.get(connection.id);
    abandoners.delete(connection.id);
    for (const abandon of set ?? []) abandon();
  });

  for (const code of [RequestCode.PULL_MESSAGE.code, RequestCode.LITE_PULL_MESSAGE.code]) {
    context.server.registerHandler(code, async (request, { connection, header }) => {
      context.stats.pullRequests++;
      const checked = await checkPull(context, request, header as PullMessageRequestHeader);
      if ('response' in checked) return checked.response;
      return pull(context, request, connection, checked.plan, true, abandoners);
    });
  }
}

type Checked = { response: RemotingCommand } | { plan: PullPlan };

/** RocketMQ's checks before reading, in its order; an expected failure is a response with a remark. */
async function checkPull(context: BrokerContext, request: RemotingCommand, header: PullMessageRequestHeader): Promise<Checked> {
  const fail = (code: number, remark: string): Checked => ({ response: createResponse(request, code, remark) });
  const { config, groups, topics, clients } = context;
  const { consumerGroup: group, topic, queueId } = header;

  if (!isReadable(config.brokerPermission)) {
    return fail(ResponseCode.NO_PERMISSION.code, `broker ${config.brokerName} is not readable (brokerPermission ${config.brokerPermission}); read from another broker or restore its read permission`);
  }
  const groupConfig = await groups.findOrCreate(group);
  if (!groupConfig) {
    return fail(
      ResponseCode.SUBSCRIPTION_GROUP_NOT_EXIST.code,
      `subscription group "${group}" does not exist on ${config.brokerName}; create it with updateSubGroup or enable autoCreateSubscriptionGroup`,
    );
  }
  if (!groupConfig.consumeEnable) {
    return fail(ResponseCode.NO_PERMISSION.code, `subscription group "${group}" may not consume (consumeEnable=false); enable it with updateSubGroup`);
  }
  const topicConfig = topics.get(topic);
  if (!topicConfig) {
    return fail(ResponseCode.TOPIC_NOT_EXIST.code, `topic "${topic}" does not exist on ${config.brokerName}; create it with updateTopic before consuming`);
  }
  if (!isReadable(topicConfig.perm)) {
    return fail(ResponseCode.NO_PERMISSION.code, `topic "${topic}" on ${config.brokerName} is not readable (perm ${topicConfig.perm}); pulling is forbidden until its read permission is restored`);
  }
  if (queueId < 0 || queueId >= topicConfig.readQueueNums) {
    return fail(
      ResponseCode.SYSTEM_ERROR.code,
      `queueId ${queueId} is illegal for topic "${topic}" on ${config.brokerName}: readQueueNums is ${topicConfig.readQueueNums}, use 0..${topicConfig.readQueueNums - 1} (consumer group "${group}")`,
    );
  }

  let tagCodes: ReadonlySet<number> | undefined;
  let expressionType = header.expressionType;
  if ((header.sysFlag & PullSysFlag.SUBSCRIPTION) !== 0) {
    try {
      tagCodes = parseTagExpression(header.subscription)?.codes;
    } catch (error) {
      return fail(ResponseCode.SUBSCRIPTION_PARSE_FAILED.code, `cannot parse the subscription of group "${group}" to "${topic}": ${(error as Error).message}`);
    }
  } else {
    const info = clients.consumerGroup(group);
    if (!info) {
      return fail(ResponseCode.SUBSCRIPTION_NOT_EXIST.code, `consumer group "${group}" has not sent a heartbeat to ${config.brokerName}; send HEART_BEAT with its subscriptions first, or set the subscription flag`);
    }
    if (!groupConfig.consumeBroadcastEnable && info.messageModel === 'BROADCASTING') {
      return fail(ResponseCode.NO_PERMISSION.code, `subscription group "${group}" may not consume in broadcasting mode (consumeBroadcastEnable=false)`);
    }
    const sub = info.subscriptions.get(topic);
    if (!sub) {
      return fail(ResponseCode.SUBSCRIPTION_NOT_EXIST.code, `consumer group "${group}" has no subscription to "${topic}"; subscribe and send a heartbeat first`);
    }
    if (sub.subVersion < header.subVersion) {
      return fail(ResponseCode.SUBSCRIPTION_NOT_LATEST.code, `the subscription of group "${group}" to "${topic}" is older (version ${sub.subVersion}) than the pull's (${header.subVersion}); send a heartbeat first`);
    }
    expressionType = sub.expressionType;
    if (sub.subString.trim() !== SUB_ALL && sub.subString.trim() !== '') {
      tagCodes = sub.codeSet.length > 0 ? new Set(sub.codeSet) : new Set(sub.tagsSet.map((t) => tagsCode(t)));
    }
  }
  if (expressionType !== undefined && expressionType !== '' && expressionType.toUpperCase() !== 'TAG') {
    return fail(ResponseCode.SYSTEM_ERROR.code, `this broker filters by TAG only; expression type "${expressionType}" (SQL92) is not supported, subscribe with a tag expression`);
  }
  return { plan: { header, tagCodes, groupBrokerId: groupConfig.brokerId, whichBrokerWhenConsumeSlowly: groupConfig.whichBrokerWhenConsumeSlowly } };
}

/**
 * Read and answer. `allowSuspend` is false when the hold service re-executes a parked pull, so it
 * answers rather than parking again; only the first execution stores the carried commit offset.
 */
async function pull(
  context: BrokerContext,
  request: RemotingCommand,
  connection: ServerConnection,
  plan: PullPlan,
  allowSuspend: boolean,
  abandoners: Map<number, Set<() => void>>,
): Promise<RemotingCommand> {
  const { store, config } = context;
  const { header } = plan;
  const suspend = allowSuspend && (header.sysFlag & PullSysFlag.SUSPEND) !== 0;
  const maxCount = Math.max(1, Math.min(header.maxMsgNums, config.maxTransferCountOnMessageInMemory));
  const byteCap = config.maxTransferBytesOnMessageInMemory;
  const maxBytes = header.maxMsgBytes !== undefined && header.maxMsgBytes > 0 ? Math.min(header.maxMsgBytes, byteCap) : byteCap;

  let result: GetMessageResult;
  let code: number;
  for (let attempt = 0; ; attempt++) {
    result = await store.getMessage({ group: header.consumerGroup, topic: header.topic, queueId: header.queueId, offset: header.queueOffset, maxCount, maxBytes, tagsCodes: plan.tagCodes });
    code = pullResponseCode(result.status, header.queueOffset);
    // A message that arrived while the read was in flight woke nobody: read again rather than park past it.
    if (code === ResponseCode.PULL_NOT_FOUND.code && suspend && attempt < 2 && store.getMaxOffsetInQueue(header.topic, header.queueId) !== result.maxOffset) continue;
    break;
  }

  if (code === ResponseCode.PULL_NOT_FOUND.code && suspend) {
    // From the check above to hold() nothing awaits, so no arrival can fall between them.
    const held = park(context, request, connection, plan, abandoners);
    if (held) {
      commitCarriedOffset(context, header, allowSuspend);
      return held;
    }
    // Over maxHeldPullRequests: answer PULL_NOT_FOUND at once, the consumer pulls again.
  }

  let suggest = MASTER_ID;
  if (config.slaveReadEnable) {
    suggest = result.status === GetMessageStatus.FOUND && suggestSlave(context, result) ? plan.whichBrokerWhenConsumeSlowly : plan.groupBrokerId;
  }
  let remark: string | undefined;
  let nextBeginOffset = result.nextBeginOffset;
  // A slave serves what it found whatever slaveReadEnable says: RocketMQ's PullMessageProcessor sets
  // PULL_RETRY_IMMEDIATELY for a slave without it and then overwrites the code from the store's
  // status, so only the suggestion (the master, above) differs. That is what lets consumers read a
  // dead master's messages from its slave; slaveReadEnable only steers live consumers to slaves.
  if (config.brokerRole === 'SLAVE' && code === ResponseCode.PULL_OFFSET_MOVED.code) {
    // A slave never corrects offsets (offsetCheckInSlave=false): it only asks for a retry, from the
    // same offset (DefaultMessageStore.nextOffsetCorrection keeps the old one on a slave). A slave
    // missing what its dead master had must not send the consumer back to its first message.
    code = ResponseCode.PULL_RETRY_IMMEDIATELY.code;
    nextBeginOffset = header.queueOffset;
  }

  let body: Uint8Array | undefined;
  if (code === ResponseCode.SUCCESS.code) {
    // Records go out as stored: one copy into the frame body, no decoding or re-encoding.
    body = result.buffers.length === 1 ? result.buffers[0] : Buffer.concat(result.buffers, result.bufferTotalSize);
    context.stats.recordGet(header.topic, result.buffers.length, result.bufferTotalSize);
  } else if (code === ResponseCode.PULL_OFFSET_MOVED.code) {
    remark = `offset ${header.queueOffset} of ${header.topic}:${header.queueId} is outside [${result.minOffset}, ${result.maxOffset}] (${result.status}); continue from nextBeginOffset ${result.nextBeginOffset}`;
  }
  commitCarriedOffset(context, header, allowSuspend);
  if (code === ResponseCode.SUCCESS.code) context.offsets.commitPull(header.consumerGroup, header.topic, header.queueId, nextBeginOffset);
  return createResponse(
    request,
    code,
    remark,
    { suggestWhichBrokerId: suggest, nextBeginOffset, minOffset: result.minOffset, maxOffset: result.maxOffset },
    body,
  );
}

/**
 * Park a pull in the hold service. Returns the promise that answers it, or undefined when the hold
 * service is full or the connection already closed. The promise settles exactly once: when the hold service re-executes the pull, or
 * (with an answer that is never delivered) when the connection closes.
 */
function park(
  context: BrokerContext,
  request: RemotingCommand,
  connection: ServerConnection,
  plan: PullPlan,
  abandoners: Map<number, Set<() => void>>,
): Promise<RemotingCommand> | undefined {
  const { header } = plan;
  const { config, holds, clock } = context;
  // The consumer left while the read was in flight: its 'disconnect' has passed, nothing would drop this hold.
  if (connection.closed) return undefined;
  // One client may not fill maxHeldPullRequests for everyone: past its own share it pulls again.
  if ((abandoners.get(connection.id)?.size ?? 0) >= config.maxHeldPullRequestsPerConnection) return undefined;
  let settle!: (response: RemotingCommand) => void;
  const answered = new Promise<RemotingCommand>((resolve) => {
    settle = resolve;
  });
  let set = abandoners.get(connection.id);
  const forget = (): void => {
    set?.delete(abandon);
    if (set?.size === 0 && abandoners.get(connection.id) === set) abandoners.delete(connection.id);
  };
  const abandon = (): void => {
    // The peer is gone; this answer only settles the handler and is dropped on send.
    settle(createResponse(request, ResponseCode.PULL_NOT_FOUND.code, 'the connection closed while the pull was held'));
  };
  const wait = config.longPollingEnable ? header.suspendTimeoutMillis : config.shortPollingTimeMills;
  const accepted = holds.hold({
    topic: header.topic,
    queueId: header.queueId,
    offset: header.queueOffset,
    tagCodes: plan.tagCodes,
    deadline: clock() + wait,
    channelId: connection.id,
    execute: () => {
      forget();
      if (connection.closed) {
        abandon();
        return;
      }
      pull(context, request, connection, plan, false, abandoners).then(settle, (error: unknown) => {
        // Typically the store closing under a broker shutdown: answer rather than leave the consumer waiting 30 s.
        settle(createResponse(request, ResponseCode.SYSTEM_ERROR.code, `pull of ${header.topic}:${header.queueId} failed: ${(error as Error).message}; retry shortly`));
      });
    },
  });
  if (!accepted) return undefined;
  if (!set) abandoners.set(connection.id, (set = new Set()));
  set.add(abandon);
  return answered;
}

/** A commit offset carried in a pull is stored by a master on the pull's first execution. */
function commitCarriedOffset(context: BrokerContext, header: PullMessageRequestHeader, firstExecution: boolean): void {
  if (!firstExecution || (header.sysFlag & PullSysFlag.COMMIT_OFFSET) === 0) return;
  if (context.config.brokerRole === 'SLAVE' || header.commitOffset < 0) return;
  context.offsets.commit(header.consumerGroup, header.topic, header.queueId, header.commitOffset);
}

/**
 * A consumer reading further behind the commit log's end than the store's in-memory window
 * (`accessMessageInMemoryMaxRatio` % of `physicalMemoryBytes`, `MessageStore.isInMemory`) is
 * probably reading from disk; with slave reads on, send it to a slave (RocketMQ's
 * `GetMessageResult.suggestPullingFromSlave`).
 */
function suggestSlave(context: BrokerContext, result: GetMessageResult): boolean {
  const last = result.buffers.at(-1);
  const physicalOffset = last && recordPhysicalOffset(last);
  return physicalOffset !== undefined && !context.store.isInMemory(physicalOffset);
}
