/**
 * The broker's message queries (RocketMQ `QueryMessageProcessor` and the query side of
 * `AdminBrokerProcessor`): by key through the index (QUERY_MESSAGE), by commit-log offset
 * (VIEW_MESSAGE_BY_ID), by queue offset (QUERY_CONSUME_QUEUE), and Karman's store-integrity
 * requests: GET_QUARANTINED_RECORDS (60001) answers the store's quarantine list, SCRUB_STORE
 * (60002) checks the whole store and answers its report when done.
 *
 * A message by queue offset (mqadmin `queryMsgByOffset`): RocketMQ's tool runs a pull as the group
 * TOOLS_CONSUMER, which creates that group and its offsets as a side effect. Karman answers
 * QUERY_CONSUME_QUEUE (321) instead: topic, queueId, index (the queue offset) and count (1) give the
 * consume-queue units (physicOffset, physicSize, tagsCode), and VIEW_MESSAGE_BY_ID (33) with that
 * physicOffset returns the record. No group, offset or subscription is touched.
 */
import { z } from 'zod';
import { MessageProperty, RequestCode, ResponseCode, createResponse, decodeRecord, recordPhysicalOffset, tagsCode } from '@karman/protocol';
import type { QueryMessageRequestHeader, RemotingCommand, ViewMessageRequestHeader } from '@karman/protocol';
import { INDEX_QUERY_MAX_NUM } from '@karman/commitlog';
import { fail, guardedRegistrar, jsonBody, ok } from './admin-answers.js';
import type { BrokerContext } from './broker-context.js';

/**
 * Most bytes of records one QUERY_MESSAGE answer carries (at least one record): 64 hits of 4 MiB
 * would be a 256 MiB answer built in memory for one request. The client asks again with a narrower
 * time range for more.
 */
const QUERY_MESSAGE_MAX_ANSWER_BYTES = 8 * 1024 * 1024;
/** RocketMQ's `defaultQueryMaxNum`: the answer size of a query by unique key. */
const DEFAULT_QUERY_MAX_NUM = 32;
/** Most consume-queue units one QUERY_CONSUME_QUEUE returns. */
const MAX_CONSUME_QUEUE_UNITS = 256;

const QueryConsumeQueueHeaderSchema = z.looseObject({
  topic: z.string().min(1),
  queueId: z.coerce.number().int().min(0),
  index: z.coerce.number().int().min(0),
  count: z.coerce.number().int().min(1).default(1),
  consumerGroup: z.string().optional(),
});

/** Register the message-query and store-integrity handlers. */
export function registerQueryMessageProcessor(context: BrokerContext): void {
  const handle = guardedRegistrar(context);
  handle(RequestCode.QUERY_MESSAGE.code, async (request, { header }) => queryMessage(context, request, header as QueryMessageRequestHeader));
  handle(RequestCode.VIEW_MESSAGE_BY_ID.code, async (request, { header }) => viewMessage(context, request, header as ViewMessageRequestHeader));
  handle(RequestCode.QUERY_CONSUME_QUEUE.code, async (request, { header }) => queryConsumeQueue(context, request, header));
  // Karman's own: the store's quarantine list, and a scrub of the whole store (answered when done).
  handle(RequestCode.GET_QUARANTINED_RECORDS.code, (request) =>
    ok(request, jsonBody({ quarantinedTotal: context.store.integrity.quarantinedTotal, records: context.store.quarantined() })),
  );
  handle(RequestCode.SCRUB_STORE.code, async (request) => {
    context.log('info', 'scrub of the store requested');
    return ok(request, jsonBody(await context.store.scrub()));
  });
}

