/**
 * The produce side of the broker: SEND_MESSAGE (10), SEND_MESSAGE_V2 (310), SEND_BATCH_MESSAGE (320)
 * and CONSUMER_SEND_MSG_BACK (36), RocketMQ's `SendMessageProcessor` and its
 * `AbstractSendMessageProcessor.msgCheck`.
 *
 * A send is checked in RocketMQ's order (broker role and permission, topic name, topic lookup or
 * auto-creation through TBW102, topic permission, queue id), then stored. A message carrying
 * a DELAY level is stored in SCHEDULE_TOPIC_XXXX instead and delivered later by
 * `ScheduleMessageService`. Every expected failure is a response code with a remark naming what
 * was wrong and what to do; nothing here throws for bad input.
 */
import { isIP } from 'node:net';
import { PutMessageStatus } from '@karman/commitlog';
import type { PutMessageInput, PutMessageResult } from '@karman/commitlog';
import {
  CompressionType,
  MessageProperty,
  MessageSysFlag,
  Perm,
  RETRY_GROUP_TOPIC_PREFIX,
  RequestCode,
  ResponseCode,
  SystemTopic,
  checkInflatedSize,
  createOffsetMessageId,
  createResponse,
  decodeBatch,
  decodeProperties,
  dlqTopic,
  consumerGroupNameProblem,
  isRetryTopic,
  isWriteable,
  retryTopic,
  sendMessageHeaderFromV2,
  sendTopicProblem,
  topicNameProblem,
} from '@karman/protocol';
import type {
  BatchEntry,
  KarmanError,
  ConsumerSendMsgBackRequestHeader,
  ExtFieldValue,
  HostAddress,
  MessageRecord,
  RemotingCommand,
  SendMessageRequestHeader,
  SendMessageRequestHeaderV2,
  ServerConnection,
} from '@karman/protocol';
import type { BrokerContext } from './broker-context.js';
import type { TopicConfig } from './topic-config-manager.js';

/** An expected failure: the response code and the remark that tells the sender what to do. */
export interface Refusal {
  refused: true;
  code: number;
  remark: string;
}

function refuse(code: number, remark: string): Refusal {
  return { refused: true, code, remark };
}

function isRefusal(value: unknown): value is Refusal {
  return typeof value === 'object' && value !== null && (value as Partial<Refusal>).refused === true;
}

/** `%DLQ%<group>` has one queue (RocketMQ's `DLQ_NUMS_PER_GROUP`). */
const DLQ_QUEUE_NUMS = 1;
/** Retry and dead-letter topics are readable and writable (4.9.x and 5.x; older brokers made DLQs write-only). */
const RETRY_PERM = Perm.READ | Perm.WRITE;
/** RocketMQ's region when `regionId` is unset; Java producers read it from every send response. */
const DEFAULT_REGION = 'DefaultRegion';

/**
 * The response code for a store status (RocketMQ's `handlePutMessageResult`). FLUSH_DISK_TIMEOUT,
 * FLUSH_SLAVE_TIMEOUT and SLAVE_NOT_AVAILABLE still mean "stored": the response carries the ids.
 * Statuses the store may add later (OS_PAGE_CACHE_BUSY, ...) are matched by name.
 */
export function putStatusResponseCode(status: string): number {
  switch (status) {
    case PutMessageStatus.PUT_OK:
      return ResponseCode.SUCCESS.code;
    case PutMessageStatus.FLUSH_DISK_TIMEOUT:
      return ResponseCode.FLUSH_DISK_TIMEOUT.code;
    case 'FLUSH_SLAVE_TIMEOUT':
      return ResponseCode.FLUSH_SLAVE_TIMEOUT.code;
    case 'SLAVE_NOT_AVAILABLE':
      return ResponseCode.SLAVE_NOT_AVAILABLE.code;
    case PutMessageStatus.MESSAGE_ILLEGAL:
    case PutMessageStatus.PROPERTIES_SIZE_EXCEEDED:
      return ResponseCode.MESSAGE_ILLEGAL.code;
    case PutMessageStatus.SERVICE_NOT_AVAILABLE:
      return ResponseCode.SERVICE_NOT_AVAILABLE.code;
    case 'OS_PAGE_CACHE_BUSY':
      return ResponseCode.SYSTEM_BUSY.code;
    default:
      return ResponseCode.SYSTEM_ERROR.code;
  }
}

