/**
 * The partition suite's cluster: every process in its own network namespace (netns.ts) on one
 * bridge, so a link between two of them can be cut or degraded while both keep running.
 *
 *   ns        the nameserver (brokerExpiredMillis 2 s, scanned every 200 ms)
 *   a0, a1    broker-a: a SYNC_MASTER and its slave
 *   b0        broker-b: an ASYNC_MASTER alone
 *   producer  keyed producers (../fixtures/keyed-producer.ts)
 *   c0, c1    two members of a consumer group (../fixtures/recording-consumer.ts)
 *   relay     the delaying TCP relay (fixtures/delaying-relay.ts)
 *
 * The test process reaches every node from its own namespace, for admin requests and for the
 * read-back: `readTopic` pulls every queue of a topic from one broker (master or slave) and
 * returns what is stored, so the scenarios judge by the stores, not by a client's opinion.
 */
import { mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { RemotingClient, RequestCode, ResponseCode, createRequest, decodeRecords } from '@karman/protocol';
import { startProcessCluster } from '@karman/testkit';
import type { ClusterMember, LoggedProcess, MemberPlacement, ProcessCluster } from '@karman/testkit';
import { BROKER_ARGS, FAST_EXPIRY_NAMESERVER_ARGS, spawnFixture, waitFor } from '../e2e-cluster.js';
import type { KeyedProducerArgs } from '../fixtures/keyed-producer.js';
import type { RecordingConsumerArgs } from '../fixtures/recording-consumer.js';
import type { DelayingRelayArgs } from './fixtures/delaying-relay.js';
import { expectedBody } from '../fixtures/message-body.js';
import { PartitionNetwork } from './netns.js';

/** Node names and their host numbers on the run's /24. */
const NODES = { ns: 1, a0: 2, a1: 3, b0: 4, producer: 5, c0: 6, c1: 7, relay: 8 } as const;
export type NodeName = keyof typeof NODES;

/** Queues per master for every scenario's topic. */
export const QUEUES = 4;

const BROKER_NODE: Record<string, NodeName> = { 'broker-a/0': 'a0', 'broker-a/1': 'a1', 'broker-b/0': 'b0' };

/**
 * Intervals the scenarios wait on, in milliseconds (RocketMQ's defaults in brackets): a
 * registration attempt gives up after 1 s [6 s]; a client silent 2 s is dropped, looked for every
 * 300 ms [120 s, 10 s]; a SYNC_MASTER send waits 500 ms for its slave [3 s]; a replication
 * connection silent 1.5 s is closed [20 s].
 */
const PARTITION_BROKER_ARGS: readonly string[] = [
  ...BROKER_ARGS,
  '--set', 'registerBrokerTimeoutMills=1000',
  '--set', 'channelExpiredTimeout=2000',
  '--set', 'clientHousekeepingInterval=300',
  '--set', 'slaveTimeout=500',
  '--set', 'haHousekeepingInterval=1500',
];

const relayFixture = fileURLToPath(new URL('./fixtures/delaying-relay.ts', import.meta.url));
const parentFixtures = fileURLToPath(new URL('../fixtures/', import.meta.url));

/** One acknowledged send, from a producer's acked file. */
export interface Ack {
  key: string;
  msgId: string;
  status: string;
  brokerName: string;
  queueId: number;
  queueOffset: number;
}

/** One message as a broker stores it. */
export interface StoredMessage {
  key: string;
  msgId: string;
  body: string;
  queueId: number;
  queueOffset: number;
}

export class PartitionRun {
  private readonly children: LoggedProcess[] = [];
  private readonly admin = new Map<string, RemotingClient>();
  private seq = 0;

  private constructor(
    readonly net: PartitionNetwork,
    readonly cluster: ProcessCluster,
    /** Record files of every scenario, one sub-folder each; removed on close. */
    readonly dir: string,
  ) {}

  static async start(): Promise<PartitionRun> {
    const net = PartitionNetwork.create();
    let cluster: ProcessCluster | undefined;
    try {
      for (const [name, host] of Object.entries(NODES)) net.addNode(name, host);
      const placement = (member: ClusterMember): MemberPlacement => {
        const node = net.node(member.kind === 'nameserver' ? 'ns' : BROKER_NODE[`${member.brokerName}/${member.brokerId}`]!);
        const args = member.kind === 'broker' && member.brokerName === 'broker-a' && member.brokerId === 0 ? ['--role', 'SYNC_MASTER'] : [];
        return { host: node.address, launcher: node.launcher, args };
      };
      cluster = await startProcessCluster({
        nameservers: 1,
        brokerNames: ['broker-a', 'broker-b'],
        slavesPerGroup: { 'broker-a': 1 },
        nameserverArgs: FAST_EXPIRY_NAMESERVER_ARGS,
        brokerArgs: PARTITION_BROKER_ARGS,
        masterArgs: ['--flush', 'SYNC_FLUSH'],
        placement,
        startTimeoutMillis: 30_000,
      });
      return new PartitionRun(net, cluster, mkdtempSync(join(tmpdir(), 'karman-partition-')));
    } catch (error) {
      await cluster?.close();
      net.close();
      throw error;
    }
  }

  /** A fresh record folder for one scenario. */
  scenarioDir(name: string): string {
    const dir = join(this.dir, name);
    mkdirSync(dir);
    return dir;
  }

  /** Start a keyed producer in the `producer` namespace; it appends its acknowledgements to `<dir>/acked-<n>.log`. */
  async startProducer(dir: string, options: Pick<KeyedProducerArgs, 'topic' | 'prefix' | 'count'> & Partial<KeyedProducerArgs>): Promise<LoggedProcess> {
    const seq = this.seq++;
    const args: KeyedProducerArgs = {
      nameservers: this.cluster.namesrvAddrs,
      group: `partition-producers-${seq}`,
      from: 0,
      concurrency: 4,
      pauseMillis: 5,
      giveUpMillis: 20_000,
      ackedPath: join(dir, `acked-${seq}.log`),
      ...options,
    };
    const child = this.spawn(`producer ${seq}`, join(parentFixtures, 'keyed-producer.ts'), args, 'producer');
    await child.waitForLine((l) => l.msg === 'ready', 'producer ready', 30_000);
    return child;
  }

  /** Start a consumer-group member in namespace `node`; its deliveries go to `<dir>/record-<node>.log`. */
  startConsumer(dir: string, node: NodeName, options: { topic: string; group: string }): LoggedProcess {
    const args: RecordingConsumerArgs = {
      nameservers: this.cluster.namesrvAddrs,
      topic: options.topic,
      group: options.group,
      dedupPath: join(dir, 'dedup.sqlite'),
      recordPath: join(dir, `record-${node}.log`),
      processingTimeout: 2_000,
    };
    return this.spawn(`consumer ${node}`, join(parentFixtures, 'recording-consumer.ts'), args, node);
  }

  /** Start the delaying relay; resolves with its ports, one per route, in order. */
  async startRelay(options: Omit<DelayingRelayArgs, 'routes'> & { targets: readonly string[] }): Promise<{ relay: LoggedProcess; ports: number[] }> {
    const address = this.net.node('relay').address;
    const args: DelayingRelayArgs = { ...options, routes: options.targets.map((target) => ({ listen: `${address}:0`, target })) };
    const relay = this.spawn('relay', relayFixture, args, 'relay');
    const ready = await relay.waitForLine((l) => l.msg === 'ready', 'relay ready', 30_000);
    return { relay, ports: ready.ports as number[] };
  }

  /** Create `topic` with QUEUES queues on each master named (both by default) and wait for its route. */
  async createTopic(topic: string, brokers: readonly string[] = ['broker-a', 'broker-b']): Promise<void> {
    await this.cluster.createTopic(topic, { queues: QUEUES, brokers });
  }

  /** The broker names the nameserver routes `topic` to (with a master address), now. */
  async routedBrokers(topic: string): Promise<string[]> {
    const response = await this.client(this.cluster.namesrvAddr).request(createRequest(RequestCode.GET_ROUTEINFO_BY_TOPIC.code, { topic }), { timeoutMillis: 2_000 });
    if (response.code !== ResponseCode.SUCCESS.code) return [];
    const route = JSON.parse(Buffer.from(response.body ?? []).toString('utf8')) as { brokerDatas: Array<{ brokerName: string; brokerAddrs: Record<string, string> }> };
    return route.brokerDatas.filter((b) => b.brokerAddrs['0'] !== undefined).map((b) => b.brokerName).sort();
  }

  /** Wait until the nameserver routes `topic` to exactly `brokers`. */
  async waitForRoutedBrokers(topic: string, brokers: readonly string[], what: string, timeoutMillis = 10_000): Promise<void> {
    const want = [...brokers].sort().join(',');
    const deadline = Date.now() + timeoutMillis;
    let routed: string[];
    while ((routed = await this.routedBrokers(topic)).join(',') !== want) {
      if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMillis} ms waiting for ${what}: the nameserver routes ${topic} to [${routed.join(', ')}], expected [${want}]`);
      await new Promise((r) => setTimeout(r, 100));
    }
  }

  /**
   * Every message of `topic` stored on the broker at `address` (a master or a slave), read with
   * PULL_MESSAGE queue by queue from offset 0 to the queue's end.
   */
  async readTopic(address: string, topic: string, queues = QUEUES): Promise<StoredMessage[]> {
    const client = this.client(address);
    const out: StoredMessage[] = [];
    for (let queueId = 0; queueId < queues; queueId++) {
      const max = await this.maxOffset(address, topic, queueId);
      let offset = 0;
      while (offset < max) {
        const response = await client.request(
          createRequest(RequestCode.PULL_MESSAGE.code, {
            consumerGroup: 'partition-checker',
            topic,
            queueId,
            queueOffset: offset,
            maxMsgNums: 1024,
            sysFlag: 4, // SUBSCRIPTION: the request carries its own subscription
            commitOffset: 0,
            suspendTimeoutMillis: 0,
            subscription: '*',
            subVersion: Date.now(),
            expressionType: 'TAG',
          }),
          { timeoutMillis: 5_000 },
        );
        if (response.code !== ResponseCode.SUCCESS.code) {
          throw new Error(`reading ${topic} queue ${queueId} at offset ${offset} from ${address} (max ${max}): code ${response.code} ${response.remark ?? ''}`);
        }
        const records = decodeRecords(Buffer.from(response.body ?? []));
        for (const r of records) {
          out.push({ key: r.properties.KEYS ?? '', msgId: r.properties.UNIQ_KEY ?? '', body: r.body.toString('utf8'), queueId, queueOffset: r.queueOffset });
        }
        const next = Number(response.extFields.nextBeginOffset);
        if (!(next > offset)) throw new Error(`reading ${topic} queue ${queueId} from ${address}: nextBeginOffset ${next} did not move past ${offset}`);
        offset = next;
      }
    }
    return out;
  }

  /** Every message of `topic` stored on the two masters. */
  async readMasters(topic: string): Promise<StoredMessage[]> {
    const stored = await Promise.all(['broker-a', 'broker-b'].map((name) => this.readTopic(this.cluster.brokerAddr(name, 0), topic)));
    return stored.flat();
  }

  /** GET_MAX_OFFSET of one queue on the broker at `address`. */
  async maxOffset(address: string, topic: string, queueId: number): Promise<number> {
    const response = await this.client(address).request(createRequest(RequestCode.GET_MAX_OFFSET.code, { topic, queueId }), { timeoutMillis: 5_000 });
    if (response.code !== ResponseCode.SUCCESS.code) throw new Error(`GET_MAX_OFFSET ${topic}/${queueId} on ${address}: code ${response.code} ${response.remark ?? ''}`);
    return Number(response.extFields.offset);
  }

  /** Stop every child of the scenarios (producers, consumers, relay) and heal every link. */
  async endScenario(): Promise<void> {
    this.net.heal();
    await Promise.all(this.children.splice(0).map((c) => c.stop(5_000)));
  }

  async close(): Promise<void> {
    await Promise.all(this.children.splice(0).map((c) => c.kill()));
    await Promise.all([...this.admin.values()].map((c) => c.close().catch(() => undefined)));
    try {
      await this.cluster.close();
    } finally {
      this.net.close();
      rmSync(this.dir, { recursive: true, force: true });
    }
  }

  private client(address: string): RemotingClient {
    let client = this.admin.get(address);
    if (!client) {
      client = new RemotingClient(`tcp://${address}`);
      this.admin.set(address, client);
    }
    return client;
  }

  private spawn(name: string, path: string, args: object, node: NodeName): LoggedProcess {
    const child = spawnFixture(name, path, args, this.net.node(node).launcher);
    this.children.push(child);
    return child;
  }
}

