/**
 * A JSON file replaced atomically, RocketMQ's ConfigManager done safely.
 *
 * Save: write `<file>.tmp` and fdatasync it; rename the current file to `<file>.bak`; rename the
 * temporary file over `<file>`; fsync the directory. What a crash leaves at each step:
 *   - during the temporary write: the old `<file>` intact (the `.tmp` is ignored and overwritten);
 *   - between the two renames: no `<file>`, but `<file>.bak` holds the previous content, which
 *     `load` falls back to;
 *   - after the second rename: the new content.
 * Saves are serialized; a save requested while one runs is coalesced into one more write of the
 * latest value. A save that fails (ENOSPC: a full disk) removes its `.tmp` and leaves the
 * previous file as it was.
 *
 * `persist` is the form for tables served from memory (topics, groups, offsets): it never
 * rejects; a failure goes to `onError` and the value is kept for `retry`, so a full disk costs the
 * file an update, never a request its answer.
 */
import { existsSync, readFileSync } from 'node:fs';
import { mkdir, open, rename, rm } from 'node:fs/promises';
import { dirname } from 'node:path';
import type { z } from 'zod';
import { KarmanError } from '@karman/protocol';

/** Told about `persist` failures, and about the first success after some. */
export interface ConfigWriteReporter {
  /** A write of `path` failed; the value is kept for the next `retry`. */
  onError(path: string, error: Error): void;
  /** `path` was written after `failures` failed attempts. */
  onRecovered?(path: string, failures: number): void;
}

export class JsonConfigFile<T> {
  private writing: Promise<void> | undefined;
  private pending: { value: T; waiters: Array<{ resolve: () => void; reject: (e: unknown) => void }> } | undefined;
  /** The newest value whose `persist` failed, until a later write succeeds. */
  private unsaved: { value: T } | undefined;
  private failures = 0;

  constructor(
    readonly path: string,
    private readonly schema: z.ZodType<T>,
    private readonly reporter?: ConfigWriteReporter,
  ) {}

  /**
   * Read the file, falling back to `.bak` when the file is missing or unreadable. Returns
   * undefined when neither exists. Throws a `KarmanError` naming both files when neither parses.
   */
  load(): T | undefined {
    const problems: string[] = [];
    for (const candidate of [this.path, `${this.path}.bak`]) {
      if (!existsSync(candidate)) continue;
      try {
        const parsed = this.schema.safeParse(JSON.parse(readFileSync(candidate, 'utf8')));
        if (parsed.success) return parsed.data;
        problems.push(`${candidate}: ${parsed.error.issues.map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`).join('; ')}`);
      } catch (error) {
        problems.push(`${candidate}: ${(error as Error).message}`);
      }
    }
    if (problems.length === 0) return undefined;
    throw new KarmanError('CONFIG_UNREADABLE', `cannot read ${this.path} or its backup (${problems.join(' | ')}); repair or remove the files to start empty`);
  }

  /** Persist `value`; resolves once it is durably on disk. */
  save(value: T): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      if (this.pending) {
        this.pending.value = value;
        this.pending.waiters.push({ resolve, reject });
      } else {
        this.pending = { value, waiters: [{ resolve, reject }] };
      }
      if (!this.writing) this.writing = this.drain();
    });
  }

  /**
   * `save` that never rejects: a failure is reported and `value` kept for `retry` (unless a later
   * write succeeds first). Resolves true once written, false when the write failed.
   */
  async persist(value: T): Promise<boolean> {
    try {
      await this.save(value);
    } catch (error) {
      this.unsaved = { value };
      this.failures++;
      this.reporter?.onError(this.path, KarmanError.from(error));
      return false;
    }
    if (this.failures > 0) {
      this.unsaved = undefined;
      this.reporter?.onRecovered?.(this.path, this.failures);
      this.failures = 0;
    }
    return true;
  }

  /** Write again the value whose `persist` failed, if any. Never rejects. */
  async retry(): Promise<void> {
    const unsaved = this.unsaved;
    if (unsaved) await this.persist(unsaved.value);
  }

  private async drain(): Promise<void> {
    while (this.pending) {
      const { value, waiters } = this.pending;
      this.pending = undefined;
      try {
        await this.write(JSON.stringify(value, null, 2));
        for (const w of waiters) w.resolve();
      } catch (error) {
        for (const w of waiters) w.reject(error);
      }
    }
    this.writing = undefined;
  }

  private async write(text: string): Promise<void> {
    const dir = dirname(this.path);
    await mkdir(dir, { recursive: true });
    const tmp = `${this.path}.tmp`;
    try {
      const handle = await open(tmp, 'w');
      try {
        await handle.writeFile(text, 'utf8');
        await handle.datasync();
      } finally {
        await handle.close();
      }
    } catch (error) {
      // A full disk creates the file but not its content: leave nothing half-written behind.
      await rm(tmp, { force: true }).catch(() => undefined);
      throw error;
    }
    if (existsSync(this.path)) await rename(this.path, `${this.path}.bak`);
    await rename(tmp, this.path);
    const dirHandle = await open(dir, 'r');
    try {
      await dirHandle.sync();
    } finally {
      await dirHandle.close();
    }
  }
}
