import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { compareOptions, parseFlags } from './bench-options.js';
import { runCompare } from './compare.js';
import { PeerUnavailableError } from './peer-driver.js';
import type { PeerDriver, PeerRow } from './peer-driver.js';

function row(system: string, publish: number, problems: string[] = []): PeerRow {
  return { system, publishPerSecond: publish, consumePerSecond: publish * 2, latencyP50Us: 100, latencyP99Us: 300, published: 10, consumed: 10, problems, cpu: { publish: { client: 50, server: 50 }, consume: { client: 50, server: 50 } }, notes: [] };
}

async function compare(argv: string[], all: PeerDriver[]): Promise<{ code: number; out: string; err: string }> {
  let out = '';
  let err = '';
  const code = await runCompare(compareOptions(parseFlags('compare', argv)), { stdout: { write: (s: string) => (out += s) }, stderr: { write: (s: string) => (err += s) }, env: {}, signal: new AbortController().signal }, all);
  return { code, out, err };
}

describe('karman-bench compare', () => {
  const karman: PeerDriver = { name: 'karman', run: async () => [row('Karman (64 concurrent sends)', 100)] };
  const unreachable: PeerDriver = {
    name: 'nats',
    run: async () => {
      throw new PeerUnavailableError('NATS at 127.0.0.1:4222 is unreachable (ECONNREFUSED); start nats-server -js or set NATS_URL');
    },
  };
  const redis: PeerDriver = { name: 'redis', run: async (w) => [row(`Redis Streams ${w.count}x${w.size}`, 50)] };

  it('skips an unreachable peer with its reason, writes the table, the report and the chart', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'karman-bench-compare-'));
    try {
      const result = await compare(['--count', '10', '--size', '64', '--out', join(dir, 'docs', 'benchmarks.md')], [karman, unreachable, redis]);
      expect(result.code).toBe(0);
      expect(result.err).toContain('karman-bench compare: NATS JetStream skipped: NATS at 127.0.0.1:4222 is unreachable (ECONNREFUSED); start nats-server -js or set NATS_URL');
      expect(result.out).toContain('| Redis Streams 10x64 | 50 | 100 | 100 | 300 | 2.00× | 2.00× |');
      expect(result.out).toContain('| NATS JetStream (skipped) |');
      const doc = readFileSync(join(dir, 'docs', 'benchmarks.md'), 'utf8');
      expect(doc).toContain('karman-bench compare --count 10 --size 64 --latency-count 2000 --out');
      expect(doc).toContain('](benchmarks.svg)');
      expect(readFileSync(join(dir, 'docs', 'benchmarks.svg'), 'utf8')).toContain('<svg');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('runs only the systems asked for, prints JSON, and exits 1 when a system reports a problem', async () => {
    const bad: PeerDriver = { name: 'redis', run: async () => [row('Redis Streams', 50, ['read 9 of 10'])] };
    const result = await compare(['--only', 'redis', '--json'], [karman, unreachable, bad]);
    expect(result.code).toBe(1);
    const json = JSON.parse(result.out) as { karman: unknown[]; peers: PeerRow[]; skipped: unknown[] };
    expect(json.karman).toEqual([]);
    expect(json.skipped).toEqual([]);
    expect(json.peers.map((p) => p.system)).toEqual(['Redis Streams']);
    expect(result.err).toContain('karman-bench compare: Redis Streams: read 9 of 10');
  });
});
