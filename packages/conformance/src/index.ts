export { AliOnsProcess } from './ali-ons-process.js';
export type { AliOnsProcessOptions, AliOnsMessage, AliOnsSendResult, AliOnsReceived, AliOnsSubscription } from './ali-ons-process.js';
export { aliOnsShardingQueue, pinnableShardingKeys } from './sharding-key.js';
