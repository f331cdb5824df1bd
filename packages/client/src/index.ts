export { ClientInstance } from './client-instance.js';
export type { ClientStatus, ConsumerData, ConsumerMember, ProducerMember } from './client-instance.js';
export { ClientOptionsSchema, resolveClientOptions } from './client-options.js';
export type { ClientOptions, ResolvedClientOptions } from './client-options.js';
export { buildClientId, localIPv4 } from './client-id.js';
export { NameServerClient } from './nameserver-client.js';
export type { NameServerClientOptions } from './nameserver-client.js';
export { BrokerDataSchema, TopicRouteDataSchema, parseTopicRoute, publishQueues, subscribeQueues, sortQueues, queueKey, masterAddress, routeChanged } from './topic-route.js';
export type { TopicRouteData, QueueData, BrokerData, MessageQueue } from './topic-route.js';
