/**
 * What a handler receives (RocketMQ `MessageExt`): the stored record, body decompressed, with the
 * original topic restored for messages that came back through `%RETRY%<group>` (§4.7). `msgId` is
 * the producer's unique id (UNIQ_KEY) when present, else the broker's offset id, as RocketMQ's
 * `MessageClientExt.getMsgId` answers; the dedup helper keys on `{ topic, tags, keys, msgId }`.
 */
import type { MessageQueue } from '@karman/client';
import { MessageProperty, createOffsetMessageId, isRetryTopic, uncompressedBody } from '@karman/protocol';
import type { MessageRecord } from '@karman/protocol';

export interface ConsumedMessage {
  /** The topic the producer sent to (restored from RETRY_TOPIC for redeliveries). */
  topic: string;
  /** The message's tag, if it has one. */
  tags: string | undefined;
  /** Business keys (KEYS, space-separated on the wire). */
  keys: string[];
  /** The body, decompressed. */
  body: Buffer;
  /** Every property, user and system. */
  properties: Record<string, string>;
  /** UNIQ_KEY when the producer set one, else `offsetMsgId`. Stable across retries. */
  msgId: string;
  /** The broker's id of this stored copy (store host + commit-log offset). */
  offsetMsgId: string;
  /** Queue of the stored copy (for a redelivery: the retry topic's queue). */
  queueId: number;
  queueOffset: number;
  brokerName: string;
  /** How many times this message was consumed and sent back before (0 on first delivery). */
  reconsumeTimes: number;
  bornTimestamp: number;
  storeTimestamp: number;
  /** `host:port` of the producer. */
  bornHost: string;
  /** `host:port` of the broker that stored it. */
  storeHost: string;
  /** Commit-log offset of the stored copy, what CONSUMER_SEND_MSG_BACK names. */
  commitLogOffset: number;
  /** The topic the record was pulled from (the retry topic for redeliveries). */
  storedTopic: string;
}

function hostText(host: { host: string; port: number }): string {
  return host.host.includes(':') ? `[${host.host}]:${host.port}` : `${host.host}:${host.port}`;
}

/** Turn a pulled record into the handler's message (may throw on a corrupt compressed body). */
export function toConsumedMessage(record: MessageRecord, queue: MessageQueue): ConsumedMessage {
  const properties = record.properties;
  const offsetMsgId = createOffsetMessageId(record.storeHost, record.physicalOffset);
  const retryOrigin = properties[MessageProperty.RETRY_TOPIC];
  const topic = retryOrigin && isRetryTopic(record.topic) ? retryOrigin : record.topic;
  const keys = properties[MessageProperty.KEYS];
  return {
    topic,
    tags: properties[MessageProperty.TAGS],
    keys: keys ? keys.split(' ').filter((k) => k.length > 0) : [],
    body: Buffer.from(uncompressedBody(record.body, record.sysFlag)),
    properties,
    msgId: properties[MessageProperty.UNIQ_KEY] ?? offsetMsgId,
    offsetMsgId,
    queueId: record.queueId,
    queueOffset: record.queueOffset,
    brokerName: queue.brokerName,
    reconsumeTimes: record.reconsumeTimes,
    bornTimestamp: record.bornTimestamp,
    storeTimestamp: record.storeTimestamp,
    bornHost: hostText(record.bornHost),
    storeHost: hostText(record.storeHost),
    commitLogOffset: record.physicalOffset,
    storedTopic: record.topic,
  };
}
