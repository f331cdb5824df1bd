import { describe, expect, it } from 'vitest';
import { ResponseCode } from './codes.js';
import { ERROR_CODES } from './error-codes.js';
import { ConnectionClosedError, InvalidArgumentError, KarmanError, ProtocolError, RemoteError, RequestTimeoutError, isRetriableCode } from './errors.js';

describe('the error table', () => {
  it('gives every Karman code its retriable flag from the table, not from the thrower', () => {
    for (const [code, entry] of Object.entries(ERROR_CODES)) {
      expect(new KarmanError(code as keyof typeof ERROR_CODES, 'x').retriable, code).toBe(entry.retriable);
      expect(entry.message.length, `${code} has a meaning`).toBeGreaterThan(10);
    }
  });

  it('keeps the near-duplicate spellings merged: one code per failure', () => {
    for (const gone of ['NO_BROKER', 'CONSUMER_STOPPED', 'BAD_ANSWER', 'HA_BAD_RESPONSE', 'DEDUP_CLOSED']) expect(Object.hasOwn(ERROR_CODES, gone), gone).toBe(false);
  });

  it('takes a broker answer\'s code and retriable flag from the RocketMQ response-code table', () => {
    const busy = new RemoteError(ResponseCode.FLOW_CONTROL.code, 'too many', '10.0.0.1:10911');
    expect(busy).toMatchObject({ code: 'FLOW_CONTROL', retriable: true, responseCode: 215, remark: 'too many' });
    expect(busy.message).toBe('FLOW_CONTROL (215) from 10.0.0.1:10911: too many');
    expect(new RemoteError(ResponseCode.MESSAGE_ILLEGAL.code)).toMatchObject({ code: 'MESSAGE_ILLEGAL', retriable: false });
    // A code RocketMQ does not name is not retried.
    expect(new RemoteError(9999)).toMatchObject({ code: 'RESPONSE_9999', retriable: false });
    expect(isRetriableCode('RESPONSE_9999')).toBe(false);
  });

  it('builds each subclass with its code, so callers may test with instanceof or by code', () => {
    expect(new RequestTimeoutError('a:1', 10, 50)).toMatchObject({ code: 'REQUEST_TIMEOUT', retriable: true, name: 'RequestTimeoutError' });
    const closed = new ConnectionClosedError('a:1', 'reset');
    expect(closed).toBeInstanceOf(KarmanError);
    expect(closed).toMatchObject({ code: 'CONNECTION_CLOSED', retriable: true, message: 'connection to a:1 closed: reset' });
    expect(new InvalidArgumentError('bad')).toMatchObject({ code: 'INVALID_ARGUMENT', retriable: false });
    expect(new ProtocolError('bad')).toMatchObject({ code: 'PROTOCOL_ERROR', retriable: false });
  });

  it('wraps a thrown non-Error in INTERNAL_ERROR and passes an Error through', () => {
    const error = new Error('plain');
    expect(KarmanError.from(error)).toBe(error);
    const wrapped = KarmanError.from('a string');
    expect(wrapped).toMatchObject({ code: 'INTERNAL_ERROR', message: 'non-Error thrown: a string', cause: 'a string' });
  });
});
