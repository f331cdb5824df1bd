import { spawn, spawnSync } from 'node:child_process';
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
  it('holds the pid and refuses a second holder in this process until released', async () => {
    const root = tempDir();
    const lock = await StoreLock.acquire(root);
    expect(readFileSync(join(root, 'lock'), 'utf8')).toBe(String(process.pid));
    await expect(StoreLock.acquire(root)).rejects.toThrow(/already open in this process/);
    lock.release();
    expect(existsSync(join(root, 'lock'))).toBe(false);
    (await StoreLock.acquire(root)).release();
  });

  it('takes over a lock file naming a live process that does not hold the lock (a pid reused after a crash)', async () => {
    const root = tempDir();
    // After a reboot or container restart the old pid can belong to any process: here, a sleep.
    const stranger = spawn('sleep', ['30'], { stdio: 'ignore' });
    try {
      writeFileSync(join(root, 'lock'), String(stranger.pid));
      const lock = await StoreLock.acquire(root);
      expect(readFileSync(join(root, 'lock'), 'utf8')).toBe(String(process.pid));
      lock.release();
    } finally {
      stranger.kill('SIGKILL');
    }
  });

  it.each(['abstract', 'file'] as const)('%s socket: refuses a store another live process holds, naming its pid, and frees it when that process is SIGKILLed', async (kind) => {
    const root = tempDir();
    // A second process takes the lock, says so, and then hangs until killed.
    const holder = spawn(process.execPath, ['--conditions=@karman/source', '--import', 'tsx', '-e', `
      const { StoreLock } = await import(${JSON.stringify(new URL('./store-lock.ts', import.meta.url).href)});
      await StoreLock.acquire(${JSON.stringify(root)}, ${JSON.stringify(kind)});
      process.stdout.write('locked\\n');
      setInterval(() => {}, 1000);
    `], { stdio: ['ignore', 'pipe', 'inherit'], cwd: new URL('..', import.meta.url).pathname });
    try {
      await new Promise<void>((resolveLocked, reject) => {
        holder.stdout.on('data', (chunk: Buffer) => (chunk.toString().includes('locked') ? resolveLocked() : undefined));
        holder.on('exit', (code) => reject(new Error(`lock holder exited early (${code})`)));
      });
      await expect(StoreLock.acquire(root, kind)).rejects.toThrow(new RegExp(`locked by process ${holder.pid}`));
      holder.kill('SIGKILL');
      await new Promise((r) => holder.once('exit', r));
      // The kernel released the lock with the process: no file to delete by hand.
      const lock = await StoreLock.acquire(root, kind);
      lock.release();
    } finally {
      holder.kill('SIGKILL');
    }
  }, 20_000);

  it('takes over a lock left by a process that is gone', async () => {
    const root = tempDir();
    const gone = spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))']).stdout.toString();
    writeFileSync(join(root, 'lock'), gone);
    const lock = await StoreLock.acquire(root);
    expect(readFileSync(join(root, 'lock'), 'utf8')).toBe(String(process.pid));
    lock.release();
  });

  it('with a socket file (other platforms), replaces a socket file left by a holder that died', async () => {
    const root = tempDir();
    const first = await StoreLock.acquire(root, 'file');
    expect(existsSync(join(root, 'lock.sock'))).toBe(true);
    first.release();
    // A holder that died leaves its socket file behind, and nobody answers on it.
    writeFileSync(join(root, 'lock.sock'), '');
    const second = await StoreLock.acquire(root, 'file');
    second.release();
  });
});
