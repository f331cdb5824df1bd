/**
 * Random byte flips in the commit-log and consume-queue files of a stopped store (4 KiB segments,
 * so most records sit in segments recovery does not re-check). After each restart, and again after
 * a scrub, appends and a second restart:
 *   - the store opens (never an exception),
 *   - every message served has a body matching its CRC and is the message sent to that queue at
 *     that offset,
 *   - every message whose record bytes were not touched is served.
 * `KARMAN_FUZZ_SEED=<n>` replays one round; `KARMAN_FUZZ_ROUNDS` sets how many run.
 */
import { closeSync, fstatSync, mkdtempSync, openSync, readSync, readdirSync, rmSync, writeFileSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { decodeRecord } from '@karman/protocol';
import { MessageStore } from '../src/message-store.js';
import type { StoreOptions } from '../src/store-config.js';
import { mulberry32 } from './fixtures/damage.js';

const SEGMENT = 4096;
const QUEUES = 3;
const MESSAGES = 240;
const ROUNDS = Number(process.env.KARMAN_FUZZ_ROUNDS ?? 30);
const FIXED_SEED = process.env.KARMAN_FUZZ_SEED === undefined ? undefined : Number(process.env.KARMAN_FUZZ_SEED);

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

const options = (root: string, log: string[]): StoreOptions => ({
  storePathRootDir: root,
  mappedFileSizeCommitLog: SEGMENT,
  mappedFileSizeConsumeQueue: 20 * 30,
  maxHashSlotNum: 64,
  maxIndexNum: 4096,
  cleanResourceInterval: 0,
  logger: (level, m) => {
    if (level !== 'info') log.push(m);
  },
});

interface Sent {
  queueId: number;
  queueOffset: number;
  body: string;
  start: number;
  end: number;
}

function allFiles(dir: string): string[] {
  const out: string[] = [];
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    if (e.isDirectory()) out.push(...allFiles(p));
    else out.push(p);
  }
  return out.sort();
}

/** Every message of T, by "queue/offset": its body, each checked against its CRC and its slot. */
async function readAll(store: MessageStore, random: () => number): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  for (let q = 0; q < QUEUES; q++) {
    let offset = store.getMinOffsetInQueue('T', q);
    const max = store.getMaxOffsetInQueue('T', q);
    while (offset < max) {
      const got = await store.getMessage({ topic: 'T', queueId: q, offset, maxCount: 1 + Math.floor(random() * 32) });
      for (const [k, b] of got.buffers.entries()) {
        const d = decodeRecord(b, 0, { checkCrc: true }); // throws on a body whose CRC fails
        if (d.kind !== 'record') throw new Error('a blank filler was served');
        expect([d.record.topic, d.record.queueId, d.record.queueOffset]).toEqual(['T', q, got.queueOffsets[k]]);
        out.set(`${q}/${got.queueOffsets[k]!}`, d.record.body.toString());
      }
      if (got.nextBeginOffset <= offset) throw new Error(`queue ${q} stuck at ${offset} (${got.status})`);
      offset = got.nextBeginOffset;
    }
  }
  return out;
}

async function round(seed: number): Promise<void> {
  const random = mulberry32(seed);
  const root = mkdtempSync(join(tmpdir(), 'karman-fuzz-'));
  dirs.push(root);
  const log: string[] = [];
  const sent: Sent[] = [];
  {
    const store = await MessageStore.open(options(root, log));
    for (let i = 0; i < MESSAGES; i++) {
      const queueId = i % QUEUES;
      const text = `fuzz-${seed}-${i}-`.padEnd(40 + Math.floor(random() * 400), String.fromCharCode(97 + (i % 26)));
      const put = await store.put({ topic: 'T', queueId, body: Buffer.from(text), properties: i % 4 === 0 ? { TAGS: 'a', KEYS: `k${i}` } : {} });
      sent.push({ queueId, queueOffset: put.queueOffset, body: text, start: put.wroteOffset, end: put.wroteOffset + put.wroteBytes });
    }
    await store.close();
  }
  // Sometimes the store looks crashed, so recovery starts from the checkpoint instead.
  if (random() < 0.3) writeFileSync(join(root, 'abort'), '');

  const commitLogEnd = sent.at(-1)!.end;
  const logFiles = allFiles(join(root, 'commitlog'));
  const cqFiles = allFiles(join(root, 'consumequeue'));
  const damaged: number[] = [];
  const flips = 1 + Math.floor(random() * 6);
  for (let f = 0; f < flips; f++) {
    const inLog = random() < 0.7;
    let path: string;
    let position: number;
    if (inLog) {
      const offset = random() < 0.9 ? Math.floor(random() * commitLogEnd) : Math.floor(random() * logFiles.length * SEGMENT);
      path = logFiles[Math.floor(offset / SEGMENT)]!;
      position = offset % SEGMENT;
      damaged.push(offset);
    } else {
      path = cqFiles[Math.floor(random() * cqFiles.length)]!;
      const fd = openSync(path, 'r');
      const size = fstatSync(fd).size;
      closeSync(fd);
      position = Math.floor(random() * size);
    }
    const fd = openSync(path, 'r+');
    const b = Buffer.alloc(1);
    readSync(fd, b, 0, 1, position);
    b[0] = b[0]! ^ (1 + Math.floor(random() * 255));
    writeSync(fd, b, 0, 1, position);
    closeSync(fd);
  }
  const intact = sent.filter((s) => !damaged.some((d) => d >= s.start && d < s.end));
  const byslot = new Map(sent.map((s) => [`${s.queueId}/${s.queueOffset}`, s.body]));

  const check = (read: Map<string, string>, extra: Sent[]): void => {
    for (const [slot, text] of read) expect(text, `slot ${slot} (seed ${seed}; store said: ${log.slice(0, 40).join(' | ')})`).toBe(byslot.get(slot) ?? extra.find((e) => `${e.queueId}/${e.queueOffset}` === slot)?.body);
    const lost = [...intact, ...extra].filter((s) => read.get(`${s.queueId}/${s.queueOffset}`) !== s.body);
    expect(lost.map((s) => `${s.queueId}/${s.queueOffset} at ${s.start}`), `intact records lost (seed ${seed}, flips at ${damaged.join(',')}; store said: ${log.slice(0, 40).join(' | ')})`).toEqual([]);
  };

  const extra: Sent[] = [];
  {
    const store = await MessageStore.open(options(root, log));
    try {
      check(await readAll(store, random), extra);
      await store.scrub();
      check(await readAll(store, random), extra);
      for (let q = 0; q < QUEUES; q++) {
        const text = `after-${seed}-${q}`;
        const put = await store.put({ topic: 'T', queueId: q, body: Buffer.from(text) });
        expect(put.status).toBe('PUT_OK');
        extra.push({ queueId: q, queueOffset: put.queueOffset, body: text, start: put.wroteOffset, end: put.wroteOffset + put.wroteBytes });
      }
      for (const e of extra) byslot.set(`${e.queueId}/${e.queueOffset}`, e.body);
    } finally {
      await store.close();
    }
  }
  {
    const store = await MessageStore.open(options(root, log));
    try {
      check(await readAll(store, random), extra);
    } finally {
      await store.close();
    }
  }
}

describe('random byte flips in a stopped store', () => {
  const seeds = FIXED_SEED === undefined ? Array.from({ length: ROUNDS }, (_, i) => 1000 + i) : [FIXED_SEED];
  it.each(seeds)('seed %i: restarts, serves nothing damaged, loses nothing intact', async (seed) => {
    await round(seed);
  });
});
