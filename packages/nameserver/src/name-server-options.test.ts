import { describe, expect, it } from 'vitest';
import { InvalidArgumentError } from '@karman/protocol';
import { resolveNameServerOptions } from './name-server-options.js';

describe('nameserver options', () => {
  it("defaults to RocketMQ's values", () => {
    expect(resolveNameServerOptions()).toMatchObject({
      bindAddress: '0.0.0.0',
      listenPort: 9876,
      brokerExpiredMillis: 120_000,
      scanNotActiveBrokerInterval: 10_000,
      orderMessageEnable: false,
      returnOrderTopicConfigToBroker: true,
      idleTimeoutMillis: 120_000,
      maxFrameSize: 16 * 1024 * 1024,
    });
  });

  it('coerces strings from properties files and --set, without changing the input', () => {
    const input = { listenPort: '0', orderMessageEnable: 'TRUE', brokerExpiredMillis: '50' };
    expect(resolveNameServerOptions(input)).toMatchObject({ listenPort: 0, orderMessageEnable: true, brokerExpiredMillis: 50 });
    expect(input).toEqual({ listenPort: '0', orderMessageEnable: 'TRUE', brokerExpiredMillis: '50' });
  });

  it('names the bad key, the rule and the value', () => {
    expect(() => resolveNameServerOptions({ listenPort: '70000' })).toThrow(InvalidArgumentError);
    expect(() => resolveNameServerOptions({ listenPort: '70000' })).toThrow(/option "listenPort" must be at most 65535, got "70000"/);
    expect(() => resolveNameServerOptions({ orderMessageEnable: 'yes' })).toThrow(/orderMessageEnable/);
    expect(() => resolveNameServerOptions({ brokerExpiredMillis: 0 })).toThrow(/brokerExpiredMillis" must be at least 1/);
    expect(() => resolveNameServerOptions({ listenPrt: 1 } as Record<string, unknown>)).toThrow(/unknown option "listenPrt" \(known: bindAddress, listenPort/);
  });

  it('limits connections per address and the bytes of incomplete frames, and refuses a budget below one frame', () => {
    expect(resolveNameServerOptions()).toMatchObject({
      maxConnections: 10_000,
      maxConnectionsPerAddress: 1000,
      maxBufferedIncompleteFrameBytes: 64 * 1024 * 1024,
      frameCompleteTimeoutMillis: 30_000,
      refusalLogIntervalMillis: 60_000,
    });
    expect(resolveNameServerOptions({ maxConnectionsPerAddress: '5000' }).maxConnectionsPerAddress).toBe(5000);
    expect(() => resolveNameServerOptions({ maxBufferedIncompleteFrameBytes: '1048576' })).toThrow(
      /option "maxBufferedIncompleteFrameBytes" must be at least maxFrameSize \(16777216\); raise it or lower maxFrameSize, got "1048576"/,
    );
  });
});
