/**
 * What consumers ask a broker besides pulling (RocketMQ `ConsumerManageProcessor`,
 * `ClientManageProcessor` and the lock half of `AdminBrokerProcessor`):
 *
 *   QUERY_CONSUMER_OFFSET (14)   committed offset, or RocketMQ's "0 for a young queue" quirk, or QUERY_NOT_FOUND (22)
 *   UPDATE_CONSUMER_OFFSET (15)  store a commit (ali-ons sends it two-way: it is answered)
 *   SEARCH_OFFSET_BY_TIMESTAMP (29), GET_MAX_OFFSET (30), GET_MIN_OFFSET (31): header `offset`
 *   GET_EARLIEST_MSG_STORETIME (32): header `timestamp` (-1 for an empty queue)
 *   HEART_BEAT (34)              body `HeartbeatData` JSON: register producers and consumers
 *   UNREGISTER_CLIENT (35)
 *   GET_CONSUMER_LIST_BY_GROUP (38)  body `{"consumerIdList":[...]}`
 *   LOCK_BATCH_MQ (41) / UNLOCK_BATCH_MQ (42)  body `{consumerGroup, clientId, mqSet:[{topic, brokerName, queueId}]}`;
 *                                 a lock answers `{"lockOKMQSet":[...]}`
 *
 * Bodies are client JSON: each is checked with a zod schema and a bad one is answered SYSTEM_ERROR
 * with a remark naming the problem, never thrown.
 */
import { z } from 'zod';
import { Perm, RequestCode, ResponseCode, consumerGroupNameProblem, createResponse, groupNameProblem, recordPhysicalOffset, recordStoreTimestamp, retryTopic } from '@karman/protocol';
import type {
  GetConsumerListByGroupRequestHeader,
  QueryConsumerOffsetRequestHeader,
  QueueRequestHeader,
  RemotingCommand,
  SearchOffsetRequestHeader,
  UnregisterClientRequestHeader,
  UpdateConsumerOffsetRequestHeader,
} from '@karman/protocol';
import { GetMessageStatus } from '@karman/commitlog';
import type { BrokerContext } from './broker-context.js';
import { HeartbeatDataSchema } from './client-manager.js';

/** A message queue as RocketMQ's `MessageQueue` JSON. */
const MessageQueueSchema = z.looseObject({
  topic: z.string().min(1),
  brokerName: z.string().min(1),
  queueId: z.number().int().min(0),
});

/** Most queues one LOCK_BATCH_MQ may name. */
const MAX_LOCK_BATCH_QUEUES = 16_384;

/** LOCK_BATCH_MQ / UNLOCK_BATCH_MQ body (`LockBatchRequestBody`, `UnlockBatchRequestBody`). */
const LockBatchRequestBodySchema = z.looseObject({
  consumerGroup: z.string().min(1),
  clientId: z.string().min(1),
  onlyThisBroker: z.boolean().default(false),
  // A consumer locks the queues it was allocated on one broker: at most every queue of many topics.
  mqSet: z.array(MessageQueueSchema).max(MAX_LOCK_BATCH_QUEUES).default([]),
});