/** Every acknowledged send recorded in `dir`'s acked files. */
export function readAcks(dir: string): Ack[] {
  const acks: Ack[] = [];
  for (const file of readdirSync(dir).filter((f) => f.startsWith('acked-'))) {
    for (const line of readFileSync(join(dir, file), 'utf8').split('\n')) {
      if (line === '') continue;
      const [key, msgId, status, brokerName, queueId, queueOffset] = line.split(' ') as [string, string, string, string, string, string];
      acks.push({ key, msgId, status, brokerName, queueId: Number(queueId), queueOffset: Number(queueOffset) });
    }
  }
  return acks;
}

/** What the consumers in `dir` recorded, per key (lines of ../fixtures/recording-consumer.ts). */
export interface Deliveries {
  /** Every delivery. */
  all: Map<string, number>;
  /** Deliveries from the topic itself (reconsumeTimes 0), not retry-topic copies. */
  fromTopic: Map<string, number>;
  /** Runs of the business handler behind the dedup helper. */
  processed: Map<string, number>;
}

export function readDeliveries(dir: string): Deliveries {
  const result: Deliveries = { all: new Map(), fromTopic: new Map(), processed: new Map() };
  const add = (map: Map<string, number>, key: string): void => void map.set(key, (map.get(key) ?? 0) + 1);
  for (const file of readdirSync(dir).filter((f) => f.startsWith('record-'))) {
    for (const line of readFileSync(join(dir, file), 'utf8').split('\n')) {
      const [kind, key, , reconsumeTimes] = line.split(' ');
      if (key === undefined) continue;
      if (kind === 'p') add(result.processed, key);
      if (kind !== 'd') continue;
      add(result.all, key);
      if (reconsumeTimes === '0') add(result.fromTopic, key);
    }
  }
  return result;
}

