/**
 * Tests that need an outside service (Redis, PostgreSQL, NATS, RabbitMQ, a tmpfs, a JDK): where it
 * is missing a developer's run skips with one line saying what to start, but under `CI` a missing
 * service is a failure, so CI can never pass by skipping what it was meant to check.
 */
import { KarmanError } from '@karman/protocol';

/** Under `CI`, throw `reason`; elsewhere print it once as a skip line and return it. Undefined in, undefined out. */
export function serviceMissing(suite: string, reason: string | undefined): string | undefined {
  if (reason === undefined) return undefined;
  if (process.env['CI']) throw new KarmanError('PEER_UNAVAILABLE', `${suite}: ${reason} (under CI every service suite must run; start the service or fix its address)`);
  console.warn(`[${suite}] skipped: ${reason}`);
  return reason;
}
