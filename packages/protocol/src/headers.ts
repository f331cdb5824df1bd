/**
 * Command headers: which zod schema reads the `extFields` of each request code, and the two entry
 * points that apply them. The schemas themselves sit with their commands, one file per side:
 * `send-headers.ts` (produce, transactions), `consume-headers.ts` (pull, offsets, queries, groups),
 * `admin-headers.ts` (broker admin) and `nameserver-headers.ts`; their field types
 * (string/number coercion) are in `header-fields.ts`.
 *
 * Decoding is kept apart from interpretation: a header that fails its schema is a
 * malformed request, answered with SYSTEM_ERROR and a remark naming the field; what the values mean
 * (a topic that does not exist, an offset out of range) is the handler's business.
 */
import type { z } from 'zod';
import { RequestCode, requestCodeName } from './codes.js';
import { ProtocolError } from './errors.js';
import { describeIssues } from './header-fields.js';
import type { ExtFieldValue } from './remoting-command.js';
import {
  CloneGroupOffsetRequestHeaderSchema,
  ConsumeMessageDirectlyRequestHeaderSchema,
  CreateTopicRequestHeaderSchema,
  DeleteSubscriptionGroupRequestHeaderSchema,
  GetConsumeStatsInBrokerHeaderSchema,
  GetConsumeStatsRequestHeaderSchema,
  GetConsumerRunningInfoRequestHeaderSchema,
  GetConsumerStatusRequestHeaderSchema,
  GetProducerConnectionListRequestHeaderSchema,
  QueryConsumeTimeSpanRequestHeaderSchema,
  ResetOffsetRequestHeaderSchema,
  ViewBrokerStatsDataRequestHeaderSchema,
} from './admin-headers.js';
import {
  ConsumerGroupRequestHeaderSchema,
  ConsumerSendMsgBackRequestHeaderSchema,
  PullMessageRequestHeaderSchema,
  QueryConsumerOffsetRequestHeaderSchema,
  QueryMessageRequestHeaderSchema,
  QueueRequestHeaderSchema,
  SearchOffsetRequestHeaderSchema,
  UnregisterClientRequestHeaderSchema,
  UpdateConsumerOffsetRequestHeaderSchema,
  ViewMessageRequestHeaderSchema,
} from './consume-headers.js';
import {
  BrokerIdentityRequestHeaderSchema,
  BrokerNameRequestHeaderSchema,
  DeleteTopicFromNamesrvRequestHeaderSchema,
  GetBrokerMemberGroupRequestHeaderSchema,
  GetKVListByNamespaceRequestHeaderSchema,
  GetRouteInfoRequestHeaderSchema,
  GetTopicsByClusterRequestHeaderSchema,
  KVConfigKeyRequestHeaderSchema,
  PutKVConfigRequestHeaderSchema,
  RegisterBrokerRequestHeaderSchema,
  TopicRequestHeaderSchema,
} from './nameserver-headers.js';
import {
  CheckTransactionStateRequestHeaderSchema,
  EndTransactionRequestHeaderSchema,
  SendMessageRequestHeaderSchema,
  SendMessageRequestHeaderV2Schema,
} from './send-headers.js';

/**
 * The header schema of each request code that has header fields in RocketMQ 4.x. Codes missing
 * here carry everything in their body (HEART_BEAT, LOCK_BATCH_MQ, ...) or nothing at all.
 */
