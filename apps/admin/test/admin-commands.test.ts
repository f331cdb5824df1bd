/**
 * Every karman-admin command against an in-process cluster (two nameservers, two broker groups),
 * called through `run(argv, io)` as the binary calls it, checking what an operator reads: the
 * table or JSON printed, the exit code, and the cluster's state afterwards.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { deflateSync } from 'node:zlib';
import { MessageSysFlag, RemotingClient, RequestCode, createRequest, parseRemotingJson, readQueueOffsets } from '@karman/protocol';
import type { RemotingCommand } from '@karman/protocol';
import { startCluster, uniqueName } from '@karman/testkit';
import type { TestCluster } from '@karman/testkit';
import { run } from '../src/cli.js';

let cluster: TestCluster;

beforeAll(async () => {
  cluster = await startCluster({ nameservers: 2, brokers: 2 });
});

afterAll(async () => {
  await cluster?.close();
});

interface Outcome {
  code: number;
  out: string;
  err: string;
}

async function admin(...argv: string[]): Promise<Outcome> {
  let out = '';
  let err = '';
  const code = await run([argv[0]!, '-n', cluster.namesrvAddr, ...argv.slice(1)], {
    stdout: { write: (s: string) => (out += s) },
    stderr: { write: (s: string) => (err += s) },
  });
  return { code, out, err };
}

async function adminJson<T>(...argv: string[]): Promise<T> {
  const result = await admin(...argv, '--json');
  expect(result.err).toBe('');
  expect(result.code).toBe(0);
  return JSON.parse(result.out) as T;
}

/** A nameserver's KV entry, read directly (GET_KV_CONFIG). */
async function kvValue(nameserver: string, namespace: string, key: string): Promise<unknown> {
  const client = new RemotingClient(`tcp://${nameserver}`, { reconnect: false });
  try {
    return (await client.request(createRequest(RequestCode.GET_KV_CONFIG.code, { namespace, key }))).extFields.value;
  } finally {
    await client.close();
  }
}

interface Route {
  queueDatas: Array<{ brokerName: string; readQueueNums: number; writeQueueNums: number; perm: number }>;
  brokerDatas: Array<{ brokerName: string; brokerAddrs: Record<string, string> }>;
}

interface Sent {
  brokerName: string;
  queueId: number;
  queueOffset: number;
  msgId: string;
  offsetMsgId: string;
  sendStatus: string;
}

/** A topic on both brokers with `queues` queues each, routed by both nameservers. */
async function waitFor(check: () => boolean, what: string, timeoutMillis = 5_000): Promise<void> {
  const deadline = Date.now() + timeoutMillis;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMillis} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

async function newTopic(queues = 2): Promise<string> {
  const topic = uniqueName('AdminT');
  const created = await admin('updateTopic', '-c', 'DefaultCluster', '-t', topic, '-r', String(queues), '-w', String(queues));
  expect(created.code, created.err).toBe(0);
  await cluster.waitForRoute(topic, ['broker-a', 'broker-b']);
  return topic;
}

