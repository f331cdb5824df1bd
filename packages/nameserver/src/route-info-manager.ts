/**
 * The routing registry: RocketMQ's `RouteInfoManager`.
 *
 * Tables (as in RocketMQ):
 *   topicQueueTable    topic → (brokerName → QueueData)
 *   brokerAddrTable    brokerName → {cluster, brokerName, brokerAddrs: brokerId → "ip:port"}
 *   clusterAddrTable   cluster → set of brokerName
 *   brokerLiveTable    brokerAddr → {lastUpdateTimestamp, timeoutMillis, dataVersion, haServerAddr, connection}
 *   filterServerTable  brokerAddr → filter-server addresses
 *
 * RocketMQ guards these with one read-write lock. Here every method is synchronous and Node runs one
 * callback at a time, so each registration, removal or query sees and leaves the tables whole: that
 * is the "one writer at a time, reads in parallel" of RocketMQ's ReentrantReadWriteLock without a lock. Nothing here awaits.
 *
 * Time comes from an injected clock so expiry can be tested without waiting.
 */
import { InvalidArgumentError, Perm } from '@karman/protocol';
import { addressProblem, assertValid, brokerNameProblem, topicNameProblem } from './names.js';
import { MASTER_ID, sameDataVersion } from './route-data.js';
import type { BrokerData, ClusterInfo, DataVersion, QueueData, TopicConfig, TopicRouteData } from './route-data.js';

/** What the registry needs of a broker's connection: a way to close it when the broker expires. */
export interface BrokerConnection {
  close(reason?: string): void;
}

/** What the nameserver knows of a live broker address. */
export interface BrokerLiveInfo {
  /** Clock time of the last registration (or unchanged QUERY_DATA_VERSION) from this address. */
  lastUpdateTimestamp: number;
  /** Silence longer than this removes the broker. */
  timeoutMillis: number;
  dataVersion: DataVersion;
  haServerAddr: string;
  /** The connection the broker registered over, if any; closing it removes the broker. */
  connection: BrokerConnection | undefined;
}

/** A REGISTER_BROKER request, decoded. */
export interface RegisterBrokerInput {
  clusterName: string;
  brokerAddr: string;
  brokerName: string;
  brokerId: number;
  haServerAddr?: string;
  topicConfigs: readonly TopicConfig[];
  dataVersion: DataVersion;
  filterServerList?: readonly string[];
  connection?: BrokerConnection;
  /** 5.x `heartbeatTimeoutMillis`; the manager's `brokerExpiredMillis` when absent. */
  timeoutMillis?: number;
  /** 5.x `deleteTopicWithBrokerRegistration`: a master's changed registration drops the topics it no longer lists. */
  deleteTopicsNotListed?: boolean;
}

/** The answer to a registration: for a slave, where its master is and where to replicate from. */
export interface RegisterBrokerResult {
  masterAddr?: string;
  haServerAddr?: string;
}

/** Identifies a broker to unregister (UNREGISTER_BROKER's header). */
export interface UnregisterBrokerInput {
  clusterName: string;
  brokerAddr: string;
  brokerName: string;
  brokerId: number;
}

/** Why a broker address left the registry. */
export type RemovalReason = 'unregistered' | 'connection-closed' | 'expired';

/** A removed broker address, as reported to `onBrokerRemoved`. */
export interface BrokerRemoval {
  brokerAddr: string;
  brokerName: string | undefined;
  clusterName: string | undefined;
  reason: RemovalReason;
  /** True when the whole broker name left (its queue data and orphan topics went with it). */
  brokerNameRemoved: boolean;
}

/** Options of a `RouteInfoManager`. */
export interface RouteInfoManagerOptions {
  /** Clock in milliseconds. Default `Date.now`. */
  now?: () => number;
  /** Silence after which a broker is removed; RocketMQ's 120 s. Default 120_000. */
  brokerExpiredMillis?: number;
  /** Called for each broker address removed (logging, metrics). */
  onBrokerRemoved?: (removal: BrokerRemoval) => void;
}

interface StoredBrokerData {
  cluster: string;
  brokerName: string;
  brokerAddrs: Map<number, string>;
}

/**
 * A record keyed by names that came off the wire. RocketMQ's name rules allow "__proto__", which on a
 * plain object would set the prototype instead of adding an entry.
 */
function noPrototype<T>(): Record<string, T> {
  return Object.create(null) as Record<string, T>;
}

