import { describe, expect, it } from 'vitest';
import { consumeTimestampMillis, resolvePullConsumerOptions, resolvePushConsumerOptions } from './consumer-options.js';

describe('consumer options', () => {
  it("has RocketMQ's defaults", () => {
    const o = resolvePushConsumerOptions({ nameservers: '127.0.0.1:9876', group: 'G' });
    expect(o).toMatchObject({
      messageModel: 'CLUSTERING',
      consumeFromWhere: 'CONSUME_FROM_LAST_OFFSET',
      concurrency: 20,
      pullBatchSize: 256, // RocketMQ's is 32; a RocketMQ broker caps any pull at 32 anyway
      pullThresholdForQueue: 1000,
      pullThresholdSizeForQueue: 100,
      consumeConcurrentlyMaxSpan: 2000,
      maxReconsumeTimes: -1,
      suspendCurrentQueueTimeMillis: 1000,
      rebalanceInterval: 20_000,
      persistConsumerOffsetInterval: 5_000,
      brokerSuspendMaxTimeMillis: 15_000,
      consumerTimeoutMillisWhenSuspend: 30_000,
      pullTimeDelayMillsWhenException: 3_000,
      lockInterval: 20_000,
      lockMaxLiveTime: 30_000,
      maxMessageSize: 4 * 1024 * 1024,
    });
    expect(o.allocateStrategy.name).toBe('AVG');
    expect(resolvePullConsumerOptions({ nameservers: 'a:1', group: 'G' })).toMatchObject({ autoCommit: true, autoCommitIntervalMillis: 5_000, pullThresholdForAll: 10_000 });
  });

  it('names the bad option and the fix, without touching the input', () => {
    const input = { nameservers: 'a:1', group: 'G', pullBatchSize: 0 };
    expect(() => resolvePushConsumerOptions(input)).toThrow(/pullBatchSize/);
    expect(input).toEqual({ nameservers: 'a:1', group: 'G', pullBatchSize: 0 });
    expect(() => resolvePushConsumerOptions({ nameservers: 'a:1', group: 'G', lockInterval: 40_000 })).toThrow(/lockMaxLiveTime .* must be greater than lockInterval/);
    expect(() => resolvePushConsumerOptions({ nameservers: 'a:1', group: 'G', consumeTimestamp: '2024-01-01' })).toThrow(/yyyyMMddHHmmss/);
    expect(() => resolvePushConsumerOptions({ nameservers: '', group: 'G' })).toThrow(/no nameserver/);
    expect(() => resolvePullConsumerOptions({ nameservers: 'a:1', group: 'G', maxMessageSize: 0 })).toThrow(/invalid pull consumer option maxMessageSize/);
  });

  it('reads consumeTimestamp as RocketMQ does (local time), defaulting to half an hour ago', () => {
    expect(consumeTimestampMillis('20240131235959')).toBe(new Date(2024, 0, 31, 23, 59, 59).getTime());
    expect(consumeTimestampMillis(undefined, 10_000_000)).toBe(10_000_000 - 1_800_000);
    expect(() => consumeTimestampMillis('20240231000000')).toThrow(/not a real date/);
  });
});
