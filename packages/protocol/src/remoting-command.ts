/**
 * RocketMQ's remoting command and its frame.
 *
 * Frame layout (big-endian), identical on TCP and WebSocket (one WebSocket binary message = one
 * frame; a TCP stream carries frames back to back):
 *
 *   offset 0  u32  length = 4 + headerLength + bodyLength   (excludes these 4 bytes)
 *   offset 4  u8   serialize type: 0 = JSON, 1 = ROCKETMQ binary
 *   offset 5  u24  headerLength
 *   offset 8  header (headerLength bytes)
 *   then      body   (the rest)
 *
 * JSON header: {"code":..,"language":"JAVA","version":..,"opaque":..,"flag":..,"remark":..,
 * "extFields":{..}}. Java clients send extFields values as strings; ali-ons sends numbers and
 * booleans. We keep what arrived and let each request's zod schema coerce.
 *
 * ROCKETMQ binary header (RocketMQSerializable): code i16, language u8, version i16, opaque i32,
 * flag i32, remark (i32 length + UTF-8), extFields (i32 total length, then per entry: i16 key length,
 * key, i32 value length, value). We decode it and answer in the serialization a request arrived in.
 *
 * The command model lives here; the two header encodings are in json-header.ts and binary-header.ts,
 * the frame around them in frame-codec.ts.
 */

/**
 * Field maps have no prototype, so a key like "__proto__" stays an ordinary field (an assignment
 * on a plain object would hit Object.prototype's setter and vanish).
 */
export function fieldMap(): Record<string, ExtFieldValue> {
  return Object.create(null) as Record<string, ExtFieldValue>;
}

export function setField(target: Record<string, ExtFieldValue>, key: string, value: ExtFieldValue): void {
  target[key] = value;
}


/** Flag bit 0: the command is a response. */
export const FLAG_RESPONSE = 0b01;
/** Flag bit 1: the request expects no response. */
export const FLAG_ONEWAY = 0b10;

/** Serialization of the header. */
export const SerializeType = { JSON: 0, ROCKETMQ: 1 } as const;
export type SerializeType = (typeof SerializeType)[keyof typeof SerializeType];

/** Language codes of the ROCKETMQ binary header (`LanguageCode.java`). */
export const LANGUAGES = ['JAVA', 'CPP', 'DOTNET', 'PYTHON', 'DELPHI', 'ERLANG', 'RUBY', 'OTHER', 'HTTP', 'GO', 'PHP', 'OMS', 'RUST', 'NODE_JS'] as const;

/** An extFields value as it arrived: strings from Java, numbers and booleans from others. */
export type ExtFieldValue = string | number | boolean;

/** The unit on the wire: a request or a response. */
export interface RemotingCommand {
  /** Request code (for requests) or response code (for responses). */
  code: number;
  /** Sender's language, e.g. `JAVA`; Karman sends `NODE_JS`... as `JAVA`-compatible text. */
  language: string;
  /** Sender's protocol version (RocketMQ's MQVersion ordinal). */
  version: number;
  /** Request id; a response echoes its request's opaque. */
  opaque: number;
  /** Bit 0 response, bit 1 oneway. */
  flag: number;
  /** Error text on responses. */
  remark?: string;
  /** Header fields of the request or response. */
  extFields: Record<string, ExtFieldValue>;
  /** Opaque payload. */
  body?: Uint8Array;
  /** How the header was (or is to be) serialized. Defaults to JSON. */
  serializeType?: SerializeType;
}

/** Karman's protocol version as RocketMQ counts it (V4_9_4 = 395 is what recent 4.x clients send). */
export const KARMAN_VERSION = 395;
/** Karman's language field; `JAVA` is what every RocketMQ server expects from its own kind. */
export const KARMAN_LANGUAGE = 'JAVA';

/** Header length above which a frame is refused (the u24 field allows 16 MiB; we cap lower). */
export const DEFAULT_MAX_HEADER_SIZE = 64 * 1024;
/** Largest frame accepted, RocketMQ's `com.rocketmq.remoting.frameMaxLength`. */
export const DEFAULT_MAX_FRAME_SIZE = 16 * 1024 * 1024;

let nextOpaque = 0;
/** A fresh request id, unique within this process (wraps at 2^31). */
export function newOpaque(): number {
  nextOpaque = (nextOpaque + 1) & 0x7fffffff;
  return nextOpaque;
}

/** Build a request command. */
export function createRequest(code: number, extFields: Record<string, ExtFieldValue | undefined | null> = {}, body?: Uint8Array): RemotingCommand {
  return { code, language: KARMAN_LANGUAGE, version: KARMAN_VERSION, opaque: newOpaque(), flag: 0, extFields: compactFields(extFields), body };
}

/** Build the response to a request: same opaque, same serialization, response flag set. */
export function createResponse(
  request: Pick<RemotingCommand, 'opaque' | 'serializeType'>,
  code: number,
  remark?: string,
  extFields: Record<string, ExtFieldValue | undefined | null> = {},
  body?: Uint8Array,
): RemotingCommand {
  return {
    code,
    language: KARMAN_LANGUAGE,
    version: KARMAN_VERSION,
    opaque: request.opaque,
    flag: FLAG_RESPONSE,
    remark,
    extFields: compactFields(extFields),
    body,
    serializeType: request.serializeType,
  };
}

/** True when the command is a response. */
export function isResponse(command: Pick<RemotingCommand, 'flag'>): boolean {
  return (command.flag & FLAG_RESPONSE) !== 0;
}

/** True when the command is a oneway request. */
export function isOneway(command: Pick<RemotingCommand, 'flag'>): boolean {
  return (command.flag & FLAG_ONEWAY) !== 0;
}

function compactFields(fields: Record<string, ExtFieldValue | undefined | null>): Record<string, ExtFieldValue> {
  const out = fieldMap();
  for (const key of Object.keys(fields)) {
    const value = fields[key];
    if (value !== undefined && value !== null) setField(out, key, value);
  }
  return out;
}
