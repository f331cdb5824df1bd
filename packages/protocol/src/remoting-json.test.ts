import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { encodeObjectKeyMap, encodeQueueOffsets, parseRemotingJson, readQueueOffsets } from './remoting-json.js';

describe('parseRemotingJson', () => {
  it('reads object-keyed maps as { key, value } arrays', () => {
    expect(parseRemotingJson('{"t":{{"brokerName":"b","queueId":1,"topic":"T"}:{"o":6}},"n":[1,{"x":null}]}')).toEqual({
      t: [{ key: { brokerName: 'b', queueId: 1, topic: 'T' }, value: { o: 6 } }],
      n: [1, { x: null }],
    });
  });

  it('reads plain JSON as JSON.parse does', () => {
    fc.assert(
      fc.property(fc.jsonValue(), (value) => {
        const json = JSON.stringify(value);
        expect(parseRemotingJson(json)).toEqual(JSON.parse(json));
      }),
    );
  });

  it('names the position of what it cannot read, and never loops on any input', () => {
    expect(() => parseRemotingJson('{"a":}')).toThrow(/unexpected character at position 5/);
    expect(() => parseRemotingJson('{"a":1')).toThrow(/expected , or }/);
    expect(() => parseRemotingJson('[1] x')).toThrow(/trailing text/);
    expect(() => parseRemotingJson('"abc')).toThrow(/unterminated string/);
    fc.assert(
      fc.property(fc.string({ maxLength: 60 }), (text) => {
        try {
          parseRemotingJson(text);
        } catch (error) {
          expect(error).toBeInstanceOf(SyntaxError);
        }
      }),
      { numRuns: 2000 },
    );
  });

  it('keeps a "__proto__" key as data', () => {
    const parsed = parseRemotingJson('{"__proto__":{"polluted":true}}') as Record<string, unknown>;
    expect(Object.keys(parsed)).toEqual(['__proto__']);
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
  });
});

describe('offset tables keyed by queue (ResetOffsetBody, GetConsumerStatusBody)', () => {
  it('writes Map<MessageQueue, Long> as fastjson does and reads it back', () => {
    const entries = [
      { queue: { topic: 'T', brokerName: 'b', queueId: 0 }, offset: 5 },
      { queue: { topic: 'T', brokerName: 'b', queueId: 1 }, offset: 0 },
    ];
    const text = `{"offsetTable":${encodeQueueOffsets(entries)}}`;
    expect(text).toBe('{"offsetTable":{{"brokerName":"b","queueId":0,"topic":"T"}:5,{"brokerName":"b","queueId":1,"topic":"T"}:0}}');
    expect(readQueueOffsets((parseRemotingJson(text) as { offsetTable: unknown }).offsetTable)).toEqual(entries);
  });

  it('reads an empty map as no entries, skips malformed entries, and refuses what is no map', () => {
    expect(readQueueOffsets(parseRemotingJson('{}'))).toEqual([]);
    expect(readQueueOffsets(parseRemotingJson('{{"brokerName":"b","queueId":"x","topic":"T"}:5,{"brokerName":"b","queueId":2,"topic":"T"}:7}'))).toEqual([{ queue: { topic: 'T', brokerName: 'b', queueId: 2 }, offset: 7 }]);
    expect(readQueueOffsets(5)).toBeUndefined();
    expect(readQueueOffsets({ a: 1 })).toBeUndefined();
    expect(encodeObjectKeyMap([])).toBe('{}');
  });
});
