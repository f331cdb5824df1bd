/**
 * `Producer` (RocketMQ `DefaultMQProducer`): validates a message, gives it a unique id once,
 * compresses large bodies, picks a queue from the topic's publish list and sends it to that
 * queue's master with SEND_MESSAGE_V2, retrying on another broker within one `sendMsgTimeout`
 * budget. Sends to an explicit queue or through a selector, and oneway sends, are never retried.
 */
import { EventEmitter } from 'node:events';
import {
  ConnectionClosedError,
  InvalidArgumentError,
  KarmanError,
  MessageProperty,
  MessageSysFlag,
  RemoteError,
  RequestCode,
  RequestTimeoutError,
  ResponseCode,
  compressBody,
  createRequest,
  createUniqueId,
  encodeBatch,
  propertiesToString,
  isRetryTopic,
  sendTopicProblem,
} from '@karman/protocol';
import type { RemotingCommand } from '@karman/protocol';
import { ClientInstance, publishQueues } from '@karman/client';
import type { ClientStatus, MessageQueue } from '@karman/client';
import { LatencyFaultTolerance } from './fault-strategy.js';
import type { Message, SendResult, SendStatus } from './message.js';
import { AutoBatcher } from './auto-batcher.js';
import type { ProducerOptions, ResolvedProducerOptions } from './producer-options.js';
import { resolveProducerOptions } from './producer-options.js';
import type { QueueSelector } from './queue-selector.js';

/** Property names a user may not set: the client and broker own them. */
const RESERVED_PROPERTIES = new Set<string>(Object.values(MessageProperty));

const STORED_STATUS: Record<number, SendStatus> = {
  [ResponseCode.SUCCESS.code]: 'SEND_OK',
  [ResponseCode.FLUSH_DISK_TIMEOUT.code]: 'FLUSH_DISK_TIMEOUT',
  [ResponseCode.FLUSH_SLAVE_TIMEOUT.code]: 'FLUSH_SLAVE_TIMEOUT',
  [ResponseCode.SLAVE_NOT_AVAILABLE.code]: 'SLAVE_NOT_AVAILABLE',
};

export interface SendOptions<A = unknown> {
  /** Send to this queue; one attempt, no retry. */
  queue?: MessageQueue;
  /** Pick the queue with this selector and `arg`; one attempt, no retry. */
  selector?: QueueSelector<A>;
  arg?: A;
  /** Budget for this send instead of `sendMsgTimeout`. */
  timeoutMillis?: number;
  signal?: AbortSignal;
}

/** A message ready for the wire: validated, with its unique id, properties and (maybe) compressed body. */
export interface PreparedMessage {
  topic: string;
  body: Buffer;
  sysFlag: number;
  flag: number;
  properties: Record<string, string>;
  uniqKey: string;
  delayed: boolean;
  waitStoreMsgOK: boolean;
  /** The caller's message, given to selectors. */
  original: Message;
  /** Whether the body is an encoded batch (SEND_BATCH_MESSAGE). */
  batch?: boolean;
}

interface PublishInfo {
  queues: MessageQueue[];
  /** Set when the topic has no route and TBW102's is used for auto-creation. */
  defaultTopic?: string;
}

/** RocketMQ's producer, on Karman's transports. */
export class Producer implements AsyncDisposable {
  readonly options: ResolvedProducerOptions;
  private client: ClientInstance | undefined;
  private readonly events = new EventEmitter();
  private readonly faults = new LatencyFaultTolerance();
  private readonly batcher: AutoBatcher | undefined;
  private sendWhichQueue = Math.floor(Math.random() * 0x7fffffff);
  /** Topics that passed `sendTopicProblem`. */
  private readonly checkedTopics = new Set<string>();
  private inFlightSends = 0;
  private inFlightBytes = 0;
  private readonly slotWaiters: Array<() => void> = [];
  private detector: NodeJS.Timeout | undefined;
  private readonly forwardStatus = (status: ClientStatus): void => {
    this.events.emit('status', status);
  };

  constructor(options: ProducerOptions) {
    this.options = resolveProducerOptions(options);
    this.batcher = this.options.autoBatch ? new AutoBatcher(this.options.autoBatch, (topic, messages) => this.sendBatchPrepared(topic, messages)) : undefined;
  }

