/**
 * Tag subscriptions (RocketMQ `FilterAPI.buildSubscriptionData`): `"*"` or empty means every
 * message; otherwise `"A || B"` split on `||` and trimmed into tag strings and their Java hash
 * codes. The broker filters by code (cheap, but codes collide); the consumer re-checks the TAGS
 * string, so a message whose tag merely shares a hash is dropped here. Messages without tags never
 * match a tag subscription.
 */
import type { ConsumerData } from '@karman/client';
import { InvalidArgumentError, MessageProperty, tagsCode, topicNameProblem } from '@karman/protocol';

/** `SubscriptionData.SUB_ALL`. */
const SUB_ALL = '*';

/** One topic's subscription, as heartbeats carry it. */
export interface Subscription {
  topic: string;
  /** The expression as given (`*` or `A || B`). */
  subString: string;
  /** Tag strings; empty for `*`. */
  tagsSet: string[];
  /** Java hash codes of the tags, what the broker compares with consume-queue tag codes. */
  codeSet: number[];
  /** Version the broker compares with the pull's to tell a stale subscription (a timestamp). */
  subVersion: number;
}

/** Parse `expression` for `topic`; the error names the topic and shows a valid expression. */
export function buildSubscription(topic: string, expression: string | undefined): Subscription {
  const topicProblem = topicNameProblem(topic);
  if (topicProblem) throw new InvalidArgumentError(`cannot subscribe: ${topicProblem}`);
  if (expression !== undefined && typeof expression !== 'string') throw new InvalidArgumentError(`the tag expression of "${topic}" must be a string such as "*" or "TagA || TagB"`);
  const text = expression?.trim() ?? '';
  if (text === '' || text === SUB_ALL) return { topic, subString: SUB_ALL, tagsSet: [], codeSet: [], subVersion: Date.now() };
  const tagsSet = [...new Set(text.split('||').map((t) => t.trim()).filter((t) => t.length > 0))];
  if (tagsSet.length === 0) throw new InvalidArgumentError(`the tag expression ${JSON.stringify(expression)} of "${topic}" names no tag; write "*" for every message or "TagA || TagB"`);
  return { topic, subString: text, tagsSet, codeSet: tagsSet.map((t) => tagsCode(t)), subVersion: Date.now() };
}

/** Whether a message with these properties passes the subscription's client-side tag check. */
export function matchesSubscription(subscription: Subscription, properties: Readonly<Record<string, string>>): boolean {
  if (subscription.tagsSet.length === 0) return true;
  const tags = properties[MessageProperty.TAGS];
  return tags !== undefined && subscription.tagsSet.includes(tags);
}

/** The heartbeat form of a subscription. */
export function subscriptionData(subscription: Subscription): ConsumerData['subscriptionDataSet'][number] {
  return {
    topic: subscription.topic,
    subString: subscription.subString,
    tagsSet: subscription.tagsSet,
    codeSet: subscription.codeSet,
    subVersion: subscription.subVersion,
    expressionType: 'TAG',
    classFilterMode: false,
  };
}
