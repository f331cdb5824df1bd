export { NameServer, startNameServer } from './name-server.js';
export type { NameServerOptions, NameServerEvent } from './name-server.js';
export { NameServerOptionsSchema, resolveNameServerOptions, nameServerOptionNames, RUNTIME_UPDATABLE_OPTIONS } from './name-server-options.js';
export type { NameServerOptionsInput, NameServerConfig } from './name-server-options.js';
export { RouteInfoManager } from './route-info-manager.js';
export type {
  BrokerConnection,
  BrokerLiveInfo,
  BrokerRemoval,
  RegisterBrokerInput,
  RegisterBrokerResult,
  RemovalReason,
  RouteInfoManagerOptions,
  UnregisterBrokerInput,
} from './route-info-manager.js';
export { KVConfigManager } from './kv-config-manager.js';
export type { KVConfigManagerOptions } from './kv-config-manager.js';
export { createNameServerHandlers } from './request-handlers.js';
export type { NameServerHandlerContext, NameServerRequestHandler } from './request-handlers.js';
export { decodeRegisterBrokerBody, encodeRegisterBrokerBody, emptyRegisterBrokerBody } from './register-broker-body.js';
export type { RegisterBrokerBody, DecodeRegisterBrokerBodyOptions } from './register-broker-body.js';
export { MASTER_ID, ORDER_TOPIC_CONFIG_NAMESPACE, sameDataVersion } from './route-data.js';
export type { BrokerData, ClusterInfo, DataVersion, QueueData, TopicConfig, TopicRouteData } from './route-data.js';
export { parseProperties, formatProperties } from '@karman/protocol';
export { brokerNameProblem, addressProblem } from './names.js';
export { writeFileAtomic, readFileWithBackup } from './atomic-file.js';
