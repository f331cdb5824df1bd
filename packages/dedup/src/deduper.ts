/**
 * The state machine of idempotent consumption, shared by the handler form
 * (`idempotent`) and the iterator form (`idempotentIterate`):
 *
 *   claim(id) ── claimed ──▶ run handler ── ok ────▶ markDone(doneTtl)        → processed
 *      │                                  └─ throws ─▶ release (delete record) → failed, retry runs it
 *      ├── done ─────────▶ acknowledge without running                       → duplicate
 *      └── processing ───▶ run later (another consumer holds it right now)   → deferred
 *
 * A claim left by a crashed consumer expires after `processingTimeout`, and the next delivery
 * claims it afresh. `run` never throws: every way a message can end is an outcome, counted and
 * reported as an event of the same `{ type }`.
 */
import { z } from 'zod';
import { InvalidArgumentError, KarmanError } from '@karman/protocol';
import type { BusinessIdExtractor, DedupContext, DedupMessage } from './business-id.js';
import { businessIdOf, defaultBusinessId, scopedKey } from './business-id.js';
import { ConsumeLaterError, DedupStoreError } from './dedup-errors.js';
import type { DedupStore } from './dedup-store.js';
import { parseOptions } from './parse-options.js';
import { sqliteDedupStore } from './sqlite-dedup-store.js';

/** How one message ended. `key` is the scoped record key, `businessId` the id it was derived from. */
export type DedupOutcome =
  /** The handler ran once and succeeded; the id is DONE for `doneTtl`. */
  | { readonly type: 'processed'; readonly key: string; readonly businessId: string }
  /** The id was already DONE: acknowledged without running the handler. */
  | { readonly type: 'duplicate'; readonly key: string; readonly businessId: string }
  /** Another consumer holds the id; `error` is the ConsumeLaterError to hand the consumer. */
  | { readonly type: 'deferred'; readonly key: string; readonly businessId: string; readonly error: ConsumeLaterError }
  /**
   * Not done: the handler threw (its record was deleted so a retry runs it), the message has no
   * business id, or the store failed before the handler ran. `key`/`businessId` are empty when
   * the failure came before they were known.
   */
  | { readonly type: 'failed'; readonly key: string; readonly businessId: string; readonly error: unknown };

/** Everything the deduper reports: each outcome, plus trouble after the handler already succeeded. */
export type DedupEvent<M extends DedupMessage = DedupMessage> =
  | (DedupOutcome & { readonly message: M })
  /**
   * The handler succeeded but its claim had expired and another consumer took the id, so this
   * run may have duplicated that one's side effect: raise `processingTimeout` above the handler's
   * worst case.
   */
  | { readonly type: 'claim_lost'; readonly key: string; readonly businessId: string; readonly message: M }
  /**
   * The store failed while recording the end of a run (mark-done, or release after a failure).
   * The message's outcome stands; its claim expires after `processingTimeout`.
   */
  | {
      readonly type: 'store_error';
      readonly key: string;
      readonly businessId: string;
      readonly message: M;
      readonly operation: 'markDone' | 'release';
      readonly error: unknown;
    };

/** Running totals, one per outcome plus the two after-the-fact troubles. */
export interface DedupCounters {
  processed: number;
  duplicate: number;
  deferred: number;
  failed: number;
  claimLost: number;
  storeErrors: number;
}

const isFunction = (v: unknown): boolean => typeof v === 'function';
const isStore = (v: unknown): boolean =>
  typeof v === 'object' && v !== null && ['claim', 'markDone', 'release', 'close'].every((m) => typeof (v as Record<string, unknown>)[m] === 'function');

const dedupOptionsSchema = z.object({
  /** Where records live. Default: an SQLite store at `sqlitePath`, opened and closed by this helper. */
  store: z.custom<DedupStore>(isStore, 'must be a DedupStore (sqliteDedupStore, redisDedupStore, postgresDedupStore or your own)').optional(),
  /** File of the default SQLite store; ignored when `store` is given. */
  sqlitePath: z.string().min(1).default('.karman/dedup.sqlite'),
  /** Business id of a message. Default: its first key, then its UNIQ_KEY; a message with neither fails. */
  businessId: z.custom<BusinessIdExtractor>(isFunction, 'must be a function (message) => string').default(() => defaultBusinessId),
  /** Consumer group scoping the records. Default: the handler context's `group`; required for the iterator form. */
  group: z.string().min(1).optional(),
  /** Which message parts beside the group scope a record: topic (default on) and tag (default off). */
  scope: z
    .object({ topic: z.boolean().default(true), tag: z.boolean().default(false) })
    .prefault({}),
  /** How long a PROCESSING claim lasts, in ms (default 60 s); must exceed the handler's worst case. */
  processingTimeout: z.number().int().positive().default(60_000),
  /** How long a DONE record keeps skipping duplicates, in ms (default 24 h). */
  doneTtl: z.number().int().positive().default(86_400_000),
  /** Called synchronously with every event; a listener that throws is ignored so it cannot fail a message. */
  onEvent: z.custom<(event: DedupEvent) => void>(isFunction, 'must be a function (event) => void').optional(),
});

