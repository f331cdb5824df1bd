import { describe, expect, it } from 'vitest';
import { PutMessageStatus } from '@karman/commitlog';
import { MessageProperty, MessageSysFlag, ResponseCode, SystemTopic } from '@karman/protocol';
import { parseBornHost, putStatusResponseCode, routeThroughSchedule } from './send-message-processor.js';
import type { Refusal } from './send-message-processor.js';

describe('putStatusResponseCode', () => {
  it("maps every store status to RocketMQ's send response code", () => {
    expect(putStatusResponseCode(PutMessageStatus.PUT_OK)).toBe(ResponseCode.SUCCESS.code);
    expect(putStatusResponseCode(PutMessageStatus.FLUSH_DISK_TIMEOUT)).toBe(10);
    expect(putStatusResponseCode('FLUSH_SLAVE_TIMEOUT')).toBe(12);
    expect(putStatusResponseCode('SLAVE_NOT_AVAILABLE')).toBe(11);
    expect(putStatusResponseCode(PutMessageStatus.MESSAGE_ILLEGAL)).toBe(13);
    expect(putStatusResponseCode(PutMessageStatus.PROPERTIES_SIZE_EXCEEDED)).toBe(13);
    expect(putStatusResponseCode(PutMessageStatus.SERVICE_NOT_AVAILABLE)).toBe(14);
    expect(putStatusResponseCode('OS_PAGE_CACHE_BUSY')).toBe(ResponseCode.SYSTEM_BUSY.code);
    expect(putStatusResponseCode(PutMessageStatus.UNKNOWN_ERROR)).toBe(ResponseCode.SYSTEM_ERROR.code);
  });
});

describe('parseBornHost', () => {
  it('reads IPv4, bracketed IPv6 and IPv4-mapped peers, and never throws on junk', () => {
    expect(parseBornHost('10.1.2.3:4567')).toEqual({ host: '10.1.2.3', port: 4567 });
    expect(parseBornHost('[::1]:80')).toEqual({ host: '::1', port: 80 });
    expect(parseBornHost('[::ffff:127.0.0.1]:9000')).toEqual({ host: '127.0.0.1', port: 9000 });
    expect(parseBornHost('unknown:0')).toEqual({ host: '0.0.0.0', port: 0 });
    expect(parseBornHost('')).toEqual({ host: '0.0.0.0', port: 0 });
  });
});

describe('routeThroughSchedule', () => {
  const base = { topic: 'T', queueId: 3, body: Buffer.from('x'), properties: { [MessageProperty.TAGS]: 'a' } };

  it('parks a delayed message in SCHEDULE_TOPIC_XXXX queue level-1 with its real topic and queue', () => {
    const routed = routeThroughSchedule({ ...base, properties: { ...base.properties, [MessageProperty.DELAY]: '2' } }, 18);
    expect(routed).toMatchObject({
      topic: SystemTopic.SCHEDULE,
      queueId: 1,
      properties: { [MessageProperty.TAGS]: 'a', [MessageProperty.DELAY]: '2', [MessageProperty.REAL_TOPIC]: 'T', [MessageProperty.REAL_QID]: '3' },
    });
  });

  it('clamps the level to the table and leaves undelayed, zero-level and prepared or rolled-back transaction messages alone', () => {
    expect(routeThroughSchedule({ ...base, properties: { [MessageProperty.DELAY]: '30' } }, 3)).toMatchObject({ queueId: 2, properties: { [MessageProperty.DELAY]: '3' } });
    expect(routeThroughSchedule(base, 18)).toBe(base);
    const zero = { ...base, properties: { [MessageProperty.DELAY]: '0' } };
    expect(routeThroughSchedule(zero, 18)).toBe(zero);
    for (const sysFlag of [MessageSysFlag.TRANSACTION_PREPARED, MessageSysFlag.TRANSACTION_ROLLBACK]) {
      const tx = { ...base, sysFlag, properties: { [MessageProperty.DELAY]: '1' } };
      expect(routeThroughSchedule(tx, 18)).toBe(tx);
    }
    const committed = routeThroughSchedule({ ...base, sysFlag: MessageSysFlag.TRANSACTION_COMMIT, properties: { [MessageProperty.DELAY]: '1' } }, 18);
    expect(committed).toMatchObject({ topic: SystemTopic.SCHEDULE });
  });

  it('refuses a DELAY that is not an integer, naming the valid range', () => {
    const refused = routeThroughSchedule({ ...base, properties: { [MessageProperty.DELAY]: '1.5' } }, 18) as Refusal;
    expect(refused.code).toBe(ResponseCode.MESSAGE_ILLEGAL.code);
    expect(refused.remark).toMatch(/give an integer from 1 to 18/);
  });
});
