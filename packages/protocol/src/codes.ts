/**
 * RocketMQ's request and response codes, with RocketMQ's numbers (remoting `RequestCode.java`,
 * `ResponseCode.java`). Each entry carries a default message and whether a client may retry the
 * same request elsewhere or later. Numbers are unique within each table; `codes.test.ts` checks it.
 */

interface CodeInfo {
  readonly code: number;
  readonly message: string;
  readonly retriable: boolean;
}

/** Request codes: what a command asks for. */
export const RequestCode = {
  SEND_MESSAGE: { code: 10, message: 'send a message', retriable: true },
  PULL_MESSAGE: { code: 11, message: 'pull messages from a queue', retriable: true },
  QUERY_MESSAGE: { code: 12, message: 'query messages by key', retriable: true },
  QUERY_BROKER_OFFSET: { code: 13, message: 'query a broker offset', retriable: true },
  QUERY_CONSUMER_OFFSET: { code: 14, message: "query a consumer group's offset", retriable: true },
  UPDATE_CONSUMER_OFFSET: { code: 15, message: "update a consumer group's offset", retriable: true },
  UPDATE_AND_CREATE_TOPIC: { code: 17, message: 'create or update a topic', retriable: false },
  GET_ALL_TOPIC_CONFIG: { code: 21, message: 'list every topic config', retriable: true },
  GET_TOPIC_CONFIG_LIST: { code: 22, message: 'list topic configs', retriable: true },
  GET_TOPIC_NAME_LIST: { code: 23, message: 'list topic names', retriable: true },
  UPDATE_BROKER_CONFIG: { code: 25, message: 'update the broker config', retriable: false },
  GET_BROKER_CONFIG: { code: 26, message: 'read the broker config', retriable: true },
  TRIGGER_DELETE_FILES: { code: 27, message: 'trigger file deletion', retriable: false },
  GET_BROKER_RUNTIME_INFO: { code: 28, message: 'read broker runtime info', retriable: true },
  SEARCH_OFFSET_BY_TIMESTAMP: { code: 29, message: 'find a queue offset by time', retriable: true },
  GET_MAX_OFFSET: { code: 30, message: "read a queue's max offset", retriable: true },
  GET_MIN_OFFSET: { code: 31, message: "read a queue's min offset", retriable: true },
  GET_EARLIEST_MSG_STORETIME: { code: 32, message: "read a queue's earliest store time", retriable: true },
  VIEW_MESSAGE_BY_ID: { code: 33, message: 'read a message by offset id', retriable: true },
  HEART_BEAT: { code: 34, message: 'client heartbeat', retriable: true },
  UNREGISTER_CLIENT: { code: 35, message: 'unregister a client', retriable: true },
  CONSUMER_SEND_MSG_BACK: { code: 36, message: 'send a message back for retry', retriable: true },
  END_TRANSACTION: { code: 37, message: 'end a transaction', retriable: true },
  GET_CONSUMER_LIST_BY_GROUP: { code: 38, message: "list a group's consumers", retriable: true },
  CHECK_TRANSACTION_STATE: { code: 39, message: 'check a transaction state', retriable: true },
  NOTIFY_CONSUMER_IDS_CHANGED: { code: 40, message: "a group's consumers changed", retriable: true },
  LOCK_BATCH_MQ: { code: 41, message: 'lock queues for orderly consumption', retriable: true },
  UNLOCK_BATCH_MQ: { code: 42, message: 'unlock queues', retriable: true },
  GET_ALL_CONSUMER_OFFSET: { code: 43, message: 'read every consumer offset', retriable: true },
  GET_ALL_DELAY_OFFSET: { code: 45, message: 'read every delay offset', retriable: true },
  CHECK_CLIENT_CONFIG: { code: 46, message: 'check a client config', retriable: true },
  PUT_KV_CONFIG: { code: 100, message: 'put a KV config', retriable: false },
  GET_KV_CONFIG: { code: 101, message: 'get a KV config', retriable: true },
  DELETE_KV_CONFIG: { code: 102, message: 'delete a KV config', retriable: false },
  REGISTER_BROKER: { code: 103, message: 'register a broker', retriable: true },
  UNREGISTER_BROKER: { code: 104, message: 'unregister a broker', retriable: true },
  GET_ROUTEINFO_BY_TOPIC: { code: 105, message: "get a topic's route", retriable: true },
  GET_BROKER_CLUSTER_INFO: { code: 106, message: 'get the cluster info', retriable: true },
  UPDATE_AND_CREATE_SUBSCRIPTIONGROUP: { code: 200, message: 'create or update a subscription group', retriable: false },
  GET_ALL_SUBSCRIPTIONGROUP_CONFIG: { code: 201, message: 'list subscription groups', retriable: true },
  GET_TOPIC_STATS_INFO: { code: 202, message: 'read topic stats', retriable: true },
  GET_CONSUMER_CONNECTION_LIST: { code: 203, message: "list a group's connections", retriable: true },
  GET_PRODUCER_CONNECTION_LIST: { code: 204, message: "list a producer group's connections", retriable: true },
  WIPE_WRITE_PERM_OF_BROKER: { code: 205, message: "wipe a broker's write permission", retriable: false },
  GET_ALL_TOPIC_LIST_FROM_NAMESERVER: { code: 206, message: 'list every topic', retriable: true },
  DELETE_SUBSCRIPTIONGROUP: { code: 207, message: 'delete a subscription group', retriable: false },
  GET_CONSUME_STATS: { code: 208, message: "read a group's consume stats", retriable: true },
  RESET_CONSUMER_OFFSET_IN_CONSUMER: { code: 211, message: 'reset offsets in a consumer', retriable: false },
  WHO_CONSUME_THE_MESSAGE: { code: 214, message: 'who consumes a message', retriable: true },
  DELETE_TOPIC_IN_BROKER: { code: 215, message: 'delete a topic on a broker', retriable: false },
  DELETE_TOPIC_IN_NAMESRV: { code: 216, message: 'delete a topic on a nameserver', retriable: false },
  REGISTER_TOPIC_IN_NAMESRV: { code: 217, message: 'register a topic on a nameserver', retriable: false },
  GET_KVLIST_BY_NAMESPACE: { code: 219, message: "list a namespace's KV config", retriable: true },
  RESET_CONSUMER_CLIENT_OFFSET: { code: 220, message: 'reset client offsets', retriable: false },
  GET_CONSUMER_STATUS_FROM_CLIENT: { code: 221, message: 'read consumer status from a client', retriable: true },
  INVOKE_BROKER_TO_RESET_OFFSET: { code: 222, message: 'reset offsets by time', retriable: false },
  INVOKE_BROKER_TO_GET_CONSUMER_STATUS: { code: 223, message: 'read consumer status', retriable: true },
  GET_TOPICS_BY_CLUSTER: { code: 224, message: "list a cluster's topics", retriable: true },
  QUERY_TOPIC_CONSUME_BY_WHO: { code: 300, message: 'which groups consume a topic', retriable: true },
  QUERY_CONSUME_TIME_SPAN: { code: 303, message: 'query consume time span', retriable: true },
  GET_SYSTEM_TOPIC_LIST_FROM_NS: { code: 304, message: 'list system topics (nameserver)', retriable: true },
  GET_SYSTEM_TOPIC_LIST_FROM_BROKER: { code: 305, message: 'list system topics (broker)', retriable: true },
  CLEAN_EXPIRED_CONSUMEQUEUE: { code: 306, message: 'clean expired consume queues', retriable: false },
  GET_CONSUMER_RUNNING_INFO: { code: 307, message: "read a consumer's running info", retriable: true },
  QUERY_CORRECTION_OFFSET: { code: 308, message: 'query a correction offset', retriable: true },
  CONSUME_MESSAGE_DIRECTLY: { code: 309, message: 'consume a message directly', retriable: false },
  SEND_MESSAGE_V2: { code: 310, message: 'send a message (short header names)', retriable: true },
  GET_UNIT_TOPIC_LIST: { code: 311, message: 'list unit topics', retriable: true },
  GET_HAS_UNIT_SUB_TOPIC_LIST: { code: 312, message: 'list topics with unit subscriptions', retriable: true },
  GET_HAS_UNIT_SUB_UNUNIT_TOPIC_LIST: { code: 313, message: 'list non-unit topics with unit subscriptions', retriable: true },
  CLONE_GROUP_OFFSET: { code: 314, message: "clone a group's offsets", retriable: false },
  VIEW_BROKER_STATS_DATA: { code: 315, message: 'read broker stats', retriable: true },
  CLEAN_UNUSED_TOPIC: { code: 316, message: 'clean unused topics', retriable: false },
  GET_BROKER_CONSUME_STATS: { code: 317, message: 'read broker consume stats', retriable: true },
  UPDATE_NAMESRV_CONFIG: { code: 318, message: 'update the nameserver config', retriable: false },
  GET_NAMESRV_CONFIG: { code: 319, message: 'read the nameserver config', retriable: true },
  SEND_BATCH_MESSAGE: { code: 320, message: 'send a batch of messages', retriable: true },
  QUERY_CONSUME_QUEUE: { code: 321, message: 'read consume queue entries', retriable: true },
  QUERY_DATA_VERSION: { code: 322, message: "query a broker's data version", retriable: true },
  RESUME_CHECK_HALF_MESSAGE: { code: 323, message: 'resume checking a half message', retriable: false },
  SEND_REPLY_MESSAGE: { code: 324, message: 'send a reply message', retriable: true },
  SEND_REPLY_MESSAGE_V2: { code: 325, message: 'send a reply message (short header names)', retriable: true },
  PUSH_REPLY_MESSAGE_TO_CLIENT: { code: 326, message: 'push a reply to a client', retriable: true },
  ADD_WRITE_PERM_OF_BROKER: { code: 327, message: "restore a broker's write permission", retriable: false },
  GET_TOPIC_CONFIG: { code: 351, message: "read one topic's config (5.x)", retriable: true },
  LITE_PULL_MESSAGE: { code: 361, message: 'pull messages for a lite pull consumer (5.x)', retriable: true },
  GET_BROKER_MEMBER_GROUP: { code: 901, message: "list a broker group's members", retriable: true },
  BROKER_HEARTBEAT: { code: 904, message: 'broker heartbeat', retriable: true },
  // Karman's own (RocketMQ has no such request; numbers far from RocketMQ's ranges).
  GET_QUARANTINED_RECORDS: { code: 60001, message: "list the store's quarantined commit-log records (Karman)", retriable: true },
  SCRUB_STORE: { code: 60002, message: "check every record and consume-queue unit of the broker's store (Karman)", retriable: false },
} as const satisfies Record<string, CodeInfo>;
export type RequestCode = (typeof RequestCode)[keyof typeof RequestCode]['code'];
export type RequestCodeName = keyof typeof RequestCode;

