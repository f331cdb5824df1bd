/**
 * Store benchmark: `pnpm bench` in packages/commitlog (node --import tsx bench/store.bench.ts).
 *
 * 1 KiB messages, on the disk holding `KARMAN_BENCH_DIR` (default: the OS temp folder), beside a
 * `dd ... conv=fdatasync` run on the same disk in the same run so the figures can be read against
 * what the disk does. Measures ASYNC_FLUSH appends, SYNC_FLUSH appends from 1,000 concurrent
 * appenders, sequential reads, and recovery of a 1 GiB store after SIGKILL (a child process writes
 * it and is killed; the parent times the open).
 *
 * `pnpm bench integrity` runs only bench/integrity.bench.ts (the read path's CRC check, scrub
 * speed against dd), which a full run also ends with.
 *
 * Usage: node --import tsx bench/store.bench.ts [integrity | --child-writer <dir> <bytes>]
 */
import { execFileSync, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { MessageStore } from '../src/message-store.js';
import { runIntegrityBench } from './integrity.bench.js';
import type { StoreOptions } from '../src/store-config.js';

const BODY = Buffer.alloc(1024, 0x42);
const GiB = 1024 * 1024 * 1024;
const quiet = { logger: () => undefined, cleanResourceInterval: 0 } as const;

function storeOptions(root: string, extra: Partial<StoreOptions> = {}): StoreOptions {
  return { storePathRootDir: root, ...quiet, ...extra };
}

/** Messages per second of wall time, and per second of this process's CPU time (all threads). */
interface Rate {
  wall: number;
  cpu: number;
}

function rate(n: number, startedWall: number, startedCpu: NodeJS.CpuUsage): Rate {
  const cpu = process.cpuUsage(startedCpu);
  return { wall: n / ((performance.now() - startedWall) / 1000), cpu: n / ((cpu.user + cpu.system) / 1e6) };
}

/** Keep `concurrency` puts (or putBatch calls of `batch` messages) in flight until `total` messages are acknowledged. */
async function appendRun(store: MessageStore, total: number, concurrency: number, queues: number, batch = 1): Promise<Rate> {
  let issued = 0;
  const started = performance.now();
  const cpu = process.cpuUsage();
  async function worker(): Promise<void> {
    while (issued < total) {
      const first = issued;
      issued += batch;
      const messages = [];
      for (let i = first; i < first + batch; i++) messages.push({ topic: 'Bench', queueId: first % queues, body: BODY, properties: { TAGS: 't', KEYS: `k${i}` } });
      const r = batch === 1 ? await store.put(messages[0]!) : await store.putBatch(messages);
      if (r.status !== 'PUT_OK') throw new Error(`put answered ${r.status} ${r.reason ?? ''}`);
    }
  }
  await Promise.all(Array.from({ length: Math.ceil(concurrency / batch) }, () => worker()));
  return rate(issued, started, cpu);
}

/**
 * Pull every queue from offset 0 in batches of `batch`. `interleaved`: the queues are pulled in
 * turn, as one consumer's pull requests for its queues interleave; otherwise queue after queue.
 */
async function readRun(store: MessageStore, queues: number, batch: number, interleaved: boolean): Promise<Rate> {
  let n = 0;
  const started = performance.now();
  const cpu = process.cpuUsage();
  const offsets = new Array<number>(queues).fill(0);
  const pull = async (q: number): Promise<boolean> => {
    const r = await store.getMessage({ topic: 'Bench', queueId: q, offset: offsets[q]!, maxCount: batch });
    if (r.status !== 'FOUND') return false;
    n += r.buffers.length;
    offsets[q] = r.nextBeginOffset;
    return true;
  };
  if (interleaved) {
    for (let live = queues; live > 0; ) {
      live = 0;
      for (let q = 0; q < queues; q++) if (await pull(q)) live++;
    }
  } else {
    for (let q = 0; q < queues; q++) while (await pull(q));
  }
  return rate(n, started, cpu);
}

function ddLine(dir: string): string {
  const r = execFileSync('sh', ['-c', `dd if=/dev/zero of=${join(dir, 'dd.tmp')} bs=1M count=256 conv=fdatasync 2>&1; rm -f ${join(dir, 'dd.tmp')}`]).toString();
  return r.trim().split('\n').at(-1) ?? r;
}

/** Child mode: write `bytes` of 1 KiB messages with ASYNC_FLUSH, print DONE, wait to be killed. */
async function childWriter(dir: string, bytes: number): Promise<void> {
  const store = await MessageStore.open(storeOptions(dir));
  const per = 1024 + 140;
  await appendRun(store, Math.ceil(bytes / per), 256, 8);
  process.stdout.write('DONE\n');
  setInterval(() => undefined, 1000);
}

async function recoveryRun(dir: string): Promise<{ ms: number; bytes: number; checked: number }> {
  const child = spawn(process.execPath, [...process.execArgv, fileURLToPath(import.meta.url), '--child-writer', dir, String(GiB)], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  await new Promise<void>((resolve, reject) => {
    child.stdout.on('data', (d: Buffer) => {
      if (d.toString().includes('DONE')) resolve();
    });
    child.on('exit', (code: number | null) => reject(new Error(`writer exited with ${code}`)));
  });
  const exited = new Promise((r) => child.on('exit', r));
  child.kill('SIGKILL');
  await exited;
  const started = performance.now();
  const store = await MessageStore.open(storeOptions(dir));
  const ms = performance.now() - started;
  const result = { ms, bytes: store.maxPhyOffset, checked: store.recovery.recordsChecked };
  await store.close();
  return result;
}

async function main(): Promise<void> {
  const args = process.argv.slice(2);
  if (args[0] === '--child-writer') return childWriter(args[1]!, Number(args[2]));
  const base = process.env.KARMAN_BENCH_DIR ?? tmpdir();
  if (args[0] === 'integrity') return runIntegrityBench(base);
  const rows: [string, string, string, string][] = [];
  const fmt = (n: number): string => Math.round(n).toLocaleString('en-US');
  const load = (): string => (execFileSync('cat', ['/proc/loadavg']).toString().split(' ')[0] ?? '?');

  const ddResult = ddLine(base);
  console.log(`dd (256 MiB, conv=fdatasync): ${ddResult}`);

  {
    const root = mkdtempSync(join(base, 'karman-bench-async-'));
    const store = await MessageStore.open(storeOptions(root, { flushDiskType: 'ASYNC_FLUSH' }));
    await appendRun(store, 20_000, 1000, 8); // warm-up
    const r = await appendRun(store, 400_000, 1000, 8);
    rows.push(['ASYNC_FLUSH append msg/s, 1 KiB, 1,000 in flight', fmt(r.wall), fmt(r.cpu), '≥ 300,000']);
    console.log(rows.at(-1)!.join(' | '));
    const b = await appendRun(store, 400_000, 1000, 8, 32);
    rows.push(['ASYNC_FLUSH putBatch msg/s, 1 KiB, batches of 32, 1,000 in flight', fmt(b.wall), fmt(b.cpu), '(not a goal)']);
    console.log(rows.at(-1)!.join(' | '));
    const read = await readRun(store, 8, 32, true);
    rows.push(['sequential read msg/s, pull batch 32, 8 queues pulled in turn', fmt(read.wall), fmt(read.cpu), '≥ 500,000']);
    console.log(rows.at(-1)!.join(' | '));
    const readQ = await readRun(store, 8, 32, false);
    rows.push(['sequential read msg/s, pull batch 32, 8 interleaved queues read one after another', fmt(readQ.wall), fmt(readQ.cpu), '(worst case)']);
    console.log(rows.at(-1)!.join(' | '));
    await store.close();
    rmSync(root, { recursive: true, force: true });
  }
  {
    const root = mkdtempSync(join(base, 'karman-bench-sync-'));
    const store = await MessageStore.open(storeOptions(root, { flushDiskType: 'SYNC_FLUSH' }));
    await appendRun(store, 5_000, 1000, 8);
    const r = await appendRun(store, 150_000, 1000, 8);
    rows.push(['SYNC_FLUSH append msg/s, 1 KiB, 1,000 concurrent appenders', fmt(r.wall), fmt(r.cpu), '≥ 50,000']);
    console.log(rows.at(-1)!.join(' | '));
    await store.close();
    rmSync(root, { recursive: true, force: true });
  }
  {
    const root = mkdtempSync(join(base, 'karman-bench-recovery-'));
    const r = await recoveryRun(root);
    rows.push([`recovery after SIGKILL, ${(r.bytes / GiB).toFixed(2)} GiB store (${fmt(r.checked)} records re-checked)`, `${(r.ms / 1000).toFixed(2)} s`, '', '≤ 5 s']);
    console.log(rows.at(-1)!.join(' | '));
    rmSync(root, { recursive: true, force: true });
  }

  console.log(`\n${new Date().toISOString()}  node ${process.version}  load average ${load()}  dd: ${ddResult}\n`);
  console.log('| measurement | wall | per CPU-second | goal |\n|---|---|---|---|');
  for (const r of rows) console.log(`| ${r.join(' | ')} |`);
  console.log('');
  await runIntegrityBench(base);
}

await main();
