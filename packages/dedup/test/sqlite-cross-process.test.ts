/**
 * Two real processes share one SQLite dedup file: every id's side effect happens exactly once,
 * whether the processes race on the same ids or one of them is killed mid-stream with its claim
 * left behind (crashes and rebalance overlap are where duplicates come from).
 */
import { spawn } from 'node:child_process';
import type { ChildProcessByStdio } from 'node:child_process';
import { mkdtempSync, readFileSync, existsSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import type { Readable, Writable } from 'node:stream';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';

const here = dirname(fileURLToPath(import.meta.url));
const worker = join(here, 'fixtures', 'race-worker.ts');

interface Worker {
  child: ChildProcessByStdio<Writable, Readable, Readable>;
  out: string;
  ready: Promise<void>;
  exit: Promise<{ code: number | null; signal: NodeJS.Signals | null; stdout: string; stderr: string }>;
}

const dirs: string[] = [];
afterEach(() => {
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

function startWorker(dir: string, name: string, args: Record<string, unknown>): Worker {
  const out = join(dir, `${name}.out`);
  const child = spawn(process.execPath, ['--conditions=@karman/source', '--import', 'tsx', worker, JSON.stringify({ ...args, out })], {
    cwd: join(here, '..'),
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const ready = new Promise<void>((resolve, reject) => {
    child.stdout.on('data', (chunk: Buffer) => {
      stdout += chunk.toString();
      if (stdout.startsWith('ready\n')) resolve();
    });
    child.once('exit', () => reject(new Error(`${name} exited before it was ready: ${stderr}`)));
  });
  const exit = new Promise<{ code: number | null; signal: NodeJS.Signals | null; stdout: string; stderr: string }>((resolve) => {
    child.once('exit', (code, signal) => resolve({ code, signal, stdout, stderr }));
  });
  return { child, out, ready, exit };
}

function sideEffects(...files: string[]): string[] {
  return files.flatMap((f) => (existsSync(f) ? readFileSync(f, 'utf8').split('\n').filter((l) => l.length > 0) : []));
}

describe('sqlite dedup store across processes', () => {
  it('two processes racing over the same 300 ids on one file process each id exactly once', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'karman-dedup-race-'));
    dirs.push(dir);
    const db = join(dir, 'dedup.sqlite');
    const common = { db, count: 300, concurrency: 8, processingTimeout: 60_000 };
    const a = startWorker(dir, 'a', common);
    const b = startWorker(dir, 'b', { ...common, reverse: true });
    await Promise.all([a.ready, b.ready]);
    a.child.stdin.end('go\n');
    b.child.stdin.end('go\n');
    const [ea, eb] = await Promise.all([a.exit, b.exit]);
    expect(ea.stderr).toBe('');
    expect(eb.stderr).toBe('');
    expect([ea.code, eb.code]).toEqual([0, 0]);

    const effects = sideEffects(a.out, b.out);
    expect(effects).toHaveLength(300);
    expect(new Set(effects).size).toBe(300);
    const counters = [ea, eb].map((e) => JSON.parse(e.stdout.split('\n')[1]!) as { processed: number; duplicate: number });
    expect(counters[0]!.processed + counters[1]!.processed).toBe(300);
    // They met in the middle: each did part of the work and skipped what the other had done.
    expect(counters[0]!.processed).toBeGreaterThan(0);
    expect(counters[1]!.processed).toBeGreaterThan(0);
    expect(counters[0]!.processed + counters[0]!.duplicate).toBe(300);
    expect(counters[1]!.processed + counters[1]!.duplicate).toBe(300);
  }, 20_000);

  it('a process killed mid-handler leaves a claim that expires; the survivor then processes that id once', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'karman-dedup-crash-'));
    dirs.push(dir);
    const db = join(dir, 'dedup.sqlite');
    // Long enough that the survivor surely meets the dead claim, short enough to wait out.
    const common = { db, count: 100, processingTimeout: 1_500 };
    const crashing = startWorker(dir, 'crashing', { ...common, concurrency: 1, crashAt: 40 });
    const survivor = startWorker(dir, 'survivor', { ...common, concurrency: 4 });
    await Promise.all([crashing.ready, survivor.ready]);
    crashing.child.stdin.end('go\n');
    const crashed = await crashing.exit;
    expect(crashed.signal).toBe('SIGKILL');

    survivor.child.stdin.end('go\n');
    const done = await survivor.exit;
    expect(done.stderr).toBe('');
    expect(done.code).toBe(0);

    const crashedEffects = sideEffects(crashing.out);
    expect(crashedEffects).toEqual(Array.from({ length: 40 }, (_, i) => `id-${i}`));
    const all = sideEffects(crashing.out, survivor.out);
    expect(all).toHaveLength(100);
    expect(new Set(all).size).toBe(100);
    const counters = JSON.parse(done.stdout.split('\n')[1]!) as { processed: number; duplicate: number; deferred: number };
    expect(counters).toMatchObject({ processed: 60, duplicate: 40 });
    expect(counters.deferred).toBeGreaterThan(0); // id-40 was held by the dead process until its claim expired
  }, 20_000);
});
