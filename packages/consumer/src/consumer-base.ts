/**
 * What the push and the pull consumer share (RocketMQ `RebalanceImpl`, `PullAPIWrapper` and the
 * pull half of `DefaultMQPushConsumerImpl`): group membership in the shared client
 * instance, subscriptions (plus `%RETRY%<group>` in clustering), rebalancing, one long-polling pull
 * loop per assigned queue, and offsets.
 *
 * Rebalance, per subscribed topic: the subscribe set from the route, the group's client ids from one
 * broker, both sorted, then the strategy picks this member's share. Queues no longer ours are
 * dropped first (pulls aborted, offset committed, then forgotten); new ones start from the
 * committed offset or, when there is none, from `consumeFromWhere`.
 *
 * Each pull asks for up to `pullBatchSize` messages from the queue's next offset, lets the broker
 * hold it up to `brokerSuspendMaxTimeMillis` when there is nothing, and piggy-backs the committed
 * offset. Subclasses decide what happens to pulled messages and when a queue must wait (flow
 * control, orderly locks).
 */
import { EventEmitter } from 'node:events';
import { ClientInstance, queueKey, subscribeQueues } from '@karman/client';
import type { ClientStatus, ConsumerData, MessageQueue } from '@karman/client';
import { ConnectionClosedError, InvalidArgumentError, KarmanError, RemoteError, RequestTimeoutError, ResponseCode, isRetryTopic, retryTopic } from '@karman/protocol';
import type { QueueOffset } from '@karman/protocol';
import type { AllocateStrategy } from './allocate-strategy.js';
import { getConsumerIdList, getMaxOffset, pullMessage, PullStatus, PullSysFlag, searchOffset } from './broker-requests.js';
import type { PullResult } from './broker-requests.js';
import type { ConsumedMessage } from './consumed-message.js';
import { toConsumedMessage } from './consumed-message.js';
import { consumeTimestampMillis } from './consumer-options.js';
import type { ConsumeFromWhere, MessageModel } from './consumer-options.js';
import { LocalFileOffsetStore, defaultOffsetStoreDir } from './local-file-offset-store.js';
import type { OffsetStore } from './offset-store.js';
import { ReadOffsetType, RemoteBrokerOffsetStore } from './offset-store.js';
import { ProcessQueue } from './process-queue.js';
import { RebalanceService, sleep } from './rebalance-service.js';
import type { Subscription } from './subscription.js';
import { buildSubscription, matchesSubscription, subscriptionData } from './subscription.js';

/** RocketMQ's `PULL_TIME_DELAY_MILLS_WHEN_BROKER_FLOW_CONTROL`. */
const PULL_DELAY_WHEN_BROKER_FLOW_CONTROL = 20;

/** What a consumer reports as it runs (`{ type }` unions), besides its client's events. */
export type ConsumerStatus =
  | ClientStatus
  | { type: 'rebalanced'; topic: string; queues: MessageQueue[]; consumers: string[] }
  | { type: 'queue_assigned'; queue: MessageQueue; offset: number }
  | { type: 'queue_revoked'; queue: MessageQueue; committedOffset: number }
  | { type: 'more_consumers_than_queues'; topic: string; consumers: number; queues: number }
  | { type: 'rebalance_failed'; topic: string; error: Error }
  | { type: 'pull_failed'; queue: MessageQueue; error: Error }
  | { type: 'offset_moved'; queue: MessageQueue; from: number; to: number }
  | { type: 'offset_reset'; queue: MessageQueue; offset: number }
  | { type: 'offset_commit_failed'; queue: MessageQueue; error: Error }
  | { type: 'flow_control'; queue: MessageQueue; reason: 'count' | 'size' | 'span' }
  | { type: 'handler_failed'; queue: MessageQueue; msgId: string; queueOffset: number; error: Error | undefined }
  | { type: 'message_sent_back'; msgId: string; reconsumeTimes: number; path: 'broker' | 'resend' }
  | { type: 'local_retry'; msgId: string; reconsumeTimes: number; error: Error }
  | { type: 'message_dropped'; msgId: string; reason: string }
  | { type: 'lock_failed'; queue: MessageQueue };

