import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { DedupStore } from '../src/index.js';
import { sqliteDedupStore } from '../src/index.js';
import { describeDedupStoreConformance } from './dedup-store-conformance.js';

// Each backend is its own temp folder and file; every instance opened from it is a separate
// SQLite connection, as a separate consumer process would have.
describeDedupStoreConformance('sqlite', () => {
  const dir = mkdtempSync(join(tmpdir(), 'karman-dedup-'));
  const path = join(dir, 'dedup.sqlite');
  const stores: DedupStore[] = [];
  return Promise.resolve({
    open: () => {
      const store = sqliteDedupStore({ path, sweepInterval: 0 });
      stores.push(store);
      return Promise.resolve(store);
    },
    cleanup: async () => {
      for (const store of stores) await store.close();
      rmSync(dir, { recursive: true, force: true });
    },
  });
}, { sweepsExpired: true });
