/**
 * Scenario (d), a consumer killed: one of the group's three members dies by SIGKILL mid-stream
 * (inside its handler, at a handler boundary: see fixtures/recording-consumer.ts for why). Its
 * queues go to the two survivors at their next rebalance, which redeliver from its last committed
 * offsets; the dedup helper defers ids it held claimed until the claim expires, then skips the ones
 * it finished. No acknowledged message may be lost or processed twice.
 */
import { describe, expect, it } from 'vitest';
import { E2eRun, MESSAGES } from './e2e-cluster.js';

/** The victim dies on its 201st run: well inside its third of 2,000 messages. */
const CRASH_AFTER = 200;

describe('a consumer killed mid-stream', () => {
  it('loses no acknowledged message and processes each exactly once', { timeout: 60_000 }, async () => {
    await using run = await E2eRun.start();
    const victim = run.startConsumer({ crashAfter: CRASH_AFTER });
    await run.startConsumers(2);
    await victim.waitForLine((l) => l.msg === 'ready', 'the victim to start');
    await run.waitForBalancedGroup();
    const producer = await run.startProducer();
    const { signal } = await victim.exited;
    expect(signal).toBe('SIGKILL');
    expect(run.ackedSoFar()).toBeLessThan(MESSAGES);
    const done = await run.producerDone(producer);
    expect(done.givenUp, 'keys the producer gave up on').toBe(0);
    const tally = await run.verify('consumer killed', MESSAGES);
    // The survivors took over the victim's queues: redeliveries are expected, duplicate runs are not.
    expect(tally.deliveries).toBeGreaterThan(tally.acked);
  });
});
