/**
 * Scenario (c), a master killed and restarted: broker-a's master is SIGKILLed mid-stream, with its
 * slave still up, and started again on the same port and store a few seconds later. Sends move to
 * broker-b meanwhile (the producer resends a failed key); consumers may read broker-a's queues from
 * the slave (`slaveReadEnable`). The master runs SYNC_FLUSH, so every message it acknowledged is in
 * its store when it returns (broker README, "Stopping"). No acknowledged message may be lost.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { describe, expect, it } from 'vitest';
import { E2eRun, MESSAGES } from './e2e-cluster.js';

describe('a master killed and restarted mid-stream', () => {
  it('loses no acknowledged message and processes each exactly once', { timeout: 60_000 }, async () => {
    await using run = await E2eRun.start();
    await run.startConsumers(3);
    const producer = await run.startProducer();
    await run.waitForAcked(MESSAGES / 4);
    await run.cluster.killBroker('broker-a', 0);
    const ackedAtKill = run.ackedSoFar();
    await sleep(2_000);
    await run.cluster.startBroker('broker-a', 0);
    const done = await run.producerDone(producer);
    expect(done.givenUp, 'keys the producer gave up on').toBe(0);
    // The kill came mid-stream: sends went on after it.
    expect(ackedAtKill).toBeLessThan(MESSAGES);
    await run.verify('master killed and restarted', MESSAGES);
  });
});
