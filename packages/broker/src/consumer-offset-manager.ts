/**
 * Committed consumer offsets (RocketMQ `ConsumerOffsetManager`): `"topic@group"` → queue id → the
 * next offset to consume. Kept in memory, written to `config/consumerOffset.json` every
 * `flushConsumerOffsetInterval` (5 s) by the broker and at a clean stop, so a crash loses at
 * most that interval of commits — which consumers then re-consume (at-least-once).
 */
import { z } from 'zod';
import { JsonConfigFile } from './json-config-file.js';
import type { ConfigWriteReporter } from './json-config-file.js';

const FileSchema = z.object({
  offsetTable: z.record(z.string(), z.record(z.string(), z.number().int())),
});

const SEPARATOR = '@';

export class ConsumerOffsetManager {
  private readonly table = new Map<string, Map<number, number>>();
  private readonly pulled = new Map<string, Map<number, number>>();
  private readonly store: JsonConfigFile<z.infer<typeof FileSchema>> | undefined;
  private dirty = false;

  constructor(file?: string, reporter?: ConfigWriteReporter) {
    this.store = file ? new JsonConfigFile(file, FileSchema, reporter) : undefined;
  }

  load(): void {
    const saved = this.store?.load();
    if (!saved) return;
    for (const [key, queues] of Object.entries(saved.offsetTable)) {
      this.table.set(key, new Map(Object.entries(queues).map(([q, o]) => [Number(q), o])));
    }
  }

  /** Store a commit. Offsets only move where the consumer says, including backwards (a reset). */
  commit(group: string, topic: string, queueId: number, offset: number): void {
    const key = topic + SEPARATOR + group;
    let queues = this.table.get(key);
    if (!queues) this.table.set(key, (queues = new Map()));
    queues.set(queueId, offset);
    this.dirty = true;
  }

  /**
   * Where the group's last pull of a queue ended (RocketMQ 5.x `commitPullOffset`): the next offset
   * it will pull. In memory only, for consume stats' `pullOffset` (pulled but not yet committed =
   * inflight); a restart forgets it.
   */
  commitPull(group: string, topic: string, queueId: number, offset: number): void {
    const key = topic + SEPARATOR + group;
    let queues = this.pulled.get(key);
    if (!queues) this.pulled.set(key, (queues = new Map()));
    queues.set(queueId, offset);
  }

  /** The last pull's next offset, or the committed offset when the group has not pulled the queue. */
  queryPull(group: string, topic: string, queueId: number): number {
    return this.pulled.get(topic + SEPARATOR + group)?.get(queueId) ?? this.query(group, topic, queueId);
  }

  /** Forget where a group pulled a topic (its offsets were reset). */
  clearPull(group: string, topic: string): void {
    this.pulled.delete(topic + SEPARATOR + group);
  }

  /** The committed offset, or -1 when the group has none for that queue. */
  query(group: string, topic: string, queueId: number): number {
    return this.table.get(topic + SEPARATOR + group)?.get(queueId) ?? -1;
  }

  /** Every queue's committed offset for a group and topic. */
  queryAll(group: string, topic: string): Map<number, number> {
    return new Map(this.table.get(topic + SEPARATOR + group) ?? []);
  }

  /** Every (topic, group) with committed offsets, in one pass over the table. */
  *entries(): Generator<{ topic: string; group: string; queues: ReadonlyMap<number, number> }> {
    for (const [key, queues] of this.table) {
      const at = key.lastIndexOf(SEPARATOR);
      yield { topic: key.slice(0, at), group: key.slice(at + 1), queues };
    }
  }

  /** Groups with committed offsets for a topic. */
  groupsOf(topic: string): string[] {
    const groups: string[] = [];
    for (const key of this.table.keys()) {
      const at = key.lastIndexOf(SEPARATOR);
      if (key.slice(0, at) === topic) groups.push(key.slice(at + 1));
    }
    return groups;
  }

  /** Topics a group has committed offsets for. */
  topicsOf(group: string): string[] {
    const topics: string[] = [];
    for (const key of this.table.keys()) {
      const at = key.lastIndexOf(SEPARATOR);
      if (key.slice(at + 1) === group) topics.push(key.slice(0, at));
    }
    return topics;
  }

  removeTopic(topic: string): void {
    for (const key of [...this.pulled.keys()]) if (key.slice(0, key.lastIndexOf(SEPARATOR)) === topic) this.pulled.delete(key);
    for (const key of [...this.table.keys()]) if (key.slice(0, key.lastIndexOf(SEPARATOR)) === topic) this.table.delete(key);
    this.dirty = true;
  }

  removeGroup(group: string): void {
    for (const key of [...this.pulled.keys()]) if (key.slice(key.lastIndexOf(SEPARATOR) + 1) === group) this.pulled.delete(key);
    for (const key of [...this.table.keys()]) if (key.slice(key.lastIndexOf(SEPARATOR) + 1) === group) this.table.delete(key);
    this.dirty = true;
  }

  /** The table as RocketMQ's `ConsumerOffsetSerializeWrapper` body: `{"offsetTable":{"topic@group":{"0":12}}}`. */
  serialize(): { offsetTable: Record<string, Record<string, number>> } {
    const offsetTable: Record<string, Record<string, number>> = {};
    for (const [key, queues] of this.table) offsetTable[key] = Object.fromEntries([...queues].map(([q, o]) => [String(q), o]));
    return { offsetTable };
  }

  /** A slave's copy of its master's offsets: the master's table replaces this one. */
  replaceAll(offsetTable: Record<string, Record<string, number>>): void {
    this.table.clear();
    for (const [key, queues] of Object.entries(offsetTable)) this.table.set(key, new Map(Object.entries(queues).map(([q, o]) => [Number(q), o])));
    this.dirty = true;
  }

  /**
   * Write the table if it changed since the last persist. A failed write (a full disk) goes to the
   * reporter and leaves the table dirty, so the next persist writes it again; never rejects.
   */
  async persist(): Promise<void> {
    if (!this.store || !this.dirty) return;
    this.dirty = false;
    if (!(await this.store.persist(this.serialize()))) this.dirty = true;
  }
}
