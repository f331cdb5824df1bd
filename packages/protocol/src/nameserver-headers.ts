/**
 * Headers of the requests a nameserver serves: KV config, broker registration,
 * routes, write permissions, topics, and their response headers. Field names are exactly those of
 * RocketMQ 4.x's `*RequestHeader` classes (`common/.../protocol/header/namesrv/`); required fields
 * are the ones marked `@CFNotNull` there. Unknown fields are kept.
 */
import { z } from 'zod';
import { boolField, intField, longField, stringField } from './header-fields.js';

/** PUT_KV_CONFIG (100), `PutKVConfigRequestHeader`: namespace, key, value: required. */
export const PutKVConfigRequestHeaderSchema = z.looseObject({
  namespace: stringField(),
  key: stringField(),
  value: stringField(),
});
export type PutKVConfigRequestHeader = z.infer<typeof PutKVConfigRequestHeaderSchema>;

/**
 * GET_KV_CONFIG (101) and DELETE_KV_CONFIG (102), `GetKVConfigRequestHeader` and
 * `DeleteKVConfigRequestHeader`: namespace, key: required.
 */
export const KVConfigKeyRequestHeaderSchema = z.looseObject({
  namespace: stringField(),
  key: stringField(),
});
export type KVConfigKeyRequestHeader = z.infer<typeof KVConfigKeyRequestHeaderSchema>;
/** GET_KV_CONFIG (101): namespace, key. */
export const GetKVConfigRequestHeaderSchema = KVConfigKeyRequestHeaderSchema;
export type GetKVConfigRequestHeader = KVConfigKeyRequestHeader;
/** DELETE_KV_CONFIG (102): namespace, key. */
export const DeleteKVConfigRequestHeaderSchema = KVConfigKeyRequestHeaderSchema;
export type DeleteKVConfigRequestHeader = KVConfigKeyRequestHeader;

/** Response to GET_KV_CONFIG, `GetKVConfigResponseHeader`: value: optional (absent with QUERY_NOT_FOUND). */
export const GetKVConfigResponseHeaderSchema = z.looseObject({
  value: stringField().optional(),
});
export type GetKVConfigResponseHeader = z.infer<typeof GetKVConfigResponseHeaderSchema>;

/**
 * REGISTER_BROKER (103), `RegisterBrokerRequestHeader`: brokerName, brokerAddr,
 * clusterName, haServerAddr, brokerId (0 = master): required; compressed (false), bodyCrc32 (0),
 * heartbeatTimeoutMillis and enableActingMaster (5.x): optional.
 */
export const RegisterBrokerRequestHeaderSchema = z.looseObject({
  brokerName: stringField(),
  brokerAddr: stringField(),
  clusterName: stringField(),
  haServerAddr: stringField(),
  brokerId: longField(),
  compressed: boolField().default(false),
  bodyCrc32: intField().default(0),
  heartbeatTimeoutMillis: longField().optional(),
  enableActingMaster: boolField().optional(),
});
export type RegisterBrokerRequestHeader = z.infer<typeof RegisterBrokerRequestHeaderSchema>;

/**
 * Response to REGISTER_BROKER, `RegisterBrokerResponseHeader`: haServerAddr, masterAddr, both
 * optional (set for a slave so it learns where to replicate from).
 */
export const RegisterBrokerResponseHeaderSchema = z.looseObject({
  haServerAddr: stringField().optional(),
  masterAddr: stringField().optional(),
});
export type RegisterBrokerResponseHeader = z.infer<typeof RegisterBrokerResponseHeaderSchema>;

/**
 * The broker identity of UNREGISTER_BROKER (104, `UnRegisterBrokerRequestHeader`) and
 * QUERY_DATA_VERSION (322, `QueryDataVersionRequestHeader`): brokerName, brokerAddr, clusterName,
 * brokerId: required.
 */
