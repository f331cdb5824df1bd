import { describe, expect, it } from 'vitest';
import { RequestCode, ResponseCode, requestCodeInfo, requestCodeName, responseCodeInfo, responseCodeName } from './codes.js';
import { RemoteError } from './errors.js';

function numbers(table: Record<string, { code: number }>): number[] {
  return Object.values(table).map((entry) => entry.code);
}

function duplicates(values: number[]): number[] {
  return values.filter((value, index) => values.indexOf(value) !== index);
}

describe('code tables', () => {
  it('gives every request code its own number', () => {
    expect(duplicates(numbers(RequestCode))).toEqual([]);
  });

  it('gives every response code its own number', () => {
    expect(duplicates(numbers(ResponseCode))).toEqual([]);
  });

  it('gives every entry a default message', () => {
    for (const table of [RequestCode, ResponseCode]) {
      for (const [name, info] of Object.entries(table)) expect(info.message, name).not.toBe('');
    }
  });

  it('looks every entry up by its number under its own name', () => {
    for (const [name, info] of Object.entries(RequestCode)) {
      expect(requestCodeInfo(info.code)?.name).toBe(name);
      expect(requestCodeName(info.code)).toBe(name);
    }
    for (const [name, info] of Object.entries(ResponseCode)) {
      expect(responseCodeInfo(info.code)?.name).toBe(name);
      expect(responseCodeName(info.code)).toBe(name);
    }
  });

  it('names numbers it does not know UNKNOWN(n)', () => {
    expect(requestCodeInfo(9999)).toBeUndefined();
    expect(requestCodeName(9999)).toBe('UNKNOWN(9999)');
    expect(responseCodeInfo(9999)).toBeUndefined();
    expect(responseCodeName(9999)).toBe('UNKNOWN(9999)');
  });
});

describe("RocketMQ's numbers", () => {
  // Every request code ali-ons sends or receives (ali-ons' lib/protocol/request_code.js), by number.
  const aliOnsRequests: Record<number, string> = {
    11: 'PULL_MESSAGE',
    14: 'QUERY_CONSUMER_OFFSET',
    15: 'UPDATE_CONSUMER_OFFSET',
    17: 'UPDATE_AND_CREATE_TOPIC',
    29: 'SEARCH_OFFSET_BY_TIMESTAMP',
    30: 'GET_MAX_OFFSET',
    34: 'HEART_BEAT',
    35: 'UNREGISTER_CLIENT',
    36: 'CONSUMER_SEND_MSG_BACK',
    38: 'GET_CONSUMER_LIST_BY_GROUP',
    39: 'CHECK_TRANSACTION_STATE',
    40: 'NOTIFY_CONSUMER_IDS_CHANGED',
    105: 'GET_ROUTEINFO_BY_TOPIC',
    307: 'GET_CONSUMER_RUNNING_INFO',
    310: 'SEND_MESSAGE_V2',
  };

  it.each(Object.entries(aliOnsRequests))('has request code %s as %s (sent by ali-ons)', (code, name) => {
    expect(requestCodeName(Number(code))).toBe(name);
  });

  // Response codes ali-ons understands, plus 22 QUERY_NOT_FOUND that Java sends for "no offset".
  const aliOnsResponses: Record<number, string> = {
    0: 'SUCCESS',
    1: 'SYSTEM_ERROR',
    10: 'FLUSH_DISK_TIMEOUT',
    11: 'SLAVE_NOT_AVAILABLE',
    12: 'FLUSH_SLAVE_TIMEOUT',
    14: 'SERVICE_NOT_AVAILABLE',
    16: 'NO_PERMISSION',
    17: 'TOPIC_NOT_EXIST',
    19: 'PULL_NOT_FOUND',
    20: 'PULL_RETRY_IMMEDIATELY',
    21: 'PULL_OFFSET_MOVED',
    22: 'QUERY_NOT_FOUND',
    204: 'NO_BUYER_ID',
    205: 'NOT_IN_CURRENT_UNIT',
  };

  it.each(Object.entries(aliOnsResponses))('has response code %s as %s (understood by ali-ons)', (code, name) => {
    expect(responseCodeName(Number(code))).toBe(name);
  });

  // Every code a nameserver serves (DefaultRequestProcessor), with RequestCode.java's numbers.
  const nameserverCodes: Record<number, string> = {
    100: 'PUT_KV_CONFIG',
    101: 'GET_KV_CONFIG',
    102: 'DELETE_KV_CONFIG',
    103: 'REGISTER_BROKER',
    104: 'UNREGISTER_BROKER',
    105: 'GET_ROUTEINFO_BY_TOPIC',
    106: 'GET_BROKER_CLUSTER_INFO',
    205: 'WIPE_WRITE_PERM_OF_BROKER',
    206: 'GET_ALL_TOPIC_LIST_FROM_NAMESERVER',
    216: 'DELETE_TOPIC_IN_NAMESRV',
    217: 'REGISTER_TOPIC_IN_NAMESRV',
    219: 'GET_KVLIST_BY_NAMESPACE',
    224: 'GET_TOPICS_BY_CLUSTER',
    304: 'GET_SYSTEM_TOPIC_LIST_FROM_NS',
    311: 'GET_UNIT_TOPIC_LIST',
    312: 'GET_HAS_UNIT_SUB_TOPIC_LIST',
    313: 'GET_HAS_UNIT_SUB_UNUNIT_TOPIC_LIST',
    318: 'UPDATE_NAMESRV_CONFIG',
    319: 'GET_NAMESRV_CONFIG',
    322: 'QUERY_DATA_VERSION',
    327: 'ADD_WRITE_PERM_OF_BROKER',
    901: 'GET_BROKER_MEMBER_GROUP',
    904: 'BROKER_HEARTBEAT',
  };

  it.each(Object.entries(nameserverCodes))('has nameserver request code %s as %s', (code, name) => {
    expect(requestCodeName(Number(code))).toBe(name);
  });

  // RocketMQ's ResponseCode list.
  it.each([
    [2, 'SYSTEM_BUSY'],
    [3, 'REQUEST_CODE_NOT_SUPPORTED'],
    [13, 'MESSAGE_ILLEGAL'],
    [24, 'SUBSCRIPTION_NOT_EXIST'],
    [25, 'SUBSCRIPTION_NOT_LATEST'],
    [26, 'SUBSCRIPTION_GROUP_NOT_EXIST'],
    [215, 'FLOW_CONTROL'],
    [1500, 'GO_AWAY'],
  ])('has response code %i as %s', (code, name) => {
    expect(responseCodeName(code)).toBe(name);
  });
});