const NOT_FOUND_REMARK = 'Not found, maybe this group consumer boot first';
/** Register the offset, client and lock handlers. */
export function registerConsumerManageProcessor(context: BrokerContext): void {
  const { server, store, offsets } = context;
  const ok = (request: RemotingCommand, extFields?: Record<string, number>, body?: Uint8Array): RemotingCommand =>
    createResponse(request, ResponseCode.SUCCESS.code, undefined, extFields, body);

  server.registerHandler(RequestCode.QUERY_CONSUMER_OFFSET.code, async (request, { header }) => {
    const h = header as QueryConsumerOffsetRequestHeader;
    const committed = offsets.query(h.consumerGroup, h.topic, h.queueId);
    if (committed >= 0) return ok(request, { offset: committed });
    if (h.setZeroIfNotFound !== false && (await youngQueue(context, h.topic, h.queueId))) return ok(request, { offset: 0 });
    return createResponse(request, ResponseCode.QUERY_NOT_FOUND.code, NOT_FOUND_REMARK);
  });

  server.registerHandler(RequestCode.UPDATE_CONSUMER_OFFSET.code, async (request, { header }) => {
    const h = header as UpdateConsumerOffsetRequestHeader;
    if (h.queueId < 0) return queueIdProblem(request, h.queueId);
    if (h.commitOffset < 0) {
      return createResponse(request, ResponseCode.SYSTEM_ERROR.code, `commitOffset ${h.commitOffset} for ${h.topic}:${h.queueId} of group "${h.consumerGroup}" is negative; commit the next offset to consume (≥ 0)`);
    }
    // Any client may commit, so only what names a real queue is kept: the table is persisted and
    // listed in /metrics, and `topic@group` keys stay unambiguous with names that cannot hold '@'.
    const problem = commitTargetProblem(context, h.consumerGroup, h.topic, h.queueId);
    if (problem) return createResponse(request, ResponseCode.SYSTEM_ERROR.code, `cannot commit the offset: ${problem}`);
    // The group must exist (or be auto-created within maxSubscriptionGroups), as RocketMQ 5's
    // ConsumerManageProcessor asks: random group names would otherwise each add a row.
    if (!(await context.groups.findOrCreate(h.consumerGroup))) {
      return createResponse(
        request,
        ResponseCode.SUBSCRIPTION_GROUP_NOT_EXIST.code,
        `subscription group "${h.consumerGroup}" does not exist on ${context.config.brokerName}; create it with updateSubGroup or enable autoCreateSubscriptionGroup`,
      );
    }
    offsets.commit(h.consumerGroup, h.topic, h.queueId, h.commitOffset);
    return ok(request);
  });

  server.registerHandler(RequestCode.GET_MAX_OFFSET.code, (request, { header }) => {
    const h = header as QueueRequestHeader;
    return ok(request, { offset: store.getMaxOffsetInQueue(h.topic, h.queueId) });
  });

  server.registerHandler(RequestCode.GET_MIN_OFFSET.code, (request, { header }) => {
    const h = header as QueueRequestHeader;
    return ok(request, { offset: store.getMinOffsetInQueue(h.topic, h.queueId) });
  });

  server.registerHandler(RequestCode.SEARCH_OFFSET_BY_TIMESTAMP.code, async (request, { header }) => {
    const h = header as SearchOffsetRequestHeader;
    return ok(request, { offset: await store.getOffsetInQueueByTime(h.topic, h.queueId, h.timestamp) });
  });

  server.registerHandler(RequestCode.GET_EARLIEST_MSG_STORETIME.code, async (request, { header }) => {
    const h = header as QueueRequestHeader;
    return ok(request, { timestamp: await earliestStoreTime(context, h.topic, h.queueId) });
  });

  server.registerHandler(RequestCode.HEART_BEAT.code, async (request, { connection }) => {
    const body = parseJsonBody(request, HeartbeatDataSchema, 'HEART_BEAT', 'HeartbeatData {clientID, producerDataSet, consumerDataSet}');
    if (!body.ok) return body.response;
    const data = body.value;
    // Every name is checked before anything is created: one bad group must not leave a topic behind.
    for (const consumer of data.consumerDataSet) {
      const problem = consumerGroupNameProblem(consumer.groupName);
      if (problem) return createResponse(request, ResponseCode.SYSTEM_ERROR.code, `HEART_BEAT refused: ${problem}`);
    }
    for (const producer of data.producerDataSet) {
      const problem = groupNameProblem(producer.groupName);
      if (problem) return createResponse(request, ResponseCode.SYSTEM_ERROR.code, `HEART_BEAT refused: ${problem}`);
    }
    const groupConfigs = await context.groups.findOrCreateAll(data.consumerDataSet.map((consumer) => consumer.groupName));
    // RocketMQ creates each group's retry topic on heartbeat (createTopicInSendMessageBackMethod),
    // so consumers find it in the route before the first message is sent back; written once for all.
    const retries = data.consumerDataSet.flatMap((consumer) => {
      const groupConfig = groupConfigs.get(consumer.groupName);
      const retry = retryTopic(consumer.groupName);
      return groupConfig && !context.topics.get(retry) ? [{ topicName: retry, queueNums: groupConfig.retryQueueNums, perm: Perm.READ | Perm.WRITE }] : [];
    });
    const created = retries.length > 0;
    if (created) await context.topics.ensureAll(retries);
    context.clients.heartbeat(connection, data, request.language, request.version);
    // Answer only once the nameservers route the new retry topic, as RocketMQ does (its
    // registerBrokerAll inside the heartbeat waits for the answers): clients look the route
    // up right after this answer and then only on their 30 s poll, and until they see it they
    // never pull their retries. registerAll reports failures through the registrar's onError.
    if (created) await context.registrar?.registerAll().catch(() => undefined);
    return ok(request);
  });

  server.registerHandler(RequestCode.UNREGISTER_CLIENT.code, (request, { header }) => {
    const h = header as UnregisterClientRequestHeader;
    context.clients.unregister(h.clientID, h.producerGroup, h.consumerGroup);
    return ok(request);
  });

  server.registerHandler(RequestCode.GET_CONSUMER_LIST_BY_GROUP.code, (request, { header }) => {
    const h = header as GetConsumerListByGroupRequestHeader;
    const consumerIdList = context.clients.consumerIds(h.consumerGroup);
    if (consumerIdList.length === 0) {
      // RocketMQ answers SYSTEM_ERROR for a group with no live consumer.
      return createResponse(request, ResponseCode.SYSTEM_ERROR.code, `no consumer for this group, ${h.consumerGroup}: no member has sent a heartbeat to ${context.config.brokerName} within channelExpiredTimeout`);
    }
    return ok(request, undefined, Buffer.from(JSON.stringify({ consumerIdList })));
  });

  server.registerHandler(RequestCode.LOCK_BATCH_MQ.code, (request) => {
    const body = parseJsonBody(request, LockBatchRequestBodySchema, 'LOCK_BATCH_MQ', 'LockBatchRequestBody {consumerGroup, clientId, mqSet}');
    if (!body.ok) return body.response;
    const { consumerGroup, clientId, mqSet } = body.value;
    const problem = consumerGroupNameProblem(consumerGroup);
    if (problem) return createResponse(request, ResponseCode.SYSTEM_ERROR.code, `LOCK_BATCH_MQ refused: ${problem}`);
    // Only this broker's real queues are locked: any other name would only grow the lock table.
    const queues = mqSet
      .map(({ topic, brokerName, queueId }) => ({ topic, brokerName, queueId }))
      .filter(({ topic, brokerName, queueId }) => {
        const config = context.topics.get(topic);
        return brokerName === context.config.brokerName && config !== undefined && queueId < Math.max(config.readQueueNums, config.writeQueueNums);
      });
    const lockOKMQSet = context.locks.tryLockBatch(consumerGroup, queues, clientId);
    return ok(request, undefined, Buffer.from(JSON.stringify({ lockOKMQSet })));
  });

  server.registerHandler(RequestCode.UNLOCK_BATCH_MQ.code, (request) => {
    const body = parseJsonBody(request, LockBatchRequestBodySchema, 'UNLOCK_BATCH_MQ', 'UnlockBatchRequestBody {consumerGroup, clientId, mqSet}');
    if (!body.ok) return body.response;
    const { consumerGroup, clientId, mqSet } = body.value;
    context.locks.unlockBatch(consumerGroup, mqSet.map(({ topic, brokerName, queueId }) => ({ topic, brokerName, queueId })), clientId);
    return ok(request);
  });
}

