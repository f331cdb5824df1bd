import { randomUUID } from 'node:crypto';
import pg from 'pg';
import type { DedupStore } from '../src/index.js';
import { postgresDedupStore } from '../src/index.js';
import { describeDedupStoreConformance } from './dedup-store-conformance.js';
import { serviceMissing } from '@karman/testkit';
import { PG_URL, postgresUnreachable } from './service-addresses.js';

// Address from KARMAN_TEST_PG_URL (default postgres://postgres@127.0.0.1:5432/test). When it does
// not answer, the suite is skipped (describe.skipIf inside the conformance suite) with the reason
// in its name and on stderr, rather than failing a machine that has no PostgreSQL; under CI that
// is a failure.
const skipReason = serviceMissing('dedup PostgreSQL conformance', await postgresUnreachable());

// Each backend is a unique table; every instance has its own pool, as a consumer on another host
// would. Cleanup drops the table and ends the pools.
describeDedupStoreConformance(
  'postgres',
  () => {
    const table = `karman_dedup_test_${randomUUID().replaceAll('-', '')}`;
    const pools: pg.Pool[] = [];
    const stores: DedupStore[] = [];
    return Promise.resolve({
      open: () => {
        const pool = new pg.Pool({ connectionString: PG_URL, max: 4 });
        pools.push(pool);
        const store = postgresDedupStore({ pool, table, sweepInterval: 0 });
        stores.push(store);
        return Promise.resolve(store);
      },
      cleanup: async () => {
        for (const store of stores) await store.close();
        const [first] = pools;
        if (first !== undefined) await first.query(`DROP TABLE IF EXISTS ${table}`);
        await Promise.all(pools.map((p) => p.end()));
      },
    });
  },
  { sweepsExpired: true, skipReason },
);
