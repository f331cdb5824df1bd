import { crc32 } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { InvalidArgumentError, MAX_TOPIC_QUEUE_NUMS, topicNameProblem } from '@karman/protocol';
import { decodeRegisterBrokerBody, encodeRegisterBrokerBody } from './register-broker-body.js';

const json = (value: unknown): Uint8Array => Buffer.from(JSON.stringify(value));

describe('REGISTER_BROKER body', () => {
  it('decodes the RocketMQ 4.x RegisterBrokerBody JSON a Java broker sends', () => {
    const body = json({
      topicConfigSerializeWrapper: {
        topicConfigTable: {
          TopicTest: { topicName: 'TopicTest', readQueueNums: 4, writeQueueNums: 4, perm: 6, topicFilterType: 'SINGLE_TAG', topicSysFlag: 0, order: false },
          '%RETRY%group': { topicName: '%RETRY%group', readQueueNums: 1, writeQueueNums: 1, perm: 6, topicFilterType: 'SINGLE_TAG', topicSysFlag: 0, order: false, attributes: {} },
        },
        dataVersion: { timestamp: 1700000000000, counter: 7, stateVersion: 0 },
      },
      filterServerList: [],
    });
    const decoded = decodeRegisterBrokerBody(body);
    expect(decoded.dataVersion).toEqual({ timestamp: 1700000000000, counter: 7 });
    expect(decoded.topicConfigs.map((t) => t.topicName)).toEqual(['TopicTest', '%RETRY%group']);
    expect(decoded.topicConfigs[0]).toEqual({ topicName: 'TopicTest', readQueueNums: 4, writeQueueNums: 4, perm: 6, topicSysFlag: 0, order: false });
  });

  it('round-trips what encodeRegisterBrokerBody writes, and accepts the pre-3.0.11 bare wrapper', () => {
    const topics = [{ topicName: 'A', readQueueNums: 2, writeQueueNums: 3, perm: 6, topicSysFlag: 0, order: true }];
    expect(decodeRegisterBrokerBody(encodeRegisterBrokerBody(topics, { timestamp: 5, counter: 6 }, ['1.2.3.4:5']))).toEqual({
      topicConfigs: topics,
      dataVersion: { timestamp: 5, counter: 6 },
      filterServerList: ['1.2.3.4:5'],
      skipped: [],
    });
    const bare = decodeRegisterBrokerBody(json({ topicConfigTable: { A: { readQueueNums: 1, writeQueueNums: 1, perm: 6 } }, dataVersion: { timestamp: 1, counter: 1 } }));
    expect(bare.topicConfigs).toHaveLength(1);
  });

  it('treats a missing body as no topics at version 0/0, as RocketMQ does', () => {
    expect(decodeRegisterBrokerBody(undefined)).toEqual({ topicConfigs: [], dataVersion: { timestamp: 0, counter: 0 }, filterServerList: [], skipped: [] });
  });

  it('refuses bodies that are not a topic-config table, naming where', () => {
    const cases: Array<[Uint8Array, RegExp]> = [
      [Buffer.from('not json'), /not JSON/],
      [json([1, 2]), /not a topic-config table/],
      [json({ topicConfigSerializeWrapper: { topicConfigTable: {}, dataVersion: {} } }), /dataVersion\.timestamp/],
    ];
    for (const [body, message] of cases) {
      expect(() => decodeRegisterBrokerBody(body)).toThrow(InvalidArgumentError);
      expect(() => decodeRegisterBrokerBody(body)).toThrow(message);
    }
  });

  it('leaves out each bad entry, saying why, and keeps the rest: one bad topic must not cost a broker its routes', () => {
    // JSON text, not JSON.stringify: 1e999 is how a peer sends a count JavaScript reads as Infinity.
    const text = `{"topicConfigSerializeWrapper":{"topicConfigTable":{
      "Good":{"readQueueNums":4,"writeQueueNums":4,"perm":6},
      "%RETRY%a/b":{"readQueueNums":1,"writeQueueNums":1,"perm":6},
      "Huge":{"readQueueNums":2147483647,"writeQueueNums":2147483647,"perm":6},
      "Infinite":{"readQueueNums":1e999,"writeQueueNums":1,"perm":6},
      "Max":{"readQueueNums":1024,"writeQueueNums":1024,"perm":6},
      "Words":{"readQueueNums":"four","writeQueueNums":4,"perm":6},
      "Negative":{"readQueueNums":-1,"writeQueueNums":4,"perm":6},
      "T":{"topicName":"U","readQueueNums":1,"writeQueueNums":4,"perm":6}
    },"dataVersion":{"timestamp":1,"counter":1}},"filterServerList":[]}`;
    const decoded = decodeRegisterBrokerBody(Buffer.from(text));
    expect(decoded.topicConfigs.map((t) => t.topicName)).toEqual(['Good', 'Max']);
    expect(decoded.skipped).toEqual([
      expect.stringMatching(/^"%RETRY%a\/b": .*characters outside/),
      expect.stringMatching(/^"Huge": readQueueNums must be an integer from 0 to 1024, got 2147483647/),
      expect.stringMatching(/^"Infinite": readQueueNums must be an integer from 0 to 1024, got null/),
      expect.stringMatching(/^"Words": readQueueNums must be an integer/),
      expect.stringMatching(/^"Negative": readQueueNums must be an integer/),
      expect.stringMatching(/^"T": its topicName is "U"; they must be equal/),
    ]);
  });

  it('keeps only valid entries of a fuzzed table and accounts for every one (kept or skipped, with a reason)', () => {
    const count = fc.oneof(fc.integer({ min: -5, max: 2_000 }), fc.constant(0x7fffffff), fc.double(), fc.string({ maxLength: 3 }), fc.constant(null));
    const entry = fc.record({ readQueueNums: count, writeQueueNums: count, perm: fc.oneof(fc.integer({ min: -1, max: 20 }), fc.string({ maxLength: 2 })) });
    fc.assert(
      fc.property(fc.dictionary(fc.oneof(fc.string({ maxLength: 140 }), fc.stringMatching(/^[%a-zA-Z0-9_-]{1,10}$/)), entry, { maxKeys: 20 }), (table) => {
        const decoded = decodeRegisterBrokerBody(json({ topicConfigSerializeWrapper: { topicConfigTable: table, dataVersion: { timestamp: 1, counter: 1 } } }));
        expect(decoded.topicConfigs.length + decoded.skipped.length).toBe(Object.keys(table).length);
        for (const t of decoded.topicConfigs) {
          expect(topicNameProblem(t.topicName)).toBeUndefined();
          expect(Math.max(t.readQueueNums, t.writeQueueNums)).toBeLessThanOrEqual(MAX_TOPIC_QUEUE_NUMS);
        }
      }),
      { seed: 19_002, numRuns: 300 },
    );
  });

  it('refuses a filterServerList longer than 64 entries or with an entry over 256 characters', () => {
    const body = (filterServerList: string[]) => json({ topicConfigSerializeWrapper: { topicConfigTable: {}, dataVersion: { timestamp: 1, counter: 1 } }, filterServerList });
    expect(decodeRegisterBrokerBody(body(Array.from({ length: 64 }, (_, i) => `10.0.0.1:${i + 1}`))).filterServerList).toHaveLength(64);
    expect(() => decodeRegisterBrokerBody(body(Array.from({ length: 65 }, (_, i) => `10.0.0.1:${i + 1}`)))).toThrow(/filterServerList/);
    expect(() => decodeRegisterBrokerBody(body(['x'.repeat(257)]))).toThrow(/filterServerList/);
  });

  it('refuses compressed bodies with a remark saying how to register instead', () => {
    expect(() => decodeRegisterBrokerBody(Buffer.from([1, 2, 3]), { compressed: true })).toThrow(/compressed=false/);
  });

  it('checks bodyCrc32 when given (low 31 bits, as UtilAll.crc32)', () => {
    const body = encodeRegisterBrokerBody([], { timestamp: 1, counter: 1 });
    expect(() => decodeRegisterBrokerBody(body, { bodyCrc32: crc32(body) & 0x7fffffff })).not.toThrow();
    expect(() => decodeRegisterBrokerBody(body, { bodyCrc32: ((crc32(body) & 0x7fffffff) ^ 1) })).toThrow(/crc32/);
  });
});
