import { describe, expect, it } from 'vitest';
import { MessageProperty, RequestCode, ResponseCode, decodeOffsetMessageId, encodeBatch } from '@karman/protocol';
import { startTestBroker, uniqueName } from './broker-fixture.js';
import { createTopic, field, readQueue, send, sendV2, v2Fields } from './send-helpers.js';

describe('SEND_MESSAGE, SEND_MESSAGE_V2 and SEND_BATCH_MESSAGE', () => {
  it('stores a message as sent and answers its offset id, queue id and queue offset', async () => {
    await using b = await startTestBroker();
    const topic = uniqueName('send');
    await createTopic(b, topic, 4);
    const body = Buffer.from('hello karman \u00e9\u4e16', 'utf8');
    const bornTimestamp = Date.now() - 1234;
    const properties = { [MessageProperty.TAGS]: 'TagA', [MessageProperty.KEYS]: 'order-1 order-2', [MessageProperty.UNIQ_KEY]: 'AC11000100002A9F0000000000000001', custom: 'x=1' };

    const first = await send(b, topic, body, { queueId: 2, properties, flag: 7, bornTimestamp, reconsumeTimes: 0 });
    expect(first.code, first.remark).toBe(ResponseCode.SUCCESS.code);
    expect(field(first, 'queueId')).toBe('2');
    expect(field(first, 'queueOffset')).toBe('0');
    const msgId = field(first, 'msgId')!;
    const { host, physicalOffset } = decodeOffsetMessageId(msgId);
    expect(`${host.host}:${host.port}`).toBe(b.broker.address);

    const stored = await b.broker.context.store.readRecord(physicalOffset);
    expect(stored).toBeDefined();
    const record = stored!.record;
    expect(record.topic).toBe(topic);
    expect(record.queueId).toBe(2);
    expect(record.queueOffset).toBe(0);
    expect(record.flag).toBe(7);
    expect(record.bornTimestamp).toBe(bornTimestamp);
    expect(record.bornHost.host).toBe('127.0.0.1');
    expect(record.bornHost.port).toBeGreaterThan(0);
    expect(Buffer.compare(record.body, body)).toBe(0);
    expect({ ...record.properties }).toMatchObject(properties);

    const second = await send(b, topic, Buffer.from('second'), { queueId: 2 });
    expect(second.code).toBe(ResponseCode.SUCCESS.code);
    expect(field(second, 'queueOffset')).toBe('1');
    const inQueue = await readQueue(b, topic, 2);
    expect(inQueue.map((r) => r.body.toString())).toEqual([body.toString(), 'second']);
  });

  it('accepts the V2 header with one-letter names and raw numbers (ali-ons) the same way', async () => {
    await using b = await startTestBroker();
    const topic = uniqueName('sendv2');
    await createTopic(b, topic, 2);
    const response = await sendV2(b, topic, Buffer.from('v2 body'), { queueId: 1, properties: { [MessageProperty.TAGS]: 'TagB' }, flag: 3 });
    expect(response.code, response.remark).toBe(ResponseCode.SUCCESS.code);
    expect(field(response, 'queueId')).toBe('1');
    expect(field(response, 'queueOffset')).toBe('0');
    const [record] = await readQueue(b, topic, 1);
    expect(record?.body.toString()).toBe('v2 body');
    expect(record?.properties[MessageProperty.TAGS]).toBe('TagB');
    expect(record?.flag).toBe(3);
    expect(decodeOffsetMessageId(field(response, 'msgId')!).physicalOffset).toBe(record?.physicalOffset);
  });

  it('picks the queue when the producer sends queueId -1, spreading over the write queues', async () => {
    await using b = await startTestBroker();
    const topic = uniqueName('anyq');
    await createTopic(b, topic, 3);
    const queues = new Set<string>();
    for (let i = 0; i < 6; i++) {
      const response = await send(b, topic, Buffer.from(`m${i}`), { queueId: -1 });
      expect(response.code, response.remark).toBe(ResponseCode.SUCCESS.code);
      queues.add(field(response, 'queueId')!);
    }
    expect([...queues].sort()).toEqual(['0', '1', '2']);
  });

  it('stores each batch entry as its own record with consecutive queue offsets and answers every id', async () => {
    await using b = await startTestBroker();
    const topic = uniqueName('batch');
    await createTopic(b, topic, 2);
    await send(b, topic, Buffer.from('before'), { queueId: 1 });
    const entries = [0, 1, 2].map((i) => ({
      body: Buffer.from(`entry-${i}`),
      flag: i,
      properties: { [MessageProperty.KEYS]: `k${i}`, [MessageProperty.UNIQ_KEY]: `U${i}`, [MessageProperty.TAGS]: i === 1 ? 'odd' : 'even' },
    }));
    const response = await b.request(RequestCode.SEND_BATCH_MESSAGE.code, v2Fields(topic, { queueId: 1 }), encodeBatch(entries));
    expect(response.code, response.remark).toBe(ResponseCode.SUCCESS.code);
    expect(field(response, 'queueId')).toBe('1');
    expect(field(response, 'queueOffset')).toBe('1');
    const ids = field(response, 'msgId')!.split(',');
    expect(ids).toHaveLength(3);

    const records = await readQueue(b, topic, 1, 1);
    expect(records.map((r) => r.queueOffset)).toEqual([1, 2, 3]);
    expect(records.map((r) => r.body.toString())).toEqual(['entry-0', 'entry-1', 'entry-2']);
    expect(records.map((r) => r.flag)).toEqual([0, 1, 2]);
    expect(records.map((r) => r.properties[MessageProperty.KEYS])).toEqual(['k0', 'k1', 'k2']);
    expect(records.map((r) => r.properties[MessageProperty.TAGS])).toEqual(['even', 'odd', 'even']);
    expect(ids.map((id) => decodeOffsetMessageId(id).physicalOffset)).toEqual(records.map((r) => r.physicalOffset));
  });

  it('counts stored messages and bytes per topic', async () => {
    await using b = await startTestBroker();
    const topic = uniqueName('stats');
    await createTopic(b, topic, 1);
    await send(b, topic, Buffer.alloc(10));
    await send(b, topic, Buffer.alloc(5));
    expect(b.broker.context.stats.perTopic().get(topic)).toMatchObject({ messagesIn: 2, bytesIn: 15 });
  });
});
