/**
 * What a handler receives (RocketMQ `MessageExt`): the stored record, body decompressed on first
 * read (see `body`), with the
 * original topic restored for messages that came back through `%RETRY%<group>`. `msgId` is
 * the producer's unique id (UNIQ_KEY) when present, else the broker's offset id, as RocketMQ's
 * `MessageClientExt.getMsgId` answers; the dedup helper keys on `{ topic, tags, keys, msgId }`.
 */
import type { MessageQueue } from '@karman/client';
import { DEFAULT_MAX_DECOMPRESSED_SIZE, KarmanError, MessageProperty, MessageSysFlag, createOffsetMessageId, isRetryTopic, uncompressedBody } from '@karman/protocol';
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
   * (`Buffer.from(body)`) to keep a few bodies of many messages for long. A compressed body is
   * inflated when first read, at most the consumer's `maxMessageSize` bytes; reading one that
   * inflates further, or is not zlib data, throws a `KarmanError` (code `BODY_TOO_LARGE` or
   * `PROTOCOL_ERROR`) naming the message, so the handler's error path takes it.
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

/** The bytes as stored of a compressed message, kept beside its lazily inflated `body`. */
interface StoredBody {
  body: Buffer;
  sysFlag: number;
}
const STORED = Symbol('karman.storedBody');
type WithStored = ConsumedMessage & { [STORED]?: StoredBody & { replaced: boolean } };

/**
 * Turn a pulled record into the handler's message. A compressed body is not inflated here but when
 * the handler first reads `body`: a pull of a thousand compressed messages costs nothing until
 * they are read, and one that inflates past `maxBodySize` (RocketMQ's `MessageDecoder` inflates
 * every body of a pull at once, without a limit) fails that message's handler, not the pull.
 */
export function toConsumedMessage(record: MessageRecord, queue: MessageQueue, maxBodySize: number = DEFAULT_MAX_DECOMPRESSED_SIZE): ConsumedMessage {
  const properties = record.properties;
  const offsetMsgId = offsetMessageId(record.storeHost, record.physicalOffset);
  const retryOrigin = properties[MessageProperty.RETRY_TOPIC];
  const topic = retryOrigin && isRetryTopic(record.topic) ? retryOrigin : record.topic;
  const keys = properties[MessageProperty.KEYS];
  const message: ConsumedMessage = {
    topic,
    tags: properties[MessageProperty.TAGS],
    keys: keys ? keys.split(' ').filter((k) => k.length > 0) : [],
    // A view into the pull's response, not a copy (a compressed body is inflated into a buffer of its own).
    body: record.body,
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
  if ((record.sysFlag & MessageSysFlag.COMPRESSED) !== 0) inflateOnRead(message, { body: record.body, sysFlag: record.sysFlag, replaced: false }, maxBodySize);
  return message;
}

function inflateOnRead(message: ConsumedMessage, stored: StoredBody & { replaced: boolean }, limit: number): void {
  let body: Buffer | undefined;
  let failure: KarmanError | undefined;
  Object.defineProperty(message, STORED, { value: stored, enumerable: false });
  Object.defineProperty(message, 'body', {
    enumerable: true,
    configurable: true,
    get(): Buffer {
      if (body) return body;
      if (failure) throw failure;
      try {
        body = uncompressedBody(stored.body, stored.sysFlag, limit);
        return body;
      } catch (error) {
        failure = bodyError(message, error as KarmanError, limit);
        throw failure;
      }
    },
    // A handler may replace the body; the stored bytes then no longer describe it (but still are
    // what the message holds, for flow control).
    set(value: Buffer) {
      body = value;
      failure = undefined;
      stored.replaced = true;
    },
  });
}

function bodyError(message: ConsumedMessage, cause: KarmanError, limit: number): KarmanError {
  const where = `message ${message.msgId} (topic ${message.storedTopic}, queue ${message.queueId}, offset ${message.queueOffset}, broker ${message.brokerName})`;
  if (cause.code === 'BODY_TOO_LARGE') {
    return new KarmanError(
      'BODY_TOO_LARGE',
      `${where} has a compressed body that inflates to more than ${limit} bytes, the consumer's maxMessageSize; raise maxMessageSize if producers send bodies this large (RocketMQ producers send at most 4 MiB by default)`,
      { cause },
    );
  }
  return new KarmanError(cause.code, `${where}: ${cause.message}`, { cause });
}

/**
 * The body as the broker stores it, without inflating: a compressed message's zlib bytes and its
 * SYSFLAG compression bits (no other bit), else the body with no flag. What flow control counts (the bytes a held
 * message occupies) and what a resend to the retry topic sends.
 */
export function storedBody(message: ConsumedMessage): StoredBody {
  const stored = (message as WithStored)[STORED];
  if (!stored || stored.replaced) return { body: message.body, sysFlag: 0 };
  return { body: stored.body, sysFlag: stored.sysFlag & (MessageSysFlag.COMPRESSED | MessageSysFlag.COMPRESSION_TYPE_MASK) };
}

/** Bytes a held message occupies: its stored body's length, without inflating it. */
export function storedBodySize(message: ConsumedMessage): number {
  return ((message as WithStored)[STORED]?.body ?? message.body).length;
}
