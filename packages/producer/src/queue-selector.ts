/**
 * Queue selectors (RocketMQ `MessageQueueSelector`): small named strategies behind one type.
 * A selector gets the topic's publish list (writable queues sorted by broker name, then queue id),
 * the message and the caller's argument, and returns the queue to send to. Sends through a
 * selector are never retried elsewhere, since that would break the ordering they exist for.
 */
import { InvalidArgumentError, javaStringHashCode } from '@karman/protocol';
import type { MessageQueue } from '@karman/client';
import type { Message } from './message.js';

export type QueueSelector<A = unknown> = (queues: readonly MessageQueue[], message: Message, arg: A) => MessageQueue | undefined;

/**
 * Java `Object.hashCode` of a selector argument: `String.hashCode` for strings, `Integer.hashCode`
 * (the value) for 32-bit integers, `Long.hashCode` for other integers, so a key lands on the queue a
 * Java producer using `SelectMessageQueueByHash` would pick.
 */
export function javaHashCode(arg: unknown): number {
  if (typeof arg === 'string') return javaStringHashCode(arg);
  if (typeof arg === 'number' && Number.isInteger(arg)) {
    if (arg >= -0x80000000 && arg <= 0x7fffffff) return arg;
    const big = BigInt.asUintN(64, BigInt(arg));
    return Number(BigInt.asIntN(32, big ^ (big >> 32n)));
  }
  if (typeof arg === 'bigint') {
    const big = BigInt.asUintN(64, arg);
    return Number(BigInt.asIntN(32, big ^ (big >> 32n)));
  }
  throw new InvalidArgumentError(`selectByHash needs a string or integer argument (a sharding key), got ${typeof arg}`);
}

/** `SelectMessageQueueByHash`: `abs(hashCode(arg) % size)`, Java's remainder semantics. */
export const selectByHash: QueueSelector = (queues, _message, arg) => {
  if (queues.length === 0) return undefined;
  const value = javaHashCode(arg) % queues.length;
  return queues[Math.abs(value)];
};

/** `SelectMessageQueueByRandom`. */
export const selectByRandom: QueueSelector = (queues) => (queues.length === 0 ? undefined : queues[Math.floor(Math.random() * queues.length)]);

export interface MachineRoomOptions {
  /** The machine room of a broker name (e.g. from a naming convention `room@broker`). */
  roomOf: (brokerName: string) => string | undefined;
  /** Rooms in order of preference. */
  rooms: readonly string[];
  /** How to pick among the queues of the chosen room (default: hash of the argument when it is a string or integer, else random). */
  inner?: QueueSelector;
}

/**
 * Machine-room selection. RocketMQ ships `SelectMessageQueueByMachineRoom` as a stub; this one
 * picks a queue in the first preferred room that has any, falling back room by room, and finally
 * to any queue when no preferred room has one.
 */
export function selectByMachineRoom(options: MachineRoomOptions): QueueSelector {
  const inner: QueueSelector =
    options.inner ?? ((queues, message, arg) => (typeof arg === 'string' || typeof arg === 'number' ? selectByHash(queues, message, arg) : selectByRandom(queues, message, arg)));
  return (queues, message, arg) => {
    for (const room of options.rooms) {
      const inRoom = queues.filter((q) => options.roomOf(q.brokerName) === room);
      if (inRoom.length > 0) return inner(inRoom, message, arg);
    }
    return inner(queues, message, arg);
  };
}