export const BrokerIdentityRequestHeaderSchema = z.looseObject({
  brokerName: stringField(),
  brokerAddr: stringField(),
  clusterName: stringField(),
  brokerId: longField(),
});
export type BrokerIdentityRequestHeader = z.infer<typeof BrokerIdentityRequestHeaderSchema>;
/** UNREGISTER_BROKER (104): brokerName, brokerAddr, clusterName, brokerId. */
export const UnregisterBrokerRequestHeaderSchema = BrokerIdentityRequestHeaderSchema;
export type UnregisterBrokerRequestHeader = BrokerIdentityRequestHeader;
/** QUERY_DATA_VERSION (322): brokerName, brokerAddr, clusterName, brokerId. */
export const QueryDataVersionRequestHeaderSchema = BrokerIdentityRequestHeaderSchema;
export type QueryDataVersionRequestHeader = BrokerIdentityRequestHeader;

/**
 * The header that names only a topic (`topic`, required): GET_ROUTEINFO_BY_TOPIC (105,
 * `GetRouteInfoRequestHeader`), GET_TOPIC_STATS_INFO (202), DELETE_TOPIC_IN_BROKER (215,
 * `DeleteTopicRequestHeader`), REGISTER_TOPIC_IN_NAMESRV (217, `RegisterTopicRequestHeader`) and
 * QUERY_TOPIC_CONSUME_BY_WHO (300). Topic-name rules are the broker's to check, not the schema's.
 */
export const TopicRequestHeaderSchema = z.looseObject({
  topic: stringField(),
});
export type TopicRequestHeader = z.infer<typeof TopicRequestHeaderSchema>;
/** GET_ROUTEINFO_BY_TOPIC (105): topic; acceptStandardJsonOnly (5.x) optional. */
export const GetRouteInfoRequestHeaderSchema = z.looseObject({
  topic: stringField(),
  acceptStandardJsonOnly: boolField().optional(),
});
export type GetRouteInfoRequestHeader = z.infer<typeof GetRouteInfoRequestHeaderSchema>;

/** DELETE_TOPIC_IN_NAMESRV (216), `DeleteTopicFromNamesrvRequestHeader`: topic: required; clusterName (5.x): optional. */
export const DeleteTopicFromNamesrvRequestHeaderSchema = z.looseObject({
  topic: stringField(),
  clusterName: stringField().optional(),
});
export type DeleteTopicFromNamesrvRequestHeader = z.infer<typeof DeleteTopicFromNamesrvRequestHeaderSchema>;

/**
 * WIPE_WRITE_PERM_OF_BROKER (205) and ADD_WRITE_PERM_OF_BROKER (327),
 * `WipeWritePermOfBrokerRequestHeader` / `AddWritePermOfBrokerRequestHeader`: brokerName: required.
 * Both answer with `wipeTopicCount` / `addTopicCount` in their response headers.
 */
export const BrokerNameRequestHeaderSchema = z.looseObject({
  brokerName: stringField(),
});
export type BrokerNameRequestHeader = z.infer<typeof BrokerNameRequestHeaderSchema>;

/** GET_KVLIST_BY_NAMESPACE (219), `GetKVListByNamespaceRequestHeader`: namespace: required. */
export const GetKVListByNamespaceRequestHeaderSchema = z.looseObject({
  namespace: stringField(),
});
export type GetKVListByNamespaceRequestHeader = z.infer<typeof GetKVListByNamespaceRequestHeaderSchema>;

/** GET_TOPICS_BY_CLUSTER (224), `GetTopicsByClusterRequestHeader`: cluster: required. */
export const GetTopicsByClusterRequestHeaderSchema = z.looseObject({
  cluster: stringField(),
});
export type GetTopicsByClusterRequestHeader = z.infer<typeof GetTopicsByClusterRequestHeaderSchema>;

/** GET_BROKER_MEMBER_GROUP (901, 5.x), `GetBrokerMemberGroupRequestHeader`: clusterName, brokerName: required. */
export const GetBrokerMemberGroupRequestHeaderSchema = z.looseObject({
  clusterName: stringField(),
  brokerName: stringField(),
});
export type GetBrokerMemberGroupRequestHeader = z.infer<typeof GetBrokerMemberGroupRequestHeaderSchema>;
