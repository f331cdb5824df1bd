/**
 * Model-based property test: random appends, batches, reads, clean restarts and crash restarts
 * against an in-memory model, with 4 KiB segments and tiny consume-queue files so rolls happen all
 * the time. A crash restart opens a copy of the folder taken while the store was open (abort file
 * present, nothing closed), which is what a kill leaves once acknowledged writes reached the OS.
 */
import { cpSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { afterEach, describe, expect, it } from 'vitest';
import { decodeRecord, tagsCode } from '@karman/protocol';
import { MessageStore } from '../src/message-store.js';
import { GetMessageStatus } from '../src/message-status.js';

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

const TOPICS = ['alpha', 'beta'];
const QUEUES = 3;
const TAGS = ['a', 'b', 'c'];

interface ModelMessage {
  body: string;
  tag: string;
}

interface Model {
  queues: Map<string, ModelMessage[]>;
}

interface Real {
  store: MessageStore;
  root: string;
}

const openStore = (root: string): Promise<MessageStore> =>
  MessageStore.open({
    storePathRootDir: root,
    mappedFileSizeCommitLog: 4096,
    mappedFileSizeConsumeQueue: 20 * 16,
    maxHashSlotNum: 16,
    maxIndexNum: 256,
    cleanResourceInterval: 0,
    flushIntervalConsumeQueue: 5,
    logger: () => undefined,
  });

const key = (topic: string, q: number): string => `${topic}/${q}`;

/** Everything in the model must read back from the store, in order, byte for byte. */
async function checkAll(model: Model, store: MessageStore): Promise<void> {
  for (const topic of TOPICS) {
    for (let q = 0; q < QUEUES; q++) {
      const expected = model.queues.get(key(topic, q)) ?? [];
      expect(store.getMaxOffsetInQueue(topic, q)).toBe(expected.length);
      const got: string[] = [];
      let offset = 0;
      while (offset < expected.length) {
        const r = await store.getMessage({ topic, queueId: q, offset, maxCount: 8 });
        expect(r.status).toBe(GetMessageStatus.FOUND);
        for (const b of r.buffers) {
          const d = decodeRecord(b, 0, { checkCrc: true });
          if (d.kind !== 'record') throw new Error('blank served');
          got.push(d.record.body.toString());
        }
        offset = r.nextBeginOffset;
      }
      expect(got).toEqual(expected.map((m) => m.body));
    }
  }
}

class AppendCommand implements fc.AsyncCommand<Model, Real> {
  constructor(
    readonly topic: string,
    readonly queueId: number,
    readonly sizes: number[],
    readonly tag: string,
  ) {}
  check(): boolean {
    return true;
  }
  async run(model: Model, real: Real): Promise<void> {
    const k = key(this.topic, this.queueId);
    const list = model.queues.get(k) ?? [];
    const msgs = this.sizes.map((size, i) => ({ body: `${k}#${list.length + i}:`.padEnd(size, 'm'), tag: this.tag }));
    const inputs = msgs.map((m) => ({ topic: this.topic, queueId: this.queueId, body: Buffer.from(m.body), properties: { TAGS: m.tag } }));
    const r = inputs.length === 1 ? await real.store.put(inputs[0]!) : await real.store.putBatch(inputs);
    expect(r.status).toBe('PUT_OK');
    expect(r.queueOffset).toBe(list.length);
    expect(r.msgNum).toBe(msgs.length);
    list.push(...msgs);
    model.queues.set(k, list);
  }
  toString(): string {
    return `append(${this.topic}/${this.queueId}, ${this.sizes.join('+')}, ${this.tag})`;
  }
}

class ReadCommand implements fc.AsyncCommand<Model, Real> {
  constructor(
    readonly topic: string,
    readonly queueId: number,
    readonly offsetSeed: number,
    readonly maxCount: number,
    readonly tag: string | undefined,
  ) {}
  check(): boolean {
    return true;
  }
  async run(model: Model, real: Real): Promise<void> {
    const list = model.queues.get(key(this.topic, this.queueId)) ?? [];
    const offset = list.length === 0 ? 0 : this.offsetSeed % (list.length + 2);
    const r = await real.store.getMessage({
      topic: this.topic,
      queueId: this.queueId,
      offset,
      maxCount: this.maxCount,
      ...(this.tag === undefined ? {} : { tagsCodes: new Set([tagsCode(this.tag)]) }),
    });
    if (list.length === 0) {
      expect([GetMessageStatus.NO_MATCHED_LOGIC_QUEUE, GetMessageStatus.NO_MESSAGE_IN_QUEUE]).toContain(r.status);
      return;
    }
    if (offset === list.length) return void expect(r.status).toBe(GetMessageStatus.OFFSET_OVERFLOW_ONE);
    if (offset > list.length) return void expect(r.status).toBe(GetMessageStatus.OFFSET_OVERFLOW_BADLY);
    // Compare against the model over the units the store says it scanned.
    const scanned = list.slice(offset, r.nextBeginOffset);
    const wanted = scanned
      .map((m, i) => ({ m, at: offset + i }))
      .filter(({ m }) => this.tag === undefined || m.tag === this.tag)
      .slice(0, this.maxCount);
    expect(r.queueOffsets).toEqual(wanted.map((w) => w.at));
    expect(r.buffers.map((b) => (decodeRecord(b) as { record: { body: Buffer } }).record.body.toString())).toEqual(wanted.map((w) => w.m.body));
    expect(r.status).toBe(wanted.length > 0 ? GetMessageStatus.FOUND : GetMessageStatus.NO_MATCHED_MESSAGE);
    expect(r.nextBeginOffset).toBeGreaterThan(offset);
  }
  toString(): string {
    return `read(${this.topic}/${this.queueId}, seed ${this.offsetSeed}, max ${this.maxCount}, tag ${this.tag ?? '*'})`;
  }
}

class RestartCommand implements fc.AsyncCommand<Model, Real> {
  constructor(readonly crash: boolean) {}
  check(): boolean {
    return true;
  }
  async run(model: Model, real: Real): Promise<void> {
    if (this.crash) {
      const copy = mkdtempSync(join(tmpdir(), 'karman-model-crash-'));
      dirs.push(copy);
      cpSync(real.root, copy, { recursive: true });
      rmSync(join(copy, 'lock'));
      await real.store.close();
      real.root = copy;
    } else {
      await real.store.close();
    }
    real.store = await openStore(real.root);
    expect(real.store.recovery.abnormal).toBe(this.crash);
    expect(real.store.recovery.truncated).toBeUndefined();
    await checkAll(model, real.store);
  }
  toString(): string {
    return this.crash ? 'crashRestart' : 'restart';
  }
}

const commands = [
  fc
    .record({
      topic: fc.constantFrom(...TOPICS),
      queueId: fc.integer({ min: 0, max: QUEUES - 1 }),
      sizes: fc.array(fc.integer({ min: 20, max: 900 }), { minLength: 1, maxLength: 4 }),
      tag: fc.constantFrom(...TAGS),
    })
    .map((a) => new AppendCommand(a.topic, a.queueId, a.sizes, a.tag)),
  fc
    .record({
      topic: fc.constantFrom(...TOPICS),
      queueId: fc.integer({ min: 0, max: QUEUES - 1 }),
      offsetSeed: fc.nat(),
      maxCount: fc.integer({ min: 1, max: 10 }),
      tag: fc.option(fc.constantFrom(...TAGS), { nil: undefined }),
    })
    .map((a) => new ReadCommand(a.topic, a.queueId, a.offsetSeed, a.maxCount, a.tag)),
  fc.boolean().map((crash) => new RestartCommand(crash)),
];

describe('store against an in-memory model', () => {
  it('agrees with the model across appends, reads, rolls and restarts', async () => {
    await fc.assert(
      fc.asyncProperty(fc.commands(commands, { maxCommands: 60 }), async (cmds) => {
        const root = mkdtempSync(join(tmpdir(), 'karman-model-'));
        dirs.push(root);
        const real: Real = { store: await openStore(root), root };
        const model: Model = { queues: new Map() };
        try {
          await fc.asyncModelRun(() => ({ model, real }), cmds);
          await checkAll(model, real.store);
        } finally {
          await real.store.close();
        }
      }),
      { numRuns: 60 },
    );
  }, 60_000);
});
