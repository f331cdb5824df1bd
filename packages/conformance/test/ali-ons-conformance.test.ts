/**
 * The unmodified npm client ali-ons 3.12.0 (RocketMQ 4.x remoting) against karman-nameserver and
 * karman-broker processes: what ali-ons sends and expects, call by call. Every client runs in its own child
 * process (AliOnsProcess) with HOME in a temporary folder and a hard timeout. The scenarios are
 * independent (own topic, own groups), so they run concurrently on one cluster.
 *
 * Timing: ali-ons rebalances on a timer (`rebalanceInterval`, 10 s by default) and ignores the
 * broker's NOTIFY_CONSUMER_IDS_CHANGED (defect 2), so the suite sets the client's own documented
 * `rebalanceInterval` option to REBALANCE_MS and waits on observable state (owned queues, received
 * messages), never on fixed sleeps, except where the claim is "nothing more arrives".
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MessageSysFlag, RequestCode, ResponseCode, createRequest, decodeRecord } from '@karman/protocol';
import { startProcessCluster, uniqueName } from '@karman/testkit';
import type { ProcessCluster } from '@karman/testkit';
import { AliOnsProcess, aliOnsShardingQueue, pinnableShardingKeys } from '../src/index.js';
import type { AliOnsProcessOptions, AliOnsReceived } from '../src/index.js';

/** The client's rebalance timer for these tests (ali-ons default 10 s). */
const REBALANCE_MS = 1_500;
/**
 * Delay levels in milliseconds (RocketMQ's table is 1s 5s 10s 30s ...): level 3 is what a first
 * retry uses (3 + reconsumeTimes), level 5 is the delay scenario's.
 */
const DELAY_LEVELS = '100ms 200ms 300ms 400ms 1500ms 2s 3s 4s 5s 6s 7s 8s 9s 10s 20s 30s 1m 2m';
const DELAY_LEVEL_5_MS = 1_500;
/** How long "nothing more arrives" is watched for, after everything expected has arrived. */
const SETTLE_MS = 1_000;

let cluster: ProcessCluster;
const processes: AliOnsProcess[] = [];

beforeAll(async () => {
  cluster = await startProcessCluster({
    brokerArgs: [
      '--set', `messageDelayLevel=${DELAY_LEVELS}`,
      // Held pulls are re-checked often besides arrival wake-ups; ali-ons holds for 15 s.
      '--set', 'pullRequestHoldCheckInterval=100',
      '--set', 'flushConsumerOffsetInterval=200',
    ],
  });
}, 60_000);

afterAll(async () => {
  await Promise.all(processes.splice(0).map((p) => p.kill()));
  await cluster?.close();
}, 30_000);

/** An ali-ons process on the cluster, killed after the suite even if the test failed. */
async function aliOns(name: string, options: Partial<AliOnsProcessOptions> = {}): Promise<AliOnsProcess> {
  const client = await AliOnsProcess.start({
    namesrvAddr: cluster.namesrvAddr,
    name,
    hardTimeoutMillis: 90_000,
    ...options,
    clientDefaults: { rebalanceInterval: REBALANCE_MS, ...options.clientDefaults },
  });
  processes.push(client);
  return client;
}

async function newTopic(prefix: string, queues = 4): Promise<string> {
  const topic = uniqueName(prefix);
  await cluster.createTopic(topic, { queues });
  return topic;
}

async function brokerRequest(code: number, fields: Record<string, string | number | boolean>) {
  return cluster.adminClient(cluster.brokerAddr()).request(createRequest(code, fields));
}

/** The group's committed offset of each queue, as the broker stores it (-1: none). */
async function committedOffsets(group: string, topic: string, queues: number): Promise<number[]> {
  const offsets: number[] = [];
  for (let queueId = 0; queueId < queues; queueId++) {
    const response = await brokerRequest(RequestCode.QUERY_CONSUMER_OFFSET.code, { consumerGroup: group, topic, queueId, setZeroIfNotFound: false });
    offsets.push(response.code === ResponseCode.SUCCESS.code ? Number(response.extFields.offset) : -1);
  }
  return offsets;
}

