/**
 * One client instance per process, client id and nameserver list (RocketMQ `MQClientInstance`),
 * shared by every producer and consumer that asks for the same: it owns the nameserver
 * connection with failover, the route cache and its refresh every `pollNameServerInterval`, the
 * broker connections, the heartbeat to every broker every `heartbeatBrokerInterval` (and at once
 * when groups or subscriptions change), and answers to server-initiated requests (members changed,
 * offset reset, consumer status: handed to the group's consumer). Producers and
 * consumers register as members; the instance shuts down when the last one leaves.
 */
import { EventEmitter } from 'node:events';
import { InvalidArgumentError, RemoteError, RemotingClient, RequestCode, ResponseCode, SerializeType, createRequest, createResponse, encodeQueueOffsets, isOneway, parseRemotingJson, readQueueOffsets } from '@karman/protocol';
import type { ExtFieldValue, QueueOffset, RemotingCommand } from '@karman/protocol';
import { buildClientId, localIPv4 } from './client-id.js';
import type { ClientOptions, ResolvedClientOptions } from './client-options.js';
import { resolveClientOptions } from './client-options.js';
import { NameServerClient, withScheme } from './nameserver-client.js';
import type { TopicRouteData } from './topic-route.js';
import { parseTopicRoute, routeChanged } from './topic-route.js';

/** A consumer group's heartbeat entry (RocketMQ `ConsumerData`). */
export interface ConsumerData {
  groupName: string;
  consumeType: 'CONSUME_ACTIVELY' | 'CONSUME_PASSIVELY';
  messageModel: 'CLUSTERING' | 'BROADCASTING';
  consumeFromWhere: string;
  subscriptionDataSet: Array<{ topic: string; subString: string; tagsSet: string[]; codeSet: number[]; subVersion: number; expressionType: string; classFilterMode: boolean }>;
  unitMode: boolean;
}

/** A producer registered with the instance. */
export interface ProducerMember {
  group: string;
}

/** A consumer registered with the instance. */
export interface ConsumerMember {
  group: string;
  consumerData(): ConsumerData;
  /** Topics whose routes this consumer needs refreshed. */
  topics(): string[];
  /** A broker said the group's members changed (NOTIFY_CONSUMER_IDS_CHANGED). */
  onConsumerIdsChanged?(): void;
  /** A subscribed topic's route changed. */
  onRouteChanged?(topic: string, route: TopicRouteData): void;
  /**
   * A broker reset the group's offsets of `topic` (RESET_CONSUMER_CLIENT_OFFSET, pushed by an
   * admin's resetOffsetByTime): continue each listed queue this member holds from its new offset.
   */
  resetOffset?(topic: string, offsets: QueueOffset[]): Promise<void>;
  /** This member's in-memory offsets of `topic` (GET_CONSUMER_STATUS_FROM_CLIENT). */
  consumerStatus?(topic: string): Promise<QueueOffset[]>;
}

/** What the instance reports as it runs. */
export type ClientStatus =
  | { type: 'nameserver_switched'; from: string; to: string; reason: string }
  | { type: 'route_updated'; topic: string; route: TopicRouteData }
  | { type: 'route_failed'; topic: string; error: Error }
  | { type: 'heartbeat_failed'; broker: string; error: Error }
  | { type: 'broker_dropped'; broker: string }
  | { type: 'offset_reset_unreadable'; topic: string; reason: string };

const registry = new Map<string, ClientInstance>();

export class ClientInstance {
  readonly clientId: string;
  readonly options: ResolvedClientOptions;
  private readonly nameserver: NameServerClient;
  private readonly routes = new Map<string, TopicRouteData>();
  /** brokerName → brokerId → address, from every route seen. */
  private readonly brokerAddrs = new Map<string, Map<number, string>>();
  private readonly brokers = new Map<string, RemotingClient>();
  private readonly producers = new Map<string, ProducerMember>();
  private readonly consumers = new Map<string, ConsumerMember>();
  private readonly extraTopics = new Set<string>();
  private readonly events = new EventEmitter();
  private readonly timers: NodeJS.Timeout[] = [];
  private readonly key: string;
  private references = 0;
  private started = false;
  private closed = false;

  private constructor(options: ResolvedClientOptions, key: string) {
    this.options = options;
    this.key = key;
    this.clientId = buildClientId(options.clientIP ?? localIPv4(), options.instanceName, options.unitName);
    this.nameserver = new NameServerClient(options.nameservers, {
      transport: options.transport,
      requestTimeoutMillis: options.requestTimeoutMillis,
      onSwitch: (from, to, reason) => this.emit({ type: 'nameserver_switched', from, to, reason }),
    });
  }

