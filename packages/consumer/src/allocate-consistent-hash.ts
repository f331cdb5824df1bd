/**
 * AllocateMessageQueueConsistentHash ("CONSISTENT_HASH"): consumers sit on a hash ring, each
 * as `virtualNodes` (10) points keyed `cid + "-" + i`; a queue, keyed by RocketMQ's
 * `MessageQueue.toString()`, goes to the first point clockwise of its own hash (wrapping round).
 * A member joining or leaving therefore moves only the queues next to its points, unlike AVG where
 * one change can shift every block. The hash is RocketMQ's default: the first 4 bytes of the MD5 of
 * the UTF-8 key, big-endian, unsigned.
 */
import { createHash } from 'node:crypto';
import { queueKey } from '@karman/client';
import { InvalidArgumentError } from '@karman/protocol';
import type { AllocateStrategy } from './allocate-strategy.js';
import { checkedInputs } from './allocate-strategy.js';

/** RocketMQ's `MD5Hash.hash`: first 4 digest bytes as an unsigned big-endian 32-bit number. */
export function md5Hash(key: string): number {
  return createHash('md5').update(key, 'utf8').digest().readUInt32BE(0);
}

/** A consistent-hash strategy with `virtualNodes` points per consumer (RocketMQ's default 10). */
export function allocateConsistentHash(virtualNodes = 10, hash: (key: string) => number = md5Hash): AllocateStrategy {
  if (!Number.isInteger(virtualNodes) || virtualNodes < 1) throw new InvalidArgumentError(`virtualNodes must be a whole number ≥ 1, got ${virtualNodes}`);
  return {
    name: 'CONSISTENT_HASH',
    allocate(_group, currentCid, mqAll, cidAll) {
      const input = checkedInputs(currentCid, mqAll, cidAll);
      if (!input) return [];
      // Java's TreeMap.put: a later node with an equal hash replaces the earlier one.
      const ring = new Map<number, string>();
      for (const cid of input.cids) for (let i = 0; i < virtualNodes; i++) ring.set(hash(`${cid}-${i}`), cid);
      const points = [...ring.keys()].sort((a, b) => a - b);
      return input.queues.filter((queue) => {
        const h = hash(queueKey(queue));
        const point = points.find((p) => p >= h) ?? points[0]!;
        return ring.get(point) === currentCid;
      });
    },
  };
}
