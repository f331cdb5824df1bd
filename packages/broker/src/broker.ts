/**
 * `Broker`: a RocketMQ-compatible broker that runs in-process (tests, embedding) or behind the
 * `karman-broker` binary. It composes the commit-log store with the request processors on one
 * remoting server port (TCP, WebSocket and HTTP), keeps its topic, group and offset tables under
 * `<storePathRootDir>/config/`, and registers with every configured nameserver.
 *
 * Start order: pick the port (a free one when it is 0), open the store with that address as its
 * STOREHOST (recovering it after a crash), load the tables, register the processors, start the
 * timers, and only then listen and register with the nameservers: as RocketMQ's `BrokerController`
 * serves only once its store is loaded, no client ever meets a half-started broker. While the
 * store recovers, a connection is refused, which every client treats as "try another broker". Stop order is the reverse, so a clean stop unregisters first, answers held pulls,
 * persists offsets and closes the store last.
 */
import { createServer } from 'node:net';
import type { AddressInfo } from 'node:net';
import { networkInterfaces } from 'node:os';
import { basename, join } from 'node:path';
import { MessageStore, storeOptionsSchema } from '@karman/commitlog';
import type { StoreOptions } from '@karman/commitlog';
import { KarmanError, RemotingServer, RequestCode, createRequest, isReadable, isWriteable } from '@karman/protocol';
import type { ServerConnection } from '@karman/protocol';
import type { BrokerConfig, BrokerConfigInput } from './broker-config.js';
import { BrokerConfigSchema, parseDelayLevels, resolveBrokerConfig } from './broker-config.js';
import type { BrokerContext, BrokerLogger } from './broker-context.js';
import { BrokerStats } from './broker-stats.js';
import { METRICS_CONTENT_TYPE, renderMetrics } from './broker-metrics.js';
import { ClientManager } from './client-manager.js';
import { ConsumerOffsetManager } from './consumer-offset-manager.js';
import type { ConfigWriteReporter } from './json-config-file.js';
import { deletedPerTopic, describeDrops, unconsumedDrops } from './retention-drops.js';
import { NameServerRegistrar } from './nameserver-registrar.js';
import { PullRequestHoldService } from './pull-request-hold-service.js';
import { RebalanceLockManager } from './rebalance-lock-manager.js';
import { SubscriptionGroupManager } from './subscription-group-manager.js';
import { TopicConfigManager } from './topic-config-manager.js';
import { registerSendProcessor } from './send-message-processor.js';
import { registerPullProcessor } from './pull-message-processor.js';
import { registerConsumerManageProcessor } from './consumer-manage-processor.js';
import { registerAdminProcessor } from './admin-processor.js';
import { ScheduleMessageService } from './schedule-message-service.js';
import { HaClient } from './ha-client.js';
import { HaService } from './ha-service.js';
import type { ReplicationView } from './ha-service.js';
import { SlaveSynchronizer, registerMetadataExport } from './slave-synchronizer.js';

/** Store options a broker passes through (RocketMQ keeps them in the same broker.conf). */
export type BrokerStoreOptions = Omit<StoreOptions, 'storePathRootDir' | 'storeHost' | 'clock' | 'logger' | keyof BrokerConfigInput>;

export interface BrokerOptions extends BrokerConfigInput, BrokerStoreOptions {
  /** Milliseconds since the epoch; injectable for tests. */
  clock?: () => number;
  /** Structured log sink; default writes warnings and errors to stderr. */
  logger?: BrokerLogger;
}

const STORE_KEYS = new Set(Object.keys(storeOptionsSchema.shape));
const BROKER_KEYS = new Set(Object.keys(BrokerConfigSchema.shape));

const defaultLogger: BrokerLogger = (level, message, fields) => {
  if (level === 'warn' || level === 'error') console.error(`[karman-broker] ${level}: ${message}${fields ? ` ${JSON.stringify(fields)}` : ''}`);
};

export class Broker implements AsyncDisposable {
  private readonly timers: NodeJS.Timeout[] = [];
  private closing: Promise<void> | undefined;

  private constructor(
    /** Everything the processors share; exposed for tests and the admin tools. */
    readonly context: BrokerContext,
    private readonly schedule: ScheduleMessageService,
    private readonly haService: HaService | undefined,
    private readonly haClient: HaClient | undefined,
    private readonly synchronizer: SlaveSynchronizer | undefined,
  ) {}

