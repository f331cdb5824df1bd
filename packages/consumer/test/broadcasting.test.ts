/**
 * Broadcasting: every member gets every message, and each keeps its own offsets in a
 * local file per client and group, from which a restarted member resumes.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { startCluster } from '@karman/testkit';
import { PushConsumer } from '../src/push-consumer.js';
import { FAST, sendMessages, startProducer, uniqueName, waitFor } from './consumer-fixture.js';

describe('broadcasting', () => {
  it('delivers every message to every member and keeps offsets in a local file per client', async () => {
    await using cluster = await startCluster({ brokers: 1 });
    const dir = mkdtempSync(join(tmpdir(), 'karman-offsets-'));
    const topic = uniqueName('T');
    const group = uniqueName('G');
    await cluster.createTopic(topic, { queues: 4 });
    await using producer = await startProducer(cluster);
    const options = { ...FAST, nameservers: cluster.namesrvAddr, group, messageModel: 'BROADCASTING' as const, localOffsetStoreDir: dir, subscriptions: { [topic]: '*' }, consumeFromWhere: 'CONSUME_FROM_FIRST_OFFSET' as const };
    const got: string[][] = [[], []];
    const names = [uniqueName('m1'), uniqueName('m2')];
    const members = names.map((instanceName, i) => new PushConsumer({ ...options, instanceName, handler: (m) => void got[i]!.push(m.body.toString()) }));
    try {
      await Promise.all(members.map((m) => m.start()));
      await sendMessages(producer, topic, 30);
      const all = Array.from({ length: 30 }, (_, i) => `body-${i}`);
      await waitFor(() => got.every((g) => g.length >= 30), 'both members to get all 30');
      // Each member exactly once each (every delivery counted, none folded into a set).
      expect(got.map((g) => [...g].sort())).toEqual([all.sort(), all.sort()]);
      expect(members.map((m) => m.assignment().length)).toEqual([4, 4]);
      const clientId = members[0]!.clientId!;
      await Promise.all(members.map((m) => m.shutdown()));
      const file = JSON.parse(readFileSync(join(dir, clientId, group, 'offsets.json'), 'utf8')) as { offsetTable: Array<{ offset: number }> };
      expect(file.offsetTable.reduce((n, e) => n + e.offset, 0)).toBe(30);

      await sendMessages(producer, topic, 5, (i) => ({ body: `later-${i}` }));
      const again: string[] = [];
      await using restarted = new PushConsumer({ ...options, instanceName: names[0]!, handler: (m) => void again.push(m.body.toString()) });
      await restarted.start();
      await waitFor(() => again.length >= 5, 'the 5 later messages');
      await new Promise((r) => setTimeout(r, 200));
      expect([...again].sort()).toEqual(['later-0', 'later-1', 'later-2', 'later-3', 'later-4']);
    } finally {
      await Promise.all(members.map((m) => m.shutdown()));
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