  /** Connect to the nameservers' client instance and register the group. */
  async start(): Promise<void> {
    if (this.client) return;
    const client = ClientInstance.acquire(this.options);
    try {
      client.registerProducer({ group: this.options.group });
    } catch (error) {
      await client.release();
      throw error;
    }
    client.on('status', this.forwardStatus);
    this.client = client;
    if (this.options.sendLatencyFaultEnable) {
      this.detector = setInterval(() => void this.probeUnreachable(), this.options.detectInterval);
      this.detector.unref();
    }
  }

  /** Flush pending batches, unregister and release the client instance. */
  async shutdown(): Promise<void> {
    const client = this.client;
    if (!client) return;
    await this.batcher?.flushAll();
    clearInterval(this.detector);
    this.client = undefined;
    client.off('status', this.forwardStatus);
    await client.unregisterProducer(this.options.group);
    await client.release();
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.shutdown();
  }

  /** Status events of the shared client (`{ type }` unions). */
  on(event: 'status', listener: (status: ClientStatus) => void): this {
    this.events.on(event, listener);
    return this;
  }

  /** Send and wait for the broker's answer. */
  async send<A>(message: Message, options: SendOptions<A> = {}): Promise<SendResult> {
    const client = this.started();
    const prepared = this.prepare(message);
    if (this.batcher && !options.queue && !options.selector && !prepared.delayed && options.timeoutMillis === undefined && !options.signal) {
      return this.withSlot(prepared.body.length, () => this.batcher!.add(prepared));
    }
    return this.withSlot(prepared.body.length, () => this.sendPrepared(client, prepared, options as SendOptions<unknown>));
  }

  /** Send without waiting for an answer: one attempt, no retry, no result. */
  async sendOneway(message: Message, options: Omit<SendOptions, 'timeoutMillis'> = {}): Promise<void> {
    const client = this.started();
    const prepared = this.prepare(message);
    const info = await this.publishInfo(client, prepared.topic);
    const queue = this.chooseQueue(info, prepared, options, undefined);
    const address = await this.masterAddress(client, queue.brokerName);
    await client.broker(address).oneway(this.sendRequest(prepared, queue, info));
  }

  /**
   * Send messages of one topic as one SEND_BATCH_MESSAGE to one queue; each gets its own result
   * with consecutive queue offsets. Batches may not carry delay levels or go to retry topics, and
   * the encoded batch must fit in `maxMessageSize`.
   */
  async sendBatch(messages: readonly Message[], options: Pick<SendOptions, 'queue' | 'timeoutMillis'> = {}): Promise<SendResult[]> {
    this.started();
    if (messages.length === 0) throw new InvalidArgumentError('sendBatch needs at least one message');
    const topic = messages[0]!.topic;
    const prepared = messages.map((m) => {
      if (m.topic !== topic) throw new InvalidArgumentError(`a batch goes to one topic: "${m.topic}" differs from "${topic}"; send it separately`);
      if (m.delayLevel) throw new InvalidArgumentError('messages in a batch cannot have a delay level; send delayed messages one by one');
      return this.prepare(m);
    });
    if (isRetryTopic(topic)) throw new InvalidArgumentError(`batches cannot go to retry topic "${topic}"`);
    if (new Set(prepared.map((p) => p.waitStoreMsgOK)).size > 1) throw new InvalidArgumentError('all messages in a batch need the same waitStoreMsgOK');
    const bytes = prepared.reduce((n, p) => n + p.body.length, 0);
    return this.withSlot(bytes, () => this.sendBatchPrepared(topic, prepared, options));
  }

  // -------------------------------------------------------------------------------------------

  private started(): ClientInstance {
    if (!this.client) throw new KarmanError('PRODUCER_NOT_STARTED', 'the producer is not started; call `await producer.start()` first');
    return this.client;
  }

