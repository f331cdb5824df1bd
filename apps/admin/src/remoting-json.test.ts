import { describe, expect, it } from 'vitest';
import { offsetTable, parseQueueKeyedJson } from './remoting-json.js';

describe('reading fastjson object-keyed maps', () => {
  it('turns a ConsumeStats body into sorted { key, value } entries', () => {
    const body =
      '{"consumeTps":0.0,"offsetTable":{{"brokerName":"broker-b","queueId":0,"topic":"T"}:{"brokerOffset":5,"consumerOffset":2,"lastTimestamp":0},' +
      '{"brokerName":"broker-a","queueId":1,"topic":"T"}:{"brokerOffset":7,"consumerOffset":7,"lastTimestamp":9}}}';
    expect(offsetTable(body)).toEqual([
      { key: { brokerName: 'broker-a', queueId: 1, topic: 'T' }, value: { brokerOffset: 7, consumerOffset: 7, lastTimestamp: 9 } },
      { key: { brokerName: 'broker-b', queueId: 0, topic: 'T' }, value: { brokerOffset: 5, consumerOffset: 2, lastTimestamp: 0 } },
    ]);
    expect(parseQueueKeyedJson(body).consumeTps).toBe(0);
  });

  it('reads an empty table and plain JSON unchanged, and names unreadable text', () => {
    expect(offsetTable('{"offsetTable":{}}')).toEqual([]);
    expect(parseQueueKeyedJson('{"a":{"b":[1,2]}}')).toEqual({ a: { b: [1, 2] } });
    expect(() => parseQueueKeyedJson('{"offsetTable":')).toThrow("the broker's answer is not readable JSON");
  });
});
