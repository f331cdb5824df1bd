import { randomUUID } from 'node:crypto';
import type { Redis } from 'ioredis';
import type { DedupStore } from '../src/index.js';
import { redisDedupStore } from '../src/index.js';
import { describeDedupStoreConformance } from './dedup-store-conformance.js';
import { serviceMissing } from '@karman/testkit';
import { redisUnreachable, testRedis } from './service-addresses.js';

// Address from KARMAN_TEST_REDIS_URL (default redis://127.0.0.1:6379). When it does not answer,
// the suite is skipped (describe.skipIf inside the conformance suite) with the reason in its name
// and on stderr, rather than failing a machine that has no Redis; under CI that is a failure.
const skipReason = serviceMissing('dedup Redis conformance', await redisUnreachable());

// Each backend is a unique key prefix; every instance has its own connection, as a consumer on
// another host would. Cleanup deletes the prefix's keys and closes the connections.
describeDedupStoreConformance(
  'redis',
  () => {
    const keyPrefix = `karman:dedup:test:${randomUUID()}:`;
    const clients: Redis[] = [];
    const stores: DedupStore[] = [];
    return Promise.resolve({
      open: async () => {
        const client = testRedis();
        await client.connect();
        clients.push(client);
        const store = redisDedupStore({ client, keyPrefix });
        stores.push(store);
        return store;
      },
      cleanup: async () => {
        for (const store of stores) await store.close();
        const [first] = clients;
        if (first !== undefined) {
          const keys = await first.keys(`${keyPrefix}*`);
          if (keys.length > 0) await first.del(...keys);
        }
        await Promise.all(clients.map((c) => c.quit()));
      },
    });
  },
  { sweepsExpired: false, skipReason },
);
