import { describe, expect, it } from 'vitest';
import { apacheRocketMQDriver } from './apache-rocketmq-peer.js';
import { compareOptions, parseFlags } from './bench-options.js';
import { runCompare } from './compare.js';
import { PeerUnavailableError } from './peer-driver.js';
import type { PeerDriver, PeerRow } from './peer-driver.js';

function row(system: string, shortName: string, publish: number): PeerRow {
  return { system, shortName, publishPerSecond: publish, consumePerSecond: publish, latencyP50Us: 100, latencyP99Us: 300, published: 10, consumed: 10, problems: [], cpu: { publish: { client: 50, server: 50 }, consume: { client: 50, server: 50 } }, notes: [] };
}

async function compare(argv: string[], all: PeerDriver[]): Promise<{ code: number; out: string; err: string }> {
  let out = '';
  let err = '';
  const code = await runCompare(compareOptions(parseFlags('compare', argv)), { stdout: { write: (s: string) => (out += s) }, stderr: { write: (s: string) => (err += s) }, env: {}, signal: new AbortController().signal }, all);
  return { code, out, err };
}

describe('compare with Apache RocketMQ as the reference', () => {
  it('prints the reference rows and the Karman ÷ RocketMQ table, and skips the reference with its reason when it cannot start', async () => {
    const karman: PeerDriver = { name: 'karman', run: async () => [row('Karman (64 concurrent sends)', '64 sends', 9_000)] };
    const rocketmq: PeerDriver = { name: 'rocketmq', run: async () => [row('Apache RocketMQ (64 concurrent sends)', '64 sends', 10_000)] };
    const measured = await compare(['--only', 'karman,rocketmq'], [karman, rocketmq]);
    expect(measured.code).toBe(0);
    expect(measured.out).toContain('| Apache RocketMQ (64 concurrent sends) | 10,000 | 10,000 | 100 | 300 | 0.90× | 0.90× |');
    expect(measured.out).toContain('| 64 sends | 0.90× (9,000 / 10,000) | 0.90× (9,000 / 10,000) | 1.00× (100 / 100) | 1.00× (300 / 300) |');

    const missing = apacheRocketMQDriver(async () => {
      throw new PeerUnavailableError('Apache RocketMQ cannot start here: no Java runtime (java -version failed): install a JDK 17 to run Apache RocketMQ');
    });
    const skipped = await compare(['--only', 'karman,rocketmq'], [karman, missing]);
    expect(skipped.code).toBe(0);
    expect(skipped.err).toContain('karman-bench compare: Apache RocketMQ skipped: Apache RocketMQ cannot start here: no Java runtime');
    expect(skipped.out).toContain('| Apache RocketMQ (skipped) |');
    expect(skipped.out).not.toContain('Karman ÷ RocketMQ');
  });
});
