export { Broker } from './broker.js';
export type { BrokerOptions, BrokerStoreOptions } from './broker.js';
export { BrokerConfigSchema, BrokerRole, DEFAULT_DELAY_LEVELS, resolveBrokerConfig, parseDelayLevels } from './broker-config.js';
export type { BrokerConfig, BrokerConfigInput } from './broker-config.js';
export type { BrokerContext, BrokerLogger } from './broker-context.js';
export type { TopicConfig, DataVersion } from './topic-config-manager.js';
export type { SubscriptionGroupConfig } from './subscription-group-manager.js';
export { renderMetrics, METRICS_CONTENT_TYPE } from './broker-metrics.js';
