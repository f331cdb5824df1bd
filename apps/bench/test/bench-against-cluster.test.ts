/**
 * karman-bench's producer, consumer and e2e commands, in-process, against an in-process cluster:
 * every message counted, none failed, duplicated or corrupt, and the --json summaries carry their
 * fields. No timing is asserted.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startCluster, uniqueName } from '@karman/testkit';
import type { TestCluster } from '@karman/testkit';
import { run } from '../src/cli.js';

const COUNT = 2000;

async function cli(argv: string[]): Promise<{ code: number; out: string; err: string }> {
  let out = '';
  let err = '';
  const code = await run(argv, { stdout: { write: (s: string) => (out += s) }, stderr: { write: (s: string) => (err += s) }, env: {} });
  return { code, out, err };
}

const LATENCY_FIELDS = ['count', 'mean', 'min', 'p50', 'p90', 'p99', 'p999', 'max'];

describe('karman-bench against a cluster', () => {
  let cluster: TestCluster;
  const topic = uniqueName('BenchTopic');

  beforeAll(async () => {
    cluster = await startCluster();
    await cluster.createTopic(topic, { queues: 4 });
  });
  afterAll(async () => {
    await cluster?.close();
  });

  it('producer then consumer: every message sent once, consumed once, intact', async () => {
    const produced = await cli(['producer', '-n', cluster.namesrvAddr, '-t', topic, '-s', '256', '-w', '16', '-q', String(COUNT), '--keys', '--tags', '3', '--json']);
    expect(produced.err).not.toContain('karman-bench producer:');
    expect(produced.code).toBe(0);
    const p = JSON.parse(produced.out) as Record<string, unknown>;
    expect(p).toMatchObject({ command: 'producer', topic, size: 256, concurrency: 16, count: COUNT, failed: 0 });
    expect(Object.keys(p.latencyUs as object).sort()).toEqual([...LATENCY_FIELDS].sort());
    expect((p.latencyUs as { count: number }).count).toBe(COUNT);
    expect(p.tps).toBeGreaterThan(0);

    const batched = await cli(['producer', '-n', cluster.namesrvAddr, '-t', topic, '-s', '256', '-w', '4', '--batch', '50', '-q', '500', '--json']);
    expect(batched.code).toBe(0);
    expect(JSON.parse(batched.out)).toMatchObject({ count: 500, failed: 0, batch: 50 });

    const consumed = await cli(['consumer', '-n', cluster.namesrvAddr, '-t', topic, '-g', uniqueName('bench_group'), '-q', String(COUNT + 500), '--json']);
    expect(consumed.code).toBe(0);
    const c = JSON.parse(consumed.out) as Record<string, unknown>;
    expect(c).toMatchObject({ command: 'consumer', topic, count: COUNT + 500, duplicates: 0, corrupt: 0 });
    expect(Object.keys(c.latencyUs as object).sort()).toEqual([...LATENCY_FIELDS].sort());
    // Per-second lines go to stderr with --json, so stdout is exactly one JSON object.
    expect(consumed.out.trim().split('\n')).toHaveLength(1);
  });

  it('producer --topics N spreads the messages over N topics created by their first send', async () => {
    await using auto = await startCluster({ brokerOptions: { autoCreateTopicEnable: true } });
    const base = uniqueName('Spread');
    const produced = await cli(['producer', '-n', auto.namesrvAddr, '-t', base, '-s', '128', '-w', '8', '-q', '300', '--topics', '3', '--json']);
    expect(produced.code).toBe(0);
    expect(JSON.parse(produced.out)).toMatchObject({ count: 300, failed: 0 });
    const store = auto.broker('broker-a').context.store;
    for (let i = 0; i < 3; i++) {
      let stored = 0;
      for (let q = 0; q < 8; q++) stored += store.getMaxOffsetInQueue(`${base}-${i}`, q);
      expect(stored, `${base}-${i}`).toBe(100);
    }
  });

  it('e2e: produces and consumes in one process with born→consume latency', async () => {
    const result = await cli(['e2e', '-n', cluster.namesrvAddr, '-t', topic, '-s', '128', '-w', '8', '--rate', '4000', '-q', String(COUNT), '--json']);
    expect(result.code).toBe(0);
    const e = JSON.parse(result.out) as Record<string, unknown>;
    expect(e).toMatchObject({ command: 'e2e', sent: COUNT, count: COUNT, failed: 0, lost: 0, duplicates: 0, corrupt: 0, rate: 4000 });
    expect((e.latencyUs as { count: number }).count).toBe(COUNT);
    expect((e.sendLatencyUs as { count: number }).count).toBe(COUNT);
  });

  it('prints the text summary without --json', async () => {
    const result = await cli(['producer', '-n', cluster.namesrvAddr, '-t', topic, '-s', '64', '-w', '2', '-q', '20']);
    expect(result.code).toBe(0);
    expect(result.out).toContain('sent (SEND_OK)         20 in');
    expect(result.out).toMatch(/send→ack µs\s+p50 [\d,]+ {2}p99 [\d,]+ {2}p99\.9 [\d,]+ {2}max/);
  });

  it('stops a run without -q on the signal and still prints the summary', async () => {
    const stop = new AbortController();
    let out = '';
    const running = run(['producer', '-n', cluster.namesrvAddr, '-t', topic, '-s', '64', '-w', '2', '--json'], { stdout: { write: (s: string) => (out += s) }, stderr: { write: () => true }, env: {}, signal: stop.signal });
    setTimeout(() => stop.abort(), 300);
    expect(await running).toBe(0);
    expect(JSON.parse(out)).toMatchObject({ command: 'producer', failed: 0 });
  });
});
