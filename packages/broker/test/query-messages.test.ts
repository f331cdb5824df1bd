/**
 * Finding messages as mqadmin's queryMsgByKey, queryMsgById and queryMsgByOffset do: by key and
 * time range (QUERY_MESSAGE), by commit-log offset (VIEW_MESSAGE_BY_ID, the offset inside an
 * offset message id) and by queue offset (QUERY_CONSUME_QUEUE then VIEW_MESSAGE_BY_ID). Answers
 * carry the raw stored records, which decode back to what was stored.
 */
import { describe, expect, it } from 'vitest';
import { MessageProperty, RequestCode, ResponseCode, decodeOffsetMessageId, decodeRecords, tagsCode } from '@karman/protocol';
import type { RemotingCommand } from '@karman/protocol';
import { startTestBroker, uniqueName } from './broker-fixture.js';
import type { TestBroker } from './broker-fixture.js';

async function createTopic(b: TestBroker, topic: string, queues = 2): Promise<void> {
  const response = await b.request(RequestCode.UPDATE_AND_CREATE_TOPIC.code, {
    topic,
    defaultTopic: 'TBW102',
    readQueueNums: queues,
    writeQueueNums: queues,
    perm: 6,
    topicFilterType: 'SINGLE_TAG',
    order: false,
  });
  expect(response.code).toBe(0);
}

function records(response: RemotingCommand) {
  return decodeRecords(Buffer.from(response.body ?? []));
}