/** One assigned queue: its process queue, subscription, next pull offset and pull loop. */
export interface QueueEntry {
  queue: MessageQueue;
  pq: ProcessQueue;
  subscription: Subscription;
  nextOffset: number;
  /** Broker id the broker suggested to pull from next (0: master). */
  brokerId: number;
  abort: AbortController;
  loop: Promise<void> | undefined;
}

/** The options both consumers have. */
export interface BaseOptions {
  group: string;
  subscriptions: Record<string, string>;
  messageModel: MessageModel;
  consumeFromWhere: ConsumeFromWhere;
  consumeTimestamp?: string | Date | number | undefined;
  allocateStrategy: AllocateStrategy;
  pullBatchSize: number;
  pullInterval: number;
  pullTimeDelayMillsWhenRetryImmediately: number;
  brokerSuspendMaxTimeMillis: number;
  consumerTimeoutMillisWhenSuspend: number;
  pullTimeDelayMillsWhenException: number;
  rebalanceInterval: number;
  rebalanceMinGapMillis: number;
  persistConsumerOffsetInterval: number;
  brokerRequestTimeoutMillis: number;
  localOffsetStoreDir?: string | undefined;
  setZeroIfNotFound: boolean;
  maxMessageSize: number;
  nameservers: string[];
}

export abstract class ConsumerBase<O extends BaseOptions> {
  readonly options: O;
  protected client: ClientInstance | undefined;
  protected offsetStore: OffsetStore | undefined;
  protected readonly subscriptions = new Map<string, Subscription>();
  protected readonly entries = new Map<string, QueueEntry>();
  /** Set at shutdown: pull loops end, rebalances stop. */
  protected stopping = false;
  /** Set once shut down: a consumer is not restarted (RocketMQ's SHUTDOWN_ALREADY). */
  private shutDown = false;
  private rebalancer: RebalanceService | undefined;
  private persistTimer: NodeJS.Timeout | undefined;
  private consumeTimestamp = 0;
  private readonly events = new EventEmitter();
  private readonly forwardStatus = (status: ClientStatus): void => {
    this.emit(status);
    // A broker that stopped answering heartbeats may be gone: re-read routes and rebalance (the seed's rule).
    if (status.type === 'heartbeat_failed' && !this.stopping) {
      const client = this.client;
      if (client) void Promise.all(this.allSubscriptions().map((s) => client.updateRoute(s.topic).catch(() => undefined))).finally(() => this.rebalancer?.wakeup());
    }
  };
  private readonly clientOptions: Parameters<typeof ClientInstance.acquire>[0];

  protected constructor(options: O, clientOptions: Parameters<typeof ClientInstance.acquire>[0]) {
    this.options = options;
    this.clientOptions = clientOptions;
    for (const [topic, expression] of Object.entries(options.subscriptions)) this.subscriptions.set(topic, buildSubscription(topic, expression));
  }

  /** Whether a push consumer (CONSUME_PASSIVELY) or a pull consumer (CONSUME_ACTIVELY). */
  protected abstract readonly consumeType: ConsumerData['consumeType'];
  /** Messages pulled from an entry's queue, already filtered by tag. */
  protected abstract deliver(entry: QueueEntry, messages: ConsumedMessage[]): void;
  /** Milliseconds to wait before pulling this queue again (flow control, locks); 0 to pull now. */
  protected abstract pullDelay(entry: QueueEntry): number;

  /** This member's client id (`ip@instance`), what the group's members are sorted by. */
  get clientId(): string | undefined {
    return this.client?.clientId;
  }

  /** The nameserver the consumer's client talks to now (it moves on when one fails). */
  get currentNameServer(): string | undefined {
    return this.client?.currentNameServer;
  }

  /** Whether `start` has run and `shutdown` has not. */
  get running(): boolean {
    return this.client !== undefined && !this.stopping;
  }

