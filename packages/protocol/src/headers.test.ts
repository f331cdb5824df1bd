import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { z } from 'zod';
import { RequestCode, requestCodeName } from './codes.js';
import { ProtocolError } from './errors.js';
import {
  GetEarliestMsgStoretimeResponseHeaderSchema,
  GetKVConfigResponseHeaderSchema,
  OffsetResponseHeaderSchema,
  parseRequestHeader,
  parseResponseHeader,
  PullMessageResponseHeaderSchema,
  QueryMessageResponseHeaderSchema,
  RegisterBrokerResponseHeaderSchema,
  RequestHeaderSchemas,
  sendMessageHeaderFromV2,
  SendMessageResponseHeaderSchema,
} from './headers.js';
import type { PullMessageRequestHeader, SendMessageRequestHeader, SendMessageRequestHeaderV2 } from './headers.js';
import type { ExtFieldValue } from './remoting-command.js';

function accept(code: number, extFields: Record<string, ExtFieldValue>): Record<string, unknown> {
  const result = parseRequestHeader(code, extFields);
  if (!result.ok) throw new Error(`expected the header to pass, got: ${result.remark}`);
  return result.header as Record<string, unknown>;
}

function reject(code: number, extFields: Record<string, ExtFieldValue>): string {
  const result = parseRequestHeader(code, extFields);
  if (result.ok) throw new Error(`expected the header to fail, got ${JSON.stringify(result.header)}`);
  return result.remark;
}

// A pull as a Java client writes it (every value a string) and as ali-ons writes it (numbers).
const javaPull = {
  consumerGroup: 'GID_orders',
  topic: 'orders',
  queueId: '3',
  queueOffset: '1024',
  maxMsgNums: '32',
  sysFlag: '7',
  commitOffset: '1000',
  suspendTimeoutMillis: '15000',
  subscription: 'tagA || tagB',
  subVersion: '1732600000000',
  expressionType: 'TAG',
};
const aliOnsPull = {
  ...javaPull,
  queueId: 3,
  queueOffset: 1024,
  maxMsgNums: 32,
  sysFlag: 7,
  commitOffset: 1000,
  suspendTimeoutMillis: 15000,
  subVersion: 1732600000000,
};
const PULL = RequestCode.PULL_MESSAGE.code;

