import { describe, expect, it } from 'vitest';
import { ConsumerOffsetManager } from './consumer-offset-manager.js';
import { deletedPerTopic, describeDrops, unconsumedDrops } from './retention-drops.js';
import type { RetentionReport } from '@karman/commitlog';

describe('unconsumedDrops', () => {
  const report: RetentionReport = {
    cause: 'forced',
    reason: 'disk 92.0 % used',
    deletedFiles: 2,
    queues: [
      { topic: 'T', queueId: 0, fromOffset: 100, toOffset: 400 },
      { topic: 'T', queueId: 1, fromOffset: 0, toOffset: 50 },
      { topic: 'U', queueId: 0, fromOffset: 0, toOffset: 10 },
    ],
  };

  it('counts, per group, the deleted messages between its committed offset (or the old minimum) and the new minimum', () => {
    const offsets = new ConsumerOffsetManager();
    offsets.commit('behind', 'T', 0, 250); // lost 250..399
    offsets.commit('behind', 'T', 1, 60); // had consumed all of queue 1
    offsets.commit('older', 'T', 0, 20); // behind the old minimum: lost 100..399, and all 50 of queue 1 (no commit there)
    offsets.commit('ahead', 'T', 0, 400);
    offsets.commit('ahead', 'T', 1, 50);
    offsets.commit('partial', 'T', 1, 10); // never committed on queue 0: lost all 300 there, and 10..49 of queue 1
    const drops = unconsumedDrops(report, offsets);
    expect(Object.fromEntries(drops.get('T')!)).toEqual({ behind: 150, older: 350, partial: 340 });
    expect(drops.has('U')).toBe(false);
    expect(Object.fromEntries(deletedPerTopic(report))).toEqual({ T: 350, U: 10 });
    expect(describeDrops(report, drops)).toMatch(/^forced clean .*group behind on topic T: 150 unconsumed; group older on topic T: 350 unconsumed; group partial on topic T: 340 unconsumed/);
  });

  it('says nothing when every group had consumed what was deleted, and bounds the line', () => {
    const offsets = new ConsumerOffsetManager();
    offsets.commit('ahead', 'T', 0, 400);
    offsets.commit('ahead', 'T', 1, 50);
    expect(describeDrops(report, unconsumedDrops(report, offsets))).toBeUndefined();
    const many = new ConsumerOffsetManager();
    for (let i = 0; i < 30; i++) many.commit(`g${String(i).padStart(2, '0')}`, 'T', 0, 100);
    const line = describeDrops(report, unconsumedDrops(report, many), 5)!;
    expect(line.match(/unconsumed/g)).toHaveLength(5);
    expect(line).toMatch(/and 25 more group\/topic pair\(s\)/);
  });
});
