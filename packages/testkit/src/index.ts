export { TestCluster, startCluster, uniqueName } from './cluster.js';
export type { ClusterOptions, BrokerSpec, ClusterBroker, CreateTopicOptions } from './cluster.js';