describe('parseRequestHeader', () => {
  it('covers every request code with header fields that the brief lists', () => {
    const names = [
      'SEND_MESSAGE', 'SEND_MESSAGE_V2', 'SEND_BATCH_MESSAGE', 'PULL_MESSAGE', 'QUERY_MESSAGE', 'QUERY_CONSUMER_OFFSET',
      'UPDATE_CONSUMER_OFFSET', 'UPDATE_AND_CREATE_TOPIC', 'SEARCH_OFFSET_BY_TIMESTAMP', 'GET_MAX_OFFSET', 'GET_MIN_OFFSET',
      'GET_EARLIEST_MSG_STORETIME', 'VIEW_MESSAGE_BY_ID', 'UNREGISTER_CLIENT', 'CONSUMER_SEND_MSG_BACK', 'END_TRANSACTION',
      'GET_CONSUMER_LIST_BY_GROUP', 'NOTIFY_CONSUMER_IDS_CHANGED', 'PUT_KV_CONFIG', 'GET_KV_CONFIG', 'DELETE_KV_CONFIG',
      'REGISTER_BROKER', 'UNREGISTER_BROKER', 'GET_ROUTEINFO_BY_TOPIC', 'DELETE_SUBSCRIPTIONGROUP', 'GET_CONSUMER_CONNECTION_LIST',
      'WIPE_WRITE_PERM_OF_BROKER', 'ADD_WRITE_PERM_OF_BROKER', 'DELETE_TOPIC_IN_BROKER', 'DELETE_TOPIC_IN_NAMESRV',
      'REGISTER_TOPIC_IN_NAMESRV', 'GET_KVLIST_BY_NAMESPACE', 'GET_TOPICS_BY_CLUSTER', 'QUERY_DATA_VERSION', 'GET_CONSUME_STATS',
      'QUERY_TOPIC_CONSUME_BY_WHO', 'INVOKE_BROKER_TO_RESET_OFFSET',
    ] as const;
    expect(names.filter((name) => !RequestHeaderSchemas.has(RequestCode[name].code))).toEqual([]);
  });

  it('reads a Java pull (strings) and an ali-ons pull (numbers) into the same typed header', () => {
    const expected: PullMessageRequestHeader = {
      consumerGroup: 'GID_orders',
      topic: 'orders',
      queueId: 3,
      queueOffset: 1024,
      maxMsgNums: 32,
      sysFlag: 7,
      commitOffset: 1000,
      suspendTimeoutMillis: 15000,
      subscription: 'tagA || tagB',
      subVersion: 1732600000000,
      expressionType: 'TAG',
    };
    expect(accept(PULL, javaPull)).toEqual(expected);
    expect(accept(PULL, aliOnsPull)).toEqual(expected);
  });

  it('reads an ali-ons SEND_MESSAGE_V2 header and maps it to the long names', () => {
    // Field for field what ali-ons sends (ali-ons' request headers), booleans and numbers raw.
    const header = accept(RequestCode.SEND_MESSAGE_V2.code, {
      a: 'PID_orders', b: 'orders', c: 'TBW102', d: 4, e: 1, f: 0, g: 1732600000123, h: 0,
      i: 'TAGS\u0001tagA\u0002KEYS\u0001k1\u0002', j: 0, k: false, l: 16,
    }) as SendMessageRequestHeaderV2;
    expect(header).toMatchObject({ a: 'PID_orders', b: 'orders', d: 4, e: 1, g: 1732600000123, k: false, l: 16, m: false });
    const v1: SendMessageRequestHeader = sendMessageHeaderFromV2(header);
    expect(v1).toEqual({
      producerGroup: 'PID_orders', topic: 'orders', defaultTopic: 'TBW102', defaultTopicQueueNums: 4, queueId: 1, sysFlag: 0,
      bornTimestamp: 1732600000123, flag: 0, properties: 'TAGS\u0001tagA\u0002KEYS\u0001k1\u0002', reconsumeTimes: 0,
      unitMode: false, maxReconsumeTimes: 16, batch: false,
    });
  });

  it('reads SEND_BATCH_MESSAGE with the V2 names, as a RocketMQ broker does', () => {
    const header = accept(RequestCode.SEND_BATCH_MESSAGE.code, { a: 'PID', b: 't', c: 'TBW102', d: '4', e: '0', f: '0', g: '1', h: '0', m: 'true' });
    expect(header).toMatchObject({ b: 't', e: 0, m: true });
    expect(reject(RequestCode.SEND_BATCH_MESSAGE.code, { producerGroup: 'PID', topic: 't' })).toContain('field "a" is required');
  });

  it('applies the defaults Java gives unset optional booleans', () => {
    const header = accept(RequestCode.SEND_MESSAGE.code, {
      producerGroup: 'PID', topic: 't', defaultTopic: 'TBW102', defaultTopicQueueNums: '4', queueId: '0', sysFlag: '0', bornTimestamp: '1', flag: '0',
    });
    expect(header).toMatchObject({ unitMode: false, batch: false });
    expect(header.properties).toBeUndefined();
  });

  it('accepts booleans as true/false or their strings in any letter case', () => {
    const base = { producerGroup: 'PID', tranStateTableOffset: '5', commitLogOffset: '4096', commitOrRollback: '8', msgId: 'ABC' };
    const code = RequestCode.END_TRANSACTION.code;
    for (const [sent, read] of [[true, true], [false, false], ['true', true], ['false', false], ['TRUE', true], ['False', false]] as const) {
      expect(accept(code, { ...base, fromTransactionCheck: sent }).fromTransactionCheck).toBe(read);
    }
    expect(reject(code, { ...base, fromTransactionCheck: 'yes' })).toBe(
      'invalid request header for END_TRANSACTION (37): field "fromTransactionCheck" must be true or false, got "yes"',
    );
    expect(reject(code, { ...base, fromTransactionCheck: 1 })).toContain('field "fromTransactionCheck" must be true or false, got 1');
  });

  it('names the field, the problem and the value when an integer is not one', () => {
    expect(reject(PULL, { ...javaPull, queueId: 'abc' })).toBe('invalid request header for PULL_MESSAGE (11): field "queueId" must be an integer, got "abc"');
    for (const bad of ['1.5', '', ' 1', '1e3', '0x10', 'NaN', '١']) {
      expect(reject(PULL, { ...javaPull, queueId: bad })).toContain(`field "queueId" must be an integer, got ${JSON.stringify(bad)}`);
    }
    for (const bad of [1.5, Number.NaN, Number.POSITIVE_INFINITY, true]) {
      expect(reject(PULL, { ...javaPull, queueId: bad })).toContain(`field "queueId" must be an integer, got ${String(bad)}`);
    }
  });

  it('accepts what Java parseInt accepts: a sign, leading zeros', () => {
    expect(accept(PULL, { ...javaPull, queueId: '+5' }).queueId).toBe(5);
    expect(accept(PULL, { ...javaPull, queueId: '-1' }).queueId).toBe(-1);
    expect(accept(PULL, { ...javaPull, queueId: '007' }).queueId).toBe(7);
    expect(accept(PULL, { ...javaPull, queueId: '-0' }).queueId).toBe(0);
  });

  it('holds Integer fields to 32 bits and Long fields to what a JavaScript number holds exactly', () => {
    expect(accept(PULL, { ...javaPull, queueId: '2147483647' }).queueId).toBe(2147483647);
    expect(reject(PULL, { ...javaPull, queueId: '2147483648' })).toContain('field "queueId" must be an integer between -2147483648 and 2147483647, got "2147483648"');
    expect(accept(PULL, { ...javaPull, queueOffset: '9007199254740991' }).queueOffset).toBe(Number.MAX_SAFE_INTEGER);
    expect(reject(PULL, { ...javaPull, queueOffset: '9007199254740992' })).toContain('field "queueOffset" must be an integer between');
    expect(reject(PULL, { ...javaPull, queueOffset: 2 ** 60 })).toContain('field "queueOffset" must be an integer between');
    expect(reject(PULL, { ...javaPull, queueOffset: '9'.repeat(400) })).toContain('field "queueOffset" must be an integer between');
  });

  it('reads a time-range bound of Long.MAX_VALUE (no end, as queryMessageByUniqKey sends) as the largest exact number', () => {
    const query = { topic: 'T', key: 'K', maxNum: '32', beginTimestamp: '0', endTimestamp: '9223372036854775807' };
    expect(accept(RequestCode.QUERY_MESSAGE.code, query)).toMatchObject({ beginTimestamp: 0, endTimestamp: Number.MAX_SAFE_INTEGER });
    expect(accept(RequestCode.QUERY_MESSAGE.code, { ...query, beginTimestamp: '-9223372036854775808' }).beginTimestamp).toBe(Number.MIN_SAFE_INTEGER);
    expect(reject(RequestCode.QUERY_MESSAGE.code, { ...query, endTimestamp: '9223372036854775808' })).toContain('field "endTimestamp" must be an integer between -9223372036854775808 and 9223372036854775807');
    expect(reject(RequestCode.QUERY_MESSAGE.code, { ...query, endTimestamp: 'never' })).toContain('field "endTimestamp" must be an integer, got "never"');
  });

  it('says a missing required field is required', () => {
    const { topic: _topic, ...noTopic } = javaPull;
    expect(reject(PULL, noTopic)).toBe('invalid request header for PULL_MESSAGE (11): field "topic" is required');
  });

  it('lists every bad field in one remark', () => {
    const { consumerGroup: _group, ...rest } = javaPull;
    const remark = reject(PULL, { ...rest, maxMsgNums: 'lots' });
    expect(remark).toContain('field "consumerGroup" is required');
    expect(remark).toContain('field "maxMsgNums" must be an integer, got "lots"');
  });

  it('keeps fields it does not know, since clients add fields over versions', () => {
    const header = accept(PULL, { ...javaPull, bname: 'broker-a', lo: 'false', proxyFrowardClientId: 'x' });
    expect(header).toMatchObject({ bname: 'broker-a', lo: 'false', proxyFrowardClientId: 'x' });
  });

  it('takes a number or boolean sent for a string field as its text', () => {
    expect(accept(RequestCode.GET_ROUTEINFO_BY_TOPIC.code, { topic: 123 }).topic).toBe('123');
  });

  it('passes extFields through untouched for a code with no schema', () => {
    const extFields = { anything: 'goes', n: 1 };
    expect(parseRequestHeader(RequestCode.HEART_BEAT.code, extFields)).toEqual({ ok: true, header: extFields });
    expect(parseRequestHeader(12345, extFields)).toEqual({ ok: true, header: extFields });
  });

  it('leaves topic-name rules to the broker', () => {
    expect(accept(RequestCode.GET_ROUTEINFO_BY_TOPIC.code, { topic: 'not a valid topic!' }).topic).toBe('not a valid topic!');
  });

  it('requires exactly the fields RocketMQ marks @CFNotNull', () => {
    expect(requiredFields(PULL)).toEqual(
      ['commitOffset', 'consumerGroup', 'maxMsgNums', 'queueId', 'queueOffset', 'subVersion', 'suspendTimeoutMillis', 'sysFlag', 'topic'],
    );
    expect(requiredFields(RequestCode.SEND_MESSAGE.code)).toEqual(
      ['bornTimestamp', 'defaultTopic', 'defaultTopicQueueNums', 'flag', 'producerGroup', 'queueId', 'sysFlag', 'topic'],
    );
    expect(requiredFields(RequestCode.SEND_MESSAGE_V2.code)).toEqual(['a', 'b', 'c', 'd', 'e', 'f', 'g', 'h']);
    expect(requiredFields(RequestCode.CONSUMER_SEND_MSG_BACK.code)).toEqual(['delayLevel', 'group', 'offset']);
    expect(requiredFields(RequestCode.END_TRANSACTION.code)).toEqual(['commitLogOffset', 'commitOrRollback', 'msgId', 'producerGroup', 'tranStateTableOffset']);
    expect(requiredFields(RequestCode.UNREGISTER_CLIENT.code)).toEqual(['clientID']);
    expect(requiredFields(RequestCode.REGISTER_BROKER.code)).toEqual(['brokerAddr', 'brokerId', 'brokerName', 'clusterName', 'haServerAddr']);
    expect(requiredFields(RequestCode.INVOKE_BROKER_TO_RESET_OFFSET.code)).toEqual(['group', 'isForce', 'timestamp', 'topic']);
    expect(requiredFields(RequestCode.UPDATE_AND_CREATE_TOPIC.code)).toEqual(
      ['defaultTopic', 'order', 'perm', 'readQueueNums', 'topic', 'topicFilterType', 'writeQueueNums'],
    );
  });
});

