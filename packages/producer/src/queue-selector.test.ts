import { describe, expect, it } from 'vitest';
import type { MessageQueue } from '@karman/client';
import { javaHashCode, selectByHash, selectByMachineRoom, selectByRandom } from './queue-selector.js';

const queues = (brokers: string[], perBroker: number): MessageQueue[] => brokers.flatMap((brokerName) => Array.from({ length: perBroker }, (_, queueId) => ({ topic: 'T', brokerName, queueId })));
const msg = { topic: 'T', body: 'x' };

describe('selectByHash', () => {
  it("places keys where Java's SelectMessageQueueByHash would", () => {
    const eight = queues(['a', 'b'], 4);
    // "TagA".hashCode() = 2598919 (84*31^3 + 97*31^2 + 103*31 + 65); 2598919 % 8 = 7.
    expect(selectByHash(eight, msg, 'TagA')).toEqual({ topic: 'T', brokerName: 'b', queueId: 3 });
    // "a".hashCode() = 97; 97 % 8 = 1.
    expect(selectByHash(eight, msg, 'a')).toEqual({ topic: 'T', brokerName: 'a', queueId: 1 });
    // "polygenelubricants".hashCode() = Integer.MIN_VALUE; MIN_VALUE % 8 = 0.
    expect(selectByHash(eight, msg, 'polygenelubricants')?.queueId).toBe(0);
    // Integer -7: Java's % keeps the sign (-7 % 4 = -3), then abs → 3.
    expect(selectByHash(queues(['a'], 4), msg, -7)?.queueId).toBe(3);
  });

  it("hashes integers like Integer.hashCode and Long.hashCode", () => {
    expect(javaHashCode(42)).toBe(42);
    // Long 2^40: (int)(v ^ (v >>> 32)) = 256.
    expect(javaHashCode(2 ** 40)).toBe(256);
    expect(javaHashCode(2n ** 40n)).toBe(256);
    expect(() => javaHashCode({})).toThrow(/string or integer/);
  });

  it('keeps one key on one queue', () => {
    const qs = queues(['a', 'b'], 4);
    const first = selectByHash(qs, msg, 'order-1');
    for (let i = 0; i < 10; i++) expect(selectByHash(qs, msg, 'order-1')).toEqual(first);
  });
});

describe('selectByRandom and selectByMachineRoom', () => {
  it('picks some queue of the list', () => {
    const qs = queues(['a'], 4);
    for (let i = 0; i < 20; i++) expect(qs).toContainEqual(selectByRandom(qs, msg, undefined));
    expect(selectByRandom([], msg, undefined)).toBeUndefined();
  });

  it('prefers the first room with queues and falls back in order', () => {
    const qs = queues(['hz@broker-a', 'sh@broker-b', 'bj@broker-c'], 2);
    const roomOf = (b: string) => b.split('@')[0];
    const pick = selectByMachineRoom({ roomOf, rooms: ['sz', 'sh', 'hz'] });
    for (let i = 0; i < 10; i++) expect(pick(qs, msg, `k${i}`)?.brokerName).toBe('sh@broker-b');
    const withoutSh = qs.filter((q) => q.brokerName !== 'sh@broker-b');
    expect(pick(withoutSh, msg, 'k')?.brokerName).toBe('hz@broker-a');
    expect(selectByMachineRoom({ roomOf, rooms: ['nowhere'] })(qs, msg, 'k')).toBeDefined();
  });
});
