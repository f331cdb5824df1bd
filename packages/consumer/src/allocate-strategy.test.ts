/**
 * Allocation strategies: worked examples from RocketMQ's AllocateMessageQueue* classes, and one contract run against every strategy that
 * shares queues: members together take every queue exactly once, whatever the order of
 * their inputs, and a client id missing from the list gets nothing.
 */
import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import type { MessageQueue } from '@karman/client';
import { queueKey } from '@karman/client';
import type { AllocateStrategy } from './allocate-strategy.js';
import { allocateAveragely } from './allocate-averagely.js';
import { allocateAveragelyByCircle } from './allocate-averagely-by-circle.js';
import { allocateConsistentHash, md5Hash } from './allocate-consistent-hash.js';
import { allocateByMachineRoom } from './allocate-by-machine-room.js';
import { allocateByConfig } from './allocate-by-config.js';
import { allocateMachineRoomNearby } from './allocate-machine-room-nearby.js';

const queues = (n: number, brokerName = 'broker-a', topic = 'T'): MessageQueue[] => Array.from({ length: n }, (_, queueId) => ({ topic, brokerName, queueId }));
const ids = (qs: MessageQueue[]): number[] => qs.map((q) => q.queueId);
const cids = ['c1', 'c2', 'c3'];

function shares(strategy: AllocateStrategy, mqAll: MessageQueue[], cidAll: string[]): MessageQueue[][] {
  return cidAll.map((cid) => strategy.allocate('G', cid, mqAll, cidAll));
}

describe('worked examples of RocketMQ\'s allocation strategies (8 queues, 3 consumers)', () => {
  it('AVG gives contiguous blocks, the first n % c consumers one more', () => {
    expect(shares(allocateAveragely, queues(8), cids).map(ids)).toEqual([[0, 1, 2], [3, 4, 5], [6, 7]]);
  });

  it('AVG_BY_CIRCLE deals queue k to consumer k % c', () => {
    expect(shares(allocateAveragelyByCircle, queues(8), cids).map(ids)).toEqual([[0, 3, 6], [1, 4, 7], [2, 5]]);
  });

  it('AVG gives consumers beyond the queue count nothing', () => {
    expect(shares(allocateAveragely, queues(2), cids).map(ids)).toEqual([[0], [1], []]);
  });

  it('MACHINE_ROOM shares only the rooms it consumes: m/c each, then one more for the first m%c', () => {
    const mqAll = [...queues(4, 'hz@broker-a'), ...queues(4, 'sh@broker-b'), ...queues(4, 'bj@broker-c')];
    const got = shares(allocateByMachineRoom(['hz', 'sh']), mqAll, cids).map((qs) => qs.map((q) => `${q.brokerName}:${q.queueId}`));
    // premqAll = hz 0..3, sh 0..3 (sorted by broker name: hz@ < sh@); mod 2, rem 2.
    expect(got).toEqual([
      ['hz@broker-a:0', 'hz@broker-a:1', 'sh@broker-b:2'],
      ['hz@broker-a:2', 'hz@broker-a:3', 'sh@broker-b:3'],
      ['sh@broker-b:0', 'sh@broker-b:1'],
    ]);
  });

  it('CONFIG returns its fixed list whatever the group', () => {
    const fixed = [{ topic: 'T', brokerName: 'b', queueId: 5 }];
    expect(allocateByConfig(fixed).allocate('G', 'nobody', queues(8), cids)).toEqual(fixed);
  });

  it('CONSISTENT_HASH puts a queue on the first virtual node clockwise of its MD5', () => {
    const strategy = allocateConsistentHash();
    const mqAll = queues(8);
    const points: Array<[number, string]> = [];
    for (const cid of cids) for (let i = 0; i < 10; i++) points.push([createHash('md5').update(`${cid}-${i}`).digest().readUInt32BE(0), cid]);
    points.sort((a, b) => a[0] - b[0]);
    const owner = (q: MessageQueue): string => {
      const h = createHash('md5').update(queueKey(q)).digest().readUInt32BE(0);
      return (points.find(([p]) => p >= h) ?? points[0]!)[1];
    };
    for (const cid of cids) expect(strategy.allocate('G', cid, mqAll, cids)).toEqual(mqAll.filter((q) => owner(q) === cid));
    expect(md5Hash('MessageQueue [topic=T, brokerName=broker-a, queueId=0]')).toBe(createHash('md5').update('MessageQueue [topic=T, brokerName=broker-a, queueId=0]').digest().readUInt32BE(0));
  });

  it('CONSISTENT_HASH moves only the leaver\'s queues when a member leaves', () => {
    const strategy = allocateConsistentHash();
    const mqAll = queues(64);
    const before = new Map(cids.flatMap((cid) => strategy.allocate('G', cid, mqAll, cids).map((q) => [q.queueId, cid] as const)));
    const after = new Map(['c1', 'c2'].flatMap((cid) => strategy.allocate('G', cid, mqAll, ['c1', 'c2']).map((q) => [q.queueId, cid] as const)));
    for (const [queueId, cid] of before) if (cid !== 'c3') expect(after.get(queueId)).toBe(cid);
  });

  it('MACHINE_ROOM_NEARBY keeps consumers in their room and shares rooms without consumers', () => {
    const resolver = { brokerDeployIn: (q: MessageQueue) => q.brokerName.split('@')[0]!, consumerDeployIn: (cid: string) => cid.split('@')[0]! };
    const strategy = allocateMachineRoomNearby(allocateAveragely, resolver);
    expect(strategy.name).toBe('MACHINE_ROOM_NEARBY-AVG');
    const mqAll = [...queues(4, 'hz@a'), ...queues(4, 'sh@b'), ...queues(2, 'bj@c')];
    const group = ['hz@1', 'hz@2', 'sh@1'];
    const got = group.map((cid) => strategy.allocate('G', cid, mqAll, group).map((q) => `${q.brokerName}:${q.queueId}`));
    expect(got).toEqual([
      ['hz@a:0', 'hz@a:1', 'bj@c:0'],
      ['hz@a:2', 'hz@a:3', 'bj@c:1'],
      ['sh@b:0', 'sh@b:1', 'sh@b:2', 'sh@b:3'],
    ]);
  });
});

