/**
 * The admin side of the broker (RocketMQ `AdminBrokerProcessor`): what mqadmin, the dashboard and
 * karman-admin call. Topics and subscription groups (create, list, delete: each change persisted by
 * its manager, topic changes re-registered with the nameservers at once), status
 * (runtime info, consume stats, topic stats, connections) and the broker config. The offset reset
 * and consumer status, which the broker relays to the group's consumers, are in broker-to-client.ts.
 *
 * Answers keep RocketMQ's JSON. Two points about that JSON:
 *   - RocketMQ encodes bodies with fastjson, which writes a `Map` whose keys are objects with the
 *     key object itself in key position: `{"offsetTable":{{"brokerName":"b","queueId":0,
 *     "topic":"T"}:{"brokerOffset":5,...}}}`. ConsumeStats (208) and TopicStatsTable (202) are such
 *     maps, so that is what we send: Java tools (mqadmin, the dashboard) read it unchanged. It is not
 *     JSON.parse-able; `@karman/protocol`'s `parseRemotingJson` reads it and turns object-keyed maps into
 *     `[{ key, value }]` arrays, and its `encodeObjectKeyMap` writes it.
 *   - fastjson writes bean fields in alphabetical order; `encodeObjectKeyMap` sorts key objects the
 *     same way so bodies compare byte for byte with a Java broker's.
 *
 * Message queries and the store-integrity requests are in query-message-processor.ts.
 */
import { statfs } from 'node:fs/promises';
import {
  KARMAN_VERSION,
  Perm,
  RequestCode,
  ResponseCode,
  createResponse,
  encodeObjectKeyMap,
  consumerGroupNameProblem,
  MAX_TOPIC_QUEUE_NUMS,
  isSystemTopic,
  recordStoreTimestamp,
  topicNameProblem,
} from '@karman/protocol';
import type {
  CreateTopicRequestHeader,
  DeleteSubscriptionGroupRequestHeader,
  GetConsumeStatsInBrokerHeader,
  GetConsumeStatsRequestHeader,
  GetConsumerStatusRequestHeader,
  GetConsumerConnectionListRequestHeader,
  GetProducerConnectionListRequestHeader,
  RemotingCommand,
  ResetOffsetRequestHeader,
  TopicRequestHeader,
} from '@karman/protocol';
import { storeOptionsSchema } from '@karman/commitlog';
import { configBodyTooLarge, formatProperties, parseProperties } from '@karman/protocol';
import { fail, guardedRegistrar, jsonBody, ok } from './admin-answers.js';
import { registerQueryMessageProcessor } from './query-message-processor.js';
import { replicationRuntimeInfo } from './ha-service.js';
import { consumerStatus, resetOffset } from './broker-to-client.js';
import type { BrokerContext } from './broker-context.js';
import type { BrokerConfig } from './broker-config.js';
import { BrokerConfigSchema, resolveBrokerConfig } from './broker-config.js';
import { SubscriptionGroupConfigSchema } from './subscription-group-manager.js';
import type { ClientInfo } from './client-manager.js';

/**
 * Broker options an UPDATE_BROKER_CONFIG may change while the broker runs: those read from
 * `context.config` at the moment they are used. Everything else is captured at start (ports,
 * store layout, managers' options) and needs a restart.
 */
const RUNTIME_UPDATABLE_BROKER_KEYS: ReadonlySet<keyof BrokerConfig> = new Set<keyof BrokerConfig>([
  'brokerPermission',
  'longPollingEnable',
  'shortPollingTimeMills',
  'notifyConsumerIdsChangedEnable',
  'slaveReadEnable',
  'accessMessageInMemoryMaxRatio',
]);

