/**
 * Conformance with ali-ons, a third-party RocketMQ client speaking remoting TCP: a Karman producer
 * feeding an ali-ons consumer group, and an ali-ons producer feeding a Karman consumer group, on one
 * topic each; every message is consumed exactly once.
 */
import { createRequire } from 'node:module';
import { describe, expect, it } from 'vitest';
import { startCluster } from '@karman/testkit';
import { PushConsumer } from '../src/push-consumer.js';
import { FAST, sendMessages, startProducer, uniqueName, waitFor } from './consumer-fixture.js';

interface OnsMessage {
  body: Buffer;
  tags: string;
  topic: string;
}
interface OnsClient {
  ready(): Promise<void>;
  close(): Promise<void>;
  on(event: 'error', listener: (error: Error) => void): void;
}
interface OnsConsumer extends OnsClient {
  subscribe(topic: string, expression: string, handler: (message: OnsMessage) => Promise<void>): void;
}
interface OnsProducer extends OnsClient {
  send(message: unknown): Promise<{ sendStatus: string; msgId: string }>;
}
interface AliOns {
  Consumer: new (options: Record<string, unknown>) => OnsConsumer;
  Producer: new (options: Record<string, unknown>) => OnsProducer;
  Message: new (topic: string, tags: string, body: string) => unknown;
}

const require = createRequire(import.meta.url);
const ons = require('ali-ons') as AliOns;
const httpclient = require('urllib') as unknown;
const quiet = { info: () => undefined, warn: () => undefined, error: () => undefined, debug: () => undefined };

function count(map: Map<string, number>, key: string): void {
  map.set(key, (map.get(key) ?? 0) + 1);
}

describe('ali-ons conformance', () => {
  it('a Karman producer with an ali-ons consumer group: each message consumed once', async () => {
    await using cluster = await startCluster({ brokers: 1 });
    const topic = uniqueName('T');
    await cluster.createTopic(topic, { queues: 4 });
    await using producer = await startProducer(cluster);
    const seen = new Map<string, number>();
    const consumer = new ons.Consumer({ httpclient, nameSrv: cluster.nameservers, consumerGroup: uniqueName('ONS'), logger: quiet, rebalanceInterval: 300, persistConsumerOffsetInterval: 100, brokerSuspendMaxTimeMillis: 300, consumeFromWhere: 'CONSUME_FROM_FIRST_OFFSET' });
    consumer.on('error', () => undefined);
    consumer.subscribe(topic, '*', async (m) => count(seen, m.body.toString()));
    try {
      await consumer.ready();
      await sendMessages(producer, topic, 50, (i) => ({ tags: 'K', body: `karman-${i}` }));
      await waitFor(() => seen.size === 50, 'ali-ons to consume 50 Karman messages', 15_000);
      await new Promise((r) => setTimeout(r, 300));
      expect([...seen.values()].every((n) => n === 1)).toBe(true);
    } finally {
      await consumer.close();
    }
  });

  it('an ali-ons producer with a Karman consumer group: each message consumed once', async () => {
    await using cluster = await startCluster({ brokers: 1 });
    const topic = uniqueName('T');
    await cluster.createTopic(topic, { queues: 4 });
    const producer = new ons.Producer({ httpclient, nameSrv: cluster.nameservers, producerGroup: uniqueName('ONSP'), logger: quiet });
    producer.on('error', () => undefined);
    const seen = new Map<string, number>();
    const tags = new Set<string | undefined>();
    await using consumer = new PushConsumer({ ...FAST, nameservers: cluster.namesrvAddr, group: uniqueName('G'), subscriptions: { [topic]: 'O' }, consumeFromWhere: 'CONSUME_FROM_FIRST_OFFSET', handler: (m) => {
      count(seen, m.body.toString());
      tags.add(m.tags);
    } });
    try {
      await producer.ready();
      await consumer.start();
      for (let i = 0; i < 50; i++) {
        const result = await producer.send(new ons.Message(topic, 'O', `ons-${i}`));
        expect(result.sendStatus).toBe('SEND_OK');
      }
      await waitFor(() => seen.size === 50, 'Karman to consume 50 ali-ons messages', 15_000);
      await new Promise((r) => setTimeout(r, 300));
      expect([...seen.values()].every((n) => n === 1)).toBe(true);
      expect([...tags]).toEqual(['O']);
    } finally {
      await producer.close();
    }
  });
});