describe('message queries', () => {
  it('finds messages by key within a time range, newest first, and answers QUERY_NOT_FOUND otherwise', async () => {
    await using b = await startTestBroker();
    const topic = uniqueName('QueryTopic');
    await createTopic(b, topic);
    const { store } = b.broker.context;
    const before = Date.now() - 1;
    await store.put({ topic, queueId: 0, body: Buffer.from('first'), properties: { [MessageProperty.KEYS]: 'order-1 customer-9' } });
    await store.put({ topic, queueId: 1, body: Buffer.from('other'), properties: { [MessageProperty.KEYS]: 'order-2' } });
    await store.put({ topic, queueId: 1, body: Buffer.from('second'), properties: { [MessageProperty.KEYS]: 'order-1' } });
    const after = Date.now() + 1000;

    const found = await b.request(RequestCode.QUERY_MESSAGE.code, { topic, key: 'order-1', maxNum: 32, beginTimestamp: before, endTimestamp: after });
    expect(found.code).toBe(ResponseCode.SUCCESS.code);
    expect(records(found).map((r) => Buffer.from(r.body).toString()).sort()).toEqual(['first', 'second']);
    expect(Number(found.extFields.indexLastUpdateTimestamp)).toBeGreaterThan(0);
    expect(Number(found.extFields.indexLastUpdatePhyoffset)).toBeGreaterThanOrEqual(0);

    const byOtherKey = await b.request(RequestCode.QUERY_MESSAGE.code, { topic, key: 'customer-9', maxNum: 32, beginTimestamp: before, endTimestamp: after });
    expect(records(byOtherKey).map((r) => Buffer.from(r.body).toString())).toEqual(['first']);

    const limited = await b.request(RequestCode.QUERY_MESSAGE.code, { topic, key: 'order-1', maxNum: 1, beginTimestamp: before, endTimestamp: after });
    expect(records(limited)).toHaveLength(1);

    const missing = await b.request(RequestCode.QUERY_MESSAGE.code, { topic, key: 'order-404', maxNum: 32, beginTimestamp: before, endTimestamp: after });
    expect(missing.code).toBe(ResponseCode.QUERY_NOT_FOUND.code);
    expect(missing.remark).toMatch(/with key "order-404"/);
    expect(missing.extFields).toHaveProperty('indexLastUpdateTimestamp');

    const tooEarly = await b.request(RequestCode.QUERY_MESSAGE.code, { topic, key: 'order-1', maxNum: 32, beginTimestamp: 0, endTimestamp: before - 60_000 });
    expect(tooEarly.code).toBe(ResponseCode.QUERY_NOT_FOUND.code);
  });

  it('answers a query by key with at most 8 MiB of records, newest first, however many match', async () => {
    await using b = await startTestBroker({ maxMessageSize: 4 * 1024 * 1024, mappedFileSizeCommitLog: 32 * 1024 * 1024 });
    const topic = uniqueName('QueryBig');
    await createTopic(b, topic, 1);
    const { store } = b.broker.context;
    const before = Date.now() - 1;
    // Six 3 MiB messages with one key: 18 MiB would match; two fit under 8 MiB.
    for (let i = 0; i < 6; i++) await store.put({ topic, queueId: 0, body: Buffer.alloc(3 * 1024 * 1024, 48 + i), properties: { [MessageProperty.KEYS]: 'big' } });
    const found = await b.request(RequestCode.QUERY_MESSAGE.code, { topic, key: 'big', maxNum: 64, beginTimestamp: before, endTimestamp: Date.now() + 1000 }, undefined, 20_000);
    expect(found.code).toBe(ResponseCode.SUCCESS.code);
    expect((found.body ?? []).length).toBeLessThanOrEqual(8 * 1024 * 1024);
    expect(records(found)).toHaveLength(2);
  });

  it('views a message by the commit-log offset of its offset id, and refuses an offset where no message starts', async () => {
    await using b = await startTestBroker();
    const topic = uniqueName('ViewTopic');
    await createTopic(b, topic);
    const { store } = b.broker.context;
    await store.put({ topic, queueId: 0, body: Buffer.from('padding') });
    const put = await store.put({ topic, queueId: 1, body: Buffer.from('wanted'), properties: { [MessageProperty.TAGS]: 'TagA' } });
    const { physicalOffset: offset } = decodeOffsetMessageId(put.msgIds[0]!);
    expect(offset).toBe(put.wroteOffset);

    const viewed = await b.request(RequestCode.VIEW_MESSAGE_BY_ID.code, { offset });
    expect(viewed.code).toBe(ResponseCode.SUCCESS.code);
    const [record] = records(viewed);
    expect(Buffer.from(record!.body).toString()).toBe('wanted');
    expect(record).toMatchObject({ topic, queueId: 1, physicalOffset: put.wroteOffset, queueOffset: 0 });
    expect(record!.properties[MessageProperty.TAGS]).toBe('TagA');

    for (const bad of [offset + 1, store.maxPhyOffset, 10 ** 12]) {
      const response = await b.request(RequestCode.VIEW_MESSAGE_BY_ID.code, { offset: bad });
      expect(response.code).toBe(ResponseCode.QUERY_NOT_FOUND.code);
      expect(response.remark).toMatch(new RegExp(`no message starts at commit-log offset ${bad}`));
    }
    const wrongTopic = await b.request(RequestCode.VIEW_MESSAGE_BY_ID.code, { offset, topic: 'OtherTopic' });
    expect(wrongTopic.code).toBe(ResponseCode.QUERY_NOT_FOUND.code);
  });

  it('finds a message by queue offset through QUERY_CONSUME_QUEUE without creating any group', async () => {
    await using b = await startTestBroker();
    const topic = uniqueName('CqTopic');
    await createTopic(b, topic);
    const { store, groups, offsets } = b.broker.context;
    const groupsBefore = groups.all().length;
    for (let i = 0; i < 5; i++) await store.put({ topic, queueId: 1, body: Buffer.from(`m${i}`), properties: { [MessageProperty.TAGS]: i % 2 ? 'odd' : 'even' } });

    const cq = await b.request(RequestCode.QUERY_CONSUME_QUEUE.code, { topic, queueId: 1, index: 3, count: 1, consumerGroup: 'TOOLS_CONSUMER' });
    expect(cq.code).toBe(ResponseCode.SUCCESS.code);
    const body = JSON.parse(Buffer.from(cq.body ?? []).toString()) as { maxQueueIndex: number; minQueueIndex: number; queueData: Array<{ physicOffset: number; physicSize: number; tagsCode: number; queueOffset: number }> };
    expect(body).toMatchObject({ maxQueueIndex: 5, minQueueIndex: 0 });
    expect(body.queueData).toHaveLength(1);
    expect(body.queueData[0]).toMatchObject({ queueOffset: 3, tagsCode: tagsCode('odd') });

    const viewed = await b.request(RequestCode.VIEW_MESSAGE_BY_ID.code, { offset: body.queueData[0]!.physicOffset });
    const [record] = records(viewed);
    expect(Buffer.from(record!.body).toString()).toBe('m3');
    expect(record!.queueOffset).toBe(3);
    expect(viewed.body!.length).toBe(body.queueData[0]!.physicSize);

    const several = JSON.parse(Buffer.from((await b.request(RequestCode.QUERY_CONSUME_QUEUE.code, { topic, queueId: 1, index: 0, count: 10 })).body ?? []).toString()) as typeof body;
    expect(several.queueData.map((u) => u.queueOffset)).toEqual([0, 1, 2, 3, 4]);
    const beyond = JSON.parse(Buffer.from((await b.request(RequestCode.QUERY_CONSUME_QUEUE.code, { topic, queueId: 1, index: 5, count: 1 })).body ?? []).toString()) as typeof body;
    expect(beyond.queueData).toEqual([]);

    expect(groups.all().length).toBe(groupsBefore);
    expect(offsets.topicsOf('TOOLS_CONSUMER')).toEqual([]);

    const unknown = await b.request(RequestCode.QUERY_CONSUME_QUEUE.code, { topic: 'NoSuchTopic', queueId: 0, index: 0, count: 1 });
    expect(unknown.code).toBe(ResponseCode.TOPIC_NOT_EXIST.code);
    const badQueue = await b.request(RequestCode.QUERY_CONSUME_QUEUE.code, { topic, queueId: 9, index: 0, count: 1 });
    expect(badQueue.remark).toMatch(/queueId 9 is out of range: topic ".*" has queues 0 to 1/);
    const badHeader = await b.request(RequestCode.QUERY_CONSUME_QUEUE.code, { topic, queueId: 'x', index: 0 });
    expect(badHeader.code).toBe(ResponseCode.SYSTEM_ERROR.code);
    expect(badHeader.remark).toMatch(/field "queueId"/);
  });

  it('answers odd query input with a response code, never a crash', async () => {
    await using b = await startTestBroker();
    const topic = uniqueName('OddTopic');
    await createTopic(b, topic);
    await b.broker.context.store.put({ topic, queueId: 0, body: Buffer.from('x'), properties: { [MessageProperty.KEYS]: 'k' } });
    for (const maxNum of [0, -5]) {
      const response = await b.request(RequestCode.QUERY_MESSAGE.code, { topic, key: 'k', maxNum, beginTimestamp: 0, endTimestamp: Date.now() + 1000 });
      expect(response.code).toBe(ResponseCode.SYSTEM_ERROR.code);
      expect(response.remark).toBe(`maxNum=${maxNum} asks for no message; give 1 to 64`);
    }
    const odd: Array<Record<string, string | number>> = [
      { topic, key: 'k', maxNum: 1000, beginTimestamp: 0, endTimestamp: Date.now() + 1000 },
      { topic, key: 'k', maxNum: 32, beginTimestamp: Date.now() + 1000, endTimestamp: 0 },
      { topic, key: '', maxNum: 32, beginTimestamp: 0, endTimestamp: Date.now() + 1000 },
      { topic: 'NoSuchTopic', key: 'k', maxNum: 32, beginTimestamp: 0, endTimestamp: Date.now() + 1000 },
    ];
    for (const fields of odd) {
      const response = await b.request(RequestCode.QUERY_MESSAGE.code, fields);
      expect([ResponseCode.SUCCESS.code, ResponseCode.QUERY_NOT_FOUND.code], JSON.stringify(fields)).toContain(response.code);
    }
    for (const offset of [-1, 0.5, 'abc']) {
      const response = await b.request(RequestCode.VIEW_MESSAGE_BY_ID.code, { offset });
      expect(response.code, String(offset)).not.toBe(ResponseCode.SUCCESS.code);
      expect(response.remark).toBeTruthy();
    }
    // Still serving.
    const good = await b.request(RequestCode.QUERY_MESSAGE.code, { topic, key: 'k', maxNum: 32, beginTimestamp: 0, endTimestamp: Date.now() + 1000 });
    expect(good.code).toBe(ResponseCode.SUCCESS.code);
  });
});
