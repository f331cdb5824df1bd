import { describe, expect, it } from 'vitest';
import { dlqTopic, groupNameProblem, isDlqTopic, isReadable, isRetryTopic, isSystemTopic, isWriteable, Perm, retryTopic, sendTopicProblem, topicNameProblem } from './names.js';

describe('topic names', () => {
  it('accepts RocketMQ-valid names', () => {
    for (const t of ['TopicTest', 'a', '%RETRY%group-1', 'order_topic|x', 'x'.repeat(127)]) expect(topicNameProblem(t)).toBeUndefined();
  });
  it('rejects empty, over-long and illegal names with a reason', () => {
    expect(topicNameProblem('')).toMatch(/empty/);
    expect(topicNameProblem(undefined)).toMatch(/empty/);
    expect(topicNameProblem('x'.repeat(128))).toMatch(/128 characters.*127/);
    expect(topicNameProblem('a b')).toMatch(/outside/);
    expect(topicNameProblem('topic.with.dots')).toMatch(/outside/);
  });
  it('refuses direct sends to the schedule and transaction topics', () => {
    expect(sendTopicProblem('SCHEDULE_TOPIC_XXXX')).toMatch(/reserved/);
    expect(sendTopicProblem('RMQ_SYS_TRANS_HALF_TOPIC')).toMatch(/reserved/);
    expect(sendTopicProblem('TopicTest')).toBeUndefined();
  });
});

describe('group names and reserved topics', () => {
  it('validates group names', () => {
    expect(groupNameProblem('please_rename_unique_group_name')).toBeUndefined();
    expect(groupNameProblem('')).toMatch(/empty/);
    expect(groupNameProblem('g'.repeat(256))).toMatch(/256/);
  });
  it('builds and recognises retry and DLQ topics', () => {
    expect(retryTopic('g1')).toBe('%RETRY%g1');
    expect(dlqTopic('g1')).toBe('%DLQ%g1');
    expect(isRetryTopic('%RETRY%g1')).toBe(true);
    expect(isDlqTopic('%DLQ%g1')).toBe(true);
    expect(isRetryTopic('g1')).toBe(false);
    expect(isSystemTopic('TBW102')).toBe(true);
    expect(isSystemTopic('rmq_sys_anything')).toBe(true);
    expect(isSystemTopic('TopicTest')).toBe(false);
  });
  it('reads permission bits like PermName', () => {
    expect(isReadable(Perm.READ | Perm.WRITE)).toBe(true);
    expect(isWriteable(Perm.READ)).toBe(false);
    expect(isWriteable(6)).toBe(true);
    expect(isReadable(2)).toBe(false);
  });
});
