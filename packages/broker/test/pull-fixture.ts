/**
 * Helpers shared by the pull, long-poll, offset, membership and lock scenarios: create a topic,
 * store messages straight into the broker's store (independent of the send processor), and build
 * PULL_MESSAGE and HEART_BEAT requests as a RocketMQ client writes them.
 */
import { MessageProperty, Perm } from '@karman/protocol';
import type { ExtFieldValue } from '@karman/protocol';
import type { PutMessageResult } from '@karman/commitlog';
import { PullSysFlag } from '../src/pull-message-processor.js';
import type { TestBroker } from './broker-fixture.js';

/** Create a topic with `queues` read and write queues (perm read+write unless given). */
export async function createTopic(b: TestBroker, topicName: string, queues = 4, perm: number = Perm.READ | Perm.WRITE): Promise<void> {
  await b.broker.context.topics.upsert({ topicName, readQueueNums: queues, writeQueueNums: queues, perm, topicFilterType: 'SINGLE_TAG', topicSysFlag: 0, order: false });
}

/** Store one message (tags optional) and check the store took it. */
export async function putMessage(b: TestBroker, topic: string, queueId: number, body: string, tags?: string): Promise<PutMessageResult> {
  const properties: Record<string, string> = {};
  if (tags !== undefined) properties[MessageProperty.TAGS] = tags;
  const result = await b.broker.context.store.put({ topic, queueId, body: Buffer.from(body), properties });
  if (result.status !== 'PUT_OK') throw new Error(`test setup: put to ${topic}:${queueId} answered ${result.status} ${result.reason ?? ''}`);
  return result;
}

export interface PullFieldsOptions {
  maxMsgNums?: number;
  /** Tag expression sent with the subscription flag; `null` sends no subscription flag. */
  subscription?: string | null;
  suspendTimeoutMillis?: number;
  suspend?: boolean;
  commitOffset?: number;
  subVersion?: number;
  expressionType?: string;
}

/** extFields of a PULL_MESSAGE as a push consumer sends it. */
export function pullFields(group: string, topic: string, queueId: number, queueOffset: number, options: PullFieldsOptions = {}): Record<string, ExtFieldValue> {
  const subscription = options.subscription === undefined ? '*' : options.subscription;
  let sysFlag = 0;
  if (options.suspend) sysFlag |= PullSysFlag.SUSPEND;
  if (subscription !== null) sysFlag |= PullSysFlag.SUBSCRIPTION;
  if (options.commitOffset !== undefined) sysFlag |= PullSysFlag.COMMIT_OFFSET;
  const fields: Record<string, ExtFieldValue> = {
    consumerGroup: group,
    topic,
    queueId,
    queueOffset,
    maxMsgNums: options.maxMsgNums ?? 32,
    sysFlag,
    commitOffset: options.commitOffset ?? 0,
    suspendTimeoutMillis: options.suspendTimeoutMillis ?? 15_000,
    subVersion: options.subVersion ?? 0,
    expressionType: options.expressionType ?? 'TAG',
  };
  if (subscription !== null) fields.subscription = subscription;
  return fields;
}

/** A HEART_BEAT body for one consumer of `group` subscribed to `topic` with a tag expression. */
export function heartbeatBody(clientID: string, group: string, subscriptions: Record<string, string> = {}, messageModel = 'CLUSTERING'): Buffer {
  const subscriptionDataSet = Object.entries(subscriptions).map(([topic, subString]) => {
    const tagsSet = subString === '*' ? [] : subString.split('||').map((t) => t.trim());
    return { topic, subString, tagsSet, codeSet: [], subVersion: 0, expressionType: 'TAG', classFilterMode: false };
  });
  return Buffer.from(
    JSON.stringify({
      clientID,
      producerDataSet: [],
      consumerDataSet: [{ groupName: group, consumeType: 'CONSUME_PASSIVELY', messageModel, consumeFromWhere: 'CONSUME_FROM_LAST_OFFSET', subscriptionDataSet, unitMode: false }],
    }),
  );
}

/** Wait until `condition` holds, polling every 5 ms, failing after `timeoutMs`. */
export async function until(condition: () => boolean, what: string, timeoutMs = 5_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}
