import { performance } from 'node:perf_hooks';
import { describe, expect, it } from 'vitest';
import { RemotingClient, RequestCode, ResponseCode, createRequest, decodeRecords } from '@karman/protocol';
import type { RemotingCommand } from '@karman/protocol';
import { startTestBroker, uniqueName } from './broker-fixture.js';
import { createTopic, pullFields, putMessage, until } from './pull-fixture.js';

const PULL = RequestCode.PULL_MESSAGE.code;

describe('long polling', () => {
  it('answers a held pull within 50 ms of a matching arrival', async () => {
    await using b = await startTestBroker();
    const { holds } = b.broker.context;
    const topic = uniqueName('lp_topic');
    const group = uniqueName('lp_group');
    await createTopic(b, topic, 1);

    // Five wake-ups, judged by their median, so one scheduling stall on a shared machine does not
    // decide the outcome; each is timed from before the put to the response's arrival.
    const latencies: number[] = [];
    for (let offset = 0; offset < 5; offset++) {
      const pending = b.request(PULL, pullFields(group, topic, 0, offset, { suspend: true, suspendTimeoutMillis: 10_000 }), undefined, 20_000);
      await until(() => holds.size === 1, 'the pull to be held');
      let answeredAt = 0;
      const answered = pending.then((response) => {
        answeredAt = performance.now();
        return response;
      });
      const putAt = performance.now();
      await putMessage(b, topic, 0, `wake up ${offset}`);
      const response = await answered;
      latencies.push(answeredAt - putAt);

      expect(response.code).toBe(ResponseCode.SUCCESS.code);
      expect(decodeRecords(Buffer.from(response.body!)).map((r) => r.body.toString())).toEqual([`wake up ${offset}`]);
      expect(response.extFields.nextBeginOffset).toBe(String(offset + 1));
      expect(holds.size).toBe(0);
    }
    const median = latencies.sort((x, y) => x - y)[2]!;
    expect(median, `wake-up latencies ${latencies.map((l) => l.toFixed(1)).join(', ')} ms`).toBeLessThan(50);
  });

  it('stays parked through arrivals its tag filter rejects and answers with the first match', async () => {
    await using b = await startTestBroker();
    const { holds } = b.broker.context;
    const topic = uniqueName('lp_filter');
    const group = uniqueName('lp_group');
    await createTopic(b, topic, 1);

    const pending = b.request(PULL, pullFields(group, topic, 0, 0, { suspend: true, subscription: 'TagA' }), undefined, 20_000);
    await until(() => holds.size === 1, 'the pull to be held');
    await putMessage(b, topic, 0, 'not for me', 'TagB');
    await new Promise((resolve) => setTimeout(resolve, 30));
    expect(holds.size).toBe(1);
    await putMessage(b, topic, 0, 'for me', 'TagA');
    const response = await pending;
    expect(response.code).toBe(ResponseCode.SUCCESS.code);
    expect(decodeRecords(Buffer.from(response.body!)).map((r) => [r.body.toString(), r.queueOffset])).toEqual([['for me', 1]]);
  });

  it('answers PULL_NOT_FOUND with the offsets once the suspend time ends', async () => {
    await using b = await startTestBroker({ pullRequestHoldCheckInterval: 20 });
    const topic = uniqueName('lp_timeout');
    const group = uniqueName('lp_group');
    await createTopic(b, topic, 1);
    await putMessage(b, topic, 0, 'old');

    const started = performance.now();
    const response = await b.request(PULL, pullFields(group, topic, 0, 1, { suspend: true, suspendTimeoutMillis: 300 }), undefined, 5_000);
    const waited = performance.now() - started;
    expect(response.code).toBe(ResponseCode.PULL_NOT_FOUND.code);
    expect(response.extFields).toMatchObject({ nextBeginOffset: '1', minOffset: '0', maxOffset: '1', suggestWhichBrokerId: '0' });
    expect(waited).toBeGreaterThanOrEqual(290);
    expect(waited).toBeLessThan(3_000);
  });

  it('holds for shortPollingTimeMills, not the suspend time, when long polling is off', async () => {
    await using b = await startTestBroker({ longPollingEnable: false, shortPollingTimeMills: 100 });
    const topic = uniqueName('lp_short');
    const group = uniqueName('lp_group');
    await createTopic(b, topic, 1);
    const started = performance.now();
    const response = await b.request(PULL, pullFields(group, topic, 0, 0, { suspend: true, suspendTimeoutMillis: 15_000 }), undefined, 10_000);
    const waited = performance.now() - started;
    expect(response.code).toBe(ResponseCode.PULL_NOT_FOUND.code);
    expect(waited).toBeGreaterThanOrEqual(90);
    expect(waited).toBeLessThan(3_000);
  });

  it('answers at once when maxHeldPullRequests pulls are already held', async () => {
    await using b = await startTestBroker({ maxHeldPullRequests: 2 });
    const { holds } = b.broker.context;
    const topic = uniqueName('lp_cap');
    const group = uniqueName('lp_group');
    await createTopic(b, topic, 1);
    const held = [0, 1].map(() => b.request(PULL, pullFields(group, topic, 0, 0, { suspend: true }), undefined, 20_000));
    await until(() => holds.size === 2, 'two pulls to be held');
    const started = performance.now();
    const third = await b.request(PULL, pullFields(group, topic, 0, 0, { suspend: true }));
    expect(third.code).toBe(ResponseCode.PULL_NOT_FOUND.code);
    expect(performance.now() - started).toBeLessThan(1_000);
    await putMessage(b, topic, 0, 'release');
    for (const response of await Promise.all(held)) expect(response.code).toBe(ResponseCode.SUCCESS.code);
  });

  it('holds at most maxHeldPullRequestsPerConnection pulls of one connection, leaving the rest of the cap to others', async () => {
    await using b = await startTestBroker({ maxHeldPullRequestsPerConnection: 3 });
    const { holds } = b.broker.context;
    const topic = uniqueName('lp_share');
    const group = uniqueName('lp_group');
    await createTopic(b, topic, 1);
    const greedy = b.client();
    const held = [0, 1, 2].map(() => greedy.request(createRequest(PULL, pullFields(group, topic, 0, 0, { suspend: true })), { timeoutMillis: 20_000 }));
    await until(() => holds.size === 3, 'three pulls of one connection to be held');
    const fourth = await greedy.request(createRequest(PULL, pullFields(group, topic, 0, 0, { suspend: true })));
    expect(fourth.code).toBe(ResponseCode.PULL_NOT_FOUND.code);
    expect(holds.size).toBe(3);
    // Another connection is held as usual.
    const other = b.request(PULL, pullFields(group, topic, 0, 0, { suspend: true }), undefined, 20_000);
    await until(() => holds.size === 4, "another connection's pull to be held");
    await putMessage(b, topic, 0, 'release');
    for (const response of await Promise.all([...held, other])) expect(response.code).toBe(ResponseCode.SUCCESS.code);
  });

  it('answers SYSTEM_BUSY, without running it, a request of a connection with maxInFlightRequestsPerConnection being handled', async () => {
    await using b = await startTestBroker({ maxInFlightRequestsPerConnection: 2 });
    const { holds } = b.broker.context;
    const topic = uniqueName('lp_inflight');
    const group = uniqueName('lp_group');
    await createTopic(b, topic, 1);
    const client = b.client();
    const held = [0, 1].map(() => client.request(createRequest(PULL, pullFields(group, topic, 0, 0, { suspend: true })), { timeoutMillis: 20_000 }));
    await until(() => holds.size === 2, 'two pulls to be held');
    const busy = await client.request(createRequest(RequestCode.GET_MAX_OFFSET.code, { topic, queueId: 0 }));
    expect([busy.code, busy.remark]).toEqual([ResponseCode.SYSTEM_BUSY.code, expect.stringMatching(/2 requests of this connection are being handled \(maxInFlightRequestsPerConnection 2\)/)]);
    expect(b.broker.context.server.stats.busyRequests).toBe(1);
    // Other connections are not held back, and once answered this one is served again.
    expect((await b.request(RequestCode.GET_MAX_OFFSET.code, { topic, queueId: 0 })).code).toBe(ResponseCode.SUCCESS.code);
    await putMessage(b, topic, 0, 'release');
    await Promise.all(held);
    expect((await client.request(createRequest(RequestCode.GET_MAX_OFFSET.code, { topic, queueId: 0 }))).code).toBe(ResponseCode.SUCCESS.code);
  });

  it("drops a vanished consumer's 10,000 held pulls when its connection closes", async () => {
    await using b = await startTestBroker();
    const { holds } = b.broker.context;
    const topic = uniqueName('lp_vanish');
    const group = uniqueName('lp_group');
    await createTopic(b, topic, 4);

    const consumer = new RemotingClient(`tcp://${b.broker.address}`, { maxInFlight: 20_000, requestTimeoutMillis: 60_000, reconnect: false });
    const outcomes: Promise<RemotingCommand | Error>[] = [];
    for (let i = 0; i < 10_000; i++) {
      const request = createRequest(PULL, pullFields(group, topic, i % 4, 0, { suspend: true }));
      outcomes.push(consumer.request(request).catch((error: unknown) => error as Error));
    }
    await until(() => holds.size === 10_000, '10,000 pulls to be held', 15_000);
    await consumer.close();
    await until(() => holds.size === 0, 'the held pulls to be dropped');
    // The consumer side saw its requests end with the connection, none answered.
    const settled = await Promise.all(outcomes);
    expect(settled.every((o) => o instanceof Error)).toBe(true);

    // The broker keeps serving, and a later arrival on those queues finds no one to wake.
    await putMessage(b, topic, 0, 'after');
    const fresh = await b.request(PULL, pullFields(group, topic, 0, 0));
    expect(fresh.code).toBe(ResponseCode.SUCCESS.code);
  }, 30_000);

  it('answers a held pull when the broker stops', async () => {
    await using b = await startTestBroker();
    const topic = uniqueName('lp_stop');
    const group = uniqueName('lp_group');
    await createTopic(b, topic, 1);
    const pending = b.request(PULL, pullFields(group, topic, 0, 0, { suspend: true }), undefined, 20_000);
    await until(() => b.broker.context.holds.size === 1, 'the pull to be held');
    await b.broker.close();
    const response = await pending;
    expect(response.code).toBe(ResponseCode.PULL_NOT_FOUND.code);
  });
});
