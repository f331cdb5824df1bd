/**
 * The PostgreSQL store: records in a table beside the application's own data, through a `pg`
 * pool the caller owns. Expiry uses the database server's clock (`clock_timestamp()`), so
 * consumers on hosts with skewed clocks still agree on when a claim has expired.
 *
 * Table layout (`<table>` defaults to `karman_dedup`, created if missing):
 *
 *   id          text PRIMARY KEY   scoped record key (business-id.ts)
 *   state       smallint           0 = PROCESSING, 1 = DONE
 *   token       text               the claim's random token
 *   expires_at  timestamptz        a row at or past it counts as absent
 *
 * Atomicity: each change is one statement. The claim is `INSERT ... ON CONFLICT DO UPDATE ...
 * WHERE expires_at <= now`: PostgreSQL makes concurrent inserters of one id wait for the first and
 * then re-check the WHERE on its row, so exactly one claims. Mark-done is the same upsert guarded
 * by `token = ours`, release a `DELETE ... WHERE token = ours`, so a stale owner never touches a
 * record another claim has taken.
 */
import { randomUUID } from 'node:crypto';
import type { Pool } from 'pg';
import { z } from 'zod';
import { KarmanError } from '@karman/protocol';
import type { ClaimResult, DedupStore, SettleResult } from './dedup-store.js';
import { parseOptions } from './parse-options.js';

const postgresOptionsSchema = z.object({
  /** A `pg` Pool (or anything with its `query`); the store never ends it. */
  pool: z.custom<Pick<Pool, 'query'>>(
    (v) => typeof v === 'object' && v !== null && typeof (v as { query?: unknown }).query === 'function',
    'must be a pg Pool (an object with a query method)',
  ),
  /** Table holding the records. */
  table: z
    .string()
    .regex(/^[a-z_][a-z0-9_]{0,62}$/, 'must be a lower-case SQL identifier: a-z, 0-9 and _ (at most 63), not starting with a digit')
    .default('karman_dedup'),
  /** How often expired rows are deleted, in ms; 0 turns the timer off (call `sweep()` yourself). */
  sweepInterval: z.number().int().nonnegative().default(300_000),
});

/** Options of {@link postgresDedupStore}; `pool` is required, the rest have defaults. */
export type PostgresDedupStoreOptions = z.input<typeof postgresOptionsSchema>;

/** A dedup store over an existing `pg` pool. The table is created on first use. */
export function postgresDedupStore(options: PostgresDedupStoreOptions): DedupStore {
  const o = parseOptions(postgresOptionsSchema, options, 'postgresDedupStore');
  return new PostgresDedupStore(o.pool, o.table, o.sweepInterval);
}

/** A claim that lost may find the winner's row already expired or deleted; try again this often. */
const CLAIM_ATTEMPTS = 5;

class PostgresDedupStore implements DedupStore {
  readonly name: string;
  #closed = false;
  #ready: Promise<void> | undefined;
  readonly #timer: NodeJS.Timeout | undefined;
  readonly #sql: {
    create: string;
    claim: string;
    select: string;
    markDone: string;
    release: string;
    sweep: string;
  };

  constructor(
    private readonly pool: Pick<Pool, 'query'>,
    table: string,
    sweepInterval: number,
  ) {
    this.name = `postgres:${table}`;
    const expiry = `clock_timestamp() + $3::float8 * interval '1 millisecond'`;
    this.#sql = {
      // One simple-protocol string runs as one implicit transaction, so the advisory lock serialises
      // stores creating the same table at once (concurrent CREATE ... IF NOT EXISTS can still collide).
      create: `SELECT pg_advisory_xact_lock(hashtext('karman_dedup_create:${table}'));
               CREATE TABLE IF NOT EXISTS ${table} (id text PRIMARY KEY, state smallint NOT NULL, token text NOT NULL, expires_at timestamptz NOT NULL);
               CREATE INDEX IF NOT EXISTS ${table}_expires_at ON ${table} (expires_at)`,
      claim: `INSERT INTO ${table} AS t (id, state, token, expires_at) VALUES ($1, 0, $2, ${expiry})
              ON CONFLICT (id) DO UPDATE SET state = 0, token = EXCLUDED.token, expires_at = EXCLUDED.expires_at
              WHERE t.expires_at <= clock_timestamp() RETURNING 1`,
      select: `SELECT state, extract(epoch FROM expires_at - clock_timestamp())::float8 * 1000 AS left_ms FROM ${table} WHERE id = $1`,
      markDone: `INSERT INTO ${table} AS t (id, state, token, expires_at) VALUES ($1, 1, $2, ${expiry})
                 ON CONFLICT (id) DO UPDATE SET state = 1, expires_at = EXCLUDED.expires_at
                 WHERE t.token = EXCLUDED.token RETURNING 1`,
      release: `DELETE FROM ${table} WHERE id = $1 AND token = $2`,
      sweep: `DELETE FROM ${table} WHERE expires_at <= clock_timestamp()`,
    };
    if (sweepInterval > 0) {
      this.#timer = setInterval(() => {
        // A failed round is harmless: claim() ignores expired rows, and the next tick catches up.
        this.sweep().catch(() => undefined);
      }, sweepInterval);
      this.#timer.unref();
    }
  }

  async claim(key: string, processingTimeoutMs: number): Promise<ClaimResult> {
    await this.#prepare();
    for (let attempt = 0; attempt < CLAIM_ATTEMPTS; attempt++) {
      const token = randomUUID();
      const claimed = await this.pool.query(this.#sql.claim, [key, token, processingTimeoutMs]);
      if (claimed.rowCount === 1) return { status: 'claimed', token };
      const found = await this.pool.query<{ state: number; left_ms: number }>(this.#sql.select, [key]);
      const row = found.rows[0];
      if (row === undefined || row.left_ms <= 0) continue; // expired or released since: claim again
      return row.state === 1 ? { status: 'done' } : { status: 'processing', expiresInMs: Math.ceil(row.left_ms) };
    }
    throw new KarmanError('DEDUP_CLAIM_CONTENDED', `could not claim ${key} in ${CLAIM_ATTEMPTS} attempts: its record kept changing`);
  }

  async markDone(key: string, token: string, doneTtlMs: number): Promise<SettleResult> {
    await this.#prepare();
    const result = await this.pool.query(this.#sql.markDone, [key, token, doneTtlMs]);
    return result.rowCount === 1 ? 'ok' : 'lost';
  }

  async release(key: string, token: string): Promise<SettleResult> {
    await this.#prepare();
    const result = await this.pool.query(this.#sql.release, [key, token]);
    return result.rowCount === 1 ? 'ok' : 'lost';
  }

  async sweep(): Promise<number> {
    await this.#prepare();
    const result = await this.pool.query(this.#sql.sweep);
    return result.rowCount ?? 0;
  }

  close(): Promise<void> {
    this.#closed = true;
    clearInterval(this.#timer);
    return Promise.resolve();
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }

  #prepare(): Promise<void> {
    if (this.#closed) return Promise.reject(new KarmanError('DEDUP_STORE_CLOSED', `dedup store ${this.name} is closed; open a new one`));
    // One CREATE per store; a failure is forgotten so the next call tries again.
    this.#ready ??= this.pool.query(this.#sql.create).then(
      () => undefined,
      (error: unknown) => {
        this.#ready = undefined;
        throw error;
      },
    );
    return this.#ready;
  }
}
