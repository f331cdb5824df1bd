/**
 * Name rules and RocketMQ's reserved names (TopicValidator, MixAll, PermName). Producers check
 * these before sending and brokers check them again on arrival, so both import them from here.
 */

/** Longest topic name RocketMQ accepts. */
export const TOPIC_MAX_LENGTH = 127;
/** Longest group name RocketMQ accepts (`Validators.CHARACTER_MAX_LENGTH`). */
export const GROUP_MAX_LENGTH = 255;
const VALID_NAME = /^[%|a-zA-Z0-9_-]+$/;
/**
 * Most read or write queues a topic may have: RocketMQ's tools refuse more, and Karman's
 * nameserver, broker and clients hold every route to it, since clients allocate one entry per queue.
 */
export const MAX_TOPIC_QUEUE_NUMS = 1024;

/** Topic permission bits (`PermName`). */
export const Perm = { INHERIT: 1, WRITE: 2, READ: 4, PRIORITY: 8 } as const;
export type Perm = (typeof Perm)[keyof typeof Perm];

export function isReadable(perm: number): boolean {
  return (perm & Perm.READ) !== 0;
}
export function isWriteable(perm: number): boolean {
  return (perm & Perm.WRITE) !== 0;
}

/** Reserved topics and prefixes. */
export const SystemTopic = {
  /** The template topic producers fall back to for an unknown topic when auto-creation is on. */
  AUTO_CREATE_TOPIC_KEY: 'TBW102',
  SCHEDULE: 'SCHEDULE_TOPIC_XXXX',
  BENCHMARK: 'BenchmarkTest',
  TRANS_HALF: 'RMQ_SYS_TRANS_HALF_TOPIC',
  TRANS_OP_HALF: 'RMQ_SYS_TRANS_OP_HALF_TOPIC',
  TRANS_CHECK_MAX_TIME: 'TRANS_CHECK_MAX_TIME_TOPIC',
  TRACE: 'RMQ_SYS_TRACE_TOPIC',
  OFFSET_MOVED_EVENT: 'OFFSET_MOVED_EVENT',
  SELF_TEST: 'SELF_TEST_TOPIC',
} as const;

export const RETRY_GROUP_TOPIC_PREFIX = '%RETRY%';
export const DLQ_GROUP_TOPIC_PREFIX = '%DLQ%';
export const SYSTEM_TOPIC_PREFIX = 'rmq_sys_';

/** Topics a producer may never send to directly. */
const NOT_ALLOWED_SEND = new Set<string>([SystemTopic.SCHEDULE, SystemTopic.TRANS_HALF, SystemTopic.TRANS_OP_HALF, SystemTopic.TRANS_CHECK_MAX_TIME]);

/** `%RETRY%<group>`: where a group's failed messages come back from. */
export function retryTopic(group: string): string {
  return RETRY_GROUP_TOPIC_PREFIX + group;
}

/** `%DLQ%<group>`: where a group's messages go after their last retry. */
export function dlqTopic(group: string): string {
  return DLQ_GROUP_TOPIC_PREFIX + group;
}

export function isRetryTopic(topic: string): boolean {
  return topic.startsWith(RETRY_GROUP_TOPIC_PREFIX);
}

export function isDlqTopic(topic: string): boolean {
  return topic.startsWith(DLQ_GROUP_TOPIC_PREFIX);
}

export function isSystemTopic(topic: string): boolean {
  return (Object.values(SystemTopic) as string[]).includes(topic) || topic.startsWith(SYSTEM_TOPIC_PREFIX);
}

/**
 * Why a topic name is unusable, or undefined when it is fine. The text names the rule and the fix,
 * ready to be a remark or an error message.
 */
export function topicNameProblem(topic: unknown): string | undefined {
  if (typeof topic !== 'string' || topic.length === 0) return 'the topic name is empty; give a topic name';
  if (topic.length > TOPIC_MAX_LENGTH) return `the topic name is ${topic.length} characters long; the limit is ${TOPIC_MAX_LENGTH}`;
  if (!VALID_NAME.test(topic)) return `the topic name "${topic.slice(0, 40)}" has characters outside [%|a-zA-Z0-9_-]; use only letters, digits, %, |, _ and -`;
  return undefined;
}

/** Like `topicNameProblem`, and also refuses topics producers may not send to. */
export function sendTopicProblem(topic: unknown): string | undefined {
  const problem = topicNameProblem(topic);
  if (problem) return problem;
  if (NOT_ALLOWED_SEND.has(topic as string)) return `the topic "${topic as string}" is reserved for the broker's own use; send to another topic`;
  return undefined;
}

/**
 * Like `groupNameProblem`, for a consumer group: its retry and dead-letter topics
 * (`%RETRY%<group>`, `%DLQ%<group>`) must be valid topic names too, so the group may have at most
 * 127 − 7 = 120 characters. RocketMQ's 4.x broker creates those topics unchecked, and a longer or
 * stranger name then breaks the broker's registration with the nameservers.
 */
export function consumerGroupNameProblem(group: unknown): string | undefined {
  const problem = groupNameProblem(group);
  if (problem) return problem;
  const longest = RETRY_GROUP_TOPIC_PREFIX.length > DLQ_GROUP_TOPIC_PREFIX.length ? RETRY_GROUP_TOPIC_PREFIX : DLQ_GROUP_TOPIC_PREFIX;
  const limit = TOPIC_MAX_LENGTH - longest.length;
  if ((group as string).length > limit) {
    return `the consumer group name is ${(group as string).length} characters long; the limit is ${limit}, so that its retry topic ${longest}<group> stays within the ${TOPIC_MAX_LENGTH}-character topic limit`;
  }
  return undefined;
}

/** Why a producer or consumer group name is unusable, or undefined when it is fine. */
export function groupNameProblem(group: unknown): string | undefined {
  if (typeof group !== 'string' || group.length === 0) return 'the group name is empty; give a group name';
  if (group.length > GROUP_MAX_LENGTH) return `the group name is ${group.length} characters long; the limit is ${GROUP_MAX_LENGTH}`;
  if (!VALID_NAME.test(group)) return `the group name "${group.slice(0, 40)}" has characters outside [%|a-zA-Z0-9_-]; use only letters, digits, %, |, _ and -`;
  return undefined;
}