/** Whether the store kept the message (the response then carries msgId, queueId and queueOffset). */
function stored(status: string): boolean {
  return status === PutMessageStatus.PUT_OK || status === PutMessageStatus.FLUSH_DISK_TIMEOUT || status === 'FLUSH_SLAVE_TIMEOUT' || status === 'SLAVE_NOT_AVAILABLE';
}

function putRemark(result: PutMessageResult, what: string): string | undefined {
  switch (result.status) {
    case PutMessageStatus.PUT_OK:
      return undefined;
    case PutMessageStatus.FLUSH_DISK_TIMEOUT:
      return `${what} was stored but not flushed to disk within syncFlushTimeout; it is readable and will be flushed`;
    case PutMessageStatus.PROPERTIES_SIZE_EXCEEDED:
      return `${result.reason ?? 'properties too large'}; keep properties under 32767 bytes (RocketMQ advises 16 KiB)`;
    case PutMessageStatus.MESSAGE_ILLEGAL:
      return `${what} is illegal: ${result.reason ?? 'refused by the store'}`;
    case PutMessageStatus.SERVICE_NOT_AVAILABLE:
      return `${result.reason ?? 'the store is not available'}; send to another broker`;
    default:
      return `${what} could not be stored (${result.status}${result.reason ? `: ${result.reason}` : ''})`;
  }
}

/**
 * The producer's address as a record stores it. Remote addresses read "ip:port" or "[v6]:port"; an
 * IPv4-mapped IPv6 address is stored as IPv4, because 4.x clients (ali-ons) only decode IPv4 hosts.
 */
export function parseBornHost(remoteAddress: string): HostAddress {
  const colon = remoteAddress.lastIndexOf(':');
  let host = colon > 0 ? remoteAddress.slice(0, colon) : remoteAddress;
  const port = colon > 0 ? Number(remoteAddress.slice(colon + 1)) : 0;
  if (host.startsWith('[') && host.endsWith(']')) host = host.slice(1, -1);
  if (host.toLowerCase().startsWith('::ffff:') && host.includes('.')) host = host.slice(7);
  return { host: isIP(host) !== 0 ? host : '0.0.0.0', port: Number.isInteger(port) && port >= 0 && port <= 65535 ? port : 0 };
}

/**
 * a message whose DELAY level is above 0 (and that is not a prepared or rolled-back
 * transaction) is stored in SCHEDULE_TOPIC_XXXX queue level−1, with its real topic and queue in
 * REAL_TOPIC / REAL_QID. A level above the table is clamped to the last level, in the property too,
 * as RocketMQ's `CommitLog.putMessage` does. Returns the input unchanged when there is no delay.
 */
export function routeThroughSchedule(input: PutMessageInput, levels: number): PutMessageInput | Refusal {
  const text = input.properties?.[MessageProperty.DELAY];
  if (text === undefined) return input;
  const level = /^[+-]?\d{1,10}$/.test(text) ? Number(text) : Number.NaN;
  if (!Number.isInteger(level)) {
    return refuse(ResponseCode.MESSAGE_ILLEGAL.code, `the DELAY property "${text.slice(0, 20)}" is not a delay level; give an integer from 1 to ${levels} (0 for no delay)`);
  }
  if (level <= 0) return input;
  const tranType = (input.sysFlag ?? 0) & MessageSysFlag.TRANSACTION_TYPE_MASK;
  if (tranType === MessageSysFlag.TRANSACTION_PREPARED || tranType === MessageSysFlag.TRANSACTION_ROLLBACK) return input;
  const clamped = Math.min(level, levels);
  return {
    ...input,
    topic: SystemTopic.SCHEDULE,
    queueId: clamped - 1,
    properties: {
      ...input.properties,
      [MessageProperty.DELAY]: String(clamped),
      [MessageProperty.REAL_TOPIC]: input.topic,
      [MessageProperty.REAL_QID]: String(input.queueId),
    },
  };
}

