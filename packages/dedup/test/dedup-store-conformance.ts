/**
 * One contract run against every DedupStore. Each store's test file calls
 * `describeDedupStoreConformance` with a factory for a fresh, isolated backend (its own SQLite
 * file, Redis key prefix or PostgreSQL table), from which the suite opens as many store instances
 * as it needs: several instances over one backend stand for several consumer processes.
 */
import { randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterEach, describe, expect, it } from 'vitest';
import { InvalidArgumentError } from '@karman/protocol';
import type { DedupContext, DedupEvent, DedupMessage, DedupStore } from '../src/index.js';
import { ConsumeLaterError, idempotent, idempotentIterate } from '../src/index.js';

/** An isolated place for records; `open` may be called many times, `cleanup` once at the end. */
export interface StoreBackend {
  open(): Promise<DedupStore>;
  cleanup(): Promise<void>;
}

// Long enough that a loaded 2-core machine does not expire a claim before the next line checks
// it, short enough that the expiry tests stay under a second.
const SHORT_MS = 400;
const PAST_SHORT_MS = 600;

let counter = 0;
/** A message as the PushConsumer delivers it; each call gets a fresh msgId like a real redelivery. */
function message(fields: Partial<DedupMessage> & { key?: string } = {}): DedupMessage {
  const { key, ...rest } = fields;
  counter += 1;
  return {
    topic: 'orders',
    msgId: `MSG${counter}`,
    properties: key === undefined ? {} : { KEYS: key },
    ...rest,
  };
}

/** How a store differs within the contract. */
export interface ConformanceOptions {
  /** Whether `sweep()` deletes expired records itself (false where the backend expires keys, as Redis does). */
  sweepsExpired: boolean;
  /** Why the backend cannot run here (an unreachable server); the suite is then skipped with this reason in its name. */
  skipReason?: string | undefined;
}