export const RequestHeaderSchemas: ReadonlyMap<number, z.ZodType> = new Map<number, z.ZodType>([
  // Produce (send-headers.ts)
  [RequestCode.SEND_MESSAGE.code, SendMessageRequestHeaderSchema],
  [RequestCode.SEND_MESSAGE_V2.code, SendMessageRequestHeaderV2Schema],
  [RequestCode.SEND_BATCH_MESSAGE.code, SendMessageRequestHeaderV2Schema],
  [RequestCode.END_TRANSACTION.code, EndTransactionRequestHeaderSchema],
  [RequestCode.CHECK_TRANSACTION_STATE.code, CheckTransactionStateRequestHeaderSchema],
  // Consume (consume-headers.ts)
  [RequestCode.PULL_MESSAGE.code, PullMessageRequestHeaderSchema],
  [RequestCode.LITE_PULL_MESSAGE.code, PullMessageRequestHeaderSchema],
  [RequestCode.QUERY_MESSAGE.code, QueryMessageRequestHeaderSchema],
  [RequestCode.QUERY_CONSUMER_OFFSET.code, QueryConsumerOffsetRequestHeaderSchema],
  [RequestCode.UPDATE_CONSUMER_OFFSET.code, UpdateConsumerOffsetRequestHeaderSchema],
  [RequestCode.SEARCH_OFFSET_BY_TIMESTAMP.code, SearchOffsetRequestHeaderSchema],
  [RequestCode.GET_MAX_OFFSET.code, QueueRequestHeaderSchema],
  [RequestCode.GET_MIN_OFFSET.code, QueueRequestHeaderSchema],
  [RequestCode.GET_EARLIEST_MSG_STORETIME.code, QueueRequestHeaderSchema],
  [RequestCode.VIEW_MESSAGE_BY_ID.code, ViewMessageRequestHeaderSchema],
  [RequestCode.UNREGISTER_CLIENT.code, UnregisterClientRequestHeaderSchema],
  [RequestCode.CONSUMER_SEND_MSG_BACK.code, ConsumerSendMsgBackRequestHeaderSchema],
  [RequestCode.GET_CONSUMER_LIST_BY_GROUP.code, ConsumerGroupRequestHeaderSchema],
  [RequestCode.NOTIFY_CONSUMER_IDS_CHANGED.code, ConsumerGroupRequestHeaderSchema],
  [RequestCode.GET_CONSUMER_CONNECTION_LIST.code, ConsumerGroupRequestHeaderSchema],
  // Broker admin (admin-headers.ts)
  [RequestCode.UPDATE_AND_CREATE_TOPIC.code, CreateTopicRequestHeaderSchema],
  // GET_TOPIC_CONFIG (5.x `GetTopicConfigRequestHeader`): topic; lo (static-topic mapping) optional.
  [RequestCode.GET_TOPIC_CONFIG.code, TopicRequestHeaderSchema],
  [RequestCode.GET_TOPIC_STATS_INFO.code, TopicRequestHeaderSchema],
  [RequestCode.GET_PRODUCER_CONNECTION_LIST.code, GetProducerConnectionListRequestHeaderSchema],
  [RequestCode.DELETE_SUBSCRIPTIONGROUP.code, DeleteSubscriptionGroupRequestHeaderSchema],
  [RequestCode.GET_CONSUME_STATS.code, GetConsumeStatsRequestHeaderSchema],
  [RequestCode.DELETE_TOPIC_IN_BROKER.code, TopicRequestHeaderSchema],
  [RequestCode.RESET_CONSUMER_CLIENT_OFFSET.code, ResetOffsetRequestHeaderSchema],
  [RequestCode.GET_CONSUMER_STATUS_FROM_CLIENT.code, GetConsumerStatusRequestHeaderSchema],
  [RequestCode.INVOKE_BROKER_TO_RESET_OFFSET.code, ResetOffsetRequestHeaderSchema],
  [RequestCode.INVOKE_BROKER_TO_GET_CONSUMER_STATUS.code, GetConsumerStatusRequestHeaderSchema],
  [RequestCode.QUERY_TOPIC_CONSUME_BY_WHO.code, TopicRequestHeaderSchema],
  [RequestCode.QUERY_CONSUME_TIME_SPAN.code, QueryConsumeTimeSpanRequestHeaderSchema],
  [RequestCode.GET_CONSUMER_RUNNING_INFO.code, GetConsumerRunningInfoRequestHeaderSchema],
  [RequestCode.CONSUME_MESSAGE_DIRECTLY.code, ConsumeMessageDirectlyRequestHeaderSchema],
  [RequestCode.CLONE_GROUP_OFFSET.code, CloneGroupOffsetRequestHeaderSchema],
  [RequestCode.VIEW_BROKER_STATS_DATA.code, ViewBrokerStatsDataRequestHeaderSchema],
  [RequestCode.GET_BROKER_CONSUME_STATS.code, GetConsumeStatsInBrokerHeaderSchema],
  // Nameserver (nameserver-headers.ts)
  [RequestCode.PUT_KV_CONFIG.code, PutKVConfigRequestHeaderSchema],
  [RequestCode.GET_KV_CONFIG.code, KVConfigKeyRequestHeaderSchema],
  [RequestCode.DELETE_KV_CONFIG.code, KVConfigKeyRequestHeaderSchema],
  [RequestCode.REGISTER_BROKER.code, RegisterBrokerRequestHeaderSchema],
  [RequestCode.UNREGISTER_BROKER.code, BrokerIdentityRequestHeaderSchema],
  [RequestCode.GET_ROUTEINFO_BY_TOPIC.code, GetRouteInfoRequestHeaderSchema],
  [RequestCode.WIPE_WRITE_PERM_OF_BROKER.code, BrokerNameRequestHeaderSchema],
  [RequestCode.DELETE_TOPIC_IN_NAMESRV.code, DeleteTopicFromNamesrvRequestHeaderSchema],
  [RequestCode.REGISTER_TOPIC_IN_NAMESRV.code, TopicRequestHeaderSchema],
  [RequestCode.GET_KVLIST_BY_NAMESPACE.code, GetKVListByNamespaceRequestHeaderSchema],
  [RequestCode.GET_TOPICS_BY_CLUSTER.code, GetTopicsByClusterRequestHeaderSchema],
  [RequestCode.QUERY_DATA_VERSION.code, BrokerIdentityRequestHeaderSchema],
  [RequestCode.ADD_WRITE_PERM_OF_BROKER.code, BrokerNameRequestHeaderSchema],
  [RequestCode.GET_BROKER_MEMBER_GROUP.code, GetBrokerMemberGroupRequestHeaderSchema],
]);

