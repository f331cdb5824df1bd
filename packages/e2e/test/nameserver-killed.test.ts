/**
 * Scenario (b), a nameserver killed: one of the two nameservers is SIGKILLed mid-stream and stays
 * down. Producers and consumers know both (`namesrvAddr` with `;`), so route lookups move to the
 * survivor; brokers keep registering with it. No acknowledged message may be lost.
 */
import { describe, expect, it } from 'vitest';
import { E2eRun, MESSAGES } from './e2e-cluster.js';

describe('a nameserver killed mid-stream', () => {
  it('loses no acknowledged message and processes each exactly once', { timeout: 60_000 }, async () => {
    await using run = await E2eRun.start();
    await run.startConsumers(3);
    const producer = await run.startProducer();
    await run.waitForAcked(MESSAGES / 4);
    await run.cluster.killNameServer(0);
    expect(run.cluster.nameserverProcess(0)?.running).toBe(false);
    const done = await run.producerDone(producer);
    expect(done.givenUp, 'keys the producer gave up on').toBe(0);
    await run.verify('nameserver killed', MESSAGES, { faultFree: true });
  });
});
