import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { InvalidArgumentError } from '@karman/protocol';
import type { DedupMessage } from './business-id.js';
import { businessIdOf, defaultBusinessId, originalTopic, scopedKey } from './business-id.js';

const base: DedupMessage = { topic: 'orders', msgId: 'M1', properties: {} };

describe('defaultBusinessId', () => {
  it('prefers the first non-empty key, then the KEYS property, then UNIQ_KEY', () => {
    expect(defaultBusinessId({ ...base, keys: ['', 'k1', 'k2'], properties: { KEYS: 'p1', UNIQ_KEY: 'U' } })).toBe('k1');
    expect(defaultBusinessId({ ...base, properties: { KEYS: ' p1 p2', UNIQ_KEY: 'U' } })).toBe('p1');
    expect(defaultBusinessId({ ...base, keys: [], properties: { UNIQ_KEY: 'U' } })).toBe('U');
    expect(defaultBusinessId(base)).toBeUndefined();
  });

  it('never falls back to the msgId, which changes when the producer resends', () => {
    expect(defaultBusinessId({ ...base, msgId: 'C0A8000100002A9F0000000000000000' })).toBeUndefined();
  });
});

describe('businessIdOf', () => {
  it('names the message and the fix when there is no id', () => {
    expect(() => businessIdOf(base, defaultBusinessId)).toThrow(InvalidArgumentError);
    expect(() => businessIdOf(base, defaultBusinessId)).toThrow(/message M1 on topic orders has no business id.*set keys when producing it, or pass a businessId function/);
  });

  it('reports an extractor that throws or returns a non-string', () => {
    expect(() =>
      businessIdOf(base, () => {
        throw new Error('bad json');
      }),
    ).toThrow(/businessId function threw for message M1 on topic orders: Error: bad json/);
    expect(() => businessIdOf(base, () => 42 as unknown as string)).toThrow(/has no business id/);
  });
});

describe('originalTopic', () => {
  it('maps a %RETRY% delivery back to its RETRY_TOPIC and leaves other topics alone', () => {
    expect(originalTopic({ ...base, topic: '%RETRY%billing', properties: { RETRY_TOPIC: 'orders' } })).toBe('orders');
    expect(originalTopic({ ...base, topic: '%RETRY%billing' })).toBe('%RETRY%billing');
    expect(originalTopic({ ...base, topic: 'refunds', properties: { RETRY_TOPIC: 'orders' } })).toBe('refunds');
  });
});

describe('scopedKey', () => {
  const parts = { topic: true, tag: true };

  it('never maps two different (group, topic, tag, id) tuples to one key', () => {
    const text = fc.string({ unit: 'grapheme', maxLength: 6 });
    fc.assert(
      fc.property(fc.tuple(text, text, text, text), fc.tuple(text, text, text, text), ([g1, t1, tag1, id1], [g2, t2, tag2, id2]) => {
        const k1 = scopedKey(g1, { ...base, topic: t1, tags: tag1 }, id1, parts);
        const k2 = scopedKey(g2, { ...base, topic: t2, tags: tag2 }, id2, parts);
        expect(k1 === k2).toBe(g1 === g2 && t1 === t2 && tag1 === tag2 && id1 === id2);
      }),
    );
  });

  it('leaves out the topic and tag when the scope says so', () => {
    expect(scopedKey('g', { ...base, tags: 'paid' }, 'id:1', { topic: false, tag: false })).toBe('g:id%3A1');
    expect(scopedKey('g', { ...base, tags: 'paid' }, 'id', { topic: true, tag: false })).toBe('g:orders:id');
    expect(scopedKey('g', base, 'id', { topic: true, tag: true })).toBe('g:orders::id');
  });
});