/** Register the admin and status handlers, and the message-query ones (query-message-processor.ts). */
export function registerAdminProcessor(context: BrokerContext): void {
  registerQueryMessageProcessor(context);
  const handle = guardedRegistrar(context);
  const configVersion = { timestamp: context.clock(), counter: 0 };
  const rates = new RateSampler(context.clock);

  handle(RequestCode.UPDATE_AND_CREATE_TOPIC.code, async (request, { header }) => updateTopic(context, request, header as CreateTopicRequestHeader));
  handle(RequestCode.DELETE_TOPIC_IN_BROKER.code, async (request, { header }) => deleteTopic(context, request, (header as TopicRequestHeader).topic));
  handle(RequestCode.GET_ALL_TOPIC_CONFIG.code, (request) => ok(request, jsonBody(context.topics.serialize())));
  handle(RequestCode.GET_TOPIC_CONFIG.code, (request, { header }) => topicConfig(context, request, (header as TopicRequestHeader).topic));
  handle(RequestCode.UPDATE_AND_CREATE_SUBSCRIPTIONGROUP.code, async (request) => updateGroup(context, request));
  handle(RequestCode.GET_ALL_SUBSCRIPTIONGROUP_CONFIG.code, (request) => ok(request, jsonBody(context.groups.serialize())));
  handle(RequestCode.DELETE_SUBSCRIPTIONGROUP.code, async (request, { header }) => deleteGroup(context, request, header as DeleteSubscriptionGroupRequestHeader));
  handle(RequestCode.GET_BROKER_RUNTIME_INFO.code, async (request) => ok(request, jsonBody({ table: await runtimeInfo(context, rates) })));
  handle(RequestCode.GET_CONSUME_STATS.code, async (request, { header }) => consumeStats(context, request, header as GetConsumeStatsRequestHeader));
  handle(RequestCode.GET_TOPIC_STATS_INFO.code, async (request, { header }) => topicStats(context, request, (header as TopicRequestHeader).topic));
  handle(RequestCode.GET_BROKER_CONSUME_STATS.code, async (request, { header }) => brokerConsumeStats(context, request, (header as GetConsumeStatsInBrokerHeader).isOrder));
  handle(RequestCode.INVOKE_BROKER_TO_RESET_OFFSET.code, async (request, { header }) => resetOffset(context, request, header as ResetOffsetRequestHeader));
  handle(RequestCode.INVOKE_BROKER_TO_GET_CONSUMER_STATUS.code, async (request, { header }) => consumerStatus(context, request, header as GetConsumerStatusRequestHeader));
  handle(RequestCode.QUERY_TOPIC_CONSUME_BY_WHO.code, (request, { header }) => topicConsumers(context, request, (header as TopicRequestHeader).topic));
  handle(RequestCode.GET_CONSUMER_CONNECTION_LIST.code, (request, { header }) => consumerConnections(context, request, (header as GetConsumerConnectionListRequestHeader).consumerGroup));
  handle(RequestCode.GET_PRODUCER_CONNECTION_LIST.code, (request, { header }) => producerConnections(context, request, (header as GetProducerConnectionListRequestHeader).producerGroup));
  handle(RequestCode.GET_BROKER_CONFIG.code, (request) =>
    createResponse(request, ResponseCode.SUCCESS.code, undefined, { version: JSON.stringify(configVersion) }, Buffer.from(formatProperties(brokerConfigValues(context)), 'utf8')),
  );
  handle(RequestCode.UPDATE_BROKER_CONFIG.code, (request) => {
    const response = updateBrokerConfig(context, request);
    if (response.code === ResponseCode.SUCCESS.code) {
      configVersion.timestamp = context.clock();
      configVersion.counter++;
    }
    return response;
  });
}

/** A fastjson map whose keys are objects (see the file comment); written by `@karman/protocol`. */
export { encodeObjectKeyMap };

// ---- topics --------------------------------------------------------------------------------

