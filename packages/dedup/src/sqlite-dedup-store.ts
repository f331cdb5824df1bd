/**
 * The embedded default store: one SQLite file through better-sqlite3, shared safely by every
 * process on the host that opens the same path.
 *
 * Table layout (`<table>` defaults to `karman_dedup`):
 *
 *   id          TEXT PRIMARY KEY   scoped record key (business-id.ts)
 *   state       INTEGER            0 = PROCESSING, 1 = DONE
 *   token       TEXT               the claim's random token
 *   expires_at  INTEGER            ms since the epoch; a row at or past it counts as absent
 *
 * Atomicity: each operation is one `BEGIN IMMEDIATE` transaction, which takes SQLite's single
 * write lock before reading, so two processes claiming one id serialise and exactly one wins. The
 * claim is one UPSERT whose `DO UPDATE ... WHERE expires_at <= now` takes over only an expired row.
 * WAL mode lets readers run beside the writer; `synchronous = NORMAL` keeps WAL durable across a
 * process crash (a power cut may lose the last commits, which only re-runs those messages).
 * Lock waits use `busy_timeout`; better-sqlite3 is synchronous, so a wait blocks this process's
 * event loop for at most that long.
 */
import { randomUUID } from 'node:crypto';
import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import Database from 'better-sqlite3';
import { z } from 'zod';
import { KarmanError } from '@karman/protocol';
import type { ClaimResult, DedupStore, SettleResult } from './dedup-store.js';
import { parseOptions } from './parse-options.js';

const PROCESSING = 0;
const DONE = 1;

const sqliteOptionsSchema = z.object({
  /** Database file; created with its folder if missing. `:memory:` keeps records in this process only. */
  path: z.string().min(1).default('.karman/dedup.sqlite'),
  /** Table holding the records; one file can hold several stores under different tables. */
  table: z
    .string()
    .regex(/^[A-Za-z_][A-Za-z0-9_]{0,62}$/, 'must be a plain SQL identifier: letters, digits and _ (at most 63), not starting with a digit')
    .default('karman_dedup'),
  /** How often expired rows are deleted, in ms; 0 turns the timer off (call `sweep()` yourself). */
  sweepInterval: z.number().int().nonnegative().default(300_000),
  /** How long a statement waits for another process's write lock before failing, in ms. */
  busyTimeout: z.number().int().nonnegative().default(5_000),
  /** Clock in ms since the epoch; injectable so expiry can be tested without sleeping. */
  now: z.custom<() => number>((v) => typeof v === 'function', 'must be a function returning ms since the epoch').default(() => Date.now),
});

/** Options of {@link sqliteDedupStore}; every field has a default. */
export type SqliteDedupStoreOptions = z.input<typeof sqliteOptionsSchema>;

interface Row {
  state: number;
  token: string;
  expires_at: number;
}

/** Opens (creating if needed) an SQLite dedup store. Synchronous work, async interface. */
export function sqliteDedupStore(options: SqliteDedupStoreOptions = {}): DedupStore {
  const o = parseOptions(sqliteOptionsSchema, options, 'sqliteDedupStore');
  if (o.path !== ':memory:') mkdirSync(dirname(o.path), { recursive: true });
  const db = new Database(o.path, { timeout: o.busyTimeout });
  try {
    db.pragma('journal_mode = WAL');
    db.pragma('synchronous = NORMAL');
    db.exec(
      `CREATE TABLE IF NOT EXISTS ${o.table} (id TEXT PRIMARY KEY, state INTEGER NOT NULL, token TEXT NOT NULL, expires_at INTEGER NOT NULL) WITHOUT ROWID;
       CREATE INDEX IF NOT EXISTS ${o.table}_expires_at ON ${o.table} (expires_at);`,
    );
  } catch (error) {
    db.close();
    throw error;
  }
  return new SqliteDedupStore(db, `sqlite:${o.path}#${o.table}`, o.table, o.now, o.sweepInterval);
}