export function describeDedupStoreConformance(name: string, createBackend: () => Promise<StoreBackend>, options: ConformanceOptions): void {
  const title = `DedupStore conformance: ${name}`;
  // A skipped run names what was unreachable, so nobody mistakes it for a pass.
  describe.skipIf(options.skipReason !== undefined)(options.skipReason === undefined ? title : `${title} (SKIPPED: ${options.skipReason})`, () => {
    const backends: StoreBackend[] = [];
    const backend = async (): Promise<StoreBackend> => {
      const b = await createBackend();
      backends.push(b);
      return b;
    };
    const ctx: DedupContext = { group: 'billing' };

    afterEach(async () => {
      for (const b of backends.splice(0)) await b.cleanup();
    });

    it('claims an id once; a second claim sees it processing, then done after markDone', async () => {
      const store = await (await backend()).open();
      const first = await store.claim('k1', 60_000);
      expect(first.status).toBe('claimed');
      const second = await store.claim('k1', 60_000);
      expect(second.status).toBe('processing');
      if (second.status === 'processing') {
        expect(second.expiresInMs).toBeGreaterThan(50_000);
        expect(second.expiresInMs).toBeLessThanOrEqual(60_000);
      }
      if (first.status !== 'claimed') return;
      expect(await store.markDone('k1', first.token, 60_000)).toBe('ok');
      expect((await store.claim('k1', 60_000)).status).toBe('done');
      expect((await store.claim('k2', 60_000)).status).toBe('claimed');
    });

    it('runs the handler exactly once when 50 workers on 5 store instances get one id at once', async () => {
      const b = await backend();
      const stores = await Promise.all(Array.from({ length: 5 }, () => b.open()));
      let runs = 0;
      const handlers = stores.map((store) =>
        idempotent<DedupMessage, DedupContext>(
          async () => {
            runs += 1;
            await sleep(50);
          },
          { store },
        ),
      );
      const results = await Promise.allSettled(
        Array.from({ length: 50 }, (_, i) => handlers[i % handlers.length]!(message({ key: 'order-1' }), ctx)),
      );
      expect(runs).toBe(1);
      const fulfilled = results.filter((r) => r.status === 'fulfilled').length;
      const rejected = results.flatMap((r) => (r.status === 'rejected' ? [r.reason as unknown] : []));
      expect(rejected.every((e) => e instanceof ConsumeLaterError)).toBe(true);
      const totals = handlers.map((h) => h.counters).reduce((a, c) => ({
        processed: a.processed + c.processed,
        duplicate: a.duplicate + c.duplicate,
        deferred: a.deferred + c.deferred,
        failed: a.failed + c.failed,
        claimLost: 0,
        storeErrors: 0,
      }));
      expect(totals.processed).toBe(1);
      expect(totals.failed).toBe(0);
      expect(totals.duplicate + totals.deferred).toBe(49);
      expect(fulfilled).toBe(1 + totals.duplicate);
    });

    it('deletes the record when the handler fails, so the retry runs it', async () => {
      const store = await (await backend()).open();
      let runs = 0;
      const boom = new Error('payment service down');
      const handler = idempotent(
        async () => {
          runs += 1;
          if (runs === 1) throw boom;
        },
        { store },
      );
      await expect(handler(message({ key: 'order-2' }), ctx)).rejects.toBe(boom);
      await handler(message({ key: 'order-2' }), ctx);
      expect(runs).toBe(2);
      expect(handler.counters).toMatchObject({ processed: 1, failed: 1, duplicate: 0, deferred: 0 });
      // Only one handler run succeeded, and the id is now DONE.
      await handler(message({ key: 'order-2' }), ctx);
      expect(runs).toBe(2);
    });

    it('acknowledges a DONE id without running the handler', async () => {
      const store = await (await backend()).open();
      const seen: string[] = [];
      const handler = idempotent(
        async (m: DedupMessage) => {
          seen.push(m.msgId);
        },
        { store },
      );
      const original = message({ key: 'order-3' });
      const resend = message({ key: 'order-3' }); // producer resend: same key, new msgId
      await handler(original, ctx);
      await expect(handler(resend, ctx)).resolves.toBeUndefined();
      expect(seen).toEqual([original.msgId]);
      expect(handler.counters).toMatchObject({ processed: 1, duplicate: 1 });
    });

    it('defers while another consumer holds the id, and runs it once a crashed claim expires', async () => {
      const b = await backend();
      const crashed = await b.open();
      const store = await b.open();
      const handler = idempotent(async () => undefined, { store, processingTimeout: SHORT_MS });
      const key = 'billing:orders:order-4';
      expect((await crashed.claim(key, SHORT_MS)).status).toBe('claimed'); // then the process dies
      const error: unknown = await handler(message({ key: 'order-4' }), ctx).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(ConsumeLaterError);
      expect((error as ConsumeLaterError).retriable).toBe(true);
      expect((error as ConsumeLaterError).businessId).toBe('order-4');
      expect((error as ConsumeLaterError).expiresInMs).toBeLessThanOrEqual(SHORT_MS);
      await sleep(PAST_SHORT_MS);
      await handler(message({ key: 'order-4' }), ctx);
      expect(handler.counters).toMatchObject({ deferred: 1, processed: 1 });
    });

    it('never lets a stale owner overwrite or delete a claim another consumer took after expiry', async () => {
      const b = await backend();
      const a = await b.open();
      const other = await b.open();
      const stale = await a.claim('k5', SHORT_MS);
      await sleep(PAST_SHORT_MS);
      const fresh = await other.claim('k5', 60_000);
      expect(stale.status).toBe('claimed');
      expect(fresh.status).toBe('claimed');
      if (stale.status !== 'claimed' || fresh.status !== 'claimed') return;
      expect(fresh.token).not.toBe(stale.token);
      expect(await a.markDone('k5', stale.token, 60_000)).toBe('lost');
      expect(await a.release('k5', stale.token)).toBe('lost');
      expect((await a.claim('k5', 60_000)).status).toBe('processing');
      expect(await other.release('k5', fresh.token)).toBe('ok');
      expect((await a.claim('k5', 60_000)).status).toBe('claimed');
    });

    it('reports claim_lost when a handler outlives its processingTimeout and another consumer re-ran it', async () => {
      const b = await backend();
      const events: DedupEvent[] = [];
      const slowStore = await b.open();
      const fastStore = await b.open();
      let runs = 0;
      const slow = idempotent(
        async () => {
          runs += 1;
          await sleep(PAST_SHORT_MS * 2);
        },
        { store: slowStore, processingTimeout: SHORT_MS, onEvent: (e) => events.push(e) },
      );
      const fast = idempotent(
        async () => {
          runs += 1;
        },
        { store: fastStore },
      );
      const slowRun = slow(message({ key: 'order-6' }), ctx);
      await sleep(PAST_SHORT_MS);
      await fast(message({ key: 'order-6' }), ctx); // the claim expired: the redelivery runs
      await slowRun;
      expect(runs).toBe(2);
      expect(events.map((e) => e.type)).toEqual(['claim_lost', 'processed']);
      expect(slow.counters.claimLost).toBe(1);
      // The fast consumer's DONE stands.
      expect((await fastStore.claim('billing:orders:order-6', 60_000)).status).toBe('done');
    });

    it('forgets a DONE id after doneTtl, so a much later duplicate runs again', async () => {
      const store = await (await backend()).open();
      let runs = 0;
      const handler = idempotent(
        async () => {
          runs += 1;
        },
        { store, doneTtl: SHORT_MS },
      );
      await handler(message({ key: 'order-7' }), ctx);
      await handler(message({ key: 'order-7' }), ctx);
      expect(runs).toBe(1);
      await sleep(PAST_SHORT_MS);
      await handler(message({ key: 'order-7' }), ctx);
      expect(runs).toBe(2);
    });

    it('sweeps expired records and keeps live ones', async () => {
      const store = await (await backend()).open();
      await store.claim('expiring', SHORT_MS);
      await store.claim('live', 60_000);
      await sleep(PAST_SHORT_MS);
      expect(await store.sweep()).toBe(options.sweepsExpired ? 1 : 0);
      expect((await store.claim('live', 60_000)).status).toBe('processing');
      expect((await store.claim('expiring', 60_000)).status).toBe('claimed');
    });

    it('keeps separate records per group and topic, and per tag only when asked', async () => {
      const store = await (await backend()).open();
      const runs: string[] = [];
      const record = (label: string) => async () => {
        runs.push(label);
      };
      const byGroup = idempotent(record('group'), { store });
      await byGroup(message({ key: 'id-8' }), { group: 'billing' });
      await byGroup(message({ key: 'id-8' }), { group: 'shipping' });
      await byGroup(message({ key: 'id-8', topic: 'refunds' }), { group: 'billing' });
      await byGroup(message({ key: 'id-8' }), { group: 'billing' });
      expect(runs).toEqual(['group', 'group', 'group']);

      const byTag = idempotent(record('tag'), { store, group: 'tagged', scope: { tag: true } });
      await byTag(message({ key: 'id-9', tags: 'created' }), ctx);
      await byTag(message({ key: 'id-9', tags: 'paid' }), ctx);
      const noTag = idempotent(record('untagged'), { store, group: 'untagged' });
      await noTag(message({ key: 'id-9', tags: 'created' }), ctx);
      await noTag(message({ key: 'id-9', tags: 'paid' }), ctx);
      expect(runs.slice(3)).toEqual(['tag', 'tag', 'untagged']);
    });

    it('scopes a retry redelivery on %RETRY%<group> with its original topic', async () => {
      const store = await (await backend()).open();
      let runs = 0;
      const handler = idempotent(
        async () => {
          runs += 1;
        },
        { store },
      );
      await handler(message({ key: 'id-10' }), ctx);
      await handler(message({ topic: '%RETRY%billing', properties: { KEYS: 'id-10', RETRY_TOPIC: 'orders' } }), ctx);
      expect(runs).toBe(1);
    });

    it('takes the business id from the first key, then UNIQ_KEY, or a function; none is a clear error', async () => {
      const store = await (await backend()).open();
      const ids: string[] = [];
      const events: DedupEvent[] = [];
      const handler = idempotent(async () => undefined, {
        store,
        onEvent: (e) => {
          if (e.type === 'processed') ids.push(e.businessId);
          events.push(e);
        },
      });
      await handler(message({ keys: ['first', 'second'], properties: { KEYS: 'first second', UNIQ_KEY: 'U1' } }), ctx);
      await handler(message({ properties: { KEYS: 'k-a k-b', UNIQ_KEY: 'U2' } }), ctx);
      await handler(message({ properties: { UNIQ_KEY: 'U3' } }), ctx);
      expect(ids).toEqual(['first', 'k-a', 'U3']);

      const anonymous = message({ properties: {} });
      const error: unknown = await handler(anonymous, ctx).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(InvalidArgumentError);
      expect((error as Error).message).toContain(`message ${anonymous.msgId} on topic orders has no business id`);
      expect((error as Error).message).toContain('businessId function');
      expect(handler.counters.failed).toBe(1);

      const byOrder = idempotent(async () => undefined, {
        store,
        group: 'custom',
        businessId: (m: DedupMessage) => m.properties['orderId'],
      });
      await byOrder(message({ properties: { orderId: 'o-1' } }), ctx);
      await byOrder(message({ properties: { orderId: 'o-1', UNIQ_KEY: 'other' } }), ctx);
      expect(byOrder.counters).toMatchObject({ processed: 1, duplicate: 1 });
    });

    it('counts and reports every outcome as an event of { type }', async () => {
      const store = await (await backend()).open();
      const events: DedupEvent[] = [];
      let fail = true;
      const handler = idempotent(
        async () => {
          if (fail) {
            fail = false;
            throw new Error('once');
          }
        },
        { store, onEvent: (e) => events.push(e) },
      );
      await handler(message({ key: 'e1' }), ctx).catch(() => undefined); // failed
      await handler(message({ key: 'e1' }), ctx); // processed
      await handler(message({ key: 'e1' }), ctx); // duplicate
      const key = 'billing:orders:e2';
      await store.claim(key, 60_000);
      await handler(message({ key: 'e2' }), ctx).catch(() => undefined); // deferred
      expect(events.map((e) => e.type)).toEqual(['failed', 'processed', 'duplicate', 'deferred']);
      expect(events[3]).toMatchObject({ type: 'deferred', key, businessId: 'e2' });
      expect(handler.counters).toEqual({ processed: 1, duplicate: 1, deferred: 1, failed: 1, claimLost: 0, storeErrors: 0 });
    });

    it('works in the iterator form, yielding one outcome per message', async () => {
      const store = await (await backend()).open();
      const done: string[] = [];
      async function* deliveries(): AsyncGenerator<DedupMessage> {
        yield message({ key: 'a' });
        yield message({ key: 'b' });
        yield message({ key: 'a' });
        yield message({ key: 'bad' });
      }
      const types: string[] = [];
      for await (const outcome of idempotentIterate(deliveries(), { store, group: `it-${randomUUID()}` }, async (m) => {
        if (m.properties['KEYS'] === 'bad') throw new Error('poison');
        done.push(m.properties['KEYS']!);
      })) {
        types.push(outcome.type);
      }
      expect(types).toEqual(['processed', 'processed', 'duplicate', 'failed']);
      expect(done).toEqual(['a', 'b']);
      // The store was passed in, so it stays open.
      expect((await store.claim('still-open', 60_000)).status).toBe('claimed');
    });
  });
}
