/**
 * Shared by the send, batch, delay, retry and auto-create scenario tests: request headers as real
 * producers write them, direct topic/group setup, and reading back what the store holds.
 */
import { GetMessageStatus } from '@karman/commitlog';
import { Perm, RequestCode, decodeRecord, propertiesToString } from '@karman/protocol';
import type { ExtFieldValue, MessageRecord, RemotingCommand } from '@karman/protocol';
import type { TestBroker } from './broker-fixture.js';

export interface SendOptions {
  queueId?: number;
  properties?: Record<string, string>;
  sysFlag?: number;
  flag?: number;
  bornTimestamp?: number;
  reconsumeTimes?: number;
  maxReconsumeTimes?: number;
  defaultTopic?: string;
  defaultTopicQueueNums?: number;
  producerGroup?: string;
}

/** SEND_MESSAGE (10) header fields with RocketMQ's long names, as a Java client sends them (strings). */
export function sendFields(topic: string, o: SendOptions = {}): Record<string, ExtFieldValue | undefined> {
  return {
    producerGroup: o.producerGroup ?? 'test_producer',
    topic,
    defaultTopic: o.defaultTopic ?? 'TBW102',
    defaultTopicQueueNums: String(o.defaultTopicQueueNums ?? 4),
    queueId: String(o.queueId ?? 0),
    sysFlag: String(o.sysFlag ?? 0),
    bornTimestamp: String(o.bornTimestamp ?? Date.now()),
    flag: String(o.flag ?? 0),
    properties: o.properties ? propertiesToString(o.properties) : undefined,
    reconsumeTimes: o.reconsumeTimes === undefined ? undefined : String(o.reconsumeTimes),
    maxReconsumeTimes: o.maxReconsumeTimes === undefined ? undefined : String(o.maxReconsumeTimes),
  };
}

/** SEND_MESSAGE_V2 (310) / SEND_BATCH_MESSAGE (320) header fields, one-letter names, raw numbers as ali-ons sends them. */
export function v2Fields(topic: string, o: SendOptions = {}): Record<string, ExtFieldValue | undefined> {
  return {
    a: o.producerGroup ?? 'test_producer',
    b: topic,
    c: o.defaultTopic ?? 'TBW102',
    d: o.defaultTopicQueueNums ?? 4,
    e: o.queueId ?? 0,
    f: o.sysFlag ?? 0,
    g: o.bornTimestamp ?? Date.now(),
    h: o.flag ?? 0,
    i: o.properties ? propertiesToString(o.properties) : undefined,
    j: o.reconsumeTimes,
    k: false,
    l: o.maxReconsumeTimes,
  };
}

export function send(b: TestBroker, topic: string, body: Uint8Array | undefined, o: SendOptions = {}): Promise<RemotingCommand> {
  return b.request(RequestCode.SEND_MESSAGE.code, sendFields(topic, o), body);
}

export function sendV2(b: TestBroker, topic: string, body: Uint8Array | undefined, o: SendOptions = {}): Promise<RemotingCommand> {
  return b.request(RequestCode.SEND_MESSAGE_V2.code, v2Fields(topic, o), body);
}

/** Create (or replace) a topic directly in the broker's table. */
export async function createTopic(b: TestBroker, topicName: string, queues = 4, perm: number = Perm.READ | Perm.WRITE): Promise<void> {
  await b.broker.context.topics.upsert({ topicName, readQueueNums: queues, writeQueueNums: queues, perm, topicFilterType: 'SINGLE_TAG', topicSysFlag: 0, order: false });
}

/** Every message stored in (topic, queueId) from `from`, decoded. */
export async function readQueue(b: TestBroker, topic: string, queueId: number, from = 0): Promise<MessageRecord[]> {
  const records: MessageRecord[] = [];
  let offset = from;
  for (;;) {
    const r = await b.broker.context.store.getMessage({ topic, queueId, offset, maxCount: 64 });
    if (r.status !== GetMessageStatus.FOUND) return records;
    for (const buffer of r.buffers) {
      const d = decodeRecord(buffer, 0);
      if (d.kind === 'record') records.push(d.record);
    }
    offset = r.nextBeginOffset;
  }
}

/** Poll `probe` until it returns a value (not undefined); fail after `timeoutMs`. */
export async function waitFor<T>(probe: () => Promise<T | undefined> | T | undefined, timeoutMs = 5000, what = 'condition'): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

/** The response's extFields as strings (RocketMQ answers every field as text). */
export function field(response: RemotingCommand, name: string): string | undefined {
  const value = response.extFields?.[name];
  return value === undefined ? undefined : String(value);
}