  /** Status events (`{ type }` unions): rebalances, queue moves, failures. */
  on(event: 'status', listener: (status: ConsumerStatus) => void): this {
    this.events.on(event, listener);
    return this;
  }

  off(event: 'status', listener: (status: ConsumerStatus) => void): this {
    this.events.off(event, listener);
    return this;
  }

  protected emit(status: ConsumerStatus): void {
    this.events.emit('status', status);
  }

  /**
   * Subscribe to `topic` with a tag expression (`*`, `TagA || TagB`). After start this sends a
   * heartbeat and rebalances at once.
   */
  subscribe(topic: string, expression = '*'): this {
    if (isRetryTopic(topic)) throw new InvalidArgumentError(`"${topic}" is a retry topic; consumers subscribe their own group's retry topic by themselves`);
    this.subscriptions.set(topic, buildSubscription(topic, expression));
    this.subscriptionsChanged();
    return this;
  }

  /** Stop consuming `topic`; its queues are released at the next rebalance (started at once). */
  unsubscribe(topic: string): this {
    this.subscriptions.delete(topic);
    this.subscriptionsChanged();
    return this;
  }

  private subscriptionsChanged(): void {
    if (!this.client || this.stopping) return;
    void this.client.sendHeartbeatToAllBrokers();
    this.rebalancer?.wakeup();
  }

  /** The queues this member currently consumes. */
  assignment(): MessageQueue[] {
    return [...this.entries.values()].map((e) => ({ ...e.queue }));
  }

  /** Every subscription in force, the group's retry topic included in clustering. */
  protected allSubscriptions(): Subscription[] {
    const subs = [...this.subscriptions.values()];
    if (this.options.messageModel === 'CLUSTERING' && this.subscribesRetryTopic()) {
      const retry = retryTopic(this.options.group);
      subs.push(this.retrySubscription ??= buildSubscription(retry, '*'));
    }
    return subs;
  }

  private retrySubscription: Subscription | undefined;
  /** Last reported outcome per topic, so `rebalanced` is emitted when something changed. */
  private readonly lastRebalance = new Map<string, string>();

  /** Emit `rebalanced` (and the too-many-members warning) when the outcome for a topic changed. */
  private reportRebalance(topic: string, queues: MessageQueue[], consumers: string[], mqAll: number): void {
    const key = JSON.stringify([queues.map(queueKey), consumers]);
    if (this.lastRebalance.get(topic) === key) return;
    this.lastRebalance.set(topic, key);
    if (consumers.length > mqAll && this.options.messageModel === 'CLUSTERING' && !isRetryTopic(topic)) {
      // The seed's rule: more members than queues leaves some idle; say so (once per change).
      this.emit({ type: 'more_consumers_than_queues', topic, consumers: consumers.length, queues: mqAll });
    }
    this.emit({ type: 'rebalanced', topic, queues: queues.map((q) => ({ ...q })), consumers });
  }

  /** Push consumers consume their retry topic; the lite pull consumer does not. */
  protected subscribesRetryTopic(): boolean {
    return true;
  }

  /** Whether queues come from rebalancing (false after `assign`). */
  protected rebalancing(): boolean {
    return true;
  }