describe('topics', () => {
  it('updateTopic -c creates the topic on every master; topicRoute and topicList show it', async () => {
    const topic = uniqueName('AdminT');
    const created = await admin('updateTopic', '-c', 'DefaultCluster', '-t', topic, '-r', '3', '-w', '3', '-p', '6');
    expect(created.code).toBe(0);
    expect(created.out).toContain(`create topic to ${cluster.brokers[0]!.address} success.`);
    expect(created.out).toContain(`create topic to ${cluster.brokers[1]!.address} success.`);
    await cluster.waitForRoute(topic, ['broker-a', 'broker-b']);

    const route = await adminJson<Route>('topicRoute', '-t', topic);
    expect(route.queueDatas.map((q) => [q.brokerName, q.readQueueNums, q.writeQueueNums, q.perm]).sort()).toEqual([
      ['broker-a', 3, 3, 6],
      ['broker-b', 3, 3, 6],
    ]);
    const human = await admin('topicRoute', '-t', topic);
    expect(human.out).toContain('"brokerName": "broker-a"');

    expect(await adminJson<string[]>('topicList')).toContain(topic);
    expect((await admin('topicList')).out.split('\n')).toContain(topic);
  });

  it('updateTopic -b creates it on one broker only, with the queue counts given', async () => {
    const topic = uniqueName('AdminT');
    const result = await admin('updateTopic', '-b', cluster.brokers[1]!.address, '-t', topic, '-r', '2', '-w', '2');
    expect(result.code).toBe(0);
    await cluster.waitForRoute(topic, ['broker-b']);
    const route = await adminJson<Route>('topicRoute', '-t', topic);
    expect(route.queueDatas.map((q) => q.brokerName)).toEqual(['broker-b']);
  });

  it('updateTopic -o true -c sets the order layout on every nameserver', async () => {
    const topic = uniqueName('AdminT');
    const result = await adminJson<{ orderConf: string }>('updateTopic', '-c', 'DefaultCluster', '-t', topic, '-w', '4', '-r', '4', '-o', 'true');
    expect(result.orderConf).toBe('broker-a:4;broker-b:4');
    // The nameservers keep it in their KV config; they put it in routes when orderMessageEnable is on.
    for (const nameserver of cluster.nameservers) expect(await kvValue(nameserver, 'ORDER_TOPIC_CONFIG', topic)).toBe('broker-a:4;broker-b:4');
  });

  it('updateTopic refuses a bad topic name and a missing target with a one-line reason', async () => {
    const badName = await admin('updateTopic', '-c', 'DefaultCluster', '-t', 'bad name!');
    expect(badName.code).toBe(2);
    expect(badName.err.trim().split('\n')).toHaveLength(1);
    expect(badName.err).toMatch(/^karman-admin updateTopic: --topic: /);
    const noTarget = await admin('updateTopic', '-t', uniqueName('AdminT'));
    expect(noTarget.code).toBe(2);
    expect(noTarget.err).toContain('give -b BROKER_ADDR (host:port) or -c CLUSTER_NAME');
    const badCluster = await admin('updateTopic', '-c', 'NoSuchCluster', '-t', uniqueName('AdminT'));
    expect(badCluster.code).toBe(1);
    expect(badCluster.err).toContain('cluster "NoSuchCluster" has no master broker registered (known clusters: DefaultCluster)');
  });

  it('deleteTopic removes the topic from the brokers and from every nameserver', async () => {
    const topic = await newTopic();
    const deleted = await admin('deleteTopic', '-c', 'DefaultCluster', '-t', topic);
    expect(deleted.code).toBe(0);
    expect(deleted.out).toContain(`delete topic [${topic}] from cluster [DefaultCluster] success.`);
    for (const nameserver of cluster.nameservers) {
      let out = '';
      const code = await run(['topicRoute', '-n', nameserver, '-t', topic], { stdout: { write: (s: string) => (out += s) }, stderr: { write: (s: string) => (out += s) } });
      expect(code).toBe(1);
      expect(out).toContain(`topic "${topic}" has no route`);
    }
    expect(await adminJson<string[]>('topicList')).not.toContain(topic);
  });

  it('topicStatus prints min and max offset per queue after sends', async () => {
    const topic = await newTopic(2);
    for (let i = 0; i < 3; i++) expect((await admin('sendMessage', '-t', topic, '-p', `m${i}`, '-b', 'broker-a', '-i', '1')).code).toBe(0);
    const rows = await adminJson<Array<{ brokerName: string; queueId: number; minOffset: number; maxOffset: number; lastUpdateTimestamp: number }>>('topicStatus', '-t', topic);
    expect(rows.map((r) => [r.brokerName, r.queueId, r.minOffset, r.maxOffset])).toEqual([
      ['broker-a', 0, 0, 0],
      ['broker-a', 1, 0, 3],
      ['broker-b', 0, 0, 0],
      ['broker-b', 1, 0, 0],
    ]);
    expect(rows[1]!.lastUpdateTimestamp).toBeGreaterThan(0);
    const human = await admin('topicStatus', '-t', topic);
    expect(human.out.split('\n')[0]).toMatch(/^#Broker Name\s+#QID\s+#Min Offset\s+#Max Offset\s+#Last Updated$/);
    expect(human.out).toMatch(/broker-a\s+1\s+0\s+3\s+\d{4}-/);
  });
});

describe('cluster and brokers', () => {
  it('clusterList lists both brokers with their address and version', async () => {
    const rows = await adminJson<Array<{ cluster: string; brokerName: string; brokerId: number; address: string; version: string }>>('clusterList');
    expect(rows.map((r) => [r.cluster, r.brokerName, r.brokerId, r.address])).toEqual([
      ['DefaultCluster', 'broker-a', 0, cluster.brokers[0]!.address],
      ['DefaultCluster', 'broker-b', 0, cluster.brokers[1]!.address],
    ]);
    expect(rows[0]!.version).not.toBe('-');
    const human = await admin('clusterList');
    expect(human.out).toMatch(/^#Cluster Name\s+#Broker Name\s+#BID\s+#Addr/);
    expect(human.out).toContain('broker-b');
  });

  it('brokerStatus prints the runtime table of one broker', async () => {
    const table = await adminJson<Record<string, string>>('brokerStatus', '-b', cluster.brokers[0]!.address);
    expect(table.brokerActive).toBe('true');
    expect(Number(table.commitLogMaxOffset)).toBeGreaterThanOrEqual(0);
    const human = await admin('brokerStatus', '-c', 'DefaultCluster');
    expect(human.out).toContain(`============ ${cluster.brokers[1]!.address} ============`);
    expect(human.out).toMatch(/brokerActive\s+: true/);
  });

  it('getBrokerConfig and updateBrokerConfig read and change a runtime option', async () => {
    const address = cluster.brokers[0]!.address;
    const before = await adminJson<Record<string, string>>('getBrokerConfig', '-b', address);
    expect(before.brokerName).toBe('broker-a');
    expect(before.slaveReadEnable).toBe('false');
    const updated = await admin('updateBrokerConfig', '-b', address, '-k', 'slaveReadEnable', '-v', 'true');
    expect(updated.code).toBe(0);
    expect(updated.out).toBe(`update broker config success, ${address}\n`);
    expect((await adminJson<Record<string, string>>('getBrokerConfig', '-b', address)).slaveReadEnable).toBe('true');
    await admin('updateBrokerConfig', '-b', address, '-k', 'slaveReadEnable', '-v', 'false');

    const refused = await admin('updateBrokerConfig', '-b', address, '-k', 'listenPort', '-v', '1');
    expect(refused.code).toBe(1);
    expect(refused.err).toContain('cannot change while the broker runs');
  });

  it('wipeWritePerm makes the group read-only on every nameserver; addWritePerm restores it', async () => {
    const topic = await newTopic();
    const wiped = await admin('wipeWritePerm', '-b', 'broker-b');
    expect(wiped.code).toBe(0);
    for (const nameserver of cluster.nameservers) expect(wiped.out).toMatch(new RegExp(`wipe write perm of broker\\[broker-b\\] in name server\\[${nameserver}\\] OK, [1-9]`));
    const perms = async (): Promise<Record<string, number>> =>
      Object.fromEntries((await adminJson<Route>('topicRoute', '-t', topic)).queueDatas.map((q) => [q.brokerName, q.perm]));
    expect(await perms()).toEqual({ 'broker-a': 6, 'broker-b': 4 });
    const added = await admin('addWritePerm', '-b', 'broker-b');
    expect(added.code).toBe(0);
    expect(added.out).toContain('add write perm of broker[broker-b]');
    expect(await perms()).toEqual({ 'broker-a': 6, 'broker-b': 6 });
  });

  it('a nameserver that cannot be reached fails wipeWritePerm with exit 1 but the others are reported', async () => {
    let out = '';
    const code = await run(['wipeWritePerm', '-n', `${cluster.nameservers[0]};127.0.0.1:1`, '-b', 'broker-none'], {
      stdout: { write: (s: string) => (out += s) },
      stderr: { write: () => true },
    });
    expect(code).toBe(1);
    expect(out).toContain(`in name server[${cluster.nameservers[0]}] OK, 0`);
    expect(out).toContain('127.0.0.1:1 FAILED: ');
  });

  it('updateKvConfig sets the entry on every nameserver; getNamesrvConfig prints each config', async () => {
    const key = uniqueName('kv');
    const result = await admin('updateKvConfig', '-s', 'KARMAN_TEST', '-k', key, '-v', 'v1');
    expect(result.code).toBe(0);
    for (const nameserver of cluster.nameservers) expect(await kvValue(nameserver, 'KARMAN_TEST', key)).toBe('v1');
    const configs = await adminJson<Record<string, Record<string, string>>>('getNamesrvConfig');
    expect(Object.keys(configs).sort()).toEqual([...cluster.nameservers].sort());
    expect(Object.values(configs)[0]).toHaveProperty('orderMessageEnable');
    expect((await admin('getNamesrvConfig')).out).toContain(`============ ${cluster.nameservers[0]} ============`);
  });

  it('haStatus reports each master and that it has no slave connected', async () => {
    const rows = await adminJson<Array<{ address: string; brokerRole: string; replication: string; slaves: unknown[] }>>('haStatus', '-c', 'DefaultCluster');
    expect(rows.map((r) => [r.address, r.brokerRole, r.replication, r.slaves])).toEqual([
      [cluster.brokers[0]!.address, 'ASYNC_MASTER', 'no slave connected', []],
      [cluster.brokers[1]!.address, 'ASYNC_MASTER', 'no slave connected', []],
    ]);
  });
});

describe('haStatus with a master/slave pair', () => {
  it('shows the slave under its master and the master the slave copies from', async () => {
    await using pair = await startCluster({ brokers: [{ brokerName: 'broker-a' }, { brokerName: 'broker-a', brokerId: 1 }] });
    const [master, slave] = pair.brokers;
    let out = '';
    const io = { stdout: { write: (s: string) => (out = s) }, stderr: { write: () => true } };
    type Row = { address: string; brokerId: number; slaves: Array<{ slaveAddr: string }>; master: { address: string; connected: boolean } | null };
    let rows: Row[] = [];
    const deadline = Date.now() + 15_000;
    // The slave learns its master from its first registration, then connects.
    while (Date.now() < deadline) {
      expect(await run(['haStatus', '-n', pair.namesrvAddr, '-c', 'DefaultCluster', '--json'], io)).toBe(0);
      rows = JSON.parse(out) as Row[];
      if (rows.length === 2 && rows[1]!.master?.connected && rows[0]!.slaves.length === 1) break;
      await new Promise((r) => setTimeout(r, 100));
    }
    expect(rows.map((r) => [r.address, r.brokerId])).toEqual([
      [master!.address, 0],
      [slave!.address, 1],
    ]);
    expect(rows[0]!.slaves.map((s) => s.slaveAddr)).toEqual([slave!.address]);
    expect(rows[1]!.master?.connected).toBe(true);
    await run(['haStatus', '-n', pair.namesrvAddr, '-b', slave!.address], io);
    expect(out).toMatch(/SLAVE\s+from \S+, connected, \d+ bytes behind/);
  });
});

describe('messages', () => {
  it('sendMessage stores a message that queryMsgById, queryMsgByKey and queryMsgByOffset find', async () => {
    const topic = await newTopic();
    const sent = await adminJson<Sent>('sendMessage', '-t', topic, '-p', 'hello karman', '-k', 'order-1 order-2', '-c', 'created');
    expect(sent.sendStatus).toBe('SEND_OK');

    const byId = await adminJson<{ body: string; tags: string; keys: string; msgId: string; queueOffset: number }>('queryMsgById', '-i', sent.offsetMsgId);
    expect(byId).toMatchObject({ body: 'hello karman', tags: 'created', keys: 'order-1 order-2', msgId: sent.msgId, queueOffset: sent.queueOffset });
    const human = await admin('queryMsgById', '-i', sent.offsetMsgId);
    expect(human.out).toMatch(/Message Body\s+: hello karman/);
    expect(human.out).toMatch(/Tags\s+: \[created\]/);

    const byKey = await adminJson<Array<{ msgId: string; brokerName: string }>>('queryMsgByKey', '-t', topic, '-k', 'order-2');
    expect(byKey.map((m) => [m.msgId, m.brokerName])).toEqual([[sent.msgId, sent.brokerName]]);
    expect((await admin('queryMsgByKey', '-t', topic, '-k', 'order-2')).out).toContain(sent.msgId);
    expect(await adminJson<unknown[]>('queryMsgByKey', '-t', topic, '-k', 'no-such-key')).toEqual([]);

    const byOffset = await adminJson<{ body: string; msgId: string }>('queryMsgByOffset', '-t', topic, '-b', sent.brokerName, '-i', String(sent.queueId), '-o', String(sent.queueOffset));
    expect(byOffset).toMatchObject({ body: 'hello karman', msgId: sent.msgId });
    const missing = await admin('queryMsgByOffset', '-t', topic, '-b', sent.brokerName, '-i', String(sent.queueId), '-o', '99');
    expect(missing.code).toBe(1);
    expect(missing.err).toContain('has no message at offset 99');
  });

  it('queryMsgById refuses an id that is not an offset id', async () => {
    const result = await admin('queryMsgById', '-i', 'not-hex');
    expect(result.code).toBe(2);
    expect(result.err).toContain('is not 32 (IPv4) or 56 (IPv6) hex characters');
  });

  it('consumeMessage prints N messages from the start, from an offset, or from a time, and moves no offset', async () => {
    const topic = await newTopic(1);
    const sent: Sent[] = [];
    for (let i = 0; i < 5; i++) sent.push(await adminJson<Sent>('sendMessage', '-t', topic, '-p', `body-${i}`, '-b', 'broker-a', '-i', '0', '-c', 'tagA'));
    const all = await adminJson<Array<{ body: string; queueOffset: number }>>('consumeMessage', '-t', topic);
    expect(all.map((m) => m.body)).toEqual(['body-0', 'body-1', 'body-2', 'body-3', 'body-4']);
    const two = await adminJson<Array<{ body: string }>>('consumeMessage', '-t', topic, '-c', '2');
    expect(two.map((m) => m.body)).toEqual(['body-0', 'body-1']);
    const fromOffset = await adminJson<Array<{ body: string }>>('consumeMessage', '-t', topic, '-b', 'broker-a', '-i', '0', '-o', '3');
    expect(fromOffset.map((m) => m.body)).toEqual(['body-3', 'body-4']);

    // From a time: the store time of the fourth message.
    const fourth = await adminJson<{ storeTimestamp: number }>('queryMsgById', '-i', sent[3]!.offsetMsgId);
    const fromTime = await adminJson<Array<{ body: string; storeTimestamp: number }>>('consumeMessage', '-t', topic, '-s', String(fourth.storeTimestamp));
    expect(fromTime[0]!.storeTimestamp).toBeGreaterThanOrEqual(fourth.storeTimestamp);
    expect(fromTime.map((m) => m.body)).toContain('body-4');
    expect(fromTime.map((m) => m.body)).not.toContain('body-0');

    const human = await admin('consumeMessage', '-t', topic, '-c', '1');
    expect(human.out).toMatch(/^MSGID: \S+ Broker: broker-a QID: 0 Offset: 0 Tags: tagA .* BODY: body-0\nConsumed 1 message\.\n$/);

    // The tool group committed nothing.
    const progress = await admin('consumerProgress', '-g', 'TOOLS_CONSUMER');
    expect(progress.code).toBe(1);
    expect(progress.err).toContain('has committed no offset');
  });

  it('consumeMessage and queryMsgById show a message whose compressed body inflates past 4 MiB with the reason in place of its body, and go on', async () => {
    const topic = await newTopic(1);
    const store = cluster.broker('broker-a').context.store;
    const bomb = await store.put({ topic, queueId: 0, body: deflateSync(Buffer.alloc(64 * 1024 * 1024), { level: 9 }), sysFlag: MessageSysFlag.COMPRESSED });
    await store.put({ topic, queueId: 0, body: Buffer.from('after the bomb') });
    const listed = await adminJson<Array<{ body: string; bodyError?: string }>>('consumeMessage', '-t', topic, '-b', 'broker-a');
    expect(listed.map((m) => m.body)).toEqual(['', 'after the bomb']);
    expect(listed[0]!.bodyError).toMatch(/inflates to more than 4194304 bytes/);
    expect((await admin('consumeMessage', '-t', topic, '-b', 'broker-a', '-c', '1')).out).toMatch(/BODY: \(not shown: compressed body inflates/);
    const human = await admin('queryMsgById', '-i', bomb.msgIds[0]!);
    expect(human.code).toBe(0);
    expect(human.out).toMatch(/Message Body\s+: \(not shown: compressed body inflates to more than 4194304 bytes, the limit\)/);
  });

  it('sendMessage to a topic that does not exist fails with one line', async () => {
    const result = await admin('sendMessage', '-t', uniqueName('Missing'), '-p', 'x', '-b', 'broker-a', '-i', '0');
    expect(result.code).toBe(1);
    expect(result.err.trim().split('\n')).toHaveLength(1);
  });
});

describe('groups', () => {
  it('updateSubGroup creates the group on every master; deleteSubGroup removes it', async () => {
    const group = uniqueName('AdminG');
    const created = await admin('updateSubGroup', '-c', 'DefaultCluster', '-g', group, '-r', '3', '-s', 'false');
    expect(created.code).toBe(0);
    expect(created.out).toContain(`create subscription group to ${cluster.brokers[1]!.address} success.`);
    const configs = cluster.broker('broker-a').context.groups.all();
    expect(configs.find((g) => g.groupName === group)).toMatchObject({ retryMaxTimes: 3, consumeEnable: false });

    const deleted = await admin('deleteSubGroup', '-c', 'DefaultCluster', '-g', group);
    expect(deleted.code).toBe(0);
    expect(deleted.out).toContain(`delete subscription group [${group}] from broker [${cluster.brokers[0]!.address}] success.`);
    expect(cluster.broker('broker-a').context.groups.all().some((g) => g.groupName === group)).toBe(false);
  });

  it('resetOffsetByTime sets offsets; consumerProgress shows broker offset, consumer offset, diff and totals', async () => {
    const topic = await newTopic(2);
    const group = uniqueName('AdminG');
    for (let i = 0; i < 3; i++) await admin('sendMessage', '-t', topic, '-p', `p${i}`, '-b', 'broker-a', '-i', '0');
    await admin('sendMessage', '-t', topic, '-p', 'q', '-b', 'broker-b', '-i', '1');

    const toEnd = await adminJson<{ queues: Array<{ brokerName: string; queueId: number; offset: number }> }>('resetOffsetByTime', '-g', group, '-t', topic, '-s', 'now');
    expect(toEnd.queues.map((q) => [q.brokerName, q.queueId, q.offset])).toEqual([
      ['broker-a', 0, 3],
      ['broker-a', 1, 0],
      ['broker-b', 0, 0],
      ['broker-b', 1, 1],
    ]);
    const atEnd = await adminJson<{ diffTotal: number }>('consumerProgress', '-g', group);
    expect(atEnd.diffTotal).toBe(0);

    const toStart = await admin('resetOffsetByTime', '-g', group, '-t', topic, '-s', '0');
    expect(toStart.code).toBe(0);
    expect(toStart.out).toMatch(/broker-a\s+0\s+3\s+0/);
    const progress = await adminJson<{ queues: Array<{ brokerName: string; queueId: number; brokerOffset: number; consumerOffset: number; diff: number }>; diffTotal: number }>('consumerProgress', '-g', group, '-t', topic);
    expect(progress.queues.map((q) => [q.brokerName, q.queueId, q.brokerOffset, q.consumerOffset, q.diff])).toEqual([
      ['broker-a', 0, 3, 0, 3],
      ['broker-a', 1, 0, 0, 0],
      ['broker-b', 0, 0, 0, 0],
      ['broker-b', 1, 1, 0, 1],
    ]);
    expect(progress.diffTotal).toBe(4);
    const human = await admin('consumerProgress', '-g', group);
    expect(human.out).toMatch(/^#Topic\s+#Broker Name\s+#QID\s+#Broker Offset\s+#Consumer Offset\s+#Diff\s+#LastTime/);
    expect(human.out).toContain('Diff Total: 4');

    // -f false never moves an offset forward.
    const forward = await adminJson<{ queues: Array<{ offset: number }> }>('resetOffsetByTime', '-g', group, '-t', topic, '-s', 'now', '-f', 'false');
    expect(forward.queues.map((q) => q.offset)).toEqual([0, 0, 0, 0]);
  });

  it('consumerConnection lists an online consumer with its subscription; an offline group fails', async () => {
    const topic = await newTopic();
    const group = uniqueName('AdminG');
    const pushed: RemotingCommand[] = [];
    const client = new RemotingClient(`tcp://${cluster.brokers[0]!.address}`, {
      reconnect: false,
      onRequest: (request) => {
        if (request.code === RequestCode.RESET_CONSUMER_CLIENT_OFFSET.code) pushed.push(request);
        return undefined;
      },
    });
    try {
      const heartbeat = {
        clientID: '10.0.0.9@admin-test',
        producerDataSet: [],
        consumerDataSet: [
          {
            groupName: group,
            consumeType: 'CONSUME_PASSIVELY',
            messageModel: 'CLUSTERING',
            consumeFromWhere: 'CONSUME_FROM_LAST_OFFSET',
            subscriptionDataSet: [{ topic, subString: 'tagA || tagB', tagsSet: ['tagA', 'tagB'], codeSet: [], subVersion: Date.now(), expressionType: 'TAG', classFilterMode: false }],
            unitMode: false,
          },
        ],
      };
      const answer = await client.request(createRequest(RequestCode.HEART_BEAT.code, {}, Buffer.from(JSON.stringify(heartbeat))));
      expect(answer.code).toBe(0);
      const connections = await adminJson<{ connectionSet: Array<{ clientId: string }>; messageModel: string }>('consumerConnection', '-g', group);
      expect(connections.connectionSet.map((c) => c.clientId)).toEqual(['10.0.0.9@admin-test']);
      expect(connections.messageModel).toBe('CLUSTERING');
      const human = await admin('consumerConnection', '-g', group);
      expect(human.out).toContain('10.0.0.9@admin-test');
      expect(human.out).toMatch(new RegExp(`${topic}\\s+tagA \\|\\| tagB`));
      expect(human.out).toContain('MessageModel: CLUSTERING');

      // resetOffsetByTime stores the offsets and has the broker push them to the online consumer.
      const reset = await admin('resetOffsetByTime', '-g', group, '-t', topic, '-s', 'now');
      expect(reset.code).toBe(0);
      expect(reset.err).toBe('');
      await waitFor(() => pushed.length === 1, 'the reset pushed to the consumer');
      expect(pushed[0]!.extFields).toMatchObject({ topic, group });
      const table = readQueueOffsets((parseRemotingJson(Buffer.from(pushed[0]!.body!).toString()) as { offsetTable: unknown }).offsetTable)!;
      expect(table.map((e) => [e.queue.brokerName, e.queue.queueId, e.offset])).toEqual([
        ['broker-a', 0, 0],
        ['broker-a', 1, 0],
      ]);
    } finally {
      await client.close();
    }
    const offline = await admin('consumerConnection', '-g', uniqueName('AdminG'));
    expect(offline.code).toBe(1);
    expect(offline.err).toContain('has no consumer connected to any broker');
  });
});