  /**
   * The shared instance for these options (same client id and nameservers), started and with one
   * more reference. Call `release()` once per `acquire`.
   */
  static acquire(options: ClientOptions): ClientInstance {
    const resolved = resolveClientOptions(options);
    const probeId = buildClientId(resolved.clientIP ?? localIPv4(), resolved.instanceName, resolved.unitName);
    const key = `${probeId}|${resolved.transport}|${resolved.serializeType}|${resolved.nameservers.join(";")}`;
    let instance = registry.get(key);
    if (!instance || instance.closed) {
      instance = new ClientInstance(resolved, key);
      registry.set(key, instance);
    }
    instance.references++;
    instance.start();
    return instance;
  }

  /** Drop one reference; the last one shuts the instance down. */
  async release(): Promise<void> {
    this.references--;
    if (this.references > 0) return;
    await this.shutdown();
  }

  /** Status events (`{ type }` unions). */
  on(event: 'status', listener: (status: ClientStatus) => void): this {
    this.events.on(event, listener);
    return this;
  }

  off(event: 'status', listener: (status: ClientStatus) => void): this {
    this.events.off(event, listener);
    return this;
  }

  private emit(status: ClientStatus): void {
    this.events.emit('status', status);
  }

  private start(): void {
    if (this.started) return;
    this.started = true;
    this.every(this.options.pollNameServerInterval, () => this.refreshAllRoutes());
    this.every(this.options.heartbeatBrokerInterval, async () => {
      this.cleanOfflineBrokers();
      await this.sendHeartbeatToAllBrokers();
    });
  }

  private every(ms: number, task: () => Promise<void>): void {
    let running = false;
    const timer = setInterval(() => {
      if (running || this.closed) return;
      running = true;
      task()
        .catch(() => undefined)
        .finally(() => {
          running = false;
        });
    }, ms);
    timer.unref();
    this.timers.push(timer);
  }

  // -------------------------------------------------------------------------------------------
  // Members

  registerProducer(member: ProducerMember): void {
    if (this.producers.has(member.group)) {
      throw new InvalidArgumentError(`producer group "${member.group}" already has a producer in client ${this.clientId}; give each producer of one group its own instanceName`);
    }
    this.producers.set(member.group, member);
    this.heartbeatSoon();
  }

  /** Remove a producer and tell every broker (UNREGISTER_CLIENT); never throws. */
  async unregisterProducer(group: string): Promise<void> {
    if (!this.producers.delete(group)) return;
    await this.unregisterClient({ producerGroup: group });
  }

  registerConsumer(member: ConsumerMember): void {
    if (this.consumers.has(member.group)) {
      throw new InvalidArgumentError(`consumer group "${member.group}" already has a consumer in client ${this.clientId}; give each consumer of one group its own instanceName`);
    }
    this.consumers.set(member.group, member);
    this.heartbeatSoon();
  }

  /**
   * Heartbeat at once (in the background) because groups or brokers changed, so brokers know a new
   * member without waiting for the next `heartbeatBrokerInterval`. Failures arrive as events.
   */
  heartbeatSoon(): void {
    if (this.closed) return;
    void this.sendHeartbeatToAllBrokers();
  }

  /** Remove a consumer and tell every broker (UNREGISTER_CLIENT), so its group rebalances at once; never throws. */
  async unregisterConsumer(group: string): Promise<void> {
    if (!this.consumers.delete(group)) return;
    await this.unregisterClient({ consumerGroup: group });
  }

  private async unregisterClient(groups: { producerGroup?: string; consumerGroup?: string }): Promise<void> {
    const addresses = new Set<string>();
    for (const ids of this.brokerAddrs.values()) for (const a of ids.values()) addresses.add(a);
    await Promise.all(
      [...addresses].map(async (address) => {
        try {
          await this.broker(address).request(createRequest(RequestCode.UNREGISTER_CLIENT.code, { clientID: this.clientId, ...groups }), { timeoutMillis: this.options.requestTimeoutMillis });
        } catch {
          // The broker drops us on connection close or heartbeat expiry anyway.
        }
      }),
    );
  }

  /** Keep refreshing a topic's route though no member lists it (e.g. a producer's topics). */
  watchTopic(topic: string): void {
    this.extraTopics.add(topic);
  }

  // -------------------------------------------------------------------------------------------
  // Nameserver and routes

  /** Send a request to the nameservers (with failover). */
  requestNameServer(code: number, fields: Record<string, ExtFieldValue | undefined> = {}, body?: Uint8Array): Promise<RemotingCommand> {
    return this.nameserver.request(createRequest(code, fields, body));
  }

  /** The nameserver currently in use. */
  get currentNameServer(): string {
    return this.nameserver.current;
  }

  /** A topic's cached route (undefined until fetched). */
  cachedRoute(topic: string): TopicRouteData | undefined {
    return this.routes.get(topic);
  }

