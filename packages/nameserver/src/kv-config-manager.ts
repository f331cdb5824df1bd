/**
 * The nameserver's KV config: namespace → (key → value), RocketMQ's `KVConfigManager`.
 * Chiefly `ORDER_TOPIC_CONFIG`, whose values ("brokerA:4;brokerB:4")
 * give ordered topics a global queue layout.
 *
 * File layout (`kvConfig.json`, RocketMQ's `KVConfigSerializeWrapper`):
 *   {"configTable": {"<namespace>": {"<key>": "<value>"}}}
 * rewritten whole on every put or delete through `writeFileAtomic` (tmp + fsync + rename, `.bak`).
 * One write runs at a time and later changes share the next one; a put's promise resolves once a
 * file holding it is durable.
 */
import { z } from 'zod';
import { InvalidArgumentError } from '@karman/protocol';
import { readFileWithBackup, writeFileAtomic } from './atomic-file.js';

const fileSchema = z.object({ configTable: z.record(z.string(), z.record(z.string(), z.string())) });

/** Options of a `KVConfigManager`. */
export interface KVConfigManagerOptions {
  /** The file to keep the table in; in memory only when undefined. */
  path?: string;
}

/** Longest namespace, key or value accepted; a nameserver keeps config, not data. */
const MAX_KEY_LENGTH = 1024;
const MAX_VALUE_LENGTH = 64 * 1024;
/** Most namespaces, and keys in one namespace: the whole table is rewritten on every put. */
export const MAX_KV_NAMESPACES = 1024;
export const MAX_KV_KEYS_PER_NAMESPACE = 10_000;
/** Names a JSON object cannot keep as plain keys on every reader (the file is one JSON object). */
const RESERVED = new Set(['__proto__', 'constructor', 'prototype']);

/** Namespaced key/value config, persisted to one atomically replaced file. */
export class KVConfigManager {
  private readonly table = new Map<string, Map<string, string>>();
  private readonly path: string | undefined;
  private inFlight: Promise<void> | undefined;
  private queued: Promise<void> | undefined;

  constructor(options: KVConfigManagerOptions = {}) {
    this.path = options.path;
  }

  /** Load the file (or its `.bak`), replacing what is in memory. A missing file means an empty table. */
  async load(): Promise<void> {
    if (this.path === undefined) return;
    const parsed = await readFileWithBackup(this.path, (text) => fileSchema.parse(JSON.parse(text)));
    this.table.clear();
    if (parsed === undefined) return;
    for (const [namespace, entries] of Object.entries(parsed.configTable)) this.table.set(namespace, new Map(Object.entries(entries)));
  }

  /** Set a value and persist; resolves once the file holds it. */
  async put(namespace: string, key: string, value: string): Promise<void> {
    checkPart('namespace', namespace, MAX_KEY_LENGTH);
    checkPart('key', key, MAX_KEY_LENGTH);
    if (value.length > MAX_VALUE_LENGTH) throw new InvalidArgumentError(`KV value of ${value.length} characters is longer than ${MAX_VALUE_LENGTH}`);
    let entries = this.table.get(namespace);
    if (entries === undefined && this.table.size >= MAX_KV_NAMESPACES) {
      throw new InvalidArgumentError(`the nameserver holds ${MAX_KV_NAMESPACES} KV namespaces, the most it keeps; delete unused ones (deleteKvConfig) before adding ${JSON.stringify(namespace.slice(0, 40))}`);
    }
    if (entries !== undefined && !entries.has(key) && entries.size >= MAX_KV_KEYS_PER_NAMESPACE) {
      throw new InvalidArgumentError(`KV namespace ${JSON.stringify(namespace.slice(0, 40))} holds ${MAX_KV_KEYS_PER_NAMESPACE} keys, the most it keeps; delete unused ones (deleteKvConfig) first`);
    }
    if (entries === undefined) {
      entries = new Map();
      this.table.set(namespace, entries);
    }
    entries.set(key, value);
    await this.persist();
  }

  /** Remove a value and persist. Resolves false (without writing) when it was absent. */
  async delete(namespace: string, key: string): Promise<boolean> {
    const entries = this.table.get(namespace);
    if (entries === undefined || !entries.delete(key)) return false;
    if (entries.size === 0) this.table.delete(namespace);
    await this.persist();
    return true;
  }

  /** A value, or undefined. */
  get(namespace: string, key: string): string | undefined {
    return this.table.get(namespace)?.get(key);
  }

  /** Every key/value of a namespace (a copy), or undefined when the namespace has none. */
  getNamespace(namespace: string): Record<string, string> | undefined {
    const entries = this.table.get(namespace);
    if (entries === undefined) return undefined;
    return Object.fromEntries(entries);
  }

  /** Resolves when every write begun so far is on disk. */
  async flush(): Promise<void> {
    await (this.queued ?? this.inFlight);
  }

  private snapshot(): string {
    const configTable: Record<string, Record<string, string>> = {};
    for (const [namespace, entries] of this.table) configTable[namespace] = Object.fromEntries(entries);
    return JSON.stringify({ configTable }, null, 2);
  }

  private persist(): Promise<void> {
    const path = this.path;
    if (path === undefined) return Promise.resolve();
    // One write at a time. Changes made while a write is in flight share one follow-up write, which
    // snapshots the table when it starts, so it holds all of them; a burst costs two fsyncs, not N.
    if (this.queued) return this.queued;
    if (this.inFlight === undefined) return this.startWrite(path);
    this.queued = this.inFlight.catch(() => undefined).then(() => {
      this.queued = undefined;
      return this.startWrite(path);
    });
    return this.queued;
  }

  private startWrite(path: string): Promise<void> {
    const write = writeFileAtomic(path, this.snapshot());
    const tracked: Promise<void> = write.finally(() => {
      if (this.inFlight === tracked) this.inFlight = undefined;
    });
    this.inFlight = tracked;
    return tracked;
  }
}

function checkPart(what: string, value: string, max: number): void {
  if (value.length === 0) throw new InvalidArgumentError(`KV ${what} is empty; give a non-empty ${what}`);
  if (value.length > max) throw new InvalidArgumentError(`KV ${what} of ${value.length} characters is longer than ${max}`);
  if (RESERVED.has(value)) throw new InvalidArgumentError(`KV ${what} ${JSON.stringify(value)} is reserved (it cannot be kept as a JSON key); choose another ${what}`);
}
