/**
 * Scenario (a), steady load: 2,000 keyed messages through two broker groups to a consumer group of
 * three, no fault. Every acknowledged message is delivered at least once and, through the dedup
 * helper, processed exactly once.
 */
import { describe, expect, it } from 'vitest';
import { E2eRun, MESSAGES } from './e2e-cluster.js';

describe('steady load', () => {
  it('delivers every acknowledged message and processes each exactly once', { timeout: 60_000 }, async () => {
    await using run = await E2eRun.start();
    await run.startConsumers(3);
    const producer = await run.startProducer();
    const done = await run.producerDone(producer);
    expect(done.givenUp, 'keys the producer gave up on').toBe(0);
    await run.verify('steady load', MESSAGES, { faultFree: true });
  });
});