async function updateTopic(context: BrokerContext, request: RemotingCommand, header: CreateTopicRequestHeader): Promise<RemotingCommand> {
  const { topic } = header;
  const refuse = (remark: string): RemotingCommand => fail(request, ResponseCode.SYSTEM_ERROR.code, `cannot create or update topic "${topic}": ${remark}`);
  const nameProblem = topicNameProblem(topic);
  if (nameProblem) return refuse(nameProblem);
  const { brokerClusterName, brokerName } = context.config;
  // RocketMQ refuses the cluster name (a routing topic) and, since 5.x, every system topic: the
  // broker owns their queue counts and permissions, and clobbering them breaks delay or routing.
  if (topic === brokerClusterName || topic === brokerName) return refuse(`it is the ${topic === brokerName ? 'broker' : 'cluster'} name, which the broker keeps as a routing topic; choose another name`);
  if (isSystemTopic(topic)) return refuse('it is a system topic managed by the broker; choose another name');
  for (const [field, value] of [['readQueueNums', header.readQueueNums], ['writeQueueNums', header.writeQueueNums]] as const) {
    if (!(value >= 1 && value <= MAX_TOPIC_QUEUE_NUMS)) return refuse(`${field}=${value} is out of range; give 1 to ${MAX_TOPIC_QUEUE_NUMS}`);
  }
  const allBits = Perm.INHERIT | Perm.WRITE | Perm.READ | Perm.PRIORITY;
  if (header.perm < 0 || (header.perm & ~allBits) !== 0) return refuse(`perm=${header.perm} has bits other than 1 (inherit), 2 (write), 4 (read), 8 (priority); use 6 for read and write`);
  const filterType = header.topicFilterType || 'SINGLE_TAG';
  if (filterType !== 'SINGLE_TAG' && filterType !== 'MULTI_TAG') return refuse(`topicFilterType="${filterType}" is neither SINGLE_TAG nor MULTI_TAG`);
  await context.topics.upsert({
    topicName: topic,
    readQueueNums: header.readQueueNums,
    writeQueueNums: header.writeQueueNums,
    perm: header.perm,
    topicFilterType: filterType,
    topicSysFlag: header.topicSysFlag ?? 0,
    order: header.order,
  });
  context.log('info', `topic ${topic} created or updated`, { topic, readQueueNums: header.readQueueNums, writeQueueNums: header.writeQueueNums, perm: header.perm });
  context.topicsChanged();
  return ok(request);
}

async function deleteTopic(context: BrokerContext, request: RemotingCommand, topic: string): Promise<RemotingCommand> {
  const { brokerClusterName, brokerName } = context.config;
  // No topic may have a name outside the rule, and the name becomes a path the store removes.
  const nameProblem = topicNameProblem(topic);
  if (nameProblem) return fail(request, ResponseCode.SYSTEM_ERROR.code, `cannot delete the topic: ${nameProblem}`);
  if (isSystemTopic(topic) || topic === brokerClusterName || topic === brokerName) {
    return fail(request, ResponseCode.SYSTEM_ERROR.code, `cannot delete topic "${topic}": it is a system topic the broker needs`);
  }
  const existed = await context.topics.delete(topic);
  // RocketMQ drops the topic's offsets and consume queues with it; a topic created again later starts afresh.
  context.offsets.removeTopic(topic);
  await context.store.deleteTopic(topic);
  if (existed) {
    context.log('info', `topic ${topic} deleted`, { topic });
    context.topicsChanged();
  }
  // Like RocketMQ, deleting an absent topic succeeds: the caller's goal (no such topic) holds.
  return createResponse(request, ResponseCode.SUCCESS.code, existed ? undefined : `topic "${topic}" did not exist on ${brokerName}`);
}

/**
 * GET_TOPIC_CONFIG (5.x): one topic's config as `TopicConfigAndQueueMapping`, the TopicConfig
 * fields plus the static-topic `mappingDetail`, which Karman never has (static topics are not
 * supported), so it is left out as fastjson leaves out a null. The 5.x admin tools read it for
 * every topic of a group in `examineConsumeStats` (mqadmin consumerProgress).
 */
function topicConfig(context: BrokerContext, request: RemotingCommand, topic: string): RemotingCommand {
  const config = context.topics.get(topic);
  if (!config) return fail(request, ResponseCode.TOPIC_NOT_EXIST.code, `No topic in this broker. topic: ${topic} (broker ${context.config.brokerName})`);
  return ok(request, jsonBody(config));
}