  /**
   * Fetch a topic's route from the nameservers and cache it. Resolves undefined when the topic has
   * no route (TOPIC_NOT_EXIST); throws when no nameserver can be reached.
   */
  async updateRoute(topic: string): Promise<TopicRouteData | undefined> {
    const response = await this.requestNameServer(RequestCode.GET_ROUTEINFO_BY_TOPIC.code, { topic });
    if (response.code === ResponseCode.TOPIC_NOT_EXIST.code) {
      // The nameservers say no broker serves the topic any more (deleted, or its last broker
      // expired): forget the cached route so its brokers can be dropped, and let consumers give up
      // its queues. The next use asks again, so the topic comes back when a broker serves it.
      const old = this.routes.get(topic);
      if (old) {
        this.routes.delete(topic);
        const empty: TopicRouteData = { ...old, brokerDatas: [], queueDatas: [] };
        this.emit({ type: 'route_updated', topic, route: empty });
        for (const consumer of this.consumers.values()) if (consumer.topics().includes(topic)) consumer.onRouteChanged?.(topic, empty);
      }
      return undefined;
    }
    if (response.code !== ResponseCode.SUCCESS.code) throw new RemoteError(response.code, response.remark, this.nameserver.current);
    const route = parseTopicRoute(response.body);
    if (!route) throw new RemoteError(ResponseCode.SYSTEM_ERROR.code, `route of ${topic} is not TopicRouteData JSON`, this.nameserver.current);
    const old = this.routes.get(topic);
    this.routes.set(topic, route);
    let newBroker = false;
    for (const bd of route.brokerDatas) {
      const ids = new Map<number, string>();
      const known = this.brokerAddrs.get(bd.brokerName);
      for (const [id, addr] of Object.entries(bd.brokerAddrs)) {
        ids.set(Number(id), addr);
        if (known?.get(Number(id)) !== addr) newBroker = true;
      }
      this.brokerAddrs.set(bd.brokerName, ids);
    }
    // A broker this client has not told about its groups yet hears from it now, not in 30 s.
    if (newBroker) this.heartbeatSoon();
    if (routeChanged(old, route)) {
      this.emit({ type: 'route_updated', topic, route });
      for (const consumer of this.consumers.values()) if (consumer.topics().includes(topic)) consumer.onRouteChanged?.(topic, route);
    }
    return route;
  }

  /** The cached route, fetched first when missing. */
  async route(topic: string): Promise<TopicRouteData | undefined> {
    return this.routes.get(topic) ?? (await this.updateRoute(topic));
  }

  private async refreshAllRoutes(): Promise<void> {
    const topics = new Set<string>([...this.routes.keys(), ...this.extraTopics]);
    for (const consumer of this.consumers.values()) for (const t of consumer.topics()) topics.add(t);
    for (const topic of topics) {
      try {
        await this.updateRoute(topic);
      } catch (error) {
        this.emit({ type: 'route_failed', topic, error: error as Error });
      }
    }
  }

  /**
   * Address of a broker name: the master when `masterOnly`, else the master or, failing that, the
   * lowest-id slave.
   */
  findBrokerAddress(brokerName: string, masterOnly = true): string | undefined {
    const ids = this.brokerAddrs.get(brokerName);
    if (!ids) return undefined;
    const master = ids.get(0);
    if (master || masterOnly) return master;
    const slaves = [...ids.keys()].sort((a, b) => a - b);
    return slaves.length ? ids.get(slaves[0]!) : undefined;
  }

  /** Address of a specific broker id of a broker name. */
  brokerAddress(brokerName: string, brokerId: number): string | undefined {
    return this.brokerAddrs.get(brokerName)?.get(brokerId);
  }

  // -------------------------------------------------------------------------------------------
  // Brokers

  /** The connection to a broker, opened on first use. */
  broker(address: string): RemotingClient {
    let client = this.brokers.get(address);
    if (!client) {
      client = new RemotingClient(withScheme(address, this.options.transport), {
        requestTimeoutMillis: this.options.requestTimeoutMillis,
        serializeType: this.options.serializeType === 'ROCKETMQ' ? SerializeType.ROCKETMQ : SerializeType.JSON,
        onRequest: (request) => this.onServerRequest(request),
      });
      this.brokers.set(address, client);
    }
    return client;
  }