  protected async startBase(): Promise<void> {
    if (this.client) return;
    if (this.shutDown) throw new KarmanError('CONSUMER_SHUT_DOWN', `consumer of group "${this.options.group}" was shut down; create a new one to consume again`);
    const client = ClientInstance.acquire(this.clientOptions);
    try {
      client.registerConsumer({
        group: this.options.group,
        consumerData: () => this.consumerData(),
        topics: () => this.allSubscriptions().map((s) => s.topic),
        onConsumerIdsChanged: () => this.rebalancer?.wakeup(),
        onRouteChanged: () => this.rebalancer?.wakeup(),
        resetOffset: (topic, offsets) => this.resetOffset(topic, offsets),
        consumerStatus: (topic) => this.consumerStatus(topic),
      });
    } catch (error) {
      await client.release();
      throw error;
    }
    const dir = this.options.localOffsetStoreDir ?? defaultOffsetStoreDir();
    const offsetStore =
      this.options.messageModel === 'BROADCASTING'
        ? new LocalFileOffsetStore(dir, client.clientId, this.options.group)
        : new RemoteBrokerOffsetStore(client, this.options.group, this.options.brokerRequestTimeoutMillis, (queue, error) => this.emit({ type: 'offset_commit_failed', queue, error }), this.options.setZeroIfNotFound);
    try {
      await offsetStore.load();
    } catch (error) {
      await client.unregisterConsumer(this.options.group);
      await client.release();
      throw error;
    }
    this.offsetStore = offsetStore;
    client.on('status', this.forwardStatus);
    this.client = client;
    this.stopping = false;
    this.consumeTimestamp = consumeTimestampMillis(this.options.consumeTimestamp);
    // Routes first, so the heartbeat reaches every broker of every subscribed topic.
    await Promise.all(this.allSubscriptions().map((s) => client.updateRoute(s.topic).catch(() => undefined)));
    await client.sendHeartbeatToAllBrokers();
    this.persistTimer = setInterval(() => void this.persistOffsets(), this.options.persistConsumerOffsetInterval);
    this.persistTimer.unref();
    this.rebalancer = new RebalanceService(() => this.doRebalance(), this.options.rebalanceInterval, this.options.rebalanceMinGapMillis);
    await this.rebalancer.start();
  }

  /**
   * Stop pulling, let `drain` finish what is in flight, commit every offset, release the queues and
   * leave the group (UNREGISTER_CLIENT, so the others rebalance at once).
   */
  protected async shutdownBase(drain: () => Promise<void>): Promise<void> {
    const client = this.client;
    if (!client || this.stopping) return;
    this.stopping = true;
    this.shutDown = true;
    await this.rebalancer?.stop();
    clearInterval(this.persistTimer);
    for (const entry of this.entries.values()) entry.abort.abort();
    await Promise.all([...this.entries.values()].map((e) => e.loop ?? Promise.resolve()));
    await drain();
    const entries = [...this.entries.values()];
    for (const entry of entries) entry.pq.dropped = true;
    await this.offsetStore?.persistAll(entries.map((e) => e.queue));
    await this.releaseQueues(entries);
    for (const entry of entries) {
      const committedOffset = (await this.offsetStore?.readOffset(entry.queue, ReadOffsetType.MEMORY)) ?? -1;
      this.emit({ type: 'queue_revoked', queue: { ...entry.queue }, committedOffset });
    }
    this.entries.clear();
    client.off('status', this.forwardStatus);
    await client.unregisterConsumer(this.options.group);
    await client.release();
    this.client = undefined;
  }

  /** Orderly consumers unlock their queues at the broker; others have nothing to release. */
  protected async releaseQueues(_entries: QueueEntry[]): Promise<void> {}

  protected consumerData(): ConsumerData {
    return {
      groupName: this.options.group,
      consumeType: this.consumeType,
      messageModel: this.options.messageModel,
      consumeFromWhere: this.options.consumeFromWhere,
      subscriptionDataSet: this.allSubscriptions().map(subscriptionData),
      unitMode: false,
    };
  }

  protected async persistOffsets(): Promise<void> {
    await this.offsetStore?.persistAll([...this.entries.values()].map((e) => e.queue)).catch(() => undefined);
  }

  // -------------------------------------------------------------------------------------------
  // Rebalance

  /**
   * Run one rebalance now (also what the schedule runs). Answers whether it is balanced: false when
   * a queue allocated to this member could not be taken (its orderly lock was refused), so the
   * schedule tries again after the minimum gap rather than a whole interval later.
   */
  protected async doRebalance(): Promise<boolean> {
    if (!this.rebalancing()) return true;
    const subs = this.allSubscriptions();
    const topics = new Set(subs.map((s) => s.topic));
    for (const entry of [...this.entries.values()]) {
      if (!topics.has(entry.queue.topic)) await this.removeQueue(entry);
    }
    let balanced = true;
    for (const sub of subs) {
      if (this.stopping) return true;
      try {
        if (!(await this.rebalanceTopic(sub))) balanced = false;
      } catch (error) {
        this.emit({ type: 'rebalance_failed', topic: sub.topic, error: error as Error });
      }
    }
    return balanced;
  }

