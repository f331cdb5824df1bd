/**
 * The requests a consumer sends to brokers, one function each, decoding the answer and turning a
 * failure code into a `RemoteError`: pull, offsets, group members,
 * locks and send-back. Which broker to ask is the caller's business.
 */
import type { ClientInstance, MessageQueue } from '@karman/client';
import { KarmanError, RemoteError, RequestCode, ResponseCode, createRequest, decodeRecords } from '@karman/protocol';
import type { MessageRecord, RemotingCommand } from '@karman/protocol';

/** Bits of the pull request's `sysFlag` (RocketMQ `PullSysFlag`). */
export const PullSysFlag = { COMMIT_OFFSET: 1, SUSPEND: 2, SUBSCRIPTION: 4, CLASS_FILTER: 8 } as const;
export type PullSysFlag = (typeof PullSysFlag)[keyof typeof PullSysFlag];

/** How a pull ended (RocketMQ `PullStatus`). */
export const PullStatus = { FOUND: 'FOUND', NO_NEW_MSG: 'NO_NEW_MSG', NO_MATCHED_MSG: 'NO_MATCHED_MSG', OFFSET_ILLEGAL: 'OFFSET_ILLEGAL' } as const;
export type PullStatus = (typeof PullStatus)[keyof typeof PullStatus];

export interface PullResult {
  status: PullStatus;
  nextBeginOffset: number;
  minOffset: number;
  maxOffset: number;
  suggestWhichBrokerId: number;
  records: MessageRecord[];
}

export interface PullRequestArgs {
  group: string;
  queue: MessageQueue;
  offset: number;
  maxMsgNums: number;
  sysFlag: number;
  commitOffset: number;
  suspendTimeoutMillis: number;
  subscription: string;
  subVersion: number;
  timeoutMillis: number;
  signal?: AbortSignal;
}

function failed(response: RemotingCommand, address: string): RemoteError {
  return new RemoteError(response.code, response.remark, address);
}

function num(value: unknown, fallback = -1): number {
  const n = Number(value);
  return Number.isFinite(n) ? n : fallback;
}

/** PULL_MESSAGE: one (long-polling) pull. PULL_RETRY_IMMEDIATELY is answered as NO_MATCHED_MSG. */
export async function pullMessage(client: ClientInstance, address: string, args: PullRequestArgs): Promise<PullResult> {
  const request = createRequest(RequestCode.PULL_MESSAGE.code, {
    consumerGroup: args.group,
    topic: args.queue.topic,
    queueId: args.queue.queueId,
    queueOffset: args.offset,
    maxMsgNums: args.maxMsgNums,
    sysFlag: args.sysFlag,
    commitOffset: args.commitOffset,
    suspendTimeoutMillis: args.suspendTimeoutMillis,
    subscription: args.subscription,
    subVersion: args.subVersion,
    expressionType: 'TAG',
  });
  const response = await client.broker(address).request(request, { timeoutMillis: args.timeoutMillis, signal: args.signal });
  const h = response.extFields;
  const base = { nextBeginOffset: num(h.nextBeginOffset), minOffset: num(h.minOffset), maxOffset: num(h.maxOffset), suggestWhichBrokerId: num(h.suggestWhichBrokerId, 0), records: [] as MessageRecord[] };
  switch (response.code) {
    case ResponseCode.SUCCESS.code:
      return { ...base, status: PullStatus.FOUND, records: response.body && response.body.length > 0 ? decodeRecords(Buffer.from(response.body.buffer, response.body.byteOffset, response.body.byteLength)) : [] };
    case ResponseCode.PULL_NOT_FOUND.code:
      return { ...base, status: PullStatus.NO_NEW_MSG };
    case ResponseCode.PULL_RETRY_IMMEDIATELY.code:
      return { ...base, status: PullStatus.NO_MATCHED_MSG };
    case ResponseCode.PULL_OFFSET_MOVED.code:
      return { ...base, status: PullStatus.OFFSET_ILLEGAL };
    default:
      throw failed(response, address);
  }
}

/** QUERY_CONSUMER_OFFSET: the group's committed offset, or -1 when the broker has none. */
export async function queryConsumerOffset(client: ClientInstance, address: string, group: string, queue: MessageQueue, timeoutMillis: number, setZeroIfNotFound = true): Promise<number> {
  // The flag is sent only when false, so requests look like RocketMQ 4.x clients' by default.
  const fields = { consumerGroup: group, topic: queue.topic, queueId: queue.queueId, setZeroIfNotFound: setZeroIfNotFound ? undefined : false };
  const response = await client.broker(address).request(createRequest(RequestCode.QUERY_CONSUMER_OFFSET.code, fields), { timeoutMillis });
  if (response.code === ResponseCode.QUERY_NOT_FOUND.code) return -1;
  if (response.code !== ResponseCode.SUCCESS.code) throw failed(response, address);
  return num(response.extFields.offset);
}

/** UPDATE_CONSUMER_OFFSET, answered (so a shutdown knows its commit landed before it leaves). */
export async function updateConsumerOffset(client: ClientInstance, address: string, group: string, queue: MessageQueue, offset: number, timeoutMillis: number): Promise<void> {
  const response = await client.broker(address).request(createRequest(RequestCode.UPDATE_CONSUMER_OFFSET.code, { consumerGroup: group, topic: queue.topic, queueId: queue.queueId, commitOffset: offset }), { timeoutMillis });
  if (response.code !== ResponseCode.SUCCESS.code) throw failed(response, address);
}

