/**
 * Integrity benchmark: `pnpm bench integrity` in packages/commitlog (also the last part of a full
 * `pnpm bench`).
 *
 * 1. What the read path's body-CRC check (`checkCRCOnRead`) costs: the same store read with the
 *    check and without, alternately (seven reopenings each, the median kept), through the block
 *    cache (records within accessMessageInMemoryMaxRatio) and through the thread pool (ratio 0).
 *    Messages per CPU-second of the process, which other load on the machine disturbs less than
 *    wall time.
 * 2. How fast a scrub checks a store, against `dd` reading the same commit-log bytes to /dev/null
 *    in the same run. Both read from the page cache (the store was just written; dropping caches
 *    needs root): the figure is the CPU cost of checking, not the disk's speed.
 *
 * 1 KiB bodies, 8 queues, default options otherwise (1 GiB segments).
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { MessageStore } from '../src/message-store.js';
import type { StoreOptions } from '../src/store-config.js';

const BODY = Buffer.alloc(1024, 0x42);
const QUEUES = 8;
const MESSAGES = 200_000;
const ROUNDS = 7;

function options(root: string, extra: Partial<StoreOptions> = {}): StoreOptions {
  return { storePathRootDir: root, logger: () => undefined, cleanResourceInterval: 0, ...extra };
}

async function fill(root: string): Promise<void> {
  const store = await MessageStore.open(options(root));
  let issued = 0;
  const worker = async (): Promise<void> => {
    while (issued < MESSAGES) {
      const i = issued++;
      const r = await store.put({ topic: 'Bench', queueId: i % QUEUES, body: BODY, properties: { TAGS: 't', KEYS: `k${i}` } });
      if (r.status !== 'PUT_OK') throw new Error(`put answered ${r.status}`);
    }
  };
  await Promise.all(Array.from({ length: 500 }, worker));
  await store.close();
}

/** Messages per CPU-second of this process (all threads) reading every queue in turn, 32 at a time. */
async function readRate(root: string, extra: Partial<StoreOptions>): Promise<number> {
  const store = await MessageStore.open(options(root, extra));
  try {
    const offsets = new Array<number>(QUEUES).fill(0);
    let n = 0;
    const started = process.cpuUsage();
    for (let live = QUEUES; live > 0; ) {
      live = 0;
      for (let q = 0; q < QUEUES; q++) {
        const r = await store.getMessage({ topic: 'Bench', queueId: q, offset: offsets[q]!, maxCount: 32 });
        if (r.status !== 'FOUND') continue;
        n += r.buffers.length;
        offsets[q] = r.nextBeginOffset;
        live++;
      }
    }
    if (n !== MESSAGES) throw new Error(`read ${n} of ${MESSAGES} messages`);
    const cpu = process.cpuUsage(started);
    return n / ((cpu.user + cpu.system) / 1e6);
  } finally {
    await store.close();
  }
}

/** dd reading the first `bytes` of each commit-log segment to /dev/null: MB/s (10^6 bytes). */
function ddRead(root: string, bytes: number): number {
  const dir = join(root, 'commitlog');
  const segments = readdirSync(dir).sort();
  const started = performance.now();
  let left = bytes;
  for (const name of segments) {
    if (left <= 0) break;
    const mib = Math.ceil(Math.min(left, 1024 * 1024 * 1024) / (1024 * 1024));
    execFileSync('dd', [`if=${join(dir, name)}`, 'of=/dev/null', 'bs=1M', `count=${mib}`], { stdio: 'ignore' });
    left -= mib * 1024 * 1024;
  }
  return bytes / 1e6 / ((performance.now() - started) / 1000);
}

async function scrubRate(root: string): Promise<{ mbPerSecond: number; bytes: number; records: number; damaged: number }> {
  const store = await MessageStore.open(options(root));
  try {
    const r = await store.scrub();
    return { mbPerSecond: r.mbPerSecond, bytes: r.bytesChecked, records: r.recordsChecked, damaged: r.damaged };
  } finally {
    await store.close();
  }
}

export async function runIntegrityBench(base = process.env.KARMAN_BENCH_DIR ?? tmpdir()): Promise<void> {
  const root = mkdtempSync(join(base, 'karman-bench-integrity-'));
  const fmt = (n: number): string => Math.round(n).toLocaleString('en-US');
  try {
    await fill(root);
    const rows: string[] = [];
    for (const [label, extra] of [
      ['block cache (hot)', {}],
      ['thread pool (accessMessageInMemoryMaxRatio 0)', { accessMessageInMemoryMaxRatio: 0 }],
    ] as const) {
      const on: number[] = [];
      const off: number[] = [];
      await readRate(root, { ...extra, checkCRCOnRead: true }); // warm-up
      for (let i = 0; i < ROUNDS; i++) {
        off.push(await readRate(root, { ...extra, checkCRCOnRead: false }));
        on.push(await readRate(root, { ...extra, checkCRCOnRead: true }));
      }
      const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
      rows.push(
        `| read msg per CPU-second, ${label}, batch 32 (median) | ${fmt(median(off))} | ${fmt(median(on))} | ${(median(on) / median(off)).toFixed(2)} | runs without ${off.map(fmt).join(', ')}; with ${on.map(fmt).join(', ')} |`,
      );
      console.log(rows.at(-1));
    }
    const scrubs: Array<Awaited<ReturnType<typeof scrubRate>>> = [];
    const dds: number[] = [];
    for (let i = 0; i < 2; i++) {
      const s = await scrubRate(root);
      scrubs.push(s);
      dds.push(ddRead(root, s.bytes));
    }
    const s = scrubs.at(-1)!;
    rows.push(
      `| scrub MB/s vs dd of the same ${fmt(s.bytes / 1e6)} MB (${fmt(s.records)} records, ${s.damaged} damaged) | ${dds.map((d) => d.toFixed(0)).join(', ')} (dd) | ${scrubs.map((x) => x.mbPerSecond.toFixed(0)).join(', ')} (scrub) | ${(scrubs.reduce((a, x) => a + x.mbPerSecond, 0) / dds.reduce((a, d) => a + d, 0)).toFixed(2)} | page cache warm for both |`,
    );
    console.log(rows.at(-1));
    const load = execFileSync('cat', ['/proc/loadavg']).toString().split(' ')[0];
    console.log(`\n${new Date().toISOString()}  node ${process.version}  load average ${load}\n`);
    console.log('| measurement | without check / reference | with check / scrub | ratio | runs |\n|---|---|---|---|---|');
    for (const r of rows) console.log(r);
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
}