// ---- subscription groups -------------------------------------------------------------------

/** A SubscriptionGroupConfig is a few hundred bytes; a larger body is refused before parsing. */
const MAX_GROUP_CONFIG_BODY_BYTES = 64 * 1024;

async function updateGroup(context: BrokerContext, request: RemotingCommand): Promise<RemotingCommand> {
  const size = request.body?.length ?? 0;
  if (size > MAX_GROUP_CONFIG_BODY_BYTES) return fail(request, ResponseCode.SYSTEM_ERROR.code, `the body is ${size} bytes, over the ${MAX_GROUP_CONFIG_BODY_BYTES}-byte limit of a SubscriptionGroupConfig`);
  let input: unknown;
  try {
    input = JSON.parse(Buffer.from(request.body ?? []).toString('utf8'));
  } catch (error) {
    return fail(request, ResponseCode.SYSTEM_ERROR.code, `the body is not SubscriptionGroupConfig JSON (${(error as Error).message}); send {"groupName":"...", ...}`);
  }
  const parsed = SubscriptionGroupConfigSchema.safeParse(input);
  if (!parsed.success) {
    const problems = parsed.error.issues.map((issue) => `${issue.path.join('.') || '(body)'}: ${issue.message}`).join('; ');
    return fail(request, ResponseCode.SYSTEM_ERROR.code, `invalid SubscriptionGroupConfig: ${problems}`);
  }
  const problem = consumerGroupNameProblem(parsed.data.groupName);
  if (problem) return fail(request, ResponseCode.SYSTEM_ERROR.code, `invalid SubscriptionGroupConfig: ${problem}`);
  await context.groups.upsert(parsed.data);
  context.log('info', `subscription group ${parsed.data.groupName} created or updated`, { group: parsed.data.groupName });
  return ok(request);
}

async function deleteGroup(context: BrokerContext, request: RemotingCommand, header: DeleteSubscriptionGroupRequestHeader): Promise<RemotingCommand> {
  const group = header.groupName;
  const existed = await context.groups.delete(group);
  // RocketMQ 4.9+ drops the offsets only when asked; Karman drops them unless told to keep them,
  // so a deleted group really starts over when it comes back.
  if (header.removeOffset !== false) context.offsets.removeGroup(group);
  if (existed) context.log('info', `subscription group ${group} deleted`, { group });
  return createResponse(request, ResponseCode.SUCCESS.code, existed ? undefined : `subscription group "${group}" did not exist on ${context.config.brokerName}`);
}

// ---- status --------------------------------------------------------------------------------

/** Store time of the message at `offset` of a queue, or 0 when it is not there (RocketMQ's `getMessageStoreTimeStamp`). */
async function storeTimestampAt(context: BrokerContext, topic: string, queueId: number, offset: number): Promise<number> {
  if (offset < 0) return 0;
  const result = await context.store.getMessage({ topic, queueId, offset, maxCount: 1 });
  const buffer = result.buffers[0];
  return (buffer && recordStoreTimestamp(buffer)) ?? 0;
}