  private async rebalanceTopic(sub: Subscription): Promise<boolean> {
    const client = this.client!;
    const route = await client.route(sub.topic);
    // A topic without a route (yet: the retry topic appears after the first heartbeat) is left as is.
    if (!route) return true;
    const mqAll = subscribeQueues(sub.topic, route);
    if (mqAll.length === 0) return true;
    if (this.options.messageModel === 'BROADCASTING') {
      const all = await this.updateQueues(sub, mqAll);
      this.reportRebalance(sub.topic, mqAll, [client.clientId], mqAll.length);
      return all;
    }
    const cidAll = await this.findConsumerIds(route.brokerDatas.map((b) => b.brokerName));
    const allocated = this.options.allocateStrategy.allocate(this.options.group, client.clientId, mqAll, cidAll);
    const all = await this.updateQueues(sub, allocated);
    this.reportRebalance(sub.topic, allocated, [...cidAll].sort(), mqAll.length);
    return all;
  }

  /** The group's client ids from one broker (a random one first, the others if it fails). */
  private async findConsumerIds(brokerNames: string[]): Promise<string[]> {
    const client = this.client!;
    const start = Math.floor(Math.random() * brokerNames.length);
    let lastError: unknown;
    for (let i = 0; i < brokerNames.length; i++) {
      const address = client.findBrokerAddress(brokerNames[(start + i) % brokerNames.length]!, false);
      if (!address) continue;
      try {
        return await getConsumerIdList(client, address, this.options.group, this.options.brokerRequestTimeoutMillis);
      } catch (error) {
        lastError = error;
      }
    }
    throw lastError ?? new KarmanError('NO_BROKER_ADDRESS', `no broker of ${brokerNames.join(', ')} has an address to ask for group ${this.options.group}'s members`);
  }

  /**
   * Make the queues of `sub.topic` exactly `wanted`: drop the others first, then add the new.
   * Answers false when a wanted queue could not be added (its orderly lock was refused).
   */
  protected async updateQueues(sub: Subscription, wanted: readonly MessageQueue[]): Promise<boolean> {
    const keys = new Set(wanted.map(queueKey));
    for (const entry of [...this.entries.values()]) {
      if (entry.queue.topic !== sub.topic) continue;
      if (!keys.has(queueKey(entry.queue)) || this.pullStuck(entry)) await this.removeQueue(entry);
      else entry.subscription = sub;
    }
    let all = true;
    for (const queue of wanted) {
      if (this.stopping) return true;
      if (!this.entries.has(queueKey(queue)) && !(await this.addQueue(queue, sub))) all = false;
    }
    return all;
  }

  /** Push consumers re-create a queue whose pulls stopped (`pullMaxIdleTime`); others never do. */
  protected pullStuck(_entry: QueueEntry): boolean {
    return false;
  }

  /** Orderly consumers lock the queue first; false keeps it unassigned until the next rebalance. */
  protected async prepareQueue(_entry: QueueEntry): Promise<boolean> {
    return true;
  }

  /** Orderly consumers wait for the queue's handler and unlock; called after the offset is committed. */
  protected async queueRemoved(_entry: QueueEntry): Promise<void> {}

