import { describe, expect, it } from 'vitest';
import { LatencyFaultTolerance } from './fault-strategy.js';

describe('LatencyFaultTolerance', () => {
  it("uses RocketMQ 5's latency table: fast brokers stay, slow ones rest, failures rest 10 s", () => {
    let now = 0;
    const f = new LatencyFaultTolerance(() => now);
    f.update('fast', 80, false);
    f.update('slow', 600, false);
    f.update('down', 5, true);
    expect(f.isAvailable('fast')).toBe(true);
    expect(f.isAvailable('slow')).toBe(false);
    expect(f.isAvailable('down')).toBe(false);
    expect(f.isReachable('slow')).toBe(true);
    expect(f.isReachable('down')).toBe(false);
    now = 2_000;
    expect(f.isAvailable('slow')).toBe(true);
    expect(f.isAvailable('down')).toBe(false);
    now = 10_000;
    expect(f.isAvailable('down')).toBe(true);
  });

  it('restores a broker a probe reached', () => {
    const f = new LatencyFaultTolerance(() => 0);
    f.update('b', 0, true);
    expect(f.unreachable()).toEqual(['b']);
    f.restore('b');
    expect(f.isAvailable('b')).toBe(true);
    expect(f.unreachable()).toEqual([]);
  });
});