/** Options shared by `idempotent`, `idempotentIterate` and `createDeduper`; every field has a default. */
export type DedupOptions<M extends DedupMessage = DedupMessage> = Omit<z.input<typeof dedupOptionsSchema>, 'businessId' | 'onEvent'> & {
  /** Business id of a message. Default: its first key, then its UNIQ_KEY; a message with neither fails. */
  businessId?: BusinessIdExtractor<M>;
  /** Called synchronously with every event; a listener that throws is ignored so it cannot fail a message. */
  onEvent?: (event: DedupEvent<M>) => void;
};

/** The state machine over one store; create with {@link createDeduper}. */
export interface Deduper<M extends DedupMessage = DedupMessage> {
  /** The store records go to. */
  readonly store: DedupStore;
  /** A snapshot of the running totals. */
  readonly counters: Readonly<DedupCounters>;
  /** Run `handler` for `message` at most once per business id in its scope; never throws. */
  run(message: M, context: DedupContext | undefined, handler: () => Promise<void>): Promise<DedupOutcome>;
  /** Close the store if this deduper opened it (the default SQLite store); a store you passed stays open. */
  close(): Promise<void>;
  [Symbol.asyncDispose](): Promise<void>;
}

/** Builds a deduper: validates options once, opens the default store if none is given. */
export function createDeduper<M extends DedupMessage = DedupMessage>(options: DedupOptions<M> = {}): Deduper<M> {
  const o = parseOptions(dedupOptionsSchema, options, 'idempotent');
  const ownsStore = o.store === undefined;
  const store = o.store ?? sqliteDedupStore({ path: o.sqlitePath });
  const extractor = o.businessId as BusinessIdExtractor<M>;
  const onEvent = o.onEvent as ((event: DedupEvent<M>) => void) | undefined;
  const counters: DedupCounters = { processed: 0, duplicate: 0, deferred: 0, failed: 0, claimLost: 0, storeErrors: 0 };
  let closed = false;

  const emit = (event: DedupEvent<M>): void => {
    if (onEvent === undefined) return;
    try {
      onEvent(event);
    } catch {
      // A metrics or logging listener must not turn a processed message into a failed one.
    }
  };

  const finish = (message: M, outcome: DedupOutcome): DedupOutcome => {
    counters[outcome.type] += 1;
    emit({ ...outcome, message });
    return outcome;
  };

  const run = async (message: M, context: DedupContext | undefined, handler: () => Promise<void>): Promise<DedupOutcome> => {
    let key = '';
    let businessId = '';
    let token: string;
    try {
      if (closed) throw new KarmanError('DEDUP_STORE_CLOSED', `this idempotent handler's store ${store.name} was closed; create a new handler`);
      const group = o.group ?? context?.group;
      if (group === undefined || group.length === 0) {
        throw new InvalidArgumentError('idempotent: no consumer group to scope records by; pass options.group or a handler context with a group');
      }
      businessId = businessIdOf(message, extractor);
      key = scopedKey(group, message, businessId, o.scope);
      let claim;
      try {
        claim = await store.claim(key, o.processingTimeout);
      } catch (error) {
        throw new DedupStoreError(store.name, `claim ${key}`, error);
      }
      if (claim.status === 'done') return finish(message, { type: 'duplicate', key, businessId });
      if (claim.status === 'processing') {
        return finish(message, { type: 'deferred', key, businessId, error: new ConsumeLaterError(key, businessId, claim.expiresInMs) });
      }
      token = claim.token;
    } catch (error) {
      return finish(message, { type: 'failed', key, businessId, error });
    }

    try {
      await handler();
    } catch (error) {
      await settle(message, key, businessId, 'release', () => store.release(key, token));
      return finish(message, { type: 'failed', key, businessId, error });
    }
    await settle(message, key, businessId, 'markDone', () => store.markDone(key, token, o.doneTtl));
    return finish(message, { type: 'processed', key, businessId });
  };

  // After the handler has run, its result stands whatever the store says: failing a succeeded
  // message would only make the broker redeliver it after the claim expires, a certain duplicate.
  const settle = async (
    message: M,
    key: string,
    businessId: string,
    operation: 'markDone' | 'release',
    change: () => Promise<'ok' | 'lost'>,
  ): Promise<void> => {
    try {
      const result = await change();
      if (result === 'lost' && operation === 'markDone') {
        counters.claimLost += 1;
        emit({ type: 'claim_lost', key, businessId, message });
      }
    } catch (error) {
      counters.storeErrors += 1;
      emit({ type: 'store_error', key, businessId, message, operation, error });
    }
  };

  const close = async (): Promise<void> => {
    if (closed) return;
    closed = true;
    if (ownsStore) await store.close();
  };

  return {
    store,
    get counters() {
      return { ...counters };
    },
    run,
    close,
    [Symbol.asyncDispose]: close,
  };
}
