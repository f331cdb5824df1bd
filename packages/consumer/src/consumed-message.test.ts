import { describe, expect, it } from 'vitest';
import { deflateSync } from 'node:zlib';
import { MessageSysFlag, createOffsetMessageId, decodeRecords, encodeRecord } from '@karman/protocol';
import type { RecordInput } from '@karman/protocol';
import { storedBody, storedBodySize, toConsumedMessage } from './consumed-message.js';
import { ProcessQueue } from './process-queue.js';

const input = (over: Partial<RecordInput>): RecordInput => ({
  queueId: 1,
  flag: 0,
  queueOffset: 7,
  physicalOffset: 4096,
  sysFlag: 0,
  bornTimestamp: 1,
  bornHost: { host: '10.0.0.1', port: 5000 },
  storeTimestamp: 2,
  storeHost: { host: '10.0.0.2', port: 10911 },
  reconsumeTimes: 0,
  preparedTransactionOffset: 0,
  body: Buffer.from('hello'),
  topic: 'T',
  properties: { TAGS: 'a', KEYS: 'k1  k2' },
  ...over,
});

describe('toConsumedMessage', () => {
  it('builds offsetMsgId and host texts as before, for records from different hosts back to back', () => {
    const records = [
      input({}),
      input({ physicalOffset: 2 ** 40 + 17, storeHost: { host: '10.0.0.3', port: 10911 }, bornHost: { host: '::1', port: 6000 } }),
      input({ physicalOffset: 0, storeHost: { host: '10.0.0.3', port: 10912 } }),
      input({ physicalOffset: 2 ** 53 - 1, storeHost: { host: 'fe80::1', port: 1 } }),
    ];
    const queue = { topic: 'T', brokerName: 'b', queueId: 1 };
    const messages = decodeRecords(Buffer.concat(records.map(encodeRecord))).map((r) => toConsumedMessage(r, queue));
    expect(messages.map((m) => m.offsetMsgId)).toEqual(records.map((r) => createOffsetMessageId(r.storeHost, r.physicalOffset)));
    expect(messages.map((m) => m.storeHost)).toEqual(['10.0.0.2:10911', '10.0.0.3:10911', '10.0.0.3:10912', '[fe80::1]:1']);
    expect(messages.map((m) => m.bornHost)).toEqual(['10.0.0.1:5000', '[::1]:6000', '10.0.0.1:5000', '10.0.0.1:5000']);
    expect(messages[0]).toMatchObject({ msgId: messages[0]!.offsetMsgId, tags: 'a', keys: ['k1', 'k2'], body: Buffer.from('hello') });
  });

  it('inflates a compressed body when it is first read, once, and within the limit', () => {
    const queue = { topic: 'T', brokerName: 'b', queueId: 1 };
    const plain = Buffer.alloc(10_000, 'xyz');
    const zipped = deflateSync(plain);
    const [ok, bomb, garbage] = decodeRecords(
      Buffer.concat([
        encodeRecord(input({ body: zipped, sysFlag: MessageSysFlag.COMPRESSED | MessageSysFlag.TRANSACTION_COMMIT })),
        encodeRecord(input({ body: deflateSync(Buffer.alloc(1 << 20)), sysFlag: MessageSysFlag.COMPRESSED, queueOffset: 8 })),
        encodeRecord(input({ body: Buffer.from('not zlib'), sysFlag: MessageSysFlag.COMPRESSED, queueOffset: 9 })),
      ]),
    ).map((r) => toConsumedMessage(r, queue, 64 * 1024));

    // Held, a message counts (and flow control sees) its stored bytes, not what they inflate to.
    expect(storedBodySize(ok!)).toBe(zipped.length);
    const pq = new ProcessQueue(queue);
    pq.put([ok!, bomb!]);
    expect(pq.size).toBe(zipped.length + storedBodySize(bomb!));
    expect(ok!.body).toEqual(plain);
    expect(ok!.body).toBe(ok!.body);
    expect({ ...ok! }.body).toBe(ok!.body);
    // Resent as stored: compressed bytes and the compression flag, no transaction bits.
    expect(storedBody(ok!)).toEqual({ body: zipped, sysFlag: MessageSysFlag.COMPRESSED });

    expect(() => bomb!.body).toThrow(expect.objectContaining({ code: 'BODY_TOO_LARGE', message: expect.stringMatching(/^message \S+ \(topic T, queue 1, offset 8, broker b\) has a compressed body that inflates to more than 65536 bytes, the consumer's maxMessageSize; raise maxMessageSize/) }));
    expect(() => garbage!.body).toThrow(expect.objectContaining({ code: 'PROTOCOL_ERROR', message: expect.stringMatching(/offset 9.*not valid zlib data/) }));
    pq.removeMessage([ok!, bomb!]);
    expect(pq.size).toBe(0);

    // A handler may replace the body; a resend then sends what it put there.
    bomb!.body = Buffer.from('replaced');
    expect(bomb!.body.toString()).toBe('replaced');
    expect(storedBody(bomb!)).toEqual({ body: Buffer.from('replaced'), sysFlag: 0 });
  });
});