/**
 * A stored record to store again under another topic and queue (a send-back, a delayed message
 * coming due): body, flag, born time and host as stored, with `properties`. SYSFLAG loses its host
 * bits, which the store derives from the hosts it is given.
 */
export function reputInput(record: MessageRecord, topic: string, queueId: number, properties: Record<string, string>, reconsumeTimes: number): PutMessageInput {
  return {
    topic,
    queueId,
    body: record.body,
    flag: record.flag,
    properties,
    sysFlag: record.sysFlag & ~(MessageSysFlag.BORNHOST_V6 | MessageSysFlag.STOREHOST_V6),
    bornTimestamp: record.bornTimestamp,
    bornHost: record.bornHost,
    reconsumeTimes,
  };
}

/** SEND_MESSAGE (10), SEND_MESSAGE_V2 (310), SEND_BATCH_MESSAGE (320), CONSUMER_SEND_MSG_BACK (36). */
export function registerSendProcessor(context: BrokerContext): void {
  const processor = new SendMessageProcessor(context);
  const { server } = context;
  const { stats } = context;
  server.registerHandler(RequestCode.SEND_MESSAGE.code, (request, { connection, header }) => {
    stats.sendRequests++;
    return processor.send(request, connection, header as SendMessageRequestHeader);
  });
  server.registerHandler(RequestCode.SEND_MESSAGE_V2.code, (request, { connection, header }) => {
    stats.sendRequests++;
    return processor.send(request, connection, sendMessageHeaderFromV2(header as SendMessageRequestHeaderV2));
  });
  // RocketMQ parses SEND_BATCH_MESSAGE with the V2 names too (`parseRequestHeader`).
  server.registerHandler(RequestCode.SEND_BATCH_MESSAGE.code, (request, { connection, header }) => {
    stats.sendRequests++;
    return processor.sendBatch(request, connection, sendMessageHeaderFromV2(header as SendMessageRequestHeaderV2));
  });
  server.registerHandler(RequestCode.CONSUMER_SEND_MSG_BACK.code, (request, { header }) => processor.sendBack(request, header as ConsumerSendMsgBackRequestHeader));
}

class SendMessageProcessor {
  /** Round-robin cursor for sends that leave the queue to the broker (queueId < 0). */
  private nextQueue = Math.floor(Math.random() * 1024);

  constructor(private readonly context: BrokerContext) {}

  private get brokerName(): string {
    return this.context.config.brokerName;
  }

  /** The extFields every send response carries (RocketMQ adds them in msgCheck, before any check). */
  private answer(request: RemotingCommand, code: number, remark?: string, fields: Record<string, ExtFieldValue | undefined> = {}): RemotingCommand {
    return createResponse(request, code, remark, { ...fields, [MessageProperty.MSG_REGION]: DEFAULT_REGION, [MessageProperty.TRACE_SWITCH]: 'true' });
  }

  private refusal(request: RemotingCommand, r: Refusal): RemotingCommand {
    return this.answer(request, r.code, r.remark);
  }

  /** What refuses every write on this broker: a slave, or a broker whose permission lacks WRITE. */
  private brokerRefusal(): Refusal | undefined {
    const { config } = this.context;
    if (config.brokerRole === 'SLAVE') {
      return refuse(ResponseCode.SERVICE_NOT_AVAILABLE.code, `broker ${this.brokerName} (id ${config.brokerId}) is a slave and does not accept messages; send to the master (broker id 0)`);
    }
    // RocketMQ checks the broker permission only for ordered topics because the route already hides a
    // read-only broker from producers; refusing every write is the same for routed producers and also
    // stops those with a stale route.
    if (!isWriteable(config.brokerPermission)) {
      return refuse(ResponseCode.NO_PERMISSION.code, `broker ${this.brokerName} is not writable (brokerPermission ${config.brokerPermission}); send to another broker or restore its write permission`);
    }
    return undefined;
  }