  /** Start consuming a queue; false when its orderly lock was refused (the next rebalance retries). */
  private async addQueue(queue: MessageQueue, sub: Subscription): Promise<boolean> {
    const store = this.offsetStore!;
    store.removeOffset(queue);
    const entry: QueueEntry = { queue: { ...queue }, pq: new ProcessQueue(queue), subscription: sub, nextOffset: -1, brokerId: 0, abort: new AbortController(), loop: undefined };
    if (!(await this.prepareQueue(entry))) return false;
    try {
      entry.nextOffset = await this.computePullFromWhere(queue);
    } catch (error) {
      // RocketMQ skips the queue this round rather than guess an offset (computePullFromWhereWithException).
      this.emit({ type: 'rebalance_failed', topic: queue.topic, error: error as Error });
      await this.queueRemoved(entry);
      return true;
    }
    if (this.stopping) return true;
    this.entries.set(queueKey(queue), entry);
    this.emit({ type: 'queue_assigned', queue: { ...queue }, offset: entry.nextOffset });
    entry.loop = this.pullLoop(entry);
    return true;
  }

  /**
   * Restart a queue's pulls from `offset` (a seek): the old loop and what it holds are dropped, a
   * fresh process queue starts there. Answers the new entry.
   */
  protected async restartQueue(entry: QueueEntry, offset: number): Promise<QueueEntry> {
    entry.pq.dropped = true;
    entry.abort.abort();
    await entry.loop;
    const fresh: QueueEntry = { queue: entry.queue, pq: new ProcessQueue(entry.queue), subscription: entry.subscription, nextOffset: offset, brokerId: entry.brokerId, abort: new AbortController(), loop: undefined };
    // An orderly queue keeps its broker lock across the restart.
    fresh.pq.locked = entry.pq.locked;
    fresh.pq.lastLockTimestamp = entry.pq.lastLockTimestamp;
    if (this.stopping || this.entries.get(queueKey(entry.queue)) !== entry) return fresh;
    this.entries.set(queueKey(entry.queue), fresh);
    fresh.loop = this.pullLoop(fresh);
    return fresh;
  }

  /**
   * A broker pushed new offsets for `topic` (RESET_CONSUMER_CLIENT_OFFSET, RocketMQ's
   * `MQClientInstance.resetOffset`): each listed queue this member holds drops what it pulled and
   * has in flight (results of those messages are ignored) and continues from its new offset, which
   * becomes the committed one. RocketMQ's client waits 10 s and lets the next rebalance re-create
   * the queues; restarting them in place gives the same outcome without the wait. Queues held by
   * other members are theirs to reset; the broker has stored the offsets already.
   */
  protected async resetOffset(topic: string, offsets: readonly QueueOffset[]): Promise<void> {
    if (this.stopping || !this.offsetStore) return;
    const wanted = new Map(offsets.filter((o) => o.queue.topic === topic).map((o) => [queueKey(o.queue), o.offset]));
    const reset: MessageQueue[] = [];
    for (const entry of [...this.entries.values()]) {
      const offset = wanted.get(queueKey(entry.queue));
      if (entry.queue.topic !== topic || offset === undefined) continue;
      this.offsetStore.updateOffset(entry.queue, offset, false);
      this.offsetWasReset(entry.queue, offset);
      await this.restartQueue(entry, offset);
      reset.push({ ...entry.queue });
      this.emit({ type: 'offset_reset', queue: { ...entry.queue }, offset });
    }
    await this.offsetStore.persistAll(reset);
  }

  /** Pull consumers forget what `poll` returned before the reset, so it is not committed over it. */
  protected offsetWasReset(_queue: MessageQueue, _offset: number): void {}

  /** GET_CONSUMER_STATUS_FROM_CLIENT: the in-memory offsets of this member's queues of `topic`. */
  protected async consumerStatus(topic: string): Promise<QueueOffset[]> {
    const store = this.offsetStore;
    if (!store) return [];
    const out: QueueOffset[] = [];
    for (const entry of this.entries.values()) {
      if (entry.queue.topic !== topic) continue;
      const offset = await store.readOffset(entry.queue, ReadOffsetType.MEMORY);
      if (offset >= 0) out.push({ queue: { ...entry.queue }, offset });
    }
    return out;
  }