  private async onServerRequest(request: RemotingCommand): Promise<RemotingCommand | undefined> {
    if (request.code === RequestCode.NOTIFY_CONSUMER_IDS_CHANGED.code) {
      const group = String(request.extFields.consumerGroup ?? '');
      this.consumers.get(group)?.onConsumerIdsChanged?.();
      return undefined;
    }
    if (request.code === RequestCode.RESET_CONSUMER_CLIENT_OFFSET.code) return this.onResetOffset(request);
    if (request.code === RequestCode.GET_CONSUMER_STATUS_FROM_CLIENT.code) {
      // As RocketMQ's client: a group this client does not run answers an empty table.
      const consumer = this.consumers.get(String(request.extFields.group ?? ''));
      const offsets = (await consumer?.consumerStatus?.(String(request.extFields.topic ?? ''))) ?? [];
      return createResponse(request, ResponseCode.SUCCESS.code, undefined, {}, Buffer.from(`{"consumerTable":{},"messageQueueTable":${encodeQueueOffsets(offsets)}}`, 'utf8'));
    }
    return createResponse(request, ResponseCode.REQUEST_CODE_NOT_SUPPORTED.code, `client ${this.clientId} does not handle request code ${request.code}`);
  }

  /**
   * RESET_CONSUMER_CLIENT_OFFSET (oneway, header topic and group, body ResetOffsetBody): hand the
   * offset table to the group's consumer. A body that cannot be read is reported and ignored; the
   * broker has stored the offsets already, so the consumer picks them up when it next reads them.
   */
  private async onResetOffset(request: RemotingCommand): Promise<RemotingCommand | undefined> {
    const topic = String(request.extFields.topic ?? '');
    const consumer = this.consumers.get(String(request.extFields.group ?? ''));
    let offsets: QueueOffset[] | undefined;
    try {
      offsets = readQueueOffsets((parseRemotingJson(Buffer.from(request.body ?? []).toString('utf8')) as { offsetTable?: unknown } | null)?.offsetTable);
    } catch {
      offsets = undefined;
    }
    if (!offsets) {
      this.emit({ type: 'offset_reset_unreadable', topic, reason: 'the RESET_CONSUMER_CLIENT_OFFSET body is not ResetOffsetBody {"offsetTable":{<queue>:offset}}' });
    } else if (consumer?.resetOffset) {
      await consumer.resetOffset(topic, offsets);
    }
    return isOneway(request) ? undefined : createResponse(request, ResponseCode.SUCCESS.code);
  }

  /** Heartbeat body: this client, its producer groups, its consumer groups with subscriptions. */
  heartbeatData(): { clientID: string; producerDataSet: Array<{ groupName: string }>; consumerDataSet: ConsumerData[] } {
    return {
      clientID: this.clientId,
      producerDataSet: [...this.producers.keys()].map((groupName) => ({ groupName })),
      consumerDataSet: [...this.consumers.values()].map((c) => c.consumerData()),
    };
  }

  /**
   * Heartbeat every known broker now: producer-only clients to masters only. Failures are
   * reported as `heartbeat_failed` events, not thrown.
   */
  async sendHeartbeatToAllBrokers(): Promise<void> {
    if (this.producers.size === 0 && this.consumers.size === 0) return;
    const body = Buffer.from(JSON.stringify(this.heartbeatData()), 'utf8');
    const consumersPresent = this.consumers.size > 0;
    const targets: string[] = [];
    for (const ids of this.brokerAddrs.values()) {
      for (const [id, address] of ids) if (id === 0 || consumersPresent) targets.push(address);
    }
    await Promise.all(
      targets.map(async (address) => {
        try {
          const response = await this.broker(address).request(createRequest(RequestCode.HEART_BEAT.code, {}, body));
          if (response.code !== ResponseCode.SUCCESS.code) throw new RemoteError(response.code, response.remark, address);
        } catch (error) {
          this.emit({ type: 'heartbeat_failed', broker: address, error: error as Error });
        }
      }),
    );
  }

  /**
   * Forget broker names that no cached route mentions any more, and close connections to
   * addresses no route names (RocketMQ's `MQClientInstance.cleanOfflineBroker`): otherwise a broker
   * gone from every route is heartbeated and reconnected forever.
   */
  private cleanOfflineBrokers(): void {
    const routed = new Set<string>();
    for (const route of this.routes.values()) for (const bd of route.brokerDatas) routed.add(bd.brokerName);
    for (const brokerName of [...this.brokerAddrs.keys()]) if (!routed.has(brokerName)) this.brokerAddrs.delete(brokerName);
    const live = new Set<string>();
    for (const ids of this.brokerAddrs.values()) for (const a of ids.values()) live.add(a);
    for (const [address, client] of this.brokers) {
      if (live.has(address)) continue;
      this.brokers.delete(address);
      void client.close();
      this.emit({ type: 'broker_dropped', broker: address });
    }
  }

  private async shutdown(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    for (const timer of this.timers) clearInterval(timer);
    if (registry.get(this.key) === this) registry.delete(this.key);
    await Promise.all([...this.brokers.values()].map((c) => c.close()));
    this.brokers.clear();
    await this.nameserver.close();
  }
}
