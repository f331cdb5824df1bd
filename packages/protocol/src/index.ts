export { RequestCode, ResponseCode, requestCodeInfo, responseCodeInfo, requestCodeName, responseCodeName } from './codes.js';
export type { RequestCodeName, ResponseCodeName } from './codes.js';
export { KarmanError, RequestTimeoutError, ConnectionClosedError, RemoteError, InvalidArgumentError, ProtocolError } from './errors.js';
export { isRetriableCode } from './errors.js';
export type { KarmanErrorOptions, KarmanErrorCode } from './errors.js';
export { ERROR_CODES } from './error-codes.js';
export type { ErrorCode } from './error-codes.js';
export {
  FLAG_RESPONSE,
  FLAG_ONEWAY,
  SerializeType,
  KARMAN_VERSION,
  KARMAN_LANGUAGE,
  DEFAULT_MAX_FRAME_SIZE,
  DEFAULT_MAX_HEADER_SIZE,
  newOpaque,
  createRequest,
  createResponse,
  isResponse,
  isOneway,
} from './remoting-command.js';
export {
  encodeFrame,
  encodeFrameParts,
  decodeFrame,
  FrameDecoder,
} from './frame-codec.js';
export type { RemotingCommand, ExtFieldValue } from './remoting-command.js';
export type { FrameLimits } from './frame-codec.js';
export { parseRemotingJson, encodeObjectKeyMap, readQueueOffsets, encodeQueueOffsets } from './remoting-json.js';
export type { QueueOffset } from './remoting-json.js';
export {
  TOPIC_MAX_LENGTH,
  GROUP_MAX_LENGTH,
  Perm,
  isReadable,
  isWriteable,
  SystemTopic,
  RETRY_GROUP_TOPIC_PREFIX,
  DLQ_GROUP_TOPIC_PREFIX,
  SYSTEM_TOPIC_PREFIX,
  retryTopic,
  dlqTopic,
  isRetryTopic,
  isDlqTopic,
  isSystemTopic,
  topicNameProblem,
  MAX_TOPIC_QUEUE_NUMS,
  sendTopicProblem,
  groupNameProblem,
  consumerGroupNameProblem,
} from './names.js';
export { RequestHeaderSchemas, parseRequestHeader, parseResponseHeader, SendMessageRequestHeaderSchema, SendMessageRequestHeaderV2Schema, sendMessageHeaderFromV2, SendMessageResponseHeaderSchema, EndTransactionRequestHeaderSchema, CheckTransactionStateRequestHeaderSchema, PullMessageRequestHeaderSchema, PullMessageResponseHeaderSchema, QueryMessageRequestHeaderSchema, QueryMessageResponseHeaderSchema, QueryConsumerOffsetRequestHeaderSchema, OffsetResponseHeaderSchema, QueryConsumerOffsetResponseHeaderSchema, GetMaxOffsetResponseHeaderSchema, GetMinOffsetResponseHeaderSchema, SearchOffsetResponseHeaderSchema, UpdateConsumerOffsetRequestHeaderSchema, SearchOffsetRequestHeaderSchema, QueueRequestHeaderSchema, GetMaxOffsetRequestHeaderSchema, GetMinOffsetRequestHeaderSchema, GetEarliestMsgStoretimeRequestHeaderSchema, GetEarliestMsgStoretimeResponseHeaderSchema, ViewMessageRequestHeaderSchema, UnregisterClientRequestHeaderSchema, ConsumerSendMsgBackRequestHeaderSchema, ConsumerGroupRequestHeaderSchema, GetConsumerListByGroupRequestHeaderSchema, NotifyConsumerIdsChangedRequestHeaderSchema, GetConsumerConnectionListRequestHeaderSchema, CreateTopicRequestHeaderSchema, DeleteSubscriptionGroupRequestHeaderSchema, GetConsumeStatsRequestHeaderSchema, GetProducerConnectionListRequestHeaderSchema, ResetOffsetRequestHeaderSchema, GetConsumerStatusRequestHeaderSchema, QueryConsumeTimeSpanRequestHeaderSchema, GetConsumerRunningInfoRequestHeaderSchema, ConsumeMessageDirectlyRequestHeaderSchema, CloneGroupOffsetRequestHeaderSchema, ViewBrokerStatsDataRequestHeaderSchema, GetConsumeStatsInBrokerHeaderSchema, PutKVConfigRequestHeaderSchema, KVConfigKeyRequestHeaderSchema, GetKVConfigRequestHeaderSchema, DeleteKVConfigRequestHeaderSchema, GetKVConfigResponseHeaderSchema, RegisterBrokerRequestHeaderSchema, RegisterBrokerResponseHeaderSchema, BrokerIdentityRequestHeaderSchema, UnregisterBrokerRequestHeaderSchema, QueryDataVersionRequestHeaderSchema, TopicRequestHeaderSchema, GetRouteInfoRequestHeaderSchema, DeleteTopicFromNamesrvRequestHeaderSchema, BrokerNameRequestHeaderSchema, GetKVListByNamespaceRequestHeaderSchema, GetTopicsByClusterRequestHeaderSchema, GetBrokerMemberGroupRequestHeaderSchema } from './headers.js';
export type { ParseRequestHeaderResult, SendMessageRequestHeader, SendMessageRequestHeaderV2, SendMessageResponseHeader, EndTransactionRequestHeader, CheckTransactionStateRequestHeader, PullMessageRequestHeader, PullMessageResponseHeader, QueryMessageRequestHeader, QueryMessageResponseHeader, QueryConsumerOffsetRequestHeader, OffsetResponseHeader, QueryConsumerOffsetResponseHeader, GetMaxOffsetResponseHeader, GetMinOffsetResponseHeader, SearchOffsetResponseHeader, UpdateConsumerOffsetRequestHeader, SearchOffsetRequestHeader, QueueRequestHeader, GetMaxOffsetRequestHeader, GetMinOffsetRequestHeader, GetEarliestMsgStoretimeRequestHeader, GetEarliestMsgStoretimeResponseHeader, ViewMessageRequestHeader, UnregisterClientRequestHeader, ConsumerSendMsgBackRequestHeader, ConsumerGroupRequestHeader, GetConsumerListByGroupRequestHeader, NotifyConsumerIdsChangedRequestHeader, GetConsumerConnectionListRequestHeader, CreateTopicRequestHeader, DeleteSubscriptionGroupRequestHeader, GetConsumeStatsRequestHeader, GetProducerConnectionListRequestHeader, ResetOffsetRequestHeader, GetConsumerStatusRequestHeader, QueryConsumeTimeSpanRequestHeader, GetConsumerRunningInfoRequestHeader, ConsumeMessageDirectlyRequestHeader, CloneGroupOffsetRequestHeader, ViewBrokerStatsDataRequestHeader, GetConsumeStatsInBrokerHeader, PutKVConfigRequestHeader, KVConfigKeyRequestHeader, GetKVConfigRequestHeader, DeleteKVConfigRequestHeader, GetKVConfigResponseHeader, RegisterBrokerRequestHeader, RegisterBrokerResponseHeader, BrokerIdentityRequestHeader, UnregisterBrokerRequestHeader, QueryDataVersionRequestHeader, TopicRequestHeader, GetRouteInfoRequestHeader, DeleteTopicFromNamesrvRequestHeader, BrokerNameRequestHeader, GetKVListByNamespaceRequestHeader, GetTopicsByClusterRequestHeader, GetBrokerMemberGroupRequestHeader } from './headers.js';
export {
  MessageMagic,
  MessageSysFlag,
  BLANK_RECORD_SIZE,
  RECORD_FIXED_OVERHEAD_V1_IPV4,
  MAX_RECORD_TOPIC_BYTES,
  MAX_V1_TOPIC_BYTES,
  bodyCrc32,
  recordFieldPositions,
  recordStoreTimestamp,
  recordPhysicalOffset,
  encodeRecord,
  prepareRecord,
  writeRecord,
  encodeBlankRecord,
  decodeRecord,
  decodeRecords,
  normalizeHost,
} from './message-record.js';
export type { HostAddress, MessageRecord, RecordInput, RecordFields, PreparedRecord, DecodedRecord, DecodeRecordOptions } from './message-record.js';
export { MessageProperty, MAX_PROPERTIES_SIZE, encodeProperties, decodeProperties, propertiesToString } from './properties.js';
export { javaStringHashCode, tagsCode } from './java-hash.js';
export { readInt64BE, writeInt64BE, isSafeInt64At } from './int64.js';
export { createOffsetMessageId, decodeOffsetMessageId, createUniqueId, encodeUniqueId, decodeUniqueId } from './message-id.js';
export type { UniqueIdParts } from './message-id.js';
export { encodeBatch, decodeBatch } from './message-batch.js';
export type { BatchEntry } from './message-batch.js';
export {
  COMPRESS_BODY_THRESHOLD,
  DEFAULT_COMPRESS_LEVEL,
  DEFAULT_MAX_DECOMPRESSED_SIZE,
  CompressionType,
  shouldCompressBody,
  compressBody,
  decompressBody,
  checkInflatedSize,
  DEFLATE_MAX_RATIO,
  uncompressedBody,
} from './compression.js';
export { RemotingServer } from './remoting-server.js';
export type { RemotingServerEvent } from './remoting-server.js';
export type { ServerConnection, RequestContext, RequestHandler, RemotingServerOptions, RemotingServerStats, HttpAnswer } from './server-options.js';
export { RemotingClient, parseAddress } from './remoting-client.js';
export type { RemotingClientOptions, RemotingClientEvent } from './remoting-client.js';
export { parseProperties, formatProperties, readConfigFile, splitListenAddress, applySetFlags, MAX_CONFIG_BODY_BYTES, configBodyTooLarge } from './config-properties.js';