  /**
   * RocketMQ's `msgCheck`: name rules, topic lookup (auto-created through TBW102 when allowed, or a
   * `%RETRY%` topic created for its group), topic permission and the queue id. A negative queue id
   * lets the broker pick among the write queues.
   */
  private async checkTopic(header: SendMessageRequestHeader): Promise<Refusal | { config: TopicConfig; queueId: number }> {
    const { topics, groups, config: brokerConfig } = this.context;
    const topic = header.topic;
    const nameProblem = topicNameProblem(topic);
    if (nameProblem) return refuse(ResponseCode.SYSTEM_ERROR.code, `cannot send: ${nameProblem}`);
    const reserved = sendTopicProblem(topic);
    if (reserved) return refuse(ResponseCode.NO_PERMISSION.code, `cannot send: ${reserved}`);

    let config = topics.get(topic);
    if (!config) {
      config = await topics.autoCreate(topic, header.defaultTopic, header.defaultTopicQueueNums);
      if (!config && isRetryTopic(topic)) {
        const group = await groups.findOrCreate(topic.slice(RETRY_GROUP_TOPIC_PREFIX.length));
        if (group) config = await topics.ensure(topic, group.retryQueueNums, RETRY_PERM);
      }
      if (config) this.context.topicsChanged();
    }
    if (!config) {
      const how = brokerConfig.autoCreateTopicEnable
        ? `the producer's default topic is "${header.defaultTopic}", not ${SystemTopic.AUTO_CREATE_TOPIC_KEY}; create the topic with updateTopic`
        : 'create it with updateTopic or enable autoCreateTopicEnable';
      return refuse(ResponseCode.TOPIC_NOT_EXIST.code, `topic "${topic}" does not exist on broker ${this.brokerName}; ${how}`);
    }
    if (!isWriteable(config.perm)) {
      return refuse(ResponseCode.NO_PERMISSION.code, `topic "${topic}" is not writable on broker ${this.brokerName} (perm ${config.perm}); give it write permission with updateTopic`);
    }
    const queueCount = Math.max(config.readQueueNums, config.writeQueueNums);
    let queueId = header.queueId;
    if (queueId < 0) {
      if (config.writeQueueNums <= 0) {
        return refuse(ResponseCode.NO_PERMISSION.code, `topic "${topic}" has no write queues on broker ${this.brokerName}; raise writeQueueNums with updateTopic`);
      }
      queueId = this.nextQueue++ % config.writeQueueNums;
      if (this.nextQueue >= 0x3fffffff) this.nextQueue = 0;
    } else if (queueId >= queueCount) {
      return refuse(
        ResponseCode.SYSTEM_ERROR.code,
        `queue id ${queueId} is out of range: topic "${topic}" has ${queueCount} queues on broker ${this.brokerName} (ids 0 to ${queueCount - 1}); refresh the route or send with queueId -1`,
      );
    }
    return { config, queueId };
  }

  private async checkBody(body: Uint8Array | undefined, what: string, sysFlag: number): Promise<Refusal | undefined> {
    if (!body || body.length === 0) return refuse(ResponseCode.MESSAGE_ILLEGAL.code, `${what} has an empty body; send at least one byte`);
    const max = this.context.store.options.maxMessageSize;
    if (body.length > max) {
      return refuse(ResponseCode.MESSAGE_ILLEGAL.code, `${what} body is ${body.length} bytes, more than maxMessageSize ${max} on broker ${this.brokerName}; split or compress it`);
    }
    return this.checkCompressed(body, sysFlag, what);
  }