/** Response codes: how a request ended. 0 is success. */
export const ResponseCode = {
  SUCCESS: { code: 0, message: 'success', retriable: false },
  SYSTEM_ERROR: { code: 1, message: 'system error', retriable: true },
  SYSTEM_BUSY: { code: 2, message: 'system busy, try again later', retriable: true },
  REQUEST_CODE_NOT_SUPPORTED: { code: 3, message: 'request code not supported', retriable: false },
  TRANSACTION_FAILED: { code: 4, message: 'transaction failed', retriable: false },
  FLUSH_DISK_TIMEOUT: { code: 10, message: 'stored, but the flush to disk timed out', retriable: false },
  SLAVE_NOT_AVAILABLE: { code: 11, message: 'stored, but no slave is available', retriable: false },
  FLUSH_SLAVE_TIMEOUT: { code: 12, message: 'stored, but the slave did not confirm in time', retriable: false },
  MESSAGE_ILLEGAL: { code: 13, message: 'message illegal', retriable: false },
  SERVICE_NOT_AVAILABLE: { code: 14, message: 'service not available', retriable: true },
  VERSION_NOT_SUPPORTED: { code: 15, message: 'version not supported', retriable: false },
  NO_PERMISSION: { code: 16, message: 'no permission', retriable: true },
  TOPIC_NOT_EXIST: { code: 17, message: 'topic does not exist', retriable: true },
  TOPIC_EXIST_ALREADY: { code: 18, message: 'topic exists already', retriable: false },
  PULL_NOT_FOUND: { code: 19, message: 'no new message', retriable: false },
  PULL_RETRY_IMMEDIATELY: { code: 20, message: 'pull again at once', retriable: false },
  PULL_OFFSET_MOVED: { code: 21, message: 'pull offset moved', retriable: false },
  QUERY_NOT_FOUND: { code: 22, message: 'not found', retriable: false },
  SUBSCRIPTION_PARSE_FAILED: { code: 23, message: 'subscription parse failed', retriable: false },
  SUBSCRIPTION_NOT_EXIST: { code: 24, message: 'subscription does not exist', retriable: true },
  SUBSCRIPTION_NOT_LATEST: { code: 25, message: 'subscription not latest', retriable: true },
  SUBSCRIPTION_GROUP_NOT_EXIST: { code: 26, message: 'subscription group does not exist', retriable: false },
  FILTER_DATA_NOT_EXIST: { code: 27, message: 'filter data does not exist', retriable: false },
  FILTER_DATA_NOT_LATEST: { code: 28, message: 'filter data not latest', retriable: false },
  TRANSACTION_SHOULD_COMMIT: { code: 200, message: 'transaction should commit', retriable: false },
  TRANSACTION_SHOULD_ROLLBACK: { code: 201, message: 'transaction should roll back', retriable: false },
  TRANSACTION_STATE_UNKNOW: { code: 202, message: 'transaction state unknown', retriable: false },
  TRANSACTION_STATE_GROUP_WRONG: { code: 203, message: 'transaction state group wrong', retriable: false },
  NO_BUYER_ID: { code: 204, message: 'no buyer id', retriable: true },
  NOT_IN_CURRENT_UNIT: { code: 205, message: 'not in current unit', retriable: true },
  CONSUMER_NOT_ONLINE: { code: 206, message: 'consumer not online', retriable: false },
  CONSUME_MSG_TIMEOUT: { code: 207, message: 'consume message timeout', retriable: false },
  NO_MESSAGE: { code: 208, message: 'no message', retriable: false },
  FLOW_CONTROL: { code: 215, message: 'flow control, try again later', retriable: true },
  GO_AWAY: { code: 1500, message: 'server is going away', retriable: true },
} as const satisfies Record<string, CodeInfo>;
export type ResponseCode = (typeof ResponseCode)[keyof typeof ResponseCode]['code'];
export type ResponseCodeName = keyof typeof ResponseCode;

function byNumber<T extends Record<string, CodeInfo>>(table: T): Map<number, CodeInfo & { name: keyof T & string }> {
  const map = new Map<number, CodeInfo & { name: keyof T & string }>();
  for (const [name, info] of Object.entries(table)) map.set(info.code, { ...info, name });
  return map;
}

const requestByNumber = byNumber(RequestCode);
const responseByNumber = byNumber(ResponseCode);

/** The request code entry for a number, or undefined when RocketMQ defines none we know. */
export function requestCodeInfo(code: number): (CodeInfo & { name: RequestCodeName }) | undefined {
  return requestByNumber.get(code);
}

/** The response code entry for a number, or undefined for a code we do not know. */
export function responseCodeInfo(code: number): (CodeInfo & { name: ResponseCodeName }) | undefined {
  return responseByNumber.get(code);
}

/** Human name of a request code, `UNKNOWN(n)` when we know none. */
export function requestCodeName(code: number): string {
  return requestByNumber.get(code)?.name ?? `UNKNOWN(${code})`;
}

/** Human name of a response code, `UNKNOWN(n)` when we know none. */
export function responseCodeName(code: number): string {
  return responseByNumber.get(code)?.name ?? `UNKNOWN(${code})`;
}
