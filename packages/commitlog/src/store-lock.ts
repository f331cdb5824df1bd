/**
 * The `lock` and `abort` files of a store root (reference §3.2, §3.6).
 *
 * `lock` holds the pid of the process that has the store open. Node has no flock, so a second open
 * is refused when the lock names a live process (or this one); a lock left by a killed process is
 * taken over. `abort` is created once the store is open and deleted by a clean close, so finding it
 * at start means the last run did not close cleanly.
 */
import * as fs from 'node:fs';
import { join, resolve } from 'node:path';
import { KarmanError } from '@karman/protocol';

const openInThisProcess = new Set<string>();

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Holds a store root's lock until released. */
export class StoreLock {
  private constructor(
    readonly root: string,
    private readonly lockPath: string,
  ) {}

  /** Take the lock of `root`, or throw STORE_LOCKED naming who holds it. */
  static acquire(root: string): StoreLock {
    const key = resolve(root);
    const lockPath = join(key, 'lock');
    if (openInThisProcess.has(key)) {
      throw new KarmanError('STORE_LOCKED', `store ${key} is already open in this process; close it before opening it again`);
    }
    for (let attempt = 0; ; attempt++) {
      try {
        fs.writeFileSync(lockPath, String(process.pid), { flag: 'wx' });
        break;
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'EEXIST' || attempt > 0) throw err;
      }
      const holder = Number.parseInt(fs.readFileSync(lockPath, 'utf8').trim(), 10);
      if (Number.isInteger(holder) && holder > 0 && holder !== process.pid && alive(holder)) {
        throw new KarmanError('STORE_LOCKED', `store ${key} is locked by process ${holder}; stop that process or use another storePathRootDir`);
      }
      // Left by a process that is gone (or by this pid in an earlier life): take it over.
      fs.rmSync(lockPath, { force: true });
    }
    openInThisProcess.add(key);
    return new StoreLock(key, lockPath);
  }

  release(): void {
    if (!openInThisProcess.delete(this.root)) return;
    fs.rmSync(this.lockPath, { force: true });
  }
}

/** Whether the last run left its abort file (it did not close cleanly). */
export function abortFileExists(root: string): boolean {
  return fs.existsSync(join(root, 'abort'));
}

export function createAbortFile(root: string): void {
  fs.writeFileSync(join(root, 'abort'), String(process.pid));
}

export function deleteAbortFile(root: string): void {
  fs.rmSync(join(root, 'abort'), { force: true });
}