  /** Start a broker. Rejects (after releasing what it opened) when the port or the store cannot be had. */
  static async start(options: BrokerOptions = {}): Promise<Broker> {
    const storeInput: Record<string, unknown> = {};
    const brokerInput: Record<string, unknown> = {};
    for (const [key, value] of Object.entries(options)) {
      if (value === undefined || key === 'clock' || key === 'logger') continue;
      if (STORE_KEYS.has(key)) storeInput[key] = value;
      if (BROKER_KEYS.has(key)) brokerInput[key] = value;
    }
    const config = resolveBrokerConfig(brokerInput);
    const clock = options.clock ?? Date.now;
    const log = options.logger ?? defaultLogger;
    const delayLevels = parseDelayLevels(config.messageDelayLevel);

    // The server is made before the context exists (its port is part of it); /metrics reads it once set.
    const contextRef: { current: BrokerContext | undefined } = { current: undefined };
    const port = config.listenPort !== 0 ? config.listenPort : await freePort(config.listenHost);
    const server = new RemotingServer({
      host: config.listenHost,
      port,
      maxConnections: config.maxConnections,
      maxConnectionsPerAddress: config.maxConnectionsPerAddress,
      maxInFlightRequestsPerConnection: config.maxInFlightRequestsPerConnection,
      maxBufferedIncompleteFrameBytes: config.maxBufferedIncompleteFrameBytes,
      frameCompleteTimeoutMillis: config.frameCompleteTimeoutMillis,
      refusalLogIntervalMillis: config.refusalLogIntervalMillis,
      onError: (error: Error, connection?: ServerConnection) => log('warn', error.message, connection ? { peer: connection.remoteAddress } : undefined),
      health: () => ({ status: 'ok', role: config.brokerRole, brokerName: config.brokerName }),
      http: (method, path) =>
        (method === 'GET' || method === 'HEAD') && path === '/metrics' && contextRef.current
          ? { status: 200, contentType: METRICS_CONTENT_TYPE, body: renderMetrics(contextRef.current) }
          : undefined,
    });
    const host = advertisedHost(config);
    const brokerAddr = `${host}:${port}`;
    let store: MessageStore;
    try {
      store = await MessageStore.open({
        ...(storeInput as BrokerStoreOptions),
        storePathRootDir: config.storePathRootDir,
        storeHost: { host, port },
        clock,
        logger: (level, message) => log(level, message),
      });
    } catch (error) {
      await server.close();
      throw error;
    }

    const configDir = join(config.storePathRootDir, 'config');
    const stats = new BrokerStats();
    // A table that cannot be written (a full disk) stays served from memory; its write is retried.
    const reporter: ConfigWriteReporter = {
      onError: (path, error) => {
        stats.recordConfigWriteFailure(basename(path));
        log('error', `could not write ${path} (${error.message}); it stays served from memory and the write is retried every flushConsumerOffsetInterval ${config.flushConsumerOffsetInterval} ms`);
      },
      onRecovered: (path, failures) => log('warn', `wrote ${path} after ${failures} failed attempt(s)`),
    };
    const topics = new TopicConfigManager({
      file: join(configDir, 'topics.json'),
      autoCreateTopicEnable: config.autoCreateTopicEnable,
      defaultTopicQueueNums: config.defaultTopicQueueNums,
      delayLevels: delayLevels.length,
      brokerClusterName: config.brokerClusterName,
      brokerName: config.brokerName,
      clock,
      reporter,
    });
    const groups = new SubscriptionGroupManager({ file: join(configDir, 'subscriptionGroup.json'), autoCreateSubscriptionGroup: config.autoCreateSubscriptionGroup, maxSubscriptionGroups: config.maxSubscriptionGroups, clock, reporter });
    const offsets = new ConsumerOffsetManager(join(configDir, 'consumerOffset.json'), reporter);
    try {
      for (const [file, skipped] of [['topics.json', topics.load()], ['subscriptionGroup.json', groups.load()]] as const) {
        for (const entry of skipped) log('warn', `${file}: left out ${entry}; it cannot be routed or used, recreate it under a valid name`);
      }
      offsets.load();
    } catch (error) {
      await store.close();
      await server.close();
      throw error;
    }

    const holds = new PullRequestHoldService({
      checkInterval: config.longPollingEnable ? config.pullRequestHoldCheckInterval : config.shortPollingTimeMills,
      maxHeld: config.maxHeldPullRequests,
      maxOffset: (topic, queueId) => store.getMaxOffsetInQueue(topic, queueId),
      clock,
    });
    const clients = new ClientManager({
      channelExpiredTimeout: config.channelExpiredTimeout,
      clock,
      onConsumerIdsChanged: (group, members) => {
        if (!config.notifyConsumerIdsChangedEnable || groups.get(group)?.notifyConsumerIdsChangedEnable === false) return;
        for (const member of members) {
          if (member.channel.closed) continue;
          try {
            member.channel.oneway(createRequest(RequestCode.NOTIFY_CONSUMER_IDS_CHANGED.code, { consumerGroup: group }));
          } catch (error) {
            log('debug', `could not notify ${member.clientId} of a change in ${group}`, { error: String(error) });
          }
        }
      },
    });
    const haClientRef: { current: HaClient | undefined } = { current: undefined };
    const registrar =
      config.namesrvAddr.trim().length > 0
        ? new NameServerRegistrar({
            nameservers: config.namesrvAddr.split(';').map((a) => a.trim()).filter(Boolean),
            identity: () => ({ clusterName: config.brokerClusterName, brokerName: config.brokerName, brokerId: config.brokerId, brokerAddr, haServerAddr: brokerAddr }),
            topics: () => registrationTopics(topics.serialize(), config.brokerPermission),
            period: config.registerNameServerPeriod,
            timeout: config.registerBrokerTimeoutMills,
            // a slave learns where to replicate from in the registration answer.
            onRegistered: (result) => haClientRef.current?.setMasterAddress(result.haServerAddr ?? result.masterAddr),
            onError: (nameserver, error) => log('warn', `registration with nameserver ${nameserver} failed: ${(error as Error).message}`),
          })
        : undefined;

    const isSlave = config.brokerRole === 'SLAVE';
    const haService = isSlave ? undefined : new HaService({ config, store, server, clock, log });
    const haClient = isSlave ? new HaClient({ config, store, selfAddr: brokerAddr, clock, log }) : undefined;
    haClientRef.current = haClient;
    const replication: ReplicationView = haService ?? {
      slaves: () => [],
      master: () => ({
        masterAddr: haClient?.masterAddress,
        connected: haClient?.connected ?? false,
        masterMaxOffset: haClient?.masterMaxOffset ?? 0,
        lagBytes: Math.max(0, (haClient?.masterMaxOffset ?? 0) - store.maxPhyOffset),
      }),
    };
    // refused in the store itself, so no path (sends, sends back, delays) can fork the copy.
    if (isSlave) store.refuseAppends(`broker ${config.brokerName} (id ${config.brokerId}) is a slave and does not accept messages; send to the master (broker id 0)`);

    const context: BrokerContext = {
      config,
      store,
      server,
      topics,
      groups,
      offsets,
      clients,
      holds,
      locks: new RebalanceLockManager(config.rebalanceLockMaxLiveTime, clock),
      stats,
      delayLevels,
      registrar,
      brokerAddr,
      storeHost: { host, port },
      clock,
      log,
      replication,
      topicsChanged: () => {
        registrar?.registerAll().catch((error: unknown) => log('warn', `re-registration failed: ${(error as Error).message}`));
      },
    };

    contextRef.current = context;
    registerSendProcessor(context);
    registerPullProcessor(context);
    registerConsumerManageProcessor(context);
    registerAdminProcessor(context);
    const schedule = new ScheduleMessageService(context, join(configDir, 'delayOffset.json'));

    registerMetadataExport(context, schedule);
    const synchronizer = isSlave ? new SlaveSynchronizer(context, () => haClient?.masterAddress, schedule) : undefined;

    const broker = new Broker(context, schedule, haService, haClient, synchronizer);
    store.onMessageArrival((topic, queueId, logicOffset, tagsCode) => holds.arriving(topic, queueId, logicOffset, tagsCode));
    store.onRetention((report) => {
      const drops = unconsumedDrops(report, offsets);
      for (const [topic, deleted] of deletedPerTopic(report)) stats.recordRetention(report.cause, topic, deleted, drops.get(topic) ?? new Map());
      const line = describeDrops(report, drops);
      if (line) log('warn', line);
    });
    server.on('disconnect', (connection: ServerConnection) => {
      clients.channelClosed(connection);
      holds.dropChannel(connection.id);
    });
    holds.start();
    // Delayed messages are delivered by the master only; a slave receives them through replication.
    if (!isSlave) schedule.start();
    else schedule.loadProgress();
    haService?.start();
    haClient?.start();
    synchronizer?.start();
    broker.every(config.flushConsumerOffsetInterval, async () => {
      await offsets.persist();
      await topics.retryPersist();
      await groups.retryPersist();
    });
    broker.every(config.clientHousekeepingInterval, async () => clients.scanExpired());
    try {
      await server.listen();
    } catch (error) {
      await broker.close();
      throw error;
    }
    await registrar?.start();
    log('info', `broker ${config.brokerName} (${config.brokerRole}, id ${config.brokerId}) listening on ${brokerAddr}`);
    return broker;
  }

