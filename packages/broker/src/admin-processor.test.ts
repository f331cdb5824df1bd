import { describe, expect, it } from 'vitest';
import { parseRemotingJson } from '@karman/protocol';
import { RateSampler, encodeObjectKeyMap } from './admin-processor.js';

describe('fastjson maps with object keys', () => {
  it('writes the key object with sorted fields in key position, as fastjson does', () => {
    const text = encodeObjectKeyMap([[{ topic: 'T', queueId: 1, brokerName: 'b' }, { maxOffset: 3 }]]);
    expect(text).toBe('{{"brokerName":"b","queueId":1,"topic":"T"}:{"maxOffset":3}}');
  });

  it("writes what protocol's parseRemotingJson reads back as key/value arrays", () => {
    const text = `{"consumeTps":0.0,"offsetTable":${encodeObjectKeyMap([
      [{ brokerName: 'b', queueId: 0, topic: 'T' }, { brokerOffset: 5 }],
      [{ brokerName: 'b', queueId: 1, topic: 'T' }, { brokerOffset: 6 }],
    ])}}`;
    expect(parseRemotingJson(text)).toEqual({
      consumeTps: 0,
      offsetTable: [
        { key: { brokerName: 'b', queueId: 0, topic: 'T' }, value: { brokerOffset: 5 } },
        { key: { brokerName: 'b', queueId: 1, topic: 'T' }, value: { brokerOffset: 6 } },
      ],
    });
  });
});

describe('RateSampler', () => {
  it('measures each window against the newest sample at least that old, and since start before that', () => {
    let now = 0;
    const sampler = new RateSampler(() => now);
    now = 5_000;
    expect(sampler.rates(50, 0, [10_000]).put[0]).toBe(10); // since start: 50 in 5 s
    now = 15_000;
    expect(sampler.rates(150, 30, [10_000]).put[0]).toBe(10); // against the 5 s sample: 100 in 10 s
    now = 16_000;
    const r = sampler.rates(350, 30, [10_000, 60_000]);
    expect(r.put[0]).toBeCloseTo(300 / 11); // against the 5 s sample
    expect(r.put[1]).toBeCloseTo(350 / 16); // no sample 60 s old: since start
    expect(r.get[1]).toBeCloseTo(30 / 16);
  });
});
