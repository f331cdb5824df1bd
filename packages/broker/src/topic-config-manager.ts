/**
 * The broker's topic table (RocketMQ `TopicConfigManager`): per topic its read and write queue
 * counts, permission, filter type, system flag and order flag, plus a data version that changes
 * with every edit so nameservers can skip unchanged registrations. Persisted to
 * `config/topics.json` on every change.
 */
import { z } from 'zod';
import { InvalidArgumentError, Perm, SystemTopic, topicNameProblem } from '@karman/protocol';
import { JsonConfigFile } from './json-config-file.js';
import type { ConfigWriteReporter } from './json-config-file.js';

export const TopicConfigSchema = z.object({
  topicName: z.string(),
  readQueueNums: z.number().int().min(0),
  writeQueueNums: z.number().int().min(0),
  perm: z.number().int().min(0).max(15),
  topicFilterType: z.enum(['SINGLE_TAG', 'MULTI_TAG']).default('SINGLE_TAG'),
  topicSysFlag: z.number().int().default(0),
  order: z.boolean().default(false),
});
/** One topic's configuration, field names as RocketMQ's `TopicConfig` JSON. */
export type TopicConfig = z.infer<typeof TopicConfigSchema>;

export const DataVersionSchema = z.object({ timestamp: z.number(), counter: z.number().int() });
/** RocketMQ's `DataVersion`: bumped on every change to the table. */
export type DataVersion = z.infer<typeof DataVersionSchema>;

const FileSchema = z.object({
  topicConfigTable: z.record(z.string(), TopicConfigSchema),
  dataVersion: DataVersionSchema,
});

/** RocketMQ's defaults for a topic created without explicit counts. */
const DEFAULT_QUEUE_NUMS = 16;
const DEFAULT_PERM = Perm.READ | Perm.WRITE;

export interface TopicConfigManagerOptions {
  /** Where `topics.json` lives; undefined keeps the table in memory only. */
  file?: string;
  /** Whether to keep TBW102 so producers can auto-create topics. */
  autoCreateTopicEnable: boolean;
  /** Queue count of TBW102 and the cap for auto-created topics (`defaultTopicQueueNums`, 8). */
  defaultTopicQueueNums: number;
  /** Number of delay levels: the queue count of SCHEDULE_TOPIC_XXXX. */
  delayLevels: number;
  /** Cluster and broker name, each also a topic RocketMQ keeps for routing admin commands. */
  brokerClusterName: string;
  brokerName: string;
  clock?: () => number;
  /** Told when the file cannot be written (the table stays served from memory; see `retryPersist`). */
  reporter?: ConfigWriteReporter;
}

export class TopicConfigManager {
  private readonly table = new Map<string, TopicConfig>();
  private version: DataVersion;
  private readonly store: JsonConfigFile<z.infer<typeof FileSchema>> | undefined;
  private readonly clock: () => number;

  constructor(private readonly options: TopicConfigManagerOptions) {
    this.clock = options.clock ?? Date.now;
    this.version = { timestamp: this.clock(), counter: 0 };
    this.store = options.file ? new JsonConfigFile(options.file, FileSchema, options.reporter) : undefined;
  }

  /**
   * Load the persisted table and add the system topics RocketMQ creates at start. Returns the
   * entries left out ("topic: problem"): a name no RocketMQ rule allows, written by an older
   * version, would make every registration with the nameservers carry it.
   */
  load(): string[] {
    const saved = this.store?.load();
    const skipped: string[] = [];
    if (saved) {
      for (const [name, config] of Object.entries(saved.topicConfigTable)) {
        const problem = topicNameProblem(name);
        if (problem) skipped.push(`${JSON.stringify(name.slice(0, 60))}: ${problem}`);
        else this.table.set(name, config);
      }
      this.version = saved.dataVersion;
    }
    const system = (topicName: string, queues: number, perm: number): void => {
      if (!this.table.has(topicName)) this.table.set(topicName, topic(topicName, queues, queues, perm));
    };
    if (this.options.autoCreateTopicEnable) {
      system(SystemTopic.AUTO_CREATE_TOPIC_KEY, this.options.defaultTopicQueueNums, Perm.INHERIT | Perm.READ | Perm.WRITE);
    } else {
      this.table.delete(SystemTopic.AUTO_CREATE_TOPIC_KEY);
    }
    system(SystemTopic.SELF_TEST, 1, DEFAULT_PERM);
    system(SystemTopic.OFFSET_MOVED_EVENT, 1, DEFAULT_PERM);
    system(SystemTopic.SCHEDULE, this.options.delayLevels, DEFAULT_PERM);
    system(this.options.brokerClusterName, DEFAULT_QUEUE_NUMS, DEFAULT_PERM);
    system(this.options.brokerName, 1, DEFAULT_PERM);
    return skipped;
  }

  get dataVersion(): DataVersion {
    return { ...this.version };
  }

  get(topicName: string): TopicConfig | undefined {
    return this.table.get(topicName);
  }

  all(): TopicConfig[] {
    return [...this.table.values()];
  }

