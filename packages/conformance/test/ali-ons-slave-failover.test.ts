/**
 * ali-ons across a master's death. The cluster is a karman-broker master
 * and its SLAVE, both real processes. A live ali-ons consumer has messages that are replicated but
 * not yet consumed when the master gets SIGKILL, and it must still consume them.
 *
 * How ali-ons gets there (ali-ons 3.12.0, read from its source):
 * - `findBrokerAddressInSubscribe` takes the address of the suggested broker id (0 unless a pull
 *   answer suggested another) from its broker table, and falls back to any other id of the same
 *   broker name when that id is missing;
 * - the broker table is replaced from the nameserver's route on each poll (`pollNameServerInteval`,
 *   a client option; 500 ms here). Once the killed master's connection closes, the nameserver
 *   lists only the slave;
 * - the slave serves the pulls with default settings (`slaveReadEnable=false` only makes it
 *   suggest the master);
 * - a failed pull is retried after `pullTimeDelayMillsWhenException` (200 ms here);
 * - heartbeats go to slaves too while the client has a consumer, so the slave can answer the
 *   rebalance's consumer list;
 * - offsets are committed to the slave when the master is gone (`findBrokerAddressInAdmin`).
 *
 * "Not yet consumed" is made deterministic by freezing the consumer process (SIGSTOP) while the
 * messages are sent and copied, and the master is killed. A frozen client cannot pull them. At
 * most its one parked pull per queue (held by the master) can be answered, with up to
 * `pullBatchSize` (4) messages each, so at least 40 - 4 × 4 = 24 must come from the slave.
 */
import { readFileSync, readdirSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { RequestCode, ResponseCode, createRequest } from '@karman/protocol';
import { LoggedProcess, SMALL_STORE_ARGS, startProcessCluster, uniqueName } from '@karman/testkit';
import type { ProcessCluster } from '@karman/testkit';
import { AliOnsProcess } from '../src/index.js';

const QUEUES = 4;
const BEFORE = 8;
const UNREAD = 40;
const PULL_BATCH = 4;
const BROKER_DIR = resolve(dirname(fileURLToPath(import.meta.url)), '../../../apps/broker');
/** Short replication and hold intervals so copying and metadata sync take milliseconds. */
const HA_ARGS = ['--set', 'pullRequestHoldCheckInterval=100', '--set', 'haSendHeartbeatInterval=500', '--set', 'haReconnectInterval=100', '--set', 'slaveSyncInterval=300'];

let cluster: ProcessCluster | undefined;
let slave: LoggedProcess | undefined;
const processes: AliOnsProcess[] = [];
const frozen: number[] = [];

afterAll(async () => {
  // A failed assertion may leave the consumer frozen; SIGKILL ends it either way, SIGCONT is for tidiness.
  for (const pid of frozen) signal(pid, 'SIGCONT');
  await Promise.all(processes.splice(0).map((p) => p.kill()));
  await slave?.kill();
  await cluster?.close();
}, 30_000);

function signal(pid: number, name: NodeJS.Signals): void {
  try {
    process.kill(pid, name);
  } catch {
    // already gone
  }
}

/**
 * Pids of the ali-ons agent processes this test worker started. AliOnsProcess does not expose its
 * child (see the report); /proc gives each child's parent and command line.
 */
function agentPids(): Set<number> {
  const pids = new Set<number>();
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      // Field 4 (ppid) follows the parenthesised command name, which may itself hold spaces.
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      if (ppid === process.pid && readFileSync(`/proc/${entry}/cmdline`, 'utf8').includes('ali-ons-agent.mjs')) pids.add(Number(entry));
    } catch {
      // the process ended while we looked
    }
  }
  return pids;
}

async function runtimeInfo(address: string): Promise<Record<string, string>> {
  const response = await cluster!.adminClient(address).request(createRequest(RequestCode.GET_BROKER_RUNTIME_INFO.code));
  return (JSON.parse(Buffer.from(response.body ?? []).toString('utf8')) as { table: Record<string, string> }).table;
}

async function committedTotal(address: string, group: string, topic: string): Promise<number> {
  let total = 0;
  for (let queueId = 0; queueId < QUEUES; queueId++) {
    const response = await cluster!
      .adminClient(address)
      .request(createRequest(RequestCode.QUERY_CONSUMER_OFFSET.code, { consumerGroup: group, topic, queueId, setZeroIfNotFound: false }));
    if (response.code === ResponseCode.SUCCESS.code) total += Number(response.extFields.offset);
  }
  return total;
}

