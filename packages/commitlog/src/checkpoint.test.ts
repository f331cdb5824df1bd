import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { CHECKPOINT_FILE_SIZE, readCheckpoint, writeCheckpoint } from './checkpoint.js';

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

describe('checkpoint', () => {
  it('round-trips as one 4 KiB page with RocketMQ fields at RocketMQ positions', () => {
    const dir = mkdtempSync(join(tmpdir(), 'karman-cp-'));
    dirs.push(dir);
    const path = join(dir, 'checkpoint');
    const cp = { physicMsgTimestamp: 1_700_000_000_123, logicsMsgTimestamp: 1_700_000_000_100, indexMsgTimestamp: 1_700_000_000_050, safePhyOffset: 5 * 2 ** 33 + 7 };
    writeCheckpoint(path, cp);
    const page = readFileSync(path);
    expect(page.length).toBe(CHECKPOINT_FILE_SIZE);
    expect(Number(page.readBigInt64BE(0))).toBe(cp.physicMsgTimestamp);
    expect(Number(page.readBigInt64BE(8))).toBe(cp.logicsMsgTimestamp);
    expect(Number(page.readBigInt64BE(16))).toBe(cp.indexMsgTimestamp);
    expect(readCheckpoint(path)).toEqual(cp);
  });

  it('reads a missing, torn or foreign page as no checkpoint', () => {
    const dir = mkdtempSync(join(tmpdir(), 'karman-cp-'));
    dirs.push(dir);
    const path = join(dir, 'checkpoint');
    expect(readCheckpoint(path)).toBeUndefined();
    writeCheckpoint(path, { physicMsgTimestamp: 1, logicsMsgTimestamp: 1, indexMsgTimestamp: 1, safePhyOffset: 100 });
    const page = readFileSync(path);
    page[81] = page[81]! ^ 1;
    writeFileSync(path, page);
    expect(readCheckpoint(path)).toBeUndefined();
    // A RocketMQ checkpoint (no Karman block) is not trusted either.
    writeFileSync(path, Buffer.alloc(4096));
    expect(readCheckpoint(path)).toBeUndefined();
  });
});