/** Why an offset for (group, topic, queue) cannot be kept: a bad group name, an unknown topic or a queue it does not have. */
function commitTargetProblem(context: BrokerContext, group: string, topic: string, queueId: number): string | undefined {
  const groupProblem = consumerGroupNameProblem(group);
  if (groupProblem) return groupProblem;
  const config = context.topics.get(topic);
  if (!config) return `topic ${JSON.stringify(topic.slice(0, 60))} does not exist on ${context.config.brokerName}`;
  const queues = Math.max(config.readQueueNums, config.writeQueueNums);
  if (queueId >= queues) return `topic ${topic} has ${queues} queues on ${context.config.brokerName}; queueId ${queueId} is not one of them`;
  return undefined;
}

function queueIdProblem(request: RemotingCommand, queueId: number): RemotingCommand {
  return createResponse(request, ResponseCode.SYSTEM_ERROR.code, `queueId ${queueId} is negative; queue ids start at 0`);
}

type Parsed<T> = { ok: true; value: T } | { ok: false; response: RemotingCommand };

/** Decode a JSON body with its schema; a bad one becomes a SYSTEM_ERROR answer naming the problem. */
/** Largest JSON body a heartbeat or lock request may have: a real one is a few KiB. */
const MAX_JSON_BODY_BYTES = 4 * 1024 * 1024;