async function queryMessage(context: BrokerContext, request: RemotingCommand, header: QueryMessageRequestHeader): Promise<RemotingCommand> {
  const unique = header._UNIQUE_KEY_QUERY === true || header._UNIQUE_KEY_QUERY === 'true';
  const maxNum = unique ? DEFAULT_QUERY_MAX_NUM : header.maxNum;
  if (maxNum < 1) return fail(request, ResponseCode.SYSTEM_ERROR.code, `maxNum=${maxNum} asks for no message; give 1 to ${INDEX_QUERY_MAX_NUM}`);
  if (!context.store.options.messageIndexEnable) {
    return fail(request, ResponseCode.SYSTEM_ERROR.code, 'this broker keeps no key index (messageIndexEnable=false); enable it to query messages by key');
  }
  const found = await context.store.queryMessage(header.topic, header.key, maxNum, header.beginTimestamp, header.endTimestamp, QUERY_MESSAGE_MAX_ANSWER_BYTES);
  const fields = { indexLastUpdateTimestamp: found.indexLastUpdateTimestamp, indexLastUpdatePhyoffset: found.indexLastUpdatePhyoffset };
  if (found.messages.length === 0) {
    return createResponse(
      request,
      ResponseCode.QUERY_NOT_FOUND.code,
      `no message of topic "${header.topic}" with key "${header.key}" stored between ${header.beginTimestamp} and ${header.endTimestamp}; check the key and widen the time range`,
      fields,
    );
  }
  return ok(request, Buffer.concat(found.messages.map((m) => m.buffer)), fields);
}

async function viewMessage(context: BrokerContext, request: RemotingCommand, header: ViewMessageRequestHeader): Promise<RemotingCommand> {
  const found = await context.store.readRecord(header.offset);
  // RocketMQ answers SYSTEM_ERROR here; QUERY_NOT_FOUND says the same without inviting a retry.
  if (!found || (header.topic !== undefined && header.topic !== '' && found.record.topic !== header.topic)) {
    return fail(
      request,
      ResponseCode.QUERY_NOT_FOUND.code,
      `no message starts at commit-log offset ${header.offset} (the log holds ${context.store.minPhyOffset} to ${context.store.maxPhyOffset}${header.topic ? ` and the message must be of topic "${header.topic}"` : ''}); check the message id`,
    );
  }
  return ok(request, found.buffer);
}

async function queryConsumeQueue(context: BrokerContext, request: RemotingCommand, rawHeader: unknown): Promise<RemotingCommand> {
  const parsed = QueryConsumeQueueHeaderSchema.safeParse(rawHeader);
  if (!parsed.success) {
    const problems = parsed.error.issues.map((issue) => `field "${issue.path.join('.')}": ${issue.message}`).join('; ');
    return fail(request, ResponseCode.SYSTEM_ERROR.code, `invalid request header for QUERY_CONSUME_QUEUE (321): ${problems}; send topic, queueId, index and count`);
  }
  const { topic, queueId, index } = parsed.data;
  const config = context.topics.get(topic);
  if (!config) return fail(request, ResponseCode.TOPIC_NOT_EXIST.code, `topic "${topic}" does not exist on ${context.config.brokerName}`);
  const queues = Math.max(config.readQueueNums, config.writeQueueNums);
  if (queueId >= queues) return fail(request, ResponseCode.SYSTEM_ERROR.code, `queueId ${queueId} is out of range: topic "${topic}" has queues 0 to ${queues - 1}`);
  const count = Math.min(parsed.data.count, MAX_CONSUME_QUEUE_UNITS);
  const result = await context.store.getMessage({ topic, queueId, offset: index, maxCount: count });
  const queueData = result.buffers.map((buffer, i) => {
    const decoded = decodeRecord(buffer, 0);
    const tags = decoded.kind === 'record' ? decoded.record.properties[MessageProperty.TAGS] : undefined;
    return { physicOffset: recordPhysicalOffset(buffer) ?? -1, physicSize: buffer.length, queueOffset: result.queueOffsets[i], tagsCode: tagsCode(tags) };
  });
  const body = {
    maxQueueIndex: context.store.getMaxOffsetInQueue(topic, queueId),
    minQueueIndex: context.store.getMinOffsetInQueue(topic, queueId),
    queueData,
  };
  return ok(request, jsonBody(body));
}