  /** Resolved configuration. */
  get config(): BrokerConfig {
    return this.context.config;
  }

  /** `ip:port` clients and nameservers use for this broker. */
  get address(): string {
    return this.context.brokerAddr;
  }

  get port(): number {
    return this.context.storeHost.port;
  }

  /** Stop cleanly: unregister, answer held pulls, persist offsets and delay progress, close the store and the port. */
  close(): Promise<void> {
    this.closing ??= this.shutdown();
    return this.closing;
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }

  private async shutdown(): Promise<void> {
    const { registrar, holds, offsets, store, server, log } = this.context;
    for (const timer of this.timers) clearInterval(timer);
    await registrar?.stop().catch((error: unknown) => log('warn', `unregistration failed: ${(error as Error).message}`));
    holds.stop();
    this.synchronizer?.stop();
    this.haService?.stop();
    await this.haClient?.stop();
    await this.schedule.stop();
    await offsets.persist().catch((error: unknown) => log('error', `could not persist consumer offsets: ${(error as Error).message}`));
    await store.close();
    await server.close();
  }

  private every(ms: number, task: () => Promise<void>): void {
    let running = false;
    const timer = setInterval(() => {
      if (running) return;
      running = true;
      task()
        .catch((error: unknown) => this.context.log('warn', (error as Error).message))
        .finally(() => {
          running = false;
        });
    }, ms);
    timer.unref();
    this.timers.push(timer);
  }
}

