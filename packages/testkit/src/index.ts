export { TestCluster, startCluster, uniqueName } from './cluster.js';
export type { ClusterOptions, BrokerSpec, ClusterBroker, CreateTopicOptions } from './cluster.js';
export { LoggedProcess, ProcessCluster, SMALL_STORE_ARGS, runKarmanAdmin, startProcessCluster } from './process-cluster.js';
export type { CliResult, ClusterMember, LogLine, MemberPlacement, ProcessClusterOptions } from './process-cluster.js';
export { serviceMissing } from './service-skip.js';
