import { describe, expect, it } from 'vitest';
import { ResponseCode, tagsCode } from '@karman/protocol';
import { GetMessageStatus } from '@karman/commitlog';
import { parseTagExpression, pullResponseCode } from './pull-message-processor.js';

describe('parseTagExpression', () => {
  it('reads "*", empty and missing as every message', () => {
    expect(parseTagExpression('*')).toBeUndefined();
    expect(parseTagExpression('')).toBeUndefined();
    expect(parseTagExpression(undefined)).toBeUndefined();
    expect(parseTagExpression('  *  ')).toBeUndefined();
  });

  it('splits on || and trims, with Java String.hashCode tag codes', () => {
    const filter = parseTagExpression(' TagA ||TagB||  TagA ');
    expect(filter?.tags).toEqual(['TagA', 'TagB']);
    expect([...(filter?.codes ?? [])].sort()).toEqual([tagsCode('TagA'), tagsCode('TagB')].sort());
    expect(tagsCode('TagA')).toBe(2_598_919); // "TagA".hashCode() in Java
  });

  it('refuses an expression that names no tag, saying how to write one', () => {
    expect(() => parseTagExpression('||')).toThrow(/names no tag.*"\*"/);
    expect(() => parseTagExpression(' || ')).toThrow(/names no tag/);
  });
});

describe('pullResponseCode (PullMessageProcessor status table)', () => {
  const cases: [string, number, number][] = [
    [GetMessageStatus.FOUND, 5, ResponseCode.SUCCESS.code],
    [GetMessageStatus.NO_MATCHED_MESSAGE, 5, ResponseCode.PULL_RETRY_IMMEDIATELY.code],
    ['MESSAGE_WAS_REMOVING', 5, ResponseCode.PULL_RETRY_IMMEDIATELY.code],
    [GetMessageStatus.NO_MESSAGE_IN_QUEUE, 0, ResponseCode.PULL_NOT_FOUND.code],
    [GetMessageStatus.NO_MESSAGE_IN_QUEUE, 3, ResponseCode.PULL_OFFSET_MOVED.code],
    [GetMessageStatus.NO_MATCHED_LOGIC_QUEUE, 0, ResponseCode.PULL_NOT_FOUND.code],
    [GetMessageStatus.NO_MATCHED_LOGIC_QUEUE, 3, ResponseCode.PULL_OFFSET_MOVED.code],
    [GetMessageStatus.OFFSET_OVERFLOW_ONE, 5, ResponseCode.PULL_NOT_FOUND.code],
    [GetMessageStatus.OFFSET_FOUND_NULL, 5, ResponseCode.PULL_NOT_FOUND.code],
    [GetMessageStatus.OFFSET_OVERFLOW_BADLY, 5, ResponseCode.PULL_OFFSET_MOVED.code],
    [GetMessageStatus.OFFSET_TOO_SMALL, 5, ResponseCode.PULL_OFFSET_MOVED.code],
  ];
  it.each(cases)('%s at offset %i answers %i', (status, offset, code) => {
    expect(pullResponseCode(status as GetMessageStatus, offset)).toBe(code);
  });
});