/**
 * The topic table as registered: when the broker itself is not readable or not writable
 * (`brokerPermission`, e.g. after wipeWritePerm), every topic's permission is masked with it so
 * nameservers route accordingly, as RocketMQ's `registerBrokerAll` does.
 */
function registrationTopics(table: ReturnType<TopicConfigManager['serialize']>, brokerPermission: number): ReturnType<TopicConfigManager['serialize']> {
  if (isReadable(brokerPermission) && isWriteable(brokerPermission)) return table;
  const masked = Object.fromEntries(Object.entries(table.topicConfigTable).map(([name, t]) => [name, { ...t, perm: t.perm & brokerPermission }]));
  return { ...table, topicConfigTable: masked };
}

function advertisedHost(config: BrokerConfig): string {
  if (config.brokerIP1) return config.brokerIP1;
  if (config.listenHost !== '0.0.0.0' && config.listenHost !== '::') return config.listenHost;
  for (const addresses of Object.values(networkInterfaces())) {
    for (const a of addresses ?? []) if (a.family === 'IPv4' && !a.internal) return a.address;
  }
  return '127.0.0.1';
}

/**
 * A port on `host` that was free a moment ago, for `listenPort` 0: the store needs its STOREHOST
 * before the broker may listen. Another process could take it in between; the broker then fails
 * to start with LISTEN_FAILED naming the port (only tests ask for port 0).
 */
function freePort(host: string): Promise<number> {
  return new Promise((resolvePort, reject) => {
    const probe = createServer();
    probe.once('error', (error) => reject(new KarmanError('LISTEN_FAILED', `cannot find a free port on ${host}: ${error.message}`, { cause: error })));
    probe.listen(0, host, () => {
      const { port } = probe.address() as AddressInfo;
      probe.close(() => resolvePort(port));
    });
  });
}