async function waitFor(what: string, check: () => Promise<boolean>, timeoutMillis = 15_000): Promise<void> {
  const deadline = Date.now() + timeoutMillis;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

describe('ali-ons with a master and its slave', () => {
  it('consumes from the slave the replicated messages it had not consumed when the master was killed', { timeout: 60_000 }, async () => {
    cluster = await startProcessCluster({ brokerArgs: HA_ARGS });
    const masterAddr = cluster.brokerAddr();
    const slaveArgs = [
      '--conditions=@karman/source', '--import', 'tsx', 'src/main.ts',
      '--listen', '127.0.0.1:0',
      '--namesrv', cluster.namesrvAddr,
      '--broker-name', 'broker-a',
      '--role', 'SLAVE', '--broker-id', '1',
      '--store', join(cluster.root, 'broker-a-slave'),
      ...SMALL_STORE_ARGS,
      ...HA_ARGS,
      '--set', `haMasterAddress=${masterAddr}`,
      // Default slaveReadEnable (false): a slave still serves the messages it has, as RocketMQ's
      // PullMessageProcessor does; the option only steers live consumers to slaves.
    ];
    slave = LoggedProcess.spawn('karman-broker broker-a slave', slaveArgs, { cwd: BROKER_DIR });
    const slaveAddr = `127.0.0.1:${(await slave.waitForLine((l) => l.msg === 'karman-broker listening', 'the slave\'s "listening" line', 20_000)).port as number}`;
    await waitFor('the slave to connect to the master', async () => (await runtimeInfo(masterAddr)).karmanReplicationSlaveCount === '1');

    const topic = uniqueName('SlaveFailover');
    const group = uniqueName('CG_slave_failover');
    await cluster.createTopic(topic, { queues: QUEUES });

    const clientDefaults = { rebalanceInterval: 1_500, pollNameServerInteval: 500, persistConsumerOffsetInterval: 500, heartbeatBrokerInterval: 500 };
    const agentsBefore = agentPids();
    const consumer = await AliOnsProcess.start({ namesrvAddr: cluster.namesrvAddr, name: 'consumer', hardTimeoutMillis: 90_000, clientDefaults });
    processes.push(consumer);
    const consumerPids = [...agentPids()].filter((pid) => !agentsBefore.has(pid));
    expect(consumerPids).toHaveLength(1);
    const consumerPid = consumerPids[0]!;
    const producer = await AliOnsProcess.start({ namesrvAddr: cluster.namesrvAddr, name: 'producer', hardTimeoutMillis: 90_000, clientDefaults });
    processes.push(producer);

    await consumer.consumer('c', { consumerGroup: group, consumeFromWhere: 'CONSUME_FROM_FIRST_OFFSET', pullBatchSize: PULL_BATCH, pullTimeDelayMillsWhenException: 200 }, [{ topic }]);
    await consumer.waitForQueues('c', topic, [0, 1, 2, 3]);
    await producer.producer('p', { producerGroup: uniqueName('PG_slave_failover') });
    for (let i = 0; i < BEFORE; i++) await producer.send('p', { topic, body: `before-${i}` });
    await consumer.waitForMessages(BEFORE);

    // Frozen, the consumer can neither pull nor commit; the messages are stored and copied meanwhile.
    signal(consumerPid, 'SIGSTOP');
    frozen.push(consumerPid);
    const unread = Array.from({ length: UNREAD }, (_, i) => `unread-${i}`);
    for (const body of unread) expect((await producer.send('p', { topic, body })).sendStatus).toBe('SEND_OK');
    const masterEnd = (await runtimeInfo(masterAddr)).commitLogMaxOffset;
    await waitFor('the slave to copy every message', async () => (await runtimeInfo(slaveAddr)).commitLogMaxOffset === masterEnd);

    await cluster.killBroker();
    await producer.kill();
    // The nameserver drops the master when its connection closes; the route keeps the slave.
    await waitFor('the nameserver to route the topic to the slave only', async () => {
      const response = await cluster!.adminClient(cluster!.namesrvAddr).request(createRequest(RequestCode.GET_ROUTEINFO_BY_TOPIC.code, { topic }));
      if (response.code !== ResponseCode.SUCCESS.code) return false;
      const route = JSON.parse(Buffer.from(response.body ?? []).toString('utf8')) as { brokerDatas: Array<{ brokerAddrs: Record<string, string> }>; queueDatas: unknown[] };
      return route.queueDatas.length === 1 && JSON.stringify(route.brokerDatas.map((b) => b.brokerAddrs)) === JSON.stringify([{ 1: slaveAddr }]);
    });

    signal(consumerPid, 'SIGCONT');
    const got = await consumer.waitForMessages(UNREAD, (m) => m.body.toString('utf8').startsWith('unread-'), 30_000);
    expect([...new Set(got.map((m) => m.body.toString('utf8')))].sort()).toEqual([...unread].sort());
    // Only the slave is left to take commits: its offsets reaching every message means ali-ons
    // pulled from it and committed there (a slave keeps such offsets for the master's return).
    await waitFor("the group's offsets on the slave to cover every message", async () => (await committedTotal(slaveAddr, group, topic)) === BEFORE + UNREAD);
  });
});