  /** The table as RocketMQ's `TopicConfigSerializeWrapper` (registration body, GET_ALL_TOPIC_CONFIG). */
  serialize(): { topicConfigTable: Record<string, TopicConfig>; dataVersion: DataVersion } {
    return { topicConfigTable: Object.fromEntries(this.table), dataVersion: this.dataVersion };
  }

  /** Create or replace a topic; resolves once persisted (or once a failed write was reported, see `changed`). */
  async upsert(config: TopicConfig): Promise<void> {
    checkName(config.topicName);
    this.table.set(config.topicName, { ...config });
    await this.changed();
  }

  /** Remove a topic; true when it existed. */
  async delete(topicName: string): Promise<boolean> {
    const existed = this.table.delete(topicName);
    if (existed) await this.changed();
    return existed;
  }

  /**
   * RocketMQ's `createTopicInSendMessageMethod`: an unknown topic sent with `defaultTopic` =
   * TBW102 is created when that template exists and allows inheritance, with
   * min(requested, template) queues and the template's permission less INHERIT. Returns the new
   * config, or undefined when auto-creation does not apply.
   */
  async autoCreate(topicName: string, defaultTopic: string, requestedQueueNums: number, topicSysFlag = 0): Promise<TopicConfig | undefined> {
    const existing = this.table.get(topicName);
    if (existing) return existing;
    const template = this.table.get(defaultTopic);
    if (!template || defaultTopic !== SystemTopic.AUTO_CREATE_TOPIC_KEY || !this.options.autoCreateTopicEnable) return undefined;
    if ((template.perm & Perm.INHERIT) === 0) return undefined;
    checkName(topicName);
    const queues = Math.max(1, Math.min(requestedQueueNums || this.options.defaultTopicQueueNums, template.writeQueueNums));
    const created = { ...topic(topicName, queues, queues, template.perm & ~Perm.INHERIT), topicSysFlag };
    this.table.set(topicName, created);
    await this.changed();
    return created;
  }

  /**
   * RocketMQ's `createTopicInSendMessageBackMethod`: retry and DLQ topics are created on first use
   * with the given queue count and permission, without any template.
   */
  async ensure(topicName: string, queueNums: number, perm: number, topicSysFlag = 0): Promise<TopicConfig> {
    return (await this.ensureAll([{ topicName, queueNums, perm, topicSysFlag }]))[0]!;
  }

  /** `ensure` for several topics, every name checked first and the table written once. */
  async ensureAll(wanted: ReadonlyArray<{ topicName: string; queueNums: number; perm: number; topicSysFlag?: number }>): Promise<TopicConfig[]> {
    for (const w of wanted) if (!this.table.has(w.topicName)) checkName(w.topicName);
    let changed = false;
    const out = wanted.map((w) => {
      const existing = this.table.get(w.topicName);
      if (existing) return existing;
      const created = { ...topic(w.topicName, w.queueNums, w.queueNums, w.perm), topicSysFlag: w.topicSysFlag ?? 0 };
      this.table.set(w.topicName, created);
      changed = true;
      return created;
    });
    if (changed) await this.changed();
    return out;
  }

  /**
   * A slave's copy of its master's table (the master's data overwrites the slave's). Skipped
   * when the data version is the one already held; otherwise replaced whole and persisted.
   * Returns whether anything changed.
   */
  async replaceAll(topicConfigTable: Record<string, TopicConfig>, dataVersion: DataVersion): Promise<boolean> {
    if (dataVersion.timestamp === this.version.timestamp && dataVersion.counter === this.version.counter) return false;
    this.table.clear();
    // A master's bad name is not copied: the slave registers with the nameservers too.
    for (const [name, config] of Object.entries(topicConfigTable)) if (!topicNameProblem(name)) this.table.set(name, { ...config });
    this.version = { ...dataVersion };
    await this.store?.persist({ topicConfigTable: Object.fromEntries(this.table), dataVersion: this.version });
    return true;
  }

  /** Write the table again if its last write failed (the broker calls this every flushConsumerOffsetInterval). */
  async retryPersist(): Promise<void> {
    await this.store?.retry();
  }

  /**
   * Bump the data version and write the table. A failed write (a full disk) is reported and
   * retried by `retryPersist`, never thrown: the topic is served from memory meanwhile.
   */
  private async changed(): Promise<void> {
    this.version = { timestamp: this.clock(), counter: this.version.counter + 1 };
    await this.store?.persist({ topicConfigTable: Object.fromEntries(this.table), dataVersion: this.version });
  }
}

/** Every topic the broker creates passes the rule the nameservers apply to its registration. */
function checkName(topicName: string): void {
  const problem = topicNameProblem(topicName);
  if (problem) throw new InvalidArgumentError(`cannot create the topic: ${problem}`);
}

function topic(topicName: string, readQueueNums: number, writeQueueNums: number, perm: number): TopicConfig {
  return { topicName, readQueueNums, writeQueueNums, perm, topicFilterType: 'SINGLE_TAG', topicSysFlag: 0, order: false };
}
