import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { InvalidArgumentError, KarmanError } from '@karman/protocol';
import type { DedupMessage } from './business-id.js';
import { DedupStoreError } from './dedup-errors.js';
import type { DedupEvent } from './deduper.js';
import type { DedupStore } from './dedup-store.js';
import { idempotent, idempotentIterate } from './idempotent.js';
import { sqliteDedupStore } from './sqlite-dedup-store.js';

const msg = (key: string): DedupMessage => ({ topic: 'orders', msgId: `M-${key}`, properties: { KEYS: key } });
const ctx = { group: 'billing' };

const dirs: string[] = [];
afterEach(() => {
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});
function tempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'karman-dedup-unit-'));
  dirs.push(dir);
  return dir;
}

/** An in-memory SQLite store whose chosen operations fail, standing in for an unreachable server. */
function failing(ops: ReadonlySet<keyof DedupStore>): DedupStore {
  const real = sqliteDedupStore({ path: ':memory:', sweepInterval: 0 });
  const down = (): Promise<never> => Promise.reject(new Error('ECONNREFUSED'));
  return {
    name: 'flaky',
    claim: ops.has('claim') ? down : (k, t) => real.claim(k, t),
    markDone: ops.has('markDone') ? down : (k, t, ttl) => real.markDone(k, t, ttl),
    release: ops.has('release') ? down : (k, t) => real.release(k, t),
    sweep: () => real.sweep(),
    close: () => real.close(),
    [Symbol.asyncDispose]: () => real.close(),
  };
}

describe('idempotent options', () => {
  it('rejects bad options with the option name, the problem and the value given', () => {
    expect(() => idempotent(async () => undefined, { processingTimeout: 0 })).toThrow(InvalidArgumentError);
    expect(() => idempotent(async () => undefined, { processingTimeout: 0 })).toThrow(/processingTimeout .*(got 0)/);
    expect(() => idempotent(async () => undefined, { doneTtl: 1.5 })).toThrow(/doneTtl .*(got 1.5)/);
    expect(() => idempotent(async () => undefined, { store: {} as DedupStore })).toThrow(/store must be a DedupStore .*(got an object)/);
    expect(() => sqliteDedupStore({ path: ':memory:', table: 'drop table' })).toThrow(/table must be a plain SQL identifier.*(got "drop table")/);
  });

  it('does not mutate the caller options', () => {
    const store = sqliteDedupStore({ path: ':memory:', sweepInterval: 0 });
    const options = { store, scope: { tag: true } };
    idempotent(async () => undefined, options);
    expect(options).toEqual({ store, scope: { tag: true } });
  });

  it('fails a message without a group to scope by, naming the fix', async () => {
    await using store = sqliteDedupStore({ path: ':memory:', sweepInterval: 0 });
    const handler = idempotent(async () => undefined, { store });
    await expect(handler(msg('a'), { group: '' })).rejects.toThrow(/no consumer group.*pass options.group/);
  });
});

describe('the default SQLite store', () => {
  it('is opened at sqlitePath and closed by the handler that opened it', async () => {
    const path = join(tempDir(), 'nested', 'dedup.sqlite');
    let runs = 0;
    const handler = idempotent(
      async () => {
        runs += 1;
      },
      { sqlitePath: path },
    );
    await handler(msg('a'), ctx);
    await handler(msg('a'), ctx);
    expect(runs).toBe(1);
    expect(existsSync(path)).toBe(true);
    await handler.close();
    await expect(handler(msg('b'), ctx)).rejects.toMatchObject({ code: 'DEDUP_STORE_CLOSED', retriable: false });

    // The records survive the process: a new handler on the same file still skips the id.
    await using again = idempotent(
      async () => {
        runs += 1;
      },
      { sqlitePath: path },
    );
    await again(msg('a'), ctx);
    expect(runs).toBe(1);
  });

  it('is closed when an iterator loop that opened it ends early', async () => {
    const path = join(tempDir(), 'dedup.sqlite');
    const seen: string[] = [];
    for await (const outcome of idempotentIterate([msg('a'), msg('b')], { group: 'g', sqlitePath: path }, async () => undefined)) {
      seen.push(outcome.type);
      break;
    }
    expect(seen).toEqual(['processed']);
    // Closed store: the WAL file is checkpointed away on close.
    expect(existsSync(`${path}-wal`)).toBe(false);
  });
});

describe('store failures', () => {
  it('a failed claim does not run the handler and rejects with a retriable DedupStoreError', async () => {
    let runs = 0;
    const handler = idempotent(
      async () => {
        runs += 1;
      },
      { store: failing(new Set(['claim'])) },
    );
    const error: unknown = await handler(msg('a'), ctx).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(DedupStoreError);
    expect(error).toBeInstanceOf(KarmanError);
    expect((error as DedupStoreError).retriable).toBe(true);
    expect((error as Error).message).toBe('dedup store flaky failed to claim billing:orders:a: ECONNREFUSED');
    expect(runs).toBe(0);
    expect(handler.counters.failed).toBe(1);
  });

  it('a failed mark-done after a successful handler still acknowledges, and reports store_error', async () => {
    const events: DedupEvent[] = [];
    const handler = idempotent(async () => undefined, { store: failing(new Set(['markDone'])), onEvent: (e) => events.push(e) });
    await expect(handler(msg('a'), ctx)).resolves.toBeUndefined();
    expect(events.map((e) => e.type)).toEqual(['store_error', 'processed']);
    expect(events[0]).toMatchObject({ operation: 'markDone', key: 'billing:orders:a' });
    expect(handler.counters).toMatchObject({ processed: 1, storeErrors: 1 });
  });

  it('a failed release still rethrows the handler error', async () => {
    const boom = new Error('handler failed');
    const handler = idempotent(
      async () => {
        throw boom;
      },
      { store: failing(new Set(['release'])) },
    );
    await expect(handler(msg('a'), ctx)).rejects.toBe(boom);
    expect(handler.counters).toMatchObject({ failed: 1, storeErrors: 1 });
  });

  it('a listener that throws does not fail the message', async () => {
    await using store = sqliteDedupStore({ path: ':memory:', sweepInterval: 0 });
    const handler = idempotent(async () => undefined, {
      store,
      onEvent: () => {
        throw new Error('metrics down');
      },
    });
    await expect(handler(msg('a'), ctx)).resolves.toBeUndefined();
  });
});