/** The consumer ids the broker lists for a group ([] when it answers "no consumer"). */
async function consumerIds(group: string): Promise<string[]> {
  const response = await brokerRequest(RequestCode.GET_CONSUMER_LIST_BY_GROUP.code, { consumerGroup: group });
  if (response.code !== ResponseCode.SUCCESS.code) return [];
  return (JSON.parse(Buffer.from(response.body ?? []).toString('utf8')) as { consumerIdList: string[] }).consumerIdList;
}

async function until<T>(what: string, probe: () => Promise<T>, done: (value: T) => boolean, timeoutMillis = 15_000): Promise<T> {
  const deadline = Date.now() + timeoutMillis;
  for (;;) {
    const value = await probe();
    if (done(value)) return value;
    if (Date.now() > deadline) throw new Error(`${what}: still ${JSON.stringify(value)} after ${timeoutMillis} ms`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

const text = (m: AliOnsReceived): string => m.body.toString('utf8');
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
/** Fresh groups read their queues from the start, so a test need not race its own sends. */
const FROM_FIRST = { consumeFromWhere: 'CONSUME_FROM_FIRST_OFFSET' } as const;

describe.concurrent('ali-ons 3.12.0 against karman-nameserver and karman-broker', { timeout: 60_000 }, () => {
  it('starts: route and heartbeat make the broker list the consumer and create its retry topic; close unregisters it', async () => {
    const topic = await newTopic('Startup');
    const group = uniqueName('CG_startup');
    const client = await aliOns('startup');
    await client.producer('p', { producerGroup: uniqueName('PG_startup') });
    await client.consumer('c', { consumerGroup: group, instanceName: 'startup' }, [{ topic }]);

    const ids = await until('consumer list', () => consumerIds(group), (list) => list.length === 1);
    expect(ids[0]).toMatch(/@startup$/);
    // The heartbeat created %RETRY%<group> and the nameserver routes it.
    await cluster.waitForRoute(`%RETRY%${group}`, ['broker-a'], 5_000);
    await client.waitForQueues('c', topic, [0, 1, 2, 3]);

    await client.close('c');
    expect(await until('consumer list after close', () => consumerIds(group), (list) => list.length === 0, 5_000)).toEqual([]);
  });

  it('sync send: SEND_OK, the consumer sees the producer\'s msgId, and per-queue offsets are consecutive', async () => {
    const topic = await newTopic('SyncSend');
    const client = await aliOns('sync-send');
    await client.producer('p', { producerGroup: uniqueName('PG_sync') });
    const sent = [];
    for (let i = 0; i < 8; i++) sent.push(await client.send('p', { topic, tags: 'TagA', body: `sync-${i}` }));
    expect(sent.every((r) => r.sendStatus === 'SEND_OK')).toBe(true);
    const byQueue = new Map<number, number[]>();
    for (const r of sent) byQueue.set(r.queueId, [...(byQueue.get(r.queueId) ?? []), r.queueOffset]);
    for (const offsets of byQueue.values()) expect(offsets).toEqual(offsets.map((_, i) => i));

    await client.consumer('c', { consumerGroup: uniqueName('CG_sync'), ...FROM_FIRST }, [{ topic }]);
    const received = await client.waitForMessages(8);
    for (const [i, r] of sent.entries()) {
      const seen = received.find((m) => text(m) === `sync-${i}`);
      expect(seen).toMatchObject({ msgId: r.msgId, queueId: r.queueId, queueOffset: r.queueOffset, topic, tags: 'TagA', reconsumeTimes: 0 });
    }
  });

  it('50 concurrent sends all succeed and a fresh group receives each body exactly once', async () => {
    const topic = await newTopic('Concurrent');
    const producer = await aliOns('concurrent-producer');
    await producer.producer('p', { producerGroup: uniqueName('PG_concurrent') });
    const bodies = Array.from({ length: 50 }, (_, i) => `concurrent-${i}`);
    const results = await Promise.all(bodies.map((body) => producer.send('p', { topic, body })));
    expect(results.map((r) => r.sendStatus)).toEqual(bodies.map(() => 'SEND_OK'));
    expect(new Set(results.map((r) => r.msgId)).size).toBe(50);

    const consumer = await aliOns('concurrent-consumer');
    await consumer.consumer('c', { consumerGroup: uniqueName('CG_concurrent'), ...FROM_FIRST }, [{ topic }]);
    await consumer.waitForMessages(50);
    await sleep(SETTLE_MS);
    expect(consumer.messages().map(text).sort()).toEqual([...bodies].sort());
  });

  it('tags, keys, user properties and a 5 KiB body (stored deflated) round-trip', async () => {
    const topic = await newTopic('RoundTrip');
    const client = await aliOns('round-trip');
    await client.producer('p', { producerGroup: uniqueName('PG_roundtrip') });
    const big = Array.from({ length: 5 * 1024 }, (_, i) => String.fromCharCode(97 + ((i * 7) % 26))).join('');
    const sent = await client.send('p', { topic, tags: 'TagBig', keys: ['order-1', 'user-7'], properties: { color: 'blue', trace: 'abc-123' }, body: big });
    expect(sent.sendStatus).toBe('SEND_OK');

    await client.consumer('c', { consumerGroup: uniqueName('CG_roundtrip'), ...FROM_FIRST }, [{ topic }]);
    const [received] = await client.waitForMessages(1);
    expect(received).toMatchObject({ msgId: sent.msgId, tags: 'TagBig', keys: 'order-1 user-7' });
    expect(received!.properties).toMatchObject({ color: 'blue', trace: 'abc-123' });
    expect(text(received!)).toBe(big);

    // ali-ons deflates bodies of 4 KiB or more; the broker stores them as sent (SYSFLAG bit 0).
    const view = await brokerRequest(RequestCode.VIEW_MESSAGE_BY_ID.code, { offset: received!.commitLogOffset });
    expect(view.code).toBe(ResponseCode.SUCCESS.code);
    const decoded = decodeRecord(Buffer.from(view.body ?? []));
    if (decoded.kind !== 'record') throw new Error('VIEW_MESSAGE_BY_ID returned a blank record');
    expect(decoded.record.sysFlag & MessageSysFlag.COMPRESSED).toBe(MessageSysFlag.COMPRESSED);
    expect(decoded.record.body.length).toBeLessThan(big.length);
  });

  it('ordered sends: each sharding key stays on one queue and is consumed in order', async () => {
    const queues = 4;
    const topic = await newTopic('Ordered', queues);
    // ali-ons cannot pin a key that hashes to queue 0 (defect 1): use keys that do not.
    const keys = pinnableShardingKeys(uniqueName('order'), 3, queues);
    expect(keys.map((k) => aliOnsShardingQueue(k, queues))).not.toContain(0);
    const client = await aliOns('ordered');
    await client.producer('p', { producerGroup: uniqueName('PG_ordered') });
    const queueOfKey = new Map<string, Set<number>>();
    for (let seq = 0; seq < 10; seq++) {
      for (const key of keys) {
        const r = await client.send('p', { topic, shardingKey: key, body: `${key}#${seq}` });
        queueOfKey.set(key, (queueOfKey.get(key) ?? new Set()).add(r.queueId));
      }
    }
    for (const key of keys) expect([...queueOfKey.get(key)!]).toEqual([aliOnsShardingQueue(key, queues)]);

    await client.consumer('c', { consumerGroup: uniqueName('CG_ordered'), ...FROM_FIRST }, [{ topic }]);
    const received = await client.waitForMessages(30);
    for (const key of keys) {
      const sequence = received.filter((m) => text(m).startsWith(`${key}#`)).map((m) => Number(text(m).split('#')[1]));
      expect(sequence).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
    }
  });

  it('a `TagA || TagB` subscription receives TagA and TagB and never TagC', async () => {
    const queues = 4;
    const topic = await newTopic('Tags', queues);
    const client = await aliOns('tags');
    await client.producer('p', { producerGroup: uniqueName('PG_tags') });
    // One sharding key puts everything on one queue, so the final sentinel arrives after any
    // TagC message would have.
    const [key] = pinnableShardingKeys(uniqueName('tags'), 1, queues);
    for (const tags of ['TagA', 'TagC', 'TagB', 'TagC', 'TagA', 'TagC']) await client.send('p', { topic, tags, shardingKey: key!, body: `${tags}-body` });
    await client.send('p', { topic, tags: 'TagB', shardingKey: key!, body: 'sentinel' });

    await client.consumer('c', { consumerGroup: uniqueName('CG_tags'), ...FROM_FIRST }, [{ topic, expression: 'TagA || TagB' }]);
    await client.waitForMessages(1, (m) => text(m) === 'sentinel');
    expect(client.messages().map((m) => m.tags)).toEqual(['TagA', 'TagB', 'TagA', 'TagB']);
  });

  for (const retry of ['action', 'throw'] as const) {
    it(`retry (${retry === 'action' ? 'ACTION_RETRY' : 'a throwing handler'}): the message returns through %RETRY%<group> with reconsumeTimes 1`, async () => {
      const topic = await newTopic(`Retry_${retry}`);
      const group = uniqueName(`CG_retry_${retry}`);
      const client = await aliOns(`retry-${retry}`);
      await client.producer('p', { producerGroup: uniqueName('PG_retry') });
      // Its own instanceName gives the consumer its own MQClient, whose start sends the heartbeat
      // that creates %RETRY%<group> before the retry route is looked up (see README, defect 6).
      await client.consumer('c', { consumerGroup: group, instanceName: `retry-${retry}`, ...FROM_FIRST }, [{ topic, retry }]);
      const sent = await client.send('p', { topic, tags: 'TagR', keys: ['retry-key'], body: `retry-${retry}` });

      const [first, second] = await client.waitForMessages(2);
      expect(first).toMatchObject({ msgId: sent.msgId, reconsumeTimes: 0, topic });
      expect(second).toMatchObject({ reconsumeTimes: 1, topic, tags: 'TagR', keys: 'retry-key', retryTopic: topic, originMessageId: sent.msgId });
      expect(text(second!)).toBe(`retry-${retry}`);
      expect(second!.msgId).not.toBe(sent.msgId);
      // It went through the group's retry topic on the broker, not a local retry in the client.
      const retryQueue = await brokerRequest(RequestCode.GET_MAX_OFFSET.code, { topic: `%RETRY%${group}`, queueId: 0 });
      expect(Number(retryQueue.extFields.offset)).toBe(1);
      await sleep(SETTLE_MS);
      expect(client.messages()).toHaveLength(2);
    });
  }

  it('a group of two splits the queues and the survivor takes all of them within one rebalance', async () => {
    const topic = await newTopic('Group');
    const group = uniqueName('CG_group');
    const [first, second, producer] = await Promise.all([aliOns('group-a'), aliOns('group-b'), aliOns('group-producer')]);
    await Promise.all([
      first.consumer('c', { consumerGroup: group, instanceName: 'a', ...FROM_FIRST }, [{ topic }]),
      second.consumer('c', { consumerGroup: group, instanceName: 'b', ...FROM_FIRST }, [{ topic }]),
    ]);
    // Client ids sort as <ip>@a < <ip>@b, so AllocateMessageQueueAveragely gives a the first half.
    await Promise.all([first.waitForQueues('c', topic, [0, 1]), second.waitForQueues('c', topic, [2, 3])]);

    // Another group, in another client (own instanceName), gets its own full copy.
    await producer.consumer('other', { consumerGroup: uniqueName('CG_group_other'), instanceName: 'other', ...FROM_FIRST }, [{ topic }]);
    await producer.waitForQueues('other', topic, [0, 1, 2, 3]);
    await producer.producer('p', { producerGroup: uniqueName('PG_group') });
    const bodies = Array.from({ length: 20 }, (_, i) => `split-${i}`);
    const sent = [];
    for (const body of bodies) sent.push(await producer.send('p', { topic, body }));
    await until('both consumers together', async () => first.messages().length + second.messages().length, (n) => n >= 20);
    await sleep(SETTLE_MS);
    expect([...first.messages(), ...second.messages()].map(text).sort()).toEqual([...bodies].sort());
    expect(new Set(first.messages().map((m) => m.queueId))).toEqual(new Set([0, 1]));
    expect(new Set(second.messages().map((m) => m.queueId))).toEqual(new Set([2, 3]));
    expect(producer.messages((m) => m.consumer === 'other').map(text).sort()).toEqual([...bodies].sort());

    // a leaves (close() unregisters, then its process ends); b's next rebalance takes everything.
    await first.close('c');
    await first.kill();
    // One timer tick of b sees the group shrink; allow a second tick and scheduling slack.
    await second.waitForQueues('c', topic, [0, 1, 2, 3], REBALANCE_MS * 2 + 3_000);
    const after = Array.from({ length: 8 }, (_, i) => `after-${i}`);
    for (const body of after) await producer.send('p', { topic, body });
    const received = await second.waitForMessages(8, (m) => text(m).startsWith('after-'));
    expect(new Set(received.map((m) => m.queueId))).toEqual(new Set([0, 1, 2, 3]));
  });

  it('broadcasting: every consumer of the group receives every message', async () => {
    const topic = await newTopic('Broadcast');
    const group = uniqueName('CG_broadcast');
    const [first, second, producer] = await Promise.all([aliOns('broadcast-a'), aliOns('broadcast-b'), aliOns('broadcast-producer')]);
    await Promise.all([
      first.consumer('c', { consumerGroup: group, isBroadcast: true, instanceName: 'a', ...FROM_FIRST }, [{ topic }]),
      second.consumer('c', { consumerGroup: group, isBroadcast: true, instanceName: 'b', ...FROM_FIRST }, [{ topic }]),
    ]);
    await producer.producer('p', { producerGroup: uniqueName('PG_broadcast') });
    const bodies = Array.from({ length: 12 }, (_, i) => `broadcast-${i}`);
    for (const body of bodies) await producer.send('p', { topic, body });
    for (const consumer of [first, second]) {
      await consumer.waitForMessages(12);
    }
    await sleep(SETTLE_MS);
    for (const consumer of [first, second]) expect(consumer.messages().map(text).sort()).toEqual([...bodies].sort());
  });

  it('a restarted consumer resumes from the committed offset: nothing old is redelivered', async () => {
    const queues = 4;
    const topic = await newTopic('Restart', queues);
    const group = uniqueName('CG_restart');
    const producer = await aliOns('restart-producer');
    await producer.producer('p', { producerGroup: uniqueName('PG_restart') });
    for (let i = 0; i < 10; i++) await producer.send('p', { topic, body: `before-${i}` });

    const first = await aliOns('restart-first');
    await first.consumer('c', { consumerGroup: group, ...FROM_FIRST }, [{ topic }]);
    await first.waitForMessages(10);
    await first.close('c');
    await first.kill();
    // close() persisted the offsets: the broker's committed offsets reach the tail of every queue.
    const committed = await committedOffsets(group, topic, queues);
    const tails = [];
    for (let queueId = 0; queueId < queues; queueId++) tails.push(Number((await brokerRequest(RequestCode.GET_MAX_OFFSET.code, { topic, queueId })).extFields.offset));
    expect(committed).toEqual(tails);

    // CONSUME_FROM_FIRST_OFFSET only applies without a committed offset, so a lost offset would
    // show here as the ten old messages coming back.
    const second = await aliOns('restart-second');
    await second.consumer('c', { consumerGroup: group, ...FROM_FIRST }, [{ topic }]);
    await second.waitForQueues('c', topic, [0, 1, 2, 3]);
    for (let i = 0; i < 5; i++) await producer.send('p', { topic, body: `after-${i}` });
    await second.waitForMessages(5);
    await sleep(SETTLE_MS);
    expect(second.messages().map(text).sort()).toEqual(['after-0', 'after-1', 'after-2', 'after-3', 'after-4']);
  });

  it('a new group with CONSUME_FROM_LAST_OFFSET on a young queue starts at offset 0, as RocketMQ answers QUERY_CONSUMER_OFFSET', async () => {
    // RocketMQ's queryConsumerOffset answers 0 for a group without an offset when the queue still
    // starts at 0 and its first message is in memory, so such a group sees the history.
    const topic = await newTopic('LastOffset');
    const client = await aliOns('last-offset');
    await client.producer('p', { producerGroup: uniqueName('PG_last') });
    for (let i = 0; i < 4; i++) await client.send('p', { topic, body: `history-${i}` });
    await client.consumer('c', { consumerGroup: uniqueName('CG_last'), instanceName: 'last-offset', consumeFromWhere: 'CONSUME_FROM_LAST_OFFSET' }, [{ topic }]);
    await client.waitForMessages(4);
    await sleep(SETTLE_MS);
    expect(client.messages().map(text).sort()).toEqual(['history-0', 'history-1', 'history-2', 'history-3']);
  });

  it('PULL_OFFSET_MOVED: a committed offset past the queue end is corrected and consumption goes on', async () => {
    const topic = await newTopic('OffsetMoved', 1);
    const group = uniqueName('CG_moved');
    const client = await aliOns('offset-moved');
    await client.producer('p', { producerGroup: uniqueName('PG_moved') });
    for (let i = 0; i < 3; i++) await client.send('p', { topic, body: `old-${i}` });
    // An offset far past the end, as a bad reset or a lost store leaves behind.
    const commit = await brokerRequest(RequestCode.UPDATE_CONSUMER_OFFSET.code, { consumerGroup: group, topic, queueId: 0, commitOffset: 100 });
    expect(commit.code).toBe(ResponseCode.SUCCESS.code);
    // The group starts from this offset (it wins over any consumeFromWhere), so the old messages
    // can only come back through the broker's correction.
    expect(await committedOffsets(group, topic, 1)).toEqual([100]);

    await client.consumer('c', { consumerGroup: group, instanceName: 'offset-moved' }, [{ topic }]);
    for (let i = 0; i < 2; i++) await client.send('p', { topic, body: `new-${i}` });
    // The pull at 100 answers PULL_OFFSET_MOVED. While the queue still starts at 0, RocketMQ's
    // correction is the queue's start, not its end (DefaultMessageStore.getMessage), so the
    // client adopts 0 and reads the queue through, in order.
    await client.waitForMessages(5);
    await sleep(SETTLE_MS);
    expect(client.messages().map(text)).toEqual(['old-0', 'old-1', 'old-2', 'new-0', 'new-1']);
    await until('the committed offset', () => committedOffsets(group, topic, 1), (offsets) => offsets[0] === 5, 10_000);
  });

  it('delay level 5: the message is not delivered before its due time', async () => {
    const topic = await newTopic('Delay');
    const client = await aliOns('delay');
    await client.producer('p', { producerGroup: uniqueName('PG_delay') });
    await client.consumer('c', { consumerGroup: uniqueName('CG_delay'), ...FROM_FIRST }, [{ topic }]);
    await client.waitForQueues('c', topic, [0, 1, 2, 3]);
    const sent = await client.send('p', { topic, tags: 'TagD', body: 'delayed', delayTimeLevel: 5 });
    expect(sent.sendStatus).toBe('SEND_OK');
    const [received] = await client.waitForMessages(1);
    expect(received).toMatchObject({ topic, tags: 'TagD', reconsumeTimes: 0 });
    expect(text(received!)).toBe('delayed');
    // Both clocks are this machine's: born (client, at send) + the level's delay ≤ delivery.
    expect(received!.receivedAt - received!.bornTimestamp).toBeGreaterThanOrEqual(DELAY_LEVEL_5_MS);
  });

  it('a send to a topic that does not exist fails cleanly', async () => {
    const client = await aliOns('unknown-topic');
    await client.producer('p', { producerGroup: uniqueName('PG_unknown') });
    await expect(client.send('p', { topic: uniqueName('NoSuchTopic'), body: 'nowhere' })).rejects.toThrow(/route|TOPIC_NOT_EXIST|No topic/i);
  });
});
