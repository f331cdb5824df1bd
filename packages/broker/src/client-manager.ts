/**
 * Who is connected (RocketMQ `ConsumerManager` + `ProducerManager`): producer and
 * consumer groups learned from HEART_BEAT, each member keyed by client id with the connection it
 * last spoke on. A member silent for `channelExpiredTimeout` (120 s) is dropped by `scanExpired`;
 * a closed connection drops its members at once. When a consumer group's membership changes, the
 * `onConsumerIdsChanged` callback fires so the broker can push NOTIFY_CONSUMER_IDS_CHANGED (40).
 */
import { z } from 'zod';
import type { RemotingCommand } from '@karman/protocol';

/** The part of a server connection the registry needs (structurally `ServerConnection`). */
export interface ClientChannel {
  readonly id: number;
  readonly remoteAddress: string;
  readonly closed: boolean;
  close(reason?: string): void;
  oneway(command: RemotingCommand): void;
  /** A request to the client, answered on the same connection (GET_CONSUMER_STATUS_FROM_CLIENT). */
  request(command: RemotingCommand, timeoutMillis?: number): Promise<RemotingCommand>;
}

/**
 * Most groups one HEART_BEAT may list (of each kind), and most topics one consumer may subscribe:
 * a client has a handful of groups; without a bound one 16 MiB heartbeat made 500,000 groups.
 */
const MAX_HEARTBEAT_GROUPS = 256;
const MAX_HEARTBEAT_SUBSCRIPTIONS = 4096;

const SubscriptionDataSchema = z.looseObject({
  topic: z.string(),
  subString: z.string().default('*'),
  tagsSet: z.array(z.string()).default([]),
  codeSet: z.array(z.number().int()).default([]),
  subVersion: z.number().default(0),
  expressionType: z.string().default('TAG'),
  classFilterMode: z.boolean().default(false),
});
/** A consumer's subscription to one topic, as RocketMQ's `SubscriptionData` JSON. */
type SubscriptionData = z.infer<typeof SubscriptionDataSchema>;

const ConsumerDataSchema = z.looseObject({
  groupName: z.string().min(1),
  consumeType: z.string().default('CONSUME_PASSIVELY'),
  messageModel: z.string().default('CLUSTERING'),
  consumeFromWhere: z.string().default('CONSUME_FROM_LAST_OFFSET'),
  subscriptionDataSet: z.array(SubscriptionDataSchema).max(MAX_HEARTBEAT_SUBSCRIPTIONS).default([]),
  unitMode: z.boolean().default(false),
});

/** HEART_BEAT body (RocketMQ `HeartbeatData`). */
export const HeartbeatDataSchema = z.looseObject({
  clientID: z.string().min(1),
  producerDataSet: z.array(z.looseObject({ groupName: z.string().min(1) })).max(MAX_HEARTBEAT_GROUPS).default([]),
  consumerDataSet: z.array(ConsumerDataSchema).max(MAX_HEARTBEAT_GROUPS).default([]),
});
export type HeartbeatData = z.infer<typeof HeartbeatDataSchema>;

/** One connected member of a group. */
export interface ClientInfo {
  clientId: string;
  channel: ClientChannel;
  language: string;
  version: number;
  lastUpdateTimestamp: number;
}

/** One consumer group as the broker knows it. */
export interface ConsumerGroupInfo {
  groupName: string;
  consumeType: string;
  messageModel: string;
  consumeFromWhere: string;
  subscriptions: Map<string, SubscriptionData>;
  members: Map<string, ClientInfo>;
}

export interface ClientManagerOptions {
  channelExpiredTimeout: number;
  clock?: () => number;
  /** Called once per group whose member set changed, with its members after the change. */
  onConsumerIdsChanged?: (group: string, members: ClientInfo[]) => void;
}

export class ClientManager {
  private readonly consumers = new Map<string, ConsumerGroupInfo>();
  private readonly producers = new Map<string, Map<string, ClientInfo>>();
  private readonly clock: () => number;

  constructor(private readonly options: ClientManagerOptions) {
    this.clock = options.clock ?? Date.now;
  }

