/**
 * Where the Redis and PostgreSQL conformance runs find their servers, and whether they answer.
 * Addresses come from the environment so CI and developers can point elsewhere; the defaults are
 * the services a Karman development machine runs on loopback.
 */
import { Redis } from 'ioredis';
import pg from 'pg';

const REDIS_URL = process.env['KARMAN_TEST_REDIS_URL'] ?? 'redis://127.0.0.1:6379';
export const PG_URL = process.env['KARMAN_TEST_PG_URL'] ?? 'postgres://postgres@127.0.0.1:5432/test';

/** A Redis client that fails fast instead of retrying forever, for tests. */
export function testRedis(): Redis {
  return new Redis(REDIS_URL, { lazyConnect: true, connectTimeout: 2_000, maxRetriesPerRequest: 1, retryStrategy: () => null });
}

/** Why Redis is unusable, or undefined when it answers PING. */
export async function redisUnreachable(): Promise<string | undefined> {
  const client = testRedis();
  // The socket error (ECONNREFUSED, ...) says more than connect()'s "Connection is closed".
  let socketError: Error | undefined;
  client.on('error', (error: Error) => (socketError ??= error));
  try {
    await client.connect();
    await client.ping();
    return undefined;
  } catch (error) {
    const reason = socketError ?? error;
    return `Redis at ${REDIS_URL} is unreachable (${reason instanceof Error ? reason.message : String(reason)}); set KARMAN_TEST_REDIS_URL or start redis-server`;
  } finally {
    client.disconnect();
  }
}

/** Why PostgreSQL is unusable, or undefined when it answers a query. */
export async function postgresUnreachable(): Promise<string | undefined> {
  const pool = new pg.Pool({ connectionString: PG_URL, connectionTimeoutMillis: 2_000, max: 1 });
  try {
    await pool.query('SELECT 1');
    return undefined;
  } catch (error) {
    return `PostgreSQL at ${PG_URL} is unreachable (${error instanceof Error ? error.message : String(error)}); set KARMAN_TEST_PG_URL or start the server`;
  } finally {
    await pool.end();
  }
}
