/**
 * Helpers for the consumer scenarios: a producer on the test cluster, fast consumer options
 * (millisecond intervals), and polling until a condition holds.
 */
import { Producer } from '@karman/producer';
import { PushConsumer } from '../src/push-consumer.js';
import type { PushConsumerOptions } from '../src/consumer-options.js';
import type { Message, SendResult } from '@karman/producer';
import type { BrokerSpec, TestCluster } from '@karman/testkit';
import { startCluster, uniqueName } from '@karman/testkit';

export { uniqueName };

/** Intervals shrunk so rebalances, commits and retries happen within a test's time. */
export const FAST = {
  rebalanceInterval: 300,
  rebalanceMinGapMillis: 50,
  persistConsumerOffsetInterval: 100,
  brokerSuspendMaxTimeMillis: 300,
  consumerTimeoutMillisWhenSuspend: 2_000,
  pullTimeDelayMillsWhenException: 100,
  pollNameServerInterval: 200,
  heartbeatBrokerInterval: 200,
} as const;

/** Replication intervals shrunk: registration, HA heartbeat and reconnect, metadata sync. */
const HA = { registerNameServerPeriod: 200, haSendHeartbeatInterval: 200, haReconnectInterval: 50, slaveSyncInterval: 200 } as const;

/** One master/slave pair, broker-a ids 0 and 1, with HA intervals and each side's own options. */
export async function startPair(master: BrokerSpec['options'] = {}, slave: BrokerSpec['options'] = {}): Promise<TestCluster> {
  return startCluster({
    brokers: [
      { brokerName: 'broker-a', options: { ...HA, ...master } },
      { brokerName: 'broker-a', brokerId: 1, options: { ...HA, ...slave } },
    ],
  });
}

/** A started producer on the cluster; dispose it with `await using`. */
export async function startProducer(cluster: TestCluster): Promise<Producer> {
  const producer = new Producer({ nameservers: cluster.namesrvAddr, group: uniqueName('pg'), instanceName: uniqueName('p') });
  await producer.start();
  return producer;
}

/** Send `count` messages `body-<i>` one by one (optionally shaped per index). */
export async function sendMessages(producer: Producer, topic: string, count: number, shape: (i: number) => Partial<Message> = () => ({})): Promise<SendResult[]> {
  const results: SendResult[] = [];
  for (let i = 0; i < count; i++) results.push(await producer.send({ topic, body: `body-${i}`, ...shape(i) }));
  return results;
}

/** Poll `check` every 20 ms until it returns true, or fail after `timeoutMillis` with `what`. */
export async function waitFor(check: () => boolean | Promise<boolean>, what: string, timeoutMillis = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMillis;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMillis} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/**
 * Every delivery a handler saw, by message id: duplicates are counted, never folded into a set,
 * so a test can say exactly how many times each message came.
 */
export class Deliveries {
  private readonly counts = new Map<string, number>();
  /** Deliveries in all, duplicates included. */
  total = 0;

  /** The handler's call: `handler: deliveries.record`. */
  readonly record = (message: { msgId: string }): void => {
    this.total++;
    this.counts.set(message.msgId, (this.counts.get(message.msgId) ?? 0) + 1);
  };

  has(msgId: string): boolean {
    return this.counts.has(msgId);
  }

  /** Ids delivered more than once, with their counts. */
  duplicates(): Array<[string, number]> {
    return [...this.counts].filter(([, n]) => n > 1);
  }
}

/**
 * Wait until `group` has committed every queue of `topic` up to its max offset on each broker
 * still up: past that point nothing is in flight, so no further delivery can come and the counts
 * are final (instead of sleeping and hoping).
 */
export async function waitForCommitted(cluster: TestCluster, group: string, topic: string, brokers: readonly string[]): Promise<void> {
  await waitFor(
    () =>
      brokers.every((name) => {
        const { store, offsets } = cluster.broker(name).context;
        const queues = cluster.broker(name).context.topics.get(topic)?.readQueueNums ?? 0;
        return Array.from({ length: queues }, (_, q) => q).every((q) => offsets.query(group, topic, q) >= store.getMaxOffsetInQueue(topic, q));
      }),
    `group ${group} to commit all of ${topic} on ${brokers.join(', ')}`,
  );
}

/**
 * A push consumer of a new group subscribed to all of `topic` from its first offset, with the
 * fast intervals; `extra` adds or overrides options (handler, batch size, ...).
 */
export function fromFirstOffset(cluster: TestCluster, topic: string, extra: Partial<PushConsumerOptions>): PushConsumer {
  return new PushConsumer({
    ...FAST,
    nameservers: cluster.namesrvAddr,
    group: uniqueName('G'),
    subscriptions: { [topic]: '*' },
    consumeFromWhere: 'CONSUME_FROM_FIRST_OFFSET',
    ...extra,
  } as PushConsumerOptions);
}
