import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { MessageProperty, ResponseCode, SystemTopic } from '@karman/protocol';
import { startTestBroker, uniqueName } from './broker-fixture.js';
import { createTopic, field, readQueue, send, waitFor } from './send-helpers.js';

const LEVELS = '100ms 200ms 300ms';

describe('delay levels through SCHEDULE_TOPIC_XXXX', () => {
  it('holds a delayed message in the schedule topic until due, then delivers it restored to its real topic and queue', async () => {
    await using b = await startTestBroker({ messageDelayLevel: LEVELS });
    const topic = uniqueName('delay');
    await createTopic(b, topic, 2);
    const body = Buffer.from('later, please');
    const bornTimestamp = Date.now();
    const response = await send(b, topic, body, {
      queueId: 1,
      flag: 5,
      bornTimestamp,
      properties: { [MessageProperty.TAGS]: 'TagD', [MessageProperty.KEYS]: 'key-d', [MessageProperty.DELAY]: '2', [MessageProperty.UNIQ_KEY]: 'UNIQ-D' },
    });
    expect(response.code, response.remark).toBe(ResponseCode.SUCCESS.code);
    expect(field(response, 'queueId')).toBe('1');

    // Not in the real topic yet: parked in schedule queue level-1 with where it belongs.
    expect(b.broker.context.store.getMaxOffsetInQueue(topic, 1)).toBe(0);
    const [parked] = await readQueue(b, SystemTopic.SCHEDULE, 1);
    expect(parked?.properties).toMatchObject({ [MessageProperty.REAL_TOPIC]: topic, [MessageProperty.REAL_QID]: '1', [MessageProperty.DELAY]: '2' });

    const [delivered] = await waitFor(async () => {
      const records = await readQueue(b, topic, 1);
      return records.length > 0 ? records : undefined;
    }, 5000, 'the delayed message in its real topic');
    expect(delivered!.storeTimestamp - parked!.storeTimestamp).toBeGreaterThanOrEqual(200);
    expect(delivered!.topic).toBe(topic);
    expect(delivered!.queueId).toBe(1);
    expect(delivered!.flag).toBe(5);
    expect(delivered!.bornTimestamp).toBe(bornTimestamp);
    expect(Buffer.compare(delivered!.body, body)).toBe(0);
    expect(delivered!.properties).toMatchObject({ [MessageProperty.TAGS]: 'TagD', [MessageProperty.KEYS]: 'key-d', [MessageProperty.UNIQ_KEY]: 'UNIQ-D', [MessageProperty.WAIT]: 'false' });
    expect(delivered!.properties[MessageProperty.DELAY]).toBeUndefined();
  });

  it('delivers each level in the order its messages were sent, levels independently', async () => {
    await using b = await startTestBroker({ messageDelayLevel: LEVELS });
    const topic = uniqueName('order');
    await createTopic(b, topic, 1);
    const slow = await send(b, topic, Buffer.from('slow'), { properties: { [MessageProperty.DELAY]: '3' } });
    expect(slow.code, slow.remark).toBe(ResponseCode.SUCCESS.code);
    for (let i = 0; i < 10; i++) {
      const r = await send(b, topic, Buffer.from(`fast-${i}`), { properties: { [MessageProperty.DELAY]: '1' } });
      expect(r.code, r.remark).toBe(ResponseCode.SUCCESS.code);
    }
    const records = await waitFor(async () => {
      const all = await readQueue(b, topic, 0);
      return all.length === 11 ? all : undefined;
    }, 5000, 'all 11 messages delivered');
    const fast = records.map((r) => r.body.toString()).filter((s) => s.startsWith('fast'));
    expect(fast).toEqual(Array.from({ length: 10 }, (_, i) => `fast-${i}`));
    // Level 1 (100 ms) overtakes the level-3 (300 ms) message sent before it.
    expect(records[0]!.body.toString()).toBe('fast-0');
    expect(records.at(-1)!.body.toString()).toBe('slow');
  });

  it('clamps a level above the table to the last level', async () => {
    await using b = await startTestBroker({ messageDelayLevel: LEVELS });
    const topic = uniqueName('clamp');
    await createTopic(b, topic, 1);
    const r = await send(b, topic, Buffer.from('clamped'), { properties: { [MessageProperty.DELAY]: '40' } });
    expect(r.code, r.remark).toBe(ResponseCode.SUCCESS.code);
    const [parked] = await readQueue(b, SystemTopic.SCHEDULE, 2);
    expect(parked?.properties[MessageProperty.DELAY]).toBe('3');
    await waitFor(async () => ((await readQueue(b, topic, 0)).length === 1 ? true : undefined), 5000, 'the clamped message');
  });

  it('stores a message with DELAY 0 directly', async () => {
    await using b = await startTestBroker({ messageDelayLevel: LEVELS });
    const topic = uniqueName('nodelay');
    await createTopic(b, topic, 1);
    const r = await send(b, topic, Buffer.from('now'), { properties: { [MessageProperty.DELAY]: '0' } });
    expect(r.code, r.remark).toBe(ResponseCode.SUCCESS.code);
    expect((await readQueue(b, topic, 0)).map((m) => m.body.toString())).toEqual(['now']);
  });

  it('keeps delivering after a restart without losing or repeating messages', async () => {
    // Level 2 is long enough that the message sent before the second restart is still pending after it.
    await using b = await startTestBroker({ messageDelayLevel: '100ms 1500ms', flushDelayOffsetInterval: 20 });
    const topic = uniqueName('restart');
    await createTopic(b, topic, 1);
    for (const name of ['a', 'b']) await send(b, topic, Buffer.from(name), { properties: { [MessageProperty.DELAY]: '1' } });
    await waitFor(async () => ((await readQueue(b, topic, 0)).length === 2 ? true : undefined), 5000, 'the first two messages');

    // Progress reaches disk on its own (every flushDelayOffsetInterval), not only on a clean stop.
    const offsetsOnDisk = (): unknown => {
      try {
        return JSON.parse(readFileSync(join(b.dir, 'config', 'delayOffset.json'), 'utf8'));
      } catch {
        return undefined;
      }
    };
    await waitFor(() => (JSON.stringify(offsetsOnDisk()) === JSON.stringify({ offsetTable: { '1': 2 } }) ? true : undefined), 5000, 'delayOffset.json');

    await b.restart();
    await send(b, topic, Buffer.from('c'), { properties: { [MessageProperty.DELAY]: '2' } });
    await b.restart();
    expect(b.broker.context.store.getMaxOffsetInQueue(topic, 0)).toBe(2);
    await waitFor(async () => ((await readQueue(b, topic, 0)).length >= 3 ? true : undefined), 5000, 'the third message after the restart');
    // Give a duplicate the chance to appear.
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect((await readQueue(b, topic, 0)).map((r) => r.body.toString())).toEqual(['a', 'b', 'c']);
    await b.restart();
    expect(offsetsOnDisk()).toEqual({ offsetTable: { '1': 2, '2': 1 } });
  });
});
