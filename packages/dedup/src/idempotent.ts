/**
 * The two forms a consumer uses.
 *
 * Handler form: `idempotent(handler, options)` returns a handler with the same signature. It
 * resolves when the message is done (run now, or already DONE) and rejects with the handler's own
 * error (record deleted, so the broker's retry runs it) or with `ConsumeLaterError` when another
 * consumer holds the id; the PushConsumer maps any rejection to RECONSUME_LATER.
 *
 * Iterator form: `idempotentIterate(messages, options, handler)` runs the handler for each message
 * of an async iterable, one at a time, and yields one outcome per message instead of throwing, so
 * the loop decides how to acknowledge each:
 *
 *   for await (const outcome of idempotentIterate(consumer, { group }, async (m) => save(m))) {
 *     if (outcome.type === 'deferred' || outcome.type === 'failed') outcome.message.reconsumeLater();
 *   }
 */
import type { DedupContext, DedupMessage } from './business-id.js';
import type { DedupCounters, DedupOptions, DedupOutcome } from './deduper.js';
import { createDeduper } from './deduper.js';

/** A consumer's message handler: resolves when the message is consumed, rejects to consume it later. */
export type MessageHandler<M extends DedupMessage, C extends DedupContext> = (message: M, context: C) => Promise<void>;

/** The wrapped handler, plus its counters and the means to close a store it opened. */
export type IdempotentHandler<M extends DedupMessage, C extends DedupContext> = MessageHandler<M, C> & {
  /** A snapshot of processed / duplicate / deferred / failed / claimLost / storeErrors totals. */
  readonly counters: Readonly<DedupCounters>;
  /** Close the default SQLite store if this handler opened it; a store you passed stays open. */
  close(): Promise<void>;
  [Symbol.asyncDispose](): Promise<void>;
};

/**
 * Wraps a consumer handler so each business id runs once per scope (group, topic, optionally
 * tag): duplicates are acknowledged without running, concurrent deliveries are deferred, and a
 * failure clears the record so the retry runs it.
 */
export function idempotent<M extends DedupMessage, C extends DedupContext>(
  handler: MessageHandler<M, C>,
  options: DedupOptions<M> = {},
): IdempotentHandler<M, C> {
  const deduper = createDeduper<M>(options);
  const wrapped = async (message: M, context: C): Promise<void> => {
    const outcome = await deduper.run(message, context, () => handler(message, context));
    if (outcome.type === 'deferred') throw outcome.error;
    // Rethrow as-is: the handler's own error is what the consumer should log and retry on.
    if (outcome.type === 'failed') throw outcome.error;
  };
  return Object.defineProperties(wrapped, {
    counters: { get: () => deduper.counters, enumerable: true },
    close: { value: () => deduper.close() },
    [Symbol.asyncDispose]: { value: () => deduper.close() },
  }) as IdempotentHandler<M, C>;
}

/** One message's outcome in the iterator form, with the message it belongs to. */
export type IdempotentResult<M extends DedupMessage> = DedupOutcome & { readonly message: M };

/**
 * Runs `handler` for each message of `messages`, one at a time, at most once per business id, and
 * yields each message's outcome. Needs `options.group` (there is no handler context). A default
 * SQLite store opened here is closed when the loop ends or breaks.
 */
export async function* idempotentIterate<M extends DedupMessage>(
  messages: AsyncIterable<M> | Iterable<M>,
  options: DedupOptions<M> & { group: string },
  handler: (message: M) => Promise<void>,
): AsyncGenerator<IdempotentResult<M>, void, undefined> {
  const deduper = createDeduper<M>(options);
  try {
    for await (const message of messages) {
      const outcome = await deduper.run(message, undefined, () => handler(message));
      yield { ...outcome, message };
    }
  } finally {
    await deduper.close();
  }
}
