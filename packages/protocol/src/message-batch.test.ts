import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { InvalidArgumentError, ProtocolError } from './errors.js';
import { decodeBatch, encodeBatch } from './message-batch.js';
import type { BatchEntry } from './message-batch.js';

const propertyKey = fc.string({ unit: 'grapheme', minLength: 1, maxLength: 12 }).filter((k) => !k.includes('\u0001') && !k.includes('\u0002'));
const propertyValue = fc.string({ unit: 'grapheme', minLength: 1, maxLength: 24 }).filter((v) => !v.includes('\u0002'));
const entry: fc.Arbitrary<BatchEntry> = fc.record({
  body: fc.uint8Array({ maxLength: 300 }).map((b) => Buffer.from(b)),
  flag: fc.integer({ min: -0x80000000, max: 0x7fffffff }),
  properties: fc.dictionary(propertyKey, propertyValue, { maxKeys: 5 }),
});

const plain = (entries: BatchEntry[]): unknown => entries.map((e) => ({ body: Buffer.from(e.body), flag: e.flag, properties: { ...e.properties } }));

describe('batch body codec', () => {
  it('lays out one entry as Java MessageDecoder.encodeMessage does (worked out by hand)', () => {
    const bytes = encodeBatch([{ body: Buffer.from('hi'), flag: 3, properties: { a: 'b' } }]);
    expect(bytes.toString('hex')).toBe(
      [
        '0000001c', // TOTALSIZE 22 + 2 + 4 = 28
        '00000000', // MAGICCODE 0
        '00000000', // BODYCRC 0
        '00000003', // FLAG
        '00000002', // BODYLEN
        '6869', // "hi"
        '0004', // PROPLEN
        '61016202', // "a\u0001b\u0002"
      ].join(''),
    );
  });

  it('round-trips any batch', () => {
    fc.assert(
      fc.property(fc.array(entry, { maxLength: 8 }), (entries) => {
        expect(plain(decodeBatch(encodeBatch(entries)))).toEqual(plain(entries));
      }),
    );
  });

  it('rejects a truncated batch, a wrong TOTALSIZE and inner lengths that do not add up', () => {
    const good = encodeBatch([
      { body: Buffer.from('one'), flag: 0, properties: {} },
      { body: Buffer.from('two'), flag: 0, properties: { k: 'v' } },
    ]);
    expect(() => decodeBatch(good.subarray(0, good.length - 1))).toThrow(ProtocolError);
    const wrongSize = Buffer.from(good);
    wrongSize.writeInt32BE(wrongSize.readInt32BE(0) + 1, 0);
    expect(() => decodeBatch(wrongSize)).toThrow(/batch entry/);
    const wrongBodyLen = Buffer.from(good);
    wrongBodyLen.writeInt32BE(2, 16);
    expect(() => decodeBatch(wrongBodyLen)).toThrow(/batch entry 0 at offset 0/);
    expect(decodeBatch(Buffer.alloc(0))).toEqual([]);
  });

  it('refuses entries it cannot encode', () => {
    expect(() => encodeBatch([{ body: Buffer.alloc(1), flag: 1.5, properties: {} }])).toThrow(InvalidArgumentError);
    expect(() => encodeBatch([{ body: Buffer.alloc(1), flag: 0, properties: { k: 'x'.repeat(40_000) } }])).toThrow(/32767/);
  });
});
