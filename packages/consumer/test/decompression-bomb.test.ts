/**
 * A decompression bomb in a topic: sixteen zlib streams of zeros (62 KiB each, 62 MiB inflated)
 * stored with SYSFLAG COMPRESSED fit in one 1 MiB pull and would inflate to almost 1 GiB. They are
 * written to the store directly, as a broker that predates the send-time check (or a rogue master)
 * would hold them. The consumer must keep its memory, hand each bomb on as an error naming the
 * message and the limit, and go on consuming what follows.
 */
import { deflateSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { MessageProperty, MessageSysFlag, RemotingClient, RequestCode, ResponseCode, createRequest, decodeRecords } from '@karman/protocol';
import type { KarmanError } from '@karman/protocol';
import { startCluster } from '@karman/testkit';
import type { TestCluster } from '@karman/testkit';
import { PullConsumer } from '../src/pull-consumer.js';
import { PushConsumer } from '../src/push-consumer.js';
import type { ConsumedMessage } from '../src/consumed-message.js';
import type { ConsumerStatus } from '../src/consumer-base.js';
import type { PushConsumerOptions } from '../src/consumer-options.js';
import { FAST, sendMessages, startProducer, uniqueName, waitFor } from './consumer-fixture.js';

const MiB = 1024 * 1024;
const BOMBS = 16;
const bomb = deflateSync(Buffer.alloc(62 * MiB), { level: 9 });

/** Store `before` plain messages, the bombs, then `after` plain ones in queue 0 of `topic`. */
async function storeAttack(cluster: TestCluster, topic: string): Promise<void> {
  const store = cluster.broker('broker-a').context.store;
  const put = async (body: Buffer, sysFlag: number, key: string): Promise<void> => {
    const result = await store.put({ topic, queueId: 0, body, sysFlag, properties: { [MessageProperty.KEYS]: key } });
    if (result.status !== 'PUT_OK') throw new Error(`test setup: put answered ${result.status} ${result.reason ?? ''}`);
  };
  await put(Buffer.from('before-0'), 0, 'plain');
  await put(Buffer.from('before-1'), 0, 'plain');
  for (let i = 0; i < BOMBS; i++) await put(bomb, MessageSysFlag.COMPRESSED, `bomb-${i}`);
  await put(deflateSync(Buffer.from('compressed and fine')), MessageSysFlag.COMPRESSED, 'plain');
}

/** A new one-queue topic. */
async function newTopic(cluster: TestCluster): Promise<string> {
  const topic = uniqueName('Bomb');
  await cluster.createTopic(topic, { queues: 1 });
  return topic;
}

/** Options of a new group reading `topic` from its first message. */
function fromFirst(cluster: TestCluster, topic: string, handler: PushConsumerOptions['handler'], more: Partial<PushConsumerOptions> = {}): PushConsumerOptions {
  return { ...FAST, nameservers: cluster.namesrvAddr, group: uniqueName('G'), subscriptions: { [topic]: '*' }, consumeFromWhere: 'CONSUME_FROM_FIRST_OFFSET', handler, ...more };
}

/** Buffers allocated outside the JS heap: where inflated bodies live. */
function externalBytes(): number {
  return process.memoryUsage().arrayBuffers;
}

describe('a decompression bomb in the topic', () => {
  it('fits sixteen bombs in one pull, which is the attack', async () => {
    await using cluster = await startCluster({ brokers: 1 });
    const topic = await newTopic(cluster);
    await storeAttack(cluster, topic);
    const client = new RemotingClient(`tcp://${cluster.broker('broker-a').address}`, { reconnect: false });
    try {
      const fields = { consumerGroup: uniqueName('G'), topic, queueId: 0, queueOffset: 2, maxMsgNums: 32, sysFlag: 4, subscription: '*', expressionType: 'TAG', commitOffset: 0, suspendTimeoutMillis: 0, subVersion: 0 };
      const response = await client.request(createRequest(RequestCode.PULL_MESSAGE.code, fields));
      expect(response.code, response.remark).toBe(ResponseCode.SUCCESS.code);
      const records = decodeRecords(Buffer.from(response.body!));
      expect(records.length).toBeGreaterThanOrEqual(BOMBS);
      expect(records.slice(0, BOMBS).every((r) => (r.sysFlag & MessageSysFlag.COMPRESSED) !== 0)).toBe(true);
      expect(response.body!.length).toBeLessThanOrEqual(MiB + 64 * 1024);
    } finally {
      await client.close();
    }
  });

  it('push consumer: bombs reach the handler as BODY_TOO_LARGE errors, memory stays bounded, and consuming goes on', async () => {
    await using cluster = await startCluster({ brokers: 1 });
    const topic = await newTopic(cluster);
    await storeAttack(cluster, topic);

    // The handler keeps every message it gets, as one that batches its work would: whatever the
    // consumer inflated on its own would stay in memory.
    const kept: ConsumedMessage[] = [];
    const bodies: string[] = [];
    const refused: { key: string | undefined; msgId: string; error: KarmanError }[] = [];
    const statuses: ConsumerStatus[] = [];
    const baseline = externalBytes();
    let peak = 0;
    await using consumer = new PushConsumer(
      fromFirst(cluster, topic, (m) => {
        kept.push(m);
        peak = Math.max(peak, externalBytes() - baseline);
        try {
          bodies.push(m.body.toString());
        } catch (error) {
          refused.push({ key: m.keys[0], msgId: m.msgId, error: error as KarmanError });
        }
      }),
    );
    consumer.on('status', (s) => statuses.push(s));
    await consumer.start();
    await waitFor(() => kept.length === 2 + BOMBS + 1, 'every stored message to reach the handler');

    expect(bodies).toEqual(['before-0', 'before-1', 'compressed and fine']);
    expect(refused.map((r) => r.key)).toEqual(Array.from({ length: BOMBS }, (_, i) => `bomb-${i}`));
    for (const { msgId, error } of refused) {
      expect(error.code).toBe('BODY_TOO_LARGE');
      expect(error.message).toContain(msgId);
      expect(error.message).toMatch(/more than 4194304 bytes.*maxMessageSize/);
    }
    // Reading the body again answers the same error without inflating again.
    expect(() => kept[2]!.body).toThrow(refused[0]!.error);
    // Eagerly inflated, the kept messages would hold 16 × 62 MiB; lazily, each read stops at 4 MiB
    // and the kept messages hold only the compressed bytes of their pull.
    peak = Math.max(peak, externalBytes() - baseline);
    expect(peak).toBeLessThan(256 * MiB);
    expect(statuses.filter((s) => s.type === 'pull_failed')).toEqual([]);

    // The queue is not poisoned: messages sent afterwards are consumed too.
    await using producer = await startProducer(cluster);
    await sendMessages(producer, topic, 3, (i) => ({ body: `after-${i}` }));
    await waitFor(() => bodies.length === 6, 'the messages sent after the bombs');
    expect(bodies.slice(3)).toEqual(['after-0', 'after-1', 'after-2']);
  });

  it('push consumer: a handler that lets the error through sends the bomb back for a retry, and a raised maxMessageSize reads it', async () => {
    await using cluster = await startCluster({ brokers: 1 });
    const topic = await newTopic(cluster);
    const store = cluster.broker('broker-a').context.store;
    const small = deflateSync(Buffer.alloc(64 * 1024, 1));
    await store.put({ topic, queueId: 0, body: small, sysFlag: MessageSysFlag.COMPRESSED });
    const copyAt = store.maxPhyOffset;
    const failures: ConsumerStatus[] = [];
    const sentBack: ConsumerStatus[] = [];
    await using consumer = new PushConsumer(fromFirst(cluster, topic, (m) => void m.body.length, { maxMessageSize: 1024 }));
    consumer.on('status', (s) => {
      if (s.type === 'handler_failed') failures.push(s);
      if (s.type === 'message_sent_back') sentBack.push(s);
    });
    await consumer.start();
    await waitFor(() => sentBack.length === 1, 'the message to be sent back');
    expect(failures[0]).toMatchObject({ type: 'handler_failed', error: expect.objectContaining({ code: 'BODY_TOO_LARGE', message: expect.stringMatching(/more than 1024 bytes, the consumer's maxMessageSize/) }) });

    // The broker's copy for the retry keeps the compressed bytes and the flag.
    const copy = await store.readRecord(copyAt);
    expect(copy!.record.properties[MessageProperty.RETRY_TOPIC]).toBe(topic);
    expect(copy!.record.sysFlag & MessageSysFlag.COMPRESSED).toBe(MessageSysFlag.COMPRESSED);
    expect(copy!.record.body.equals(small)).toBe(true);
    // The limit is the consumer's: one allowed 64 KiB reads the message.
    await using pull = new PullConsumer({ ...FAST, nameservers: cluster.namesrvAddr, group: uniqueName('G'), consumeFromWhere: 'CONSUME_FROM_FIRST_OFFSET', maxMessageSize: 64 * 1024 });
    pull.assign([{ topic, brokerName: 'broker-a', queueId: 0 }]);
    await pull.start();
    const [message] = await pull.poll(5_000);
    expect(message!.body.equals(Buffer.alloc(64 * 1024, 1))).toBe(true);
  });
});
