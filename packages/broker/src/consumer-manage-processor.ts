import type { BrokerContext } from './broker-context.js';

/** Offsets, heartbeats, consumer lists and orderly locks. */
export function registerConsumerManageProcessor(_context: BrokerContext): void {}
