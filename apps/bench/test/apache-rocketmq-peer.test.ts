/**
 * The Apache RocketMQ compare driver against a real Apache RocketMQ 5.5.0 (started by the driver,
 * as compare starts it), with a tiny workload. Without java or mvn the suite is skipped, saying
 * why; under CI that is a failure instead.
 */
import { apacheRocketMQAvailability } from '@karman/apache-rocketmq';
import { describe, expect, it } from 'vitest';
import { apacheRocketMQDriver } from '../src/apache-rocketmq-peer.js';

const availability = apacheRocketMQAvailability();
const skipReason = availability.available ? undefined : availability.reason;

describe.skipIf(skipReason !== undefined)(`the Apache RocketMQ driver against a real Apache RocketMQ${skipReason ? ` (skipped: ${skipReason})` : ''}`, () => {
  it('measures both Karman workloads with the Karman client over TCP, every message published and consumed', { timeout: 300_000 }, async () => {
    const lines: string[] = [];
    const rows = await apacheRocketMQDriver().run({ count: 300, size: 256, window: 1000, latencyCount: 20, runTag: `t${Date.now().toString(36)}`, log: (line) => lines.push(line) });
    expect(rows.map((r) => [r.system, r.shortName])).toEqual([
      ['Apache RocketMQ (64 concurrent sends)', '64 sends'],
      ['Apache RocketMQ (auto-batch, 1000 concurrent sends)', 'auto-batch'],
    ]);
    for (const r of rows) {
      expect(r.problems).toEqual([]);
      expect(r.published).toBe(300);
      expect(r.consumed).toBe(300);
      expect(r.publishPerSecond).toBeGreaterThan(0);
      expect(r.latencyP50Us).toBeGreaterThan(0);
      expect(r.cpu.publish.server).toBeDefined();
      expect(r.notes.join('; ')).toContain('RocketMQ remoting TCP transport');
    }
  });
});

// Defined only when it must fail, so a machine with Java counts no skipped test for it.
if (skipReason !== undefined && process.env.CI) {
  describe('Apache RocketMQ under CI', () => {
    it('has Java and Maven to start Apache RocketMQ (CI must not pass by skipping the reference)', () => {
      throw new Error(`cannot start Apache RocketMQ: ${skipReason}`);
    });
  });
}
