export { Producer } from './producer.js';
export type { SendOptions, PreparedMessage } from './producer.js';
export { ProducerOptionsSchema, resolveProducerOptions } from './producer-options.js';
export type { ProducerOptions, ResolvedProducerOptions } from './producer-options.js';
export { SendStatus } from './message.js';
export type { Message, SendResult } from './message.js';
export { selectByHash, selectByRandom, selectByMachineRoom, javaHashCode } from './queue-selector.js';
export type { QueueSelector, MachineRoomOptions } from './queue-selector.js';
export { LatencyFaultTolerance, LATENCY_MAX, NOT_AVAILABLE_DURATION, ISOLATION_LATENCY } from './fault-strategy.js';
export type { MessageQueue } from '@karman/client';
// The errors a caller catches, so `instanceof` works without importing @karman/protocol.
export { KarmanError, RequestTimeoutError, ConnectionClosedError, RemoteError, InvalidArgumentError, ProtocolError, ERROR_CODES } from '@karman/protocol';
export type { KarmanErrorCode } from '@karman/protocol';
