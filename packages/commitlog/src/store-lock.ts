/**
 * The `lock` and `abort` files of a store root, and the lock itself.
 *
 * The lock must go away with its holder, whatever kills it: a pid in a file does not, because after
 * a crash, a container restart or a reboot that pid can belong to any process (RocketMQ holds a
 * `FileChannel.lock` on its `lock` file for the same reason). Node has no flock, so the lock is a
 * Unix socket the process listens on, which the kernel closes when the process dies:
 *
 * - on Linux, a socket in the abstract namespace named after a hash of the store's real path
 *   (no file, nothing to clean up). Abstract names are per network namespace: two brokers in
 *   different network namespaces do not see each other's lock.
 * - elsewhere, a socket file `lock.sock` in the root; a file left by a dead holder is detected by a
 *   refused connection and replaced.
 *
 * The `lock` file still holds the holder's pid so a refusal can name it. `abort` is created once the
 * store is open and deleted by a clean close, so finding it at start means the last run did not
 * close cleanly.
 */
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import { connect, createServer } from 'node:net';
import type { Server } from 'node:net';
import { join, resolve } from 'node:path';
import { KarmanError } from '@karman/protocol';

const openInThisProcess = new Set<string>();

/** `abstract`: a Linux abstract-namespace socket (the default on Linux); `file`: `lock.sock` in the root (elsewhere). */
export type LockKind = 'abstract' | 'file';

/** Where the lock socket of `root` listens: an abstract name on Linux, a file in the root elsewhere. */
function lockSocketPath(realRoot: string, kind: LockKind): string {
  if (kind === 'abstract') return `\0karman-store-${createHash('sha256').update(realRoot).digest('hex').slice(0, 40)}`;
  return join(realRoot, 'lock.sock');
}

function listen(path: string): Promise<Server | 'in-use'> {
  return new Promise((resolveListen, reject) => {
    const server = createServer((socket) => socket.destroy());
    server.once('error', (err: NodeJS.ErrnoException) => (err.code === 'EADDRINUSE' ? resolveListen('in-use') : reject(err)));
    server.listen(path, () => {
      // The lock must not keep the process alive on its own.
      server.unref();
      resolveListen(server);
    });
  });
}

/** Whether something accepts connections at `path` (a socket file whose holder is alive). */
function answers(path: string): Promise<boolean> {
  return new Promise((resolveAnswer) => {
    const socket = connect(path);
    socket.once('connect', () => {
      socket.destroy();
      resolveAnswer(true);
    });
    socket.once('error', () => resolveAnswer(false));
  });
}

/** Holds a store root's lock until released. */
export class StoreLock {
  private constructor(
    readonly root: string,
    private readonly lockPath: string,
    private readonly server: Server,
  ) {}

  /** Take the lock of `root` (which must exist), or reject with STORE_LOCKED naming who holds it. */
  static async acquire(root: string, kind: LockKind = process.platform === 'linux' ? 'abstract' : 'file'): Promise<StoreLock> {
    const key = resolve(root);
    const lockPath = join(key, 'lock');
    if (openInThisProcess.has(key)) {
      throw new KarmanError('STORE_LOCKED', `store ${key} is already open in this process; close it before opening it again`);
    }
    openInThisProcess.add(key);
    try {
      const socketPath = lockSocketPath(fs.realpathSync(key), kind);
      let server = await listen(socketPath);
      if (server === 'in-use' && kind === 'file' && !(await answers(socketPath))) {
        // A socket file left by a holder that died: nobody listens on it any more.
        fs.rmSync(socketPath, { force: true });
        server = await listen(socketPath);
      }
      if (server === 'in-use') {
        let holder = 'another process';
        try {
          const pid = Number.parseInt(fs.readFileSync(lockPath, 'utf8').trim(), 10);
          if (Number.isInteger(pid) && pid > 0) holder = `process ${pid}`;
        } catch {
          // The holder has not written its pid yet (or it was removed by hand): name no pid.
        }
        throw new KarmanError('STORE_LOCKED', `store ${key} is locked by ${holder}; stop that process or use another storePathRootDir`);
      }
      // A pid left here by a holder that died (or a live process that reused its pid) is simply replaced.
      writeNote(lockPath, String(process.pid));
      return new StoreLock(key, lockPath, server);
    } catch (err) {
      openInThisProcess.delete(key);
      throw err;
    }
  }

  release(): void {
    if (!openInThisProcess.delete(this.root)) return;
    fs.rmSync(this.lockPath, { force: true });
    this.server.close();
  }
}

/** Whether the last run left its abort file (it did not close cleanly). */
export function abortFileExists(root: string): boolean {
  return fs.existsSync(join(root, 'abort'));
}

/**
 * Create the abort file. Its presence is what counts; the pid in it is for people, so a full disk
 * that lets the file be created but not written (an empty file needs no data block) is fine.
 */
export function createAbortFile(root: string): void {
  writeNote(join(root, 'abort'), String(process.pid));
}

/**
 * Write a file whose content is informational (a pid). On a full disk the file is still created,
 * empty: only a failure to create it at all is an error.
 */
function writeNote(path: string, text: string): void {
  try {
    fs.writeFileSync(path, text);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if ((code !== 'ENOSPC' && code !== 'EDQUOT') || !fs.existsSync(path)) throw err;
  }
}

export function deleteAbortFile(root: string): void {
  fs.rmSync(join(root, 'abort'), { force: true });
}