  /**
   * A body flagged compressed (zlib) must inflate within maxMessageSize, the limit a producer
   * checks before compressing: otherwise a 64 KiB body of zeros is stored to inflate to 64 MiB in
   * every consumer. RocketMQ's broker stores compressed bodies unchecked. `checkInflatedSize`
   * inflates off the event loop, counting and dropping chunks, and stops at the limit; a body too
   * short to pass it at deflate's best ratio (1032:1, 4064 bytes for 4 MiB) is not inflated, so it
   * is not checked to be zlib either. LZ4 and ZSTD bodies (RocketMQ 5.x) are stored unchecked, as
   * RocketMQ does: this broker cannot inflate them.
   */
  private async checkCompressed(body: Uint8Array, sysFlag: number, what: string): Promise<Refusal | undefined> {
    if ((sysFlag & MessageSysFlag.COMPRESSED) === 0) return undefined;
    const type = (sysFlag & MessageSysFlag.COMPRESSION_TYPE_MASK) >> 8;
    if (type !== CompressionType.ZLIB && type !== CompressionType.ZLIB_LEGACY) return undefined;
    const max = this.context.store.options.maxMessageSize;
    try {
      await checkInflatedSize(body, max);
      return undefined;
    } catch (error) {
      if ((error as KarmanError).code === 'BODY_TOO_LARGE') {
        return refuse(
          ResponseCode.MESSAGE_ILLEGAL.code,
          `${what} has a compressed body that inflates to more than ${max} bytes, the maxMessageSize of broker ${this.brokerName}; send it uncompressed under that size or raise maxMessageSize`,
        );
      }
      const reason = ((error as Error).cause as Error | undefined)?.message ?? (error as Error).message;
      return refuse(ResponseCode.MESSAGE_ILLEGAL.code, `${what} is flagged compressed (SYSFLAG bit 0) but is not valid zlib data (${reason}); compress it with zlib or clear the flag`);
    }
  }

  /**
   * RocketMQ's `handleRetryAndDLQ`: a message sent straight to `%RETRY%<group>` (the client's
   * fallback when CONSUMER_SEND_MSG_BACK failed) goes to `%DLQ%<group>` once it has been
   * reconsumed the group's maximum number of times.
   */
  private async retryOrDeadLetter(input: PutMessageInput, header: SendMessageRequestHeader): Promise<Refusal | PutMessageInput> {
    if (!isRetryTopic(input.topic)) return input;
    const groupName = input.topic.slice(RETRY_GROUP_TOPIC_PREFIX.length);
    const group = await this.context.groups.findOrCreate(groupName);
    if (!group) {
      return refuse(
        ResponseCode.SUBSCRIPTION_GROUP_NOT_EXIST.code,
        `consumer group "${groupName}" does not exist on broker ${this.brokerName}; create it with updateSubscriptionGroup or enable autoCreateSubscriptionGroup`,
      );
    }
    const maxReconsumeTimes = header.maxReconsumeTimes ?? group.retryMaxTimes;
    if ((header.reconsumeTimes ?? 0) < maxReconsumeTimes) return input;
    const dlq = await this.ensureTopic(dlqTopic(groupName), DLQ_QUEUE_NUMS);
    const properties = { ...input.properties };
    delete properties[MessageProperty.DELAY];
    return { ...input, topic: dlq.topicName, queueId: 0, properties };
  }

  private async ensureTopic(name: string, queueNums: number): Promise<TopicConfig> {
    const existed = this.context.topics.get(name);
    if (existed) return existed;
    const created = await this.context.topics.ensure(name, queueNums, RETRY_PERM);
    this.context.topicsChanged();
    return created;
  }

  async send(request: RemotingCommand, connection: ServerConnection, header: SendMessageRequestHeader): Promise<RemotingCommand> {
    const started = performance.now();
    const blocked = this.brokerRefusal();
    if (blocked) return this.refusal(request, blocked);
    const target = await this.checkTopic(header);
    if (isRefusal(target)) return this.refusal(request, target);
    const badBody = await this.checkBody(request.body, 'the message', header.sysFlag);
    if (badBody) return this.refusal(request, badBody);

    let input: PutMessageInput | Refusal = {
      topic: header.topic,
      queueId: target.queueId,
      body: request.body!,
      flag: header.flag,
      properties: decodeProperties(header.properties ?? ''),
      sysFlag: header.sysFlag,
      bornTimestamp: header.bornTimestamp,
      bornHost: parseBornHost(connection.remoteAddress),
      reconsumeTimes: header.reconsumeTimes ?? 0,
    };
    input = await this.retryOrDeadLetter(input, header);
    if (isRefusal(input)) return this.refusal(request, input);
    input = routeThroughSchedule(input, this.context.delayLevels.length);
    if (isRefusal(input)) return this.refusal(request, input);

    const result = await this.context.store.put(input);
    const fields: Record<string, ExtFieldValue | undefined> = {};
    if (stored(result.status)) {
      this.context.stats.recordPut(header.topic, 1, request.body!.length, performance.now() - started);
      fields.msgId = result.msgIds[0];
      fields.queueId = target.queueId;
      fields.queueOffset = result.queueOffset;
      // A prepared transaction's id is its client id (UNIQ_KEY), as RocketMQ's response carries it.
      if ((header.sysFlag & MessageSysFlag.TRANSACTION_TYPE_MASK) === MessageSysFlag.TRANSACTION_PREPARED) {
        fields.transactionId = input.properties?.[MessageProperty.UNIQ_KEY];
      }
    }
    return this.answer(request, putStatusResponseCode(result.status), putRemark(result, 'the message'), fields);
  }