async function consumeStats(context: BrokerContext, request: RemotingCommand, header: GetConsumeStatsRequestHeader): Promise<RemotingCommand> {
  const group = header.consumerGroup;
  const topics = header.topic ? [header.topic] : context.offsets.topicsOf(group).sort();
  const online = context.clients.consumerGroup(group);
  const entries: Array<readonly [Record<string, unknown>, unknown]> = [];
  for (const topic of topics) {
    const config = context.topics.get(topic);
    if (!config) continue;
    // As RocketMQ: an online group that no longer subscribes to the topic is not reported for it.
    if (online && online.subscriptions.size > 0 && !online.subscriptions.has(topic)) continue;
    for (let queueId = 0; queueId < config.readQueueNums; queueId++) {
      const brokerOffset = Math.max(0, context.store.getMaxOffsetInQueue(topic, queueId));
      const consumerOffset = Math.max(0, context.offsets.query(group, topic, queueId));
      const lastTimestamp = await storeTimestampAt(context, topic, queueId, consumerOffset - 1);
      // 5.x OffsetWrapper: where the group last pulled (its tools show pullOffset − consumerOffset as inflight).
      const pullOffset = Math.max(consumerOffset, context.offsets.queryPull(group, topic, queueId));
      entries.push([{ brokerName: context.config.brokerName, queueId, topic }, { brokerOffset, consumerOffset, lastTimestamp, pullOffset }]);
    }
  }
  // consumeTps: Karman keeps no per-group rate yet; 0 tells tools "unknown" as RocketMQ's idle value does.
  return ok(request, Buffer.from(`{"consumeTps":0.0,"offsetTable":${encodeObjectKeyMap(entries)}}`, 'utf8'));
}

/**
 * GET_BROKER_CONSUME_STATS (mqadmin brokerConsumeStats, `fetchConsumeStatsInBroker`): the consume
 * stats of every subscription group for each topic it has offsets of (ordered topics only when
 * `isOrder`), skipping topics an online group no longer subscribes to, as RocketMQ's
 * `fetchAllConsumeStatsInBroker` does. Body ConsumeStatsList: brokerAddr, consumeStatsList
 * `[{group:[ConsumeStats,...]},...]`, totalDiff.
 */
async function brokerConsumeStats(context: BrokerContext, request: RemotingCommand, isOrder: boolean): Promise<RemotingCommand> {
  const perGroup: string[] = [];
  let totalDiff = 0;
  for (const { groupName } of context.groups.all()) {
    const online = context.clients.consumerGroup(groupName);
    const statsList: string[] = [];
    for (const topic of context.offsets.topicsOf(groupName).sort()) {
      const config = context.topics.get(topic);
      if (!config || (isOrder && !config.order)) continue;
      if (online && online.subscriptions.size > 0 && !online.subscriptions.has(topic)) continue;
      const entries: Array<readonly [Record<string, unknown>, unknown]> = [];
      for (let queueId = 0; queueId < config.writeQueueNums; queueId++) {
        const brokerOffset = Math.max(0, context.store.getMaxOffsetInQueue(topic, queueId));
        const consumerOffset = Math.max(0, context.offsets.query(groupName, topic, queueId));
        const lastTimestamp = await storeTimestampAt(context, topic, queueId, consumerOffset - 1);
        totalDiff += brokerOffset - consumerOffset;
        entries.push([{ brokerName: context.config.brokerName, queueId, topic }, { brokerOffset, consumerOffset, lastTimestamp }]);
      }
      statsList.push(`{"consumeTps":0.0,"offsetTable":${encodeObjectKeyMap(entries)}}`);
    }
    perGroup.push(`{${JSON.stringify(groupName)}:[${statsList.join(',')}]}`);
  }
  return ok(request, Buffer.from(`{"brokerAddr":${JSON.stringify(context.brokerAddr)},"consumeStatsList":[${perGroup.join(',')}],"totalDiff":${totalDiff}}`, 'utf8'));
}

async function topicStats(context: BrokerContext, request: RemotingCommand, topic: string): Promise<RemotingCommand> {
  const config = context.topics.get(topic);
  if (!config) return fail(request, ResponseCode.TOPIC_NOT_EXIST.code, `topic "${topic}" does not exist on ${context.config.brokerName}`);
  const entries: Array<readonly [Record<string, unknown>, unknown]> = [];
  for (let queueId = 0; queueId < config.writeQueueNums; queueId++) {
    const minOffset = Math.max(0, context.store.getMinOffsetInQueue(topic, queueId));
    const maxOffset = Math.max(0, context.store.getMaxOffsetInQueue(topic, queueId));
    const lastUpdateTimestamp = maxOffset > 0 ? await storeTimestampAt(context, topic, queueId, maxOffset - 1) : 0;
    entries.push([{ brokerName: context.config.brokerName, queueId, topic }, { lastUpdateTimestamp, maxOffset, minOffset }]);
  }
  return ok(request, Buffer.from(`{"offsetTable":${encodeObjectKeyMap(entries)}}`, 'utf8'));
}

