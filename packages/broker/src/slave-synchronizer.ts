/**
 * Metadata sync (RocketMQ's `SlaveSynchronize`). Every `slaveSyncInterval` (10 s,
 * the 4.x cadence; the first run shortly after start) a slave copies from its master the topic
 * configs (GET_ALL_TOPIC_CONFIG 21), consumer offsets (GET_ALL_CONSUMER_OFFSET 43), delay-level
 * progress (GET_ALL_DELAY_OFFSET 45) and subscription groups (GET_ALL_SUBSCRIPTIONGROUP_CONFIG
 * 201). The master's data overwrites the slave's. Each part is copied on its own, so one failing
 * does not hold back the others.
 *
 * Bodies (RocketMQ's JSON):
 *   21   {"topicConfigTable":{name:TopicConfig},"dataVersion":{"timestamp":n,"counter":n}}
 *   43   {"offsetTable":{"topic@group":{"queueId":offset}}}
 *   45   {"offsetTable":{"level":offset}}
 *   201  {"subscriptionGroupTable":{name:SubscriptionGroupConfig},"dataVersion":{...}}
 */
import { KarmanError, RemoteError, RemotingClient, RequestCode, ResponseCode, createRequest, createResponse } from '@karman/protocol';
import type { RemotingCommand } from '@karman/protocol';
import { z } from 'zod';
import type { BrokerContext } from './broker-context.js';
import type { ScheduleMessageService } from './schedule-message-service.js';
import { SubscriptionGroupConfigSchema } from './subscription-group-manager.js';
import { DataVersionSchema, TopicConfigSchema } from './topic-config-manager.js';

const TopicsBody = z.object({ topicConfigTable: z.record(z.string(), TopicConfigSchema), dataVersion: DataVersionSchema });
const OffsetsBody = z.object({ offsetTable: z.record(z.string(), z.record(z.string(), z.number().int())) });
const DelayOffsetsBody = z.looseObject({ offsetTable: z.record(z.string(), z.number().int().min(0)) });
const GroupsBody = z.object({ subscriptionGroupTable: z.record(z.string(), SubscriptionGroupConfigSchema), dataVersion: DataVersionSchema });

/** Serve GET_ALL_CONSUMER_OFFSET and GET_ALL_DELAY_OFFSET (any broker answers them, as RocketMQ's do). */
export function registerMetadataExport(context: BrokerContext, schedule: ScheduleMessageService): void {
  const json = (request: RemotingCommand, value: unknown): RemotingCommand =>
    createResponse(request, ResponseCode.SUCCESS.code, undefined, undefined, Buffer.from(JSON.stringify(value), 'utf8'));
  context.server.registerHandler(RequestCode.GET_ALL_CONSUMER_OFFSET.code, (request) => json(request, context.offsets.serialize()));
  context.server.registerHandler(RequestCode.GET_ALL_DELAY_OFFSET.code, (request) =>
    json(request, { offsetTable: Object.fromEntries(context.delayLevels.map((_, i) => [String(i + 1), schedule.offsetOf(i + 1)])) }),
  );
}

/** First sync this long after start (RocketMQ waits 3 s; sooner when the interval is shorter). */
const FIRST_SYNC_MAX_DELAY = 3_000;

export class SlaveSynchronizer {
  private client: RemotingClient | undefined;
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;
  private stopped = false;
  /** The master's offset table as last copied: what differs from it was committed here. */
  private copiedOffsets: Record<string, Record<string, number>> | undefined;
  /** When the last complete sync finished (clock ms), 0 before the first. */
  lastSyncAt = 0;

  constructor(
    private readonly context: BrokerContext,
    private readonly masterAddress: () => string | undefined,
    /** This broker's delay-level progress: the copy is kept (and answered) there, as the master's is. */
    private readonly schedule: ScheduleMessageService,
  ) {}

  start(): void {
    const interval = this.context.config.slaveSyncInterval;
    const tick = (delay: number): void => {
      this.timer = setTimeout(() => {
        this.running = this.syncAll()
          .catch((error: unknown) => this.context.log('warn', `metadata sync from the master failed: ${(error as Error).message}`))
          .finally(() => {
            this.running = undefined;
            if (!this.stopped) tick(interval);
          });
      }, delay);
      this.timer.unref();
    };
    tick(Math.min(interval, FIRST_SYNC_MAX_DELAY));
  }

