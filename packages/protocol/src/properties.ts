/**
 * Message properties and their wire text (RocketMQ `MessageConst`, `MessageDecoder.
 * messageProperties2String` / `string2messageProperties`).
 *
 * Text layout, UTF-8 on the wire and in the commit log (the record's PROPERTIES field, MessageDecoder):
 *
 *   key \u0001 value \u0002 key \u0001 value \u0002 …
 *
 * Decoding follows RocketMQ 4.9+/5.x exactly so both sides agree on odd input: a pair is kept only
 * when its key and its value are both non-empty; a pair without \u0001 is ignored; the value runs
 * from the first \u0001 to the next \u0002 (so a value may itself contain \u0001); the last pair may
 * lack its trailing \u0002. Encoding refuses what decoding would silently drop or split, so every
 * encoded map decodes back to itself.
 */
import { InvalidArgumentError, ProtocolError } from './errors.js';

/** Property names with RocketMQ's spelling (`MessageConst.PROPERTY_*` values). */
export const MessageProperty = {
  KEYS: 'KEYS',
  TAGS: 'TAGS',
  WAIT: 'WAIT',
  DELAY: 'DELAY',
  RETRY_TOPIC: 'RETRY_TOPIC',
  REAL_TOPIC: 'REAL_TOPIC',
  REAL_QID: 'REAL_QID',
  TRAN_MSG: 'TRAN_MSG',
  PGROUP: 'PGROUP',
  MIN_OFFSET: 'MIN_OFFSET',
  MAX_OFFSET: 'MAX_OFFSET',
  BUYER_ID: 'BUYER_ID',
  ORIGIN_MESSAGE_ID: 'ORIGIN_MESSAGE_ID',
  TRANSFER_FLAG: 'TRANSFER_FLAG',
  CORRECTION_FLAG: 'CORRECTION_FLAG',
  MQ2_FLAG: 'MQ2_FLAG',
  RECONSUME_TIME: 'RECONSUME_TIME',
  // The Java constant is PROPERTY_UNIQ_CLIENT_MESSAGE_ID_KEYIDX; its value, the text on the wire, is "UNIQ_KEY".
  UNIQ_KEY: 'UNIQ_KEY',
  MAX_RECONSUME_TIMES: 'MAX_RECONSUME_TIMES',
  CONSUME_START_TIME: 'CONSUME_START_TIME',
  SHARDING_KEY: '__SHARDINGKEY',
  MSG_REGION: 'MSG_REGION',
  TRACE_SWITCH: 'TRACE_ON',
  EXTEND_UNIQ_INFO: 'EXTEND_UNIQ_INFO',
  INNER_NUM: 'INNER_NUM',
  INNER_BASE: 'INNER_BASE',
  DUP_INFO: 'DUP_INFO',
  CHECK_IMMUNITY_TIME_IN_SECONDS: 'CHECK_IMMUNITY_TIME_IN_SECONDS',
  TRANSACTION_PREPARED_QUEUE_OFFSET: 'TRAN_PREPARED_QUEUE_OFFSET',
  TRANSACTION_ID: '__transactionId__',
  TRANSACTION_CHECK_TIMES: 'TRANSACTION_CHECK_TIMES',
  INSTANCE_ID: 'INSTANCE_ID',
  CORRELATION_ID: 'CORRELATION_ID',
  MESSAGE_REPLY_TO_CLIENT: 'REPLY_TO_CLIENT',
  MESSAGE_TTL: 'TTL',
  REPLY_MESSAGE_ARRIVE_TIME: 'ARRIVE_TIME',
  PUSH_REPLY_TIME: 'PUSH_REPLY_TIME',
  CLUSTER: 'CLUSTER',
  MESSAGE_TYPE: 'MSG_TYPE',
  TIMER_DELAY_SEC: 'TIMER_DELAY_SEC',
  TIMER_DELIVER_MS: 'TIMER_DELIVER_MS',
  BORN_HOST: '__BORNHOST',
  BORN_TIMESTAMP: 'BORN_TIMESTAMP',
} as const;
export type MessageProperty = (typeof MessageProperty)[keyof typeof MessageProperty];

