/**
 * Headers of the consume side, sent to brokers: pulling, consumer offsets, queue offset lookups,
 * message queries, consumer groups and retries, and their response headers. Field names are
 * exactly those of RocketMQ 4.x's `*RequestHeader` classes (`common/.../protocol/header/`);
 * required fields are the ones marked `@CFNotNull` there. Unknown fields are kept.
 */
import { z } from 'zod';
import { boolField, intField, longField, stringField, timeBoundField } from './header-fields.js';

/**
 * PULL_MESSAGE (11), `PullMessageRequestHeader`:
 * consumerGroup, topic, queueId, queueOffset, maxMsgNums (32), sysFlag (bit 0 commitOffset,
 * bit 1 suspend, bit 2 subscription, bit 3 classFilter), commitOffset, suspendTimeoutMillis (15000),
 * subVersion: required; subscription (tag expression), expressionType ("TAG" | "SQL92"),
 * maxMsgBytes (5.x): optional.
 */
export const PullMessageRequestHeaderSchema = z.looseObject({
  consumerGroup: stringField(),
  topic: stringField(),
  queueId: intField(),
  queueOffset: longField(),
  maxMsgNums: intField(),
  sysFlag: intField(),
  commitOffset: longField(),
  suspendTimeoutMillis: longField(),
  subscription: stringField().optional(),
  subVersion: longField(),
  expressionType: stringField().optional(),
  maxMsgBytes: intField().optional(),
});
export type PullMessageRequestHeader = z.infer<typeof PullMessageRequestHeaderSchema>;

/**
 * Response to PULL_MESSAGE, `PullMessageResponseHeader`: suggestWhichBrokerId, nextBeginOffset,
 * minOffset, maxOffset, all required on every reply, found or not (ali-ons reads them on 19/20/21).
 */
export const PullMessageResponseHeaderSchema = z.looseObject({
  suggestWhichBrokerId: longField(),
  nextBeginOffset: longField(),
  minOffset: longField(),
  maxOffset: longField(),
});
export type PullMessageResponseHeader = z.infer<typeof PullMessageResponseHeaderSchema>;

/**
 * QUERY_MESSAGE (12), `QueryMessageRequestHeader`: topic, key, maxNum, beginTimestamp,
 * endTimestamp: required. The time bounds take any Java long (`Long.MAX_VALUE` for no end).
 */
export const QueryMessageRequestHeaderSchema = z.looseObject({
  topic: stringField(),
  key: stringField(),
  maxNum: intField(),
  beginTimestamp: timeBoundField(),
  endTimestamp: timeBoundField(),
});
export type QueryMessageRequestHeader = z.infer<typeof QueryMessageRequestHeaderSchema>;

/** Response to QUERY_MESSAGE, `QueryMessageResponseHeader`: indexLastUpdateTimestamp, indexLastUpdatePhyoffset: required. */
export const QueryMessageResponseHeaderSchema = z.looseObject({
  indexLastUpdateTimestamp: longField(),
  indexLastUpdatePhyoffset: longField(),
});
export type QueryMessageResponseHeader = z.infer<typeof QueryMessageResponseHeaderSchema>;

/**
 * QUERY_CONSUMER_OFFSET (14), `QueryConsumerOffsetRequestHeader`: consumerGroup, topic, queueId:
 * required; setZeroIfNotFound (5.x): optional.
 */
export const QueryConsumerOffsetRequestHeaderSchema = z.looseObject({
  consumerGroup: stringField(),
  topic: stringField(),
  queueId: intField(),
  setZeroIfNotFound: boolField().optional(),
});
export type QueryConsumerOffsetRequestHeader = z.infer<typeof QueryConsumerOffsetRequestHeaderSchema>;

/**
 * Response header carrying one `offset` (required): QUERY_CONSUMER_OFFSET
 * (`QueryConsumerOffsetResponseHeader`), GET_MAX_OFFSET, GET_MIN_OFFSET and
 * SEARCH_OFFSET_BY_TIMESTAMP (`Get{Max,Min}OffsetResponseHeader`, `SearchOffsetResponseHeader`).
 */
export const OffsetResponseHeaderSchema = z.looseObject({
  offset: longField(),
});
export type OffsetResponseHeader = z.infer<typeof OffsetResponseHeaderSchema>;
/** Response to QUERY_CONSUMER_OFFSET: `offset`. */
export const QueryConsumerOffsetResponseHeaderSchema = OffsetResponseHeaderSchema;
export type QueryConsumerOffsetResponseHeader = OffsetResponseHeader;
/** Response to GET_MAX_OFFSET: `offset`. */
export const GetMaxOffsetResponseHeaderSchema = OffsetResponseHeaderSchema;
export type GetMaxOffsetResponseHeader = OffsetResponseHeader;
/** Response to GET_MIN_OFFSET: `offset`. */
export const GetMinOffsetResponseHeaderSchema = OffsetResponseHeaderSchema;
export type GetMinOffsetResponseHeader = OffsetResponseHeader;
/** Response to SEARCH_OFFSET_BY_TIMESTAMP: `offset`. */
export const SearchOffsetResponseHeaderSchema = OffsetResponseHeaderSchema;
export type SearchOffsetResponseHeader = OffsetResponseHeader;

/**
 * UPDATE_CONSUMER_OFFSET (15), `UpdateConsumerOffsetRequestHeader`: consumerGroup, topic, queueId,
 * commitOffset: required.
 */
export const UpdateConsumerOffsetRequestHeaderSchema = z.looseObject({
  consumerGroup: stringField(),
  topic: stringField(),
  queueId: intField(),
  commitOffset: longField(),
});
export type UpdateConsumerOffsetRequestHeader = z.infer<typeof UpdateConsumerOffsetRequestHeaderSchema>;