  /** Stop pulling a queue, commit its offset, forget it. */
  protected async removeQueue(entry: QueueEntry): Promise<void> {
    entry.pq.dropped = true;
    entry.abort.abort();
    this.entries.delete(queueKey(entry.queue));
    const store = this.offsetStore!;
    const committedOffset = await store.readOffset(entry.queue, ReadOffsetType.MEMORY);
    try {
      await store.persist(entry.queue);
    } catch (error) {
      this.emit({ type: 'offset_commit_failed', queue: entry.queue, error: error as Error });
    }
    store.removeOffset(entry.queue);
    await this.queueRemoved(entry);
    this.emit({ type: 'queue_revoked', queue: { ...entry.queue }, committedOffset });
  }

  /** Where a newly assigned queue starts: the committed offset wins, else `consumeFromWhere`. */
  protected async computePullFromWhere(queue: MessageQueue): Promise<number> {
    const committed = await this.offsetStore!.readOffset(queue, ReadOffsetType.STORE);
    if (committed >= 0) return committed;
    const client = this.client!;
    const timeout = this.options.brokerRequestTimeoutMillis;
    switch (this.options.consumeFromWhere) {
      case 'CONSUME_FROM_FIRST_OFFSET':
        return 0;
      case 'CONSUME_FROM_TIMESTAMP':
        if (isRetryTopic(queue.topic)) return getMaxOffset(client, await this.brokerAddressOf(queue), queue, timeout);
        return searchOffset(client, await this.brokerAddressOf(queue), queue, this.consumeTimestamp, timeout);
      default:
        if (isRetryTopic(queue.topic)) return 0;
        return getMaxOffset(client, await this.brokerAddressOf(queue), queue, timeout);
    }
  }

  protected async brokerAddressOf(queue: MessageQueue, brokerId = 0): Promise<string> {
    const client = this.client!;
    let address = (brokerId !== 0 ? client.brokerAddress(queue.brokerName, brokerId) : undefined) ?? client.findBrokerAddress(queue.brokerName, false);
    if (!address) {
      await client.updateRoute(queue.topic).catch(() => undefined);
      address = client.findBrokerAddress(queue.brokerName, false);
    }
    if (!address) throw new KarmanError('NO_BROKER_ADDRESS', `broker ${queue.brokerName} of ${queue.topic} has no address in the routes`);
    return address;
  }

  // -------------------------------------------------------------------------------------------
  // Pull

  private async pullLoop(entry: QueueEntry): Promise<void> {
    const { pq, abort } = entry;
    while (!pq.dropped && !this.stopping) {
      // Stamped before flow control, as RocketMQ does: a queue waiting on a slow handler is not "stuck".
      pq.lastPullTimestamp = Date.now();
      const delay = this.pullDelay(entry);
      if (delay > 0) {
        await sleep(delay, abort.signal);
        continue;
      }
      try {
        const from = entry.nextOffset;
        const result = await this.pullOnce(entry);
        if (pq.dropped) break;
        await this.handlePullResult(entry, result);
        const pause = this.retriesInPlace(result, from) ? Math.max(this.options.pullInterval, this.options.pullTimeDelayMillsWhenRetryImmediately) : this.options.pullInterval;
        if (pause > 0) await sleep(pause, abort.signal);
      } catch (error) {
        if (pq.dropped || this.stopping) break;
        this.emit({ type: 'pull_failed', queue: { ...entry.queue }, error: error as Error });
        if (error instanceof ConnectionClosedError || error instanceof RequestTimeoutError || (error instanceof KarmanError && error.code === 'NO_BROKER_ADDRESS')) this.brokerUnreachable(entry.queue);
        // a broker answering FLOW_CONTROL is asked again after 20 ms, other errors after 3 s.
        const flowControlled = error instanceof RemoteError && error.responseCode === ResponseCode.FLOW_CONTROL.code;
        await sleep(flowControlled ? PULL_DELAY_WHEN_BROKER_FLOW_CONTROL : this.options.pullTimeDelayMillsWhenException, abort.signal);
      }
    }
  }

