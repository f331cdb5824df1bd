/**
 * A small file replaced whole and atomically, the way RocketMQ's `MixAll.string2File` keeps its
 * config files, plus fsyncs so a power cut cannot leave a torn file:
 *
 *   1. write `<file>.tmp` and fsync it;
 *   2. copy the current `<file>` to `<file>.bak` (fsynced);
 *   3. rename `<file>.tmp` over `<file>` and fsync the folder.
 *
 * A crash during 1 leaves `<file>` untouched (the tmp is ignored); during 2, `<file>` is still
 * whole; after 3's rename, the new content is the file. A failure in 1 or 2 (ENOSPC: a full disk)
 * removes the tmp, so nothing half-written is left behind. Reading falls back to `<file>.bak` when
 * `<file>` is missing or unreadable, so at worst the last write is lost, never everything.
 */
import { copyFile, mkdir, open, readFile, rename, rm } from 'node:fs/promises';
import { dirname } from 'node:path';
import { KarmanError } from '@karman/protocol';

async function fsyncPath(path: string, flags: string): Promise<void> {
  const handle = await open(path, flags);
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}

/** Replace `path` with `content` atomically (see the file comment for the steps). */
export async function writeFileAtomic(path: string, content: string): Promise<void> {
  await mkdir(dirname(path), { recursive: true });
  const tmp = `${path}.tmp`;
  try {
    const handle = await open(tmp, 'w');
    try {
      await handle.writeFile(content, 'utf8');
      await handle.sync();
    } finally {
      await handle.close();
    }
    try {
      await copyFile(path, `${path}.bak`);
      await fsyncPath(`${path}.bak`, 'r+');
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
    }
  } catch (error) {
    await rm(tmp, { force: true }).catch(() => undefined);
    throw error;
  }
  await rename(tmp, path);
  try {
    await fsyncPath(dirname(path), 'r');
  } catch {
    // Some platforms cannot fsync a folder; the rename has been issued, which is the best they allow.
  }
}

/**
 * Read a file written by `writeFileAtomic` and parse it with `parse`. Falls back to `<path>.bak`
 * when the file is missing or `parse` throws; returns undefined when neither exists. Throws when a
 * file exists but neither copy can be parsed, so a corrupt store is never silently emptied.
 */
export async function readFileWithBackup<T>(path: string, parse: (text: string) => T): Promise<T | undefined> {
  const errors: string[] = [];
  let anyExists = false;
  for (const candidate of [path, `${path}.bak`]) {
    let text: string;
    try {
      text = await readFile(candidate, 'utf8');
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') continue;
      throw error;
    }
    anyExists = true;
    try {
      return parse(text);
    } catch (error) {
      errors.push(`${candidate}: ${(error as Error).message}`);
    }
  }
  if (anyExists) throw new KarmanError('CONFIG_UNREADABLE', `cannot read ${path} or its .bak: ${errors.join('; ')}; fix or remove the file`);
  return undefined;
}
