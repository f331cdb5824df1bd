import { describe, expect, it } from 'vitest';
import { createOffsetMessageId, decodeRecords, encodeRecord } from '@karman/protocol';
import type { RecordInput } from '@karman/protocol';
import { toConsumedMessage } from './consumed-message.js';

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
});