  stop(): void {
    this.stopped = true;
    clearTimeout(this.timer);
    void this.running?.finally(() => this.client?.close());
    if (!this.running) void this.client?.close();
  }

  /**
   * Offsets consumers committed to this slave while the master was away go back to the master
   * before its table is copied over them, so consumers returning to the master do not rewind
   * (RocketMQ drops them, and the group re-consumes). Only an offset that moves forward is handed
   * back: ahead of what the master had when this slave last copied it, and ahead of what the master
   * has now. A master now behind that copy was moved back on purpose (resetOffsetByTime, a consumer
   * rewinding), and the slave's older view must not undo it.
   */
  private async handBackOffsets(client: RemotingClient, address: string, current: Record<string, Record<string, number>>): Promise<void> {
    const copied = this.copiedOffsets;
    if (!copied) return; // nothing copied yet: every offset here came from the master or a previous run
    const local = this.context.offsets.serialize().offsetTable;
    for (const [key, queues] of Object.entries(local)) {
      const at = key.lastIndexOf('@');
      const topic = key.slice(0, at);
      const consumerGroup = key.slice(at + 1);
      for (const [queueId, offset] of Object.entries(queues)) {
        const took = copied[key]?.[queueId] ?? -1;
        const now = current[key]?.[queueId] ?? -1;
        if (offset <= took || now < took || offset <= now) continue;
        const response = await client.request(createRequest(RequestCode.UPDATE_CONSUMER_OFFSET.code, { consumerGroup, topic, queueId: Number(queueId), commitOffset: offset }));
        if (response.code !== ResponseCode.SUCCESS.code) throw new RemoteError(response.code, response.remark, address);
        this.context.log('info', `handed back offset ${offset} of ${topic}:${queueId} for ${consumerGroup}, committed here while the master was away`);
      }
    }
  }

  /** Copy all four tables now. Rejects with the first failure after trying every part. */
  async syncAll(): Promise<void> {
    const address = this.masterAddress();
    if (!address) return;
    const target = address.includes('://') ? address : `tcp://${address}`;
    if (this.client?.address !== target) {
      await this.client?.close();
      this.client = new RemotingClient(target, { reconnect: false });
    }
    const client = this.client;
    const { topics, groups, offsets } = this.context;
    const fetch = async <T>(code: number, schema: z.ZodType<T>): Promise<T> => {
      const response = await client.request(createRequest(code));
      if (response.code !== ResponseCode.SUCCESS.code) throw new RemoteError(response.code, response.remark, address);
      return schema.parse(JSON.parse(Buffer.from(response.body ?? []).toString('utf8')));
    };
    const results = await Promise.allSettled([
      fetch(RequestCode.GET_ALL_TOPIC_CONFIG.code, TopicsBody).then(async (b) => {
        if (await topics.replaceAll(b.topicConfigTable, b.dataVersion)) this.context.topicsChanged();
      }),
      fetch(RequestCode.GET_ALL_CONSUMER_OFFSET.code, OffsetsBody).then(async (current) => {
        await this.handBackOffsets(client, address, current.offsetTable);
        const b = await fetch(RequestCode.GET_ALL_CONSUMER_OFFSET.code, OffsetsBody);
        offsets.replaceAll(b.offsetTable);
        this.copiedOffsets = b.offsetTable;
        await offsets.persist();
      }),
      fetch(RequestCode.GET_ALL_DELAY_OFFSET.code, DelayOffsetsBody).then((b) => this.schedule.follow(b.offsetTable)),
      fetch(RequestCode.GET_ALL_SUBSCRIPTIONGROUP_CONFIG.code, GroupsBody).then((b) => groups.replaceAll(b.subscriptionGroupTable, b.dataVersion)),
    ]);
    const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
    if (failed) {
      // A dropped connection is not reused: the next round dials again.
      if (!client.connected) {
        this.client = undefined;
        await client.close();
      }
      throw KarmanError.from(failed.reason);
    }
    this.lastSyncAt = this.context.clock();
  }
}
