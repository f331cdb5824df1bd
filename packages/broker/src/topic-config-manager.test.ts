import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { Perm } from '@karman/protocol';
import type { TopicConfigManagerOptions } from './topic-config-manager.js';
import { TopicConfigManager } from './topic-config-manager.js';

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'karman-topics-'));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

function manager(overrides: Partial<TopicConfigManagerOptions> = {}): TopicConfigManager {
  const m = new TopicConfigManager({
    file: join(dir, 'topics.json'),
    autoCreateTopicEnable: false,
    defaultTopicQueueNums: 8,
    delayLevels: 18,
    brokerClusterName: 'DefaultCluster',
    brokerName: 'broker-a',
    ...overrides,
  });
  m.load();
  return m;
}

describe('TopicConfigManager', () => {
  it('creates the system topics, and TBW102 only when auto-creation is on', () => {
    const off = manager();
    expect(off.get('TBW102')).toBeUndefined();
    expect(off.get('SCHEDULE_TOPIC_XXXX')?.writeQueueNums).toBe(18);
    expect(off.get('broker-a')).toBeDefined();
    expect(off.get('DefaultCluster')).toBeDefined();
    const on = manager({ autoCreateTopicEnable: true });
    expect(on.get('TBW102')).toMatchObject({ readQueueNums: 8, writeQueueNums: 8, perm: Perm.INHERIT | Perm.READ | Perm.WRITE });
  });

  it('persists topics and the data version across a reload', async () => {
    const m = manager();
    const before = m.dataVersion.counter;
    await m.upsert({ topicName: 'T1', readQueueNums: 4, writeQueueNums: 2, perm: 6, topicFilterType: 'SINGLE_TAG', topicSysFlag: 0, order: true });
    expect(m.dataVersion.counter).toBe(before + 1);
    const again = manager();
    expect(again.get('T1')).toMatchObject({ readQueueNums: 4, writeQueueNums: 2, order: true });
    expect(again.dataVersion.counter).toBe(before + 1);
    expect(await again.delete('T1')).toBe(true);
    expect(manager().get('T1')).toBeUndefined();
  });

  it('auto-creates from TBW102 with min(requested, template) queues and no INHERIT bit', async () => {
    const m = manager({ autoCreateTopicEnable: true });
    const created = await m.autoCreate('NewTopic', 'TBW102', 4);
    expect(created).toMatchObject({ topicName: 'NewTopic', writeQueueNums: 4, readQueueNums: 4, perm: Perm.READ | Perm.WRITE });
    expect((await m.autoCreate('Big', 'TBW102', 64))?.writeQueueNums).toBe(8);
  });

  it('refuses auto-creation when it is off or the default topic is not TBW102', async () => {
    expect(await manager().autoCreate('NewTopic', 'TBW102', 4)).toBeUndefined();
    expect(await manager({ autoCreateTopicEnable: true }).autoCreate('NewTopic', 'broker-a', 4)).toBeUndefined();
  });

  it('creates retry and DLQ topics on demand without a template', async () => {
    const m = manager();
    const dlq = await m.ensure('%DLQ%g', 1, Perm.READ | Perm.WRITE);
    expect(dlq).toMatchObject({ readQueueNums: 1, writeQueueNums: 1, perm: 6 });
    expect(await m.ensure('%DLQ%g', 5, 2)).toBe(dlq);
  });
});
