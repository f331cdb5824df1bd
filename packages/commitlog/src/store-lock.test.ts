import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { StoreLock } from './store-lock.js';

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});
function tempDir(): string {
  const d = mkdtempSync(join(tmpdir(), 'karman-lock-'));
  dirs.push(d);
  return d;
}

describe('StoreLock', () => {
  it('holds the pid and refuses a second holder in this process until released', () => {
    const root = tempDir();
    const lock = StoreLock.acquire(root);
    expect(readFileSync(join(root, 'lock'), 'utf8')).toBe(String(process.pid));
    expect(() => StoreLock.acquire(root)).toThrow(/already open in this process/);
    lock.release();
    expect(existsSync(join(root, 'lock'))).toBe(false);
    StoreLock.acquire(root).release();
  });

  it('refuses a lock held by another live process', () => {
    const root = tempDir();
    writeFileSync(join(root, 'lock'), String(process.ppid));
    expect(() => StoreLock.acquire(root)).toThrow(new RegExp(`locked by process ${process.ppid}`));
  });

  it('takes over a lock left by a process that is gone', () => {
    const root = tempDir();
    const gone = spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))']).stdout.toString();
    writeFileSync(join(root, 'lock'), gone);
    const lock = StoreLock.acquire(root);
    expect(readFileSync(join(root, 'lock'), 'utf8')).toBe(String(process.pid));
    lock.release();
  });
});
