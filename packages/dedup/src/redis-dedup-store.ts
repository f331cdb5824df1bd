/**
 * The fleet store: records in Redis through an ioredis client the caller owns, so consumers on
 * many hosts share one view of which business ids are claimed or done.
 *
 * Key layout: `<keyPrefix><scoped record key>` → `"P:" token` (PROCESSING) or `"D:" token` (DONE),
 * with the expiry held by Redis itself (PX), so nothing needs sweeping.
 *
 * Atomicity: the claim is `SET key value NX PX processingTimeout` (a
 * SET-IF-ABSENT); when it loses, the same Lua script reads the live value and its PTTL in one step,
 * so the answer cannot describe a key that expired between two round trips. Mark-done and release
 * are Lua scripts that compare the stored token before writing: a consumer whose claim expired and
 * was taken by another process never overwrites or deletes the new owner's record. Each script
 * touches one key, so it also runs on Redis Cluster.
 */
import { createHash, randomUUID } from 'node:crypto';
import type { Cluster, Redis } from 'ioredis';
import { z } from 'zod';
import { KarmanError } from '@karman/protocol';
import type { ClaimResult, DedupStore, SettleResult } from './dedup-store.js';
import { parseOptions } from './parse-options.js';

// KEYS[1] record key; ARGV[1] "P:" token; ARGV[2] processing timeout ms.
// Returns {1} when claimed, else {0, current value, its PTTL}.
const CLAIM_SCRIPT = `
if redis.call('SET', KEYS[1], ARGV[1], 'NX', 'PX', ARGV[2]) then return {1} end
return {0, redis.call('GET', KEYS[1]), redis.call('PTTL', KEYS[1])}`;

// KEYS[1] record key; ARGV[1] "P:" token; ARGV[2] "D:" token; ARGV[3] done TTL ms.
// An absent key means our claim expired and nobody took it: the handler did succeed, so DONE is true.
const MARK_DONE_SCRIPT = `
local current = redis.call('GET', KEYS[1])
if current ~= false and current ~= ARGV[1] then return 0 end
redis.call('SET', KEYS[1], ARGV[2], 'PX', ARGV[3])
return 1`;

// KEYS[1] record key; ARGV[1] "P:" token.
const RELEASE_SCRIPT = `
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return 0 end
redis.call('DEL', KEYS[1])
return 1`;

const redisOptionsSchema = z.object({
  /** A connected (or connecting) ioredis client or cluster; the store never closes it. */
  client: z.custom<Redis | Cluster>(
    (v) => typeof v === 'object' && v !== null && typeof (v as { evalsha?: unknown }).evalsha === 'function',
    'must be an ioredis Redis or Cluster instance',
  ),
  /** Prefix of every key, so several applications or test runs can share one Redis. */
  keyPrefix: z.string().default('karman:dedup:'),
});

/** Options of {@link redisDedupStore}; `client` is required, the rest have defaults. */
export type RedisDedupStoreOptions = z.input<typeof redisOptionsSchema>;

/** A dedup store over an existing ioredis client. */
export function redisDedupStore(options: RedisDedupStoreOptions): DedupStore {
  const o = parseOptions(redisOptionsSchema, options, 'redisDedupStore');
  return new RedisDedupStore(o.client, o.keyPrefix);
}

class Script {
  readonly sha: string;
  constructor(readonly source: string) {
    this.sha = createHash('sha1').update(source).digest('hex');
  }
}

const claimScript = new Script(CLAIM_SCRIPT);
const markDoneScript = new Script(MARK_DONE_SCRIPT);
const releaseScript = new Script(RELEASE_SCRIPT);

class RedisDedupStore implements DedupStore {
  readonly name: string;
  #closed = false;

  constructor(
    private readonly client: Redis | Cluster,
    private readonly keyPrefix: string,
  ) {
    this.name = `redis:${keyPrefix}`;
  }

  async claim(key: string, processingTimeoutMs: number): Promise<ClaimResult> {
    const token = randomUUID();
    const reply = (await this.#eval(claimScript, key, `P:${token}`, String(processingTimeoutMs))) as [number, string?, number?];
    if (reply[0] === 1) return { status: 'claimed', token };
    const [, value, pttl] = reply;
    if (typeof value === 'string' && value.startsWith('D:')) return { status: 'done' };
    return { status: 'processing', expiresInMs: typeof pttl === 'number' ? pttl : -1 };
  }

  async markDone(key: string, token: string, doneTtlMs: number): Promise<SettleResult> {
    const reply = await this.#eval(markDoneScript, key, `P:${token}`, `D:${token}`, String(doneTtlMs));
    return reply === 1 ? 'ok' : 'lost';
  }

  async release(key: string, token: string): Promise<SettleResult> {
    const reply = await this.#eval(releaseScript, key, `P:${token}`);
    return reply === 1 ? 'ok' : 'lost';
  }

  /** Redis expires keys itself (PX), so there is nothing to sweep. */
  sweep(): Promise<number> {
    return Promise.resolve(0);
  }

  close(): Promise<void> {
    this.#closed = true;
    return Promise.resolve();
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }

  async #eval(script: Script, key: string, ...args: string[]): Promise<unknown> {
    if (this.#closed) throw new KarmanError('DEDUP_STORE_CLOSED', `dedup store ${this.name} is closed; open a new one`);
    const fullKey = this.keyPrefix + key;
    try {
      return await this.client.evalsha(script.sha, 1, fullKey, ...args);
    } catch (error) {
      // First use on this server (or after SCRIPT FLUSH / a failover): load it by sending the source.
      if (!(error instanceof Error) || !error.message.startsWith('NOSCRIPT')) throw error;
      return await this.client.eval(script.source, 1, fullKey, ...args);
    }
  }
}