function parseJsonBody<T>(request: RemotingCommand, schema: z.ZodType<T>, what: string, expected: string): Parsed<T> {
  const fail = (problem: string): Parsed<T> => ({
    ok: false,
    response: createResponse(request, ResponseCode.SYSTEM_ERROR.code, `${what} body ${problem}; send JSON ${expected}`),
  });
  if (!request.body || request.body.length === 0) return fail('is empty');
  // Parsed on the event loop: a 16 MiB body (the frame limit) held every other client for a while.
  if (request.body.length > MAX_JSON_BODY_BYTES) return fail(`is ${request.body.length} bytes, over the ${MAX_JSON_BODY_BYTES}-byte limit of a JSON body here`);
  let json: unknown;
  try {
    json = JSON.parse(Buffer.from(request.body.buffer, request.body.byteOffset, request.body.byteLength).toString('utf8'));
  } catch (error) {
    return fail(`is not JSON (${(error as Error).message})`);
  }
  const parsed = schema.safeParse(json);
  if (!parsed.success) {
    const issues = parsed.error.issues.slice(0, 3).map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`);
    return fail(`is invalid: ${issues.join('; ')}`);
  }
  return { ok: true, value: parsed.data };
}

/**
 * RocketMQ's quirk for a group with no committed offset (`ConsumerManageProcessor.queryConsumerOffset`):
 * answer 0 rather than "not found" when the queue still starts at 0 and its first message is not
 * yet out of memory (`checkInDiskByConsumeOffset` false; an empty queue counts as in memory), so a
 * new group on a young topic starts from the beginning even with CONSUME_FROM_LAST_OFFSET.
 * "In memory" is the store's one window (`MessageStore.isInMemory`), the one the slave-read rule uses.
 */
async function youngQueue(context: BrokerContext, topic: string, queueId: number): Promise<boolean> {
  const { store } = context;
  if (store.getMinOffsetInQueue(topic, queueId) > 0) return false;
  const first = await store.getMessage({ topic, queueId, offset: 0, maxCount: 1 });
  const buffer = first.status === GetMessageStatus.FOUND ? first.buffers[0] : undefined;
  if (!buffer) return first.minOffset <= 0;
  const physicalOffset = recordPhysicalOffset(buffer);
  return physicalOffset !== undefined && store.isInMemory(physicalOffset);
}

/** Store time of the queue's oldest message, -1 when the queue holds none (`getEarliestMessageTime`). */
async function earliestStoreTime(context: BrokerContext, topic: string, queueId: number): Promise<number> {
  const { store } = context;
  const min = store.getMinOffsetInQueue(topic, queueId);
  const first = await store.getMessage({ topic, queueId, offset: min, maxCount: 1 });
  const buffer = first.status === GetMessageStatus.FOUND ? first.buffers[0] : undefined;
  return (buffer && recordStoreTimestamp(buffer)) ?? -1;
}