  /** Validate a message and turn it into what goes on the wire (unique id set once, here). */
  prepare(message: Message): PreparedMessage {
    if (!this.checkedTopics.has(message.topic)) {
      const topicProblem = sendTopicProblem(message.topic);
      if (topicProblem) throw new InvalidArgumentError(`cannot send: ${topicProblem}`);
      // Topics repeat: check each once (bounded, in case names are generated).
      if (this.checkedTopics.size >= 4096) this.checkedTopics.clear();
      this.checkedTopics.add(message.topic);
    }
    let body: Buffer;
    if (typeof message.body === 'string') body = Buffer.from(message.body, 'utf8');
    else if (message.body instanceof Uint8Array) body = Buffer.from(message.body.buffer, message.body.byteOffset, message.body.byteLength);
    else throw new InvalidArgumentError('cannot send: the message body must be a string, Buffer or Uint8Array');
    if (body.length === 0) throw new InvalidArgumentError('cannot send: the message body is empty; RocketMQ refuses empty bodies');
    if (body.length > this.options.maxMessageSize) {
      throw new InvalidArgumentError(`cannot send: the body is ${body.length} bytes; the limit (maxMessageSize) is ${this.options.maxMessageSize}`);
    }
    const properties: Record<string, string> = {};
    if (message.properties) for (const [key, value] of Object.entries(message.properties)) {
      if (RESERVED_PROPERTIES.has(key)) throw new InvalidArgumentError(`cannot send: property "${key}" is reserved by RocketMQ; use the message's own field (tags, keys, delayLevel) or another name`);
      if (typeof value !== 'string') throw new InvalidArgumentError(`cannot send: property "${key}" must be a string`);
      properties[key] = value;
    }
    if (message.tags !== undefined) {
      if (typeof message.tags !== 'string' || message.tags.length === 0) throw new InvalidArgumentError('cannot send: tags must be a non-empty string');
      properties[MessageProperty.TAGS] = message.tags;
    }
    if (message.keys !== undefined) {
      const keys = typeof message.keys === 'string' ? [message.keys] : [...message.keys];
      if (keys.some((k) => typeof k !== 'string' || k.length === 0 || /\s/.test(k))) throw new InvalidArgumentError('cannot send: each key must be a non-empty string without spaces');
      if (keys.length > 0) properties[MessageProperty.KEYS] = keys.join(' ');
    }
    const delayLevel = message.delayLevel ?? 0;
    if (!Number.isInteger(delayLevel) || delayLevel < 0) throw new InvalidArgumentError(`cannot send: delayLevel must be a whole number ≥ 0, got ${delayLevel}`);
    if (delayLevel > 0) properties[MessageProperty.DELAY] = String(delayLevel);
    const waitStoreMsgOK = message.waitStoreMsgOK ?? true;
    properties[MessageProperty.WAIT] = waitStoreMsgOK ? 'true' : 'false';
    const uniqKey = createUniqueId();
    properties[MessageProperty.UNIQ_KEY] = uniqKey;
    let sysFlag = 0;
    if (body.length >= this.options.compressMsgBodyOverHowmuch) {
      body = compressBody(body, this.options.compressLevel);
      sysFlag |= MessageSysFlag.COMPRESSED;
    }
    return { topic: message.topic, body, sysFlag, flag: message.flag ?? 0, properties, uniqKey, delayed: delayLevel > 0, waitStoreMsgOK, original: message };
  }

  private async sendPrepared(client: ClientInstance, prepared: PreparedMessage, options: SendOptions<unknown>): Promise<SendResult> {
    const budget = options.timeoutMillis ?? this.options.sendMsgTimeout;
    const begin = Date.now();
    const single = Boolean(options.queue || options.selector);
    const attempts = single ? 1 : 1 + this.options.retryTimesWhenSendFailed;
    const brokersSent: string[] = [];
    let lastError: unknown;
    let lastBrokerName: string | undefined;
    for (let attempt = 0; attempt < attempts; attempt++) {
      options.signal?.throwIfAborted();
      const remaining = budget - (Date.now() - begin);
      if (remaining <= 0) break;
      const info = await this.publishInfo(client, prepared.topic);
      const queue = this.chooseQueue(info, prepared, options, lastBrokerName);
      lastBrokerName = queue.brokerName;
      brokersSent.push(queue.brokerName);
      const started = Date.now();
      try {
        const address = await this.masterAddress(client, queue.brokerName);
        // Route and address lookups count against the budget, as in RocketMQ's sendKernelImpl: the
        // request gets only what is left, and none is sent when nothing is.
        const left = budget - (Date.now() - begin);
        if (left <= 0) {
          lastError = new KarmanError('SEND_TIMEOUT', `the send timeout (${budget} ms) ran out while looking up the route and broker of ${prepared.topic}`);
          break;
        }
        const response = await client.broker(address).request(this.sendRequest(prepared, queue, info), { timeoutMillis: left, signal: options.signal });
        this.recordLatency(queue.brokerName, Date.now() - started, false);
        const result = this.toResult(response, prepared, queue, address);
        if (result.status !== 'SEND_OK' && this.options.retryAnotherBrokerWhenNotStoreOK && attempt + 1 < attempts) continue;
        return result;
      } catch (error) {
        lastError = error;
        const transport = error instanceof ConnectionClosedError || error instanceof RequestTimeoutError;
        this.recordLatency(queue.brokerName, Date.now() - started, transport);
        // The error's own table decides (codes.ts for a broker's answer, error-codes.ts for Karman's):
        // RocketMQ's `retryResponseCodes` plus FLOW_CONTROL, and every transport failure.
        const retriable = transport || (error instanceof KarmanError && error.retriable);
        if (!retriable || single) throw error;
      }
    }
    const cost = Date.now() - begin;
    const reason = lastError instanceof Error ? lastError.message : 'the send timeout ran out before an attempt';
    throw new KarmanError('SEND_FAILED', `send to topic ${prepared.topic} failed after ${brokersSent.length} attempt(s) in ${cost} ms (brokers ${brokersSent.join(', ') || 'none'}): ${reason}`, {
      cause: lastError,
    });
  }

