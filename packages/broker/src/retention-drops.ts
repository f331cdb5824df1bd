/**
 * What a retention round took from each consumer group. The store deletes commit-log segments by
 * age, or regardless of age when the disk is over diskSpaceCleanForciblyRatio (RocketMQ's
 * `CleanCommitLogService` forced clean), and knows nothing of groups; this turns its report of
 * moved queue minimums into "group G lost N messages of topic T it had not consumed", for the log
 * and `/metrics`, so a forced clean is never silent.
 */
import type { RetentionReport } from '@karman/commitlog';
import type { ConsumerOffsetManager } from './consumer-offset-manager.js';

/** Unconsumed messages dropped, by topic then group. */
export type UnconsumedDrops = Map<string, Map<string, number>>;

/**
 * For each queue whose minimum moved from `fromOffset` to `toOffset`, every group with committed
 * offsets on the topic lost the messages between where it stood and the new minimum:
 * `toOffset − max(committed, fromOffset)` when its committed offset is below `toOffset`. A group
 * that consumes the topic but never committed on that queue lost all of them.
 */
export function unconsumedDrops(report: RetentionReport, offsets: ConsumerOffsetManager): UnconsumedDrops {
  const drops: UnconsumedDrops = new Map();
  for (const q of report.queues) {
    for (const group of offsets.groupsOf(q.topic)) {
      const committed = offsets.query(group, q.topic, q.queueId);
      const lost = q.toOffset - Math.max(committed, q.fromOffset);
      if (lost <= 0) continue;
      let byGroup = drops.get(q.topic);
      if (!byGroup) drops.set(q.topic, (byGroup = new Map()));
      byGroup.set(group, (byGroup.get(group) ?? 0) + lost);
    }
  }
  return drops;
}

/** Messages deleted per topic (consumed or not). */
export function deletedPerTopic(report: RetentionReport): Map<string, number> {
  const deleted = new Map<string, number>();
  for (const q of report.queues) deleted.set(q.topic, (deleted.get(q.topic) ?? 0) + q.toOffset - q.fromOffset);
  return deleted;
}

/** One log line naming each group and topic that lost unconsumed messages (at most `limit`, then a count). */
export function describeDrops(report: RetentionReport, drops: UnconsumedDrops, limit = 20): string | undefined {
  const parts: string[] = [];
  let total = 0;
  for (const [topic, byGroup] of [...drops].sort(([a], [b]) => (a < b ? -1 : 1))) {
    for (const [group, n] of [...byGroup].sort(([a], [b]) => (a < b ? -1 : 1))) {
      total++;
      if (parts.length < limit) parts.push(`group ${group} on topic ${topic}: ${n} unconsumed`);
    }
  }
  if (parts.length === 0) return undefined;
  if (total > parts.length) parts.push(`and ${total - parts.length} more group/topic pair(s), see karman_store_*_dropped_messages_total in /metrics`);
  const what = report.cause === 'forced' ? 'forced clean (disk over diskSpaceCleanForciblyRatio)' : 'retention of expired files';
  return `${what} deleted messages consumer groups had not consumed: ${parts.join('; ')} (${report.reason})`;
}