const resolverByPrefix = { brokerDeployIn: (q: MessageQueue) => q.brokerName.slice(0, 1), consumerDeployIn: (cid: string) => cid.slice(0, 1) };
const sharing: AllocateStrategy[] = [allocateAveragely, allocateAveragelyByCircle, allocateConsistentHash(), allocateMachineRoomNearby(allocateAveragely, resolverByPrefix), allocateMachineRoomNearby(allocateAveragelyByCircle, resolverByPrefix)];

describe.each(sharing.map((s) => [s.name, s] as const))('contract: %s', (_name, strategy) => {
  const arbGroup = fc.record({
    brokers: fc.uniqueArray(fc.constantFrom('a', 'b', 'c'), { minLength: 1 }),
    perBroker: fc.integer({ min: 1, max: 9 }),
    members: fc.uniqueArray(fc.stringMatching(/^[abc][0-9]{1,3}$/), { minLength: 1, maxLength: 12 }),
  });

  it('together the members take every queue exactly once, in any input order', () => {
    fc.assert(
      fc.property(arbGroup, fc.integer(), ({ brokers, perBroker, members }, seed) => {
        const mqAll = brokers.flatMap((b) => queues(perBroker, b));
        const shuffled = [...mqAll].sort(() => (seed & 1 ? 1 : -1));
        const taken = members.flatMap((cid) => strategy.allocate('G', cid, shuffled, [...members].reverse()));
        expect(taken.map(queueKey).sort()).toEqual(mqAll.map(queueKey).sort());
      }),
    );
  });

  it('gives an unknown client id nothing', () => {
    expect(strategy.allocate('G', 'zz-unknown', queues(8), cids)).toEqual([]);
  });
});