async function offsetQuery(client: ClientInstance, address: string, code: number, fields: Record<string, string | number>, timeoutMillis: number): Promise<number> {
  const response = await client.broker(address).request(createRequest(code, fields), { timeoutMillis });
  if (response.code !== ResponseCode.SUCCESS.code) throw failed(response, address);
  return num(response.extFields.offset);
}

/** GET_MAX_OFFSET: one past the queue's last message. */
export function getMaxOffset(client: ClientInstance, address: string, queue: MessageQueue, timeoutMillis: number): Promise<number> {
  return offsetQuery(client, address, RequestCode.GET_MAX_OFFSET.code, { topic: queue.topic, queueId: queue.queueId }, timeoutMillis);
}

/** GET_MIN_OFFSET: the queue's first offset still stored. */
export function getMinOffset(client: ClientInstance, address: string, queue: MessageQueue, timeoutMillis: number): Promise<number> {
  return offsetQuery(client, address, RequestCode.GET_MIN_OFFSET.code, { topic: queue.topic, queueId: queue.queueId }, timeoutMillis);
}

/** SEARCH_OFFSET_BY_TIMESTAMP: the first offset stored at or after `timestamp`. */
export function searchOffset(client: ClientInstance, address: string, queue: MessageQueue, timestamp: number, timeoutMillis: number): Promise<number> {
  return offsetQuery(client, address, RequestCode.SEARCH_OFFSET_BY_TIMESTAMP.code, { topic: queue.topic, queueId: queue.queueId, timestamp }, timeoutMillis);
}

/** GET_CONSUMER_LIST_BY_GROUP: the group's client ids as this broker knows them. */
export async function getConsumerIdList(client: ClientInstance, address: string, group: string, timeoutMillis: number): Promise<string[]> {
  const response = await client.broker(address).request(createRequest(RequestCode.GET_CONSUMER_LIST_BY_GROUP.code, { consumerGroup: group }), { timeoutMillis });
  if (response.code !== ResponseCode.SUCCESS.code) throw failed(response, address);
  const body = parseJson(response, address) as { consumerIdList?: unknown };
  if (!Array.isArray(body.consumerIdList) || !body.consumerIdList.every((c) => typeof c === 'string')) {
    throw new KarmanError('BAD_RESPONSE', `GET_CONSUMER_LIST_BY_GROUP from ${address} has no consumerIdList of strings`);
  }
  return body.consumerIdList as string[];
}

/** LOCK_BATCH_MQ: lock queues of one broker for orderly consumption; answers the ones locked. */
export async function lockBatch(client: ClientInstance, address: string, group: string, clientId: string, queues: readonly MessageQueue[], timeoutMillis: number): Promise<MessageQueue[]> {
  const body = Buffer.from(JSON.stringify({ consumerGroup: group, clientId, mqSet: queues.map(({ topic, brokerName, queueId }) => ({ topic, brokerName, queueId })) }));
  const response = await client.broker(address).request(createRequest(RequestCode.LOCK_BATCH_MQ.code, {}, body), { timeoutMillis });
  if (response.code !== ResponseCode.SUCCESS.code) throw failed(response, address);
  const parsed = parseJson(response, address) as { lockOKMQSet?: unknown };
  if (!Array.isArray(parsed.lockOKMQSet)) throw new KarmanError('BAD_RESPONSE', `LOCK_BATCH_MQ from ${address} has no lockOKMQSet`);
  return (parsed.lockOKMQSet as MessageQueue[]).map(({ topic, brokerName, queueId }) => ({ topic, brokerName, queueId }));
}

/** UNLOCK_BATCH_MQ: release orderly locks. */
export async function unlockBatch(client: ClientInstance, address: string, group: string, clientId: string, queues: readonly MessageQueue[], timeoutMillis: number): Promise<void> {
  const body = Buffer.from(JSON.stringify({ consumerGroup: group, clientId, mqSet: queues.map(({ topic, brokerName, queueId }) => ({ topic, brokerName, queueId })) }));
  const response = await client.broker(address).request(createRequest(RequestCode.UNLOCK_BATCH_MQ.code, {}, body), { timeoutMillis });
  if (response.code !== ResponseCode.SUCCESS.code) throw failed(response, address);
}

export interface SendBackArgs {
  commitLogOffset: number;
  group: string;
  delayLevel: number;
  originMsgId: string;
  originTopic: string;
  maxReconsumeTimes: number;
  timeoutMillis: number;
}

/** CONSUMER_SEND_MSG_BACK: ask the broker holding the message to schedule its retry (or DLQ it). */
export async function consumerSendMessageBack(client: ClientInstance, address: string, args: SendBackArgs): Promise<void> {
  const response = await client.broker(address).request(
    createRequest(RequestCode.CONSUMER_SEND_MSG_BACK.code, {
      offset: args.commitLogOffset,
      group: args.group,
      delayLevel: args.delayLevel,
      originMsgId: args.originMsgId,
      originTopic: args.originTopic,
      unitMode: false,
      maxReconsumeTimes: args.maxReconsumeTimes,
    }),
    { timeoutMillis: args.timeoutMillis },
  );
  if (response.code !== ResponseCode.SUCCESS.code) throw failed(response, address);
}

function parseJson(response: RemotingCommand, address: string): unknown {
  try {
    const text = Buffer.from(response.body ?? []).toString('utf8');
    const value: unknown = JSON.parse(text || 'null');
    if (value === null || typeof value !== 'object') throw new KarmanError('BAD_RESPONSE', 'not a JSON object');
    return value;
  } catch (error) {
    throw new KarmanError('BAD_RESPONSE', `response ${response.code} from ${address} has a body that is not a JSON object: ${(error as Error).message}`, { cause: error });
  }
}
