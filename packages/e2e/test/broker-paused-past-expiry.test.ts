/**
 * Scenario (e), a broker paused past its expiry: broker-a's master gets SIGSTOP mid-stream and
 * stays frozen until both nameservers have dropped it as silent (`brokerExpiredMillis` 2 s,
 * checked every 200 ms, instead of RocketMQ's 120 s and 10 s), then SIGCONT. While frozen its
 * sockets stay open, so sends to it hang until the producer's timeout and go to broker-b; the
 * requests that piled up are served when it resumes, so a key the producer resent may be stored
 * twice, which dedup must absorb. After resuming it registers again and the stream ends normally.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { describe, expect, it } from 'vitest';
import { ResponseCode, RequestCode, createRequest } from '@karman/protocol';
import type { ProcessCluster } from '@karman/testkit';
import { E2eRun, FAST_EXPIRY_NAMESERVER_ARGS, MESSAGES, TOPIC, waitFor } from './e2e-cluster.js';

/** broker-a's master address in nameserver `index`'s route of the topic, if it has one. */
async function routedMaster(cluster: ProcessCluster, index: number): Promise<string | undefined> {
  const response = await cluster.adminClient(cluster.nameserverAddr(index)).request(createRequest(RequestCode.GET_ROUTEINFO_BY_TOPIC.code, { topic: TOPIC }));
  if (response.code !== ResponseCode.SUCCESS.code) return undefined;
  const route = JSON.parse(Buffer.from(response.body ?? []).toString('utf8')) as { brokerDatas: Array<{ brokerName: string; brokerAddrs: Record<string, string> }> };
  return route.brokerDatas.find((b) => b.brokerName === 'broker-a')?.brokerAddrs['0'];
}

async function waitForRoutedMaster(cluster: ProcessCluster, present: boolean, what: string): Promise<void> {
  const deadline = Date.now() + 10_000;
  for (;;) {
    const routed = await Promise.all([0, 1].map((i) => routedMaster(cluster, i)));
    if (routed.every((addr) => (addr === cluster.brokerAddr('broker-a', 0)) === present)) return;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}: nameservers route broker-a's master as ${JSON.stringify(routed)}`);
    await sleep(100);
  }
}

describe('a master paused past its nameserver expiry, then resumed', () => {
  it('loses no acknowledged message and processes each exactly once', { timeout: 60_000 }, async () => {
    await using run = await E2eRun.start({ nameserverArgs: FAST_EXPIRY_NAMESERVER_ARGS });
    await waitForRoutedMaster(run.cluster, true, 'both nameservers to route broker-a');
    await run.startConsumers(3);
    const producer = await run.startProducer();
    await run.waitForAcked(MESSAGES / 4);

    run.cluster.pauseBroker('broker-a', 0);
    expect(run.cluster.brokerProcess('broker-a', 0)?.paused).toBe(true);
    await waitForRoutedMaster(run.cluster, false, 'both nameservers to expire the paused master');
    // Sends go on without broker-a's master: the stream did not stall behind the frozen broker.
    const ackedAtExpiry = run.ackedSoFar();
    await waitFor(() => run.ackedSoFar() > ackedAtExpiry || producer.lines.some((l) => l.msg === 'done'), 'sends to continue while broker-a is frozen', 10_000);

    run.cluster.resumeBroker('broker-a', 0);
    await waitForRoutedMaster(run.cluster, true, 'the resumed master to register again');
    const done = await run.producerDone(producer);
    expect(done.givenUp, 'keys the producer gave up on').toBe(0);
    await run.verify('broker paused past expiry', MESSAGES);
  });
});
