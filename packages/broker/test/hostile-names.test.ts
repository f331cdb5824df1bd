/**
 * Names that come off the network are checked where the broker would create something from them:
 * a heartbeat's group, a send-back's group, a pull's group, a persisted or replicated table. One
 * bad name used to create `%RETRY%a/b`, which the nameservers then refused with the broker's whole
 * registration, so every topic of the broker left the routes, across restarts.
 */
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { RequestCode, ResponseCode, topicNameProblem } from '@karman/protocol';
import { startTestBroker, uniqueName } from './broker-fixture.js';
import { heartbeatBody } from './pull-fixture.js';

const HEART_BEAT = RequestCode.HEART_BEAT.code;

/** Every topic the broker holds passes the nameserver's rule. */
function badTopics(topics: Iterable<{ topicName: string }>): string[] {
  return [...topics].map((t) => t.topicName).filter((name) => topicNameProblem(name) !== undefined);
}

describe('names from the network', () => {
  it('refuses a heartbeat whose consumer group has a "/" or is too long for its retry topic, creating nothing', async () => {
    await using b = await startTestBroker();
    const before = { topics: b.broker.context.topics.all().length, groups: b.broker.context.groups.all().length };
    const cases: Array<[string, RegExp]> = [
      ['a/b', /HEART_BEAT refused: the group name "a\/b" has characters outside/],
      ['g'.repeat(121), /HEART_BEAT refused: the consumer group name is 121 characters long; the limit is 120/],
      ['g'.repeat(256), /HEART_BEAT refused: the group name is 256 characters long; the limit is 255/],
    ];
    for (const [group, remark] of cases) {
      const answer = await b.request(HEART_BEAT, {}, heartbeatBody('client-x', group));
      expect([answer.code, answer.remark]).toEqual([ResponseCode.SYSTEM_ERROR.code, expect.stringMatching(remark)]);
    }
    expect({ topics: b.broker.context.topics.all().length, groups: b.broker.context.groups.all().length }).toEqual(before);
    expect(badTopics(b.broker.context.topics.all())).toEqual([]);
    // A 120-character group is fine: its retry topic has exactly 127 characters.
    const longest = 'g'.repeat(120);
    expect((await b.request(HEART_BEAT, {}, heartbeatBody('client-x', longest))).code).toBe(ResponseCode.SUCCESS.code);
    expect(b.broker.context.topics.get(`%RETRY%${longest}`)?.topicName).toHaveLength(127);
  });

  it('refuses a send-back or a pull from a group whose dead-letter or retry topic would be invalid', async () => {
    await using b = await startTestBroker();
    const before = b.broker.context.topics.all().length;
    const back = await b.request(RequestCode.CONSUMER_SEND_MSG_BACK.code, { offset: 0, group: 'g'.repeat(255), delayLevel: -1, unitMode: false });
    expect([back.code, back.remark]).toEqual([ResponseCode.SYSTEM_ERROR.code, expect.stringMatching(/cannot send back: the consumer group name is 255 characters long; the limit is 120/)]);
    const pull = await b.request(RequestCode.PULL_MESSAGE.code, {
      consumerGroup: 'a/b',
      topic: 'T',
      queueId: 0,
      queueOffset: 0,
      maxMsgNums: 1,
      sysFlag: 0,
      commitOffset: 0,
      suspendTimeoutMillis: 0,
      subscription: '*',
      subVersion: 0,
    });
    expect([pull.code, pull.remark]).toEqual([ResponseCode.SYSTEM_ERROR.code, expect.stringMatching(/cannot create the subscription group: the group name "a\/b" has characters outside/)]);
    expect(b.broker.context.topics.all().length).toBe(before);
    expect(b.broker.context.groups.get('a/b')).toBeUndefined();
  });

  it('leaves bad names an older version persisted out of the tables at start, and says so', async () => {
    const logged: string[] = [];
    await using b = await startTestBroker();
    const group = uniqueName('good_group');
    expect((await b.request(HEART_BEAT, {}, heartbeatBody('client-y', group))).code).toBe(ResponseCode.SUCCESS.code);
    // What an earlier version left behind: a retry topic and a group with a "/".
    await b.broker.close();
    const config = join(b.dir, 'config');
    const topics = JSON.parse(readFileSync(join(config, 'topics.json'), 'utf8')) as { topicConfigTable: Record<string, Record<string, unknown>> };
    topics.topicConfigTable['%RETRY%a/b'] = { ...topics.topicConfigTable[`%RETRY%${group}`], topicName: '%RETRY%a/b' };
    const groups = JSON.parse(readFileSync(join(config, 'subscriptionGroup.json'), 'utf8')) as { subscriptionGroupTable: Record<string, Record<string, unknown>> };
    groups.subscriptionGroupTable['a/b'] = { ...groups.subscriptionGroupTable[group], groupName: 'a/b' };
    writeFileSync(join(config, 'topics.json'), JSON.stringify(topics));
    writeFileSync(join(config, 'subscriptionGroup.json'), JSON.stringify(groups));
    await b.restart({ logger: (level, message) => void (level === 'warn' && logged.push(message)) });
    expect(b.broker.context.topics.get('%RETRY%a/b')).toBeUndefined();
    expect(b.broker.context.groups.get('a/b')).toBeUndefined();
    expect(b.broker.context.topics.get(`%RETRY%${group}`)).toBeDefined();
    expect(badTopics(b.broker.context.topics.all())).toEqual([]);
    expect(logged).toEqual(expect.arrayContaining([expect.stringMatching(/^topics\.json: left out "%RETRY%a\/b": .*characters outside/), expect.stringMatching(/^subscriptionGroup\.json: left out "a\/b"/)]));
  });

  it('does not copy a bad name from its master into a slave\'s tables', async () => {
    await using b = await startTestBroker();
    const { topics, groups } = b.broker.context;
    const good = topics.all()[0]!;
    await topics.replaceAll({ Good: { ...good, topicName: 'Good' }, '../../x': { ...good, topicName: '../../x' } }, { timestamp: 1, counter: 99 });
    expect(topics.all().map((t) => t.topicName)).toEqual(['Good']);
    const groupConfig = { ...(await groups.findOrCreate(uniqueName('g')))! };
    await groups.replaceAll({ ok: { ...groupConfig, groupName: 'ok' }, 'a/b': { ...groupConfig, groupName: 'a/b' } }, { timestamp: 1, counter: 99 });
    expect(groups.all().map((g) => g.groupName)).toEqual(['ok']);
  });

  it('bounds what one heartbeat may create: a body of at most 4 MiB, at most 256 groups, maxSubscriptionGroups in all, and writes each table once', async () => {
    await using b = await startTestBroker({ maxSubscriptionGroups: 150 });
    const { topics, groups } = b.broker.context;
    const body = (names: string[]) => Buffer.from(JSON.stringify({ clientID: 'client-z', consumerDataSet: names.map((groupName) => ({ groupName })) }));
    const names = (n: number, prefix: string) => Array.from({ length: n }, (_, i) => `${prefix}_${i}`);
    const huge = await b.request(HEART_BEAT, {}, Buffer.from(JSON.stringify({ clientID: 'client-z', padding: 'x'.repeat(5 * 1024 * 1024) })));
    expect([huge.code, huge.remark]).toEqual([ResponseCode.SYSTEM_ERROR.code, expect.stringMatching(/HEART_BEAT body is \d+ bytes, over the 4194304-byte limit/)]);
    const tooMany = await b.request(HEART_BEAT, {}, body(names(257, 'many')));
    expect([tooMany.code, tooMany.remark]).toEqual([ResponseCode.SYSTEM_ERROR.code, expect.stringMatching(/HEART_BEAT body .*consumerDataSet.*256/)]);
    const before = { topics: topics.dataVersion.counter, groups: groups.dataVersion.counter, count: groups.all().length };
    expect((await b.request(HEART_BEAT, {}, body(names(100, 'first')))).code).toBe(ResponseCode.SUCCESS.code);
    // 100 groups and their 100 retry topics: one write of each table, not 100.
    expect({ topics: topics.dataVersion.counter, groups: groups.dataVersion.counter, count: groups.all().length }).toEqual({ topics: before.topics + 1, groups: before.groups + 1, count: before.count + 100 });
    const over = await b.request(HEART_BEAT, {}, body(names(100, 'second')));
    expect([over.code, over.remark]).toEqual([ResponseCode.SYSTEM_ERROR.code, expect.stringMatching(/the broker holds \d+ groups and maxSubscriptionGroups is 150; delete unused groups/)]);
    expect(groups.all().length).toBe(before.count + 100);
  });

  it('refuses DELETE_TOPIC_IN_BROKER for a name no topic can have, removing nothing outside the store', async () => {
    await using b = await startTestBroker();
    const outside = join(b.dir, '..', `${uniqueName('victim')}`);
    mkdirSync(outside);
    try {
      const rel = `../../${outside.split('/').pop()!}`;
      const answer = await b.request(RequestCode.DELETE_TOPIC_IN_BROKER.code, { topic: rel });
      expect([answer.code, answer.remark]).toEqual([ResponseCode.SYSTEM_ERROR.code, expect.stringMatching(/cannot delete the topic: the topic name .* has characters outside/)]);
      expect(existsSync(outside)).toBe(true);
    } finally {
      rmSync(outside, { recursive: true, force: true });
    }
  });
});
