/**
 * What request processors share: the broker's configuration, its store and tables, and the
 * services that outlive a request. Processors are plain functions registering handlers on the
 * server with this context, so each capability (send, pull, consumer management, admin) lives in
 * its own file and the `Broker` class only wires them together.
 */
import type { MessageStore } from '@karman/commitlog';
import type { HostAddress, RemotingServer } from '@karman/protocol';
import type { BrokerConfig } from './broker-config.js';
import type { ClientManager } from './client-manager.js';
import type { ConsumerOffsetManager } from './consumer-offset-manager.js';
import type { NameServerRegistrar } from './nameserver-registrar.js';
import type { PullRequestHoldService } from './pull-request-hold-service.js';
import type { RebalanceLockManager } from './rebalance-lock-manager.js';
import type { SubscriptionGroupManager } from './subscription-group-manager.js';
import type { TopicConfigManager } from './topic-config-manager.js';
import type { BrokerStats } from './broker-stats.js';
import type { ReplicationView } from './ha-service.js';

/** A structured log line: level, message, fields. */
export type BrokerLogger = (level: 'debug' | 'info' | 'warn' | 'error', message: string, fields?: Record<string, unknown>) => void;

export interface BrokerContext {
  readonly config: BrokerConfig;
  readonly store: MessageStore;
  readonly server: RemotingServer;
  readonly topics: TopicConfigManager;
  readonly groups: SubscriptionGroupManager;
  readonly offsets: ConsumerOffsetManager;
  readonly clients: ClientManager;
  readonly holds: PullRequestHoldService;
  readonly locks: RebalanceLockManager;
  readonly stats: BrokerStats;
  /** Delay of each level in ms (index 0 = level 1). */
  readonly delayLevels: readonly number[];
  /** Undefined when no nameserver is configured. */
  readonly registrar: NameServerRegistrar | undefined;
  /** `ip:port` this broker advertises. */
  readonly brokerAddr: string;
  readonly storeHost: HostAddress;
  readonly clock: () => number;
  readonly log: BrokerLogger;
  /** Replication state for runtime info and metrics (ha-service.ts); absent in contexts built by unit tests. */
  readonly replication?: ReplicationView;
  /** Re-register with the nameservers now (after a topic change); never throws. */
  topicsChanged(): void;
}