function copyBrokerData(data: StoredBrokerData): BrokerData {
  const brokerAddrs = noPrototype<string>();
  for (const id of [...data.brokerAddrs.keys()].sort((a, b) => a - b)) brokerAddrs[String(id)] = data.brokerAddrs.get(id)!;
  return { cluster: data.cluster, brokerName: data.brokerName, brokerAddrs };
}

/** The nameserver's route tables and the rules that change them. */
export class RouteInfoManager {
  private readonly topicQueueTable = new Map<string, Map<string, QueueData>>();
  private readonly brokerAddrTable = new Map<string, StoredBrokerData>();
  private readonly clusterAddrTable = new Map<string, Set<string>>();
  private readonly brokerLiveTable = new Map<string, BrokerLiveInfo>();
  private readonly filterServerTable = new Map<string, string[]>();
  private readonly now: () => number;
  /** Silence after which a broker registering from now on is removed; UPDATE_NAMESRV_CONFIG may change it. */
  brokerExpiredMillis: number;
  private readonly onBrokerRemoved: ((removal: BrokerRemoval) => void) | undefined;

  constructor(options: RouteInfoManagerOptions = {}) {
    this.now = options.now ?? Date.now;
    this.brokerExpiredMillis = options.brokerExpiredMillis ?? 120_000;
    if (!(this.brokerExpiredMillis > 0)) throw new InvalidArgumentError(`brokerExpiredMillis must be a positive number of milliseconds, got ${this.brokerExpiredMillis}`);
    this.onBrokerRemoved = options.onBrokerRemoved;
  }

  // -------------------------------------------------------------------------------------------
  // Registration

  /**
   * Apply a broker's registration. Every input is checked before any table changes, so a refused
   * registration (InvalidArgumentError) leaves the registry as it was.
   */
  registerBroker(input: RegisterBrokerInput): RegisterBrokerResult {
    assertValid(
      brokerNameProblem(input.clusterName, 'cluster name'),
      brokerNameProblem(input.brokerName, 'broker name'),
      addressProblem(input.brokerAddr),
      input.haServerAddr ? addressProblem(input.haServerAddr, 'HA server address') : undefined,
    );
    if (!Number.isInteger(input.brokerId) || input.brokerId < 0) {
      throw new InvalidArgumentError(`brokerId must be an integer ≥ 0 (0 = master), got ${input.brokerId}`);
    }
    for (const config of input.topicConfigs) assertValid(topicNameProblem(config.topicName));

    const { clusterName, brokerName, brokerAddr, brokerId } = input;
    // 1. The broker name joins its cluster; a new BrokerData is a first registration.
    let registerFirst = false;
    let brokerData = this.brokerAddrTable.get(brokerName);
    if (brokerData === undefined) {
      registerFirst = true;
      brokerData = { cluster: clusterName, brokerName, brokerAddrs: new Map() };
      this.brokerAddrTable.set(brokerName, brokerData);
    } else if (brokerData.cluster !== clusterName) {
      // The group moved cluster: leave the old cluster's set so no cluster lists it twice.
      this.leaveCluster(brokerData.cluster, brokerName);
      brokerData.cluster = clusterName;
    }
    let brokerNames = this.clusterAddrTable.get(clusterName);
    if (brokerNames === undefined) {
      brokerNames = new Set();
      this.clusterAddrTable.set(clusterName, brokerNames);
    }
    brokerNames.add(brokerName);

    // 2. "The same IP:PORT must only have one record in brokerAddrTable" (RocketMQ's comment): a
    // slave promoted to master re-registers its address as id 0, so its id-1 entry goes. We apply
    // the same rule across broker names, so a renamed broker leaves no orphan entry behind.
    for (const [id, addr] of brokerData.brokerAddrs) {
      if (addr === brokerAddr && id !== brokerId) brokerData.brokerAddrs.delete(id);
    }
    for (const other of [...this.brokerAddrTable.values()]) {
      if (other === brokerData) continue;
      for (const [id, addr] of other.brokerAddrs) if (addr === brokerAddr) other.brokerAddrs.delete(id);
      if (other.brokerAddrs.size === 0) this.removeBrokerName(other);
    }

    // 3. Put id → address.
    const oldAddr = brokerData.brokerAddrs.get(brokerId);
    brokerData.brokerAddrs.set(brokerId, brokerAddr);
    registerFirst ||= oldAddr === undefined;
    // The address this id had before belongs to no one now; forget its liveness.
    if (oldAddr !== undefined && oldAddr !== brokerAddr && !this.addressInUse(oldAddr)) {
      this.brokerLiveTable.delete(oldAddr);
      this.filterServerTable.delete(oldAddr);
    }

    // 4. Only the master's topic table rewrites queue data, and only when its version changed.
    if (brokerId === MASTER_ID && (registerFirst || this.isBrokerTopicConfigChanged(brokerAddr, input.dataVersion))) {
      for (const config of input.topicConfigs) this.createAndUpdateQueueData(brokerName, config);
      if (input.deleteTopicsNotListed) {
        const listed = new Set(input.topicConfigs.map((config) => config.topicName));
        for (const [topic, byBroker] of [...this.topicQueueTable]) {
          if (!listed.has(topic) && byBroker.delete(brokerName) && byBroker.size === 0) this.topicQueueTable.delete(topic);
        }
      }
    }

    // 5. Fresh liveness.
    this.brokerLiveTable.set(brokerAddr, {
      lastUpdateTimestamp: this.now(),
      timeoutMillis: input.timeoutMillis ?? this.brokerExpiredMillis,
      dataVersion: { timestamp: input.dataVersion.timestamp, counter: input.dataVersion.counter },
      haServerAddr: input.haServerAddr ?? '',
      connection: input.connection,
    });
    if (input.filterServerList !== undefined) {
      if (input.filterServerList.length === 0) this.filterServerTable.delete(brokerAddr);
      else this.filterServerTable.set(brokerAddr, [...input.filterServerList]);
    }

    // 6. A slave learns its master's address and HA address.
    const result: RegisterBrokerResult = {};
    if (brokerId !== MASTER_ID) {
      const masterAddr = brokerData.brokerAddrs.get(MASTER_ID);
      if (masterAddr !== undefined) {
        const masterLive = this.brokerLiveTable.get(masterAddr);
        if (masterLive !== undefined) {
          result.masterAddr = masterAddr;
          result.haServerAddr = masterLive.haServerAddr;
        }
      }
    }
    return result;
  }

