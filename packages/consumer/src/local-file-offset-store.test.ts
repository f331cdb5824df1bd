import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { LocalFileOffsetStore } from './local-file-offset-store.js';
import { ReadOffsetType } from './offset-store.js';

const q0 = { topic: 'T', brokerName: 'broker-a', queueId: 0 };
const q1 = { topic: 'T', brokerName: 'broker-a', queueId: 1 };
const dirs: string[] = [];
const tempDir = (): string => {
  const dir = mkdtempSync(join(tmpdir(), 'karman-local-offsets-'));
  dirs.push(dir);
  return dir;
};
afterEach(() => {
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

describe('LocalFileOffsetStore', () => {
  it('persists to <dir>/<clientId>/<group>/offsets.json and reloads', async () => {
    const dir = tempDir();
    const store = new LocalFileOffsetStore(dir, '10.0.0.1@inst', 'G');
    store.updateOffset(q0, 5, false);
    store.updateOffset(q0, 3, true);
    store.updateOffset(q1, 9, false);
    await store.persistAll();
    expect(store.path).toBe(join(dir, '10.0.0.1@inst', 'G', 'offsets.json'));
    expect(JSON.parse(readFileSync(store.path, 'utf8'))).toEqual({ offsetTable: [{ ...q0, offset: 5 }, { ...q1, offset: 9 }] });
    const reloaded = new LocalFileOffsetStore(dir, '10.0.0.1@inst', 'G');
    await reloaded.load();
    expect(await reloaded.readOffset(q0, ReadOffsetType.MEMORY)).toBe(5);
    expect(await reloaded.readOffset({ ...q0, queueId: 7 }, ReadOffsetType.STORE)).toBe(-1);
  });

  it('falls back to the backup when the file is torn', async () => {
    const dir = tempDir();
    const store = new LocalFileOffsetStore(dir, 'c', 'G');
    store.updateOffset(q0, 1, false);
    await store.persistAll();
    store.updateOffset(q0, 2, false);
    await store.persistAll();
    writeFileSync(store.path, '{"offsetTable": [');
    const reloaded = new LocalFileOffsetStore(dir, 'c', 'G');
    await reloaded.load();
    expect(await reloaded.readOffset(q0, ReadOffsetType.MEMORY)).toBe(1);
  });
});