  private async sendBatchPrepared(topic: string, prepared: readonly PreparedMessage[], options: Pick<SendOptions, 'queue' | 'timeoutMillis'> = {}): Promise<SendResult[]> {
    const client = this.started();
    const body = encodeBatch(prepared.map((p) => ({ body: p.body, flag: p.flag, properties: p.properties })));
    if (body.length > this.options.maxMessageSize) {
      throw new InvalidArgumentError(`the batch encodes to ${body.length} bytes; the limit (maxMessageSize) is ${this.options.maxMessageSize}: split it`);
    }
    const carrier: PreparedMessage = { ...prepared[0]!, topic, body, sysFlag: 0, flag: 0, properties: { [MessageProperty.WAIT]: String(prepared[0]!.waitStoreMsgOK) }, batch: true };
    const result = await this.sendPrepared(client, carrier, options);
    const offsetIds = result.offsetMsgId.split(',');
    return prepared.map((p, i) => ({
      status: result.status,
      msgId: p.uniqKey,
      offsetMsgId: offsetIds[i] ?? '',
      messageQueue: result.messageQueue,
      queueOffset: result.queueOffset + i,
    }));
  }

  private sendRequest(prepared: PreparedMessage, queue: MessageQueue, info: PublishInfo): RemotingCommand {
    return createRequest(
      prepared.batch ? RequestCode.SEND_BATCH_MESSAGE.code : RequestCode.SEND_MESSAGE_V2.code,
      {
        a: this.options.group,
        b: prepared.topic,
        c: info.defaultTopic ?? this.options.createTopicKey,
        d: this.options.defaultTopicQueueNums,
        e: queue.queueId,
        f: prepared.sysFlag,
        g: Date.now(),
        h: prepared.flag,
        i: propertiesToString(prepared.properties),
        j: 0,
        k: false,
        m: prepared.batch ? true : undefined,
      },
      prepared.body,
    );
  }

  private toResult(response: RemotingCommand, prepared: PreparedMessage, queue: MessageQueue, address: string): SendResult {
    const status = STORED_STATUS[response.code];
    if (!status) throw new RemoteError(response.code, response.remark, address);
    const queueId = Number(response.extFields.queueId ?? queue.queueId);
    return {
      status,
      msgId: prepared.uniqKey,
      offsetMsgId: String(response.extFields.msgId ?? ''),
      messageQueue: { topic: queue.topic, brokerName: queue.brokerName, queueId },
      queueOffset: Number(response.extFields.queueOffset ?? -1),
    };
  }

