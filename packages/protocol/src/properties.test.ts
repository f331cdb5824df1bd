import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { InvalidArgumentError, ProtocolError } from './errors.js';
import { decodeProperties, encodeProperties, MessageProperty } from './properties.js';

/** Keys and values the wire can carry: non-empty, keys without either separator, values without \u0002. */
const propertyKey = fc.string({ unit: 'grapheme', minLength: 1, maxLength: 20 }).filter((k) => !k.includes('\u0001') && !k.includes('\u0002'));
// 'binary' adds control characters (\u0001 is legal inside a value) and astral code points.
const propertyValue = fc
  .oneof(fc.string({ unit: 'grapheme', minLength: 1, maxLength: 40 }), fc.string({ unit: 'binary', minLength: 1, maxLength: 40 }))
  .filter((v) => v.length > 0 && !v.includes('\u0002'));
const propertyMap = fc.dictionary(propertyKey, propertyValue, { maxKeys: 12 });

describe('properties codec', () => {
  it('writes key\\u0001value\\u0002 pairs', () => {
    expect(encodeProperties({ TAGS: 'TagA', KEYS: 'k1 k2' }).toString('utf8')).toBe('TAGS\u0001TagA\u0002KEYS\u0001k1 k2\u0002');
  });

  it('round-trips any map the wire can carry, unicode included', () => {
    fc.assert(
      fc.property(propertyMap, (props) => {
        expect({ ...decodeProperties(encodeProperties(props)) }).toEqual(props);
        expect({ ...decodeProperties(encodeProperties(props).toString('utf8')) }).toEqual(props);
      }),
    );
  });

  it('keeps a value that contains \\u0001, as Java does (the value runs from the first \\u0001)', () => {
    expect({ ...decodeProperties(encodeProperties({ k: 'a\u0001b' })) }).toEqual({ k: 'a\u0001b' });
  });

  it('skips malformed pairs exactly as RocketMQ does, and accepts a missing trailing separator', () => {
    const text = 'noSeparator\u0002\u0001emptyKey\u0002emptyValue\u0001\u0002\u0002a\u0001b\u0002TAGS\u0001x';
    expect({ ...decodeProperties(text) }).toEqual({ a: 'b', TAGS: 'x' });
    expect({ ...decodeProperties('') }).toEqual({});
  });

  it('treats __proto__ from the wire as an ordinary key', () => {
    const props = decodeProperties('__proto__\u0001x\u0002');
    expect(props['__proto__']).toBe('x');
    expect(Object.getPrototypeOf(props)).toBeNull();
  });

  it("reads RocketMQ's names and names that merely start like them or share their length alike", () => {
    const text = 'TAGS\u0001a\u0002TAGX\u0001b\u0002TAGSX\u0001c\u0002UNIQ_KEY\u0001d\u0002UNIQ_KEZ\u0001e\u0002KEY\u0001f\u0002WAIT\u0001true';
    expect({ ...decodeProperties(text) }).toEqual({ TAGS: 'a', TAGX: 'b', TAGSX: 'c', UNIQ_KEY: 'd', UNIQ_KEZ: 'e', KEY: 'f', WAIT: 'true' });
    expect({ ...decodeProperties(Buffer.from(text)) }).toEqual({ TAGS: 'a', TAGX: 'b', TAGSX: 'c', UNIQ_KEY: 'd', UNIQ_KEZ: 'e', KEY: 'f', WAIT: 'true' });
  });

  it('refuses what the decoder would drop or split', () => {
    expect(() => encodeProperties({ '': 'v' })).toThrow(InvalidArgumentError);
    expect(() => encodeProperties({ k: '' })).toThrow(/empty value/);
    expect(() => encodeProperties({ 'a\u0001b': 'v' })).toThrow(InvalidArgumentError);
    expect(() => encodeProperties({ k: 'a\u0002b' })).toThrow(/\\u0002/);
    expect(() => encodeProperties({ k: 5 as unknown as string })).toThrow(/must be a string/);
  });

  it('skips undefined values, as Java skips nulls', () => {
    expect(encodeProperties({ a: 'b', c: undefined as unknown as string }).toString()).toBe('a\u0001b\u0002');
  });

  it('uses RocketMQ wire names', () => {
    expect(MessageProperty.UNIQ_KEY).toBe('UNIQ_KEY');
    expect(MessageProperty.WAIT).toBe('WAIT');
    expect(MessageProperty.SHARDING_KEY).toBe('__SHARDINGKEY');
  });

  it('rejects input that is neither bytes nor text with a ProtocolError', () => {
    expect(() => decodeProperties(42 as unknown as string)).toThrow(ProtocolError);
  });
});
