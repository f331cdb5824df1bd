/**
 * Broadcasting offsets (RocketMQ `LocalFileOffsetStore`): each member keeps its own, in
 * `<dir>/<clientId>/<group>/offsets.json` (`dir` defaults to `~/.rocketmq_offsets`, RocketMQ's
 * `rocketmq.client.localOffsetStoreDir`).
 *
 * File layout (JSON, UTF-8):
 *
 *   { "offsetTable": [ { "topic": "T", "brokerName": "broker-a", "queueId": 0, "offset": 42 }, ... ] }
 *
 * RocketMQ writes fastjson with object keys, which is not JSON; a list of entries is. The file is
 * replaced atomically (write `offsets.json.tmp`, then rename) after copying the previous one to
 * `offsets.json.bak`, so a crash mid-write leaves either the old or the new file; a file that
 * does not parse is ignored in favour of the backup.
 */
import { mkdir, readFile, rename, copyFile, writeFile } from 'node:fs/promises';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { z } from 'zod';
import type { MessageQueue } from '@karman/client';
import { ProtocolError } from '@karman/protocol';
import type { OffsetStore } from './offset-store.js';
import { OffsetTable, ReadOffsetType } from './offset-store.js';

const OffsetFileSchema = z.object({
  offsetTable: z.array(z.object({ topic: z.string(), brokerName: z.string(), queueId: z.number().int().min(0), offset: z.number().int().min(0) })),
});

/** RocketMQ's default directory for broadcasting offsets. */
export function defaultOffsetStoreDir(): string {
  return join(homedir(), '.rocketmq_offsets');
}

export class LocalFileOffsetStore implements OffsetStore {
  private readonly offsets = new OffsetTable();
  private readonly file: string;
  private writing: Promise<void> = Promise.resolve();

  constructor(dir: string, clientId: string, group: string) {
    this.file = join(dir, clientId, group, 'offsets.json');
  }

  /** Path of the offsets file. */
  get path(): string {
    return this.file;
  }

  async load(): Promise<void> {
    const table = (await this.readFile(this.file)) ?? (await this.readFile(`${this.file}.bak`)) ?? [];
    for (const { offset, ...queue } of table) this.offsets.update(queue, offset, false);
  }

  private async readFile(path: string): Promise<Array<MessageQueue & { offset: number }> | undefined> {
    let text: string;
    try {
      text = await readFile(path, 'utf8');
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw error;
    }
    try {
      const parsed = OffsetFileSchema.safeParse(JSON.parse(text));
      if (!parsed.success) throw new ProtocolError(`offsets file ${path} is not {"offsetTable":[{topic, brokerName, queueId, offset}]}`);
      return parsed.data.offsetTable;
    } catch {
      // A torn or hand-edited file: fall back to the backup (or start from consumeFromWhere).
      return undefined;
    }
  }

  updateOffset(queue: MessageQueue, offset: number, increaseOnly: boolean): void {
    this.offsets.update(queue, offset, increaseOnly);
  }

  async readOffset(queue: MessageQueue, type: ReadOffsetType): Promise<number> {
    if (type !== ReadOffsetType.STORE) {
      const memory = this.offsets.get(queue);
      if (memory >= 0 || type === ReadOffsetType.MEMORY) return memory;
    }
    const stored = (await this.readFile(this.file)) ?? (await this.readFile(`${this.file}.bak`)) ?? [];
    const entry = stored.find((e) => e.topic === queue.topic && e.brokerName === queue.brokerName && e.queueId === queue.queueId);
    if (!entry) return -1;
    this.offsets.update(queue, entry.offset, false);
    return entry.offset;
  }

  async persistAll(): Promise<void> {
    // Writes are chained so two persists never interleave their tmp files.
    const next = this.writing.then(() => this.write());
    this.writing = next.catch(() => undefined);
    await next;
  }

  async persist(): Promise<void> {
    await this.persistAll();
  }

  removeOffset(queue: MessageQueue): void {
    this.offsets.remove(queue);
  }

  private async write(): Promise<void> {
    const body = JSON.stringify({ offsetTable: this.offsets.entries().map(({ queue, offset }) => ({ topic: queue.topic, brokerName: queue.brokerName, queueId: queue.queueId, offset })) }, null, 2);
    await mkdir(join(this.file, '..'), { recursive: true });
    await copyFile(this.file, `${this.file}.bak`).catch(() => undefined);
    await writeFile(`${this.file}.tmp`, body, 'utf8');
    await rename(`${this.file}.tmp`, this.file);
  }
}