  private createAndUpdateQueueData(brokerName: string, config: TopicConfig): void {
    let byBroker = this.topicQueueTable.get(config.topicName);
    if (byBroker === undefined) {
      byBroker = new Map();
      this.topicQueueTable.set(config.topicName, byBroker);
    }
    byBroker.set(brokerName, {
      brokerName,
      readQueueNums: config.readQueueNums,
      writeQueueNums: config.writeQueueNums,
      perm: config.perm,
      topicSysFlag: config.topicSysFlag,
    });
  }

  /** True when the stored version of this address differs from `dataVersion` (or none is stored). */
  isBrokerTopicConfigChanged(brokerAddr: string, dataVersion: DataVersion): boolean {
    return !sameDataVersion(this.brokerLiveTable.get(brokerAddr)?.dataVersion, dataVersion);
  }

  /** The data version last registered from this address. */
  queryBrokerDataVersion(brokerAddr: string): DataVersion | undefined {
    const version = this.brokerLiveTable.get(brokerAddr)?.dataVersion;
    return version && { ...version };
  }

  /** Count a message from this address as a sign of life (an unchanged QUERY_DATA_VERSION). */
  updateBrokerInfoUpdateTimestamp(brokerAddr: string): void {
    const live = this.brokerLiveTable.get(brokerAddr);
    if (live) live.lastUpdateTimestamp = this.now();
  }

  // -------------------------------------------------------------------------------------------
  // Removal

  /** UNREGISTER_BROKER. Returns false when the address was not registered. */
  unregisterBroker(input: UnregisterBrokerInput): boolean {
    return this.removeAddress(input.brokerAddr, 'unregistered', input.brokerName);
  }

  /**
   * The connection a broker registered over closed: remove every address registered over it, at
   * once, as RocketMQ's `BrokerHousekeepingService` does. Returns the removed addresses.
   */
  onConnectionClosed(connection: BrokerConnection): string[] {
    const removed: string[] = [];
    for (const [addr, live] of [...this.brokerLiveTable]) {
      if (live.connection === connection && this.removeAddress(addr, 'connection-closed')) removed.push(addr);
    }
    return removed;
  }