/**
 * Every delivery of `keys`, for a failure message: `key: member broker/queue@offset +ms (retry n)`,
 * ms counted from `since`.
 */
export function deliveryTrail(dir: string, keys: readonly string[], since: number): string[] {
  const wanted = new Set(keys);
  const trail = new Map<string, string[]>();
  for (const file of readdirSync(dir).filter((f) => f.startsWith('record-'))) {
    const member = file.slice('record-'.length, -'.log'.length);
    for (const line of readFileSync(join(dir, file), 'utf8').split('\n')) {
      const [kind, key, , reconsumeTimes, brokerName, queueId, queueOffset, at] = line.split(' ');
      if (kind !== 'd' || key === undefined || !wanted.has(key)) continue;
      trail.set(key, [...(trail.get(key) ?? []), `${member} ${brokerName}/${queueId}@${queueOffset} +${Number(at) - since}ms (retry ${reconsumeTimes})`]);
    }
  }
  return [...trail].map(([key, entries]) => `${key}: ${entries.join(', ')}`);
}

export { waitFor };

/** What the read-back found for a scenario's acknowledged sends. */
export interface ReadBack {
  acked: number;
  /** Acknowledged message ids not stored. */
  lost: string[];
  /** Acknowledged message ids stored with another key or body than was sent. */
  changed: string[];
  /** Stored copies beyond the first of one message id (a retry whose first attempt was stored too). */
  duplicateCopies: number;
  /** Keys stored under more than one message id (the application sent the key again after a failed send). */
  resentKeys: number;
}

/** Compare every acknowledged send with what the stores hold: by message id, key and body. */
export function readBack(acks: readonly Ack[], stored: readonly StoredMessage[]): ReadBack {
  const byId = new Map<string, StoredMessage[]>();
  const idsByKey = new Map<string, Set<string>>();
  for (const m of stored) {
    byId.set(m.msgId, [...(byId.get(m.msgId) ?? []), m]);
    idsByKey.set(m.key, (idsByKey.get(m.key) ?? new Set()).add(m.msgId));
  }
  const lost: string[] = [];
  const changed: string[] = [];
  for (const ack of acks) {
    const copies = byId.get(ack.msgId);
    if (!copies) lost.push(`${ack.key} (${ack.msgId}, ${ack.status} on ${ack.brokerName})`);
    else if (copies.some((m) => m.key !== ack.key || m.body !== expectedBody(ack.key))) changed.push(`${ack.key} (${ack.msgId})`);
  }
  return {
    acked: acks.length,
    lost,
    changed,
    duplicateCopies: [...byId.values()].reduce((n, copies) => n + copies.length - 1, 0),
    resentKeys: [...idsByKey.values()].filter((ids) => ids.size > 1).length,
  };
}
