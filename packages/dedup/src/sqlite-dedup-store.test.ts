import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import Database from 'better-sqlite3';
import { afterEach, describe, expect, it } from 'vitest';
import { sqliteDedupStore } from './sqlite-dedup-store.js';

const dirs: string[] = [];
afterEach(() => {
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});
function tempFile(): string {
  const dir = mkdtempSync(join(tmpdir(), 'karman-dedup-sqlite-'));
  dirs.push(dir);
  return join(dir, 'dedup.sqlite');
}

function rows(path: string, table = 'karman_dedup'): string[] {
  const db = new Database(path, { readonly: true });
  try {
    return db.prepare<[], { id: string }>(`SELECT id FROM ${table} ORDER BY id`).all().map((r) => r.id);
  } finally {
    db.close();
  }
}

describe('sqliteDedupStore', () => {
  it('opens the file in WAL mode', async () => {
    const path = tempFile();
    await using _store = sqliteDedupStore({ path, sweepInterval: 0 });
    const db = new Database(path, { readonly: true });
    expect(db.pragma('journal_mode', { simple: true })).toBe('wal');
    db.close();
  });

  it('deletes expired rows on its sweep timer, and leaves live ones', async () => {
    const path = tempFile();
    let now = 1_000_000;
    await using store = sqliteDedupStore({ path, sweepInterval: 20, now: () => now });
    await store.claim('old', 100);
    await store.claim('live', 10_000);
    now += 500;
    await sleep(150); // several timer ticks
    expect(rows(path)).toEqual(['live']);
  });

  it('keeps stores on different tables of one file apart', async () => {
    const path = tempFile();
    await using a = sqliteDedupStore({ path, table: 'group_a', sweepInterval: 0 });
    await using b = sqliteDedupStore({ path, table: 'group_b', sweepInterval: 0 });
    expect((await a.claim('k', 60_000)).status).toBe('claimed');
    expect((await b.claim('k', 60_000)).status).toBe('claimed');
    expect(rows(path, 'group_a')).toEqual(['k']);
  });

  it('refuses work after close with an error saying so', async () => {
    const store = sqliteDedupStore({ path: ':memory:', sweepInterval: 0 });
    await store.close();
    await store.close(); // idempotent
    await expect(store.claim('k', 1_000)).rejects.toMatchObject({ code: 'DEDUP_STORE_CLOSED', message: expect.stringContaining('is closed') as unknown });
  });
});
