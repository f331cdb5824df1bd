import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ConsumerOffsetManager } from './consumer-offset-manager.js';

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'karman-offsets-'));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

describe('ConsumerOffsetManager', () => {
  it('answers -1 for an unknown group or queue', () => {
    const m = new ConsumerOffsetManager();
    expect(m.query('g', 't', 0)).toBe(-1);
    m.commit('g', 't', 0, 5);
    expect(m.query('g', 't', 1)).toBe(-1);
    expect(m.query('g', 't', 0)).toBe(5);
  });

  it('keeps groups with @ in topic names apart and lists them', () => {
    const m = new ConsumerOffsetManager();
    m.commit('g1', 'T', 0, 1);
    m.commit('g2', 'T', 1, 2);
    m.commit('g1', 'U', 0, 3);
    expect(m.groupsOf('T').sort()).toEqual(['g1', 'g2']);
    expect(m.topicsOf('g1').sort()).toEqual(['T', 'U']);
    m.removeTopic('T');
    expect(m.query('g1', 'T', 0)).toBe(-1);
    expect(m.query('g1', 'U', 0)).toBe(3);
  });

  it('survives a restart once persisted, and persists only when something changed', async () => {
    const file = join(dir, 'consumerOffset.json');
    const m = new ConsumerOffsetManager(file);
    m.commit('g', 't', 3, 42);
    await m.persist();
    const again = new ConsumerOffsetManager(file);
    again.load();
    expect(again.query('g', 't', 3)).toBe(42);
    expect(again.queryAll('g', 't')).toEqual(new Map([[3, 42]]));
  });
});
