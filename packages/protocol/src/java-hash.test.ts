import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { javaStringHashCode, tagsCode } from './java-hash.js';

describe('javaStringHashCode', () => {
  // Values Java prints for "…".hashCode(); worked out by hand for the short ones (T=84 a=97 g=103 A=65:
  // ((84·31+97)·31+103)·31+65 = 2598919), and well-known for the rest.
  it.each([
    ['', 0],
    ['a', 97],
    ['TagA', 2598919],
    ['hello', 99162322],
    ['hello world', 1794106052],
    ['polygenelubricants', -2147483648],
    ['Aa', 2112],
    ['BB', 2112],
  ])('hashes %j to %i as Java does', (text, expected) => {
    expect(javaStringHashCode(text)).toBe(expected);
  });

  it('continues from a seed: hash(b, hash(a)) is hash(a + b)', () => {
    for (const [a, b] of [['', ''], ['Topic', '#key'], ['polygene', 'lubricants'], ['😀', 'x']]) {
      expect(javaStringHashCode(b!, javaStringHashCode(a!)), `${a}|${b}`).toBe(javaStringHashCode(a! + b!));
    }
  });

  it('hashes UTF-16 code units, so an emoji counts as its two surrogate halves', () => {
    expect(javaStringHashCode('😀')).toBe(0xd83d * 31 + 0xde00);
  });

  it('equals the exact polynomial reduced to a signed 32-bit integer', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'binary', maxLength: 60 }), (text) => {
        let exact = 0n;
        for (let i = 0; i < text.length; i++) exact = exact * 31n + BigInt(text.charCodeAt(i));
        expect(javaStringHashCode(text)).toBe(Number(BigInt.asIntN(32, exact)));
      }),
    );
  });
});

describe('tagsCode', () => {
  it('is 0 without a tag and the Java hash of the tag otherwise', () => {
    expect(tagsCode(undefined)).toBe(0);
    expect(tagsCode('')).toBe(0);
    expect(tagsCode('TagA')).toBe(2598919);
  });
});
