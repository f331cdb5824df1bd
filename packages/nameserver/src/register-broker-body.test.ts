import { crc32 } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { InvalidArgumentError } from '@karman/protocol';
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
    });
    const bare = decodeRegisterBrokerBody(json({ topicConfigTable: { A: { readQueueNums: 1, writeQueueNums: 1, perm: 6 } }, dataVersion: { timestamp: 1, counter: 1 } }));
    expect(bare.topicConfigs).toHaveLength(1);
  });

  it('treats a missing body as no topics at version 0/0, as RocketMQ does', () => {
    expect(decodeRegisterBrokerBody(undefined)).toEqual({ topicConfigs: [], dataVersion: { timestamp: 0, counter: 0 }, filterServerList: [] });
  });

  it('refuses bodies that are not a topic-config table, naming where', () => {
    const cases: Array<[Uint8Array, RegExp]> = [
      [Buffer.from('not json'), /not JSON/],
      [json([1, 2]), /not a topic-config table/],
      [json({ topicConfigSerializeWrapper: { topicConfigTable: {}, dataVersion: {} } }), /dataVersion\.timestamp/],
      [json({ topicConfigSerializeWrapper: { topicConfigTable: { T: { readQueueNums: 'four', writeQueueNums: 4, perm: 6 } }, dataVersion: { timestamp: 1, counter: 1 } } }), /topicConfigTable\.T\.readQueueNums/],
      [json({ topicConfigSerializeWrapper: { topicConfigTable: { T: { readQueueNums: -1, writeQueueNums: 4, perm: 6 } }, dataVersion: { timestamp: 1, counter: 1 } } }), /readQueueNums/],
      [json({ topicConfigSerializeWrapper: { topicConfigTable: { 'bad name': { readQueueNums: 1, writeQueueNums: 4, perm: 6 } }, dataVersion: { timestamp: 1, counter: 1 } } }), /characters outside/],
      [json({ topicConfigSerializeWrapper: { topicConfigTable: { T: { topicName: 'U', readQueueNums: 1, writeQueueNums: 4, perm: 6 } }, dataVersion: { timestamp: 1, counter: 1 } } }), /must be equal/],
    ];
    for (const [body, message] of cases) {
      expect(() => decodeRegisterBrokerBody(body)).toThrow(InvalidArgumentError);
      expect(() => decodeRegisterBrokerBody(body)).toThrow(message);
    }
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
