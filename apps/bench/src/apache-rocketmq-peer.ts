/**
 * Apache RocketMQ in `karman-bench compare`: the reference broker, started for the run with
 * `startApacheRocketMQ` (nameserver and one ASYNC_MASTER broker, ASYNC_FLUSH, otherwise RocketMQ's
 * defaults, heap 1g, G1), measured with the Karman rows' own phases and Karman's own clients over
 * remoting TCP: the client is the same, only the broker differs, so each figure divided by its
 * Karman twin says what Karman's broker costs or gains. Topics are made with
 * UPDATE_AND_CREATE_TOPIC (8 queues, as `mqadmin updateTopic` does) on the broker. Without java or
 * mvn the driver throws `PeerUnavailableError` and compare skips the rows.
 */
import { APACHE_ROCKETMQ_VERSION, apacheRocketMQAvailability, startApacheRocketMQ } from '@karman/apache-rocketmq';
import type { ApacheRocketMQ } from '@karman/apache-rocketmq';
import { KarmanError, RemotingClient, RequestCode, ResponseCode, createRequest } from '@karman/protocol';
import { PLAIN_CONCURRENCY, measure } from './karman-peer.js';
import type { KarmanTarget } from './karman-peer.js';
import { PeerUnavailableError, pidListeningOn } from './peer-driver.js';
import type { PeerDriver, PeerRow } from './peer-driver.js';

/** How compare names the reference in its rows and `--only`. */
const APACHE_ROCKETMQ_SYSTEM = 'Apache RocketMQ';

/** A running Apache RocketMQ as a compare target: its addresses, the JVMs' pids, a topic maker. */
export interface ApacheRocketMQTarget extends KarmanTarget, AsyncDisposable {
  brokerAddr: string;
}

/** UPDATE_AND_CREATE_TOPIC on the broker, then wait until the nameserver routes the topic (the broker registers it at once). */
async function createApacheTopic(rmq: Pick<ApacheRocketMQ, 'namesrvAddr' | 'brokerAddr'>, topic: string, queues: number, timeoutMillis = 15_000): Promise<void> {
  const broker = new RemotingClient(`tcp://${rmq.brokerAddr}`, { reconnect: false });
  const nameserver = new RemotingClient(`tcp://${rmq.namesrvAddr}`, { reconnect: false });
  try {
    const created = await broker.request(
      createRequest(RequestCode.UPDATE_AND_CREATE_TOPIC.code, { topic, defaultTopic: 'TBW102', readQueueNums: queues, writeQueueNums: queues, perm: 6, topicFilterType: 'SINGLE_TAG', topicSysFlag: 0, order: false }),
    );
    if (created.code !== ResponseCode.SUCCESS.code) throw new KarmanError('CREATE_TOPIC_FAILED', `Apache RocketMQ at ${rmq.brokerAddr} refused to create ${topic}: ${created.remark}`);
    const deadline = Date.now() + timeoutMillis;
    for (;;) {
      const route = await nameserver.request(createRequest(RequestCode.GET_ROUTEINFO_BY_TOPIC.code, { topic }));
      if (route.code === ResponseCode.SUCCESS.code) return;
      if (Date.now() > deadline) throw new KarmanError('ROUTE_TIMEOUT', `the Apache RocketMQ nameserver at ${rmq.namesrvAddr} did not route ${topic} within ${timeoutMillis} ms`);
      await new Promise((wake) => setTimeout(wake, 50));
    }
  } finally {
    await Promise.all([broker.close().catch(() => undefined), nameserver.close().catch(() => undefined)]);
  }
}

/** Start Apache RocketMQ for one run; `PeerUnavailableError` (with the reason) when this machine has no java or mvn. */
export async function startApacheRocketMQTarget(): Promise<ApacheRocketMQTarget> {
  const availability = apacheRocketMQAvailability();
  if (!availability.available) throw new PeerUnavailableError(`Apache RocketMQ cannot start here: ${availability.reason}`);
  const rmq = await startApacheRocketMQ();
  const port = (address: string): number => Number(address.slice(address.lastIndexOf(':') + 1));
  const pids = [pidListeningOn(port(rmq.brokerAddr)), pidListeningOn(port(rmq.namesrvAddr))].filter((p): p is number => p !== undefined);
  return {
    namesrvAddr: rmq.namesrvAddr,
    brokerAddr: rmq.brokerAddr,
    createTopic: (topic, options) => createApacheTopic(rmq, topic, options.queues),
    serverPids: pids,
    notes: [`Apache RocketMQ ${APACHE_ROCKETMQ_VERSION} from Maven Central: one nameserver + one broker (ASYNC_MASTER, ASYNC_FLUSH, RocketMQ's defaults otherwise; heap 1g, G1) as JVMs started for the run`],
    [Symbol.asyncDispose]: () => rmq.close(),
  };
}

/**
 * The reference rows: the Karman rows' workloads (64 concurrent plain sends, then auto-batch with
 * `window` concurrent sends; one PushConsumer; one-at-a-time sends) against Apache RocketMQ, with
 * Karman's clients over TCP whatever compare's `--transport` (Apache RocketMQ speaks only TCP).
 */
export function apacheRocketMQDriver(target: () => Promise<ApacheRocketMQTarget> = startApacheRocketMQTarget): PeerDriver {
  return {
    name: 'rocketmq',
    run: async (workload) => {
      await using cluster = await target();
      const rows: PeerRow[] = [];
      rows.push(await measure(cluster, workload, 'tcp', 'plain', `${APACHE_ROCKETMQ_SYSTEM} (${PLAIN_CONCURRENCY} concurrent sends)`, `${PLAIN_CONCURRENCY} sends`, PLAIN_CONCURRENCY, {}));
      rows.push(await measure(cluster, workload, 'tcp', 'batch', `${APACHE_ROCKETMQ_SYSTEM} (auto-batch, ${workload.window} concurrent sends)`, 'auto-batch', workload.window, { autoBatch: {} }));
      return rows;
    },
  };
}
