/**
 * Scenario (f), a full restart with data kept: mid-stream the consumers stop, the producer sends
 * on (a backlog that exists only in the brokers' stores), then every process stops gracefully:
 * producer, brokers, nameservers. Everything starts again on the same ports and stores, a new
 * group of three and a new producer finish the 2,000 keys. The backlog, the committed offsets and
 * the dedup file survive: no acknowledged message is lost, none is processed twice, and the group
 * resumes from its offsets instead of reading everything again.
 */
import { describe, expect, it } from 'vitest';
import { BROKERS, E2eRun, MESSAGES, TOPIC } from './e2e-cluster.js';

describe('a full restart of everything', () => {
  it('keeps every acknowledged message, the offsets and the dedup records', { timeout: 90_000 }, async () => {
    await using run = await E2eRun.start();
    const firstGroup = await run.startConsumers(3);
    const first = await run.startProducer();
    await run.waitForAcked(MESSAGES / 4);
    await Promise.all(firstGroup.map((c) => c.stop()));
    const processedBeforeRestart = run.keysRecordedBy(firstGroup, 'p');
    await run.waitForAcked(MESSAGES / 2);
    await first.stop();
    const firstDone = await run.producerDone(first);
    const sentBefore = firstDone.sent as number;
    expect(firstDone.givenUp).toBe(0);
    expect(sentBefore).toBeLessThan(MESSAGES);

    await run.cluster.stopAll();
    await run.cluster.startAll();
    await run.cluster.waitForRoute(TOPIC, BROKERS);

    const secondGroup = await run.startConsumers(3);
    const second = await run.startProducer({ from: sentBefore, count: MESSAGES - sentBefore });
    const secondDone = await run.producerDone(second);
    expect(secondDone.givenUp).toBe(0);
    await run.verify('full restart', MESSAGES);
    // The backlog sent while no consumer ran was consumed after the restart.
    expect(processedBeforeRestart.size).toBeGreaterThan(0);
    expect(processedBeforeRestart.size).toBeLessThan(sentBefore);
    // Offsets survived: the new group resumed where the first one stopped instead of reading from
    // the first message again (what it would do with no offset: CONSUME_FROM_FIRST_OFFSET).
    const deliveredAgain = [...run.keysRecordedBy(secondGroup, 'd')].filter((k) => processedBeforeRestart.has(k));
    console.log(`e2e full restart: ${deliveredAgain.length} of the ${processedBeforeRestart.size} keys processed before the restart were delivered again after it`);
    expect(deliveredAgain.length).toBeLessThan(processedBeforeRestart.size / 2);
  });
});
