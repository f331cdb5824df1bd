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
});