  /**
   * a batch is one topic, one queue, no delay level, not a retry topic and not a
   * transaction; each entry becomes its own record with its own queue offset, all stored together.
   */
  async sendBatch(request: RemotingCommand, connection: ServerConnection, header: SendMessageRequestHeader): Promise<RemotingCommand> {
    const started = performance.now();
    const blocked = this.brokerRefusal();
    if (blocked) return this.refusal(request, blocked);
    if (isRetryTopic(header.topic)) {
      return this.answer(request, ResponseCode.MESSAGE_ILLEGAL.code, `a batch cannot be sent to the retry topic "${header.topic}"; send its messages one by one`);
    }
    const target = await this.checkTopic(header);
    if (isRefusal(target)) return this.refusal(request, target);
    const badBody = await this.checkBody(request.body, 'the batch', 0);
    if (badBody) return this.refusal(request, badBody);
    const tranType = header.sysFlag & MessageSysFlag.TRANSACTION_TYPE_MASK;
    if (tranType !== 0) {
      return this.answer(request, ResponseCode.MESSAGE_ILLEGAL.code, 'a batch cannot carry transaction messages; send them one by one');
    }
    const batchProperties = decodeProperties(header.properties ?? '');
    if (delayLevelOf(batchProperties) !== 0) {
      return this.answer(request, ResponseCode.MESSAGE_ILLEGAL.code, 'a batch cannot carry a delay level; send delayed messages one by one');
    }
    let entries: BatchEntry[];
    try {
      entries = decodeBatch(Buffer.from(request.body!.buffer, request.body!.byteOffset, request.body!.byteLength));
    } catch (error) {
      return this.answer(request, ResponseCode.MESSAGE_ILLEGAL.code, `the batch body is malformed: ${(error as Error).message}; encode it as RocketMQ's MessageBatch`);
    }
    const bornHost = parseBornHost(connection.remoteAddress);
    const inputs: PutMessageInput[] = [];
    for (const [i, entry] of entries.entries()) {
      if (entry.body.length === 0) return this.answer(request, ResponseCode.MESSAGE_ILLEGAL.code, `batch entry ${i} has an empty body; every message needs at least one byte`);
      const badEntry = await this.checkCompressed(entry.body, header.sysFlag, `batch entry ${i}`);
      if (badEntry) return this.refusal(request, badEntry);
      if (delayLevelOf(entry.properties) !== 0) {
        return this.answer(request, ResponseCode.MESSAGE_ILLEGAL.code, `batch entry ${i} carries a delay level (DELAY=${entry.properties[MessageProperty.DELAY]}); send delayed messages one by one`);
      }
      inputs.push({
        topic: header.topic,
        queueId: target.queueId,
        body: entry.body,
        flag: entry.flag,
        properties: entry.properties,
        sysFlag: header.sysFlag,
        bornTimestamp: header.bornTimestamp,
        bornHost,
        reconsumeTimes: header.reconsumeTimes ?? 0,
      });
    }
    const result = await this.context.store.putBatch(inputs);
    const fields: Record<string, ExtFieldValue | undefined> = {};
    if (stored(result.status)) {
      this.context.stats.recordPut(header.topic, result.msgNum, request.body!.length, performance.now() - started);
      fields.msgId = result.msgIds.join(',');
      fields.queueId = target.queueId;
      fields.queueOffset = result.queueOffset;
    }
    return this.answer(request, putStatusResponseCode(result.status), putRemark(result, 'the batch'), fields);
  }

