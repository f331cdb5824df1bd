/**
 * Headers of the admin requests a broker serves (mqadmin and the dashboard): topics,
 * subscription groups, consume stats, offset resets, and the broker → client admin calls. Field
 * names are exactly those of RocketMQ 4.x's `*RequestHeader` classes; required fields are the ones
 * marked `@CFNotNull` there. Unknown fields are kept.
 */
import { z } from 'zod';
import { boolField, intField, longField, stringField } from './header-fields.js';

/**
 * UPDATE_AND_CREATE_TOPIC (17), `CreateTopicRequestHeader`: topic, defaultTopic, readQueueNums,
 * writeQueueNums, perm (bits 1 inherit, 2 write, 4 read), topicFilterType ("SINGLE_TAG" |
 * "MULTI_TAG"), order (false): required; topicSysFlag, attributes and force (5.x): optional.
 */
export const CreateTopicRequestHeaderSchema = z.looseObject({
  topic: stringField(),
  defaultTopic: stringField(),
  readQueueNums: intField(),
  writeQueueNums: intField(),
  perm: intField(),
  topicFilterType: stringField(),
  topicSysFlag: intField().optional(),
  // Java initialises it to false but still marks it @CFNotNull, so every Java client sends it.
  order: boolField(),
  attributes: stringField().optional(),
  force: boolField().optional(),
});
export type CreateTopicRequestHeader = z.infer<typeof CreateTopicRequestHeaderSchema>;

/** DELETE_SUBSCRIPTIONGROUP (207), `DeleteSubscriptionGroupRequestHeader`: groupName: required; removeOffset (4.9+): optional. */
export const DeleteSubscriptionGroupRequestHeaderSchema = z.looseObject({
  groupName: stringField(),
  removeOffset: boolField().optional(),
});
export type DeleteSubscriptionGroupRequestHeader = z.infer<typeof DeleteSubscriptionGroupRequestHeaderSchema>;

/** GET_CONSUME_STATS (208), `GetConsumeStatsRequestHeader`: consumerGroup: required; topic: optional (all topics when absent). */
export const GetConsumeStatsRequestHeaderSchema = z.looseObject({
  consumerGroup: stringField(),
  topic: stringField().optional(),
});
export type GetConsumeStatsRequestHeader = z.infer<typeof GetConsumeStatsRequestHeaderSchema>;

/** GET_PRODUCER_CONNECTION_LIST (204), `GetProducerConnectionListRequestHeader`: producerGroup: required. */
export const GetProducerConnectionListRequestHeaderSchema = z.looseObject({
  producerGroup: stringField(),
});
export type GetProducerConnectionListRequestHeader = z.infer<typeof GetProducerConnectionListRequestHeaderSchema>;

/**
 * INVOKE_BROKER_TO_RESET_OFFSET (222, admin → broker) and RESET_CONSUMER_CLIENT_OFFSET (220,
 * broker → client), `ResetOffsetRequestHeader`: topic, group, timestamp (reset to the first message
 * stored at or after it), isForce (also move offsets forward): required; queueId and offset (5.x):
 * optional.
 */
export const ResetOffsetRequestHeaderSchema = z.looseObject({
  topic: stringField(),
  group: stringField(),
  timestamp: longField(),
  isForce: boolField(),
  queueId: intField().optional(),
  offset: longField().optional(),
});
export type ResetOffsetRequestHeader = z.infer<typeof ResetOffsetRequestHeaderSchema>;

/**
 * GET_CONSUMER_STATUS_FROM_CLIENT (221, broker → client) and INVOKE_BROKER_TO_GET_CONSUMER_STATUS
 * (223), `GetConsumerStatusRequestHeader`: topic, group: required; clientAddr: optional.
 */
export const GetConsumerStatusRequestHeaderSchema = z.looseObject({
  topic: stringField(),
  group: stringField(),
  clientAddr: stringField().optional(),
});
export type GetConsumerStatusRequestHeader = z.infer<typeof GetConsumerStatusRequestHeaderSchema>;

/** QUERY_CONSUME_TIME_SPAN (303), `QueryConsumeTimeSpanRequestHeader`: topic, group: required. */
export const QueryConsumeTimeSpanRequestHeaderSchema = z.looseObject({
  topic: stringField(),
  group: stringField(),
});
export type QueryConsumeTimeSpanRequestHeader = z.infer<typeof QueryConsumeTimeSpanRequestHeaderSchema>;

/** GET_CONSUMER_RUNNING_INFO (307, broker → client), `GetConsumerRunningInfoRequestHeader`: consumerGroup, clientId: required; jstackEnable: optional. */
export const GetConsumerRunningInfoRequestHeaderSchema = z.looseObject({
  consumerGroup: stringField(),
  clientId: stringField(),
  jstackEnable: boolField().optional(),
});
export type GetConsumerRunningInfoRequestHeader = z.infer<typeof GetConsumerRunningInfoRequestHeaderSchema>;

/**
 * CONSUME_MESSAGE_DIRECTLY (309, broker → client), `ConsumeMessageDirectlyResultRequestHeader`:
 * consumerGroup: required; clientId, msgId, brokerName: optional.
 */
export const ConsumeMessageDirectlyRequestHeaderSchema = z.looseObject({
  consumerGroup: stringField(),
  clientId: stringField().optional(),
  msgId: stringField().optional(),
  brokerName: stringField().optional(),
});
export type ConsumeMessageDirectlyRequestHeader = z.infer<typeof ConsumeMessageDirectlyRequestHeaderSchema>;

/** CLONE_GROUP_OFFSET (314), `CloneGroupOffsetRequestHeader`: srcGroup, destGroup: required; topic, offline (false): optional. */
export const CloneGroupOffsetRequestHeaderSchema = z.looseObject({
  srcGroup: stringField(),
  destGroup: stringField(),
  topic: stringField().optional(),
  offline: boolField().default(false),
});
export type CloneGroupOffsetRequestHeader = z.infer<typeof CloneGroupOffsetRequestHeaderSchema>;

/** VIEW_BROKER_STATS_DATA (315), `ViewBrokerStatsDataRequestHeader`: statsName, statsKey: required. */
export const ViewBrokerStatsDataRequestHeaderSchema = z.looseObject({
  statsName: stringField(),
  statsKey: stringField(),
});
export type ViewBrokerStatsDataRequestHeader = z.infer<typeof ViewBrokerStatsDataRequestHeaderSchema>;

/** GET_BROKER_CONSUME_STATS (317), `GetConsumeStatsInBrokerHeader`: isOrder: required. */
export const GetConsumeStatsInBrokerHeaderSchema = z.looseObject({
  isOrder: boolField(),
});
export type GetConsumeStatsInBrokerHeader = z.infer<typeof GetConsumeStatsInBrokerHeaderSchema>;