/** The outcome of reading a request's header: the typed header, or the remark of the error response. */
export type ParseRequestHeaderResult = { ok: true; header: unknown } | { ok: false; remark: string };

/**
 * Read a request's `extFields` with its code's schema. The transport server calls this before the
 * handler; on failure it answers SYSTEM_ERROR (1) with `remark` and keeps the connection open.
 * Codes with no schema pass their `extFields` through untouched. Never throws.
 *
 * Remark form: `invalid request header for PULL_MESSAGE (11): field "queueId" must be an integer,
 * got "abc"` (every bad field, joined by "; ").
 */
export function parseRequestHeader(code: number, extFields: Record<string, ExtFieldValue>): ParseRequestHeaderResult {
  const schema = RequestHeaderSchemas.get(code);
  if (schema === undefined) return { ok: true, header: extFields };
  const result = schema.safeParse(extFields);
  if (result.success) return { ok: true, header: result.data };
  return { ok: false, remark: `invalid request header for ${requestCodeName(code)} (${code}): ${describeIssues(result.error)}` };
}

/**
 * Read a response's `extFields` with the schema of the response header the caller expects, e.g.
 * `parseResponseHeader(PullMessageResponseHeaderSchema, response.extFields)`. Throws
 * `ProtocolError` naming each bad field, since a server that answers SUCCESS with a broken header
 * has broken the protocol.
 */
export function parseResponseHeader<T>(schema: z.ZodType<T>, extFields: Record<string, ExtFieldValue>): T {
  const result = schema.safeParse(extFields);
  if (result.success) return result.data;
  throw new ProtocolError(`invalid response header: ${describeIssues(result.error)}`);
}

