import { describe, expect, it } from 'vitest';
import { MessageProperty } from '@karman/protocol';
import type { MessageRecord } from '@karman/protocol';
import { deliverTimestamp, restoreScheduledMessage } from './schedule-message-service.js';

function record(properties: Record<string, string>): MessageRecord {
  return {
    totalSize: 0,
    magic: 0,
    bodyCrc: 0,
    queueId: 1,
    flag: 9,
    queueOffset: 4,
    physicalOffset: 1234,
    sysFlag: 0x10,
    bornTimestamp: 111,
    bornHost: { host: '::1', port: 5 },
    storeTimestamp: 222,
    storeHost: { host: '127.0.0.1', port: 10911 },
    reconsumeTimes: 2,
    preparedTransactionOffset: 0,
    body: Buffer.from('b'),
    topic: 'SCHEDULE_TOPIC_XXXX',
    properties,
  };
}

describe('restoreScheduledMessage', () => {
  it("puts the message back on REAL_TOPIC / REAL_QID without DELAY, as RocketMQ's messageTimeup does", () => {
    const restored = restoreScheduledMessage(
      record({ [MessageProperty.REAL_TOPIC]: 'Orders', [MessageProperty.REAL_QID]: '3', [MessageProperty.DELAY]: '2', [MessageProperty.TAGS]: 't', [MessageProperty.TIMER_DELIVER_MS]: '5' }),
    );
    expect(restored).toMatchObject({
      topic: 'Orders',
      queueId: 3,
      flag: 9,
      bornTimestamp: 111,
      bornHost: { host: '::1', port: 5 },
      reconsumeTimes: 2,
      sysFlag: 0,
      properties: { [MessageProperty.REAL_TOPIC]: 'Orders', [MessageProperty.REAL_QID]: '3', [MessageProperty.TAGS]: 't', [MessageProperty.WAIT]: 'false' },
    });
    const properties = (restored as { properties: Record<string, string> }).properties;
    expect(properties[MessageProperty.DELAY]).toBeUndefined();
    expect(properties[MessageProperty.TIMER_DELIVER_MS]).toBeUndefined();
  });

  it('says what is missing when the record does not name its real topic or queue', () => {
    expect(restoreScheduledMessage(record({ [MessageProperty.REAL_QID]: '0' }))).toMatch(/offset 1234 has no REAL_TOPIC/);
    expect(restoreScheduledMessage(record({ [MessageProperty.REAL_TOPIC]: 'T', [MessageProperty.REAL_QID]: '-1' }))).toMatch(/REAL_QID "-1", not a queue id/);
  });
});

describe('deliverTimestamp', () => {
  it('is the store time plus the delay, or now when the clock went back past the delay', () => {
    expect(deliverTimestamp(1000, 500, 1200)).toBe(1500);
    expect(deliverTimestamp(1000, 500, 1600)).toBe(1500);
    expect(deliverTimestamp(10_000, 500, 1000)).toBe(1000);
  });
});