class SqliteDedupStore implements DedupStore {
  readonly name: string;
  #closed = false;
  readonly #db: Database.Database;
  readonly #now: () => number;
  readonly #timer: NodeJS.Timeout | undefined;
  readonly #claim: (key: string, timeoutMs: number) => ClaimResult;
  readonly #markDone: (key: string, token: string, ttlMs: number) => SettleResult;
  readonly #release: (key: string, token: string) => SettleResult;
  readonly #sweep: () => number;

  constructor(db: Database.Database, name: string, table: string, now: () => number, sweepInterval: number) {
    this.#db = db;
    this.name = name;
    this.#now = now;
    const upsert = db.prepare<[string, number, string, number, number]>(
      `INSERT INTO ${table} (id, state, token, expires_at) VALUES (?, ?, ?, ?)
       ON CONFLICT (id) DO UPDATE SET state = excluded.state, token = excluded.token, expires_at = excluded.expires_at
       WHERE ${table}.expires_at <= ?`,
    );
    const select = db.prepare<[string], Row>(`SELECT state, token, expires_at FROM ${table} WHERE id = ?`);
    const setDone = db.prepare<[string, number, string, number]>(
      `INSERT INTO ${table} (id, state, token, expires_at) VALUES (?, ?, ?, ?)
       ON CONFLICT (id) DO UPDATE SET state = excluded.state, expires_at = excluded.expires_at`,
    );
    const remove = db.prepare<[string]>(`DELETE FROM ${table} WHERE id = ?`);
    const removeExpired = db.prepare<[number]>(`DELETE FROM ${table} WHERE expires_at <= ?`);

    this.#claim = db
      .transaction((key: string, timeoutMs: number): ClaimResult => {
        const now = this.#now();
        const token = randomUUID();
        if (upsert.run(key, PROCESSING, token, now + timeoutMs, now).changes === 1) return { status: 'claimed', token };
        const row = select.get(key);
        // The upsert changed nothing, so inside this write transaction a live row must exist.
        if (row === undefined) throw new KarmanError('ILLEGAL_STATE', `record ${key} vanished inside a write transaction`);
        return row.state === DONE ? { status: 'done' } : { status: 'processing', expiresInMs: row.expires_at - now };
      })
      .immediate.bind(null);

    this.#markDone = db
      .transaction((key: string, token: string, ttlMs: number): SettleResult => {
        const row = select.get(key);
        if (row !== undefined && row.token !== token) return 'lost';
        setDone.run(key, DONE, token, this.#now() + ttlMs);
        return 'ok';
      })
      .immediate.bind(null);

    this.#release = db
      .transaction((key: string, token: string): SettleResult => {
        const row = select.get(key);
        if (row === undefined || row.token !== token) return 'lost';
        remove.run(key);
        return 'ok';
      })
      .immediate.bind(null);

    this.#sweep = () => removeExpired.run(this.#now()).changes;

    if (sweepInterval > 0) {
      this.#timer = setInterval(() => {
        try {
          this.#sweep();
        } catch {
          // A busy database skips this round; the next tick or an explicit sweep() catches up,
          // and expired rows are ignored by claim() meanwhile.
        }
      }, sweepInterval);
      this.#timer.unref();
    }
  }

  claim(key: string, processingTimeoutMs: number): Promise<ClaimResult> {
    return this.#run(() => this.#claim(key, processingTimeoutMs));
  }

  markDone(key: string, token: string, doneTtlMs: number): Promise<SettleResult> {
    return this.#run(() => this.#markDone(key, token, doneTtlMs));
  }

  release(key: string, token: string): Promise<SettleResult> {
    return this.#run(() => this.#release(key, token));
  }

  sweep(): Promise<number> {
    return this.#run(() => this.#sweep());
  }

  close(): Promise<void> {
    if (!this.#closed) {
      this.#closed = true;
      clearInterval(this.#timer);
      this.#db.close();
    }
    return Promise.resolve();
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }

  #run<T>(work: () => T): Promise<T> {
    if (this.#closed) return Promise.reject(new KarmanError('DEDUP_STORE_CLOSED', `dedup store ${this.name} is closed; open a new one`));
    try {
      return Promise.resolve(work());
    } catch (error) {
      return Promise.reject(KarmanError.from(error));
    }
  }
}