  /** The topic's publish list, or TBW102's (capped at `defaultTopicQueueNums` per broker) for auto-creation. */
  private async publishInfo(client: ClientInstance, topic: string): Promise<PublishInfo> {
    client.watchTopic(topic);
    const route = client.cachedRoute(topic) ?? (await client.updateRoute(topic));
    const queues = route ? publishQueues(topic, route) : [];
    if (queues.length > 0) return { queues };
    const template = await client.route(this.options.createTopicKey);
    if (template) {
      const capped = { ...template, queueDatas: template.queueDatas.map((q) => ({ ...q, writeQueueNums: Math.min(q.writeQueueNums, this.options.defaultTopicQueueNums), readQueueNums: Math.min(q.readQueueNums, this.options.defaultTopicQueueNums) })) };
      const fallback = publishQueues(topic, capped);
      if (fallback.length > 0) return { queues: fallback, defaultTopic: this.options.createTopicKey };
    }
    throw new KarmanError(
      'NO_ROUTE',
      `topic "${topic}" has no route on nameserver ${client.currentNameServer}: create it (karman-admin updateTopic -t ${topic} -c DefaultCluster) or enable autoCreateTopicEnable on the brokers`,
    );
  }

  private chooseQueue(info: PublishInfo, prepared: PreparedMessage, options: SendOptions<unknown>, lastBrokerName: string | undefined): MessageQueue {
    if (options.queue) return options.queue;
    if (options.selector) {
      const chosen = options.selector(info.queues, prepared.original, options.arg);
      if (!chosen) throw new InvalidArgumentError(`the selector chose no queue among the ${info.queues.length} of topic ${prepared.topic}`);
      return chosen;
    }
    const queues = info.queues;
    const next = (): MessageQueue => {
      this.sendWhichQueue = (this.sendWhichQueue + 1) & 0x7fffffff;
      return queues[this.sendWhichQueue % queues.length]!;
    };
    if (this.options.sendLatencyFaultEnable) {
      const filters: Array<(q: MessageQueue) => boolean> = [
        (q) => this.faults.isAvailable(q.brokerName) && q.brokerName !== lastBrokerName,
        (q) => this.faults.isReachable(q.brokerName) && q.brokerName !== lastBrokerName,
      ];
      for (const accept of filters) {
        for (let i = 0; i < queues.length; i++) {
          const q = next();
          if (accept(q)) return q;
        }
      }
      return next();
    }
    if (lastBrokerName !== undefined) {
      for (let i = 0; i < queues.length; i++) {
        const q = next();
        if (q.brokerName !== lastBrokerName) return q;
      }
    }
    return next();
  }

  private async masterAddress(client: ClientInstance, brokerName: string): Promise<string> {
    let address = client.findBrokerAddress(brokerName, true);
    if (!address) {
      for (const topic of [this.options.createTopicKey]) await client.updateRoute(topic).catch(() => undefined);
      address = client.findBrokerAddress(brokerName, true);
    }
    if (!address) throw new KarmanError('NO_BROKER_ADDRESS', `broker ${brokerName} has no master address in the routes`);
    return address;
  }

  private recordLatency(brokerName: string, latency: number, isolation: boolean): void {
    if (this.options.sendLatencyFaultEnable) this.faults.update(brokerName, latency, isolation);
  }

  private async probeUnreachable(): Promise<void> {
    const client = this.client;
    if (!client) return;
    for (const brokerName of this.faults.unreachable()) {
      const address = client.findBrokerAddress(brokerName, true);
      if (!address) continue;
      try {
        await client.broker(address).request(createRequest(RequestCode.HEART_BEAT.code, {}, Buffer.from(JSON.stringify(client.heartbeatData()))), { timeoutMillis: 200 });
        this.faults.restore(brokerName);
      } catch {
        // still unreachable
      }
    }
  }

  /** Run `task` within the in-flight caps (count and bytes), waiting or failing fast when full. */
  private async withSlot<T>(bytes: number, task: () => Promise<T>): Promise<T> {
    while (this.inFlightSends >= this.options.maxInFlightSends || (this.inFlightBytes > 0 && this.inFlightBytes + bytes > this.options.maxInFlightBytes)) {
      if (this.options.failFastWhenBusy) {
        throw new KarmanError('PRODUCER_BUSY', `the producer has ${this.inFlightSends} sends (${this.inFlightBytes} bytes) in flight, at its cap (maxInFlightSends ${this.options.maxInFlightSends}, maxInFlightBytes ${this.options.maxInFlightBytes}); retry later`);
      }
      await new Promise<void>((resolve) => this.slotWaiters.push(resolve));
    }
    this.inFlightSends++;
    this.inFlightBytes += bytes;
    try {
      return await task();
    } finally {
      this.inFlightSends--;
      this.inFlightBytes -= bytes;
      this.slotWaiters.shift()?.();
    }
  }
}
