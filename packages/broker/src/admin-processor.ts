import type { BrokerContext } from './broker-context.js';

/** Topics, groups, queries, stats and broker config. */
export function registerAdminProcessor(_context: BrokerContext): void {}