  /** Apply a heartbeat. Returns the consumer groups whose membership changed. */
  heartbeat(channel: ClientChannel, data: HeartbeatData, language = 'JAVA', version = 0): string[] {
    const now = this.clock();
    const changed: string[] = [];
    const info = (): ClientInfo => ({ clientId: data.clientID, channel, language, version, lastUpdateTimestamp: now });
    for (const producer of data.producerDataSet) {
      let members = this.producers.get(producer.groupName);
      if (!members) this.producers.set(producer.groupName, (members = new Map()));
      members.set(data.clientID, info());
    }
    for (const consumer of data.consumerDataSet) {
      let group = this.consumers.get(consumer.groupName);
      if (!group) {
        group = {
          groupName: consumer.groupName,
          consumeType: consumer.consumeType,
          messageModel: consumer.messageModel,
          consumeFromWhere: consumer.consumeFromWhere,
          subscriptions: new Map(),
          members: new Map(),
        };
        this.consumers.set(consumer.groupName, group);
      }
      group.consumeType = consumer.consumeType;
      group.messageModel = consumer.messageModel;
      group.consumeFromWhere = consumer.consumeFromWhere;
      // RocketMQ keeps the newest subscription version per topic.
      for (const sub of consumer.subscriptionDataSet) {
        const old = group.subscriptions.get(sub.topic);
        if (!old || old.subVersion <= sub.subVersion) group.subscriptions.set(sub.topic, sub);
      }
      const previous = group.members.get(data.clientID);
      group.members.set(data.clientID, info());
      if (!previous || previous.channel !== channel) changed.push(consumer.groupName);
    }
    this.notify(changed);
    return changed;
  }

  /** UNREGISTER_CLIENT: remove a client from the named groups. */
  unregister(clientId: string, producerGroup?: string, consumerGroup?: string): void {
    if (producerGroup) this.dropProducer(producerGroup, clientId);
    if (consumerGroup && this.dropConsumer(consumerGroup, clientId)) this.notify([consumerGroup]);
  }

  /** A connection closed: drop every member that spoke on it. */
  channelClosed(channel: ClientChannel): void {
    this.removeWhere((member) => member.channel === channel);
  }

  /** Drop members silent for longer than `channelExpiredTimeout`, closing their connections. */
  scanExpired(): void {
    const deadline = this.clock() - this.options.channelExpiredTimeout;
    const expired = new Set<ClientChannel>();
    this.removeWhere((member) => {
      if (member.lastUpdateTimestamp >= deadline) return false;
      expired.add(member.channel);
      return true;
    });
    for (const channel of expired) channel.close('client heartbeat expired');
  }

  consumerGroup(group: string): ConsumerGroupInfo | undefined {
    return this.consumers.get(group);
  }

  /** Client ids of a group's consumers, sorted as rebalancing expects. */
  consumerIds(group: string): string[] {
    return [...(this.consumers.get(group)?.members.keys() ?? [])].sort();
  }

  consumerGroups(): string[] {
    return [...this.consumers.keys()];
  }

  producerGroup(group: string): ClientInfo[] {
    return [...(this.producers.get(group)?.values() ?? [])];
  }

  /** Groups subscribed to a topic. */
  groupsSubscribedTo(topic: string): string[] {
    return [...this.consumers.values()].filter((g) => g.subscriptions.has(topic)).map((g) => g.groupName);
  }

  private removeWhere(predicate: (member: ClientInfo) => boolean): void {
    const changed: string[] = [];
    for (const group of [...this.consumers.values()]) {
      for (const [clientId, member] of [...group.members]) {
        if (predicate(member) && this.dropConsumer(group.groupName, clientId)) changed.push(group.groupName);
      }
    }
    for (const [groupName, members] of [...this.producers]) {
      for (const [clientId, member] of [...members]) if (predicate(member)) this.dropProducer(groupName, clientId);
    }
    this.notify([...new Set(changed)]);
  }

  private dropConsumer(groupName: string, clientId: string): boolean {
    const group = this.consumers.get(groupName);
    if (!group?.members.delete(clientId)) return false;
    if (group.members.size === 0) this.consumers.delete(groupName);
    return true;
  }

  private dropProducer(groupName: string, clientId: string): void {
    const members = this.producers.get(groupName);
    if (!members?.delete(clientId)) return;
    if (members.size === 0) this.producers.delete(groupName);
  }

  private notify(groups: string[]): void {
    if (!this.options.onConsumerIdsChanged) return;
    for (const group of new Set(groups)) {
      this.options.onConsumerIdsChanged(group, [...(this.consumers.get(group)?.members.values() ?? [])]);
    }
  }
}
