/**
 * Consumer-group configuration (RocketMQ `SubscriptionGroupManager`), persisted to
 * `config/subscriptionGroup.json` on every change. A group that consumes without having
 * been configured is created with RocketMQ's defaults when `autoCreateSubscriptionGroup` is on.
 */
import { z } from 'zod';
import { InvalidArgumentError, consumerGroupNameProblem } from '@karman/protocol';
import { JsonConfigFile } from './json-config-file.js';
import type { ConfigWriteReporter } from './json-config-file.js';
import type { DataVersion } from './topic-config-manager.js';
import { DataVersionSchema } from './topic-config-manager.js';

export const SubscriptionGroupConfigSchema = z.object({
  groupName: z.string(),
  consumeEnable: z.boolean().default(true),
  consumeFromMinEnable: z.boolean().default(true),
  consumeBroadcastEnable: z.boolean().default(true),
  retryQueueNums: z.number().int().min(1).default(1),
  retryMaxTimes: z.number().int().min(0).default(16),
  brokerId: z.number().int().min(0).default(0),
  whichBrokerWhenConsumeSlowly: z.number().int().min(0).default(1),
  notifyConsumerIdsChangedEnable: z.boolean().default(true),
  consumeTimeoutMinute: z.number().int().min(1).default(15),
});
/** One group's configuration, field names and defaults as RocketMQ's `SubscriptionGroupConfig`. */
export type SubscriptionGroupConfig = z.infer<typeof SubscriptionGroupConfigSchema>;

const FileSchema = z.object({
  subscriptionGroupTable: z.record(z.string(), SubscriptionGroupConfigSchema),
  dataVersion: DataVersionSchema,
});

export interface SubscriptionGroupManagerOptions {
  file?: string;
  /** Create a group's config on first use (`autoCreateSubscriptionGroup`, default true). */
  autoCreateSubscriptionGroup: boolean;
  /** Most groups auto-creation may bring the table to (`maxSubscriptionGroups`); explicit creation is not capped. */
  maxSubscriptionGroups?: number;
  clock?: () => number;
  /** Told when the file cannot be written (the table stays served from memory; see `retryPersist`). */
  reporter?: ConfigWriteReporter;
}

export class SubscriptionGroupManager {
  private readonly table = new Map<string, SubscriptionGroupConfig>();
  private version: DataVersion;
  private readonly store: JsonConfigFile<z.infer<typeof FileSchema>> | undefined;
  private readonly clock: () => number;

  constructor(private readonly options: SubscriptionGroupManagerOptions) {
    this.clock = options.clock ?? Date.now;
    this.version = { timestamp: this.clock(), counter: 0 };
    this.store = options.file ? new JsonConfigFile(options.file, FileSchema, options.reporter) : undefined;
  }

  /** Load the persisted table; returns the entries left out ("group: problem"), as `TopicConfigManager.load`. */
  load(): string[] {
    const saved = this.store?.load();
    if (!saved) return [];
    const skipped: string[] = [];
    for (const [name, config] of Object.entries(saved.subscriptionGroupTable)) {
      const problem = consumerGroupNameProblem(name);
      if (problem) skipped.push(`${JSON.stringify(name.slice(0, 60))}: ${problem}`);
      else this.table.set(name, config);
    }
    this.version = saved.dataVersion;
    return skipped;
  }

  get dataVersion(): DataVersion {
    return { ...this.version };
  }

  get(groupName: string): SubscriptionGroupConfig | undefined {
    return this.table.get(groupName);
  }

  /** The group's config, created with defaults when auto-creation is on; undefined otherwise. */
  async findOrCreate(groupName: string): Promise<SubscriptionGroupConfig | undefined> {
    return (await this.findOrCreateAll([groupName])).get(groupName);
  }

  /**
   * `findOrCreate` for several groups (a heartbeat's): every name is checked and the cap applied
   * before any is created, and the table is written once for all of them.
   */
  async findOrCreateAll(groupNames: readonly string[]): Promise<Map<string, SubscriptionGroupConfig | undefined>> {
    const found = new Map<string, SubscriptionGroupConfig | undefined>();
    const missing = new Set<string>();
    for (const name of groupNames) {
      const existing = this.table.get(name);
      found.set(name, existing);
      if (!existing && this.options.autoCreateSubscriptionGroup) missing.add(name);
    }
    if (missing.size === 0) return found;
    for (const name of missing) checkName(name);
    const max = this.options.maxSubscriptionGroups ?? Number.POSITIVE_INFINITY;
    if (this.table.size + missing.size > max) {
      throw new InvalidArgumentError(
        `cannot create the subscription group${missing.size > 1 ? 's' : ''} ${[...missing].slice(0, 3).join(', ')}: the broker holds ${this.table.size} groups and maxSubscriptionGroups is ${max}; delete unused groups (deleteSubGroup), create this one with updateSubGroup, or raise maxSubscriptionGroups`,
      );
    }
    for (const name of missing) {
      const created = SubscriptionGroupConfigSchema.parse({ groupName: name });
      this.table.set(name, created);
      found.set(name, created);
    }
    await this.changed();
    return found;
  }

  all(): SubscriptionGroupConfig[] {
    return [...this.table.values()];
  }

  serialize(): { subscriptionGroupTable: Record<string, SubscriptionGroupConfig>; dataVersion: DataVersion } {
    return { subscriptionGroupTable: Object.fromEntries(this.table), dataVersion: this.dataVersion };
  }

  /** Create or update a group; fields left out take RocketMQ's defaults. */
  async upsert(config: z.input<typeof SubscriptionGroupConfigSchema>): Promise<SubscriptionGroupConfig> {
    const parsed = SubscriptionGroupConfigSchema.parse(config);
    checkName(parsed.groupName);
    this.table.set(parsed.groupName, parsed);
    await this.changed();
    return parsed;
  }

  async delete(groupName: string): Promise<boolean> {
    const existed = this.table.delete(groupName);
    if (existed) await this.changed();
    return existed;
  }

  /** A slave's copy of its master's table, as `TopicConfigManager.replaceAll`. */
  async replaceAll(subscriptionGroupTable: Record<string, SubscriptionGroupConfig>, dataVersion: DataVersion): Promise<boolean> {
    if (dataVersion.timestamp === this.version.timestamp && dataVersion.counter === this.version.counter) return false;
    this.table.clear();
    for (const [name, config] of Object.entries(subscriptionGroupTable)) if (!consumerGroupNameProblem(name)) this.table.set(name, { ...config });
    this.version = { ...dataVersion };
    await this.store?.persist({ subscriptionGroupTable: Object.fromEntries(this.table), dataVersion: this.version });
    return true;
  }

  /** Write the table again if its last write failed (the broker calls this every flushConsumerOffsetInterval). */
  async retryPersist(): Promise<void> {
    await this.store?.retry();
  }

  /**
   * Bump the version and write the table. A failed write (a full disk) is reported and retried by
   * `retryPersist`, never thrown: the group is served from memory meanwhile, so a consumer's first
   * pull does not fail because its group could not be written.
   */
  private async changed(): Promise<void> {
    this.version = { timestamp: this.clock(), counter: this.version.counter + 1 };
    await this.store?.persist({ subscriptionGroupTable: Object.fromEntries(this.table), dataVersion: this.version });
  }
}

/** A group the broker creates must name valid retry and dead-letter topics too (`consumerGroupNameProblem`). */
function checkName(groupName: string): void {
  const problem = consumerGroupNameProblem(groupName);
  if (problem) throw new InvalidArgumentError(`cannot create the subscription group: ${problem}`);
}
