import type { BrokerContext } from './broker-context.js';

/** PULL_MESSAGE (11) with long polling. */
export function registerPullProcessor(_context: BrokerContext): void {}