/**
 * QUERY_TOPIC_CONSUME_BY_WHO (mqadmin's message track, `queryTopicConsumeByWho`): the groups online
 * with a subscription to the topic plus those holding offsets on it, as GroupList `{"groupList":[...]}`.
 */
function topicConsumers(context: BrokerContext, request: RemotingCommand, topic: string): RemotingCommand {
  const groups = new Set([...context.clients.groupsSubscribedTo(topic), ...context.offsets.groupsOf(topic)]);
  return ok(request, jsonBody({ groupList: [...groups].sort() }));
}

function connection(member: ClientInfo): Record<string, unknown> {
  return { clientAddr: member.channel.remoteAddress, clientId: member.clientId, language: member.language, version: member.version };
}

function consumerConnections(context: BrokerContext, request: RemotingCommand, group: string): RemotingCommand {
  const info = context.clients.consumerGroup(group);
  if (!info || info.members.size === 0) {
    return fail(request, ResponseCode.CONSUMER_NOT_ONLINE.code, `the consumer group "${group}" has no consumer connected to ${context.config.brokerName}; start a consumer of the group`);
  }
  return ok(
    request,
    jsonBody({
      connectionSet: [...info.members.values()].map(connection),
      consumeFromWhere: info.consumeFromWhere,
      consumeType: info.consumeType,
      messageModel: info.messageModel,
      subscriptionTable: Object.fromEntries(info.subscriptions),
    }),
  );
}

function producerConnections(context: BrokerContext, request: RemotingCommand, group: string): RemotingCommand {
  const members = context.clients.producerGroup(group);
  // RocketMQ answers SYSTEM_ERROR "the producer group not exist" here; kept so tools react the same.
  if (members.length === 0) return fail(request, ResponseCode.SYSTEM_ERROR.code, `the producer group "${group}" has no producer connected to ${context.config.brokerName}`);
  return ok(request, jsonBody({ connectionSet: members.map(connection) }));
}

/**
 * Messages-per-second over recent windows, RocketMQ's "tps10s tps60s tps600s" triple. Counters are
 * sampled whenever someone asks (runtime info, metrics), at most once a second; a window is
 * measured against the newest sample at least that old, or since start when none is.
 */
export class RateSampler {
  private readonly samples: Array<{ at: number; put: number; get: number }> = [];
  private readonly startedAt: number;

  constructor(private readonly clock: () => number) {
    this.startedAt = clock();
  }

  rates(put: number, get: number, windowsMs: readonly number[] = [10_000, 60_000, 600_000]): { put: number[]; get: number[] } {
    const now = this.clock();
    const last = this.samples.at(-1);
    if (!last || now - last.at >= 1_000) this.samples.push({ at: now, put, get });
    while (this.samples.length > 1 && now - this.samples[1]!.at >= Math.max(...windowsMs)) this.samples.shift();
    const rate = (window: number, pick: (s: { put: number; get: number }) => number, current: number): number => {
      let base = { at: this.startedAt, put: 0, get: 0 };
      for (const s of this.samples) if (now - s.at >= window) base = s;
      const seconds = (now - base.at) / 1000;
      return seconds > 0 ? (current - pick(base)) / seconds : 0;
    };
    return { put: windowsMs.map((w) => rate(w, (s) => s.put, put)), get: windowsMs.map((w) => rate(w, (s) => s.get, get)) };
  }
}

function formatTps(values: readonly number[]): string {
  return values.map((v) => v.toFixed(2)).join(' ');
}

function formatUptime(ms: number): string {
  const s = Math.floor(ms / 1000);
  return `[ ${Math.floor(s / 86_400)} days, ${Math.floor((s % 86_400) / 3600)} hours, ${Math.floor((s % 3600) / 60)} minutes, ${s % 60} seconds ]`;
}

