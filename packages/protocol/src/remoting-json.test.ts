import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { parseRemotingJson } from './remoting-json.js';

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
