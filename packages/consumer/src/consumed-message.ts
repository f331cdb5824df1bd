/**
 * What a handler receives (RocketMQ `MessageExt`): the stored record, body decompressed, with the
 * original topic restored for messages that came back through `%RETRY%<group>` (§4.7). `msgId` is
 * the producer's unique id (UNIQ_KEY) when present, else the broker's offset id, as RocketMQ's
 * `MessageClientExt.getMsgId` answers; the dedup helper keys on `{ topic, tags, keys, msgId }`.
 */
import type { MessageQueue } from '@karman/client';
import { MessageProperty, createOffsetMessageId, isRetryTopic, uncompressedBody } from '@karman/protocol';
import type { HostAddress, MessageRecord } from '@karman/protocol';

export interface ConsumedMessage {
  /** The topic the producer sent to (restored from RETRY_TOPIC for redeliveries). */
  topic: string;
  /** The message's tag, if it has one. */
  tags: string | undefined;
  /** Business keys (KEYS, space-separated on the wire). */
  keys: string[];
  /**
   * The body, decompressed. Uncompressed bodies are views into the pull response they came in (as
   * kafkajs hands out message values), so keeping one keeps that response's bytes; copy it
   * (`Buffer.from(body)`) to keep a few bodies of many messages for long.
   */
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

// A pull's records name one store host and a few producers, so the texts built from them repeat:
// each cache keeps the last host it saw.
const lastBornHost = { host: '', port: -1, text: '' };
const lastStoreHost = { host: '', port: -1, text: '' };
const lastOffsetIdHost = { host: '', port: -1, prefix: '' };
const HEX_ZEROS = '0000000000000000';

function hostText(host: HostAddress, last: { host: string; port: number; text: string }): string {
  if (host.host !== last.host || host.port !== last.port) {
    last.text = host.host.includes(':') ? `[${host.host}]:${host.port}` : `${host.host}:${host.port}`;
    last.host = host.host;
    last.port = host.port;
  }
  return last.text;
}

/** `createOffsetMessageId`, with the store-host half (the same for every record of a pull) built once. */
function offsetMessageId(storeHost: HostAddress, physicalOffset: number): string {
  if (!Number.isSafeInteger(physicalOffset) || physicalOffset < 0) return createOffsetMessageId(storeHost, physicalOffset);
  const last = lastOffsetIdHost;
  if (storeHost.host !== last.host || storeHost.port !== last.port) {
    const id = createOffsetMessageId(storeHost, 0);
    last.prefix = id.slice(0, id.length - HEX_ZEROS.length);
    last.host = storeHost.host;
    last.port = storeHost.port;
  }
  const hex = physicalOffset.toString(16).toUpperCase();
  return last.prefix + HEX_ZEROS.slice(hex.length) + hex;
}

/** Turn a pulled record into the handler's message (may throw on a corrupt compressed body). */
export function toConsumedMessage(record: MessageRecord, queue: MessageQueue): ConsumedMessage {
  const properties = record.properties;
  const offsetMsgId = offsetMessageId(record.storeHost, record.physicalOffset);
  const retryOrigin = properties[MessageProperty.RETRY_TOPIC];
  const topic = retryOrigin && isRetryTopic(record.topic) ? retryOrigin : record.topic;
  const keys = properties[MessageProperty.KEYS];
  return {
    topic,
    tags: properties[MessageProperty.TAGS],
    keys: keys ? keys.split(' ').filter((k) => k.length > 0) : [],
    // A view into the pull's response, not a copy (a compressed body is inflated into a buffer of its own).
    body: uncompressedBody(record.body, record.sysFlag),
    properties,
    msgId: properties[MessageProperty.UNIQ_KEY] ?? offsetMsgId,
    offsetMsgId,
    queueId: record.queueId,
    queueOffset: record.queueOffset,
    brokerName: queue.brokerName,
    reconsumeTimes: record.reconsumeTimes,
    bornTimestamp: record.bornTimestamp,
    storeTimestamp: record.storeTimestamp,
    bornHost: hostText(record.bornHost, lastBornHost),
    storeHost: hostText(record.storeHost, lastStoreHost),
    commitLogOffset: record.physicalOffset,
    storedTopic: record.topic,
  };
}
