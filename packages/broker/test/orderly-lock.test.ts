import { describe, expect, it } from 'vitest';
import { RequestCode, ResponseCode } from '@karman/protocol';
import type { RemotingCommand } from '@karman/protocol';
import { startTestBroker, uniqueName } from './broker-fixture.js';
import { createTopic } from './pull-fixture.js';

const LOCK = RequestCode.LOCK_BATCH_MQ.code;
const UNLOCK = RequestCode.UNLOCK_BATCH_MQ.code;

interface Queue {
  topic: string;
  brokerName: string;
  queueId: number;
}

function body(consumerGroup: string, clientId: string, mqSet: Queue[]): Buffer {
  return Buffer.from(JSON.stringify({ consumerGroup, clientId, onlyThisBroker: false, mqSet }));
}

function locked(response: RemotingCommand): number[] {
  expect(response.code).toBe(ResponseCode.SUCCESS.code);
  const parsed = JSON.parse(Buffer.from(response.body!).toString()) as { lockOKMQSet: Queue[] };
  return parsed.lockOKMQSet.map((q) => q.queueId).sort();
}

describe('orderly-consumption locks', () => {
  it('grants free queues, refuses queues another client holds, renews and releases', async () => {
    await using b = await startTestBroker({ rebalanceLockMaxLiveTime: 60_000 });
    const group = uniqueName('lock_group');
    const topic = uniqueName('lock_topic');
    await createTopic(b, topic, 4);
    const q = (queueId: number): Queue => ({ topic, brokerName: 'broker-a', queueId });

    expect(locked(await b.request(LOCK, {}, body(group, 'c1', [q(0), q(1)])))).toEqual([0, 1]);
    expect(locked(await b.request(LOCK, {}, body(group, 'c2', [q(1), q(2)])))).toEqual([2]);
    expect(locked(await b.request(LOCK, {}, body(group, 'c1', [q(0), q(1), q(2)])))).toEqual([0, 1]);
    // Another group's locks are its own.
    expect(locked(await b.request(LOCK, {}, body(uniqueName('other'), 'c2', [q(0)])))).toEqual([0]);

    const unlock = await b.request(UNLOCK, {}, body(group, 'c1', [q(1)]));
    expect(unlock.code).toBe(ResponseCode.SUCCESS.code);
    expect(locked(await b.request(LOCK, {}, body(group, 'c2', [q(1)])))).toEqual([1]);
    // Unlocking a queue someone else holds leaves it alone.
    await b.request(UNLOCK, {}, body(group, 'c1', [q(1)]));
    expect(locked(await b.request(LOCK, {}, body(group, 'c1', [q(1)])))).toEqual([]);
  });

  it('lets another client take a queue once the holder stops renewing for rebalanceLockMaxLiveTime', async () => {
    await using b = await startTestBroker({ rebalanceLockMaxLiveTime: 100 });
    const group = uniqueName('lock_expire');
    const q0 = { topic: uniqueName('lock_topic'), brokerName: 'broker-a', queueId: 0 };
    await createTopic(b, q0.topic, 1);
    expect(locked(await b.request(LOCK, {}, body(group, 'c1', [q0])))).toEqual([0]);
    expect(locked(await b.request(LOCK, {}, body(group, 'c2', [q0])))).toEqual([]);
    await new Promise((resolve) => setTimeout(resolve, 150));
    expect(locked(await b.request(LOCK, {}, body(group, 'c2', [q0])))).toEqual([0]);
  });

  it('locks only real queues of this broker, refuses bad group names, and drops expired locks', async () => {
    let now = 1_000_000;
    await using b = await startTestBroker({ rebalanceLockMaxLiveTime: 60_000, clock: () => now });
    const group = uniqueName('lock_group');
    const topic = uniqueName('lock_topic');
    await createTopic(b, topic, 2);
    // Names any client could send: queue ids the topic lacks, another broker, a topic that does not exist.
    const asked = [0, 1, 2, 9_999].map((queueId) => ({ topic, brokerName: 'broker-a', queueId }));
    const foreign = [{ topic, brokerName: 'broker-z', queueId: 0 }, { topic: 'NoSuchTopic', brokerName: 'broker-a', queueId: 0 }];
    expect(locked(await b.request(LOCK, {}, body(group, 'c1', [...asked, ...foreign])))).toEqual([0, 1]);
    expect(b.broker.context.locks.size).toBe(2);
    const bad = await b.request(LOCK, {}, body('a/b', 'c1', asked));
    expect([bad.code, bad.remark]).toEqual([ResponseCode.SYSTEM_ERROR.code, expect.stringMatching(/LOCK_BATCH_MQ refused: the group name "a\/b"/)]);
    // The holder went away: past rebalanceLockMaxLiveTime its locks are swept by the next lock request.
    now += 60_001;
    expect(locked(await b.request(LOCK, {}, body(group, 'c2', [asked[0]!])))).toEqual([0]);
    expect(b.broker.context.locks.size).toBe(1);
  });

  it('answers a malformed lock body with SYSTEM_ERROR naming the field', async () => {
    await using b = await startTestBroker();
    const missing = await b.request(LOCK, {}, Buffer.from(JSON.stringify({ consumerGroup: 'g', mqSet: [] })));
    expect(missing.code).toBe(ResponseCode.SYSTEM_ERROR.code);
    expect(missing.remark).toMatch(/LOCK_BATCH_MQ body is invalid: clientId/);
    const badQueue = await b.request(UNLOCK, {}, body('g', 'c', [{ topic: 't', brokerName: 'b', queueId: -1 }]));
    expect(badQueue.code).toBe(ResponseCode.SYSTEM_ERROR.code);
    expect(badQueue.remark).toMatch(/mqSet\.0\.queueId/);
  });
});