  /**
   * A PULL_RETRY_IMMEDIATELY answer (NO_MATCHED_MSG) that brought nothing and did not move the
   * offset: asking again at once would get the same answer, e.g. from a slave that lacks what its
   * dead master had, which serves nothing and corrects nothing. RocketMQ's push consumer re-pulls at
   * once whatever the answer; a tag-filtered scan that did move on still does here.
   */
  private retriesInPlace(result: PullResult, from: number): boolean {
    return result.status === PullStatus.NO_MATCHED_MSG && result.records.length === 0 && !(result.nextBeginOffset > from);
  }

  private async pullOnce(entry: QueueEntry): Promise<PullResult> {
    const address = await this.brokerAddressOf(entry.queue, entry.brokerId);
    let commitOffset = -1;
    if (this.options.messageModel === 'CLUSTERING') commitOffset = await this.offsetStore!.readOffset(entry.queue, ReadOffsetType.MEMORY);
    const sysFlag = (commitOffset > 0 && entry.brokerId === 0 ? PullSysFlag.COMMIT_OFFSET : 0) | PullSysFlag.SUSPEND | PullSysFlag.SUBSCRIPTION;
    return pullMessage(this.client!, address, {
      group: this.options.group,
      queue: entry.queue,
      offset: entry.nextOffset,
      maxMsgNums: this.options.pullBatchSize,
      sysFlag,
      commitOffset: Math.max(commitOffset, 0),
      suspendTimeoutMillis: this.options.brokerSuspendMaxTimeMillis,
      subscription: entry.subscription.subString,
      subVersion: entry.subscription.subVersion,
      timeoutMillis: this.options.consumerTimeoutMillisWhenSuspend,
      signal: entry.abort.signal,
    });
  }

  private async handlePullResult(entry: QueueEntry, result: PullResult): Promise<void> {
    const { pq, queue } = entry;
    if (result.suggestWhichBrokerId >= 0) entry.brokerId = result.suggestWhichBrokerId;
    const next = result.nextBeginOffset >= 0 ? result.nextBeginOffset : entry.nextOffset;
    switch (result.status) {
      case PullStatus.FOUND: {
        const messages: ConsumedMessage[] = [];
        for (const record of result.records) if (matchesSubscription(entry.subscription, record.properties)) messages.push(toConsumedMessage(record, queue, this.options.maxMessageSize));
        entry.nextOffset = next;
        if (messages.length > 0) this.deliver(entry, messages);
        else this.correctTagsOffset(entry);
        return;
      }
      case PullStatus.NO_NEW_MSG:
      case PullStatus.NO_MATCHED_MSG:
        entry.nextOffset = next;
        this.correctTagsOffset(entry);
        return;
      case PullStatus.OFFSET_ILLEGAL: {
        // drop the queue, commit the corrected offset, and let a rebalance re-create it.
        this.emit({ type: 'offset_moved', queue: { ...queue }, from: entry.nextOffset, to: next });
        pq.dropped = true;
        this.entries.delete(queueKey(queue));
        this.offsetStore!.updateOffset(queue, next, false);
        try {
          await this.offsetStore!.persist(queue);
        } catch (error) {
          this.emit({ type: 'offset_commit_failed', queue, error: error as Error });
        }
        this.offsetStore!.removeOffset(queue);
        await this.queueRemoved(entry);
        this.rebalancer?.wakeup();
        return;
      }
    }
  }

  /** Nothing in flight: the committed offset may jump to the next pull offset (filtered-out messages). */
  private correctTagsOffset(entry: QueueEntry): void {
    if (entry.pq.count === 0 && entry.nextOffset >= 0) this.offsetStore!.updateOffset(entry.queue, entry.nextOffset, true);
  }

  /** A broker stopped answering: refresh the topic's route and rebalance (the seed's rule). */
  protected brokerUnreachable(queue: MessageQueue): void {
    const client = this.client;
    if (!client) return;
    void client
      .updateRoute(queue.topic)
      .catch(() => undefined)
      .finally(() => this.rebalancer?.wakeup());
  }

  /** Ask for a rebalance soon. */
  protected wakeupRebalance(): void {
    this.rebalancer?.wakeup();
  }
}
