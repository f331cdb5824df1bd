/**
 * What a producer does when one of two brokers is lost, end to end: with `sendLatencyFaultEnable`
 * a frozen broker is avoided after its first failed send and taken back once it answers again
 * (`MQFaultStrategy`, `LatencyFaultToleranceImpl`); ordered sends by sharding key re-hash over the
 * queues the route still lists (`SelectMessageQueueByHash` over the topic's publish list).
 */
import { describe, expect, it } from 'vitest';
import { startCluster, startProcessCluster, uniqueName } from '@karman/testkit';
import type { TestCluster } from '@karman/testkit';
import { Producer, selectByHash } from '../src/index.js';
import type { ProducerOptions, SendResult } from '../src/index.js';

function producer(namesrvAddr: string, extra: Partial<ProducerOptions> = {}): Producer {
  return new Producer({ group: uniqueName('pg'), nameservers: namesrvAddr, instanceName: uniqueName('i'), pollNameServerInterval: 200, ...extra });
}

async function sendAll(p: Producer, topic: string, count: number, label: string): Promise<{ sent: SendResult[]; failed: number }> {
  const sent: SendResult[] = [];
  let failed = 0;
  for (let i = 0; i < count; i++) {
    try {
      sent.push(await p.send({ topic, body: `${label} ${i}` }));
    } catch {
      failed++;
    }
  }
  return { sent, failed };
}

const onBroker = (results: readonly SendResult[], brokerName: string): number => results.filter((r) => r.messageQueue.brokerName === brokerName).length;

describe('a producer losing one of two brokers', () => {
  it('with sendLatencyFaultEnable, stops choosing a frozen broker after its first failure and takes it back once it answers', async () => {
    // Real processes: broker-b is SIGSTOPped, so it stays in the route and its connection stays
    // open, but nothing it is sent is answered.
    await using cluster = await startProcessCluster({ brokerNames: ['broker-a', 'broker-b'] });
    const topic = uniqueName('T');
    await cluster.createTopic(topic, { queues: 4 });
    await cluster.waitForRoute(topic, ['broker-a', 'broker-b']);
    const timeouts = { sendMsgTimeout: 1_000, detectInterval: 100 };
    await using faulty = producer(cluster.namesrvAddr, { ...timeouts, sendLatencyFaultEnable: true });
    await using plain = producer(cluster.namesrvAddr, timeouts);
    await faulty.start();
    await plain.start();
    for (const p of [faulty, plain]) expect(onBroker((await sendAll(p, topic, 16, 'warm')).sent, 'broker-b')).toBeGreaterThan(0);

    cluster.pauseBroker('broker-b');
    try {
      // Round-robin alone keeps sending every other message to the frozen broker.
      const without = await sendAll(plain, topic, 8, 'plain');
      expect(without.failed).toBeGreaterThanOrEqual(3);
      // With fault isolation, only a send already on its way there is lost; the rest go to broker-a.
      const isolated = await sendAll(faulty, topic, 40, 'faulty');
      expect(isolated.failed).toBeLessThanOrEqual(1);
      expect(isolated.sent.length).toBeGreaterThanOrEqual(39);
      expect(onBroker(isolated.sent, 'broker-b')).toBe(0);
    } finally {
      cluster.resumeBroker('broker-b');
    }

    // The detector probes the isolated broker every detectInterval and restores it when it answers,
    // well before the 10 s a failure isolates for.
    const deadline = Date.now() + 8_000;
    let back = 0;
    while (back === 0 && Date.now() < deadline) back = onBroker((await sendAll(faulty, topic, 4, 'back')).sent, 'broker-b');
    expect(back).toBeGreaterThan(0);
  });

  it('re-hashes ordered sends over the queues left when a broker leaves the route, and back when it returns', async () => {
    await using cluster = await startCluster({ brokers: 2 });
    const topic = uniqueName('T');
    await cluster.createTopic(topic, { queues: 4 });
    await using p = producer(cluster.namesrvAddr);
    await p.start();
    const keys = Array.from({ length: 12 }, (_, i) => `order-${i}`);
    const hash = (key: string): number => [...key].reduce((acc, ch) => (Math.imul(acc, 31) + ch.charCodeAt(0)) | 0, 0);
    const queueOf = async (key: string, n: number): Promise<string[]> => {
      const seen: string[] = [];
      for (let i = 0; i < n; i++) {
        const r = await p.send({ topic, body: `${key}:${i}` }, { selector: selectByHash, arg: key });
        seen.push(`${r.messageQueue.brokerName}/${r.messageQueue.queueId}`);
      }
      return seen;
    };
    const eight = [0, 1, 2, 3].map((q) => `broker-a/${q}`).concat([0, 1, 2, 3].map((q) => `broker-b/${q}`));
    for (const key of keys) expect(await queueOf(key, 2)).toEqual([eight[Math.abs(hash(key) % 8)], eight[Math.abs(hash(key) % 8)]]);
    expect(keys.some((key) => eight[Math.abs(hash(key) % 8)]!.startsWith('broker-b'))).toBe(true);

    // A clean stop unregisters broker-b; the producer's route poll (200 ms here) drops its queues.
    await cluster.stopBroker('broker-b');
    await waitForPublishQueues(cluster, p, topic, 4);
    const four = eight.slice(0, 4);
    // Every key, those that were on broker-b included, now goes to one queue of broker-a: abs(hash % 4).
    for (const key of keys) expect(await queueOf(key, 3)).toEqual(Array(3).fill(four[Math.abs(hash(key) % 4)]));

    await cluster.startBroker('broker-b');
    await waitForPublishQueues(cluster, p, topic, 8);
    for (const key of keys) expect(await queueOf(key, 2)).toEqual(Array(2).fill(eight[Math.abs(hash(key) % 8)]));
  });
});

/** Send selector probes until the producer's publish list for `topic` holds `count` queues. */
async function waitForPublishQueues(cluster: TestCluster, p: Producer, topic: string, count: number): Promise<void> {
  const deadline = Date.now() + 10_000;
  for (;;) {
    let size = -1;
    await p.send({ topic, body: 'probe' }, { selector: (queues) => ((size = queues.length), queues[0]) }).catch(() => undefined);
    if (size === count) return;
    if (Date.now() > deadline) throw new Error(`the producer's route of ${topic} still lists ${size} queues, not ${count} (nameserver ${cluster.namesrvAddr})`);
    await new Promise((r) => setTimeout(r, 50));
  }
}
