/**
 * Which record a message maps to: its business id (what the application says makes two messages
 * "the same") inside a scope (consumer group, topic, optionally tag), so two groups that both
 * consume a topic keep separate records and each processes every message once.
 *
 * Why not the msgId: a producer that resends after a timeout produces a new
 * commit-log record with a new offset msgId, and a retry redelivery carries yet another; only the
 * producer-set UNIQ_KEY and the application's KEYS survive resends.
 *
 * Record key layout: `encodeURIComponent(group) ":" encodeURIComponent(topic) [":" encodeURIComponent(tag)] ":" encodeURIComponent(id)`.
 * Every part is URI-encoded, so a ':' inside a tag or id cannot make two different tuples collide.
 */
import { InvalidArgumentError } from '@karman/protocol';

/**
 * The part of a consumed message this package reads. The PushConsumer's messages fit it
 * structurally; so does any object with these fields.
 */
export interface DedupMessage {
  /** Topic the message was consumed from (a retry redelivery may show `%RETRY%<group>`). */
  readonly topic: string;
  /** The message's tag, if any. */
  readonly tags?: string | undefined;
  /** Business keys, when the consumer has already split the `KEYS` property. */
  readonly keys?: readonly string[] | undefined;
  /** The message id as delivered (not stable across producer resends). */
  readonly msgId: string;
  /** Message properties with RocketMQ's spelling (`KEYS`, `UNIQ_KEY`, `RETRY_TOPIC`, ...). */
  readonly properties: Readonly<Record<string, string>>;
}

/** What the consumer passes beside the message; only the group is read. */
export interface DedupContext {
  /** The consumer group, the first part of every record's scope. */
  readonly group: string;
}

/** Picks the business id of a message; return the same string for messages that must run once. */
export type BusinessIdExtractor<M extends DedupMessage = DedupMessage> = (message: M) => string | undefined;

/**
 * Property names as they travel on the wire (RocketMQ `MessageConst`; Karman's own table is
 * `MessageProperty` in @karman/protocol's properties.ts). The Java constant for UNIQ_KEY is named
 * PROPERTY_UNIQ_CLIENT_MESSAGE_ID_KEYIDX but its value, the text in the message, is "UNIQ_KEY".
 */
const KEYS_PROPERTY = 'KEYS';
const UNIQ_KEY_PROPERTY = 'UNIQ_KEY';
const RETRY_TOPIC_PROPERTY = 'RETRY_TOPIC';
const RETRY_TOPIC_PREFIX = '%RETRY%';

/** Default business id: the message's first key, then its producer-set UNIQ_KEY. */
export function defaultBusinessId(message: DedupMessage): string | undefined {
  const first = message.keys?.find((k) => k.length > 0);
  if (first !== undefined) return first;
  // RocketMQ joins several keys with a single space (MessageConst.KEY_SEPARATOR).
  const fromProperty = message.properties[KEYS_PROPERTY]?.split(' ').find((k) => k.length > 0);
  if (fromProperty !== undefined) return fromProperty;
  const uniq = message.properties[UNIQ_KEY_PROPERTY];
  return uniq !== undefined && uniq.length > 0 ? uniq : undefined;
}

/** Runs the extractor and turns "no id" into an error that says what to fix. */
export function businessIdOf<M extends DedupMessage>(message: M, extractor: BusinessIdExtractor<M>): string {
  let id: string | undefined;
  try {
    id = extractor(message);
  } catch (error) {
    throw new InvalidArgumentError(`businessId function threw for message ${message.msgId} on topic ${message.topic}: ${String(error)}`, error);
  }
  if (typeof id !== 'string' || id.length === 0) {
    throw new InvalidArgumentError(
      `message ${message.msgId} on topic ${message.topic} has no business id: it carries no key and no UNIQ_KEY property; ` +
        'set keys when producing it, or pass a businessId function in the idempotent() options',
    );
  }
  return id;
}

/**
 * The topic a message belongs to for scoping. The consumer normally restores the original topic
 * of a retry redelivery ("restores the original topic name before calling the
 * listener"); if a message still shows `%RETRY%<group>`, use its RETRY_TOPIC property so the first
 * delivery and its retries share one record.
 */
export function originalTopic(message: DedupMessage): string {
  if (message.topic.startsWith(RETRY_TOPIC_PREFIX)) {
    const original = message.properties[RETRY_TOPIC_PROPERTY];
    if (original !== undefined && original.length > 0) return original;
  }
  return message.topic;
}

/** Which parts beside the group scope a record. */
export interface ScopeParts {
  /** Scope by topic (default true): the same key on two topics is two records. */
  readonly topic: boolean;
  /** Scope by tag (default false): the same key under two tags is two records. */
  readonly tag: boolean;
}

/** The record key for a business id in its scope; see the layout at the top of this file. */
export function scopedKey(group: string, message: DedupMessage, businessId: string, parts: ScopeParts): string {
  const segments = [group];
  if (parts.topic) segments.push(originalTopic(message));
  if (parts.tag) segments.push(message.tags ?? '');
  segments.push(businessId);
  return segments.map(encodeURIComponent).join(':');
}