/**
 * SEARCH_OFFSET_BY_TIMESTAMP (29), `SearchOffsetRequestHeader`: topic, queueId, timestamp:
 * required; boundaryType ("lower" | "upper", 5.x): optional.
 */
export const SearchOffsetRequestHeaderSchema = z.looseObject({
  topic: stringField(),
  queueId: intField(),
  timestamp: longField(),
  boundaryType: stringField().optional(),
});
export type SearchOffsetRequestHeader = z.infer<typeof SearchOffsetRequestHeaderSchema>;

/**
 * GET_MAX_OFFSET (30), GET_MIN_OFFSET (31), GET_EARLIEST_MSG_STORETIME (32):
 * `GetMaxOffsetRequestHeader`, `GetMinOffsetRequestHeader`, `GetEarliestMsgStoretimeRequestHeader`,
 * each topic, queueId: required. (5.x's GET_MAX_OFFSET adds an optional `committed`, kept as sent.)
 */
export const QueueRequestHeaderSchema = z.looseObject({
  topic: stringField(),
  queueId: intField(),
});
export type QueueRequestHeader = z.infer<typeof QueueRequestHeaderSchema>;
/** GET_MAX_OFFSET (30): topic, queueId. */
export const GetMaxOffsetRequestHeaderSchema = QueueRequestHeaderSchema;
export type GetMaxOffsetRequestHeader = QueueRequestHeader;
/** GET_MIN_OFFSET (31): topic, queueId. */
export const GetMinOffsetRequestHeaderSchema = QueueRequestHeaderSchema;
export type GetMinOffsetRequestHeader = QueueRequestHeader;
/** GET_EARLIEST_MSG_STORETIME (32): topic, queueId. */
export const GetEarliestMsgStoretimeRequestHeaderSchema = QueueRequestHeaderSchema;
export type GetEarliestMsgStoretimeRequestHeader = QueueRequestHeader;

/** Response to GET_EARLIEST_MSG_STORETIME, `GetEarliestMsgStoretimeResponseHeader`: timestamp: required. */
export const GetEarliestMsgStoretimeResponseHeaderSchema = z.looseObject({
  timestamp: longField(),
});
export type GetEarliestMsgStoretimeResponseHeader = z.infer<typeof GetEarliestMsgStoretimeResponseHeaderSchema>;

/** VIEW_MESSAGE_BY_ID (33), `ViewMessageRequestHeader`: offset (commit-log offset): required; topic (5.x): optional. */
export const ViewMessageRequestHeaderSchema = z.looseObject({
  offset: longField(),
  topic: stringField().optional(),
});
export type ViewMessageRequestHeader = z.infer<typeof ViewMessageRequestHeaderSchema>;

/** UNREGISTER_CLIENT (35), `UnregisterClientRequestHeader`: clientID: required; producerGroup, consumerGroup: optional. */
export const UnregisterClientRequestHeaderSchema = z.looseObject({
  clientID: stringField(),
  producerGroup: stringField().optional(),
  consumerGroup: stringField().optional(),
});
export type UnregisterClientRequestHeader = z.infer<typeof UnregisterClientRequestHeaderSchema>;

/**
 * CONSUMER_SEND_MSG_BACK (36), `ConsumerSendMsgBackRequestHeader`: offset
 * (commit-log offset of the failed message), group, delayLevel: required; originMsgId, originTopic,
 * unitMode (false), maxReconsumeTimes: optional.
 */
export const ConsumerSendMsgBackRequestHeaderSchema = z.looseObject({
  offset: longField(),
  group: stringField(),
  delayLevel: intField(),
  originMsgId: stringField().optional(),
  originTopic: stringField().optional(),
  unitMode: boolField().default(false),
  maxReconsumeTimes: intField().optional(),
});
export type ConsumerSendMsgBackRequestHeader = z.infer<typeof ConsumerSendMsgBackRequestHeaderSchema>;

/**
 * The header that names only a consumer group (`consumerGroup`, required):
 * GET_CONSUMER_LIST_BY_GROUP (38, `GetConsumerListByGroupRequestHeader`), NOTIFY_CONSUMER_IDS_CHANGED
 * (40, broker → client, `NotifyConsumerIdsChangedRequestHeader`) and GET_CONSUMER_CONNECTION_LIST
 * (203, `GetConsumerConnectionListRequestHeader`).
 */
export const ConsumerGroupRequestHeaderSchema = z.looseObject({
  consumerGroup: stringField(),
});
export type ConsumerGroupRequestHeader = z.infer<typeof ConsumerGroupRequestHeaderSchema>;
/** GET_CONSUMER_LIST_BY_GROUP (38): consumerGroup. */
export const GetConsumerListByGroupRequestHeaderSchema = ConsumerGroupRequestHeaderSchema;
export type GetConsumerListByGroupRequestHeader = ConsumerGroupRequestHeader;
/** NOTIFY_CONSUMER_IDS_CHANGED (40): consumerGroup. */
export const NotifyConsumerIdsChangedRequestHeaderSchema = ConsumerGroupRequestHeaderSchema;
export type NotifyConsumerIdsChangedRequestHeader = ConsumerGroupRequestHeader;
/** GET_CONSUMER_CONNECTION_LIST (203): consumerGroup. */
export const GetConsumerConnectionListRequestHeaderSchema = ConsumerGroupRequestHeaderSchema;
export type GetConsumerConnectionListRequestHeader = ConsumerGroupRequestHeader;