/** RocketMQ's `MQVersion.getVersionDesc`: remoting version 395 is V4_9_4. */
function versionDesc(version: number): string {
  return version === 395 ? 'V4_9_4' : `VERSION_${version}`;
}

/** Store time of the oldest message in the commit log, 0 when it holds none (RocketMQ's `getEarliestMessageTime`). */
async function earliestMessageTime(context: BrokerContext): Promise<number> {
  const { store } = context;
  if (store.maxPhyOffset <= store.minPhyOffset) return 0;
  const found = await store.readRecord(store.minPhyOffset).catch(() => undefined);
  return found?.record.storeTimestamp ?? 0;
}

/** GET_BROKER_RUNTIME_INFO's table: RocketMQ's keys where Karman has the number, plus `karman*` keys. All values are strings, as in Java's KVTable. */
async function runtimeInfo(context: BrokerContext, rates: RateSampler): Promise<Record<string, string>> {
  const { stats, store } = context;
  const totals = stats.totals();
  const now = context.clock();
  const tps = rates.rates(totals.messagesIn, totals.messagesOut);
  let capacity = 'Total : unknown';
  let diskRatio = '-1';
  try {
    const fs = await statfs(context.config.storePathRootDir);
    const total = fs.blocks * fs.bsize;
    const free = fs.bavail * fs.bsize;
    capacity = `Total : ${(total / 2 ** 30).toFixed(2)} GiB, Free : ${(free / 2 ** 30).toFixed(2)} GiB.`;
    diskRatio = total > 0 ? String(1 - free / total) : '0';
  } catch {
    // Leave "unknown": a failed statfs must not fail the whole answer.
  }
  const table: Record<string, string | number | boolean> = {
    brokerVersionDesc: versionDesc(KARMAN_VERSION),
    brokerVersion: KARMAN_VERSION,
    bootTimestamp: stats.startTimestamp,
    runtime: formatUptime(Date.now() - stats.startTimestamp),
    brokerActive: true,
    // Counters start with the process; Karman keeps no day-boundary snapshot, so "morning" is 0.
    msgPutTotalYesterdayMorning: 0,
    msgPutTotalTodayMorning: 0,
    msgPutTotalTodayNow: totals.messagesIn,
    msgGetTotalYesterdayMorning: 0,
    msgGetTotalTodayMorning: 0,
    msgGetTotalTodayNow: totals.messagesOut,
    putTps: formatTps(tps.put),
    // 4.x spells it getTransferedTps, 5.x getTransferredTps; each mqadmin reads its own.
    getTransferedTps: formatTps(tps.get),
    getTransferredTps: formatTps(tps.get),
    putMessageTimesTotal: stats.putCount,
    putMessageSizeTotal: totals.bytesIn,
    putMessageAverageSize: totals.messagesIn > 0 ? (totals.bytesIn / totals.messagesIn).toFixed(2) : '0',
    putMessageEntireTimeMax: stats.putLatencyMaxMs,
    commitLogMinOffset: store.minPhyOffset,
    commitLogMaxOffset: store.maxPhyOffset,
    commitLogDirCapacity: capacity,
    commitLogDiskRatio: diskRatio,
    dispatchBehindBytes: 0,
    earliestMessageTimeStamp: await earliestMessageTime(context),
    sendThreadPoolQueueSize: 0,
    pullThreadPoolQueueSize: 0,
    // Karman has no request thread pools or page-cache lock to wait on.
    sendThreadPoolQueueHeadWaitTimeMills: 0,
    pullThreadPoolQueueHeadWaitTimeMills: 0,
    pageCacheLockTimeMills: 0,
    karmanStoreSizeBytes: store.maxPhyOffset - store.minPhyOffset,
    karmanFlushedPhyOffset: store.flushedPhyOffset,
    karmanDiskFull: store.isDiskFull,
    karmanPutLatencyAvgMs: stats.putCount > 0 ? (stats.putLatencyTotalMs / stats.putCount).toFixed(3) : '0',
    karmanPutLatencyMaxMs: stats.putLatencyMaxMs,
    karmanHeldPullRequests: context.holds.size,
    karmanTopics: context.topics.all().length,
    karmanSubscriptionGroups: context.groups.all().length,
    karmanOnlineConsumerGroups: context.clients.consumerGroups().length,
    karmanBytesIn: totals.bytesIn,
    karmanBytesOut: totals.bytesOut,
    karmanNow: now,
    ...replicationRuntimeInfo(context.replication),
  };
  return Object.fromEntries(Object.entries(table).map(([k, v]) => [k, String(v)]));
}

