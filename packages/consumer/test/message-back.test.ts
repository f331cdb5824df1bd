/**
 * The send-back fallbacks of §4.7: when CONSUMER_SEND_MSG_BACK fails (here: the broker cannot find
 * the message at the offset named), a copy is sent straight to %RETRY%<group>, keeping its unique
 * id, body, tags and keys, and the group's consumer gets it back with its original topic and
 * reconsumeTimes 1.
 */
import { describe, expect, it } from 'vitest';
import { startCluster } from '@karman/testkit';
import { ClientInstance } from '@karman/client';
import { PushConsumer } from '../src/push-consumer.js';
import { sendMessageBack } from '../src/message-back.js';
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
});