  /**
   * Remove every broker silent for longer than its timeout (`lastUpdateTimestamp + timeout < now`),
   * closing its connection. Returns the removed addresses.
   */
  scanNotActiveBrokers(): string[] {
    const now = this.now();
    const removed: string[] = [];
    for (const [addr, live] of [...this.brokerLiveTable]) {
      if (live.lastUpdateTimestamp + live.timeoutMillis < now) {
        // Remove first, then close: the close event then finds nothing left to remove. A connection
        // that still carries another live broker's registrations (a proxy, a test harness) stays open.
        const connection = live.connection;
        if (this.removeAddress(addr, 'expired')) removed.push(addr);
        if (connection !== undefined && !this.connectionInUse(connection)) {
          connection.close(`broker ${addr} sent nothing for ${now - live.lastUpdateTimestamp} ms`);
        }
      }
    }
    return removed;
  }

  /**
   * Remove one address and cascade: the live entry and filter servers; the address from its
   * BrokerData (matched by value); an emptied BrokerData, its name from its cluster, an emptied
   * cluster; and only for a broker name that is gone, its queue data and topics left without any.
   */
  private removeAddress(brokerAddr: string, reason: RemovalReason, brokerNameHint?: string): boolean {
    const wasLive = this.brokerLiveTable.delete(brokerAddr);
    this.filterServerTable.delete(brokerAddr);
    let found = false;
    let brokerName: string | undefined;
    let clusterName: string | undefined;
    let brokerNameRemoved = false;
    // The header's broker name first; but an address is found wherever it is, so a wrong name in an
    // UNREGISTER_BROKER cannot leave an address that would never expire.
    const candidates = brokerNameHint !== undefined && this.brokerAddrTable.has(brokerNameHint)
      ? [this.brokerAddrTable.get(brokerNameHint)!, ...[...this.brokerAddrTable.values()].filter((d) => d.brokerName !== brokerNameHint)]
      : [...this.brokerAddrTable.values()];
    for (const data of candidates) {
      for (const [id, addr] of data.brokerAddrs) {
        if (addr !== brokerAddr) continue;
        data.brokerAddrs.delete(id);
        found = true;
        brokerName = data.brokerName;
        clusterName = data.cluster;
      }
      if (found && data.brokerAddrs.size === 0 && this.brokerAddrTable.get(data.brokerName) === data) {
        this.removeBrokerName(data);
        brokerNameRemoved = true;
      }
      if (found) break;
    }
    if (wasLive || found) this.onBrokerRemoved?.({ brokerAddr, brokerName, clusterName, reason, brokerNameRemoved });
    return wasLive || found;
  }

  private removeBrokerName(data: StoredBrokerData): void {
    this.brokerAddrTable.delete(data.brokerName);
    this.leaveCluster(data.cluster, data.brokerName);
    for (const [topic, byBroker] of [...this.topicQueueTable]) {
      if (byBroker.delete(data.brokerName) && byBroker.size === 0) this.topicQueueTable.delete(topic);
    }
  }

  private leaveCluster(clusterName: string, brokerName: string): void {
    const names = this.clusterAddrTable.get(clusterName);
    if (names === undefined) return;
    names.delete(brokerName);
    if (names.size === 0) this.clusterAddrTable.delete(clusterName);
  }

  private connectionInUse(connection: BrokerConnection): boolean {
    for (const live of this.brokerLiveTable.values()) if (live.connection === connection) return true;
    return false;
  }

  private addressInUse(brokerAddr: string): boolean {
    for (const data of this.brokerAddrTable.values()) for (const addr of data.brokerAddrs.values()) if (addr === brokerAddr) return true;
    return false;
  }

  // -------------------------------------------------------------------------------------------
  // Queries

  /**
   * The route of a topic, or undefined when the topic has no queue data or none of its brokers is
   * registered (RocketMQ answers TOPIC_NOT_EXIST then). Returns copies; `orderTopicConf` is the
   * caller's to add from the KV config.
   */
  pickupTopicRouteData(topic: string): TopicRouteData | undefined {
    const byBroker = this.topicQueueTable.get(topic);
    if (byBroker === undefined || byBroker.size === 0) return undefined;
    const queueDatas: QueueData[] = [];
    const brokerDatas: BrokerData[] = [];
    const filterServerTable = noPrototype<string[]>();
    const names = [...byBroker.keys()].sort();
    for (const name of names) {
      queueDatas.push({ ...byBroker.get(name)! });
      const data = this.brokerAddrTable.get(name);
      if (data === undefined) continue;
      brokerDatas.push(copyBrokerData(data));
      for (const addr of data.brokerAddrs.values()) {
        const servers = this.filterServerTable.get(addr);
        if (servers) filterServerTable[addr] = [...servers];
      }
    }
    if (brokerDatas.length === 0) return undefined;
    return { queueDatas, brokerDatas, filterServerTable };
  }

