import { describe, expect, it } from 'vitest';
import { javaStringHashCode } from '@karman/protocol';
import { buildSubscription, matchesSubscription } from './subscription.js';
import { toConsumedMessage } from './consumed-message.js';
import type { MessageRecord } from '@karman/protocol';

describe('subscriptions', () => {
  it('parses "*" and "A || B" as RocketMQ does', () => {
    expect(buildSubscription('T', '*')).toMatchObject({ subString: '*', tagsSet: [], codeSet: [] });
    expect(buildSubscription('T', ' A ||B|| A ')).toMatchObject({ tagsSet: ['A', 'B'], codeSet: [javaStringHashCode('A'), javaStringHashCode('B')] });
    expect(() => buildSubscription('T', ' || ')).toThrow(/names no tag/);
    expect(() => buildSubscription('bad topic', '*')).toThrow(/cannot subscribe/);
  });

  it('re-checks the TAGS text on the client; untagged messages never match a tag subscription', () => {
    const sub = buildSubscription('T', 'A || B');
    expect(matchesSubscription(sub, { TAGS: 'A' })).toBe(true);
    expect(matchesSubscription(sub, { TAGS: 'C' })).toBe(false);
    expect(matchesSubscription(sub, {})).toBe(false);
    expect(matchesSubscription(buildSubscription('T', '*'), {})).toBe(true);
  });
});

describe('consumed messages', () => {
  const record = (topic: string, properties: Record<string, string>): MessageRecord => ({
    totalSize: 0,
    magic: 0,
    bodyCrc: 0,
    queueId: 0,
    flag: 0,
    queueOffset: 3,
    physicalOffset: 1234,
    sysFlag: 0,
    bornTimestamp: 1,
    bornHost: { host: '10.0.0.2', port: 5000 },
    storeTimestamp: 2,
    storeHost: { host: '10.0.0.1', port: 10911 },
    reconsumeTimes: 2,
    preparedTransactionOffset: 0,
    body: Buffer.from('hi'),
    topic,
    properties,
  });

  it('restores the original topic of a redelivery and keeps its unique id', () => {
    const m = toConsumedMessage(record('%RETRY%G', { RETRY_TOPIC: 'Orders', UNIQ_KEY: 'ABC', TAGS: 't', KEYS: 'k1 k2' }), { topic: '%RETRY%G', brokerName: 'b', queueId: 0 });
    expect(m).toMatchObject({ topic: 'Orders', storedTopic: '%RETRY%G', msgId: 'ABC', tags: 't', keys: ['k1', 'k2'], reconsumeTimes: 2, bornHost: '10.0.0.2:5000', storeHost: '10.0.0.1:10911', commitLogOffset: 1234 });
  });

  it('falls back to the offset id when the producer set no unique id', () => {
    const m = toConsumedMessage(record('T', {}), { topic: 'T', brokerName: 'b', queueId: 0 });
    expect(m.msgId).toBe(m.offsetMsgId);
    expect(m.offsetMsgId).toMatch(/^[0-9A-F]{32}$/);
  });
});
