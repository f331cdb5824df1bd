/**
 * Headers of the produce side: sending messages (one, V2, batch), ending and checking transactions,
 * and the send response. Field names are exactly those of RocketMQ 4.x's `*RequestHeader` classes
 * (`common/.../protocol/header/`); required fields are the ones marked `@CFNotNull` there. Unknown
 * fields are kept: clients add fields over versions (5.x's `bname`, `lo`, `ns`, ...).
 */
import { z } from 'zod';
import { boolField, intField, longField, stringField } from './header-fields.js';

/**
 * SEND_MESSAGE (10), `SendMessageRequestHeader`:
 * producerGroup, topic, defaultTopic (e.g. "TBW102"), defaultTopicQueueNums, queueId, sysFlag,
 * bornTimestamp, flag: required; properties (`k\u0001v\u0002`), reconsumeTimes, unitMode (false),
 * maxReconsumeTimes, batch (false): optional.
 */
export const SendMessageRequestHeaderSchema = z.looseObject({
  producerGroup: stringField(),
  topic: stringField(),
  defaultTopic: stringField(),
  defaultTopicQueueNums: intField(),
  queueId: intField(),
  sysFlag: intField(),
  bornTimestamp: longField(),
  flag: intField(),
  properties: stringField().optional(),
  reconsumeTimes: intField().optional(),
  unitMode: boolField().default(false),
  maxReconsumeTimes: intField().optional(),
  batch: boolField().default(false),
});
export type SendMessageRequestHeader = z.infer<typeof SendMessageRequestHeaderSchema>;

/**
 * SEND_MESSAGE_V2 (310) and SEND_BATCH_MESSAGE (320), `SendMessageRequestHeaderV2`: the V1 fields
 * under one-letter names, which Java's FastJSON parses faster. a producerGroup, b topic,
 * c defaultTopic, d defaultTopicQueueNums, e queueId, f sysFlag, g bornTimestamp, h flag: required;
 * i properties, j reconsumeTimes, k unitMode (false), l maxReconsumeTimes, m batch (false),
 * n brokerName (5.x): optional. RocketMQ's broker decodes 320 with these names too
 * (`SendMessageProcessor.parseRequestHeader`).
 */
export const SendMessageRequestHeaderV2Schema = z.looseObject({
  a: stringField(),
  b: stringField(),
  c: stringField(),
  d: intField(),
  e: intField(),
  f: intField(),
  g: longField(),
  h: intField(),
  i: stringField().optional(),
  j: intField().optional(),
  k: boolField().default(false),
  l: intField().optional(),
  m: boolField().default(false),
  n: stringField().optional(),
});
export type SendMessageRequestHeaderV2 = z.infer<typeof SendMessageRequestHeaderV2Schema>;

/** The long-named header of a V2 (or batch) header, as RocketMQ's `createSendMessageRequestHeaderV1` maps it. */
export function sendMessageHeaderFromV2(v2: SendMessageRequestHeaderV2): SendMessageRequestHeader {
  return {
    producerGroup: v2.a,
    topic: v2.b,
    defaultTopic: v2.c,
    defaultTopicQueueNums: v2.d,
    queueId: v2.e,
    sysFlag: v2.f,
    bornTimestamp: v2.g,
    flag: v2.h,
    properties: v2.i,
    reconsumeTimes: v2.j,
    unitMode: v2.k,
    maxReconsumeTimes: v2.l,
    batch: v2.m,
  };
}

/**
 * Response to SEND_MESSAGE / _V2 / SEND_BATCH_MESSAGE, `SendMessageResponseHeader`:
 * msgId (the offset message id; comma-joined ids for a batch), queueId, queueOffset: required;
 * transactionId: optional.
 */
export const SendMessageResponseHeaderSchema = z.looseObject({
  msgId: stringField(),
  queueId: intField(),
  queueOffset: longField(),
  transactionId: stringField().optional(),
});
export type SendMessageResponseHeader = z.infer<typeof SendMessageResponseHeaderSchema>;

/**
 * END_TRANSACTION (37), `EndTransactionRequestHeader`:
 * producerGroup, tranStateTableOffset (queue offset of the half message), commitLogOffset,
 * commitOrRollback (0 = not a transaction, 8 = commit, 12 = rollback: `MessageSysFlag`), msgId:
 * required; fromTransactionCheck (false), transactionId: optional.
 */
export const EndTransactionRequestHeaderSchema = z.looseObject({
  producerGroup: stringField(),
  tranStateTableOffset: longField(),
  commitLogOffset: longField(),
  commitOrRollback: intField(),
  fromTransactionCheck: boolField().default(false),
  msgId: stringField(),
  transactionId: stringField().optional(),
});
export type EndTransactionRequestHeader = z.infer<typeof EndTransactionRequestHeaderSchema>;

/**
 * CHECK_TRANSACTION_STATE (39), broker → producer, `CheckTransactionStateRequestHeader`:
 * tranStateTableOffset, commitLogOffset: required; msgId, transactionId, offsetMsgId: optional.
 */
export const CheckTransactionStateRequestHeaderSchema = z.looseObject({
  tranStateTableOffset: longField(),
  commitLogOffset: longField(),
  msgId: stringField().optional(),
  transactionId: stringField().optional(),
  offsetMsgId: stringField().optional(),
});
export type CheckTransactionStateRequestHeader = z.infer<typeof CheckTransactionStateRequestHeaderSchema>;
