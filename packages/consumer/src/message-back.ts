/**
 * Sending a failed message back for a later retry (RocketMQ
 * `DefaultMQPushConsumerImpl.sendMessageBack`): first CONSUMER_SEND_MSG_BACK to the broker that
 * stores it, which schedules it on `%RETRY%<group>` (or moves it to `%DLQ%<group>` once it has been
 * retried `maxReconsumeTimes` times); when that fails, a copy is sent straight to `%RETRY%<group>`
 * with delay level 3 + reconsumeTimes, keeping its unique id and recording its original topic and
 * id, so the broker's own retry/DLQ rules still apply. When both fail the caller retries locally.
 */
import type { ClientInstance } from '@karman/client';
import { publishQueues } from '@karman/client';
import { KarmanError, MessageProperty, RemoteError, RequestCode, ResponseCode, createRequest, propertiesToString, retryTopic } from '@karman/protocol';
import { consumerSendMessageBack } from './broker-requests.js';
import { storedBody } from './consumed-message.js';
import type { ConsumedMessage } from './consumed-message.js';

export interface MessageBackArgs {
  group: string;
  /** 0 lets the broker choose (3 + reconsumeTimes); -1 goes straight to the DLQ. */
  delayLevel: number;
  maxReconsumeTimes: number;
  timeoutMillis: number;
}

/** Which path took the message back. */
export type MessageBackPath = 'broker' | 'resend';

/** Send `message` back; throws only when neither path worked. */
export async function sendMessageBack(client: ClientInstance, message: ConsumedMessage, args: MessageBackArgs): Promise<MessageBackPath> {
  let firstError: unknown;
  try {
    const address = client.findBrokerAddress(message.brokerName, true);
    if (!address) throw new KarmanError('NO_BROKER_ADDRESS', `broker ${message.brokerName} has no master address`);
    await consumerSendMessageBack(client, address, {
      commitLogOffset: message.commitLogOffset,
      group: args.group,
      delayLevel: args.delayLevel,
      originMsgId: message.msgId,
      originTopic: message.topic,
      maxReconsumeTimes: args.maxReconsumeTimes,
      timeoutMillis: args.timeoutMillis,
    });
    return 'broker';
  } catch (error) {
    firstError = error;
  }
  try {
    await resendToRetryTopic(client, message, args);
    return 'resend';
  } catch (error) {
    throw new KarmanError('SEND_BACK_FAILED', `message ${message.msgId} could not be sent back: CONSUMER_SEND_MSG_BACK failed (${(firstError as Error).message}) and so did the resend to ${retryTopic(args.group)} (${(error as Error).message})`, {
      cause: error,
    });
  }
}

/** The fallback: a plain SEND_MESSAGE_V2 of a copy to `%RETRY%<group>`. */
async function resendToRetryTopic(client: ClientInstance, message: ConsumedMessage, args: MessageBackArgs): Promise<void> {
  const topic = retryTopic(args.group);
  const route = client.cachedRoute(topic) ?? (await client.updateRoute(topic));
  const queues = route ? publishQueues(topic, route) : [];
  if (queues.length === 0) throw new KarmanError('NO_ROUTE', `retry topic ${topic} has no writable queue in the routes`);
  const properties: Record<string, string> = { ...message.properties };
  properties[MessageProperty.RETRY_TOPIC] ??= message.topic;
  properties[MessageProperty.ORIGIN_MESSAGE_ID] ??= message.msgId;
  properties[MessageProperty.RECONSUME_TIME] = String(message.reconsumeTimes + 1);
  properties[MessageProperty.MAX_RECONSUME_TIMES] = String(args.maxReconsumeTimes);
  properties[MessageProperty.DELAY] = String(3 + message.reconsumeTimes);
  properties[MessageProperty.WAIT] = 'true';
  delete properties[MessageProperty.TRAN_MSG];
  // The bytes as stored, still compressed: inflating them could fail (the likely reason the message
  // came back) and would send up to maxMessageSize where a fraction of it does.
  const { body, sysFlag } = storedBody(message);
  // Start on another broker than the failed one when possible: it is the likely cause.
  const ordered = [...queues.filter((q) => q.brokerName !== message.brokerName), ...queues.filter((q) => q.brokerName === message.brokerName)];
  let lastError: unknown;
  for (const queue of ordered) {
    const address = client.findBrokerAddress(queue.brokerName, true);
    if (!address) continue;
    try {
      const response = await client.broker(address).request(
        createRequest(
          RequestCode.SEND_MESSAGE_V2.code,
          {
            a: args.group,
            b: topic,
            c: 'TBW102',
            d: 4,
            e: queue.queueId,
            f: sysFlag,
            g: Date.now(),
            h: 0,
            i: propertiesToString(properties),
            j: message.reconsumeTimes + 1,
            k: false,
            l: args.maxReconsumeTimes,
          },
          body,
        ),
        { timeoutMillis: args.timeoutMillis },
      );
      if (response.code !== ResponseCode.SUCCESS.code) throw new RemoteError(response.code, response.remark, address);
      return;
    } catch (error) {
      lastError = error;
    }
  }
  throw lastError ?? new KarmanError('NO_BROKER_ADDRESS', `no broker of ${topic} has a master address`);
}
