import { randomBytes } from 'node:crypto';
import { deflateSync } from 'node:zlib';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { MessageProperty, MessageSysFlag, Perm, RequestCode, ResponseCode, decodeOffsetMessageId, encodeBatch, topicNameProblem } from '@karman/protocol';
import { startTestBroker, uniqueName } from './broker-fixture.js';
import type { TestBroker } from './broker-fixture.js';
import { createTopic, send, v2Fields } from './send-helpers.js';

/** After any refusal the broker still takes a good message. */
async function stillServes(b: TestBroker, topic: string): Promise<void> {
  const ok = await send(b, topic, Buffer.from('fine'));
  expect(ok.code, ok.remark).toBe(ResponseCode.SUCCESS.code);
}

describe('send validation answers the RocketMQ code with a remark saying what to do', () => {
  it('refuses bad topics, permissions, queue ids and bodies without storing anything', async () => {
    await using b = await startTestBroker({ maxMessageSize: 1024 });
    const topic = uniqueName('valid');
    await createTopic(b, topic, 4);
    const readOnly = uniqueName('readonly');
    await createTopic(b, readOnly, 4, Perm.READ);
    const maxBefore = b.broker.context.store.maxPhyOffset;

    const cases: Array<{ name: string; topic: string; body?: Buffer; queueId?: number; properties?: Record<string, string>; code: number; remark: RegExp }> = [
      { name: 'missing topic', topic: uniqueName('nope'), code: ResponseCode.TOPIC_NOT_EXIST.code, remark: /does not exist on broker broker-a; create it with updateTopic or enable autoCreateTopicEnable/ },
      { name: 'bad characters', topic: 'bad topic!', code: ResponseCode.SYSTEM_ERROR.code, remark: /characters outside \[%\|a-zA-Z0-9_-\]/ },
      { name: 'too long', topic: 'x'.repeat(128), code: ResponseCode.SYSTEM_ERROR.code, remark: /128 characters long; the limit is 127/ },
      { name: 'reserved topic', topic: 'SCHEDULE_TOPIC_XXXX', code: ResponseCode.NO_PERMISSION.code, remark: /reserved for the broker's own use/ },
      { name: 'read-only topic', topic: readOnly, code: ResponseCode.NO_PERMISSION.code, remark: /is not writable on broker broker-a \(perm 4\); give it write permission/ },
      { name: 'queue id too high', topic, queueId: 4, code: ResponseCode.SYSTEM_ERROR.code, remark: /queue id 4 is out of range: topic "[^"]+" has 4 queues .*ids 0 to 3/ },
      { name: 'empty body', topic, body: Buffer.alloc(0), code: ResponseCode.MESSAGE_ILLEGAL.code, remark: /empty body; send at least one byte/ },
      { name: 'no body', topic, body: undefined, code: ResponseCode.MESSAGE_ILLEGAL.code, remark: /empty body/ },
      { name: 'body over maxMessageSize', topic, body: Buffer.alloc(1025), code: ResponseCode.MESSAGE_ILLEGAL.code, remark: /1025 bytes, more than maxMessageSize 1024.*split or compress/ },
      { name: 'properties over 32767 bytes', topic, properties: { big: 'p'.repeat(33_000) }, code: ResponseCode.MESSAGE_ILLEGAL.code, remark: /the limit is 32767.*keep properties under/ },
      { name: 'DELAY not a number', topic, properties: { [MessageProperty.DELAY]: 'soon' }, code: ResponseCode.MESSAGE_ILLEGAL.code, remark: /DELAY property "soon" is not a delay level; give an integer from 1 to 18/ },
    ];
    for (const c of cases) {
      const body = 'body' in c ? c.body : Buffer.from('payload');
      const response = await send(b, c.topic, body, { queueId: c.queueId ?? 0, properties: c.properties });
      expect(response.code, `${c.name}: ${response.remark}`).toBe(c.code);
      expect(response.remark, c.name).toMatch(c.remark);
    }
    expect(b.broker.context.store.maxPhyOffset).toBe(maxBefore);
    await stillServes(b, topic);
  });

  it('refuses malformed batches, batches to retry topics and batches with delay levels or transactions', async () => {
    await using b = await startTestBroker();
    const topic = uniqueName('vbatch');
    await createTopic(b, topic, 1);
    const good = encodeBatch([{ body: Buffer.from('a'), flag: 0, properties: {} }]);
    const cut = good.subarray(0, good.length - 1);
    const cases: Array<{ name: string; fields: ReturnType<typeof v2Fields>; body: Buffer; remark: RegExp }> = [
      { name: 'truncated body', fields: v2Fields(topic), body: cut, remark: /the batch body is malformed: batch entry 0 at offset 0 has TOTALSIZE/ },
      { name: 'garbage body', fields: v2Fields(topic), body: Buffer.from('not a batch at all, just text'), remark: /the batch body is malformed/ },
      { name: 'retry topic', fields: v2Fields('%RETRY%some_group'), body: good, remark: /a batch cannot be sent to the retry topic "%RETRY%some_group"/ },
      { name: 'delay on the batch', fields: v2Fields(topic, { properties: { [MessageProperty.DELAY]: '2' } }), body: good, remark: /a batch cannot carry a delay level/ },
      {
        name: 'delay on an entry',
        fields: v2Fields(topic),
        body: encodeBatch([
          { body: Buffer.from('a'), flag: 0, properties: {} },
          { body: Buffer.from('b'), flag: 0, properties: { [MessageProperty.DELAY]: '3' } },
        ]),
        remark: /batch entry 1 carries a delay level \(DELAY=3\)/,
      },
      { name: 'empty entry', fields: v2Fields(topic), body: encodeBatch([{ body: Buffer.alloc(0), flag: 0, properties: {} }]), remark: /batch entry 0 has an empty body/ },
      { name: 'transaction', fields: v2Fields(topic, { sysFlag: MessageSysFlag.TRANSACTION_PREPARED }), body: good, remark: /cannot carry transaction messages/ },
    ];
    for (const c of cases) {
      const response = await b.request(RequestCode.SEND_BATCH_MESSAGE.code, c.fields, c.body);
      expect(response.code, `${c.name}: ${response.remark}`).toBe(ResponseCode.MESSAGE_ILLEGAL.code);
      expect(response.remark, c.name).toMatch(c.remark);
    }
    expect(b.broker.context.store.getMaxOffsetInQueue(topic, 0)).toBe(0);
    await stillServes(b, topic);
  });

  it('refuses a compressed body that inflates past maxMessageSize, alone or in a batch, and one that is not zlib', async () => {
    await using b = await startTestBroker({ maxMessageSize: 64 * 1024 });
    const topic = uniqueName('vzip');
    await createTopic(b, topic, 1);
    const maxBefore = b.broker.context.store.maxPhyOffset;
    // 62 KiB of zlib that inflates to 62 MiB: under maxMessageSize as sent, 1000 times over it inflated.
    const bomb = deflateSync(Buffer.alloc(62 * 1024 * 1024), { level: 9 });
    expect(bomb.length).toBeLessThan(64 * 1024);
    const zip = { sysFlag: MessageSysFlag.COMPRESSED };
    const cases: Array<{ name: string; code: number; fields: ReturnType<typeof v2Fields>; body: Buffer; remark: RegExp }> = [
      { name: 'bomb', code: RequestCode.SEND_MESSAGE_V2.code, fields: v2Fields(topic, zip), body: bomb, remark: /the message has a compressed body that inflates to more than 65536 bytes, the maxMessageSize of broker broker-a; send it uncompressed under that size or raise maxMessageSize/ },
      { name: 'bomb, zlib type bits', code: RequestCode.SEND_MESSAGE_V2.code, fields: v2Fields(topic, { sysFlag: MessageSysFlag.COMPRESSED | 0x300 }), body: bomb, remark: /inflates to more than 65536 bytes/ },
      { name: 'just over', code: RequestCode.SEND_MESSAGE_V2.code, fields: v2Fields(topic, zip), body: deflateSync(Buffer.alloc(64 * 1024 + 1)), remark: /inflates to more than 65536 bytes/ },
      { name: 'not zlib', code: RequestCode.SEND_MESSAGE_V2.code, fields: v2Fields(topic, zip), body: Buffer.from('plain text flagged compressed '.repeat(10)), remark: /the message is flagged compressed \(SYSFLAG bit 0\) but is not valid zlib data \(.*\); compress it with zlib or clear the flag/ },
      { name: 'truncated zlib', code: RequestCode.SEND_MESSAGE_V2.code, fields: v2Fields(topic, zip), body: deflateSync(randomBytes(5000)).subarray(0, 4000), remark: /not valid zlib data \(unexpected end of file\)/ },
      {
        name: 'bomb in a batch',
        code: RequestCode.SEND_BATCH_MESSAGE.code,
        fields: v2Fields(topic, zip),
        body: encodeBatch([{ body: deflateSync(Buffer.from('fine')), flag: 0, properties: {} }, { body: bomb, flag: 0, properties: {} }]),
        remark: /batch entry 1 has a compressed body that inflates to more than 65536 bytes/,
      },
    ];
    for (const c of cases) {
      const response = await b.request(c.code, c.fields, c.body);
      expect(response.code, `${c.name}: ${response.remark}`).toBe(ResponseCode.MESSAGE_ILLEGAL.code);
      expect(response.remark, c.name).toMatch(c.remark);
    }
    expect(b.broker.context.store.maxPhyOffset).toBe(maxBefore);
    // Too short to inflate past 64 KiB at deflate's best ratio (1032:1): stored unchecked, as RocketMQ does.
    const short = await b.request(RequestCode.SEND_MESSAGE_V2.code, v2Fields(topic, zip), Buffer.from('not zlib, 40 bytes, cannot be a bomb...'));
    expect(short.code, short.remark).toBe(ResponseCode.SUCCESS.code);
    // Exactly at the limit is fine, and stored compressed as sent.
    const atLimit = deflateSync(Buffer.alloc(64 * 1024, 7));
    const ok = await b.request(RequestCode.SEND_MESSAGE_V2.code, v2Fields(topic, zip), atLimit);
    expect(ok.code, ok.remark).toBe(ResponseCode.SUCCESS.code);
    expect(b.broker.context.store.maxPhyOffset).toBeGreaterThan(maxBefore);
    await stillServes(b, topic);
  });

  it('a slave answers SERVICE_NOT_AVAILABLE and a read-only broker NO_PERMISSION', async () => {
    {
      await using slave = await startTestBroker({ brokerRole: 'SLAVE', brokerId: 1 });
      const topic = uniqueName('slave');
      await createTopic(slave, topic, 1);
      const response = await send(slave, topic, Buffer.from('x'));
      expect(response.code).toBe(ResponseCode.SERVICE_NOT_AVAILABLE.code);
      expect(response.remark).toMatch(/is a slave and does not accept messages; send to the master/);
    }
    {
      await using readOnly = await startTestBroker({ brokerPermission: Perm.READ });
      const topic = uniqueName('robroker');
      await createTopic(readOnly, topic, 1);
      const response = await send(readOnly, topic, Buffer.from('x'));
      expect(response.code).toBe(ResponseCode.NO_PERMISSION.code);
      expect(response.remark).toMatch(/broker broker-a is not writable \(brokerPermission 4\)/);
    }
  });

  it('answers a header missing required fields with SYSTEM_ERROR naming the field, and keeps the connection', async () => {
    await using b = await startTestBroker();
    const topic = uniqueName('hdr');
    await createTopic(b, topic, 1);
    const response = await b.request(RequestCode.SEND_MESSAGE.code, { topic, queueId: 'zero' }, Buffer.from('x'));
    expect(response.code).toBe(ResponseCode.SYSTEM_ERROR.code);
    expect(response.remark).toMatch(/queueId/);
    await stillServes(b, topic);
  });
  it('answers any header and body thrown at the send codes with a response, and keeps serving', async () => {
    await using b = await startTestBroker();
    const topic = uniqueName('fuzz');
    await createTopic(b, topic, 2);
    const value = fc.oneof(fc.string({ maxLength: 20 }), fc.integer(), fc.boolean(), fc.constantFrom(topic, '%RETRY%g', 'TBW102', '-1', '99999999999'));
    const known = new Set<number>(Object.values(ResponseCode).map((c) => c.code));
    const keys = fc.constantFrom('topic', 'queueId', 'properties', 'sysFlag', 'flag', 'bornTimestamp', 'offset', 'group', 'delayLevel', 'a', 'b', 'e', 'f', 'i', 'producerGroup', 'defaultTopic');
    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom(RequestCode.SEND_MESSAGE.code, RequestCode.SEND_MESSAGE_V2.code, RequestCode.SEND_BATCH_MESSAGE.code, RequestCode.CONSUMER_SEND_MSG_BACK.code),
        fc.dictionary(keys, value),
        fc.option(fc.uint8Array({ maxLength: 64 }), { nil: undefined }),
        async (code, fields, body) => {
          const response = await b.request(code, fields, body);
          // One of RocketMQ's response codes, and a refusal always says why.
          expect(known.has(response.code), `response code ${response.code}`).toBe(true);
          if (response.code !== ResponseCode.SUCCESS.code) {
            expect(response.remark ?? '').not.toBe('');
            return;
          }
          if (code === RequestCode.CONSUMER_SEND_MSG_BACK.code) return;
          // An accepted send is stored where its offset id says, under a topic the rules allow.
          const offsetIds = String(response.extFields.msgId ?? '').split(',');
          for (const id of offsetIds) {
            const stored = await b.broker.context.store.readRecord(decodeOffsetMessageId(id).physicalOffset);
            expect(stored, `record of ${id}`).toBeDefined();
            expect(topicNameProblem(stored!.record.topic)).toBeUndefined();
          }
        },
      ),
      { numRuns: 150, seed: 19_009 },
    );
    await stillServes(b, topic);
  });
});