  /** GET_BROKER_CLUSTER_INFO: every broker group and every cluster's broker names. */
  getClusterInfo(): ClusterInfo {
    const brokerAddrTable = noPrototype<BrokerData>();
    for (const name of [...this.brokerAddrTable.keys()].sort()) brokerAddrTable[name] = copyBrokerData(this.brokerAddrTable.get(name)!);
    const clusterAddrTable = noPrototype<string[]>();
    for (const cluster of [...this.clusterAddrTable.keys()].sort()) clusterAddrTable[cluster] = [...this.clusterAddrTable.get(cluster)!].sort();
    return { brokerAddrTable, clusterAddrTable };
  }

  /** Every topic with queue data. */
  getAllTopicList(): string[] {
    return [...this.topicQueueTable.keys()].sort();
  }

  /** Topics with queue data on any broker of the cluster. */
  getTopicsByCluster(clusterName: string): string[] {
    const brokerNames = this.clusterAddrTable.get(clusterName);
    if (brokerNames === undefined) return [];
    const topics: string[] = [];
    for (const [topic, byBroker] of this.topicQueueTable) {
      for (const name of brokerNames) {
        if (byBroker.has(name)) {
          topics.push(topic);
          break;
        }
      }
    }
    return topics.sort();
  }

  /** The live entry of an address, a copy (for tests and diagnostics). */
  getBrokerLiveInfo(brokerAddr: string): Omit<BrokerLiveInfo, 'connection'> | undefined {
    const live = this.brokerLiveTable.get(brokerAddr);
    if (live === undefined) return undefined;
    return { lastUpdateTimestamp: live.lastUpdateTimestamp, timeoutMillis: live.timeoutMillis, dataVersion: { ...live.dataVersion }, haServerAddr: live.haServerAddr };
  }

  /** Sizes of the tables (health, metrics). */
  stats(): { clusters: number; brokerNames: number; liveBrokers: number; topics: number } {
    return { clusters: this.clusterAddrTable.size, brokerNames: this.brokerAddrTable.size, liveBrokers: this.brokerLiveTable.size, topics: this.topicQueueTable.size };
  }

  // -------------------------------------------------------------------------------------------
  // Administrative changes

  /**
   * DELETE_TOPIC_IN_NAMESRV: forget a topic's queue data (only on the cluster's brokers when a
   * cluster is given). Returns whether anything was removed. The next registration of a broker that
   * still has the topic with a new data version brings it back, as in RocketMQ.
   */
  deleteTopic(topic: string, clusterName?: string): boolean {
    const byBroker = this.topicQueueTable.get(topic);
    if (byBroker === undefined) return false;
    if (clusterName === undefined || clusterName === '') return this.topicQueueTable.delete(topic);
    const names = this.clusterAddrTable.get(clusterName);
    if (names === undefined) return false;
    let removed = false;
    for (const name of names) removed = byBroker.delete(name) || removed;
    if (byBroker.size === 0) this.topicQueueTable.delete(topic);
    return removed;
  }

  /**
   * REGISTER_TOPIC_IN_NAMESRV: add queue data for a topic, for broker names that are registered
   * (others are skipped, as RocketMQ does). Returns how many queue datas were applied.
   */
  registerTopic(topic: string, queueDatas: readonly QueueData[]): number {
    assertValid(topicNameProblem(topic));
    let applied = 0;
    for (const queueData of queueDatas) {
      if (!this.brokerAddrTable.has(queueData.brokerName)) continue;
      this.createAndUpdateQueueData(queueData.brokerName, { topicName: topic, ...queueData, order: false });
      applied++;
    }
    return applied;
  }

  /** WIPE_WRITE_PERM_OF_BROKER: clear WRITE on every queue data of a broker name. Returns how many topics changed. */
  wipeWritePermOfBroker(brokerName: string): number {
    let count = 0;
    for (const byBroker of this.topicQueueTable.values()) {
      const queueData = byBroker.get(brokerName);
      if (queueData === undefined) continue;
      queueData.perm &= ~Perm.WRITE;
      count++;
    }
    return count;
  }

  /** ADD_WRITE_PERM_OF_BROKER: set READ and WRITE on every queue data of a broker name. Returns how many topics changed. */
  addWritePermOfBroker(brokerName: string): number {
    let count = 0;
    for (const byBroker of this.topicQueueTable.values()) {
      const queueData = byBroker.get(brokerName);
      if (queueData === undefined) continue;
      queueData.perm = Perm.READ | Perm.WRITE;
      count++;
    }
    return count;
  }
}
