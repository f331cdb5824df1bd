import type { BrokerContext } from './broker-context.js';

/** SEND_MESSAGE (10), SEND_MESSAGE_V2 (310), SEND_BATCH_MESSAGE (320), CONSUMER_SEND_MSG_BACK (36). */
export function registerSendProcessor(_context: BrokerContext): void {}
