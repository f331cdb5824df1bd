import { describe, expect, it } from 'vitest';
import { parseDelayLevels, resolveBrokerConfig } from './broker-config.js';

describe('resolveBrokerConfig', () => {
  it("applies RocketMQ's defaults", () => {
    const c = resolveBrokerConfig();
    expect(c).toMatchObject({ brokerClusterName: 'DefaultCluster', brokerName: 'broker-a', brokerId: 0, brokerRole: 'ASYNC_MASTER', listenPort: 10911, autoCreateTopicEnable: false, registerNameServerPeriod: 30_000, flushConsumerOffsetInterval: 5_000, channelExpiredTimeout: 120_000 });
  });
  it('accepts strings as a .properties file gives them', () => {
    expect(resolveBrokerConfig({ listenPort: '10922' as unknown as number, autoCreateTopicEnable: 'true' as unknown as boolean })).toMatchObject({ listenPort: 10922, autoCreateTopicEnable: true });
  });
  it('names the bad key, its value and the rule', () => {
    expect(() => resolveBrokerConfig({ listenPort: 70000 })).toThrow(/listenPort=70000/);
    expect(() => resolveBrokerConfig({ brokerRole: 'LEADER' as never })).toThrow(/brokerRole="LEADER"/);
    expect(() => resolveBrokerConfig({ brokerRole: 'SLAVE' })).toThrow(/brokerId ≥ 1/);
    expect(() => resolveBrokerConfig({ brokerId: 1 })).toThrow(/brokerRole=SLAVE/);
  });
  it('limits connections per address and the bytes of incomplete frames, raised with --set', () => {
    expect(resolveBrokerConfig()).toMatchObject({ maxConnections: 10_000, maxConnectionsPerAddress: 1000, maxBufferedIncompleteFrameBytes: 64 * 1024 * 1024, frameCompleteTimeoutMillis: 30_000, refusalLogIntervalMillis: 60_000 });
    expect(resolveBrokerConfig({ maxConnectionsPerAddress: '5000' as unknown as number }).maxConnectionsPerAddress).toBe(5000);
    expect(() => resolveBrokerConfig({ maxBufferedIncompleteFrameBytes: 1024 })).toThrow(/maxBufferedIncompleteFrameBytes=1024: .*16777216/);
  });
});

describe('parseDelayLevels', () => {
  it('parses the default 18 levels', () => {
    const levels = parseDelayLevels(resolveBrokerConfig().messageDelayLevel);
    expect(levels).toHaveLength(18);
    expect(levels[0]).toBe(1000);
    expect(levels[4]).toBe(60_000);
    expect(levels[17]).toBe(7_200_000);
  });
  it('accepts milliseconds for tests and rejects garbage', () => {
    expect(parseDelayLevels('10ms 20ms 1s')).toEqual([10, 20, 1000]);
    expect(() => parseDelayLevels('1x')).toThrow(/"1x"/);
  });
});
