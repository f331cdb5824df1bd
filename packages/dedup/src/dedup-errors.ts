/**
 * The errors this package adds to Karman's hierarchy. A consumer maps `ConsumeLaterError` to RECONSUME_LATER without logging it as a failure:
 * another consumer is running the same business id right now, so this delivery must wait.
 */
import { KarmanError } from '@karman/protocol';

/**
 * The business id is PROCESSING under another claim: run this message later, not now. Retriable;
 * the PushConsumer answers RECONSUME_LATER so the broker redelivers it through the retry topic,
 * by which time the other consumer has finished (DONE → skipped) or failed
 * (record deleted → this one runs) or crashed (claim expired → this one runs).
 */
export class ConsumeLaterError extends KarmanError {
  override name = 'ConsumeLaterError' as const;

  constructor(
    /** The scoped record key that is held elsewhere. */
    readonly key: string,
    /** The message's business id. */
    readonly businessId: string,
    /** How long the other claim has left before it expires, in ms (−1 when the store cannot tell). */
    readonly expiresInMs: number,
  ) {
    const left = expiresInMs >= 0 ? `; its claim expires in ${expiresInMs} ms` : '';
    super('CONSUME_LATER', `business id "${businessId}" is being processed by another consumer${left}; consume this message later`);
  }
}

/** The dedup store could not be reached or failed; the message was not run and may be retried. */
export class DedupStoreError extends KarmanError {
  override name = 'DedupStoreError' as const;

  constructor(store: string, operation: string, cause: unknown) {
    const reason = cause instanceof Error ? cause.message : String(cause);
    super('DEDUP_STORE_ERROR', `dedup store ${store} failed to ${operation}: ${reason}`, { cause });
  }
}
