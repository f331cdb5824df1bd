/**
 * The send-back fallbacks of RocketMQ's ConsumeMessageConcurrentlyService: when CONSUMER_SEND_MSG_BACK fails (here: the broker cannot find
 * the message at the offset named), a copy is sent straight to %RETRY%<group>, keeping its unique
 * id, body, tags and keys, and the group's consumer gets it back with its original topic and
 * reconsumeTimes 1.
 */
import { describe, expect, it } from 'vitest';
import { startCluster } from '@karman/testkit';
import { ClientInstance } from '@karman/client';
import { PushConsumer } from '../src/push-consumer.js';
import { deflateSync } from 'node:zlib';
import { MessageSysFlag, decodeRecords, encodeRecord } from '@karman/protocol';
import { sendMessageBack } from '../src/message-back.js';
import { toConsumedMessage } from '../src/consumed-message.js';
import type { ConsumedMessage } from '../src/consumed-message.js';
import { FAST, startProducer, uniqueName, waitFor } from './consumer-fixture.js';

const delayLevels = Array.from({ length: 18 }, () => '20ms').join(' ');

describe('sendMessageBack', () => {
  it('falls back to resending to %RETRY%<group> when the broker refuses the send-back', async () => {
    await using cluster = await startCluster({ brokers: 1, brokerOptions: { messageDelayLevel: delayLevels } });
    const topic = uniqueName('T');
    const group = uniqueName('G');
    await cluster.createTopic(topic, { queues: 1 });
    await using producer = await startProducer(cluster);
    const sent = await producer.send({ topic, body: 'hello', tags: 'A', keys: ['k1'] });

    const redelivered: ConsumedMessage[] = [];
    await using consumer = new PushConsumer({ ...FAST, nameservers: cluster.namesrvAddr, group, subscriptions: { [topic]: 'A' }, handler: (m) => void (m.reconsumeTimes > 0 && redelivered.push(m)) });
    await consumer.start();

    const client = ClientInstance.acquire({ nameservers: cluster.namesrvAddr, instanceName: uniqueName('back') });
    try {
      await client.route(topic);
      const message: ConsumedMessage = {
        topic,
        tags: 'A',
        keys: ['k1'],
        body: Buffer.from('hello'),
        properties: { TAGS: 'A', KEYS: 'k1', UNIQ_KEY: sent.msgId },
        msgId: sent.msgId,
        offsetMsgId: sent.offsetMsgId,
        queueId: 0,
        queueOffset: 0,
        brokerName: 'broker-a',
        reconsumeTimes: 0,
        bornTimestamp: Date.now(),
        storeTimestamp: Date.now(),
        bornHost: '127.0.0.1:1',
        storeHost: '127.0.0.1:2',
        commitLogOffset: 987_654_321, // nothing stored there: CONSUMER_SEND_MSG_BACK fails
        storedTopic: topic,
      };
      await waitFor(async () => Boolean(await client.updateRoute(`%RETRY%${group}`).catch(() => undefined)), 'the retry topic route');
      expect(await sendMessageBack(client, message, { group, delayLevel: 0, maxReconsumeTimes: 16, timeoutMillis: 3_000 })).toBe('resend');
    } finally {
      await client.release();
    }
    await waitFor(() => redelivered.length === 1, 'the resent copy to come back', 10_000);
    expect(redelivered[0]).toMatchObject({ topic, storedTopic: `%RETRY%${group}`, msgId: sent.msgId, tags: 'A', keys: ['k1'], reconsumeTimes: 1 });
    expect(redelivered[0]!.body.toString()).toBe('hello');
  });

  it('resends a compressed message as stored, even one whose body this consumer may not inflate', async () => {
    await using cluster = await startCluster({ brokers: 1, brokerOptions: { messageDelayLevel: delayLevels } });
    const topic = uniqueName('T');
    const group = uniqueName('G');
    await cluster.createTopic(topic, { queues: 1 });
    const body = Buffer.alloc(64 * 1024, 'z');
    const zipped = deflateSync(body);
    const [record] = decodeRecords(
      encodeRecord({
        topic, queueId: 0, flag: 0, queueOffset: 0, physicalOffset: 987_654_321, // nothing stored there: CONSUMER_SEND_MSG_BACK fails
        sysFlag: MessageSysFlag.COMPRESSED, bornTimestamp: Date.now(), bornHost: { host: '127.0.0.1', port: 1 }, storeTimestamp: Date.now(),
        storeHost: { host: '127.0.0.1', port: 2 }, reconsumeTimes: 0, preparedTransactionOffset: 0, body: zipped, properties: { UNIQ_KEY: 'ZIPPED' },
      }),
    );
    const message = toConsumedMessage(record!, { topic, brokerName: 'broker-a', queueId: 0 }, 1024);
    expect(() => message.body).toThrow(/more than 1024 bytes/);

    const redelivered: ConsumedMessage[] = [];
    await using consumer = new PushConsumer({ ...FAST, nameservers: cluster.namesrvAddr, group, subscriptions: { [topic]: '*' }, handler: (m) => void (m.reconsumeTimes > 0 && redelivered.push(m)) });
    await consumer.start();
    const client = ClientInstance.acquire({ nameservers: cluster.namesrvAddr, instanceName: uniqueName('back') });
    try {
      await waitFor(async () => Boolean(await client.updateRoute(`%RETRY%${group}`).catch(() => undefined)), 'the retry topic route');
      expect(await sendMessageBack(client, message, { group, delayLevel: 0, maxReconsumeTimes: 16, timeoutMillis: 3_000 })).toBe('resend');
    } finally {
      await client.release();
    }
    await waitFor(() => redelivered.length === 1, 'the resent copy to come back', 10_000);
    expect(redelivered[0]).toMatchObject({ topic, msgId: 'ZIPPED', reconsumeTimes: 1 });
    expect(redelivered[0]!.body.equals(body)).toBe(true);
    const stored = await cluster.broker('broker-a').context.store.readRecord(redelivered[0]!.commitLogOffset);
    expect(stored!.record.body.equals(zipped)).toBe(true);
  });
});