  /**
   * CONSUMER_SEND_MSG_BACK: the consumer could not process the message at commit-log offset
   * `offset`. It comes back on `%RETRY%<group>` after delay level `delayLevel` (0: 3 + reconsume
   * times), or goes to `%DLQ%<group>` once reconsumed `maxReconsumeTimes` times or when the
   * consumer asks for it with a negative level.
   */
  async sendBack(request: RemotingCommand, header: ConsumerSendMsgBackRequestHeader): Promise<RemotingCommand> {
    const { context } = this;
    const started = performance.now();
    const reply = (code: number, remark?: string): RemotingCommand => createResponse(request, code, remark);
    const blocked = this.brokerRefusal();
    if (blocked) return reply(blocked.code, blocked.remark);
    const groupProblem = consumerGroupNameProblem(header.group);
    if (groupProblem) return reply(ResponseCode.SYSTEM_ERROR.code, `cannot send back: ${groupProblem}`);
    const group = await context.groups.findOrCreate(header.group);
    if (!group) {
      return reply(
        ResponseCode.SUBSCRIPTION_GROUP_NOT_EXIST.code,
        `consumer group "${header.group}" does not exist on broker ${this.brokerName}; create it with updateSubscriptionGroup or enable autoCreateSubscriptionGroup`,
      );
    }
    const original = await context.store.readRecord(header.offset);
    if (!original) {
      return reply(
        ResponseCode.SYSTEM_ERROR.code,
        `no message starts at commit-log offset ${header.offset} on broker ${this.brokerName} (it may have been deleted by retention); pass the offset of the message being sent back`,
      );
    }
    const record = original.record;
    const properties: Record<string, string> = { ...record.properties };
    properties[MessageProperty.RETRY_TOPIC] ??= record.topic;
    // RocketMQ's broker keeps the first failure's id; failing that it uses the original's offset id.
    properties[MessageProperty.ORIGIN_MESSAGE_ID] ??= createOffsetMessageId(record.storeHost, record.physicalOffset);
    // Redelivery does not wait for a flush (RocketMQ sets waitStoreMsgOK false here).
    properties[MessageProperty.WAIT] = 'false';

    const maxReconsumeTimes = header.maxReconsumeTimes ?? group.retryMaxTimes;
    let topic: TopicConfig;
    let queueId: number;
    if (record.reconsumeTimes >= maxReconsumeTimes || header.delayLevel < 0) {
      topic = await this.ensureTopic(dlqTopic(header.group), DLQ_QUEUE_NUMS);
      queueId = 0;
      delete properties[MessageProperty.DELAY];
    } else {
      topic = await this.ensureTopic(retryTopic(header.group), group.retryQueueNums);
      queueId = Math.floor(Math.random() * Math.max(1, Math.min(group.retryQueueNums, topic.writeQueueNums)));
      properties[MessageProperty.DELAY] = String(header.delayLevel === 0 ? 3 + record.reconsumeTimes : header.delayLevel);
    }
    if (!isWriteable(topic.perm)) {
      return reply(ResponseCode.NO_PERMISSION.code, `topic "${topic.topicName}" is not writable on broker ${this.brokerName} (perm ${topic.perm}); give it write permission with updateTopic`);
    }
    const routed = routeThroughSchedule(reputInput(record, topic.topicName, queueId, properties, record.reconsumeTimes + 1), context.delayLevels.length);
    if (isRefusal(routed)) return reply(routed.code, routed.remark);
    const result = await context.store.put(routed);
    if (!stored(result.status)) return reply(putStatusResponseCode(result.status), putRemark(result, 'the message sent back'));
    context.stats.recordPut(topic.topicName, 1, record.body.length, performance.now() - started);
    return reply(ResponseCode.SUCCESS.code);
  }
}

/** The DELAY level of a property map: 0 when absent, non-zero for a level or for text that is not one. */
function delayLevelOf(properties: Record<string, string>): number {
  const text = properties[MessageProperty.DELAY];
  if (text === undefined) return 0;
  const n = Number(text);
  return Number.isFinite(n) ? n : 1;
}