// ------------------------------------------------------------------------------------------------
// Every schema in the table, driven generically: a valid header is built by offering each field a
// string that one of the field types accepts, then each field is broken in turn.

function shapeOf(schema: z.ZodType): Record<string, z.ZodType> {
  return (schema as unknown as { shape: Record<string, z.ZodType> }).shape;
}

/** A header that passes `code`'s schema, every field present, in Java's all-strings form. */
function validJavaHeader(code: number): Record<string, string> {
  const header: Record<string, string> = {};
  for (const [field, fieldSchema] of Object.entries(shapeOf(RequestHeaderSchemas.get(code)!))) {
    const value = ['7', 'true'].find((candidate) => fieldSchema.safeParse(candidate).success);
    if (value === undefined) throw new Error(`no sample value for ${requestCodeName(code)}.${field}`);
    header[field] = value;
  }
  return header;
}

function requiredFields(code: number): string[] {
  const header = validJavaHeader(code);
  return Object.keys(header)
    .filter((field) => {
      const { [field]: _dropped, ...rest } = header;
      return !parseRequestHeader(code, rest).ok;
    })
    .sort();
}

describe('every request header schema', () => {
  const codes = [...RequestHeaderSchemas.keys()];

  it.each(codes.map((code) => [requestCodeName(code), code] as const))('%s accepts the same header as strings and as numbers/booleans', (_name, code) => {
    const java = validJavaHeader(code);
    const typed = Object.fromEntries(
      Object.entries(java).map(([field, value]) => [field, value === 'true' ? true : shapeOf(RequestHeaderSchemas.get(code)!)[field]!.safeParse(7).data === 7 ? 7 : value]),
    );
    expect(accept(code, typed)).toEqual(accept(code, java));
  });

  it.each(codes.map((code) => [requestCodeName(code), code] as const))('%s names the field in every rejection', (name, code) => {
    const header = validJavaHeader(code);
    const prefix = `invalid request header for ${name} (${code}): `;
    for (const field of Object.keys(header)) {
      const { [field]: _dropped, ...missing } = header;
      const result = parseRequestHeader(code, missing);
      if (!result.ok) expect(result.remark).toBe(`${prefix}field "${field}" is required`);
      // A value no integer or boolean field takes: only string fields may accept it.
      const garbled = parseRequestHeader(code, { ...header, [field]: 'x1' });
      if (!garbled.ok) expect(garbled.remark).toMatch(new RegExp(`^${escape(prefix)}field "${field}" must be (an integer|true or false), got "x1"$`));
      else expect(garbled.header).toMatchObject({ [field]: 'x1' });
    }
  });

  it('never throws, whatever the extFields', () => {
    const value = fc.oneof(fc.string(), fc.integer(), fc.double(), fc.boolean(), fc.constantFrom('7', 'true', '-1', '1.5'));
    fc.assert(
      fc.property(fc.constantFrom(...codes), fc.dictionary(fc.constantFrom('topic', 'queueId', 'a', 'b', 'g', 'offset', 'isForce', 'brokerId', 'x'), value), (code, extFields) => {
        const result = parseRequestHeader(code, extFields);
        if (!result.ok) expect(result.remark).toMatch(/^invalid request header for \w+ \(\d+\): field "[^"]+" /);
      }),
      { numRuns: 2000 },
    );
  });
});