// The schemas and types, re-exported so `index.ts` lists the whole header surface from this file.
export {
  SendMessageRequestHeaderSchema,
  SendMessageRequestHeaderV2Schema,
  sendMessageHeaderFromV2,
  SendMessageResponseHeaderSchema,
  EndTransactionRequestHeaderSchema,
  CheckTransactionStateRequestHeaderSchema,
} from './send-headers.js';
export type {
  SendMessageRequestHeader,
  SendMessageRequestHeaderV2,
  SendMessageResponseHeader,
  EndTransactionRequestHeader,
  CheckTransactionStateRequestHeader,
} from './send-headers.js';
export {
  PullMessageRequestHeaderSchema,
  PullMessageResponseHeaderSchema,
  QueryMessageRequestHeaderSchema,
  QueryMessageResponseHeaderSchema,
  QueryConsumerOffsetRequestHeaderSchema,
  OffsetResponseHeaderSchema,
  QueryConsumerOffsetResponseHeaderSchema,
  GetMaxOffsetResponseHeaderSchema,
  GetMinOffsetResponseHeaderSchema,
  SearchOffsetResponseHeaderSchema,
  UpdateConsumerOffsetRequestHeaderSchema,
  SearchOffsetRequestHeaderSchema,
  QueueRequestHeaderSchema,
  GetMaxOffsetRequestHeaderSchema,
  GetMinOffsetRequestHeaderSchema,
  GetEarliestMsgStoretimeRequestHeaderSchema,
  GetEarliestMsgStoretimeResponseHeaderSchema,
  ViewMessageRequestHeaderSchema,
  UnregisterClientRequestHeaderSchema,
  ConsumerSendMsgBackRequestHeaderSchema,
  ConsumerGroupRequestHeaderSchema,
  GetConsumerListByGroupRequestHeaderSchema,
  NotifyConsumerIdsChangedRequestHeaderSchema,
  GetConsumerConnectionListRequestHeaderSchema,
} from './consume-headers.js';
export type {
  PullMessageRequestHeader,
  PullMessageResponseHeader,
  QueryMessageRequestHeader,
  QueryMessageResponseHeader,
  QueryConsumerOffsetRequestHeader,
  OffsetResponseHeader,
  QueryConsumerOffsetResponseHeader,
  GetMaxOffsetResponseHeader,
  GetMinOffsetResponseHeader,
  SearchOffsetResponseHeader,
  UpdateConsumerOffsetRequestHeader,
  SearchOffsetRequestHeader,
  QueueRequestHeader,
  GetMaxOffsetRequestHeader,
  GetMinOffsetRequestHeader,
  GetEarliestMsgStoretimeRequestHeader,
  GetEarliestMsgStoretimeResponseHeader,
  ViewMessageRequestHeader,
  UnregisterClientRequestHeader,
  ConsumerSendMsgBackRequestHeader,
  ConsumerGroupRequestHeader,
  GetConsumerListByGroupRequestHeader,
  NotifyConsumerIdsChangedRequestHeader,
  GetConsumerConnectionListRequestHeader,
} from './consume-headers.js';
export {
  CreateTopicRequestHeaderSchema,
  DeleteSubscriptionGroupRequestHeaderSchema,
  GetConsumeStatsRequestHeaderSchema,
  GetProducerConnectionListRequestHeaderSchema,
  ResetOffsetRequestHeaderSchema,
  GetConsumerStatusRequestHeaderSchema,
  QueryConsumeTimeSpanRequestHeaderSchema,
  GetConsumerRunningInfoRequestHeaderSchema,
  ConsumeMessageDirectlyRequestHeaderSchema,
  CloneGroupOffsetRequestHeaderSchema,
  ViewBrokerStatsDataRequestHeaderSchema,
  GetConsumeStatsInBrokerHeaderSchema,
} from './admin-headers.js';
export type {
  CreateTopicRequestHeader,
  DeleteSubscriptionGroupRequestHeader,
  GetConsumeStatsRequestHeader,
  GetProducerConnectionListRequestHeader,
  ResetOffsetRequestHeader,
  GetConsumerStatusRequestHeader,
  QueryConsumeTimeSpanRequestHeader,
  GetConsumerRunningInfoRequestHeader,
  ConsumeMessageDirectlyRequestHeader,
  CloneGroupOffsetRequestHeader,
  ViewBrokerStatsDataRequestHeader,
  GetConsumeStatsInBrokerHeader,
} from './admin-headers.js';
export {
  PutKVConfigRequestHeaderSchema,
  KVConfigKeyRequestHeaderSchema,
  GetKVConfigRequestHeaderSchema,
  DeleteKVConfigRequestHeaderSchema,
  GetKVConfigResponseHeaderSchema,
  RegisterBrokerRequestHeaderSchema,
  RegisterBrokerResponseHeaderSchema,
  BrokerIdentityRequestHeaderSchema,
  UnregisterBrokerRequestHeaderSchema,
  QueryDataVersionRequestHeaderSchema,
  TopicRequestHeaderSchema,
  GetRouteInfoRequestHeaderSchema,
  DeleteTopicFromNamesrvRequestHeaderSchema,
  BrokerNameRequestHeaderSchema,
  GetKVListByNamespaceRequestHeaderSchema,
  GetTopicsByClusterRequestHeaderSchema,
  GetBrokerMemberGroupRequestHeaderSchema,
} from './nameserver-headers.js';
export type {
  PutKVConfigRequestHeader,
  KVConfigKeyRequestHeader,
  GetKVConfigRequestHeader,
  DeleteKVConfigRequestHeader,
  GetKVConfigResponseHeader,
  RegisterBrokerRequestHeader,
  RegisterBrokerResponseHeader,
  BrokerIdentityRequestHeader,
  UnregisterBrokerRequestHeader,
  QueryDataVersionRequestHeader,
  TopicRequestHeader,
  GetRouteInfoRequestHeader,
  DeleteTopicFromNamesrvRequestHeader,
  BrokerNameRequestHeader,
  GetKVListByNamespaceRequestHeader,
  GetTopicsByClusterRequestHeader,
  GetBrokerMemberGroupRequestHeader,
} from './nameserver-headers.js';