// ---- broker config -------------------------------------------------------------------------

const STORE_CONFIG_SKIP = new Set(['storePathRootDir', 'storeHost', 'clock', 'diskUsageProbe', 'logger']);

/** Every broker and store option with its current value (the store's root is the broker's). */
function brokerConfigValues(context: BrokerContext): Record<string, unknown> {
  const values: Record<string, unknown> = { ...context.config };
  const storeOptions = context.store.options as unknown as Record<string, unknown>;
  // A key both have (accessMessageInMemoryMaxRatio) shows the broker's value: the one UPDATE_BROKER_CONFIG changes.
  for (const key of Object.keys(storeOptionsSchema.shape)) if (!STORE_CONFIG_SKIP.has(key) && !(key in values)) values[key] = storeOptions[key];
  return values;
}

function updateBrokerConfig(context: BrokerContext, request: RemotingCommand): RemotingCommand {
  const tooLarge = configBodyTooLarge(request.body, 'UPDATE_BROKER_CONFIG');
  if (tooLarge) return fail(request, ResponseCode.SYSTEM_ERROR.code, tooLarge);
  const text = Buffer.from(request.body ?? []).toString('utf8');
  const updates = parseProperties(text);
  const keys = Object.keys(updates);
  if (keys.length === 0) return fail(request, ResponseCode.SYSTEM_ERROR.code, 'the body holds no key=value lines; send properties text such as "slaveReadEnable=true"');
  const known = new Set([...Object.keys(BrokerConfigSchema.shape), ...Object.keys(storeOptionsSchema.shape)]);
  const unknown = keys.filter((key) => !known.has(key));
  if (unknown.length > 0) return fail(request, ResponseCode.SYSTEM_ERROR.code, `unknown option${unknown.length > 1 ? 's' : ''} ${unknown.join(', ')}; GET_BROKER_CONFIG lists every option`);
  const fixed = keys.filter((key) => !RUNTIME_UPDATABLE_BROKER_KEYS.has(key as keyof BrokerConfig));
  if (fixed.length > 0) {
    return fail(
      request,
      ResponseCode.SYSTEM_ERROR.code,
      `option${fixed.length > 1 ? 's' : ''} ${fixed.join(', ')} cannot change while the broker runs; set ${fixed.length > 1 ? 'them' : 'it'} in broker.conf and restart (changeable at run time: ${[...RUNTIME_UPDATABLE_BROKER_KEYS].join(', ')})`,
    );
  }
  let merged: BrokerConfig;
  try {
    merged = resolveBrokerConfig({ ...context.config, ...updates });
  } catch (error) {
    return fail(request, ResponseCode.SYSTEM_ERROR.code, (error as Error).message);
  }
  const config = context.config as Record<string, unknown>;
  for (const key of keys) config[key] = merged[key as keyof BrokerConfig];
  context.log('info', 'broker config updated', { updates });
  // The nameservers learn a permission change (e.g. read-only before maintenance) at once.
  if (keys.includes('brokerPermission')) context.topicsChanged();
  // The store's in-memory window is the one every "still in memory" judgement reads.
  if (keys.includes('accessMessageInMemoryMaxRatio')) context.store.setAccessMessageInMemoryMaxRatio(merged.accessMessageInMemoryMaxRatio);
  // Not written back to a file: like `--set`, it lasts until the process stops.
  return ok(request);
}