function escape(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

describe('parseResponseHeader', () => {
  it('reads typed response headers from strings or numbers', () => {
    expect(parseResponseHeader(SendMessageResponseHeaderSchema, { msgId: 'C0A8000100002A9F0000000000001000', queueId: '2', queueOffset: '41' })).toEqual({
      msgId: 'C0A8000100002A9F0000000000001000',
      queueId: 2,
      queueOffset: 41,
    });
    expect(parseResponseHeader(PullMessageResponseHeaderSchema, { suggestWhichBrokerId: 0, nextBeginOffset: '32', minOffset: 0, maxOffset: '64' })).toEqual({
      suggestWhichBrokerId: 0,
      nextBeginOffset: 32,
      minOffset: 0,
      maxOffset: 64,
    });
    expect(parseResponseHeader(OffsetResponseHeaderSchema, { offset: '-1' })).toEqual({ offset: -1 });
    expect(parseResponseHeader(QueryMessageResponseHeaderSchema, { indexLastUpdateTimestamp: '1732600000000', indexLastUpdatePhyoffset: '0' })).toEqual({
      indexLastUpdateTimestamp: 1732600000000,
      indexLastUpdatePhyoffset: 0,
    });
    expect(parseResponseHeader(GetEarliestMsgStoretimeResponseHeaderSchema, { timestamp: 5 })).toEqual({ timestamp: 5 });
    expect(parseResponseHeader(RegisterBrokerResponseHeaderSchema, {})).toEqual({});
    expect(parseResponseHeader(RegisterBrokerResponseHeaderSchema, { haServerAddr: '10.0.0.1:10912', masterAddr: '10.0.0.1:10911' })).toEqual({
      haServerAddr: '10.0.0.1:10912',
      masterAddr: '10.0.0.1:10911',
    });
    expect(parseResponseHeader(GetKVConfigResponseHeaderSchema, { value: 'brokerA:4' })).toEqual({ value: 'brokerA:4' });
  });

  it('throws ProtocolError naming the field', () => {
    const call = (): unknown => parseResponseHeader(PullMessageResponseHeaderSchema, { suggestWhichBrokerId: '0', nextBeginOffset: 'soon', minOffset: '0' });
    expect(call).toThrow(ProtocolError);
    expect(call).toThrow('invalid response header: field "nextBeginOffset" must be an integer, got "soon"; field "maxOffset" is required');
  });
});
