/**
 * An in-process Karman cluster for tests: nameservers and brokers on ephemeral
 * ports with temporary store folders, unique per cluster. Brokers can be stopped and started again
 * on the same port and store (failover tests); nameservers likewise. Everything is released by
 * `await using cluster = await startCluster(...)`.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Broker } from '@karman/broker';
import type { BrokerOptions } from '@karman/broker';
import { NameServer } from '@karman/nameserver';
import type { NameServerOptions } from '@karman/nameserver';
import { KarmanError, RemotingClient } from '@karman/protocol';
import { createTopicOn, waitForRouteOn } from './admin-requests.js';

export interface BrokerSpec {
  brokerName: string;
  /** 0 (default) for a master; ≥ 1 for a slave. */
  brokerId?: number;
  options?: BrokerOptions;
}

export interface ClusterOptions {
  /** How many nameservers (1). */
  nameservers?: number;
  /** Broker specs, or a count of masters named broker-a, broker-b, ... (1). */
  brokers?: BrokerSpec[] | number;
  /** Options for every broker (per-broker `options` win). */
  brokerOptions?: BrokerOptions;
  /** Options for every nameserver. */
  nameserverOptions?: NameServerOptions;
  clusterName?: string;
}

export interface ClusterBroker {
  readonly brokerName: string;
  readonly brokerId: number;
  /** The running broker; undefined while stopped. */
  readonly broker: Broker | undefined;
  /** `127.0.0.1:port`, stable across stop/start. */
  readonly address: string;
  readonly storeDir: string;
}

export interface CreateTopicOptions {
  /** Read and write queues per broker (4). */
  queues?: number;
  /** Broker names to create it on (all masters). */
  brokers?: string[];
  /** Permission bits (6 = read + write). */
  perm?: number;
  order?: boolean;
}

interface BrokerSlot {
  spec: BrokerSpec;
  broker: Broker | undefined;
  port: number;
  storeDir: string;
}

export class TestCluster implements AsyncDisposable {
  private readonly nameserverSlots: Array<{ server: NameServer | undefined; port: number }> = [];
  private readonly brokerSlots: BrokerSlot[] = [];
  private readonly admin = new Map<string, RemotingClient>();

  private constructor(
    private readonly root: string,
    private readonly options: ClusterOptions,
  ) {}

  static async start(options: ClusterOptions = {}): Promise<TestCluster> {
    const cluster = new TestCluster(mkdtempSync(join(tmpdir(), 'karman-cluster-')), options);
    try {
      for (let i = 0; i < (options.nameservers ?? 1); i++) {
        cluster.nameserverSlots.push({ server: undefined, port: 0 });
        await cluster.startNameServer(i);
      }
      const specs = typeof options.brokers === 'number' || options.brokers === undefined ? masters(options.brokers ?? 1) : options.brokers;
      for (const spec of specs) {
        const id = spec.brokerId ?? 0;
        cluster.brokerSlots.push({ spec, broker: undefined, port: 0, storeDir: join(cluster.root, `${spec.brokerName}-${id}`) });
        await cluster.startBroker(spec.brokerName, id);
      }
    } catch (error) {
      await cluster.close();
      throw error;
    }
    return cluster;
  }

  /** `host:port` of each nameserver, stable across stop/start. */
  get nameservers(): string[] {
    return this.nameserverSlots.map((s) => `127.0.0.1:${s.port}`);
  }

  /** The nameserver list as RocketMQ's `namesrvAddr` (`a;b`). */
  get namesrvAddr(): string {
    return this.nameservers.join(';');
  }

  get brokers(): ClusterBroker[] {
    return this.brokerSlots.map((s) => ({
      brokerName: s.spec.brokerName,
      brokerId: s.spec.brokerId ?? 0,
      broker: s.broker,
      address: `127.0.0.1:${s.port}`,
      storeDir: s.storeDir,
    }));
  }

  /** The running broker of a name and id (master by default); throws when it is stopped. */
  broker(brokerName: string, brokerId = 0): Broker {
    const broker = this.slot(brokerName, brokerId).broker;
    if (!broker) throw new KarmanError('BROKER_STOPPED', `broker ${brokerName}/${brokerId} is stopped`);
    return broker;
  }

  async startNameServer(index: number): Promise<void> {
    const slot = this.nameserverSlots[index];
    if (!slot) throw new KarmanError('NO_SUCH_NAMESERVER', `no nameserver #${index}`);
    if (slot.server) return;
    const server = new NameServer({
      bindAddress: '127.0.0.1',
      listenPort: slot.port,
      dataDir: join(this.root, `nameserver-${index}`),
      ...this.options.nameserverOptions,
    });
    await server.start();
    slot.server = server;
    slot.port = server.port;
  }

  /** Stop a nameserver; brokers and clients fail over to the others. */
  async stopNameServer(index: number): Promise<void> {
    const slot = this.nameserverSlots[index];
    await slot?.server?.close();
    if (!slot) return;
    slot.server = undefined;
    const address = `127.0.0.1:${slot.port}`;
    const client = this.admin.get(address);
    this.admin.delete(address);
    await client?.close();
  }