describe('retriable flags', () => {
  // ali-ons sends the same message to another broker on 17/14/1/16/204/205,
  // and a busy or flow-controlled broker asks for a later retry (FLOW_CONTROL after 20 ms).
  it.each(['SYSTEM_ERROR', 'SYSTEM_BUSY', 'SERVICE_NOT_AVAILABLE', 'NO_PERMISSION', 'TOPIC_NOT_EXIST', 'NO_BUYER_ID', 'NOT_IN_CURRENT_UNIT', 'FLOW_CONTROL', 'GO_AWAY'] as const)(
    '%s is retriable',
    (name) => {
      expect(ResponseCode[name].retriable).toBe(true);
    },
  );

  // These mean the message is already stored (10/11/12) or the request itself is wrong: a retry would
  // duplicate the message or fail the same way.
  it.each(['SUCCESS', 'FLUSH_DISK_TIMEOUT', 'SLAVE_NOT_AVAILABLE', 'FLUSH_SLAVE_TIMEOUT', 'MESSAGE_ILLEGAL', 'REQUEST_CODE_NOT_SUPPORTED', 'TOPIC_EXIST_ALREADY'] as const)(
    '%s is not retriable',
    (name) => {
      expect(ResponseCode[name].retriable).toBe(false);
    },
  );

  it('carries the flag onto the RemoteError a client raises', () => {
    expect(new RemoteError(ResponseCode.TOPIC_NOT_EXIST.code, 'no route').retriable).toBe(true);
    expect(new RemoteError(ResponseCode.MESSAGE_ILLEGAL.code, 'too big').retriable).toBe(false);
    expect(new RemoteError(4242).retriable).toBe(false);
  });

  it('does not let a client retry creating or deleting things by mistake', () => {
    for (const name of ['UPDATE_AND_CREATE_TOPIC', 'DELETE_TOPIC_IN_BROKER', 'DELETE_SUBSCRIPTIONGROUP', 'PUT_KV_CONFIG', 'DELETE_KV_CONFIG'] as const) {
      expect(RequestCode[name].retriable, name).toBe(false);
    }
    for (const name of ['SEND_MESSAGE', 'SEND_MESSAGE_V2', 'PULL_MESSAGE', 'GET_ROUTEINFO_BY_TOPIC', 'HEART_BEAT'] as const) {
      expect(RequestCode[name].retriable, name).toBe(true);
    }
  });
});
