/**
 * The one contract every dedup store keeps.
 *
 * A record is keyed by the scoped business id and is in one of two states:
 *
 *   PROCESSING  claimed by one consumer that is running the handler now; carries that claim's
 *               random token and expires after `processingTimeout`, so a crashed owner's claim
 *               frees itself and the message is processed again.
 *   DONE        the handler succeeded; expires after `doneTtl` (24 h).
 *
 * An expired record counts as absent. Every state change after the claim names the claim's token,
 * so a consumer whose claim expired and was taken by another never overwrites the new owner's
 * record: that is what keeps "never run twice at once" true across processes and hosts.
 */

/** What `claim` found: the caller now owns the id, or someone already finished it, or holds it. */
export type ClaimResult =
  | { readonly status: 'claimed'; readonly token: string }
  | { readonly status: 'done' }
  | { readonly status: 'processing'; readonly expiresInMs: number };

/** How a record's owner token check went: `lost` means another claim holds or finished the id. */
export type SettleResult = 'ok' | 'lost';

/** A place to keep PROCESSING/DONE records, atomic on its own terms. */
export interface DedupStore {
  /** Short name for logs and errors, e.g. `sqlite:/var/lib/app/dedup.sqlite`. */
  readonly name: string;
  /**
   * Atomically claim `key` as PROCESSING for `processingTimeoutMs` with a fresh random token, unless a
   * live record exists; in that case report it without changing it.
   */
  claim(key: string, processingTimeoutMs: number): Promise<ClaimResult>;
  /**
   * Mark `key` DONE for `doneTtlMs` if the record is still this token's claim, or if it has vanished
   * (expired or swept) in the meantime: the handler did succeed, so DONE is true. Returns `lost` and
   * changes nothing when another token holds the record.
   */
  markDone(key: string, token: string, doneTtlMs: number): Promise<SettleResult>;
  /** Delete `key` if it is still this token's claim, so a retry can run; `lost` otherwise. */
  release(key: string, token: string): Promise<SettleResult>;
  /** Delete expired records now; returns how many went. Stores whose backend expires keys itself return 0. */
  sweep(): Promise<number>;
  /** Release what the store opened (never a client the caller passed in). Idempotent. */
  close(): Promise<void>;
  [Symbol.asyncDispose](): Promise<void>;
}