/** Largest encoded properties a record can hold: its length field is a signed 16-bit integer. */
export const MAX_PROPERTIES_SIZE = 32767;

const NAME_VALUE_SEPARATOR = '\u0001';
const PROPERTY_SEPARATOR = '\u0002';

/**
 * The properties as wire text. Entries whose value is `undefined` or `null` are skipped (as Java
 * skips null values); an empty key or value, a key containing \u0001 or \u0002, or a value containing
 * \u0002 is refused, because the decoder would drop or split it.
 */
export function propertiesToString(props: Record<string, string>): string {
  let text = '';
  for (const key of Object.keys(props)) {
    const value: unknown = props[key];
    if (value === undefined || value === null) continue;
    if (typeof value !== 'string') {
      throw new InvalidArgumentError(`property "${key}" must be a string, got ${typeof value}: convert it with String() first`);
    }
    if (key.length === 0) throw new InvalidArgumentError('a property has an empty name: RocketMQ drops such entries; give it a name');
    if (value.length === 0) {
      throw new InvalidArgumentError(`property "${key}" has an empty value: RocketMQ drops such entries on decode; omit the property instead`);
    }
    if (key.includes(NAME_VALUE_SEPARATOR) || key.includes(PROPERTY_SEPARATOR)) {
      throw new InvalidArgumentError(`property name ${JSON.stringify(key)} contains \\u0001 or \\u0002, which separate properties on the wire: remove them`);
    }
    if (value.includes(PROPERTY_SEPARATOR)) {
      throw new InvalidArgumentError(`property "${key}" has a value containing \\u0002, which separates properties on the wire: remove it`);
    }
    text += key + NAME_VALUE_SEPARATOR + value + PROPERTY_SEPARATOR;
  }
  return text;
}

/** Encode properties as UTF-8 wire bytes (`key\u0001value\u0002…`). See {@link propertiesToString} for what is refused. */
export function encodeProperties(props: Record<string, string>): Buffer {
  return Buffer.from(propertiesToString(props), 'utf8');
}

/**
 * Parse wire properties (bytes as UTF-8, or text as carried in a SEND_MESSAGE header) into a map
 * with no prototype, so a key such as `__proto__` from the wire is an ordinary entry. Malformed
 * pairs are skipped exactly as RocketMQ skips them; only input that is neither bytes nor text throws.
 */
export function decodeProperties(bytes: Buffer | string): Record<string, string> {
  if (typeof bytes === 'string') return parsePropertiesText(bytes);
  if (!Buffer.isBuffer(bytes)) throw new ProtocolError('properties must be a Buffer or a string');
  return parsePropertiesText(bytes.toString('utf8'));
}

/** RocketMQ's property names by length, so the parser can reuse these strings instead of slicing new ones. */
const KNOWN_NAMES_BY_LENGTH: string[][] = [];
for (const name of Object.values(MessageProperty)) (KNOWN_NAMES_BY_LENGTH[name.length] ??= []).push(name);

/**
 * The property name at [start, end): one of RocketMQ's names when it is one (every message carries a
 * few, and a new string for each would then be hashed to become an object key), else a slice.
 */
function nameAt(text: string, start: number, end: number): string {
  const known = KNOWN_NAMES_BY_LENGTH[end - start];
  if (known !== undefined) {
    for (const name of known) if (text.startsWith(name, start)) return name;
  }
  return text.slice(start, end);
}

/** Parse properties text; shared with the record decoder, which reads the text straight out of the record. */
export function parsePropertiesText(text: string): Record<string, string> {
  const map = Object.create(null) as Record<string, string>;
  const len = text.length;
  let index = 0;
  while (index < len) {
    let end = text.indexOf(PROPERTY_SEPARATOR, index);
    if (end < 0) end = len;
    // The shortest keepable pair is "k\u0001v".
    if (end - index >= 3) {
      const sep = text.indexOf(NAME_VALUE_SEPARATOR, index);
      if (sep > index && sep < end - 1) map[nameAt(text, index, sep)] = text.slice(sep + 1, end);
    }
    index = end + 1;
  }
  return map;
}