  /**
   * Start a stopped broker on its port and store. `options` apply to this start only, over the
   * spec's (e.g. a slave restarted with an `haMasterAddress` it cannot reach, so it stops copying).
   */
  async startBroker(brokerName: string, brokerId = 0, options: BrokerOptions = {}): Promise<Broker> {
    const slot = this.slot(brokerName, brokerId);
    if (slot.broker) return slot.broker;
    const broker = await Broker.start({
      listenHost: '127.0.0.1',
      listenPort: slot.port,
      storePathRootDir: slot.storeDir,
      brokerClusterName: this.options.clusterName ?? 'DefaultCluster',
      brokerName,
      brokerId,
      brokerRole: brokerId === 0 ? 'ASYNC_MASTER' : 'SLAVE',
      namesrvAddr: this.namesrvAddr,
      mappedFileSizeCommitLog: 4 * 1024 * 1024,
      mappedFileSizeConsumeQueue: 20 * 10_000,
      maxHashSlotNum: 10_000,
      maxIndexNum: 40_000,
      cleanResourceInterval: 0,
      logger: () => {},
      ...this.options.brokerOptions,
      ...slot.spec.options,
      ...options,
    });
    slot.broker = broker;
    slot.port = broker.port;
    return broker;
  }

  /** Stop a broker cleanly (it unregisters from the nameservers); `startBroker` brings it back on the same port and store. */
  async stopBroker(brokerName: string, brokerId = 0): Promise<void> {
    const slot = this.slot(brokerName, brokerId);
    const broker = slot.broker;
    slot.broker = undefined;
    await broker?.close();
    const client = this.admin.get(`127.0.0.1:${slot.port}`);
    this.admin.delete(`127.0.0.1:${slot.port}`);
    await client?.close();
  }

  /**
   * Create a topic on the given brokers (all masters by default) through UPDATE_AND_CREATE_TOPIC,
   * then wait until every running nameserver routes it to all of them.
   */
  async createTopic(topic: string, options: CreateTopicOptions = {}): Promise<void> {
    const targets = this.brokerSlots.filter((s) => (s.spec.brokerId ?? 0) === 0 && (!options.brokers || options.brokers.includes(s.spec.brokerName)));
    if (targets.length === 0) throw new KarmanError('NO_SUCH_BROKER', `no master broker matches ${JSON.stringify(options.brokers)}`);
    for (const slot of targets) {
      if (!slot.broker) throw new KarmanError('BROKER_STOPPED', `broker ${slot.spec.brokerName} is stopped`);
      await createTopicOn(this.adminClient(`127.0.0.1:${slot.port}`), slot.spec.brokerName, topic, options);
    }
    await this.waitForRoute(topic, targets.map((s) => s.spec.brokerName));
  }

  /** Wait until every running nameserver routes `topic` to each of `brokerNames`. */
  async waitForRoute(topic: string, brokerNames: string[], timeoutMillis = 10_000): Promise<void> {
    const deadline = Date.now() + timeoutMillis;
    for (const slot of this.nameserverSlots) {
      if (slot.server) await waitForRouteOn(this.adminClient(`127.0.0.1:${slot.port}`), topic, brokerNames, deadline);
    }
  }

  async close(): Promise<void> {
    await Promise.all([...this.admin.values()].map((c) => c.close()));
    this.admin.clear();
    for (const slot of this.brokerSlots) {
      const broker = slot.broker;
      slot.broker = undefined;
      await broker?.close().catch(() => undefined);
    }
    for (const slot of this.nameserverSlots) {
      await slot.server?.close().catch(() => undefined);
      slot.server = undefined;
    }
    rmSync(this.root, { recursive: true, force: true });
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }

  private slot(brokerName: string, brokerId: number): BrokerSlot {
    const slot = this.brokerSlots.find((s) => s.spec.brokerName === brokerName && (s.spec.brokerId ?? 0) === brokerId);
    if (!slot) throw new KarmanError('NO_SUCH_BROKER', `no broker ${brokerName}/${brokerId} in this cluster`);
    return slot;
  }

  private adminClient(address: string): RemotingClient {
    let client = this.admin.get(address);
    if (!client) {
      client = new RemotingClient(`tcp://${address}`, { reconnect: false });
      this.admin.set(address, client);
    }
    return client;
  }
}

/** Start a cluster: `await using cluster = await startCluster({ brokers: 2, nameservers: 2 })`. */
export function startCluster(options: ClusterOptions = {}): Promise<TestCluster> {
  return TestCluster.start(options);
}

function masters(count: number): BrokerSpec[] {
  return Array.from({ length: count }, (_, i) => ({ brokerName: `broker-${String.fromCharCode(97 + i)}` }));
}

let counter = 0;
/** A topic or group name unique to this process and call. */
export function uniqueName(prefix: string): string {
  counter += 1;
  return `${prefix}_${process.pid}_${counter}_${Math.random().toString(36).slice(2, 8)}`;
}
